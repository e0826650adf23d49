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
#include <string_view>

namespace knock::wire {

/// SHA-256 of the message's fields (not of its inner digest, which only says how it was spelled).
/// Hashed through knock's block buffer (crypto::block_hash), not a Crypto++ object: twenty small
/// pieces, each a virtual `Update` there.
inline std::array<byte, 32> message_key(const spa_message& m) noexcept {
  crypto::block_hash<sha256>::stream h;
  const auto field = [&](std::string_view s) {
    const std::array<byte, 2> size{static_cast<byte>(s.size() >> 8), static_cast<byte>(s.size())};
    h.update(size.data(), size.size());
    h.update(as_bytes(s).data(), s.size());
  };
  const auto number = [&](std::uint64_t v) {
    std::array<byte, 8> be;
    for (int i = 7; i >= 0; --i, v >>= 8) be[static_cast<std::size_t>(i)] = static_cast<byte>(v);
    h.update(be.data(), be.size());
  };
  field(m.rand_value), field(m.username), number(static_cast<std::uint64_t>(m.timestamp));
  field(m.version), number(static_cast<std::uint64_t>(m.type)), field(m.message);
  field(m.nat_access), number(m.has_server_auth), field(m.server_auth), number(m.client_timeout);
  std::array<byte, 32> key;
  h.final(key.data());
  return key;
}

}  // namespace knock::wire
