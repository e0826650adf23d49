// SPDX-License-Identifier: MIT
// knock-server's Redis replay store with KNOCK_WORKERS
// (examples/knock-server/per_worker_store.hpp): a store (connection, local filter, pipeline) per
// worker thread, against a redis-server the test starts. Redis decides between the workers as
// between gateways; a worker waiting on its round trip holds up no other; the health the daemon
// logs sums the stores'.
#include "per_worker_store.hpp"
#include "replay/redis_server.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <future>
#include <thread>
#include <vector>

namespace {
using namespace knock;
using namespace knock::test_redis;
using stores = knock_server::per_worker_store<replay::redis_store>;
struct per_worker_redis : redis_store {};  // skips without redis-server, as the store's tests

// A TCP port that takes connections (the kernel's backlog) and never answers: a Redis that hangs.
struct silent_listener {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  std::uint16_t port = 0;
  silent_listener() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd, 8);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~silent_listener() { ::close(fd); }
};

// Runs `f` on a thread bound to store `i`; its result.
template <class F>
auto on_worker(stores& s, std::size_t i, F f) {
  return std::async(std::launch::async, [&s, i, f] {
    s.bind(i);
    return f();
  });
}

TEST_F(per_worker_redis, each_worker_has_its_own_store_and_redis_decides_between_them) {
  redis_server redis;
  std::vector<replay::redis_store> list;
  for (int i = 0; i < 2; ++i) list.emplace_back(redis.unix_options());
  stores s{std::move(list)};
  ASSERT_EQ(s.stores(), 2u);
  EXPECT_EQ(seen(on_worker(s, 1, [&] { return s.remember(key(1), t0 + 241, t0); }).get()), "first");
  EXPECT_FALSE(s.contains(key(1), t0)) << "the main thread's local filter is its own";
  EXPECT_TRUE(on_worker(s, 1, [&] { return s.contains(key(1), t0); }).get());
  EXPECT_EQ(seen(s.remember(key(1), t0 + 241, t0)), "replay") << "Redis said so";
  EXPECT_EQ(s.size(), 2u) << "each local filter holds the key now";
  EXPECT_EQ(seen(on_worker(s, 7, [&] { return s.remember(key(2), t0 + 241, t0); }).get()), "first")
      << "an index past the last is store 0";
  EXPECT_EQ(seen(s.remember(key(2), t0 + 241, t0)), "replay");
  EXPECT_EQ(s.size(), 3u);

  // A worker's pipeline is its own: the main thread has none open meanwhile.
  auto pipelined = on_worker(s, 1, [&] {
    const auto id = s.begin_pipeline();
    const bool main_sees = s.pipelining();
    const replay_key k = key(1);
    const auto promise = s.remember_later(std::span{&k, 1}, t0 + 241, t0);
    std::vector<replay_refusal> refused;
    const bool listed = s.end_pipeline(id, refused);
    return main_sees && promise && promise->seen == sighting::replay && listed && refused.empty();
  });
  EXPECT_TRUE(pipelined.get()) << "key 1 known to store 1's filter: answered without a ticket";
  EXPECT_FALSE(s.pipelining());
}

TEST_F(per_worker_redis, a_worker_waiting_on_redis_holds_up_no_other) {
  redis_server redis;
  silent_listener hung;
  replay::redis_options o;
  o.address.endpoints.push_back({.host = "127.0.0.1", .port = hung.port, .unix_path = {}});
  o.timeout = 800ms;
  std::vector<replay::redis_store> list;
  list.emplace_back(std::move(o));
  list.emplace_back(redis.unix_options());
  stores s{std::move(list)};
  ASSERT_TRUE(on_worker(s, 1, [&] { return s.remember(key(9), t0 + 241, t0); }).get());

  const auto start = std::chrono::steady_clock::now();
  auto waiting = on_worker(s, 0, [&] { return s.remember(key(1), t0 + 241, t0); });
  std::this_thread::sleep_for(100ms);  // worker 0 is in its round trip, holding its store
  auto other = on_worker(s, 1, [&] {
                 const auto r = s.remember(key(2), t0 + 241, t0);
                 return std::pair{seen(r), std::chrono::steady_clock::now() - start};
               }).get();
  EXPECT_EQ(other.first, "first");
  EXPECT_LT(other.second, 500ms) << "worker 1 did not wait for worker 0's deadline";
  const auto r = waiting.get();
  ASSERT_FALSE(r) << "worker 0's Redis never answers";
  EXPECT_EQ(r.error().code, errc::replay_store_unavailable);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 700ms);

  // The health the daemon logs: the failures of every store, the failing one's words, and
  // connected while one store is.
  s.with_lock([&](const auto& health) {
    EXPECT_EQ(health.failures(), 1u);
    EXPECT_NE(health.last_error().find("deadline"), std::string::npos) << health.last_error();
    EXPECT_TRUE(health.connected());
  });
}

}  // namespace
