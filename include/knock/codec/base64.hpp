// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::codec::base64`: unpadded standard base64 (RFC 4648 alphabet, no `=`), as fwknop writes
/// it everywhere (the wire, the message fields, keys in access.conf, digest caches). The decoder is
/// table-driven and validates the alphabet in the same pass; it is strict: a length of 4n+1, a
/// character outside the alphabet or non-zero bits left over in the last character are errors, so
/// every byte string has exactly one accepted encoding.

#include <knock/core/bytes.hpp>
#include <knock/core/error.hpp>
#include <knock/core/result.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace knock::codec {

namespace detail {
inline constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
inline constexpr std::uint8_t base64_invalid = 0xFF;
inline constexpr auto base64_decode_table = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(base64_invalid);
  for (std::size_t i = 0; i < base64_alphabet.size(); ++i)
    t[static_cast<unsigned char>(base64_alphabet[i])] = static_cast<std::uint8_t>(i);
  return t;
}();
// The decoder's tables, one per place in a group of four characters: a character's six bits
// already where they go in the group's 24 (18, 12, 6 or 0 bits up), or, for a character outside
// the alphabet, a bit no valid group has (bit 31). A group is four loads and three ORs.
inline constexpr std::uint32_t base64_stranger = 0x8000'0000u;
inline constexpr auto base64_place_tables = [] {
  std::array<std::array<std::uint32_t, 256>, 4> t{};
  for (std::size_t c = 0; c < 256; ++c)
    for (std::size_t place = 0; place < 4; ++place)
      t[place][c] = base64_decode_table[c] == base64_invalid
                        ? base64_stranger
                        : std::uint32_t{base64_decode_table[c]} << (18 - 6 * place);
  return t;
}();
constexpr bool in_base64_alphabet(unsigned char c) noexcept {
  // Range tests instead of a table: the compiler turns a fixed-size block of these into SIMD.
  return static_cast<unsigned char>(c - 'A') < 26 || static_cast<unsigned char>(c - 'a') < 26 ||
         static_cast<unsigned char>(c - '0') < 10 || c == '+' || c == '/';
}
}  // namespace detail

/// The codec, as a type with static members only (`codec::base64::decode(text, out)`).
struct base64 {
  static constexpr std::string_view alphabet = detail::base64_alphabet;

  /// Characters needed to encode `n` bytes without padding.
  static constexpr std::size_t encoded_size(std::size_t n) noexcept { return (n * 4 + 2) / 3; }
  /// Bytes that `chars` characters of unpadded base64 decode to (0 for an impossible length 4n+1
  /// remainder).
  static constexpr std::size_t decoded_size(std::size_t chars) noexcept {
    return chars / 4 * 3 + (chars % 4 == 0 ? 0 : chars % 4 - 1);
  }

  /// True when every character of `s` is in the base64 alphabet. Runs on every datagram received,
  /// so it checks 32 characters at a time and stops at the first block with a stranger in it.
  static constexpr bool is_alphabet(std::string_view s) noexcept {
    constexpr std::size_t block = 32;
    std::size_t i = 0;
    for (; i + block <= s.size(); i += block) {
      unsigned char ok = 1;  // not `bool`: GCC 12 does not vectorise a `bool` reduction
      for (std::size_t j = 0; j < block; ++j)
        ok &= detail::in_base64_alphabet(static_cast<unsigned char>(s[i + j]));
      if (!ok) return false;
    }
    for (; i < s.size(); ++i)
      if (!detail::in_base64_alphabet(static_cast<unsigned char>(s[i]))) return false;
    return true;
  }

  /// Encodes `in` into `out`, which holds at least `encoded_size(in.size())` characters; returns
  /// the count.
  static std::size_t encode(bytes_view in, char* out) noexcept {
    std::size_t i = 0, o = 0;
    for (; i + 3 <= in.size(); i += 3) {
      const std::uint32_t v =
          (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
      out[o++] = alphabet[v >> 18];
      out[o++] = alphabet[(v >> 12) & 63];
      out[o++] = alphabet[(v >> 6) & 63];
      out[o++] = alphabet[v & 63];
    }
    if (const std::size_t rest = in.size() - i; rest != 0) {
      const std::uint32_t v =
          (std::uint32_t{in[i]} << 16) | (rest == 2 ? std::uint32_t{in[i + 1]} << 8 : 0);
      out[o++] = alphabet[v >> 18];
      out[o++] = alphabet[(v >> 12) & 63];
      if (rest == 2) out[o++] = alphabet[(v >> 6) & 63];
    }
    return o;
  }

  /// Decodes unpadded `in` into `out`, which holds at least `decoded_size(in.size())` bytes.
  /// Returns the byte count, or `errc::not_base64` (see the file comment for what is refused).
  static result<std::size_t, errc> decode(std::string_view in, byte* out) noexcept {
    if (in.size() % 4 == 1) return fail(errc::not_base64);
    const auto& [t0, t1, t2, t3] = detail::base64_place_tables;
    const auto* s = reinterpret_cast<const unsigned char*>(in.data());
    std::uint32_t bad = 0;
    std::size_t i = 0, o = 0;
    for (; i + 4 <= in.size(); i += 4, o += 3) {
      const std::uint32_t v = t0[s[i]] | t1[s[i + 1]] | t2[s[i + 2]] | t3[s[i + 3]];
      bad |= v;
      out[o] = static_cast<byte>(v >> 16);
      out[o + 1] = static_cast<byte>(v >> 8);
      out[o + 2] = static_cast<byte>(v);
    }
    if (const std::size_t rest = in.size() - i; rest != 0) {
      const std::uint32_t v = t0[s[i]] | t1[s[i + 1]] | (rest == 3 ? t2[s[i + 2]] : 0);
      bad |= v;
      out[o++] = static_cast<byte>(v >> 16);
      if (rest == 3) out[o++] = static_cast<byte>(v >> 8);
      // Bits below the last whole byte must be zero, or two strings would decode to the same bytes.
      if ((v & (rest == 3 ? 0xFFu : 0xFFFFu)) != 0) bad |= detail::base64_stranger;
    }
    if ((bad & detail::base64_stranger) != 0) return fail(errc::not_base64);
    return o;
  }

  /// Decodes a base64 field that may carry `=` padding (fwknop's decoder stops at the first `=`,
  /// and libfko accepts padded fields inside the message). Padding is accepted only where RFC 4648
  /// puts it.
  static result<std::size_t, errc> decode_padded(std::string_view in, byte* out) noexcept {
    if (in.ends_with("==") && in.size() % 4 == 0)
      in.remove_suffix(2);
    else if (in.ends_with('=') && in.size() % 4 == 0)
      in.remove_suffix(1);
    return decode(in, out);
  }
};

}  // namespace knock::codec
