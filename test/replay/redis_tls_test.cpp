// SPDX-License-Identifier: MIT
// knock::replay::redis_store over TLS (`rediss://`) against a real redis-server with a TLS port
// (Debian's redis-server 7 is built with TLS), certificates made here with the openssl CLI: keys
// reach Redis through a verified handshake, one packet at a time and pipelined; a server whose
// certificate does not verify (another CA, another name), that wants a client certificate the
// store does not have, or that does not speak the store's protocol (plain against TLS, TLS against
// plain) gets no key and the packet is refused as `replay_store_unavailable`; a restarted Redis
// is reached again with a new handshake. And `rediss://` / `rediss-sentinel://` in the URL parser.
// Skipped, with the reason, without redis-server, the openssl CLI, or TLS in redis-server.
#include <knock/replay/redis_store.hpp>

#include "replay/redis_server.hpp"

#include <gtest/gtest.h>

#include <csignal>

#include <array>
#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {
using namespace knock;
using namespace knock::test_redis;
using namespace std::chrono_literals;

// A packet's two keys, by number.
std::array<replay_key, 2> packet(std::uint64_t n) { return {key(2 * n), key(2 * n + 1)}; }

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST_F(redis_tls, first_then_replay_over_tls) {
  redis_server redis{tls};
  ASSERT_TRUE(redis.up()) << redis.log();
  replay::redis_store s{redis.tls_options(tls)};  // the server is checked as 127.0.0.1 (IP SAN)
  ASSERT_TRUE(s.connect()) << s.last_error();
  EXPECT_EQ(s.endpoint(), "127.0.0.1:" + std::to_string(redis.port()));
  EXPECT_EQ(seen(s.remember(key(1), t0 + 241, t0)), "first") << s.last_error();
  EXPECT_EQ(seen(s.remember(key(1), t0 + 241, t0)), "replay");
  EXPECT_EQ(redis.command("EXISTS " + name_of(key(1))), "1");
  // Another store asks Redis (not a local filter): the key is a replay there too.
  replay::redis_store other{redis.tls_options(tls)};
  EXPECT_EQ(seen(other.remember(key(1), t0 + 241, t0)), "replay") << other.last_error();
  EXPECT_EQ(redis.sets(), 2);
}

// A batch of 10 packets (one a copy of another) goes over TLS at once; only the copy is refused.
TEST_F(redis_tls, a_pipeline_over_tls_answers_each_packet) {
  redis_server redis{tls};
  replay::redis_store s{redis.tls_options(tls)};
  ASSERT_TRUE(s.connect()) << s.last_error();
  const std::uint64_t pipeline = s.begin_pipeline();
  std::uint32_t copy = 0;
  for (std::uint64_t n = 0; n < 10; ++n) {
    auto p = s.remember_later(packet(n == 9 ? 4 : n), t0 + 241, t0);  // the 10th: packet 4 again
    ASSERT_TRUE(p) << to_string(p.error());
    ASSERT_NE(p->ticket, 0u) << "answered at once: not queued";
    if (n == 9) copy = p->ticket;
  }
  EXPECT_EQ(redis.sets(), 0) << "sent before the batch ended";
  std::vector<replay_refusal> refused;
  ASSERT_TRUE(s.end_pipeline(pipeline, refused)) << s.last_error();
  ASSERT_EQ(refused.size(), 1u) << s.last_error();
  EXPECT_EQ(refused[0].ticket, copy);
  EXPECT_EQ(refused[0].why.code, errc::replayed);
  EXPECT_EQ(redis.sets(), 20);
  EXPECT_EQ(redis.command("DBSIZE"), "18") << "9 packets, two keys each";
}

// A server certificate from a CA the store does not trust: no key is sent, the packet refused.
TEST_F(redis_tls, a_certificate_from_another_ca_is_refused_and_nothing_reaches_redis) {
  redis_server redis{tls};
  auto o = redis.tls_options(tls);
  o.tls.ca_file = tls.other_ca();
  replay::redis_store s{std::move(o)};
  auto r = s.remember(key(1), t0 + 241, t0);
  ASSERT_FALSE(r) << "accepted a server its CA did not sign";
  EXPECT_EQ(r.error().code, errc::replay_store_unavailable);
  EXPECT_TRUE(contains(s.last_error(), "TLS")) << s.last_error();
  EXPECT_TRUE(contains(s.last_error(), "certificate verify failed")) << s.last_error();
  EXPECT_TRUE(contains(s.last_error(), "127.0.0.1:" + std::to_string(redis.port())))
      << "the endpoint is not named: " << s.last_error();
  EXPECT_EQ(redis.command("DBSIZE"), "0");
  EXPECT_EQ(redis.sets(), 0);
  EXPECT_FALSE(s.connected());
}

// No CA file: the system's CAs (Debian's ca-certificates), which did not sign a test's CA: refused.
TEST_F(redis_tls, without_a_ca_file_the_system_cas_are_the_judges) {
  redis_server redis{tls};
  auto o = redis.tls_options(tls);
  o.tls.ca_file.clear();
  replay::redis_store s{std::move(o)};
  auto r = s.remember(key(1), t0 + 241, t0);
  ASSERT_FALSE(r) << "the system's CAs accepted a certificate from a CA made by this test";
  EXPECT_TRUE(contains(s.last_error(), "certificate verify failed")) << s.last_error();
  EXPECT_EQ(redis.sets(), 0);
}

// The certificate names localhost and 127.0.0.1: checked as "localhost" it verifies, as
// "wrong.example" (the right CA, the wrong name) it does not.
TEST_F(redis_tls, a_certificate_for_another_name_is_refused_and_nothing_reaches_redis) {
  redis_server redis{tls};
  auto right = redis.tls_options(tls);
  right.tls.server_name = "localhost";  // a DNS SAN, the endpoint still 127.0.0.1
  right.prefix = "right:";
  replay::redis_store named{std::move(right)};
  EXPECT_EQ(seen(named.remember(key(1), t0 + 241, t0)), "first") << named.last_error();

  auto o = redis.tls_options(tls);
  o.tls.server_name = "wrong.example";
  replay::redis_store s{std::move(o)};
  auto r = s.remember(key(2), t0 + 241, t0);
  ASSERT_FALSE(r) << "accepted a certificate that does not name wrong.example";
  EXPECT_EQ(r.error().code, errc::replay_store_unavailable);
  EXPECT_TRUE(contains(s.last_error(), "TLS")) << s.last_error();
  EXPECT_TRUE(contains(s.last_error(), "certificate verify failed")) << s.last_error();
  EXPECT_EQ(redis.command("EXISTS " + name_of(key(2))), "0");
  EXPECT_EQ(redis.command("DBSIZE"), "1") << "only the right name's key";
}

// A server that requires client certificates (tls-auth-clients yes) refuses a store without one
// and takes the keys of a store with the client certificate its CA signed.
TEST_F(redis_tls, a_server_that_requires_a_client_certificate_gets_one) {
  redis_server redis{tls, client_certs::required};
  ASSERT_TRUE(redis.up()) << redis.log();
  replay::redis_store without{redis.tls_options(tls)};
  auto r = without.remember(key(1), t0 + 241, t0);
  ASSERT_FALSE(r) << "Redis took a key from a client without a certificate";
  EXPECT_EQ(r.error().code, errc::replay_store_unavailable);
  EXPECT_FALSE(without.last_error().empty());
  EXPECT_EQ(redis.command("DBSIZE"), "0");

  auto o = redis.tls_options(tls);
  o.tls.cert_file = tls.client_cert();
  o.tls.key_file = tls.client_key();
  replay::redis_store with{std::move(o)};
  EXPECT_EQ(seen(with.remember(key(1), t0 + 241, t0)), "first") << with.last_error();
  EXPECT_EQ(seen(with.remember(key(1), t0 + 241, t0)), "replay");
  EXPECT_EQ(redis.command("EXISTS " + name_of(key(1))), "1");
}

// A CA, client certificate or key file that cannot be read: the packet is refused and the message
// names the file (the store has nothing to make a connection with).
TEST_F(redis_tls, an_unreadable_ca_certificate_or_key_file_is_named) {
  redis_server redis{tls};
  const auto refused_naming = [&](replay::redis_options o, const std::string& file) {
    SCOPED_TRACE(file);
    replay::redis_store s{std::move(o)};
    auto r = s.remember(key(1), t0 + 241, t0);
    ASSERT_FALSE(r) << "a store with an unreadable file accepted a packet";
    EXPECT_EQ(r.error().code, errc::replay_store_unavailable);
    EXPECT_TRUE(contains(r.error().message, file)) << r.error().message;
  };
  auto ca = redis.tls_options(tls);
  ca.tls.ca_file = tls.file("missing-ca.crt");
  refused_naming(std::move(ca), tls.file("missing-ca.crt"));
  auto cert = redis.tls_options(tls);
  cert.tls.cert_file = tls.file("missing-client.crt");
  cert.tls.key_file = tls.client_key();
  refused_naming(std::move(cert), tls.file("missing-client.crt"));
  auto key_file = redis.tls_options(tls);
  key_file.tls.cert_file = tls.client_cert();
  key_file.tls.key_file = tls.file("missing-client.key");
  refused_naming(std::move(key_file), tls.file("missing-client.key"));
  EXPECT_EQ(redis.command("DBSIZE"), "0");
}

// A client key protected by a passphrase: refused at once, naming the file (no passphrase is
// asked for: OpenSSL's own prompt would read the terminal, and a daemon would wait at start-up).
TEST_F(redis_tls, a_key_protected_by_a_passphrase_is_refused_without_a_prompt) {
  const std::string locked = tls.file("locked-client.key");
  const std::string make = "openssl pkey -in '" + tls.client_key() +
                           "' -aes256 -passout pass:x -out '" + locked + "' 2>/dev/null";
  ASSERT_EQ(std::system(make.c_str()), 0) << make;
  auto made = replay::redis_tls_context::make({.ca_file = tls.ca(),
                                               .cert_file = tls.client_cert(),
                                               .key_file = locked,
                                               .server_name = {},
                                               .crl_file = {}});
  ASSERT_FALSE(made) << "an encrypted key was loaded without its passphrase";
  EXPECT_TRUE(contains(made.error(), locked)) << made.error();
  EXPECT_TRUE(contains(made.error(), "passphrase")) << made.error();
}

// `redis://` (plain) against the TLS port: Redis drops the connection, the packet is refused
// within the deadline (no hang).
TEST_F(redis_tls, a_plain_store_against_the_tls_port_is_refused_promptly) {
  redis_server redis{tls};
  auto o = redis.tcp_options();
  o.timeout = 200ms;
  replay::redis_store s{std::move(o)};
  const auto start = std::chrono::steady_clock::now();
  auto r = s.remember(key(1), t0 + 241, t0);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r) << "a plain connection to a TLS port answered";
  EXPECT_EQ(r.error().code, errc::replay_store_unavailable);
  EXPECT_FALSE(s.last_error().empty());
  EXPECT_LT(took, 2s);
  EXPECT_EQ(redis.command("DBSIZE"), "0");
}

// `rediss://` against a plain port: Redis takes the ClientHello for an unfinished inline command
// and never answers it; the handshake gives up at the deadline and the packet is refused.
TEST_F(redis_tls, a_tls_store_against_a_plain_port_is_refused_within_the_deadline) {
  redis_server plain;  // a plain TCP port
  auto o = plain.tls_options(tls);
  o.timeout = 200ms;
  replay::redis_store s{std::move(o)};
  const auto start = std::chrono::steady_clock::now();
  auto r = s.remember(key(1), t0 + 241, t0);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r) << "a TLS store got an answer from a plain port";
  EXPECT_EQ(r.error().code, errc::replay_store_unavailable);
  EXPECT_TRUE(contains(s.last_error(), "TLS")) << s.last_error();
  EXPECT_LT(took, 2s) << "the handshake did not keep the deadline";
  EXPECT_EQ(plain.command("DBSIZE"), "0");
  EXPECT_EQ(plain.sets(), 0);
}

// Down, the store fails closed; back, it makes a new connection (a new handshake) once the
// back-off (retry_after, 100 ms) has passed. Restarted between two packets, it is reached again
// at the next packet or, if that one finds the old connection dead, at the one after the back-off.
TEST_F(redis_tls, a_restarted_redis_is_reached_again_with_a_new_handshake) {
  redis_server redis{tls};
  replay::redis_store s{redis.tls_options(tls)};
  ASSERT_EQ(seen(s.remember(key(1), t0 + 241, t0)), "first") << s.last_error();
  redis.stop();
  auto r = s.remember(key(2), t0 + 241, t0);
  ASSERT_FALSE(r) << "answered with Redis down";
  EXPECT_EQ(r.error().code, errc::replay_store_unavailable);
  redis.start();
  ASSERT_TRUE(redis.up()) << redis.log();
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(seen(s.remember(key(2), t0 + 241, t0)), "first") << s.last_error();
  EXPECT_TRUE(s.connected());
  EXPECT_EQ(redis.command("EXISTS " + name_of(key(2))), "1");

  redis.stop();
  redis.start();
  ASSERT_TRUE(redis.up()) << redis.log();
  r = s.remember(key(3), t0 + 241, t0);
  if (!r) {
    EXPECT_EQ(r.error().code, errc::replay_store_unavailable) << seen(r);
    std::this_thread::sleep_for(150ms);
    r = s.remember(key(3), t0 + 241, t0);
  }
  EXPECT_EQ(seen(r), "first") << s.last_error();
  EXPECT_EQ(redis.command("EXISTS " + name_of(key(3))), "1");
}

// OpenSSL writes with write(2), which raises SIGPIPE on a connection the peer reset; the store
// keeps it from the process (a library user need not ignore SIGPIPE). In a child process with
// SIGPIPE's default action (death), Redis drops the store's connection again and again: the
// child lives, and the store answers again each time.
TEST_F(redis_tls, a_connection_redis_drops_raises_no_sigpipe) {
  redis_server redis{tls};
  EXPECT_EXIT(
      {
        std::signal(SIGPIPE, SIG_DFL);
        replay::redis_store s{redis.tls_options(tls)};
        int answered = 0;
        for (std::uint64_t i = 1; i <= 20; ++i) {
          answered += s.remember(key(i), t0 + 241, t0) ? 1 : 0;
          redis.command("CLIENT KILL TYPE normal");  // the store's connection, and this one
          std::this_thread::sleep_for(10ms);         // the close reaches the store's socket
        }
        std::_Exit(answered > 0 ? 0 : 3);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace

namespace {
using knock::replay::parse_redis_url;

TEST(redis_url_tls, rediss_is_tls_with_its_port_and_database) {
  const auto a = parse_redis_url("rediss://127.0.0.1:6380/2");
  ASSERT_TRUE(a) << a.error();
  EXPECT_TRUE(a->tls);
  ASSERT_EQ(a->endpoints.size(), 1u);
  EXPECT_EQ(a->endpoints[0].host, "127.0.0.1");
  EXPECT_EQ(a->endpoints[0].port, 6380);
  EXPECT_EQ(a->db, 2);
  EXPECT_TRUE(a->sentinel_master.empty());
  const auto b = parse_redis_url("rediss://redis.example,[2001:db8::7]:7000");
  ASSERT_TRUE(b) << b.error();
  EXPECT_TRUE(b->tls);
  ASSERT_EQ(b->endpoints.size(), 2u);
  EXPECT_EQ(b->endpoints[0].describe(), "redis.example:6379");
  EXPECT_EQ(b->endpoints[1].describe(), "[2001:db8::7]:7000");
  EXPECT_EQ(b->db, 0);
}

TEST(redis_url_tls, redis_and_unix_are_not_tls) {
  const auto a = parse_redis_url("redis://127.0.0.1:6380/2");
  ASSERT_TRUE(a) << a.error();
  EXPECT_FALSE(a->tls);
  const auto s = parse_redis_url("redis-sentinel://h1/mymaster");
  ASSERT_TRUE(s) << s.error();
  EXPECT_FALSE(s->tls);
  const auto u = parse_redis_url("unix:///run/redis/redis.sock");
  ASSERT_TRUE(u) << u.error();
  EXPECT_FALSE(u->tls);
  EXPECT_FALSE(replay::redis_address{}.tls);
}

TEST(redis_url_tls, rediss_sentinel_is_tls_with_the_master) {
  const auto a = parse_redis_url("rediss-sentinel://h1,h2:5000/mymaster");
  ASSERT_TRUE(a) << a.error();
  EXPECT_TRUE(a->tls);
  EXPECT_EQ(a->sentinel_master, "mymaster");
  ASSERT_EQ(a->endpoints.size(), 2u);
  EXPECT_EQ(a->endpoints[0].describe(), "h1:26379");
  EXPECT_EQ(a->endpoints[1].describe(), "h2:5000");
  EXPECT_EQ(a->db, 0);
  const auto b = parse_redis_url("rediss-sentinel://h1/gw-1/3");
  ASSERT_TRUE(b) << b.error();
  EXPECT_TRUE(b->tls);
  EXPECT_EQ(b->sentinel_master, "gw-1");
  EXPECT_EQ(b->db, 3);
  const auto none = parse_redis_url("rediss-sentinel://h1");
  ASSERT_FALSE(none);
  EXPECT_TRUE(contains(none.error(), "no master name")) << none.error();
}

}  // namespace
