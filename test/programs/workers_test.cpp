// SPDX-License-Identifier: MIT
// KNOCK_WORKERS' shared parts (examples/knock-server/workers.hpp): the replay store behind a
// mutex answers `first` exactly once per key however many threads ask at once (a packet replayed
// to two workers is accepted once); join_fanout refuses a socket that is not a packet socket.
#include "workers.hpp"

#include <knock/replay/file_store.hpp>
#include <knock/replay/memory_store.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
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

// Two workers' batches open at once on the replay log: the second's end fails to write (here
// the file size limit; a full disk in life) and with it the first's lines, which it had already
// buffered. The first's end then has nothing left to write, yet must fail too: its grants wait
// on it (serve.hpp cancels them), and its keys are not on disk.
TEST(workers, a_batch_fails_when_another_worker_s_end_lost_its_lines) {
  char dir_template[] = "/tmp/knock-workers-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::filesystem::path dir{dir_template};
  const std::string path = (dir / "replay.log").string();
  auto opened = knock::replay::file_store::open(path, 1000);
  ASSERT_TRUE(opened) << opened.error().message;
  knock_server::locked_store store{*std::move(opened)};
  knock::replay_key a, b;
  a.bytes[0] = 1;
  b.bytes[0] = 2;

  const auto first = store.begin_batch();
  const auto second = store.begin_batch();
  ASSERT_TRUE(store.remember(a, 5000, 1000));
  ASSERT_TRUE(store.remember(b, 5000, 1000));
  const auto handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  rlimit none = old;
  none.rlim_cur = 0;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &none), 0);
  const auto second_end = store.end_batch(second);
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, handler);
  EXPECT_FALSE(second_end);
  const auto first_end = store.end_batch(first);
  ASSERT_FALSE(first_end) << "the first batch's lines went with the failed write";
  EXPECT_EQ(first_end.error().code, knock::errc::io_failed);
  EXPECT_NE(first_end.error().message.find("another batch's end"), std::string::npos)
      << first_end.error().message;

  const auto later = store.begin_batch();  // the disk is back: the next batch is fine
  knock::replay_key c;
  c.bytes[0] = 3;
  ASSERT_TRUE(store.remember(c, 5000, 1000));
  EXPECT_TRUE(store.end_batch(later));
  std::filesystem::remove_all(dir);
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
