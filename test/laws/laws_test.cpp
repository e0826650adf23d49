// SPDX-License-Identifier: MIT
// The laws of each concept, run on every model knock ships and on the test archetypes.
#include <knock/cipher/any_of.hpp>
#include <knock/firewall/recording.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/server.hpp>

#include "support/archetypes.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {
using namespace knock;

// ---- Cipher: decrypt(encrypt(x)) == x for every length; framing; names round-trip through make.
template <class C>
struct cipher_laws : ::testing::Test {};
using ciphers =
    ::testing::Types<cipher::rijndael<cbc>, cipher::rijndael<ctr>, cipher::rijndael<cfb>,
                     cipher::rijndael<ofb>, cipher::rijndael<ecb>, cipher::rijndael<legacy>,
                     cipher::any_rijndael, test::cipher_archetype>;
TYPED_TEST_SUITE(cipher_laws, ciphers);

TYPED_TEST(cipher_laws, decrypt_inverts_encrypt_for_every_length) {
  for (std::string_view name : TypeParam::names) {
    auto c = TypeParam::make(name);
    ASSERT_TRUE(c) << name;
    EXPECT_EQ(c->name(), name);
    const secret_bytes key{std::string_view{"a passphrase"}};
    const std::array<byte, 8> salt{1, 2, 3, 4, 5, 6, 7, 8};
    std::string text;
    for (std::size_t n = 0; n <= 70; ++n, text.push_back(static_cast<char>('a' + n % 26))) {
      std::array<byte, 128> blob, back;
      auto sealed = c->encrypt(key.view(), salt, as_bytes(text), blob);
      ASSERT_TRUE(sealed) << n;
      EXPECT_EQ(*sealed, max_blob_size(n));
      EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(blob.data()), 8), "Salted__");
      auto opened = c->decrypt(key.view(), {blob.data(), *sealed}, back);
      ASSERT_TRUE(opened) << n;
      EXPECT_EQ(as_chars({back.data(), *opened}), text) << name << " " << n;
    }
  }
  EXPECT_FALSE(TypeParam::make("no-such-mode"));
}

TYPED_TEST(cipher_laws, refuses_blobs_that_are_not_whole_blocks) {
  auto c = TypeParam::make(TypeParam::names[0]);
  std::array<byte, 64> out;
  const std::array<byte, 20> ragged{'S', 'a', 'l', 't', 'e', 'd', '_', '_'};
  EXPECT_FALSE(c->decrypt(bytes_view{}, ragged, out));
}

// ---- Mac: sign/verify agree; any change to message or tag fails; names round-trip.
template <class M>
struct mac_laws : ::testing::Test {};
using macs = ::testing::Types<mac::hmac<md5>, mac::hmac<sha1>, mac::hmac<sha256>, mac::hmac<sha384>,
                              mac::hmac<sha512>, mac::hmac<sha3_256>, mac::hmac<sha3_512>,
                              mac::any_hmac, test::mac_archetype>;
TYPED_TEST_SUITE(mac_laws, macs);

TYPED_TEST(mac_laws, verify_accepts_exactly_the_signed_message) {
  for (std::string_view name : TypeParam::names) {
    const secret_bytes key{std::string_view{"hmac key"}};
    auto k = TypeParam::make(name, key.view());
    ASSERT_TRUE(k) << name;
    EXPECT_EQ(k->name(), name);
    const std::array<std::string_view, 2> msg{"U2FsdGVkX1", "body"};
    std::array<byte, 64> tag;
    k->sign(msg, tag);
    std::string b64(codec::base64::encoded_size(k->tag_size()), '\0');
    codec::base64::encode({tag.data(), k->tag_size()}, b64.data());
    EXPECT_TRUE(k->verify(msg, b64));
    const std::array<std::string_view, 1> joined{"U2FsdGVkX1body"};
    EXPECT_TRUE(k->verify(joined, b64)) << "parts are hashed as one message";
    const std::array<std::string_view, 2> other{"U2FsdGVkX1", "bodY"};
    EXPECT_FALSE(k->verify(other, b64));
    std::string bad = b64;
    bad[0] = bad[0] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(k->verify(msg, bad));
    EXPECT_FALSE(k->verify(msg, b64.substr(1)));
  }
  EXPECT_FALSE(TypeParam::make("no-such-mac", bytes_view{}));
}

// ---- Firewall and Observer through a server built only from archetypes: composition works with
// the minimal models, and the server calls each as documented.
TEST(laws, a_server_of_archetypes_works) {
  using archetype_server =
      server<test::cipher_archetype, test::mac_archetype, test::replay_archetype,
             test::firewall_archetype, test::observer_archetype>;
  access::stanza<test::cipher_archetype, test::mac_archetype> s;
  s.key = secret_bytes{std::string_view{"k"}};
  s.mac = *test::mac_archetype::make("sum", s.key.view());
  archetype_server::rules_type r;
  r.stanzas.push_back(std::move(s));
  archetype_server srv{std::move(r)};

  spa_message m;
  m.rand_value.assign("1234567890123456");
  m.username.assign("u");
  m.timestamp = 1000;
  m.message.assign("10.0.0.5,tcp/22");
  const std::array<byte, 8> salt{};
  const secret_bytes key{std::string_view{"k"}};
  const auto keyed = *test::mac_archetype::make("sum", key.view());
  auto packet = wire::seal(m, test::cipher_archetype{}, key.view(), &keyed, salt);
  ASSERT_TRUE(packet);
  const datagram d{*packet, *ip_address::parse("10.0.0.5"), *ip_address::parse("0.0.0.0")};
  EXPECT_TRUE(srv.handle(d, 1000).accepted);
  EXPECT_EQ(srv.handle(d, 1000).reason, errc::replayed);
  EXPECT_EQ(srv.firewall().opened, 1);
  EXPECT_EQ(srv.observer().events, 2);
  EXPECT_EQ(srv.observer().accepted, 1);
  EXPECT_EQ(srv.replay_store().size(), 2u);
}

TEST(laws, recording_firewall_expires_on_the_given_clock) {
  firewall::recording fw;
  grant g;
  g.expires = 100;
  ASSERT_TRUE(fw.open(g));
  ASSERT_TRUE(fw.expire(99));
  EXPECT_EQ(fw.active().size(), 1u);
  ASSERT_TRUE(fw.expire(100));
  EXPECT_TRUE(fw.active().empty());
  EXPECT_EQ(fw.opened(), 1u);
}
}  // namespace
