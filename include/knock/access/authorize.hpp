// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `access::authorize`: what a decoded message may have from the stanza that decoded it, in
/// fwknopd's order (spec §7, steps 10–15): the address asked for, the username, NAT and command
/// requests (knock/access/nat.hpp), the ports, and the timeout. Pure: no clock, no firewall.

#include <knock/access/nat.hpp>
#include <knock/access/stanza.hpp>
#include <knock/core/error.hpp>
#include <knock/core/grant.hpp>
#include <knock/core/result.hpp>
#include <knock/core/spa_message.hpp>
#include <knock/wire/grammar.hpp>

#include <algorithm>
#include <string_view>

namespace knock::access {

/// The `proto/port` list of an access message ("10.0.0.5,tcp/22,udp/53" → tcp/22, udp/53).
inline port_list requested_ports(std::string_view message) noexcept {
  port_list out;
  std::string_view rest = message.substr(message.find(',') + 1);
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    if (const auto port = wire::parse_port(item.substr(4)))
      out.push_back({item.starts_with("udp") ? ip_protocol::udp : ip_protocol::tcp, *port});
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
  }
  return out;
}

/// The grant `m` earns under `s` at `now`, for a packet from `packet_source`, with the server's
/// NAT switches `nat`; or why not.
template <class Cipher, class Mac>
result<grant> authorize(const stanza<Cipher, Mac>& s, std::size_t stanza_number,
                        const spa_message& m, const ip_address& packet_source, epoch_seconds now,
                        const nat_options& nat = {}) noexcept {
  grant g;
  g.stanza = stanza_number;
  const std::string_view message = m.message;
  const auto asked = wire::message_ipv4(message.substr(0, message.find(',')));
  if (!asked) return fail(errc::bad_message);  // parse() let it through: cannot happen
  if (*asked == std::array<unsigned char, 4>{0, 0, 0, 0}) {
    // "-s": the packet's own source address, which only an HMAC makes trustworthy (spec Q12).
    if (s.require_source_address) return fail(errc::source_address_required);
    g.source = packet_source;
  } else {
    g.source = ip_address::v4(*asked);
  }
  if (!s.require_username.empty() && m.username.view() != s.require_username)
    return fail(errc::username_mismatch);
  if (const errc off = check_nat_enabled(nat, m.type); off != errc::none_) return fail(off);
  if (m.type == message_type::command) {
    if (!s.enable_cmd_exec) return fail(errc::commands_disabled);
    return g;  // no ports: the command is the grant
  }

  g.ports = requested_ports(message);
  for (const port_spec& p : g.ports) {
    if (s.restrict_ports.contains(p)) return fail(errc::ports_denied);
    if (s.open_ports && !s.open_ports->contains(p)) return fail(errc::ports_denied);
  }
  // A command cycle closes after CMD_CYCLE_TIMER unless the client asked a time (as fwknopd).
  const std::uint32_t default_timeout =
      s.cmd_cycle_open.empty() ? s.fw_access_timeout : s.cmd_cycle_timer;
  g.timeout = has_client_timeout(m.type) && m.client_timeout > 0
                  ? std::min(m.client_timeout, s.max_fw_timeout)
                  : default_timeout;
  g.expires = now + g.timeout;
  auto n = nat_for(nat, s.nat, m);
  if (!n) return fail(n.error());
  g.nat = *n;
  return g;
}

}  // namespace knock::access
