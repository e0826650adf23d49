// SPDX-License-Identifier: MIT
// knock::replay::redis_tickets, the Redis store's bookkeeping, without Redis: tickets, answers
// taken once, released packets, a pipeline's refusals, a failed connection, a WAIT that fell short.
#include <knock/replay/redis_tickets.hpp>

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace {
using namespace knock;
using replay::redis_tickets;

std::array<replay_key, 2> keys(std::uint8_t n) {
  std::array<replay_key, 2> k{};
  k[0].bytes[0] = n;
  k[1].bytes[0] = static_cast<std::uint8_t>(n + 100);
  return k;
}
std::uint32_t queue(redis_tickets& t, std::uint8_t n, std::uint64_t pipeline) {
  return t.queue(keys(n), 2000, 1000, pipeline).ticket;
}
// Answers every queued packet with `seen`, in order, as the store does once the replies came.
void answer_all(redis_tickets& t, sighting seen) {
  for (const auto& e : t.queued()) t.answer(e, seen);
  t.answered_first(t.queued().size());
}

TEST(redis_tickets, each_packet_gets_its_own_ticket_and_its_answer_is_taken_once) {
  redis_tickets t;
  const std::uint32_t a = queue(t, 1, 7), b = queue(t, 2, 7);
  EXPECT_NE(a, 0u);
  EXPECT_NE(a, b);
  ASSERT_EQ(t.queued().size(), 2u);
  EXPECT_EQ(t.queued()[1].keys, keys(2));
  EXPECT_EQ(t.queued()[1].count, 2u);
  answer_all(t, sighting::first);
  EXPECT_TRUE(t.queued().empty());
  ASSERT_TRUE(t.take(b));
  EXPECT_EQ(*t.take(a), sighting::first);
  const auto again = t.take(a);
  ASSERT_FALSE(again) << "taken twice";
  EXPECT_EQ(again.error().code, errc::replay_store_unavailable);
}

TEST(redis_tickets, a_released_packet_keeps_no_answer) {
  redis_tickets t;
  const std::uint32_t queued = queue(t, 1, 7), answered = queue(t, 2, 7);
  t.release(queued);  // before its reply came
  answer_all(t, sighting::replay);
  t.release(answered);  // after
  std::vector<replay_refusal> refused;
  EXPECT_TRUE(t.list_refused(7, refused));
  EXPECT_TRUE(refused.empty());
  EXPECT_EQ(t.answers(), 0u);
}

TEST(redis_tickets, a_pipeline_lists_its_own_refusals_only_and_takes_them) {
  redis_tickets t;
  const std::uint32_t mine_first = queue(t, 1, 7), mine_second = queue(t, 2, 7),
                      theirs_seen = queue(t, 3, 8);
  answer_all(t, sighting::replay);
  (void)mine_first;  // listed first
  std::vector<replay_refusal> refused;
  ASSERT_TRUE(t.list_refused(7, refused));
  ASSERT_EQ(refused.size(), 2u);  // every answer here said `replay`
  EXPECT_EQ(refused[1].ticket, mine_second);
  EXPECT_EQ(refused[1].why.code, errc::replayed);
  EXPECT_EQ(t.answers(), 1u) << "the other pipeline's answer waits for its owner";
  refused.clear();
  ASSERT_TRUE(t.list_refused(8, refused));
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].ticket, theirs_seen);
}

TEST(redis_tickets, a_lost_connection_answers_every_queued_packet_with_the_reason) {
  redis_tickets t;
  (void)queue(t, 1, 7);
  answer_all(t, sighting::first);
  const std::uint32_t a = queue(t, 2, 7), b = queue(t, 3, 7);
  EXPECT_EQ(t.fail_queued(error{errc::replay_store_unavailable, "redis x: gone"}), 2u);
  EXPECT_TRUE(t.queued().empty());
  for (const std::uint32_t ticket : {a, b}) {
    const auto got = t.take(ticket);
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().message, "redis x: gone");
  }
}

// WAIT fell short: the packets answered since the mark that were new are refused; those that
// were replays stay replays, and earlier answers are untouched.
TEST(redis_tickets, refuse_new_since_changes_only_the_new_answers_after_the_mark) {
  redis_tickets t;
  const std::uint32_t before = queue(t, 1, 7);
  answer_all(t, sighting::first);
  const std::size_t mark = t.answers();
  const std::uint32_t fresh = queue(t, 2, 7);
  const std::uint32_t seen = queue(t, 3, 7);
  t.answer(t.queued()[0], sighting::first);
  t.answer(t.queued()[1], sighting::replay);
  t.answered_first(2);
  EXPECT_EQ(t.refuse_new_since(mark, error{errc::replay_store_unavailable, "WAIT: 0 of 1"}), 1u);
  EXPECT_EQ(*t.take(before), sighting::first);
  EXPECT_EQ(t.take(fresh).error().message, "WAIT: 0 of 1");
  EXPECT_EQ(*t.take(seen), sighting::replay);
}

}  // namespace
