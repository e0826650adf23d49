// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// How an SPA packet travels: fwknop's `-P` / SPA_SERVER_PROTO names, read as fwknop reads them.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace knock {

/// How a packet travels (fwknop's -P names).
enum class transport : std::uint8_t { udp, tcp, udpraw, tcpraw, icmp, http };

/// fwknop's name of `t`.
constexpr std::string_view to_string(transport t) noexcept {
  constexpr std::string_view names[] = {"udp", "tcp", "udpraw", "tcpraw", "icmp", "http"};
  return names[static_cast<std::size_t>(t)];
}
/// The transport named `name` (any case), as fwknop's -P / SPA_SERVER_PROTO read it.
constexpr std::optional<transport> parse_transport(std::string_view name) noexcept {
  for (auto t : {transport::udp, transport::tcp, transport::udpraw, transport::tcpraw,
                 transport::icmp, transport::http}) {
    const std::string_view n = to_string(t);
    if (n.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < n.size(); ++i)
      same = same && (name[i] == n[i] || name[i] == n[i] - 'a' + 'A');
    if (same) return t;
  }
  return std::nullopt;
}
/// True for the transports that build the whole IPv4 packet on a raw socket.
constexpr bool is_raw(transport t) noexcept {
  return t == transport::udpraw || t == transport::tcpraw || t == transport::icmp;
}

}  // namespace knock
