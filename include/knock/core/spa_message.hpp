// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::spa_message`: the fields of one fwknop SPA message (spec §3), stored in place so a
/// decoded packet owns its fields without heap allocation. Also the wire's size limits.

#include <knock/core/hash_id.hpp>
#include <knock/core/inline_string.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace knock {

/// fwknop's message types (libfko numbering; the number is what travels in the message).
enum class message_type : std::uint8_t {
  command = 0,                          ///< run a command on the server
  access = 1,                           ///< open ports for an address
  nat_access = 2,                       ///< access forwarded to an inside host
  client_timeout_access = 3,            ///< access, with a timeout chosen by the client
  client_timeout_nat_access = 4,        ///< NAT access, with a client timeout
  local_nat_access = 5,                 ///< access to a local port through a NAT'd port
  client_timeout_local_nat_access = 6,  ///< local NAT access, with a client timeout
};

/// True for the types that carry a NAT field (2, 4, 5, 6).
constexpr bool has_nat(message_type t) noexcept {
  return t == message_type::nat_access || t == message_type::client_timeout_nat_access ||
         t == message_type::local_nat_access || t == message_type::client_timeout_local_nat_access;
}
/// True for the types that carry a client timeout field (3, 4, 6).
constexpr bool has_client_timeout(message_type t) noexcept {
  return t == message_type::client_timeout_access || t == message_type::client_timeout_nat_access ||
         t == message_type::client_timeout_local_nat_access;
}

/// Sizes from fwknop (lib/fko_limits.h, server/fwknopd_common.h), in characters unless noted.
namespace limits {
inline constexpr std::size_t min_packet = 140;       ///< shorter datagrams are ignored by fwknopd
inline constexpr std::size_t max_packet = 1500;      ///< longer datagrams are ignored by fwknopd
inline constexpr std::size_t min_gpg_packet = 400;   ///< fwknop takes this long or longer for GPG
inline constexpr std::size_t min_plaintext = 36;     ///< decrypted message, inclusive
inline constexpr std::size_t max_plaintext = 1500;   ///< decrypted message, exclusive
inline constexpr std::size_t rand_digits = 16;       ///< the random field
inline constexpr std::size_t max_username_b64 = 64;  ///< 48 raw bytes
inline constexpr std::size_t max_username = 48;
inline constexpr std::size_t max_timestamp = 12;
inline constexpr std::size_t max_version = 8;
inline constexpr std::size_t max_message_type = 2;
inline constexpr std::size_t max_field_b64 = 256;  ///< message, NAT and server-auth fields
inline constexpr std::size_t max_field = 192;      ///< raw bytes of those fields
inline constexpr std::uint32_t max_client_timeout = 65536;
inline constexpr std::size_t max_digest_b64 = 86;  ///< SHA-512
}  // namespace limits

/// The protocol version knock writes (fwknop 2.x: "FKO protocol 3.0.0").
inline constexpr std::string_view protocol_version = "3.0.0";

/// One SPA message, as decoded from (or to be encoded into) the plaintext
/// `rand:b64(user):ts:version:type:b64(msg)[:b64(nat)][:b64(server_auth)][:timeout]:digest`.
struct spa_message {
  inline_string<limits::rand_digits> rand_value;  ///< 16 decimal digits
  inline_string<limits::max_username> username;
  std::int64_t timestamp = 0;  ///< seconds since the epoch, as the client wrote it
  inline_string<limits::max_version> version{};  ///< never checked (fwknop doesn't either)
  message_type type = message_type::access;
  inline_string<limits::max_field> message;  ///< "1.2.3.4,tcp/22[,udp/53…]" or "1.2.3.4,<command>"
  inline_string<limits::max_field> nat_access;  ///< "host,port" for the NAT types, else empty
  bool has_server_auth = false;  ///< fwknop's optional field; its stock client never sends it
  inline_string<limits::max_field> server_auth;
  std::uint32_t client_timeout = 0;              ///< for types 3, 4, 6; 0 = the stanza's default
  hash_id digest_type = hash_id::sha256;         ///< of the inner digest
  inline_string<limits::max_digest_b64> digest;  ///< unpadded base64
};

}  // namespace knock
