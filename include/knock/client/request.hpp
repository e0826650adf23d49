// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::request`: what an SPA client asks a server for, in the terms of fwknop's client, and
/// `make_message`, which turns it into the `spa_message` fwknop's client would send (spec §3).
///
/// The message type follows from the fields, as fwknop chooses it: a command makes type 0; else a
/// NAT form makes 2 (forward) or 5 (local), plain access makes 1; a client timeout > 0 then turns
/// 1→3, 2→4 and 5→6. A command never carries a timeout or a NAT target. Every field is checked
/// against what fwknopd accepts, so a refused request names the field that is wrong.

#include <knock/core/error.hpp>
#include <knock/core/hash_id.hpp>
#include <knock/core/result.hpp>
#include <knock/core/spa_message.hpp>
#include <knock/wire/grammar.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace knock {

/// The NAT forms of an access request.
enum class nat_mode : std::uint8_t {
  none,     ///< plain access (types 1, 3)
  forward,  ///< fwknop's `-N host:port`: forwarded to an inside host (types 2, 4)
  local,    ///< fwknop's `--nat-local`: a local service through a translated port (types 5, 6)
};

/// One SPA request: the fields of fwknop's client, already parsed.
struct request {
  /// The IPv4 address to open for, as written in the message; "0.0.0.0" asks the server to use
  /// the packet's source address (fwknop's `-s`).
  std::string allow_ip;
  std::string access;          ///< "tcp/22,udp/53" (fwknop's `-A`); not used by a command
  std::string username;        ///< 1..48 bytes of fwknop's username characters (`-U`)
  std::int64_t timestamp = 0;  ///< seconds since the epoch; offsets are the caller's business
  nat_mode nat = nat_mode::none;
  std::string nat_access;            ///< "host,port" when `nat` is not `none` (`-N`, `--nat-local`)
  std::uint32_t client_timeout = 0;  ///< seconds (`-f`); 0 leaves it to the server
  std::string command;               ///< non-empty: a command message (`-C`)
  hash_id digest_type = hash_id::sha256;  ///< the inner digest (`-m`)
};

/// The message type fwknop's client sends for `r`.
constexpr message_type type_of(const request& r) noexcept {
  const bool timeout = r.client_timeout > 0;
  if (!r.command.empty()) return message_type::command;
  switch (r.nat) {
    case nat_mode::forward:
      return timeout ? message_type::client_timeout_nat_access : message_type::nat_access;
    case nat_mode::local:
      return timeout ? message_type::client_timeout_local_nat_access
                     : message_type::local_nat_access;
    case nat_mode::none: break;
  }
  return timeout ? message_type::client_timeout_access : message_type::access;
}

/// `r` as a message whose random field is `rand16` (16 decimal digits). Errors, each naming the
/// field: `bad_username`, `bad_timestamp`, `bad_message` (allow IP, ports or command),
/// `bad_nat_access`, `bad_client_timeout`, `request_too_long` (a field longer than the 192 bytes
/// fwknop allows, which could never make a packet fwknopd takes), `invalid_request` (`rand16`).
inline result<spa_message> make_message(const request& r, std::string_view rand16) {
  spa_message m;
  if (rand16.size() != limits::rand_digits ||
      !std::all_of(rand16.begin(), rand16.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return fail(errc::invalid_request);
  m.rand_value.assign(rand16);

  if (r.username.empty() || r.username.size() > limits::max_username)
    return fail(errc::bad_username);
  for (char c : r.username)
    if (!wire::is_username_char(c)) return fail(errc::bad_username);
  m.username.assign(r.username);

  // fwknopd reads the timestamp into a C int (spec Q13).
  if (r.timestamp < 0 || r.timestamp > std::numeric_limits<std::int32_t>::max())
    return fail(errc::bad_timestamp);
  m.timestamp = r.timestamp;
  m.type = type_of(r);
  m.digest_type = r.digest_type;

  const bool is_command = m.type == message_type::command;
  const std::string message = r.allow_ip + ',' + (is_command ? r.command : r.access);
  if (message.size() > limits::max_field) return fail(errc::request_too_long);
  if (!(is_command ? wire::is_command_message(message) : wire::is_access_message(message)))
    return fail(errc::bad_message);
  m.message.assign(message);

  if (has_nat(m.type)) {
    if (r.nat_access.size() > limits::max_field) return fail(errc::request_too_long);
    if (!wire::is_nat_access(r.nat_access)) return fail(errc::bad_nat_access);
    m.nat_access.assign(r.nat_access);
  }
  if (has_client_timeout(m.type)) {
    if (r.client_timeout > limits::max_client_timeout) return fail(errc::bad_client_timeout);
    m.client_timeout = r.client_timeout;
  }
  return m;
}

}  // namespace knock
