// SPDX-License-Identifier: MIT
// knock::mac::hmac<Hash> against Crypto++'s own HMAC<H>, and knock::crypto::block_hash<Hash> and
// knock::hash against Crypto++'s hash objects, for every hash fwknop defines: messages of every
// length 0..300 (in one piece and split in parts at every block seam), keys of every length 0..2
// blocks + 1 (longer than a block: hashed first); then the tags of the fwknop 2.6.10 vectors.
#include <knock/crypto/block_hash.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/mac/hmac.hpp>

#include "support/vectors.hpp"

#include <cryptopp/hmac.h>

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {
using namespace knock;

std::vector<byte> random_bytes(std::mt19937& rng, std::size_t n) {
  std::vector<byte> out(n);
  for (auto& b : out) b = static_cast<byte>(rng());
  return out;
}

std::string_view chars(const std::vector<byte>& b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

template <class Hash>
std::vector<byte> reference_hmac(const std::vector<byte>& key, std::string_view msg) {
  CryptoPP::HMAC<typename Hash::impl> h{key.data(), key.size()};
  std::vector<byte> tag(h.DigestSize());
  h.CalculateDigest(tag.data(), reinterpret_cast<const byte*>(msg.data()), msg.size());
  return tag;
}

template <class Hash>
std::vector<byte> knock_hmac(const std::vector<byte>& key, text_parts msg) {
  const typename mac::hmac<Hash>::keyed k{secret_view{key}};
  std::vector<byte> tag(Hash::digest_size);
  k.sign(msg, tag);
  return tag;
}

template <class Hash>
struct hmac_test : ::testing::Test {};
using hashes = ::testing::Types<md5, sha1, sha256, sha384, sha512, sha3_256, sha3_512>;
TYPED_TEST_SUITE(hmac_test, hashes);

TYPED_TEST(hmac_test, matches_cryptopp_for_every_message_length) {
  std::mt19937 rng{1};
  for (const std::size_t key_size : {0, 1, 32, 64, 128, 129, 200}) {
    const auto key = random_bytes(rng, key_size);
    for (std::size_t n = 0; n <= 300; ++n) {
      const auto msg = random_bytes(rng, n);
      const std::array<std::string_view, 1> whole{chars(msg)};
      ASSERT_EQ(knock_hmac<TypeParam>(key, whole), reference_hmac<TypeParam>(key, chars(msg)))
          << "key " << key_size << " B, message " << n << " B";
    }
  }
}

TYPED_TEST(hmac_test, matches_cryptopp_for_every_key_length) {
  std::mt19937 rng{2};
  const auto msg = random_bytes(rng, 171);  // a default packet's signed text
  const std::array<std::string_view, 1> whole{chars(msg)};
  for (std::size_t k = 0; k <= 2 * TypeParam::block_size + 1; ++k) {
    const auto key = random_bytes(rng, k);
    ASSERT_EQ(knock_hmac<TypeParam>(key, whole), reference_hmac<TypeParam>(key, chars(msg)))
        << "key " << k << " B";
  }
}

TYPED_TEST(hmac_test, parts_hash_as_their_concatenation) {
  std::mt19937 rng{3};
  const auto key = random_bytes(rng, 64);
  for (std::size_t n : {0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129, 171, 256, 300}) {
    const auto msg = random_bytes(rng, n);
    const std::string_view all = chars(msg);
    const auto expected = reference_hmac<TypeParam>(key, all);
    for (std::size_t a = 0; a <= n; ++a) {
      const std::size_t b = a + (n - a) / 2;  // three parts: [0,a) [a,b) [b,n)
      const std::array<std::string_view, 3> parts{all.substr(0, a), all.substr(a, b - a),
                                                  all.substr(b)};
      ASSERT_EQ(knock_hmac<TypeParam>(key, parts), expected)
          << n << " B split at " << a << ", " << b;
    }
  }
}

TYPED_TEST(hmac_test, verify_takes_only_the_canonical_tag) {
  std::mt19937 rng{4};
  const auto key = random_bytes(rng, 64);
  const std::string msg = "U2FsdGVkX1" + std::string(161, 'A');
  const std::array<std::string_view, 1> whole{msg};
  const typename mac::hmac<TypeParam>::keyed k{secret_view{key}};
  std::vector<byte> tag(TypeParam::digest_size);
  k.sign(whole, tag);
  std::string b64(codec::base64::encoded_size(tag.size()), '\0');
  codec::base64::encode(tag, b64.data());
  EXPECT_TRUE(k.verify(whole, b64));
  for (std::size_t i = 0; i < b64.size(); ++i) {
    std::string bad = b64;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(k.verify(whole, bad)) << i;
  }
  EXPECT_FALSE(k.verify(whole, std::string_view{b64}.substr(1)));
  EXPECT_FALSE(k.verify(whole, b64 + "A"));
}

// block_hash alone: the digest of every length, against Crypto++'s object.
template <class Hash>
struct block_hash_test : ::testing::Test {};
using block_hashes = ::testing::Types<md5, sha1, sha256, sha384, sha512>;
TYPED_TEST_SUITE(block_hash_test, block_hashes);

TYPED_TEST(block_hash_test, digest_matches_cryptopp_for_every_length) {
  static_assert(crypto::block_hash_policy<TypeParam>);
  std::mt19937 rng{5};
  for (std::size_t n = 0; n <= 300; ++n) {
    const auto msg = random_bytes(rng, n);
    std::vector<byte> expected(TypeParam::digest_size), got(TypeParam::digest_size);
    typename TypeParam::impl{}.CalculateDigest(expected.data(), msg.data(), msg.size());
    typename crypto::block_hash<TypeParam>::stream s;
    s.update(msg.data(), msg.size());
    s.final(got.data());
    ASSERT_EQ(got, expected) << n << " B";
  }
}

static_assert(!crypto::block_hash_policy<sha3_256> && !crypto::block_hash_policy<sha3_512>);

// knock::hash (the inner digest, the replay keys), which takes the block_hash path for all but
// SHA-3.
TYPED_TEST(hmac_test, knock_hash_matches_cryptopp_for_every_length) {
  std::mt19937 rng{6};
  for (std::size_t n = 0; n <= 300; ++n) {
    const auto msg = random_bytes(rng, n);
    std::vector<byte> expected(TypeParam::digest_size), got(64);
    typename TypeParam::impl{}.CalculateDigest(expected.data(), msg.data(), msg.size());
    ASSERT_EQ(knock::hash(TypeParam::id, msg, got.data()), TypeParam::digest_size);
    got.resize(TypeParam::digest_size);
    ASSERT_EQ(got, expected) << n << " B";
  }
}

// The fwknop 2.6.10 vectors: the tag of each vector's HMAC input, as fwknop computed it.
TEST(hmac_vectors, fwknop_tags) {
  std::size_t checked = 0;
  const auto file = test::load_json(KNOCK_TEST_DATA "/fwknop-2.6.10-vectors.json");
  for (const auto& v : file.at("vectors")) {
    if (v.at("hmac_key_b64").is_null() || !v.contains("intermediate")) continue;
    const auto& in = v.at("intermediate");
    if (!in.contains("hmac_input") || !in.contains("hmac_tag_b64")) continue;
    const auto key = test::key_from_b64(v.at("hmac_key_b64").get<std::string>());
    const auto type = static_cast<hash_id>(v.at("hmac_type").get<int>());
    const auto mac = mac::any_hmac::make(to_string(type), key.view());
    ASSERT_TRUE(mac) << v.at("name");
    const std::string input = in.at("hmac_input").get<std::string>();
    const std::string expected = in.at("hmac_tag_b64").get<std::string>();
    const std::array<std::string_view, 1> whole{input};
    EXPECT_TRUE(mac->verify(whole, expected)) << v.at("name");
    std::vector<byte> tag(mac->tag_size());
    mac->sign(whole, tag);
    std::string b64(codec::base64::encoded_size(tag.size()), '\0');
    codec::base64::encode(tag, b64.data());
    EXPECT_EQ(b64, expected) << v.at("name");
    ++checked;
  }
  EXPECT_EQ(checked, 21u);  // the vectors that record their HMAC input (sha256, sha512, md5, sha1,
                            // sha384, sha3_256)
}

}  // namespace
