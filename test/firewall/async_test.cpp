// SPDX-License-Identifier: MIT
// knock::firewall::async: grants applied on a writer thread, in order, answered through an eventfd;
// a full queue refuses (with its reason) instead of losing a grant; finish() applies what is
// queued; batching backends get consecutive plain grants in one call; the writer takes no signal.
// Held batches (staging): async_held_test.cpp.
#include "async_backends.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <thread>
#include <vector>

#include <pthread.h>

namespace {
using namespace knock::test_async;

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
