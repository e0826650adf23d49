// SPDX-License-Identifier: MIT
// KNOCK_REPLAY_REDIS_TLS_CRL against a real redis-server with a TLS port, certificates and CRLs
// made with the openssl CLI (`openssl ca`): a server certificate the CA's list revokes is refused,
// and a list replaced on disk while the store runs is read at its next connection — revoking,
// then lifting the revocation, then a broken file refusing the connection rather than checking
// against the old list. Skipped, with the reason, without redis-server, the openssl CLI, or TLS in
// redis-server.
#include <knock/replay/redis_store.hpp>

#include "replay/redis_server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

namespace {
using namespace knock;
using namespace knock::test_redis;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// KNOCK_REPLAY_REDIS_TLS_CRL: with the CA's list, a server certificate it does not revoke is
// accepted; one it revokes is refused at the handshake and nothing reaches Redis; a file that
// holds no CRL is named.
TEST_F(redis_tls, a_revoked_server_certificate_is_refused_with_the_cas_crl) {
  redis_server redis{tls};
  auto fine = redis.tls_options(tls);
  fine.tls.crl_file = tls.crl_empty();
  replay::redis_store accepted{std::move(fine)};
  EXPECT_EQ(seen(accepted.remember(key(1), t0 + 241, t0)), "first") << accepted.last_error();

  auto o = redis.tls_options(tls);
  o.tls.crl_file = tls.crl_revoking_server();
  replay::redis_store s{std::move(o)};
  auto r = s.remember(key(2), t0 + 241, t0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::replay_store_unavailable);
  EXPECT_NE(r.error().message.find("certificate revoked"), std::string::npos) << r.error().message;
  EXPECT_EQ(redis.command("EXISTS " + name_of(key(2))), "0");

  for (const std::string& bad : {tls.ca(), tls.file("no-such.crl")}) {
    const auto made = replay::redis_tls_context::make(
        {.ca_file = tls.ca(), .cert_file = {}, .key_file = {}, .server_name = {}, .crl_file = bad});
    ASSERT_FALSE(made) << bad;
    EXPECT_TRUE(made.error().starts_with("TLS: " + bad + ": ")) << made.error();
  }
}

// A list that expires (nextUpdate) or revokes a server is replaced while the daemon runs: each new
// connection reads the files again when they changed. An established connection is not checked
// again, so each step restarts Redis (the store's next packet after the back-off reconnects).
TEST_F(redis_tls, a_crl_replaced_on_disk_is_read_at_the_next_connection) {
  redis_server redis{tls};
  const fs::path dir = fs::path{::testing::TempDir()} / ("knock-crl-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string crl = (dir / "ca.crl").string();
  const auto install = [&](const std::string& from) {  // as an operator would: a new file, renamed
    fs::copy_file(from, crl + ".new", fs::copy_options::overwrite_existing);
    fs::rename(crl + ".new", crl);
  };
  install(tls.crl_empty());
  auto o = redis.tls_options(tls);
  o.tls.crl_file = crl;
  replay::redis_store s{std::move(o)};
  ASSERT_EQ(seen(s.remember(key(1), t0 + 241, t0)), "first") << s.last_error();
  // The answer for key `n` once the store has connected again after a restart: the first packet
  // may find the old connection dead (then the store waits out its back-off, 100 ms).
  const auto after_restart = [&](std::uint64_t n) {
    redis.stop();
    redis.start();
    EXPECT_TRUE(redis.up()) << redis.log();
    auto r = s.remember(key(n), t0 + 241, t0);
    for (int i = 0; i < 5 && !r && r.error().message.find("TLS") == std::string::npos; ++i) {
      std::this_thread::sleep_for(150ms);
      r = s.remember(key(n), t0 + 241, t0);
    }
    return r;
  };

  install(tls.crl_revoking_server());  // the server's certificate revoked
  auto r = after_restart(2);
  ASSERT_FALSE(r) << "the revoked server was reached";
  EXPECT_EQ(r.error().code, errc::replay_store_unavailable);
  EXPECT_NE(r.error().message.find("certificate revoked"), std::string::npos) << r.error().message;
  EXPECT_EQ(redis.command("EXISTS " + name_of(key(2))), "0");

  install(tls.crl_empty());  // the revocation lifted (a list that revokes nothing)
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(seen(s.remember(key(3), t0 + 241, t0)), "first") << s.last_error();
  EXPECT_EQ(redis.command("EXISTS " + name_of(key(3))), "1");

  install(tls.ca());  // a file that holds no CRL: refused, and said why
  r = after_restart(4);
  ASSERT_FALSE(r) << "connected with a revocation list that cannot be read";
  EXPECT_NE(r.error().message.find(crl + ": "), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("changed on disk"), std::string::npos) << r.error().message;
  EXPECT_EQ(redis.command("EXISTS " + name_of(key(4))), "0");
  fs::remove_all(dir);
}

}  // namespace
