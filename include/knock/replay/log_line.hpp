// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::replay::log_line`: one line of `file_store`'s log (knock/replay/file_store.hpp):
///
///     <64 hex digits of the key> <expiry, epoch seconds> <16 hex digits: the checksum of the text
///     before it>
///
/// The checksum takes the text 8 bytes at a time (little-endian words, the last one zero-padded):
/// h = rotl((h ^ word) × 0x9E3779B97F4A7C15, 29) from 0xcbf29ce484222325. Each step is a bijection
/// of h, so a line with one word changed never passes. Logs written before it ended each line with
/// 8 hex digits of FNV-1a (32-bit) over the same text; such lines are still read (and the store's
/// compaction rewrites them). FNV-1a takes one byte per step, each waiting on the last multiply:
/// 76 steps a line, two lines a packet, ≈3 % of the daemon's CPU in a burst; 10 steps now.

#include <knock/core/bytes.hpp>
#include <knock/core/time.hpp>
#include <knock/replay/concept.hpp>

#include <array>
#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace knock::replay {

/// A formatted line (`format`), and the functions that read and check one (`parse`).
struct log_line {
  /// The longest line: the key, a space, an expiry of up to 20 characters, a space, the
  /// checksum, the newline.
  static constexpr std::size_t max_size = 64 + 1 + 20 + 1 + 16 + 1;

  std::array<char, max_size> text;
  std::size_t size = 0;
  const char* data() const noexcept { return text.data(); }

  /// An expiry's digits, kept by a writer whose lines mostly share one (the packets of a second
  /// all expire in the same second): formatted once, not once a line.
  struct expiry_digits {
    epoch_seconds value = 0;
    std::array<char, 20> text{'0'};
    std::size_t size = 1;
    std::string_view of(epoch_seconds e) noexcept {
      if (e != value) {
        value = e;
        size =
            static_cast<std::size_t>(std::to_chars(text.begin(), text.end(), e).ptr - text.begin());
      }
      return {text.data(), size};
    }
  };

  /// The line of `key` until `expires`, with its newline.
  static log_line format(const replay_key& key, epoch_seconds expires) noexcept {
    expiry_digits digits;
    return format(key, expires, digits);
  }
  /// The same, the expiry's digits taken from (or put in) `digits`.
  static log_line format(const replay_key& key, epoch_seconds expires,
                         expiry_digits& digits) noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    static constexpr auto pairs = [] {  // each byte's two digits: one load a byte, not two
      std::array<std::array<char, 2>, 256> t{};
      for (std::size_t b = 0; b < 256; ++b) t[b] = {hex[b >> 4], hex[b & 15]};
      return t;
    }();
    log_line l;
    for (byte b : key.bytes) std::memcpy(l.text.data() + l.size, pairs[b].data(), 2), l.size += 2;
    l.text[l.size++] = ' ';
    // An epoch_seconds has at most 20 characters; the checksum and the newline (18) follow.
    const std::string_view e = digits.of(expires);
    std::memcpy(l.text.data() + l.size, e.data(), e.size());
    l.size += e.size();
    const std::uint64_t sum = checksum({l.text.data(), l.size});
    l.text[l.size++] = ' ';
    for (int shift = 60; shift >= 0; shift -= 4) l.text[l.size++] = hex[(sum >> shift) & 15];
    l.text[l.size++] = '\n';
    return l;
  }

  /// Reads `line` (without its newline; `unterminated`: the file ended before one came) into
  /// `key` and `expires`: a line of this version, or of an earlier one (8 hex digits of FNV-1a).
  /// False for anything else: a bad form, a checksum that fails, a torn last line.
  static bool parse(std::string_view line, bool unterminated, replay_key& key,
                    epoch_seconds& expires) {
    if (unterminated) return false;
    return parse(line, 16, checksum, key, expires) || parse(line, 8, fnv1a, key, expires);
  }

  /// The checksum of a line's text (see the file comment).
  static std::uint64_t checksum(std::string_view s) noexcept {
    std::uint64_t h = 0xcbf29ce484222325u;
    const auto mix = [&](std::uint64_t word) {
      h = std::rotl((h ^ word) * 0x9E3779B97F4A7C15u, 29);
    };
    std::size_t at = 0;
    for (; at + 8 <= s.size(); at += 8) {
      std::uint64_t word;
      std::memcpy(&word, s.data() + at, 8);
      if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
      mix(word);
    }
    if (at < s.size()) {
      std::uint64_t word = 0;
      for (std::size_t i = 0; at + i < s.size(); ++i)
        word |= std::uint64_t{static_cast<unsigned char>(s[at + i])} << (8 * i);
      mix(word);
    }
    return h;
  }
  /// The checksum of the lines written before `checksum`: FNV-1a, 32 bits.
  static std::uint64_t fnv1a(std::string_view s) noexcept {
    std::uint32_t h = 2166136261u;
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
    return h;
  }

 private:
  static bool parse(std::string_view line, std::size_t digits,
                    std::uint64_t (*sum_of)(std::string_view), replay_key& key,
                    epoch_seconds& expires) {
    if (line.size() < 64 + 1 + 1 + 1 + digits || line[64] != ' ') return false;
    const std::string_view body = line.substr(0, line.size() - digits - 1);
    std::uint64_t sum = 0;
    const char* const end = line.data() + line.size();
    if (line[body.size()] != ' ' || std::from_chars(end - digits, end, sum, 16).ptr != end ||
        sum != sum_of(body))
      return false;
    for (std::size_t i = 0; i < 32; ++i)
      if (std::from_chars(line.data() + 2 * i, line.data() + 2 * i + 2, key.bytes[i], 16).ec !=
          std::errc{})
        return false;
    const auto r = std::from_chars(body.data() + 65, body.data() + body.size(), expires);
    return r.ec == std::errc{} && r.ptr == body.data() + body.size();
  }
};

}  // namespace knock::replay
