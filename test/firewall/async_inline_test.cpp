// SPDX-License-Identifier: MIT
// knock::firewall::async over a backend whose calls never wait (instant_firewall), with
// async_options::inline_when_instant: the queuing thread runs the queue, one thread at a time, in
// order, with the same answers; once the backend stops being instant the writer thread takes
// over. Without the option an instant backend still gets its writer thread.
#include "async_backends.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace {
using namespace knock::test_async;

// Records where and in what order it was called; never waits. `instant` can be turned off (as a
// reload adding command cycles turns knock-server's off); `overlaps` counts calls that found
// another one running.
struct instant_backend {
  using role = knock::role::firewall;
  struct shared {
    std::mutex m;
    std::vector<unsigned> opened;
    std::vector<std::thread::id> threads;
    std::size_t expiries = 0;
    std::atomic<bool> instant{true};
    std::atomic<bool> busy{false};
    std::atomic<int> overlaps{0};
    std::atomic<bool> at_gate{false};  // gated_instant below: a call waits at the test's gate
  };
  std::shared_ptr<shared> s;
  result<void> open(const grant& g) {
    if (s->busy.exchange(true)) ++s->overlaps;
    {
      std::lock_guard l{s->m};
      s->opened.push_back(g.timeout);
      s->threads.push_back(std::this_thread::get_id());
    }
    std::this_thread::yield();  // give an overlapping call a chance to show
    s->busy = false;
    if (g.timeout == 13) return fail(error{errc::firewall_failed, "instant: thirteen refused"});
    return {};
  }
  result<void> expire(epoch_seconds) {
    std::lock_guard l{s->m};
    ++s->expiries;
    return {};
  }
  bool instant() const noexcept { return s->instant; }
};
static_assert(firewall::instant_firewall<instant_backend>);

const firewall::async_options inline_options{.inline_when_instant = true};

TEST(firewall_async_inline, runs_each_grant_on_the_submitting_thread_and_answers_it) {
  auto s = std::make_shared<instant_backend::shared>();
  auto fw = firewall::async<instant_backend>::start(instant_backend{s}, inline_options);
  ASSERT_TRUE(fw) << to_string(fw.error());
  for (unsigned id : {1u, 13u, 3u}) ASSERT_TRUE(fw->submit(request(id)));
  // Applied before submit returned: nothing waits, and no thread was needed.
  EXPECT_EQ(s->opened, (std::vector<unsigned>{1, 13, 3}));
  EXPECT_EQ(fw->waiting(), 0u);
  for (auto t : s->threads) EXPECT_EQ(t, std::this_thread::get_id());
  const auto got = wait_answers(*fw, 3);
  ASSERT_EQ(got.size(), 3u) << "answered through answers_fd, as with a writer thread";
  EXPECT_EQ(got[0].request.granted.timeout, 1u);
  EXPECT_TRUE(got[0].outcome);
  EXPECT_EQ(got[1].outcome.error().message, "instant: thirteen refused");
  EXPECT_TRUE(got[2].outcome);
}

TEST(firewall_async_inline, a_held_batch_runs_when_its_scope_ends_and_call_runs_here) {
  auto s = std::make_shared<instant_backend::shared>();
  auto fw = firewall::async<instant_backend>::start(instant_backend{s}, inline_options);
  ASSERT_TRUE(fw);
  {
    auto batch = fw->hold();
    for (unsigned id : {1u, 2u}) ASSERT_TRUE(fw->submit(request(id)));
    EXPECT_TRUE(s->opened.empty()) << "staged while the scope lives";
  }
  EXPECT_EQ(s->opened, (std::vector<unsigned>{1, 2}));
  std::thread::id ran_on;
  ASSERT_TRUE(fw->call([&](instant_backend&) {
    ran_on = std::this_thread::get_id();
    return result<void>{};
  }));
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  fw->expire_later(1000);
  const auto got = wait_answers(*fw, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].what, firewall::answer::kind::expiry);
  EXPECT_EQ(s->expiries, 1u);
}

TEST(firewall_async_inline, the_writer_thread_takes_over_once_the_backend_is_no_longer_instant) {
  auto s = std::make_shared<instant_backend::shared>();
  auto fw = firewall::async<instant_backend>::start(instant_backend{s}, inline_options);
  ASSERT_TRUE(fw);
  ASSERT_TRUE(fw->submit(request(1)));
  // As a reload does: the change is made by a call, in queue order.
  fw->call([&](instant_backend& b) { b.s->instant = false; });
  for (unsigned id : {2u, 3u}) ASSERT_TRUE(fw->submit(request(id)));
  const auto got = wait_answers(*fw, 3);
  ASSERT_EQ(got.size(), 3u) << "nothing lost in the hand-over";
  ASSERT_EQ(s->opened, (std::vector<unsigned>{1, 2, 3}));
  EXPECT_EQ(s->threads[0], std::this_thread::get_id());
  EXPECT_NE(s->threads[1], std::this_thread::get_id()) << "applied on the writer thread";
  EXPECT_EQ(s->threads[1], s->threads[2]);
  fw->finish();
  EXPECT_FALSE(fw->submit(request(4))) << "finished: refused, as with a writer thread";
}

TEST(firewall_async_inline, threads_submitting_together_apply_each_grant_once_one_at_a_time) {
  auto s = std::make_shared<instant_backend::shared>();
  auto fw = firewall::async<instant_backend>::start(instant_backend{s}, inline_options);
  ASSERT_TRUE(fw);
  constexpr unsigned per_thread = 2000;
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 3; ++t)
    threads.emplace_back([&, t] {
      for (unsigned i = 0; i < per_thread; ++i) {
        if (i % 16 == 0) {  // some in held batches, as capture workers submit them
          auto batch = fw->hold();
          (void)fw->submit(request(100000 * (t + 1) + i));
        } else {
          (void)fw->submit(request(100000 * (t + 1) + i));
        }
      }
    });
  for (auto& t : threads) t.join();
  fw->finish();
  EXPECT_EQ(s->overlaps.load(), 0) << "one thread at a time in the backend";
  ASSERT_EQ(s->opened.size(), 3 * per_thread) << "each grant applied once";
  for (unsigned t = 0; t < 3; ++t) {  // each thread's grants in its own order
    unsigned next = 100000 * (t + 1);
    for (unsigned id : s->opened)
      if (id / 100000 == t + 1) {
        EXPECT_EQ(id, next++);
      }
  }
  EXPECT_EQ(wait_answers(*fw, 3 * per_thread).size(), 3 * per_thread);
}

// finish() from another thread while a worker runs the queue: it returns only once that run is
// over (as it joins a writer thread), so nothing runs on the backend after it — nor after the
// async is gone.
TEST(firewall_async_inline, finish_waits_for_a_thread_running_the_queue) {
  auto s = std::make_shared<instant_backend::shared>();
  std::mutex gate;
  std::unique_lock closed{gate};
  struct gated_instant : instant_backend {
    std::mutex* gate;
    result<void> open(const grant& g) {
      s->at_gate = true;
      std::lock_guard wait{*gate};  // held by the test: the run stays in open()
      return instant_backend::open(g);
    }
  };
  auto fw = firewall::async<gated_instant>::start(gated_instant{{s}, &gate}, inline_options);
  ASSERT_TRUE(fw);
  std::thread worker{[&] { (void)fw->submit(request(1)); }};
  while (!s->at_gate) std::this_thread::yield();  // the worker is in open(), at the gate
  std::atomic<bool> finished{false};
  std::thread stopper{[&] {
    fw->finish();
    finished = true;
  }};
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(finished) << "finish() returned while the worker was still in the backend";
  closed.unlock();
  stopper.join();
  worker.join();
  EXPECT_TRUE(finished);
  EXPECT_EQ(s->opened, (std::vector<unsigned>{1}));
}

TEST(firewall_async_inline, without_the_option_an_instant_backend_gets_its_writer_thread) {
  auto s = std::make_shared<instant_backend::shared>();
  auto fw = firewall::async<instant_backend>::start(instant_backend{s});
  ASSERT_TRUE(fw);
  ASSERT_TRUE(fw->submit(request(1)));
  ASSERT_EQ(wait_answers(*fw, 1).size(), 1u);
  ASSERT_EQ(s->threads.size(), 1u);
  EXPECT_NE(s->threads[0], std::this_thread::get_id());
}

TEST(firewall_async_inline, a_backend_that_is_not_instant_at_start_gets_its_writer_thread) {
  auto s = std::make_shared<instant_backend::shared>();
  s->instant = false;
  auto fw = firewall::async<instant_backend>::start(instant_backend{s}, inline_options);
  ASSERT_TRUE(fw);
  ASSERT_TRUE(fw->submit(request(1)));
  ASSERT_EQ(wait_answers(*fw, 1).size(), 1u);
  ASSERT_EQ(s->threads.size(), 1u);
  EXPECT_NE(s->threads[0], std::this_thread::get_id());
}

}  // namespace
