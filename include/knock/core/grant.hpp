// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::grant`: what an accepted packet earns — a source address, the protocol/ports it may
/// reach, and for how long. Fixed capacity, so building one allocates nothing.

#include <knock/core/net.hpp>
#include <knock/core/time.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace knock {

/// IP protocol numbers fwknop can grant (it validates only these two, spec Q6).
enum class ip_protocol : std::uint8_t { tcp = 6, udp = 17 };

constexpr std::string_view to_string(ip_protocol p) noexcept {
  return p == ip_protocol::tcp ? "tcp" : "udp";
}

/// One `proto/port` entry.
struct port_spec {
  ip_protocol protocol = ip_protocol::tcp;
  std::uint16_t port = 0;
  friend bool operator==(const port_spec&, const port_spec&) = default;
};

/// "tcp/22".
inline std::string to_string(port_spec p) {
  return std::string{to_string(p.protocol)} + "/" + std::to_string(p.port);
}

/// A fixed-capacity list of ports: a message field of 192 bytes cannot name more than 32
/// ("tcp/1,"…).
class port_list {
 public:
  static constexpr std::size_t capacity = 32;
  bool push_back(port_spec p) noexcept {
    if (size_ == capacity) return false;
    items_[size_++] = p;
    return true;
  }
  std::span<const port_spec> items() const noexcept { return {items_.data(), size_}; }
  const port_spec* begin() const noexcept { return items_.data(); }
  const port_spec* end() const noexcept { return items_.data() + size_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  bool contains(port_spec p) const noexcept {
    for (const auto& q : items())
      if (q == p) return true;
    return false;
  }

 private:
  std::array<port_spec, capacity> items_{};
  std::size_t size_ = 0;
};

/// What a NAT grant does besides letting the source in (fwknopd's DNAT, FORWARD and SNAT rules).
enum class nat_kind : std::uint8_t {
  none,     ///< no NAT: the ports are opened on this host
  forward,  ///< the first port is forwarded to `to:to_port` on another host
  local,    ///< the first port is redirected to `to_port` on this host (`--nat-local`)
};
/// How a forwarded connection's source is rewritten (ENABLE_IPT_SNAT, FORCE_SNAT, ...).
enum class source_nat : std::uint8_t { none, snat, masquerade };

/// The NAT half of a grant; `kind == none` for a plain access grant.
struct nat_spec {
  nat_kind kind = nat_kind::none;
  ip_address to;              ///< the internal address (for `local`: as the client named it)
  std::uint16_t to_port = 0;  ///< the internal port (for `local`: the local port)
  bool dnat = true;           ///< false: DISABLE_DNAT (the forward rule only)
  bool forward_all = false;   ///< FORWARD_ALL: every protocol and port to `to`
  source_nat rewrite = source_nat::none;
  ip_address rewrite_to;  ///< the SNAT address (for `snat`)
  explicit operator bool() const noexcept { return kind != nat_kind::none; }
  friend bool operator==(const nat_spec&, const nat_spec&) = default;
};

/// Access granted by one accepted packet.
struct grant {
  ip_address source;  ///< the address allowed in
  /// The SPA packet's destination address, as captured (0.0.0.0 / :: where the capture does not
  /// know it: a UDP socket without IP_PKTINFO). Backends match it with ENABLE_DESTINATION_RULE.
  ip_address destination;
  port_list ports;            ///< what it may reach
  std::uint32_t timeout = 0;  ///< seconds
  epoch_seconds expires = 0;  ///< server clock: opened at `expires - timeout`
  std::size_t stanza = 0;     ///< 1-based index of the access.conf stanza that allowed it
  nat_spec nat;               ///< NAT to do for the first port (none for a plain grant)
};

}  // namespace knock
