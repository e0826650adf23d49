// SPDX-License-Identifier: MIT
#include <knock/codec/framing.hpp>

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace {
using namespace knock;

TEST(framing, split_tag_cuts_the_base64_tag_off_the_end) {
  // A 32-byte tag is 43 base64 characters.
  const std::string wire = std::string(50, 'A') + std::string(43, 'B');
  const auto parts = codec::split_tag(wire, 32);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->body, std::string(50, 'A'));
  EXPECT_EQ(parts->tag, std::string(43, 'B'));
  EXPECT_FALSE(codec::split_tag(std::string(43, 'B'), 32)) << "nothing left for a body";
  const auto untagged = codec::split_tag("abc", 0);  // a Mac without a tag
  ASSERT_TRUE(untagged);
  EXPECT_EQ(untagged->body, "abc");
  EXPECT_TRUE(untagged->tag.empty());
}

TEST(framing, a_stripped_prefix_is_restored_before_decoding) {
  const std::string_view blob = "Salted__12345678 and some ciphertext";
  const std::string body = codec::encode_stripped("U2FsdGVkX1", as_bytes(blob));
  EXPECT_FALSE(body.starts_with("U2FsdGVkX1"));
  std::array<byte, 64> out;
  const auto n = codec::decode_prefixed<128>("U2FsdGVkX1", body, out.data());
  ASSERT_TRUE(n);
  EXPECT_EQ(as_chars({out.data(), *n}), blob);
  // Without the prefix the characters fall on other bit positions: not the blob.
  const auto unprefixed = codec::decode_prefixed<128>("", body, out.data());
  EXPECT_TRUE(!unprefixed || as_chars({out.data(), *unprefixed}) != blob);
  EXPECT_EQ(codec::decode_prefixed<16>("U2FsdGVkX1", body, out.data()).error(),
            errc::packet_too_long);
}

TEST(framing, append_tag_adds_unpadded_base64) {
  std::string wire = "body";
  const std::array<byte, 2> tag{0xFF, 0x00};
  codec::append_tag(wire, tag);
  EXPECT_EQ(wire, "body/wA");
}

}  // namespace
