// SPDX-License-Identifier: MIT
// knock::replay::redis_store's pipelines (knock::pipelining_replay_store) against a real
// redis-server: the packets of a batch go to Redis in one round trip, each gets its own answer
// (a replay inside the batch, one from another gateway, Redis down or restarted), two threads'
// pipelines on one store each get their own; and a server deciding in a pipeline grants, through
// firewall::async's held-back queue, only what Redis called new. Skipped, with the reason, when
// redis-server is not installed.
#include <knock/cipher/any_of.hpp>
#include <knock/firewall/async.hpp>
#include <knock/firewall/recording.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/server.hpp>

#include "replay/redis_server.hpp"
#include "support/vectors.hpp"

#include <gtest/gtest.h>

#include <poll.h>

#include <algorithm>
#include <array>
#include <future>
#include <thread>
#include <vector>

namespace {
using namespace knock;
using namespace knock::test_redis;

using redis_pipeline = knock::test_redis::redis_store;  // the fixture: skips without redis-server

// A key's name in Redis, without the prefix.
std::string hex(const replay_key& k) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (byte b : k.bytes) out += digits[b >> 4], out += digits[b & 15];
  return out;
}

// A packet's two keys, by number.
std::array<replay_key, 2> packet(std::uint64_t n) { return {key(2 * n), key(2 * n + 1)}; }

std::uint32_t ticket_of(replay::redis_store& s, std::uint64_t n) {
  auto p = s.remember_later(packet(n), t0 + 241, t0);
  EXPECT_TRUE(p) << (p ? "" : to_string(p.error()));
  EXPECT_NE(p ? p->ticket : 0u, 0u) << "answered at once: not queued";
  return p ? p->ticket : 0;
}

// The refusals of a pipeline, as "ticket:reason" in order.
std::vector<std::string> listed(const std::vector<replay_refusal>& refused) {
  std::vector<std::string> out;
  for (const auto& r : refused)
    out.push_back(std::to_string(r.ticket) + ":" + std::string{to_string(r.why.code)});
  return out;
}
std::string as(std::uint32_t ticket, errc why) {
  return std::to_string(ticket) + ":" + std::string{to_string(why)};
}

TEST_F(redis_pipeline, a_batch_of_packets_takes_one_round_trip) {
  redis_server redis;
  replay::redis_store s{redis.unix_options()};
  ASSERT_TRUE(s.connect()) << s.last_error();
  redis_reads reads{redis};
  ASSERT_TRUE(reads.ok()) << "no total_reads_processed in INFO stats";
  const std::uint64_t pipeline = s.begin_pipeline();
  EXPECT_TRUE(s.pipelining());
  std::vector<std::uint32_t> tickets;
  for (std::uint64_t n = 0; n < 10; ++n) tickets.push_back(ticket_of(s, n));
  std::sort(tickets.begin(), tickets.end());
  EXPECT_EQ(std::unique(tickets.begin(), tickets.end()), tickets.end()) << "a ticket twice";
  EXPECT_EQ(redis.sets(), 0) << "sent before the batch ended";

  const long before = reads.mark();
  std::vector<replay_refusal> refused;
  EXPECT_TRUE(s.end_pipeline(pipeline, refused));
  const long batch_reads = reads.since(before);
  EXPECT_TRUE(refused.empty()) << ::testing::PrintToString(listed(refused));
  EXPECT_FALSE(s.pipelining());
  EXPECT_EQ(redis.sets(), 20);
  EXPECT_EQ(batch_reads, 1) << "the batch's 20 SETs took more than one read";
  EXPECT_EQ(redis.command("DBSIZE"), "20");
}

// A copy inside the batch and a packet another gateway accepted are refused as `replayed`; a
// released ticket (its packet refused for another reason) is not listed, its keys still kept.
TEST_F(redis_pipeline, each_packet_of_a_batch_gets_its_own_answer) {
  redis_server redis;
  replay::redis_store a{redis.unix_options()}, b{redis.unix_options()};
  ASSERT_EQ(seen(b.remember_all(packet(3), t0 + 241, t0)), "first");  // gateway B's packet

  const std::uint64_t pipeline = a.begin_pipeline();
  const std::uint32_t fresh = ticket_of(a, 1), copy = ticket_of(a, 1), other = ticket_of(a, 3),
                      dropped = ticket_of(a, 4), dropped_copy = ticket_of(a, 4);
  a.release(dropped_copy);
  std::vector<replay_refusal> refused;
  ASSERT_TRUE(a.end_pipeline(pipeline, refused));
  EXPECT_EQ(listed(refused), (std::vector{as(copy, errc::replayed), as(other, errc::replayed)}));
  (void)fresh, (void)dropped;
  EXPECT_EQ(redis.command("DBSIZE"), "6") << "packets 1, 3 and 4: two keys each";
  // What Redis answered is in the local filter now: no round trip to know it.
  const long sets = redis.sets();
  EXPECT_EQ(seen(a.remember_all(packet(4), t0 + 241, t0)), "replay");
  EXPECT_EQ(redis.sets(), sets);
}

// A packet that acts at once (a command message) asks for its answer: the batch so far goes
// with it, and the end of the batch has nothing left to send.
TEST_F(redis_pipeline, settle_now_sends_the_batch_so_far_and_answers_one_ticket) {
  redis_server redis;
  replay::redis_store s{redis.unix_options()};
  const std::uint64_t pipeline = s.begin_pipeline();
  const std::uint32_t first = ticket_of(s, 1), copy = ticket_of(s, 1);
  EXPECT_EQ(seen(s.settle_now(copy)), "replay");
  EXPECT_EQ(redis.sets(), 4);
  EXPECT_EQ(seen(s.settle_now(first)), "first");
  EXPECT_EQ(seen(s.settle_now(first)).rfind("error: ", 0), 0u) << "a ticket answered twice";
  std::vector<replay_refusal> refused;
  ASSERT_TRUE(s.end_pipeline(pipeline, refused));
  EXPECT_TRUE(refused.empty()) << "answered tickets are not listed again";
  EXPECT_EQ(redis.sets(), 4);
}

TEST_F(redis_pipeline, redis_down_during_a_batch_refuses_every_packet_of_it_then_resumes) {
  redis_server redis;
  replay::redis_store s{redis.unix_options()};
  ASSERT_TRUE(s.connect());
  std::uint64_t pipeline = s.begin_pipeline();
  const std::uint32_t p1 = ticket_of(s, 1), p2 = ticket_of(s, 2);
  redis.stop();
  std::vector<replay_refusal> refused;
  ASSERT_TRUE(s.end_pipeline(pipeline, refused));
  ASSERT_EQ(listed(refused), (std::vector{as(p1, errc::replay_store_unavailable),
                                          as(p2, errc::replay_store_unavailable)}));
  EXPECT_NE(refused[0].why.message.find(redis.socket()), std::string::npos)
      << refused[0].why.message;
  EXPECT_EQ(s.failures(), 2u);
  // Backing off: the next batch's packets are refused at once, without a ticket.
  pipeline = s.begin_pipeline();
  auto at_once = s.remember_later(packet(3), t0 + 241, t0);
  ASSERT_FALSE(at_once);
  EXPECT_EQ(at_once.error().code, errc::replay_store_unavailable);
  refused.clear();
  ASSERT_TRUE(s.end_pipeline(pipeline, refused));
  EXPECT_TRUE(refused.empty());

  redis.start();
  std::this_thread::sleep_for(150ms);  // retry_after is 100 ms
  pipeline = s.begin_pipeline();
  (void)ticket_of(s, 1);
  ASSERT_TRUE(s.end_pipeline(pipeline, refused));
  EXPECT_TRUE(refused.empty()) << s.last_error();
  EXPECT_EQ(redis.command("DBSIZE"), "2");
}

// Redis restarted between two batches closed the store's connection: the batch is sent again on
// a new one, once, and nobody is refused.
TEST_F(redis_pipeline, a_batch_is_sent_again_to_a_restarted_redis) {
  redis_server redis;
  replay::redis_store s{redis.unix_options()};
  ASSERT_TRUE(s.connect());
  redis.stop();
  redis.start();
  const std::uint64_t pipeline = s.begin_pipeline();
  (void)ticket_of(s, 1), (void)ticket_of(s, 2);
  std::vector<replay_refusal> refused;
  ASSERT_TRUE(s.end_pipeline(pipeline, refused));
  EXPECT_TRUE(refused.empty()) << ::testing::PrintToString(listed(refused)) << s.last_error();
  EXPECT_EQ(redis.command("DBSIZE"), "4");
}

// KNOCK_WORKERS: two threads' pipelines on one store (the daemon serialises the calls). The first
// to end sends both; each end lists only its own tickets.
TEST_F(redis_pipeline, two_threads_pipelines_each_get_their_own_answers) {
  redis_server redis;
  replay::redis_store s{redis.unix_options()};
  std::promise<void> a_queued, b_queued;
  std::vector<replay_refusal> a_refused, b_refused;
  std::uint32_t b_ticket = 0;
  std::thread a{[&] {
    const std::uint64_t pipeline = s.begin_pipeline();
    (void)ticket_of(s, 1);
    a_queued.set_value();
    b_queued.get_future().wait();
    EXPECT_TRUE(s.end_pipeline(pipeline, a_refused));
  }};
  a_queued.get_future().wait();
  std::thread b{[&] {
    const std::uint64_t pipeline = s.begin_pipeline();
    b_ticket = ticket_of(s, 1);  // the same packet, at the other worker
    (void)ticket_of(s, 2);
    b_queued.set_value();
    a.join();  // a ends first, and sends b's keys with its own
    EXPECT_EQ(redis.sets(), 6);
    EXPECT_TRUE(s.end_pipeline(pipeline, b_refused));
  }};
  b.join();
  EXPECT_TRUE(a_refused.empty()) << ::testing::PrintToString(listed(a_refused));
  EXPECT_EQ(listed(b_refused), std::vector{as(b_ticket, errc::replayed)});
  EXPECT_EQ(redis.sets(), 6);
}

// KNOCK_REPLAY_REDIS_WAIT: a batch's packets count as new only once enough replicas hold their
// keys (WAIT after the batch's SETs, in the same round trip); fewer in time, they are refused
// with the reason, and the keys stay on the primary.
TEST_F(redis_pipeline, wait_refuses_a_batch_until_enough_replicas_hold_its_keys) {
  redis_server primary{{}, {"--repl-diskless-sync-delay", "0"}};
  const auto waiting_for = [&](unsigned replicas, std::chrono::milliseconds wait) {
    auto o = primary.unix_options();
    o.wait_replicas = replicas;
    o.wait_timeout = wait;
    return replay::redis_store{std::move(o)};
  };
  const auto one_batch = [&](replay::redis_store& s, std::uint64_t n) {
    const std::uint64_t pipeline = s.begin_pipeline();
    (void)ticket_of(s, n);
    std::vector<replay_refusal> refused;
    EXPECT_TRUE(s.end_pipeline(pipeline, refused));
    return refused;
  };
  replay::redis_store one = waiting_for(1, 30ms), two = waiting_for(2, 30ms);
  auto refused = one_batch(one, 1);
  ASSERT_EQ(refused.size(), 1u) << "no replica yet";
  EXPECT_EQ(refused[0].why.code, errc::replay_store_unavailable);
  EXPECT_NE(refused[0].why.message.find("WAIT: the keys reached 0 of 1 replica(s) within 30 ms"),
            std::string::npos)
      << refused[0].why.message;
  EXPECT_EQ(primary.command("DBSIZE"), "2") << "the keys stay on the primary";
  EXPECT_TRUE(one.connected()) << "a short WAIT is an answer, not a failed connection";

  redis_server replica{{}, {"--replicaof", "127.0.0.1", std::to_string(primary.port())}};
  for (int i = 0; i < 1000 && replica.command("INFO replication").find("master_link_status:up") ==
                                  std::string::npos;
       ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_NE(replica.command("INFO replication").find("master_link_status:up"), std::string::npos);
  replay::redis_store patient = waiting_for(1, 2000ms);  // the replica has just synced
  refused = one_batch(patient, 2);
  EXPECT_TRUE(refused.empty()) << refused[0].why.message;
  EXPECT_EQ(replica.command("EXISTS knock:replay:" + hex(key(4)) + " knock:replay:" + hex(key(5))),
            "2")
      << "packet 2's keys reached the replica";
  EXPECT_EQ(seen(patient.remember_all(packet(3), t0 + 241, t0)), "first") << "without a pipeline";

  refused = one_batch(two, 4);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_NE(refused[0].why.message.find("reached 1 of 2 replica(s)"), std::string::npos)
      << refused[0].why.message;
  EXPECT_EQ(seen(two.remember_all(packet(5), t0 + 241, t0)).rfind("error: ", 0), 0u);
}

// ---- a server deciding in a pipeline ------------------------------------------------------------

using async_fw = firewall::async<firewall::recording>;
using spa_server = server<cipher::any_rijndael, mac::any_hmac, async_fw, replay::redis_store>;
const auto vectors = test::vectors_of(KNOCK_TEST_DATA "/fwknop-2.6.10-vectors.json", {"valid"});

spa_server gateway(const redis_server& redis, const std::string& name) {
  const auto& v = *std::find_if(vectors.begin(), vectors.end(),
                                [&](const auto& v) { return v.at("name") == name; });
  test::vector_keys keys{v};
  access::stanza<cipher::any_rijndael, mac::any_hmac> st;
  st.cipher = keys.cipher;
  st.key = std::move(keys.key);
  st.mac = keys.mac;
  spa_server::rules_type rules;
  rules.stanzas.push_back(std::move(st));
  return spa_server{std::move(rules), replay::redis_store{redis.unix_options()},
                    *async_fw::start(firewall::recording{})};
}
datagram from(const std::string& payload) {
  return {payload, *ip_address::parse("127.0.0.1"), *ip_address::parse("0.0.0.0"), 40000, 62201};
}

// The verdicts the writer's answers give, as reasons ("accepted" for a grant applied).
std::vector<std::string> settled(spa_server& srv, std::size_t expected) {
  std::vector<std::string> out;
  for (int i = 0; i < 200 && out.size() < expected; ++i) {
    pollfd p{srv.firewall().answers_fd(), POLLIN, 0};
    ::poll(&p, 1, 10);
    srv.firewall().drain([&](firewall::answer a) {
      const verdict v = srv.settle(std::move(a.request), a.outcome);
      out.push_back(v.accepted ? "accepted" : std::string{to_string(v.reason)});
    });
  }
  return out;
}

// One batch (a held scope and a pipeline, as the daemon's receive_batch): the verdicts of `copies`
// copies of the packet, as the writer's answers give them.
std::vector<std::string> one_batch(spa_server& srv, const std::string& packet, int copies) {
  {
    auto batch = srv.firewall().hold();
    const std::uint64_t pipeline = srv.replay_store().begin_pipeline();
    for (int i = 0; i < copies; ++i)
      EXPECT_TRUE(srv.handle(from(packet), t0).pending) << "it waits for Redis's answer";
    std::vector<replay_refusal> refused;
    EXPECT_TRUE(srv.replay_store().end_pipeline(pipeline, refused));
    batch.refuse_if([&](const firewall::grant_request& r) -> const error* {
      for (const auto& x : refused)
        if (x.ticket == r.replay_ticket) return &x.why;
      return nullptr;
    });
  }
  auto got = settled(srv, static_cast<std::size_t>(copies));
  std::sort(got.begin(), got.end());
  return got;
}
std::size_t open_grants(spa_server& srv) {
  return srv.firewall().call([](firewall::recording& r) { return r.active().size(); });
}
std::string valid_packet() {
  for (const auto& v : vectors)
    if (v.at("name") == "access_cbc_hmac_sha256") return v.at("packet");
  return {};
}

TEST_F(redis_pipeline, a_server_grants_a_packet_copied_inside_a_batch_once) {
  redis_server redis;
  spa_server gw = gateway(redis, "access_cbc_hmac_sha256");
  EXPECT_EQ(one_batch(gw, valid_packet(), 3),
            (std::vector<std::string>{"accepted", "replayed", "replayed"}));
  EXPECT_EQ(open_grants(gw), 1u);
  EXPECT_EQ(redis.sets(), 6) << "each copy's two keys went to Redis";
}

TEST_F(redis_pipeline, a_server_grants_nothing_another_gateway_accepted) {
  redis_server redis;
  spa_server b = gateway(redis, "access_cbc_hmac_sha256");
  ASSERT_TRUE(b.handle(from(valid_packet()), t0).pending) << "gateway B, without a pipeline";
  ASSERT_EQ(settled(b, 1), std::vector<std::string>{"accepted"});
  spa_server a = gateway(redis, "access_cbc_hmac_sha256");
  EXPECT_EQ(one_batch(a, valid_packet(), 1), std::vector<std::string>{"replayed"});
  EXPECT_EQ(open_grants(a), 0u);
}

// Redis down: the batch's grant is refused with the store's reason, nothing opens.
TEST_F(redis_pipeline, a_server_grants_nothing_while_redis_is_down) {
  redis_server redis;
  spa_server gw = gateway(redis, "access_cbc_hmac_sha256");
  ASSERT_TRUE(gw.replay_store().connect());
  redis.stop();
  EXPECT_EQ(one_batch(gw, valid_packet(), 1), std::vector<std::string>{"replay_store_unavailable"});
  EXPECT_EQ(open_grants(gw), 0u);
}

}  // namespace
