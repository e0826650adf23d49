// SPDX-License-Identifier: MIT
// knock::client: packets that decode with wire::open for every mode × HMAC, the 400-character
// refusal (spec Q1) and the 140-character floor, key checks, and the random field.
#include <knock/client.hpp>

#include "support/vectors.hpp"

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace {
using namespace knock;

const secret_bytes& enc_key() {
  static const secret_bytes k{std::string_view{"0123456789abcdef0123456789abcdef"}};
  return k;
}
const secret_bytes& hmac_key() {
  static const secret_bytes k{std::string_view{"an HMAC key that is not the encryption key"}};
  return k;
}

request access_request() {
  request r;
  r.allow_ip = "10.0.0.5";
  r.access = "tcp/22";
  r.username = "alice";
  r.timestamp = 1700000000;
  return r;
}

default_client make_client(std::string_view mode, std::optional<hash_id> hmac) {
  auto cipher = cipher::any_rijndael::make(mode);
  EXPECT_TRUE(cipher);
  auto c =
      hmac ? default_client::make(*cipher, enc_key().clone(), to_string(*hmac), hmac_key().view())
           : default_client::make(*cipher, enc_key().clone());
  EXPECT_TRUE(c);
  return *std::move(c);
}

class every_mode_and_mac
    : public ::testing::TestWithParam<std::tuple<std::string_view, std::optional<hash_id>>> {};

TEST_P(every_mode_and_mac, makes_packets_its_keys_open_for_every_message_type) {
  const auto [mode, hmac] = GetParam();
  default_client c = make_client(mode, hmac);
  std::vector<request> requests(7, access_request());
  requests[1].client_timeout = 45;
  requests[2].nat = nat_mode::forward;
  requests[2].nat_access = "192.168.1.10,22";
  requests[3] = requests[2];
  requests[3].client_timeout = 60;
  requests[4].nat = nat_mode::local;
  requests[4].nat_access = "127.0.0.1,22";
  requests[5] = requests[4];
  requests[5].client_timeout = 30;
  requests[6].command = "echo hello";
  for (const request& r : requests) {
    auto packet = c.make_packet(r);
    ASSERT_TRUE(packet) << error_name(packet.error());
    EXPECT_TRUE(wire::screen(*packet));
    EXPECT_LT(packet->size(), limits::min_gpg_packet);

    // Decoded independently of the client, with a stanza's view of the keys.
    std::optional<mac::any_hmac::keyed> server_mac;
    if (hmac) server_mac.emplace(*mac::any_hmac::make(to_string(*hmac), hmac_key().view()));
    auto m = wire::open(*packet, *cipher::any_rijndael::make(mode), enc_key().view(),
                        server_mac ? &*server_mac : nullptr);
    ASSERT_TRUE(m) << error_name(m.error());
    EXPECT_EQ(m->type, type_of(r));
    EXPECT_EQ(m->username.view(), "alice");
    EXPECT_EQ(m->timestamp, 1700000000);
    EXPECT_EQ(m->nat_access.view(), has_nat(m->type) ? r.nat_access : "");
    EXPECT_EQ(m->client_timeout, has_client_timeout(m->type) ? r.client_timeout : 0u);
    EXPECT_TRUE(wire::detail::all_digits(m->rand_value.view()));
    EXPECT_TRUE(c.open(*packet));
  }
}

INSTANTIATE_TEST_SUITE_P(client, every_mode_and_mac,
                         ::testing::Combine(::testing::Values("cbc", "ctr", "cfb", "ofb", "ecb"),
                                            ::testing::Values(std::nullopt,
                                                              std::optional{hash_id::md5},
                                                              std::optional{hash_id::sha1},
                                                              std::optional{hash_id::sha256},
                                                              std::optional{hash_id::sha384},
                                                              std::optional{hash_id::sha512},
                                                              std::optional{hash_id::sha3_256},
                                                              std::optional{hash_id::sha3_512})));

TEST(client, salt_and_random_field_change_every_packet) {
  default_client c = make_client("cbc", hash_id::sha256);
  std::map<std::string, int> rands;
  std::set<std::string> packets;
  for (int i = 0; i < 50; ++i) {
    auto p = c.make_packet(access_request());
    ASSERT_TRUE(p);
    packets.insert(*p);
    rands[std::string{c.open(*p)->rand_value.view()}]++;
  }
  EXPECT_EQ(packets.size(), 50u);
  EXPECT_EQ(rands.size(), 50u);
}

TEST(client, refuses_a_packet_fwknopd_would_take_for_gpg) {
  // The longest command that still fits depends on the HMAC (spec Q1's ceilings): find it, and
  // check one more byte is refused with request_too_long, never sent as a 400+ character packet.
  for (auto hmac : {std::optional<hash_id>{}, std::optional{hash_id::md5},
                    std::optional{hash_id::sha256}, std::optional{hash_id::sha512}}) {
    default_client c = make_client("cbc", hmac);
    request r = access_request();
    std::size_t longest = 0;
    for (std::size_t n = 1; n <= 192; ++n) {
      r.command = std::string(n, 'x');
      auto p = c.make_packet(r);
      if (p) {
        EXPECT_LT(p->size(), 400u);
        longest = n;
      } else {
        EXPECT_EQ(to_errc(p.error()), errc::request_too_long) << n;
      }
    }
    EXPECT_GT(longest, 20u);
    r.command = std::string(longest + 1, 'x');
    auto p = c.make_packet(r);
    ASSERT_FALSE(p);
    EXPECT_EQ(to_errc(p.error()), errc::request_too_long);
  }
  // Many ports are refused the same way.
  default_client c = make_client("cbc", hash_id::sha512);
  request r = access_request();
  r.access = "tcp/10001";
  for (int i = 2; i < 16; ++i) r.access += ",udp/" + std::to_string(10000 + i);
  auto p = c.make_packet(r);
  ASSERT_FALSE(p);
  EXPECT_EQ(to_errc(p.error()), errc::request_too_long);
}

TEST(client, refuses_a_packet_shorter_than_fwknopd_reads) {
  // Short command, one-letter user, MD5 inner digest, no HMAC: 118 characters.
  default_client c = make_client("cbc", std::nullopt);
  request r = access_request();
  r.username = "a";
  r.command = "x";
  r.allow_ip = "1.2.3.4";
  r.digest_type = hash_id::md5;
  auto p = c.make_packet(r);
  ASSERT_FALSE(p);
  EXPECT_EQ(to_errc(p.error()), errc::packet_too_short);
  r.digest_type = hash_id::sha256;
  EXPECT_TRUE(c.make_packet(r));
}

TEST(client, refuses_bad_keys) {
  const auto cbc = *cipher::any_rijndael::make("cbc");
  auto too_long = default_client::make(cbc, secret_bytes{std::string_view{std::string(33, 'k')}});
  ASSERT_FALSE(too_long);
  EXPECT_EQ(to_errc(too_long.error()), errc::bad_key);
  EXPECT_TRUE(default_client::make(cbc, secret_bytes{std::string_view{std::string(32, 'k')}}));
  auto same = default_client::make(cbc, enc_key().clone(), "sha256", enc_key().view());
  ASSERT_FALSE(same);
  EXPECT_EQ(to_errc(same.error()), errc::config_invalid);
  EXPECT_FALSE(default_client::make(cbc, enc_key().clone(), "sha999", hmac_key().view()));
}

TEST(client, a_fixed_policy_pair_works_too) {
  auto c = client<cipher::rijndael<ctr>, mac::hmac<sha384>>::make({}, enc_key().clone(), "sha384",
                                                                  hmac_key().view());
  ASSERT_TRUE(c);
  auto p = c->make_packet(access_request());
  ASSERT_TRUE(p);
  EXPECT_TRUE(c->open(*p));
  EXPECT_FALSE((client<cipher::rijndael<ctr>, mac::hmac<sha384>>::make(
      {}, enc_key().clone(), "sha256", hmac_key().view())));
}

TEST(random_digits, rejects_bytes_that_would_bias_the_digits) {
  // A source of 250..255 then 0..249 repeated: the first six bytes of every block are dropped.
  int calls = 0;
  const auto fill = [&](bytes_span out) -> result<void> {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<byte>(i < 6 ? 250 + i : i);
    ++calls;
    return {};
  };
  std::array<char, 40> digits{};
  ASSERT_TRUE(random_digits(fill, digits));
  EXPECT_EQ(calls, 2);  // 26 usable bytes per 32-byte block
  EXPECT_EQ(std::string(digits.data(), 10), "6789012345");
  const auto failing = [](bytes_span) -> result<void> { return fail(errc::crypto_failed); };
  EXPECT_FALSE(random_digits(failing, digits));
}

TEST(random_digits, from_the_os_are_roughly_uniform) {
  auto rng = os_random::make();
  ASSERT_TRUE(rng);
  std::array<char, 20000> digits{};
  ASSERT_TRUE(random_digits([&](bytes_span out) { return rng->fill(out); }, digits));
  std::array<int, 10> count{};
  for (char d : digits) {
    ASSERT_TRUE(d >= '0' && d <= '9');
    ++count[static_cast<std::size_t>(d - '0')];
  }
  for (int n : count) EXPECT_NEAR(n, 2000, 250);  // > 5 sigma
}

}  // namespace
