// SPDX-License-Identifier: MIT
// knock::firewall::async: grants applied on a writer thread, in order, answered through an eventfd;
// a full queue refuses (with its reason) instead of losing a grant; finish() applies what is
// queued; batching backends get consecutive plain grants in one call; the writer takes no signal.
#include <knock/firewall/async.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <poll.h>
#include <pthread.h>

namespace {
using namespace knock;
using namespace std::chrono_literals;

// What the test backends saw, shared with the test (the backend itself lives in the writer).
struct seen {
  std::mutex m;
  std::condition_variable cv;
  bool gate_open = true;                 // closed: open() waits
  bool in_open = false;                  // a call of open() is waiting at the gate
  std::vector<unsigned> opened;          // grants' timeouts, in the order applied
  std::vector<std::size_t> batch_sizes;  // open_batch calls
  std::size_t expiries = 0;
  std::thread::id thread;

  void close_gate() {
    std::lock_guard l{m};
    gate_open = false;
  }
  void open_gate() {
    {
      std::lock_guard l{m};
      gate_open = true;
    }
    cv.notify_all();
  }
  void wait_in_open() {  // until the writer is blocked at the gate
    std::unique_lock l{m};
    cv.wait(l, [&] { return in_open; });
  }
};

// Refuses the grants whose timeout is 13, with a reason.
struct gated {
  using role = knock::role::firewall;
  std::shared_ptr<seen> s;
  result<void> open(const grant& g) {
    std::unique_lock l{s->m};
    s->thread = std::this_thread::get_id();
    s->in_open = true;
    s->cv.notify_all();
    s->cv.wait(l, [&] { return s->gate_open; });
    s->in_open = false;
    s->opened.push_back(g.timeout);
    if (g.timeout == 13) return fail(error{errc::firewall_failed, "gated: thirteen refused"});
    return {};
  }
  result<void> expire(epoch_seconds) {
    std::lock_guard l{s->m};
    ++s->expiries;
    return {};
  }
};
static_assert(firewall_policy<firewall::async<gated>>);
static_assert(firewall::deferring_firewall<firewall::async<gated>>);
static_assert(!firewall::nat_firewall<firewall::async<gated>>);

struct batching : gated {
  std::vector<result<void>> open_batch(std::span<const grant> gs) {
    {
      std::lock_guard l{s->m};
      s->batch_sizes.push_back(gs.size());
    }
    std::vector<result<void>> out;
    for (const auto& g : gs) out.push_back(open(g));
    return out;
  }
};
static_assert(firewall::batching_firewall<batching>);

firewall::grant_request request(unsigned id, bool nat = false) {
  firewall::grant_request r;
  r.granted.timeout = id;
  r.granted.ports.push_back(port_spec{ip_protocol::tcp, 22});
  r.nat = nat;
  r.packet_source = *ip_address::parse("192.0.2.7");
  r.stanza = 1;
  return r;
}

// Waits (up to 5 s) for the eventfd, then drains; the answers so far.
std::vector<firewall::answer> wait_answers(auto& fw, std::size_t want) {
  std::vector<firewall::answer> got;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fw.answers_fd(), POLLIN, 0};
    ::poll(&p, 1, 100);
    fw.drain([&](firewall::answer a) { got.push_back(std::move(a)); });
  }
  return got;
}

TEST(firewall_async, applies_grants_in_order_on_its_own_thread_and_answers_each) {
  auto s = std::make_shared<seen>();
  auto fw = firewall::async<gated>::start(gated{s});
  ASSERT_TRUE(fw) << to_string(fw.error());
  s->close_gate();
  for (unsigned id : {1u, 2u, 13u, 4u, 5u}) ASSERT_TRUE(fw->submit(request(id)));
  s->wait_in_open();  // the writer waits in the backend; the submitter did not
  EXPECT_GE(fw->waiting(), 1u);
  s->open_gate();
  const auto got = wait_answers(*fw, 5);
  ASSERT_EQ(got.size(), 5u);
  const unsigned order[] = {1, 2, 13, 4, 5};
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(got[i].what, firewall::answer::kind::grant);
    EXPECT_EQ(got[i].request.granted.timeout, order[i]) << "answers in submission order";
    EXPECT_EQ(got[i].request.packet_source, *ip_address::parse("192.0.2.7"));
    EXPECT_EQ(bool(got[i].outcome), order[i] != 13);
  }
  EXPECT_EQ(got[2].outcome.error().message, "gated: thirteen refused") << "the backend's reason";
  EXPECT_EQ(s->opened, (std::vector<unsigned>{1, 2, 13, 4, 5}));
  EXPECT_NE(s->thread, std::this_thread::get_id()) << "applied on the writer thread";
  EXPECT_EQ(fw->waiting(), 0u);
}

TEST(firewall_async, a_full_queue_refuses_the_grant_with_its_reason_and_loses_none) {
  auto s = std::make_shared<seen>();
  auto fw = firewall::async<gated>::start(gated{s}, {.capacity = 2, .batch = 1});
  ASSERT_TRUE(fw);
  s->close_gate();
  ASSERT_TRUE(fw->submit(request(1)));
  s->wait_in_open();  // 1 is being applied: it has left the queue
  ASSERT_TRUE(fw->submit(request(2)));
  ASSERT_TRUE(fw->submit(request(3)));
  const auto refused = fw->submit(request(4));
  ASSERT_FALSE(refused) << "a third grant waiting is one too many";
  EXPECT_EQ(refused.error().code, errc::firewall_failed);
  EXPECT_NE(refused.error().message.find("queue is full"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("nothing granted"), std::string::npos);
  s->open_gate();
  const auto got = wait_answers(*fw, 3);
  ASSERT_EQ(got.size(), 3u) << "every grant the queue took is answered";
  EXPECT_EQ(s->opened, (std::vector<unsigned>{1, 2, 3})) << "and the refused one never applied";
  ASSERT_TRUE(fw->submit(request(5))) << "room again";
}

TEST(firewall_async, finish_applies_what_is_queued_then_refuses_new_grants) {
  auto s = std::make_shared<seen>();
  auto fw = firewall::async<gated>::start(gated{s});
  ASSERT_TRUE(fw);
  s->close_gate();
  for (unsigned id = 1; id <= 20; ++id) ASSERT_TRUE(fw->submit(request(id)));
  std::thread opener{[&] {
    std::this_thread::sleep_for(50ms);
    s->open_gate();
  }};
  fw->finish();  // waits for the writer to apply all 20
  opener.join();
  EXPECT_EQ(s->opened.size(), 20u);
  std::size_t answered = 0, refused = 0;
  fw->drain([&](firewall::answer a) { ++answered, refused += a.outcome ? 0 : 1; });
  EXPECT_EQ(answered, 20u) << "the answers outlive the writer";
  EXPECT_EQ(refused, 1u) << "13, with its reason";
  const auto late = fw->submit(request(21));
  ASSERT_FALSE(late);
  EXPECT_NE(late.error().message.find("not running"), std::string::npos) << late.error().message;
  // call() runs on the caller's thread once the writer has gone: the owner can still stop it
  std::thread::id where;
  fw->call([&](gated&) { where = std::this_thread::get_id(); });
  EXPECT_EQ(where, std::this_thread::get_id());
}

TEST(firewall_async, call_and_the_blocking_policy_run_on_the_writer_after_what_is_queued) {
  auto s = std::make_shared<seen>();
  auto fw = firewall::async<gated>::start(gated{s});
  ASSERT_TRUE(fw);
  for (unsigned id = 1; id <= 3; ++id) ASSERT_TRUE(fw->submit(request(id)));
  std::size_t opened_before_call = 0;
  std::thread::id where;
  fw->call([&](gated& g) {
    opened_before_call = g.s->opened.size();
    where = std::this_thread::get_id();
  });
  EXPECT_EQ(opened_before_call, 3u) << "FIFO: the call ran after the grants queued before it";
  EXPECT_NE(where, std::this_thread::get_id());
  grant g;
  g.timeout = 7;
  EXPECT_TRUE(fw->open(g));
  EXPECT_TRUE(fw->expire(0));
  EXPECT_EQ(s->opened.back(), 7u);
  EXPECT_EQ(s->expiries, 1u);
}

TEST(firewall_async, expire_later_is_answered_and_not_queued_twice) {
  auto s = std::make_shared<seen>();
  auto fw = firewall::async<gated>::start(gated{s});
  ASSERT_TRUE(fw);
  s->close_gate();
  ASSERT_TRUE(fw->submit(request(1)));
  s->wait_in_open();
  fw->expire_later(100);
  fw->expire_later(101);  // one is already waiting: not queued again
  s->open_gate();
  const auto got = wait_answers(*fw, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].what, firewall::answer::kind::expiry);
  EXPECT_TRUE(got[1].outcome);
  fw->finish();
  EXPECT_EQ(s->expiries, 1u);
}

TEST(firewall_async, nat_for_a_backend_without_it_is_refused_at_once) {
  auto s = std::make_shared<seen>();
  auto fw = firewall::async<gated>::start(gated{s});
  ASSERT_TRUE(fw);
  const auto r = fw->submit(request(1, true));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::nat_unsupported);
  fw->finish();
  EXPECT_TRUE(s->opened.empty());
}

TEST(firewall_async, a_batching_backend_gets_the_waiting_plain_grants_in_one_call) {
  auto s = std::make_shared<seen>();
  auto fw = firewall::async<batching>::start(batching{{s}}, {.capacity = 100, .batch = 4});
  ASSERT_TRUE(fw);
  s->close_gate();
  ASSERT_TRUE(fw->submit(request(1)));
  s->wait_in_open();
  for (unsigned id = 2; id <= 7; ++id) ASSERT_TRUE(fw->submit(request(id)));
  s->open_gate();
  const auto got = wait_answers(*fw, 7);
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(s->opened, (std::vector<unsigned>{1, 2, 3, 4, 5, 6, 7}));
  // 1 alone (nothing else waited), then 2..5 (the batch limit), then 6..7
  EXPECT_EQ(s->batch_sizes, (std::vector<std::size_t>{4, 2}));
}

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

TEST(firewall_async, the_writer_blocks_every_signal) {
  auto s = std::make_shared<seen>();
  auto fw = firewall::async<gated>::start(gated{s});
  ASSERT_TRUE(fw);
  sigset_t mask;
  sigemptyset(&mask);
  fw->call([&](gated&) { ::pthread_sigmask(SIG_SETMASK, nullptr, &mask); });
  EXPECT_EQ(sigismember(&mask, SIGTERM), 1) << "SIGTERM must reach the daemon's signalfd";
  EXPECT_EQ(sigismember(&mask, SIGHUP), 1);
  EXPECT_EQ(sigismember(&mask, SIGINT), 1);
  sigset_t mine;
  ::pthread_sigmask(SIG_SETMASK, nullptr, &mine);
  EXPECT_EQ(sigismember(&mine, SIGUSR2), 0) << "the creator's mask is restored";
}

TEST(firewall_async, not_started_refuses_everything) {
  firewall::async<gated> fw;
  EXPECT_FALSE(fw.submit(request(1)));
  EXPECT_FALSE(fw.open(grant{}));
  EXPECT_EQ(fw.answers_fd(), -1);
}

}  // namespace
