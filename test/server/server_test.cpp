// SPDX-License-Identifier: MIT
// The server core: stage order, when a packet is recorded as seen, the time window, policy, grants.
// Stanzas are built by hand here; test/config checks the same through access.conf files.
#include <knock/server.hpp>

#include <knock/cipher/any_of.hpp>
#include <knock/firewall/async.hpp>
#include <knock/firewall/recording.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/replay/file_store.hpp>

#include "support/vectors.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace {
using namespace knock;
using spa_server = server<cipher::any_rijndael, mac::any_hmac, firewall::recording>;
using stanza_t = access::stanza<cipher::any_rijndael, mac::any_hmac>;

constexpr epoch_seconds t0 = 1700000005;  // the vectors' server clock
const auto shared =
    test::vectors_of(KNOCK_TEST_DATA "/fwknop-2.6.10-vectors.json", {"valid", "invalid"});

const nlohmann::json& vector(std::string_view name) {
  for (const auto& v : shared)
    if (v.at("name") == name) return v;
  throw std::runtime_error{"no vector " + std::string{name}};
}
std::string packet(std::string_view name) { return vector(name).at("packet"); }

stanza_t stanza_for(const nlohmann::json& v) {
  test::vector_keys keys{v};
  stanza_t s;
  s.cipher = keys.cipher;
  s.key = std::move(keys.key);
  s.mac = keys.mac;
  return s;
}
spa_server::rules_type rules(stanza_t s) {
  spa_server::rules_type r;
  r.stanzas.push_back(std::move(s));
  return r;
}
datagram from(const std::string& payload, std::string_view src = "127.0.0.1") {
  return {payload, *ip_address::parse(src), *ip_address::parse("0.0.0.0"), 40000, 62201};
}

TEST(server, accepts_a_valid_packet_and_opens_the_firewall) {
  spa_server srv{rules(stanza_for(vector("access_cbc_hmac_sha256")))};
  const auto p = packet("access_cbc_hmac_sha256");
  const verdict v = srv.handle(from(p), t0);
  ASSERT_TRUE(v.accepted) << to_string(v.reason);
  EXPECT_EQ(v.stanza, 1u);
  EXPECT_EQ(v.granted.source, *ip_address::parse("10.0.0.5"));
  ASSERT_EQ(v.granted.ports.size(), 1u);
  EXPECT_EQ(to_string(*v.granted.ports.begin()), "tcp/22");
  EXPECT_EQ(v.granted.timeout, 30u);
  EXPECT_EQ(v.granted.expires, t0 + 30);
  ASSERT_EQ(srv.firewall().active().size(), 1u);
}

// fwknopd's ENABLE_DESTINATION_RULE matches the address the SPA packet was sent to
// (spadat->pkt_destination_ip): the grant carries it to the firewall.
TEST(server, the_grant_carries_the_packets_destination_address) {
  spa_server srv{rules(stanza_for(vector("access_cbc_hmac_sha256")))};
  const std::string p = packet("access_cbc_hmac_sha256");
  datagram d = from(p);
  d.destination = *ip_address::parse("192.0.2.1");
  const verdict v = srv.handle(d, t0);
  ASSERT_TRUE(v.accepted) << to_string(v.reason);
  EXPECT_EQ(v.granted.destination, *ip_address::parse("192.0.2.1"));
  ASSERT_EQ(srv.firewall().active().size(), 1u);
  EXPECT_EQ(srv.firewall().active()[0].destination, *ip_address::parse("192.0.2.1"));
}

TEST(server, refuses_a_replay_even_much_later_within_the_window) {
  spa_server srv{rules(stanza_for(vector("access_cbc_hmac_sha256")))};
  const auto p = packet("access_cbc_hmac_sha256");
  ASSERT_TRUE(srv.handle(from(p), t0).accepted);
  EXPECT_EQ(srv.handle(from(p), t0).reason, errc::replayed);
  EXPECT_EQ(srv.handle(from(p, "192.0.2.7"), t0 + 100).reason, errc::replayed);
  EXPECT_EQ(srv.firewall().opened(), 1u);
}

TEST(server, a_payload_the_store_knows_is_refused_before_decryption) {
  spa_server srv{rules(stanza_for(vector("access_cbc_hmac_sha256")))};
  const auto p = packet("access_cbc_hmac_sha256");
  ASSERT_TRUE(srv.handle(from(p), t0).accepted);
  const verdict again = srv.handle(from(p), t0 + 1);
  EXPECT_EQ(again.reason, errc::replayed);
  EXPECT_FALSE(again.decoded()) << "the replay log's lookup answered: nothing was decrypted";
  EXPECT_FALSE(again.stanza);
}

TEST(server, time_window_is_plus_minus_120_seconds_inclusive) {
  const auto p = packet("access_cbc_hmac_sha256");  // timestamp 1700000000
  for (auto [now, ok] : {std::pair{1700000120, true},
                         {1700000121, false},
                         {1699999880, true},
                         {1699999879, false}}) {
    spa_server srv{rules(stanza_for(vector("access_cbc_hmac_sha256")))};
    const verdict v = srv.handle(from(p), now);
    EXPECT_EQ(v.accepted, ok) << now;
    if (!ok) {
      EXPECT_EQ(v.reason, errc::stale_timestamp) << now;
    }
    EXPECT_TRUE(v.decoded());
  }
}

TEST(server, aging_off_accepts_old_packets) {
  auto r = rules(stanza_for(vector("access_cbc_hmac_sha256")));
  r.options.packet_aging = false;
  spa_server srv{std::move(r)};
  EXPECT_TRUE(srv.handle(from(packet("access_cbc_hmac_sha256")), t0 + 86400).accepted);
}

TEST(server, a_packet_that_fails_authentication_is_not_recorded) {
  spa_server srv{rules(stanza_for(vector("access_cbc_hmac_sha256")))};
  EXPECT_EQ(srv.handle(from(packet("bad_hmac_tag")), t0).reason, errc::bad_mac);
  EXPECT_EQ(srv.replay_store().size(), 0u);
  EXPECT_TRUE(srv.handle(from(packet("access_cbc_hmac_sha256")), t0).accepted);
}

TEST(server, a_packet_is_recorded_once_it_authenticates_even_if_policy_then_denies_it) {
  auto s = stanza_for(vector("access_cbc_hmac_sha256"));
  s.require_username = "bob";
  spa_server srv{rules(std::move(s))};
  const auto p = packet("access_cbc_hmac_sha256");
  const verdict first = srv.handle(from(p), t0);
  EXPECT_EQ(first.reason, errc::username_mismatch);
  EXPECT_EQ(srv.replay_store().size(), 2u) << "the payload key and the message key";
  EXPECT_EQ(srv.handle(from(p), t0).reason, errc::replayed);
}

// A packet from the future (the client's clock ahead) is refused as stale, and recorded until it
// could no longer pass the window: the same bytes sent when they would pass are refused too.
TEST(server, a_packet_from_the_future_is_recorded_until_it_could_no_longer_pass) {
  spa_server srv{rules(stanza_for(vector("access_cbc_hmac_sha256")))};
  const auto p = packet("access_cbc_hmac_sha256");  // timestamp t0 - 5
  EXPECT_EQ(srv.handle(from(p), t0 - 1000).reason, errc::stale_timestamp);
  EXPECT_EQ(srv.replay_store().size(), 2u) << "the payload key and the message key";
  EXPECT_EQ(srv.handle(from(p), t0).reason, errc::replayed);
  EXPECT_EQ(srv.handle(from(p), t0 - 5 + 120).reason, errc::replayed);
  EXPECT_EQ(srv.firewall().opened(), 0u);
}

// A packet too old for the window never passes again on a clock that moves forward: the store is
// not asked (for Redis: no round trip for a stale packet).
TEST(server, a_packet_too_old_for_the_window_does_not_reach_the_store) {
  spa_server srv{rules(stanza_for(vector("access_cbc_hmac_sha256")))};
  const auto p = packet("access_cbc_hmac_sha256");
  EXPECT_EQ(srv.handle(from(p), t0 + 1000).reason, errc::stale_timestamp);
  EXPECT_EQ(srv.replay_store().size(), 0u);
  EXPECT_EQ(srv.handle(from(p), t0 + 1001).reason, errc::stale_timestamp);
}

// Both keys go to the store in one call (one round trip to a networked store), after the window.
struct counting_store {
  using role = role::replay;
  replay::memory_store inner{replay::memory_store::default_capacity};
  int singles = 0, batches = 0;
  std::size_t keys = 0;
  result<sighting> remember(const replay_key& k, epoch_seconds e, epoch_seconds n) noexcept {
    ++singles;
    return inner.remember(k, e, n);
  }
  result<sighting> remember_all(std::span<const replay_key> ks, epoch_seconds e,
                                epoch_seconds n) noexcept {
    ++batches;
    keys += ks.size();
    sighting seen = sighting::first;
    for (const auto& k : ks)
      if (auto r = inner.remember(k, e, n); !r)
        return r;
      else if (*r == sighting::replay)
        seen = sighting::replay;
    return seen;
  }
  std::size_t size() const noexcept { return inner.size(); }
};
static_assert(batch_replay_store<counting_store>);

TEST(server, a_packet_costs_one_batch_of_both_keys) {
  using batch_server =
      server<cipher::any_rijndael, mac::any_hmac, firewall::recording, counting_store>;
  batch_server::rules_type r;
  r.stanzas.push_back(stanza_for(vector("access_cbc_hmac_sha256")));
  batch_server srv{std::move(r)};
  const auto p = packet("access_cbc_hmac_sha256");
  EXPECT_EQ(srv.handle(from(packet("bad_hmac_tag")), t0).reason, errc::bad_mac);
  EXPECT_EQ(srv.handle(from(p), t0 + 1000).reason, errc::stale_timestamp);
  EXPECT_EQ(srv.replay_store().batches, 0) << "a forgery or a stale packet reached the store";
  ASSERT_TRUE(srv.handle(from(p), t0).accepted);
  EXPECT_EQ(srv.replay_store().batches, 1);
  EXPECT_EQ(srv.replay_store().keys, 2u);
  EXPECT_EQ(srv.replay_store().singles, 0);
  EXPECT_EQ(srv.handle(from(p), t0).reason, errc::replayed);
  EXPECT_EQ(srv.replay_store().batches, 2);
}

TEST(server, without_hmac_the_same_message_reencrypted_is_a_replay) {
  const auto& v = vector("no_hmac_passphrase");
  spa_server srv{rules(stanza_for(v))};
  const test::vector_keys keys{v};
  auto m =
      wire::open(v.at("packet").get<std::string>(), keys.cipher, keys.key.view(), keys.mac_ptr());
  ASSERT_TRUE(m);
  const std::array<byte, 8> other_salt{9, 9, 9, 9, 9, 9, 9, 9};
  const auto respelled = wire::seal(*m, keys.cipher, keys.key.view(), keys.mac_ptr(), other_salt);
  ASSERT_TRUE(respelled);
  ASSERT_NE(*respelled, v.at("packet").get<std::string>());
  EXPECT_TRUE(srv.handle(from(v.at("packet")), t0).accepted);
  EXPECT_EQ(srv.handle(from(*respelled), t0).reason, errc::replayed);
}

TEST(server, source_filter_refuses_before_any_crypto) {
  auto s = stanza_for(vector("access_cbc_hmac_sha256"));
  s.sources = {false, {*cidr::parse("192.0.2.0/24")}};
  spa_server srv{rules(std::move(s))};
  EXPECT_EQ(srv.handle(from(packet("access_cbc_hmac_sha256")), t0).reason,
            errc::no_matching_stanza);
  EXPECT_EQ(srv.replay_store().size(), 0u);
  EXPECT_TRUE(srv.handle(from(packet("access_cbc_hmac_sha256"), "192.0.2.9"), t0).accepted);
}

TEST(server, first_stanza_that_succeeds_wins) {
  spa_server::rules_type r;
  r.stanzas.push_back(stanza_for(vector("access_cbc_hmac_sha512")));  // other keys
  r.stanzas.push_back(stanza_for(vector("access_cbc_hmac_sha256")));
  auto third = stanza_for(vector("access_cbc_hmac_sha256"));
  third.fw_access_timeout = 99;
  r.stanzas.push_back(std::move(third));
  spa_server srv{std::move(r)};
  const verdict v = srv.handle(from(packet("access_cbc_hmac_sha256")), t0);
  ASSERT_TRUE(v.accepted);
  EXPECT_EQ(v.stanza, 2u);
  EXPECT_EQ(v.granted.stanza, 2u);
  EXPECT_EQ(v.granted.timeout, 30u);
}

TEST(server, a_stanza_that_denies_passes_the_packet_on_without_burning_it_for_the_next) {
  spa_server::rules_type r;
  auto strict = stanza_for(vector("access_cbc_hmac_sha256"));
  strict.require_username = "bob";
  r.stanzas.push_back(std::move(strict));
  r.stanzas.push_back(stanza_for(vector("access_cbc_hmac_sha256")));
  spa_server srv{std::move(r)};
  const auto p = packet("access_cbc_hmac_sha256");
  const verdict v = srv.handle(from(p), t0);
  ASSERT_TRUE(v.accepted) << to_string(v.reason);
  EXPECT_EQ(v.stanza, 2u);
  EXPECT_EQ(srv.handle(from(p), t0).reason, errc::replayed);
}

TEST(server, zero_address_means_the_packet_source_also_over_ipv6) {
  const auto& v = vector("source_ip_0000");
  spa_server srv{rules(stanza_for(v))};
  const verdict got = srv.handle(from(v.at("packet"), "2001:db8::7"), t0);
  ASSERT_TRUE(got.accepted) << to_string(got.reason);
  EXPECT_EQ(got.granted.source, *ip_address::parse("2001:db8::7"));

  auto s = stanza_for(v);
  s.require_source_address = true;
  spa_server strict{rules(std::move(s))};
  EXPECT_EQ(strict.handle(from(v.at("packet")), t0).reason, errc::source_address_required);
}

TEST(server, ports_timeouts_and_commands_follow_the_stanza) {
  const auto p = packet("access_cbc_hmac_sha256");
  auto open80 = stanza_for(vector("access_cbc_hmac_sha256"));
  open80.open_ports.emplace();
  open80.open_ports->push_back({ip_protocol::tcp, 80});
  EXPECT_EQ(spa_server{rules(std::move(open80))}.handle(from(p), t0).reason, errc::ports_denied);

  auto restrict22 = stanza_for(vector("access_cbc_hmac_sha256"));
  restrict22.restrict_ports.push_back({ip_protocol::tcp, 22});
  EXPECT_EQ(spa_server{rules(std::move(restrict22))}.handle(from(p), t0).reason,
            errc::ports_denied);

  auto clamp = stanza_for(vector("client_timeout"));
  clamp.max_fw_timeout = 40;
  const verdict t = spa_server{rules(std::move(clamp))}.handle(from(packet("client_timeout")), t0);
  ASSERT_TRUE(t.accepted);
  EXPECT_EQ(t.message->client_timeout, 60u);  // the vector asks -f 60
  EXPECT_EQ(t.granted.timeout, 40u);

  EXPECT_EQ(spa_server{rules(stanza_for(vector("command_msg")))}
                .handle(from(packet("command_msg")), t0)
                .reason,
            errc::commands_disabled);
  auto cmd = stanza_for(vector("command_msg"));
  cmd.enable_cmd_exec = true;
  spa_server with_cmd{rules(std::move(cmd))};
  const verdict c = with_cmd.handle(from(packet("command_msg")), t0);
  ASSERT_TRUE(c.accepted);
  EXPECT_TRUE(c.granted.ports.empty());
  EXPECT_EQ(with_cmd.firewall().opened(), 0u) << "a command opens no port";

  EXPECT_EQ(spa_server{rules(stanza_for(vector("nat_access")))}
                .handle(from(packet("nat_access")), t0)
                .reason,
            errc::nat_disabled);
}

spa_server::rules_type with_forwarding(stanza_t s) {
  auto r = rules(std::move(s));
  r.options.nat.forwarding = true;
  return r;
}

TEST(server, a_nat_request_earns_a_nat_grant_as_fwknopd_makes_it) {
  // fwknop -A tcp/22 -a 10.0.0.5 -N 192.168.1.10:22: the access port is the one forwarded.
  spa_server srv{with_forwarding(stanza_for(vector("nat_access")))};
  const verdict v = srv.handle(from(packet("nat_access")), t0);
  ASSERT_TRUE(v.accepted) << to_string(v.reason);
  EXPECT_EQ(v.granted.nat.kind, nat_kind::forward);
  EXPECT_EQ(v.granted.nat.to, *ip_address::parse("192.168.1.10"));
  EXPECT_EQ(v.granted.nat.to_port, 22u);
  EXPECT_TRUE(v.granted.nat.dnat);
  EXPECT_EQ(v.granted.nat.rewrite, source_nat::none);
  EXPECT_EQ(to_string(*v.granted.ports.begin()), "tcp/22");
  ASSERT_EQ(srv.firewall().active().size(), 1u);
  EXPECT_EQ(srv.firewall().active()[0].nat, v.granted.nat);

  // Local NAT is its own switch: forwarding alone does not allow it, and the reverse.
  auto local_only = rules(stanza_for(vector("nat_access")));
  local_only.options.nat.local = true;
  EXPECT_EQ(spa_server{std::move(local_only)}.handle(from(packet("nat_access")), t0).reason,
            errc::nat_disabled);
}

TEST(server, force_nat_and_source_nat_follow_the_stanza_and_server_switches) {
  // FORCE_NAT applies to a plain access request, and wins over what a NAT request asked.
  auto forced = stanza_for(vector("access_cbc_hmac_sha256"));
  forced.nat.force_to = *ip_address::parse("172.16.0.9");
  forced.nat.force_port = 2222;
  auto r = with_forwarding(std::move(forced));
  r.options.nat.snat = true;  // ENABLE_IPT_SNAT without SNAT_TRANSLATE_IP: MASQUERADE
  spa_server srv{std::move(r)};
  const verdict v = srv.handle(from(packet("access_cbc_hmac_sha256")), t0);
  ASSERT_TRUE(v.accepted) << to_string(v.reason);
  EXPECT_EQ(v.granted.nat.kind, nat_kind::forward);
  EXPECT_EQ(v.granted.nat.to, *ip_address::parse("172.16.0.9"));
  EXPECT_EQ(v.granted.nat.to_port, 2222u);
  EXPECT_EQ(v.granted.nat.rewrite, source_nat::masquerade);

  auto snat = stanza_for(vector("nat_access"));
  snat.nat.force_snat = true;
  snat.nat.snat_to = *ip_address::parse("10.1.1.1");
  snat.nat.disable_dnat = true;
  const verdict s =
      spa_server{with_forwarding(std::move(snat))}.handle(from(packet("nat_access")), t0);
  ASSERT_TRUE(s.accepted) << to_string(s.reason);
  EXPECT_EQ(s.granted.nat.rewrite, source_nat::snat);
  EXPECT_EQ(s.granted.nat.rewrite_to, *ip_address::parse("10.1.1.1"));
  EXPECT_FALSE(s.granted.nat.dnat);
}

// A NAT request naming a host: resolved only with ENABLE_NAT_DNS, refused with its reason.
TEST(server, nat_host_names_need_enable_nat_dns_and_must_resolve) {
  const auto& v = vector("nat_access");
  const test::vector_keys keys{v};
  auto m =
      wire::open(v.at("packet").get<std::string>(), keys.cipher, keys.key.view(), keys.mac_ptr());
  ASSERT_TRUE(m);
  const auto respell = [&](std::string_view nat, byte salt) {
    auto copy = *m;
    EXPECT_TRUE(copy.nat_access.assign(nat));
    EXPECT_TRUE(copy.rand_value.assign(salt == 1 ? "1111111111111111" : "2222222222222222"));
    const std::array<byte, 8> s{salt, 2, 3, 4, 5, 6, 7, 8};
    auto p = wire::seal(copy, keys.cipher, keys.key.view(), keys.mac_ptr(), s);
    EXPECT_TRUE(p);
    return p ? *p : std::string{};
  };
  auto r = with_forwarding(stanza_for(v));
  r.options.nat.resolve_names = false;
  EXPECT_EQ(spa_server{std::move(r)}.handle(from(respell("localhost,22", 1)), t0).reason,
            errc::nat_name_refused);
  const verdict resolved =
      spa_server{with_forwarding(stanza_for(v))}.handle(from(respell("localhost,22", 1)), t0);
  ASSERT_TRUE(resolved.accepted) << to_string(resolved.reason);
  EXPECT_EQ(resolved.granted.nat.to, *ip_address::parse("127.0.0.1"));
  EXPECT_EQ(spa_server{with_forwarding(stanza_for(v))}
                .handle(from(respell("no-such-host.invalid,22", 2)), t0)
                .reason,
            errc::nat_name_unresolved);
}

// A firewall that cannot NAT: the server refuses NAT grants with their own reason.
struct filter_only {
  using role = knock::role::firewall;
  std::size_t opened = 0;
  result<void> open(const grant&) {
    ++opened;
    return {};
  }
  result<void> expire(epoch_seconds) { return {}; }
};
static_assert(firewall_policy<filter_only> && !firewall::nat_firewall<filter_only>);

TEST(server, a_firewall_that_cannot_nat_refuses_nat_grants) {
  using filter_server = server<cipher::any_rijndael, mac::any_hmac, filter_only>;
  filter_server::rules_type r;
  r.stanzas.push_back(stanza_for(vector("nat_access")));
  r.options.nat.forwarding = true;
  filter_server srv{std::move(r)};
  EXPECT_EQ(srv.handle(from(packet("nat_access")), t0).reason, errc::nat_unsupported);
  EXPECT_EQ(srv.firewall().opened, 0u) << "nothing opened";
}

TEST(server, a_full_replay_store_fails_closed) {
  using small_server = server<cipher::any_rijndael, mac::any_hmac, firewall::recording>;
  small_server srv{rules(stanza_for(vector("access_cbc_hmac_sha256"))), replay::memory_store{1}};
  const verdict v = srv.handle(from(packet("access_cbc_hmac_sha256")), t0);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(v.reason, errc::replay_store_full);
  EXPECT_EQ(srv.firewall().opened(), 0u);
}

TEST(server, a_restarted_server_with_a_file_store_remembers) {
  using persistent =
      server<replay::file_store, firewall::recording, mac::any_hmac, cipher::any_rijndael>;
  const auto path =
      testing::TempDir() + "/knock-server-test-" + std::to_string(::getpid()) + ".log";
  const auto p = packet("access_cbc_hmac_sha256");
  {
    persistent srv{rules(stanza_for(vector("access_cbc_hmac_sha256"))),
                   *replay::file_store::open(path, t0)};
    ASSERT_TRUE(srv.handle(from(p), t0).accepted);
  }
  persistent again{rules(stanza_for(vector("access_cbc_hmac_sha256"))),
                   *replay::file_store::open(path, t0 + 5)};
  EXPECT_EQ(again.handle(from(p), t0 + 5).reason, errc::replayed);
  std::remove(path.c_str());
}

// A store with commit(): the server commits once per accepted packet, after recording both keys
// and before the firewall opens anything; a failed commit refuses the packet, nothing granted.
struct committing_store : replay::memory_store {
  using role = knock::role::replay;
  committing_store() : memory_store{memory_store::default_capacity} {}
  int commits = 0, remembered_at_commit = -1;
  bool fail = false;
  result<sighting> remember(const replay_key& k, epoch_seconds e, epoch_seconds now) noexcept {
    ++remembered;
    return memory_store::remember(k, e, now);
  }
  result<void> commit() {
    ++commits;
    remembered_at_commit = remembered;
    if (fail) return knock::fail(error{errc::io_failed, "replay log /x: No space left on device"});
    return {};
  }
  int remembered = 0;
};
struct committing_firewall : firewall::recording {
  const committing_store* store = nullptr;
  int commits_before_open = -1;
  result<void> open(const grant& g) {
    commits_before_open = store->commits;
    return recording::open(g);
  }
};

TEST(server, a_durable_store_is_committed_once_before_the_grant) {
  using durable =
      server<cipher::any_rijndael, mac::any_hmac, committing_firewall, committing_store>;
  durable srv{rules(stanza_for(vector("access_cbc_hmac_sha256")))};
  srv.firewall().store = &srv.replay_store();
  ASSERT_TRUE(srv.handle(from(packet("access_cbc_hmac_sha256")), t0).accepted);
  EXPECT_EQ(srv.replay_store().commits, 1);
  EXPECT_EQ(srv.replay_store().remembered_at_commit, 2);  // the payload's key and the message's
  EXPECT_EQ(srv.firewall().commits_before_open, 1);
  EXPECT_EQ(srv.handle(from(packet("access_cbc_hmac_sha256")), t0).reason, errc::replayed);
  EXPECT_EQ(srv.replay_store().commits, 1);  // refusals are not synced one by one
}

TEST(server, a_failed_commit_refuses_the_packet_and_grants_nothing) {
  using durable =
      server<cipher::any_rijndael, mac::any_hmac, committing_firewall, committing_store>;
  durable srv{rules(stanza_for(vector("access_cbc_hmac_sha256")))};
  srv.firewall().store = &srv.replay_store();
  srv.replay_store().fail = true;
  const verdict v = srv.handle(from(packet("access_cbc_hmac_sha256")), t0);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(v.reason, errc::io_failed);
  EXPECT_EQ(v.detail, "replay log /x: No space left on device") << "what the store said";
  EXPECT_EQ(srv.firewall().opened(), 0u);
}
static_assert(durable_replay_store<committing_store>);
static_assert(!durable_replay_store<replay::memory_store>);

// A store that cannot answer (a networked store that is down): fail closed, with its own reason
// and what the store said, and nothing opened.
struct unreachable_store {
  using role = knock::role::replay;
  int asked = 0;
  result<sighting> remember(const replay_key&, epoch_seconds, epoch_seconds) noexcept {
    ++asked;
    return fail(error{errc::replay_store_unavailable, "redis 192.0.2.1:6379: Connection refused"});
  }
  std::size_t size() const noexcept { return 0; }
};
struct event_log {
  using role = knock::role::observer;
  std::vector<errc> reasons;
  std::vector<std::string> details;
  void on_packet(const packet_event& e) noexcept {
    reasons.push_back(e.reason);
    details.emplace_back(e.detail);
  }
};

TEST(server, a_store_that_cannot_tell_refuses_the_packet) {
  using srv_t = server<cipher::any_rijndael, mac::any_hmac, firewall::recording, unreachable_store,
                       event_log>;
  srv_t srv{rules(stanza_for(vector("access_cbc_hmac_sha256")))};
  const verdict v = srv.handle(from(packet("access_cbc_hmac_sha256")), t0);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(v.reason, errc::replay_store_unavailable);
  EXPECT_EQ(v.detail, "redis 192.0.2.1:6379: Connection refused");
  EXPECT_EQ(srv.replay_store().asked, 1) << "asked once: the first error stops it";
  EXPECT_TRUE(v.decoded()) << "asked once the packet passed the time window";
  EXPECT_EQ(srv.firewall().opened(), 0u);
  ASSERT_EQ(srv.observer().reasons.size(), 1u);
  EXPECT_EQ(srv.observer().reasons[0], errc::replay_store_unavailable);
  EXPECT_EQ(srv.observer().details[0], "redis 192.0.2.1:6379: Connection refused");
}

// A firewall that refuses: `firewall_failed`, with what it said; refusals of packets say nothing.
struct refusing_firewall {
  using role = knock::role::firewall;
  result<void> open(const grant&) {
    return fail(error{errc::firewall_failed, "nftables: Operation not permitted"});
  }
  result<void> expire(epoch_seconds) { return {}; }
};

TEST(server, a_failing_firewall_says_what_it_said) {
  using srv_t = server<cipher::any_rijndael, mac::any_hmac, refusing_firewall, event_log>;
  srv_t srv{rules(stanza_for(vector("access_cbc_hmac_sha256")))};
  const verdict v = srv.handle(from(packet("access_cbc_hmac_sha256")), t0);
  EXPECT_FALSE(v.accepted);
  EXPECT_EQ(v.reason, errc::firewall_failed);
  EXPECT_EQ(v.detail, "nftables: Operation not permitted");
  EXPECT_EQ(srv.observer().details.back(), "nftables: Operation not permitted");
  const verdict replayed = srv.handle(from(packet("access_cbc_hmac_sha256")), t0);
  EXPECT_EQ(replayed.reason, errc::replayed);
  EXPECT_TRUE(replayed.detail.empty());
  EXPECT_TRUE(srv.observer().details.back().empty());
}

// A deferring firewall (firewall::async): handle() leaves the verdict pending and says nothing to
// the Observer; settle() gives the firewall's answer, and only then is the packet reported -
// accepted, or refused as firewall_failed with the backend's reason (never an acceptance that the
// firewall did not make). The replay store has recorded the packet before the grant was queued.
struct accepted_log : event_log {
  std::vector<bool> accepted;
  void on_packet(const packet_event& e) noexcept {
    event_log::on_packet(e);
    accepted.push_back(e.accepted);
  }
};
template <class Backend>
void settle_all(auto& srv, std::vector<verdict>& out) {
  for (int waited = 0; srv.firewall().waiting() != 0 && waited < 5000; ++waited)
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  srv.firewall().finish();
  srv.firewall().drain([&](firewall::answer a) {
    if (a.what == firewall::answer::kind::grant)
      out.push_back(srv.settle(std::move(a.request), a.outcome));
  });
}

TEST(server, a_deferring_firewall_reports_the_packet_when_it_has_answered) {
  using fw_t = firewall::async<firewall::recording>;
  using srv_t = server<cipher::any_rijndael, mac::any_hmac, fw_t, accepted_log>;
  auto fw = fw_t::start(firewall::recording{});
  ASSERT_TRUE(fw);
  srv_t srv{rules(stanza_for(vector("access_cbc_hmac_sha256"))), *std::move(fw)};
  const verdict v = srv.handle(from(packet("access_cbc_hmac_sha256")), t0);
  EXPECT_TRUE(v.accepted) << to_string(v.reason);
  EXPECT_TRUE(v.pending);
  EXPECT_TRUE(srv.observer().accepted.empty()) << "nothing reported before the firewall answers";
  const verdict replayed = srv.handle(from(packet("access_cbc_hmac_sha256")), t0);
  EXPECT_EQ(replayed.reason, errc::replayed) << "recorded before the grant was queued";
  EXPECT_FALSE(replayed.pending);
  std::vector<verdict> settled;
  settle_all<firewall::recording>(srv, settled);
  ASSERT_EQ(settled.size(), 1u);
  EXPECT_TRUE(settled[0].accepted);
  EXPECT_EQ(settled[0].stanza, 1u);
  EXPECT_EQ(settled[0].granted.source, *ip_address::parse("10.0.0.5"));
  ASSERT_EQ(srv.observer().accepted.size(), 2u);  // the replay, then the settled grant
  EXPECT_FALSE(srv.observer().accepted[0]);
  EXPECT_TRUE(srv.observer().accepted[1]);
  EXPECT_EQ(srv.firewall().call([](firewall::recording& r) { return r.opened(); }), 1u);
}

TEST(server, a_deferring_firewall_that_refuses_is_reported_as_firewall_failed) {
  using fw_t = firewall::async<refusing_firewall>;
  using srv_t = server<cipher::any_rijndael, mac::any_hmac, fw_t, accepted_log>;
  auto fw = fw_t::start(refusing_firewall{});
  ASSERT_TRUE(fw);
  srv_t srv{rules(stanza_for(vector("access_cbc_hmac_sha256"))), *std::move(fw)};
  EXPECT_TRUE(srv.handle(from(packet("access_cbc_hmac_sha256")), t0).pending);
  std::vector<verdict> settled;
  settle_all<refusing_firewall>(srv, settled);
  ASSERT_EQ(settled.size(), 1u);
  EXPECT_FALSE(settled[0].accepted);
  EXPECT_EQ(settled[0].reason, errc::firewall_failed);
  EXPECT_EQ(settled[0].detail, "nftables: Operation not permitted");
  ASSERT_EQ(srv.observer().accepted.size(), 1u);
  EXPECT_FALSE(srv.observer().accepted[0]) << "no acceptance logged for a grant that failed";
  EXPECT_EQ(srv.observer().details[0], "nftables: Operation not permitted");
}

TEST(server, long_packets_need_enable_cmd_exec) {
  const auto v = test::vectors_of(KNOCK_TEST_DATA "/fwknop-2.6.10-vectors.json", {"server_policy"});
  const auto it = std::find_if(v.begin(), v.end(), [](const auto& x) {
    return x.at("name") == "rijndael_wire_len_ge_400_default_stanza";
  });
  const std::string p = it->at("packets")[0];
  EXPECT_EQ(spa_server{rules(stanza_for(*it))}.handle(from(p), t0).reason,
            errc::too_long_for_rijndael);
  auto s = stanza_for(*it);
  s.enable_cmd_exec = true;
  const verdict ok = spa_server{rules(std::move(s))}.handle(from(p), t0);
  ASSERT_TRUE(ok.accepted) << to_string(ok.reason);
  EXPECT_EQ(ok.granted.ports.size(), 12u);
}
}  // namespace
