// SPDX-License-Identifier: MIT
// knock::detail::fifo, the firewall writer's queue: first in, first out through compactions and
// growth, with each element moved rather than copied; once grown to its working size a queue that
// is pushed and popped in step allocates nothing more (its capacity stays).
#include <knock/detail/fifo.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <vector>

namespace {

using knock::detail::fifo;

TEST(fifo, keeps_the_order_through_compactions_and_growth) {
  fifo<int> q;
  int next_in = 0, next_out = 0;
  // Uneven pushes and pops: the head moves, the vector fills, compacts, grows.
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 1 + round % 7; ++i) q.push_back(int{next_in++});
    for (int i = 0; i < 1 + round % 5 && !q.empty(); ++i) {
      ASSERT_EQ(q.front(), next_out) << "round " << round;
      ++next_out;
      q.pop_front();
    }
    ASSERT_EQ(q.size(), static_cast<std::size_t>(next_in - next_out));
  }
  while (!q.empty()) {
    ASSERT_EQ(q.front(), next_out++);
    q.pop_front();
  }
  EXPECT_EQ(next_out, next_in);
}

TEST(fifo, moves_its_elements_and_frees_what_it_drops) {
  fifo<std::unique_ptr<int>> q;
  for (int i = 0; i < 100; ++i) q.push_back(std::make_unique<int>(i));
  for (int i = 0; i < 60; ++i) {
    ASSERT_EQ(*q.front(), i);
    q.pop_front();
  }
  for (int i = 100; i < 300; ++i) q.push_back(std::make_unique<int>(i));  // compacts, then grows
  for (int i = 60; i < 300; ++i) {
    ASSERT_NE(q.front(), nullptr);
    ASSERT_EQ(*q.front(), i);
    q.pop_front();
  }
  EXPECT_TRUE(q.empty());
}

// The writer's steady state: a batch in, a batch out, a few always waiting (so the queue never
// empties and its head never goes back to 0 by itself). After the first rounds its storage stays
// as it is: nothing is allocated per element (a std::deque of the writer's 328-byte jobs took a
// node per element, every time).
TEST(fifo, in_step_pushes_and_pops_stop_growing_it) {
  fifo<int> q;
  for (int i = 0; i < 10; ++i) q.push_back(int{i});
  int next_in = 10, next_out = 0;
  std::size_t settled = 0;
  for (int round = 0; round < 1000; ++round) {
    for (int i = 0; i < 64; ++i) q.push_back(int{next_in++});
    for (int i = 0; i < 64; ++i) {
      ASSERT_EQ(q.front(), next_out++);
      q.pop_front();
    }
    if (round == 10) settled = q.capacity();
  }
  EXPECT_EQ(q.size(), 10u);
  EXPECT_EQ(q.capacity(), settled) << "it still grew after round 10";
  EXPECT_LE(settled, 4u * 74) << "room for far more than the 74 ever waiting at once";
}

// A backlog's memory goes back once the queue empties; a working size's stays.
TEST(fifo, gives_a_backlog_s_memory_back_once_empty) {
  fifo<int> q{256};
  for (int i = 0; i < 5000; ++i) q.push_back(int{i});
  EXPECT_GE(q.capacity(), 5000u);
  for (int i = 0; i < 4999; ++i) q.pop_front();
  EXPECT_GE(q.capacity(), 5000u) << "not empty yet: nothing is given back";
  q.pop_front();
  EXPECT_EQ(q.capacity(), 0u) << "empty: more than 256 elements' memory stays resident";
  for (int i = 0; i < 100; ++i) q.push_back(int{i});
  for (int i = 0; i < 100; ++i) q.pop_front();
  EXPECT_GE(q.capacity(), 100u) << "within `keep`: its memory stays for the next ones";
}

}  // namespace
