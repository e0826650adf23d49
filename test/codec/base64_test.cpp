// SPDX-License-Identifier: MIT
#include <knock/codec/base64.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {
using namespace knock;

std::string encode(std::string_view in) {
  std::string out(codec::base64::encoded_size(in.size()), '\0');
  out.resize(codec::base64::encode(as_bytes(in), out.data()));
  return out;
}
result<std::string> decode(std::string_view in) {
  std::string out(codec::base64::decoded_size(in.size()) + 1, '\0');
  auto n = codec::base64::decode(in, reinterpret_cast<byte*>(out.data()));
  if (!n) return fail(n.error());
  out.resize(*n);
  return out;
}

TEST(base64, encodes_rfc4648_vectors_without_padding) {
  EXPECT_EQ(encode(""), "");
  EXPECT_EQ(encode("f"), "Zg");
  EXPECT_EQ(encode("fo"), "Zm8");
  EXPECT_EQ(encode("foo"), "Zm9v");
  EXPECT_EQ(encode("foob"), "Zm9vYg");
  EXPECT_EQ(encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(encode("Salted__"), "U2FsdGVkX18");
}

TEST(base64, decodes_what_it_encodes_for_every_length_and_byte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); ++n) {
    const std::string in = all.substr(256 - n);
    auto out = decode(encode(in));
    ASSERT_TRUE(out) << n;
    EXPECT_EQ(*out, in);
  }
}

TEST(base64, refuses_characters_outside_the_alphabet_and_padding) {
  for (const char* bad :
       {"Zm9v-mFy", "Zm9v_mFy", "Zm9vYg==", "Zm9vYg=", "Zm9v\nYmFy", "Zm 9", "Zg\x80z"})
    EXPECT_EQ(decode(bad).error(), errc::not_base64) << bad;
  EXPECT_FALSE(codec::base64::is_alphabet("abc="));
  EXPECT_FALSE(codec::base64::is_alphabet(std::string_view{"ab\0c", 4}));
  EXPECT_TRUE(codec::base64::is_alphabet("azAZ09+/"));
}

// Every byte in every place of a whole group and of two- and three-character tails: one outside
// the alphabet is refused wherever it stands; one inside decodes, and in a tail's last place only
// when it leaves no stray low bits (the decoder's four tables, one per place, all checked).
TEST(base64, every_byte_in_every_place) {
  const std::string_view alphabet = codec::base64::alphabet;
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    const std::size_t value = alphabet.find(ch);
    const bool inside = value != std::string_view::npos;
    for (const std::string base : {"QUJD", "QUJDRA", "QUJDREU"}) {  // "ABC", "ABCD", "ABCDE"
      for (std::size_t place = 0; place < base.size(); ++place) {
        std::string s = base;
        s[place] = ch;
        const bool last_of_tail = base.size() % 4 != 0 && place == base.size() - 1;
        const std::size_t stray = base.size() % 4 == 2 ? 15 : 3;  // bits left over in the tail
        const bool canonical = !last_of_tail || (inside && (value & stray) == 0);
        EXPECT_EQ(static_cast<bool>(decode(s)), inside && canonical)
            << "byte " << c << " in place " << place << " of " << base;
      }
    }
  }
  EXPECT_EQ(*decode("QUJD"), "ABC");
  EXPECT_EQ(*decode("QUJDREU"), "ABCDE");
}

TEST(base64, refuses_impossible_lengths_and_non_canonical_tails) {
  EXPECT_EQ(decode("Zm9vY").error(), errc::not_base64);  // 4n+1 characters
  EXPECT_EQ(decode("Zh").error(), errc::not_base64);     // "Zg" with a stray low bit
  EXPECT_EQ(decode("Zm9").error(), errc::not_base64);    // "Zm8" with a stray low bit
  EXPECT_TRUE(decode("Zg"));
}

TEST(base64, padded_fields_decode_like_unpadded_ones) {
  std::string out(8, '\0');
  auto* p = reinterpret_cast<byte*>(out.data());
  EXPECT_EQ(*codec::base64::decode_padded("YWxpY2U=", p), 5u);
  EXPECT_EQ(out.substr(0, 5), "alice");
  EXPECT_EQ(*codec::base64::decode_padded("Zg==", p), 1u);
  EXPECT_FALSE(codec::base64::decode_padded("Zg=", p));  // padding where RFC 4648 does not put it
  EXPECT_FALSE(codec::base64::decode_padded("Z=g=", p));
}
}  // namespace
