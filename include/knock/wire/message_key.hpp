// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `wire::message_key`: the identity of an SPA message, for replay protection. SHA-256 over its
/// fields, each length-prefixed, so every spelling of one request — another salt or mode, padded
/// base64 fields, another inner digest — is one key, while any change to a field is another. No
/// allocation.

#include <knock/core/spa_message.hpp>
#include <knock/crypto/hash.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace knock::wire {

/// SHA-256 of the message's fields (not of its inner digest, which only says how it was spelled).
/// The fields are laid end to end in a stack buffer and hashed once (twenty small updates of a
/// hash cost a copy call each).
inline std::array<byte, 32> message_key(const spa_message& m) noexcept {
  using limits::max_field;
  // Six fields, each with its 2-byte length, and four 8-byte numbers, at their largest.
  constexpr std::size_t most = limits::rand_digits + limits::max_username + limits::max_version +
                               3 * max_field + 6 * 2 + 4 * 8;
  std::array<byte, most> text;
  std::size_t size = 0;
  const auto field = [&](std::string_view s) {
    text[size++] = static_cast<byte>(s.size() >> 8);
    text[size++] = static_cast<byte>(s.size());
    if (!s.empty()) std::memcpy(text.data() + size, s.data(), s.size());
    size += s.size();
  };
  const auto number = [&](std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) text[size++] = static_cast<byte>(v >> shift);
  };
  field(m.rand_value), field(m.username), number(static_cast<std::uint64_t>(m.timestamp));
  field(m.version), number(static_cast<std::uint64_t>(m.type)), field(m.message);
  field(m.nat_access), number(m.has_server_auth), field(m.server_auth), number(m.client_timeout);
  std::array<byte, 32> key;
  hash(hash_id::sha256, {text.data(), size}, key.data());
  return key;
}

}  // namespace knock::wire
