// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// ENABLE_DESTINATION_RULE's address: the backends that honour it (iptables, firewalld, PF, ipfw)
/// write the SPA packet's destination where their rule says "any address of this host".

#include <knock/core/grant.hpp>

#include <optional>
#include <string_view>

namespace knock::firewall {

/// The grant's destination (an IPv4-mapped one as IPv4), or none when it is not known: a capture
/// that does not record it (a UDP server socket gives 0.0.0.0 / ::), or one of the other family
/// than the source's. fwknopd then writes its rule with 0.0.0.0, which never matches while its log
/// says access was granted; the backends refuse the grant with `unknown_destination` instead.
inline std::optional<ip_address> destination_of(const grant& g) noexcept {
  const ip_address d = g.destination.mapped_v4().value_or(g.destination);
  const ip_address s = g.source.mapped_v4().value_or(g.source);
  if (d == ip_address{} || d == ip_address::v6({}) || d.is_v4() != s.is_v4()) return std::nullopt;
  return d;
}

/// What a backend says when it refuses a grant whose destination is not known.
inline constexpr std::string_view unknown_destination =
    "ENABLE_DESTINATION_RULE: the SPA packet's destination address is not known (a UDP server "
    "socket does not record it)";

}  // namespace knock::firewall
