// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `wire::parse`: a decrypted SPA plaintext (`encoded:digest`) → `spa_message`, checking every rule
/// of spec §3: lengths, printable ASCII, field count per message type, each field's form, and the
/// inner digest (its algorithm inferred from its length). No allocation.

#include <knock/codec/base64.hpp>
#include <knock/core/error.hpp>
#include <knock/core/result.hpp>
#include <knock/core/spa_message.hpp>
#include <knock/crypto/hash.hpp>
#include <knock/wire/grammar.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <string_view>

namespace knock::wire {

namespace detail {

/// Decodes a base64 field of 1..`max_chars` characters (padding tolerated, as libfko does) into
/// `out`.
template <std::size_t N>
bool decode_field(std::string_view b64, std::size_t max_chars, inline_string<N>& out) noexcept {
  if (b64.empty() || b64.size() > max_chars || codec::base64::decoded_size(b64.size()) > N)
    return false;
  const auto n = codec::base64::decode_padded(b64, reinterpret_cast<byte*>(out.data()));
  if (!n || *n == 0) return false;
  out.resize(*n);
  return true;
}

/// Checks `digest_b64` against `encoded`, trying the algorithms its length allows (spec §3.4).
inline result<hash_id, errc> verify_digest(std::string_view encoded,
                                           std::string_view digest_b64) noexcept {
  // Each base64 length and the algorithms it may mean, tried in fwknop's order (0 ends a row).
  struct by_length {
    std::size_t chars;
    std::array<hash_id, 2> algorithms;
  };
  static constexpr std::array<by_length, 5> table{{{22, {hash_id::md5}},
                                                   {27, {hash_id::sha1}},
                                                   {43, {hash_id::sha256, hash_id::sha3_256}},
                                                   {64, {hash_id::sha384}},
                                                   {86, {hash_id::sha512, hash_id::sha3_512}}}};
  const auto row = std::find_if(table.begin(), table.end(),
                                [&](const by_length& r) { return r.chars == digest_b64.size(); });
  if (row == table.end()) return fail(errc::bad_digest);
  std::array<byte, 64> claimed;
  const auto n = codec::base64::decode(digest_b64, claimed.data());
  if (!n) return fail(errc::bad_digest);
  for (hash_id h : row->algorithms) {
    if (static_cast<int>(h) == 0) break;
    std::array<byte, 64> actual;
    const std::size_t size = hash(h, as_bytes(encoded), actual.data());
    if (equal_ct(bytes_view{actual.data(), size}, bytes_view{claimed.data(), *n})) return h;
  }
  return fail(errc::digest_mismatch);
}

}  // namespace detail

/// Parses and checks a decrypted plaintext. Errors name the first rule broken.
inline result<spa_message, errc> parse(std::string_view text) noexcept {
  if (text.size() < limits::min_plaintext || text.size() >= limits::max_plaintext)
    return fail(errc::bad_plaintext_length);
  // One pass without an early exit, which the compiler turns into SIMD (the text is short).
  std::size_t colons = 0;
  unsigned char unprintable = 0;
  for (char c : text) {
    unprintable |= static_cast<unsigned char>(c < 0x20 || c > 0x7E);
    colons += c == ':';
  }
  if (unprintable != 0) return fail(errc::non_ascii);
  // rand:user:ts:version:type:msg:digest at least; at most nat, server auth and timeout more.
  if (colons < 6 || colons > 9) return fail(errc::wrong_field_count);

  spa_message m;
  const std::size_t last = text.rfind(':');
  const std::string_view encoded = text.substr(0, last);
  const std::string_view digest = text.substr(last + 1);
  auto algorithm = detail::verify_digest(encoded, digest);
  if (!algorithm) return fail(algorithm.error());
  m.digest_type = *algorithm;
  m.digest.assign(digest);

  std::array<std::string_view, 9> f;
  std::size_t count = 0;
  for (std::string_view rest = encoded;; ++count) {
    const std::size_t colon = rest.find(':');
    f[count] = rest.substr(0, colon);
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  ++count;

  if (f[0].size() != limits::rand_digits || !wire::detail::all_digits(f[0]))
    return fail(errc::decrypt_failed);
  m.rand_value.assign(f[0]);

  if (!detail::decode_field(f[1], limits::max_username_b64, m.username))
    return fail(errc::bad_username);
  for (char c : m.username.view())
    if (!is_username_char(c)) return fail(errc::bad_username);

  const auto ts = wire::detail::parse_decimal(f[2], limits::max_timestamp);
  if (!ts) return fail(errc::bad_timestamp);
  m.timestamp = static_cast<std::int64_t>(*ts);

  if (f[3].empty() || !m.version.assign(f[3])) return fail(errc::bad_version);

  const auto type = wire::detail::parse_decimal(f[4], limits::max_message_type);
  if (!type || *type > 6) return fail(errc::bad_message_type);
  m.type = static_cast<message_type>(*type);

  // After the type: msg, [nat], [server auth], [timeout] — the type fixes which may appear (spec
  // §3.3).
  const std::size_t fixed = 1 + has_nat(m.type) + has_client_timeout(m.type);
  const std::size_t extra = count - 5;
  if (extra != fixed && extra != fixed + 1) return fail(errc::wrong_field_count);
  std::size_t i = 5;

  if (!detail::decode_field(f[i++], limits::max_field_b64, m.message))
    return fail(errc::bad_message);
  const bool ok_message = m.type == message_type::command ? is_command_message(m.message)
                                                          : is_access_message(m.message);
  if (!ok_message) return fail(errc::bad_message);

  if (has_nat(m.type)) {
    if (!detail::decode_field(f[i++], limits::max_field_b64, m.nat_access) ||
        !is_nat_access(m.nat_access))
      return fail(errc::bad_nat_access);
  }
  if (extra == fixed + 1) {
    if (!detail::decode_field(f[i++], limits::max_field_b64, m.server_auth))
      return fail(errc::bad_server_auth);
    m.has_server_auth = true;
  }
  if (has_client_timeout(m.type)) {
    const auto t = wire::detail::parse_decimal(f[i++], 5);
    if (!t || *t > limits::max_client_timeout) return fail(errc::bad_client_timeout);
    m.client_timeout = static_cast<std::uint32_t>(*t);
  }
  return m;
}

}  // namespace knock::wire
