// SPDX-License-Identifier: MIT
// seal → screen → open, for every mode × HMAC, every message type and the limits around them.
#include <knock/wire/message_key.hpp>
#include <knock/wire/packet.hpp>

#include "support/vectors.hpp"

#include <gtest/gtest.h>

#include <tuple>

namespace {
using namespace knock;

const std::array<byte, 8> salt{1, 2, 3, 4, 5, 6, 7, 8};
const secret_bytes enc_key{std::string_view{"0123456789abcdef0123456789abcdef"}};
const secret_bytes hmac_key{std::string_view{"an HMAC key that is not the encryption key"}};

spa_message access_request() {
  spa_message m;
  m.rand_value.assign("1234567890123456");
  m.username.assign("alice");
  m.timestamp = 1700000000;
  m.message.assign("10.0.0.5,tcp/22");
  return m;
}

class every_mode_and_mac
    : public ::testing::TestWithParam<std::tuple<std::string_view, std::optional<hash_id>>> {};

TEST_P(every_mode_and_mac, opens_what_it_seals_and_nothing_else) {
  const auto [mode, hmac] = GetParam();
  const auto cipher = *cipher::any_rijndael::make(mode);
  std::optional<mac::any_hmac::keyed> mac;
  if (hmac) mac.emplace(*mac::any_hmac::make(to_string(*hmac), hmac_key.view()));
  const auto* mac_ptr = mac ? &*mac : nullptr;

  const spa_message m = access_request();
  auto packet = wire::seal(m, cipher, enc_key.view(), mac_ptr, salt);
  ASSERT_TRUE(packet) << error_name(packet.error());
  EXPECT_FALSE(packet->starts_with(cipher::rijndael<cbc>::wire_prefix));
  ASSERT_TRUE(wire::screen(*packet));

  auto opened = wire::open(*packet, cipher, enc_key.view(), mac_ptr);
  ASSERT_TRUE(opened) << error_name(opened.error());
  EXPECT_EQ(opened->message.view(), "10.0.0.5,tcp/22");
  EXPECT_EQ(opened->username.view(), "alice");
  EXPECT_EQ(opened->timestamp, 1700000000);
  EXPECT_EQ(opened->version.view(), "3.0.0");

  // A wrong encryption key (the HMAC key being right) is caught by the 16-digit check.
  const secret_bytes other_key{std::string_view{"another key"}};
  auto wrong = wire::open(*packet, cipher, other_key.view(), mac_ptr);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(),
            errc::decrypt_failed);  // the HMAC key is right: the 16-digit check catches it

  // Any single flipped character is refused.
  for (std::size_t i = 0; i < packet->size(); i += 7) {
    std::string bad = *packet;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(wire::open(bad, cipher, enc_key.view(), mac_ptr)) << "position " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    wire, every_mode_and_mac,
    ::testing::Combine(::testing::Values("cbc", "ctr", "cfb", "ofb", "ecb", "legacy"),
                       ::testing::Values(std::nullopt, hash_id::md5, hash_id::sha1, hash_id::sha256,
                                         hash_id::sha384, hash_id::sha512, hash_id::sha3_256,
                                         hash_id::sha3_512)),
    [](const auto& info) {
      const auto h = std::get<1>(info.param);
      return std::string{std::get<0>(info.param)} + "_" +
             (h ? std::string{to_string(*h)} : "no_hmac");
    });

TEST(wire, every_message_type_round_trips) {
  const auto cipher = *cipher::any_rijndael::make("cbc");
  const auto mac = *mac::any_hmac::make("sha256", hmac_key.view());
  for (int t = 0; t <= 6; ++t) {
    spa_message m = access_request();
    m.type = static_cast<message_type>(t);
    if (m.type == message_type::command) m.message.assign("10.0.0.5,echo hello");
    if (has_nat(m.type)) m.nat_access.assign("192.168.1.10,2222");
    if (has_client_timeout(m.type)) m.client_timeout = 45;
    auto packet = wire::seal(m, cipher, enc_key.view(), &mac, salt);
    ASSERT_TRUE(packet) << t;
    auto out = wire::open(*packet, cipher, enc_key.view(), &mac);
    ASSERT_TRUE(out) << t << " " << error_name(out.error());
    EXPECT_EQ(out->type, m.type);
    EXPECT_EQ(out->message.view(), m.message.view());
    EXPECT_EQ(out->nat_access.view(), m.nat_access.view());
    EXPECT_EQ(out->client_timeout, m.client_timeout);
  }
}

TEST(wire, every_inner_digest_round_trips_and_is_told_apart_by_trial) {
  const auto cipher = *cipher::any_rijndael::make("cbc");
  const auto mac = *mac::any_hmac::make("sha256", hmac_key.view());
  for (hash_id h : all_hash_ids) {
    spa_message m = access_request();
    m.digest_type = h;
    auto packet = wire::seal(m, cipher, enc_key.view(), &mac, salt);
    ASSERT_TRUE(packet);
    auto out = wire::open(*packet, cipher, enc_key.view(), &mac);
    ASSERT_TRUE(out) << to_string(h);
    EXPECT_EQ(out->digest_type, h);
  }
}

TEST(wire, seal_refuses_what_fwknopd_would_refuse) {
  const auto cipher = *cipher::any_rijndael::make("cbc");
  const auto mac = *mac::any_hmac::make("sha512", hmac_key.view());
  spa_message m = access_request();
  m.message.assign(
      "10.0.0.5,tcp/22,tcp/23,tcp/24,tcp/25,tcp/26,tcp/27,tcp/28,tcp/29,tcp/30,tcp/31,tcp/32,tcp/"
      "33,tcp/34,tcp/35,tcp/36");
  auto too_long = wire::seal(m, cipher, enc_key.view(), &mac, salt);
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error(), errc::request_too_long);

  for (auto bad : {"10.0.0.5,icmp/0", "10.0.0.5", "10.0.0.5,tcp/0", "host,tcp/22"}) {
    m = access_request();
    m.message.assign(bad);
    auto r = wire::seal(m, cipher, enc_key.view(), &mac, salt);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), errc::invalid_request);
  }
  m = access_request();
  m.username.assign("al:ce");
  EXPECT_FALSE(wire::seal(m, cipher, enc_key.view(), &mac, salt));

  const secret_bytes long_key{std::string_view{"0123456789abcdef0123456789abcdefX"}};  // 33 bytes
  m = access_request();
  auto r = wire::seal(m, cipher, long_key.view(), &mac, salt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::bad_key);
}

TEST(wire, long_packets_are_tried_only_when_asked) {
  // 12 ports: over 400 characters on the wire, as in the rijndael_wire_len_ge_400 vectors.
  const auto v = test::vectors_of(KNOCK_TEST_DATA "/fwknop-2.6.10-vectors.json", {"server_policy"});
  const auto it = std::find_if(v.begin(), v.end(), [](const auto& x) {
    return x.at("name") == "rijndael_wire_len_ge_400_cmd_exec_stanza";
  });
  ASSERT_NE(it, v.end());
  const test::vector_keys keys{*it};
  const std::string packet = it->at("packets")[0];
  ASSERT_GE(packet.size(), 400u);
  auto refused = wire::open(packet, keys.cipher, keys.key.view(), keys.mac_ptr());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::too_long_for_rijndael);
  auto tried =
      wire::open(packet, keys.cipher, keys.key.view(), keys.mac_ptr(), wire::long_packets::try_aes);
  ASSERT_TRUE(tried) << error_name(tried.error());
  EXPECT_TRUE(tried->message.view().ends_with(",tcp/10011"));
}

TEST(wire, screen_refuses_the_prefixes_fwknop_strips) {
  // Rijndael's always; GnuPG's `hQ` only above fwknop's 400-character threshold, as fwknopd.
  EXPECT_EQ(cipher::rijndael<cbc>::wire_prefix, wire::rijndael_prefix);
  EXPECT_EQ(cipher::any_rijndael::wire_prefix, wire::rijndael_prefix);
  const std::string body(150, 'A');
  EXPECT_EQ(wire::screen("U2FsdGVkX1" + body).error(), errc::prefix_not_stripped);
  EXPECT_TRUE(wire::screen("hQ" + body));
  EXPECT_TRUE(wire::screen("hQ" + std::string(398, 'A'))) << "400 characters: not above";
  EXPECT_EQ(wire::screen("hQ" + std::string(399, 'A')).error(), errc::prefix_not_stripped);
  EXPECT_TRUE(wire::screen("hR" + std::string(399, 'A')));
}

TEST(wire, the_cipher_decides_which_lengths_are_its_packets) {
  using rijndael = cipher::rijndael<cbc>;
  EXPECT_TRUE(rijndael::takes(399, long_packets::refuse));
  EXPECT_EQ(rijndael::takes(400, long_packets::refuse).error(), errc::too_long_for_rijndael);
  EXPECT_TRUE(rijndael::takes(400, long_packets::try_aes));
  EXPECT_TRUE(rijndael::looks_decrypted("1234567890123456:rest"));
  EXPECT_FALSE(rijndael::looks_decrypted("123456789012345x:rest"));
  EXPECT_FALSE(rijndael::looks_decrypted("1234567890123456;rest"));
  EXPECT_FALSE(rijndael::looks_decrypted("1234567890123456"));
}
}  // namespace

// The replay key is stored (replay.log, Redis shared by gateways): it may not change from one
// version to the next. Pinned, and spelled out: each field length-prefixed (2 bytes, big-endian),
// each number 8 bytes big-endian, in this order.
TEST(wire, message_key_is_sha256_of_the_fields_and_does_not_change) {
  spa_message m = access_request();
  m.nat_access.assign("192.168.1.2,22");
  m.client_timeout = 30;
  std::string fields;
  const auto field = [&](std::string_view s) {
    fields += static_cast<char>(s.size() >> 8), fields += static_cast<char>(s.size() & 0xff);
    fields += s;
  };
  const auto number = [&](std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) fields += static_cast<char>((v >> shift) & 0xff);
  };
  field("1234567890123456"), field("alice"), number(1700000000), field(""), number(2);
  field("10.0.0.5,tcp/22"), field("192.168.1.2,22"), number(0), field(""), number(30);
  m.type = message_type::nat_access;
  std::array<byte, 32> expected;
  hash(hash_id::sha256, as_bytes(std::string_view{fields}), expected.data());
  const auto key = wire::message_key(m);
  EXPECT_EQ(key, expected);
  std::string hex;
  for (byte b : key) hex += "0123456789abcdef"[b >> 4], hex += "0123456789abcdef"[b & 15];
  EXPECT_EQ(hex, "1f1ad67108289719fa57e57bfe1b70487a5375f578c2baefa69675d9588909d3");
}
