// SPDX-License-Identifier: MIT
// KNOCK_WORKERS' shared parts (examples/knock-server/workers.hpp): the replay store behind a
// mutex answers `first` exactly once per key however many threads ask at once (a packet replayed
// to two workers is accepted once); join_fanout refuses a socket that is not a packet socket.
#include "workers.hpp"

#include <knock/replay/memory_store.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <sys/socket.h>

namespace {

TEST(workers, a_shared_store_says_first_once_per_key_across_threads) {
  knock_server::locked_store store{knock::replay::memory_store{1 << 16}};
  constexpr int keys = 2000, threads = 4;
  std::atomic<int> first{0}, replay{0}, failed{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (int k = 0; k < keys; ++k) {
        knock::replay_key key;
        key.bytes[0] = static_cast<knock::byte>(k & 0xff);
        key.bytes[1] = static_cast<knock::byte>(k >> 8);
        const auto seen = store.remember(key, 2000, 1000);
        if (!seen)
          ++failed;
        else if (*seen == knock::sighting::first)
          ++first;
        else
          ++replay;
      }
    });
  for (auto& t : pool) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(first.load(), keys) << "each key is new to exactly one thread";
  EXPECT_EQ(replay.load(), keys * (threads - 1));
  EXPECT_EQ(store.size(), static_cast<std::size_t>(keys));
}

TEST(workers, join_fanout_needs_packet_sockets) {
  const int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(udp, 0);
  const int fds[] = {udp};
  const auto r = knock_server::join_fanout(fds, 1);
  ::close(udp);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not a packet socket"), std::string::npos) << r.error().message;
}

}  // namespace
