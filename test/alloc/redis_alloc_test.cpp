// SPDX-License-Identifier: MIT
// The Redis replay store's path does not touch the heap once warm: a packet's keys sent to a real
// redis-server (Debian's, started here) and its replies read — `+OK` (first) and nil (another
// gateway's key) — one packet at a time and pipelined a batch at a time. With hiredis's own reply
// functions (before knock/replay/redis_reply.hpp) an `+OK` took two allocations (the reply, its
// text) and a nil one: 240 in each test's counted round. Counted as in alloc_test
// (alloc/counting_allocator.hpp).
#include <knock/replay/redis_store.hpp>

#include "alloc/counting_allocator.hpp"
#include "replay/redis_server.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

namespace {
using namespace knock;
using namespace knock::test_redis;

constexpr int packets = 40;  // a round: 80 keys

struct outcome {
  std::size_t first = 0, replay = 0, failed = 0;
  void add(const result<sighting>& r) {
    if (!r)
      ++failed;
    else if (*r == sighting::first)
      ++first;
    else
      ++replay;
  }
};

std::array<replay_key, 2> keys_of(std::uint64_t packet) {
  return {key(2 * packet), key(2 * packet + 1)};
}

TEST_F(redis_store, remembering_a_packet_does_not_allocate) {
  redis_server redis;
  replay::redis_store a{redis.unix_options()}, b{redis.unix_options()};
  ASSERT_TRUE(a.connect()) << a.last_error();
  ASSERT_TRUE(b.connect()) << b.last_error();
  outcome got;
  const auto round = [&](std::uint64_t from) {
    for (std::uint64_t p = from; p < from + packets; ++p) {
      const auto keys = keys_of(p);
      got.add(a.remember_all(keys, t0 + 241, t0));  // +OK, +OK: first
      got.add(b.remember_all(keys, t0 + 241, t0));  // nil, nil from Redis: replay
    }
  };
  for (std::uint64_t warm = 0; warm < 4; ++warm)  // buffers grow to what they need, and stay
    round(100 * warm);
  const std::size_t allocations = count_allocations([&] { round(1000); });
  EXPECT_EQ(allocations, 0u);
  EXPECT_EQ(got.first, 5u * packets) << "a's packets, every round";
  EXPECT_EQ(got.replay, 5u * packets) << "b's, the same packets";
  EXPECT_EQ(got.failed, 0u) << a.last_error() << b.last_error();
  EXPECT_EQ(redis.command("DBSIZE"), std::to_string(10 * packets));
}

TEST_F(redis_store, a_pipelined_batch_does_not_allocate) {
  redis_server redis;
  replay::redis_store a{redis.unix_options()}, b{redis.unix_options()};
  ASSERT_TRUE(a.connect()) << a.last_error();
  ASSERT_TRUE(b.connect()) << b.last_error();
  std::vector<replay_refusal> refused;
  refused.reserve(packets);
  std::size_t queued = 0, refusals = 0;
  const auto batch = [&](replay::redis_store& s, std::uint64_t from) {
    const std::uint64_t id = s.begin_pipeline();
    for (std::uint64_t p = from; p < from + packets; ++p) {
      const auto keys = keys_of(p);
      queued += s.remember_later(keys, t0 + 241, t0).has_value();
    }
    const bool listed = s.end_pipeline(id, refused);
    refusals += listed ? refused.size() : 1000;
    refused.clear();
  };
  for (std::uint64_t warm = 0; warm < 4; ++warm)  // buffers grow to a batch's size, and stay
    batch(a, 100 * warm), batch(b, 100 * warm);
  const std::size_t before = refusals;
  const std::size_t allocations = count_allocations([&] { batch(a, 1000), batch(b, 1000); });
  EXPECT_EQ(allocations, 0u);
  EXPECT_EQ(queued, 10u * packets);
  EXPECT_EQ(refusals - before, std::size_t{packets}) << "b's packets, replayed (nil from Redis)";
}

}  // namespace
