// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::replay::redis_commands`: the commands a Redis replay store
/// (knock/replay/redis_store.hpp) sends, written in Redis's protocol (RESP: an array of bulk
/// strings) into a buffer it reuses, to be appended as they are (`redisAppendFormattedCommand`).
/// hiredis's printf-like formatting cost a `vsnprintf` and a few allocations per command, a sixth
/// of the daemon's time per packet with Redis; this costs a few appends to a buffer that stops
/// growing after the first packet.
///
///     SET <prefix><64 hex digits> 1 NX [EX <seconds>]     a key, if absent, for the replay window
///     WAIT <replicas> <milliseconds>                      the replicas have what came before

#include <knock/core/bytes.hpp>
#include <knock/replay/concept.hpp>

#include <array>
#include <charconv>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace knock::replay {

/// A buffer of Redis commands in RESP.
class redis_commands {
 public:
  /// Reserves room for two SETs with keys under `prefix`.
  explicit redis_commands(std::size_t prefix_size) { text_.reserve(2 * (prefix_size + 128)); }

  void clear() noexcept { text_.clear(); }
  std::string_view text() const noexcept { return text_; }

  /// `SET <prefix><hex of key> 1 NX`, with `EX <ttl>` unless `ttl` is 0 (no expiry).
  void set_nx(std::string_view prefix, const replay_key& key, long long ttl) {
    static constexpr char hex[] = "0123456789abcdef";
    text_ += ttl != 0 ? "*6\r\n$3\r\nSET\r\n" : "*4\r\n$3\r\nSET\r\n";
    length(prefix.size() + 2 * key.bytes.size());
    text_ += prefix;
    for (byte b : key.bytes) text_ += hex[b >> 4], text_ += hex[b & 15];
    text_ += "\r\n$1\r\n1\r\n$2\r\nNX\r\n";
    if (ttl != 0) text_ += "$2\r\nEX\r\n", number(ttl);
  }

  /// Any command, its words as bulk strings (`AUTH`, `SELECT`, `ROLE`, `SENTINEL ...`).
  void command(std::initializer_list<std::string_view> words) {
    std::array<char, 24> digits{};
    text_ += '*';
    text_.append(digits.data(),
                 std::to_chars(digits.data(), digits.data() + digits.size(), words.size()).ptr);
    text_ += "\r\n";
    for (std::string_view w : words) {
      length(w.size());
      text_ += w;
      text_ += "\r\n";
    }
  }
  /// Zeroes the text (it held a password), then empties it.
  void wipe() noexcept {
    secure_zero(text_.data(), text_.size());
    text_.clear();
  }

  /// `WAIT <replicas> <ms>`.
  void wait(long long replicas, long long ms) {
    text_ += "*3\r\n$4\r\nWAIT\r\n";
    number(replicas);
    number(ms);
  }

 private:
  // `$<n>\r\n`: the length of the bulk string that follows.
  void length(std::size_t n) {
    std::array<char, 24> digits{};
    text_ += '$';
    text_.append(digits.data(), std::to_chars(digits.data(), digits.data() + digits.size(), n).ptr);
    text_ += "\r\n";
  }
  // A number as a bulk string: `$<digits>\r\n<n>\r\n`.
  void number(long long n) {
    std::array<char, 24> digits{};
    char* end = std::to_chars(digits.data(), digits.data() + digits.size(), n).ptr;
    length(static_cast<std::size_t>(end - digits.data()));
    text_.append(digits.data(), end);
    text_ += "\r\n";
  }

  std::string text_;
};

}  // namespace knock::replay
