// SPDX-License-Identifier: MIT
// knock::firewall::async's held batches: a `held` scope stages its thread's grants until it ends
// (one writer wake-up per batch), each worker thread its own; a cancel refuses every staged grant
// with its reason and applies none.
#include "async_backends.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace {
using namespace knock::test_async;

TEST(firewall_async, a_held_batch_wakes_the_writer_once_at_its_end) {
  auto s = std::make_shared<seen>();
  auto fw = firewall::async<batching>::start(batching{{s}}, {.capacity = 100, .batch = 64});
  ASSERT_TRUE(fw);
  {
    const auto outer = fw->hold();
    {
      const auto inner = fw->hold();  // nested on the same thread: part of the outer scope
      for (unsigned id = 1; id <= 3; ++id) ASSERT_TRUE(fw->submit(request(id)));
    }
    ASSERT_TRUE(fw->submit(request(4)));
    std::this_thread::sleep_for(100ms);
    std::lock_guard l{s->m};
    EXPECT_TRUE(s->opened.empty()) << "staged: the writer does not see them while a batch is held";
  }
  const auto got = wait_answers(*fw, 4);
  ASSERT_EQ(got.size(), 4u) << "the outer scope's end woke the writer";
  EXPECT_EQ(s->opened, (std::vector<unsigned>{1, 2, 3, 4}));
  EXPECT_EQ(s->batch_sizes, (std::vector<std::size_t>{4})) << "all four in one backend call";
  ASSERT_TRUE(fw->submit(request(5))) << "not held: woken at once";
  EXPECT_EQ(wait_answers(*fw, 1).size(), 1u);
}

// Another worker: a thread inside its batch (a `held` scope) with grant `id` staged, until
// `end_batch`.
class other_worker {
 public:
  template <class Async>
  other_worker(Async& fw, unsigned id)
      : thread_{[this, &fw, id] {
          const auto batch = fw.hold();
          EXPECT_TRUE(fw.submit(request(id)));
          std::unique_lock l{m_};
          staged_ = true;
          cv_.notify_all();
          cv_.wait(l, [&] { return may_end_; });
        }} {
    std::unique_lock l{m_};
    cv_.wait(l, [&] { return staged_; });
  }
  ~other_worker() { end_batch(); }
  other_worker(const other_worker&) = delete;
  other_worker& operator=(const other_worker&) = delete;
  void end_batch() {
    {
      std::lock_guard l{m_};
      may_end_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool staged_ = false, may_end_ = false;
  std::thread thread_;  // last: started once the rest is there
};

// KNOCK_WORKERS: each worker thread stages under its own scope. One worker's batch ending sends
// its grants while another worker is still inside its batch (with one scope for all, two busy
// workers whose batches overlapped kept every grant staged until the queue was full).
TEST(firewall_async, each_thread_s_batch_goes_to_the_writer_when_that_batch_ends) {
  auto s = std::make_shared<seen>();
  auto fw = firewall::async<batching>::start(batching{{s}}, {.capacity = 100, .batch = 64});
  ASSERT_TRUE(fw);
  other_worker other{*fw, 1};
  {
    const auto batch = fw->hold();
    ASSERT_TRUE(fw->submit(request(2)));
    ASSERT_TRUE(fw->submit(request(3)));
  }
  const auto mine = wait_answers(*fw, 2);
  ASSERT_EQ(mine.size(), 2u) << "this thread's batch ended: its grants went out";
  EXPECT_EQ(mine[0].request.granted.timeout, 2u);
  EXPECT_EQ(mine[1].request.granted.timeout, 3u);
  {
    std::lock_guard l{s->m};
    EXPECT_EQ(s->opened, (std::vector<unsigned>{2, 3})) << "the other's grant is still staged";
  }
  EXPECT_EQ(fw->waiting(), 1u);
  other.end_batch();
  const auto theirs = wait_answers(*fw, 1);
  ASSERT_EQ(theirs.size(), 1u);
  EXPECT_EQ(theirs[0].request.granted.timeout, 1u);
  std::lock_guard l{s->m};
  EXPECT_EQ(s->opened, (std::vector<unsigned>{2, 3, 1}));
}

// A replay log write that failed may have carried any worker's keys: a cancel refuses the grants
// every thread has staged, not only its own.
TEST(firewall_async, a_cancel_refuses_every_thread_s_staged_grants) {
  auto s = std::make_shared<seen>();
  auto fw = firewall::async<gated>::start(gated{s});
  ASSERT_TRUE(fw);
  other_worker other{*fw, 1};
  {
    auto batch = fw->hold();
    ASSERT_TRUE(fw->submit(request(2)));
    batch.cancel(error{errc::io_failed, "replay log: cannot write"});
  }
  other.end_batch();
  const auto got = wait_answers(*fw, 2);
  ASSERT_EQ(got.size(), 2u);
  for (const auto& a : got) {
    ASSERT_FALSE(a.outcome);
    EXPECT_EQ(a.outcome.error().message, "replay log: cannot write");
  }
  EXPECT_EQ(fw->waiting(), 0u);
  std::lock_guard l{s->m};
  EXPECT_TRUE(s->opened.empty());
}

TEST(firewall_async, a_cancelled_batch_answers_its_grants_with_the_reason_and_applies_none) {
  auto s = std::make_shared<seen>();
  auto fw = firewall::async<gated>::start(gated{s});
  ASSERT_TRUE(fw);
  {
    auto batch = fw->hold();
    ASSERT_TRUE(fw->submit(request(1)));
    ASSERT_TRUE(fw->submit(request(2)));
    EXPECT_EQ(fw->waiting(), 2u) << "staged grants are waiting";
    batch.cancel(error{errc::io_failed, "replay log: cannot sync"});
    ASSERT_TRUE(fw->submit(request(3))) << "a grant after the cancel is staged again";
  }
  const auto got = wait_answers(*fw, 3);
  ASSERT_EQ(got.size(), 3u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(got[i].request.granted.timeout, i + 1);
    ASSERT_FALSE(got[i].outcome);
    EXPECT_EQ(got[i].outcome.error().code, errc::io_failed);
    EXPECT_EQ(got[i].outcome.error().message, "replay log: cannot sync");
  }
  EXPECT_EQ(got[2].request.granted.timeout, 3u);
  EXPECT_TRUE(got[2].outcome);
  std::lock_guard l{s->m};
  EXPECT_EQ(s->opened, (std::vector<unsigned>{3})) << "the cancelled grants never reached it";
}

}  // namespace
