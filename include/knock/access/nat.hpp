// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// NAT grants, as fwknopd 2.6 makes them: the fwknopd.conf switches (`nat_options`), a stanza's
/// FORCE_NAT / FORCE_SNAT / FORCE_MASQUERADE / DISABLE_DNAT / FORWARD_ALL (`stanza_nat`), and
/// `nat_for`, which turns an accepted request into the `nat_spec` the firewall enforces:
///
/// - a NAT message (`-N host:port`, types 2 and 4) needs ENABLE_IPT_FORWARDING, a local NAT
///   message (`--nat-local`, types 5 and 6) ENABLE_IPT_LOCAL_NAT (else `nat_disabled`);
/// - the first `proto/port` of the access message is the port that is translated; the NAT field
///   (or FORCE_NAT, which applies to every request of its stanza) says where to;
/// - a host name in the NAT field is resolved (IPv4) only with ENABLE_NAT_DNS (default Y), and only
///   when it is a valid host name;
/// - source NAT when FORCE_SNAT / FORCE_MASQUERADE or ENABLE_IPT_SNAT: SNAT to FORCE_SNAT's
/// address,
///   else MASQUERADE when FORCE_MASQUERADE, else SNAT to SNAT_TRANSLATE_IP, else MASQUERADE
///   (FORWARD_ALL: MASQUERADE unless an SNAT address is given).
///
/// fwknopd does not check the internal address against anything in the stanza; neither does knock
/// (an administrator who wants to pin it uses FORCE_NAT).

#include <knock/core/error.hpp>
#include <knock/core/grant.hpp>
#include <knock/core/net.hpp>
#include <knock/core/result.hpp>
#include <knock/core/spa_message.hpp>
#include <knock/wire/grammar.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace knock::access {

/// fwknopd.conf's NAT switches (fwknopd's defaults).
struct nat_options {
  bool forwarding = false;                 ///< ENABLE_IPT_FORWARDING: NAT messages to other hosts
  bool local = false;                      ///< ENABLE_IPT_LOCAL_NAT: `--nat-local` messages
  bool snat = false;                       ///< ENABLE_IPT_SNAT: source NAT for every NAT grant
  std::optional<ip_address> translate_ip;  ///< SNAT_TRANSLATE_IP: SNAT instead of MASQUERADE
  bool resolve_names = true;               ///< ENABLE_NAT_DNS: host names in NAT messages
  /// The prefix of the switches' names, for messages: `ENABLE_IPT_`, or with firewalld
  /// `ENABLE_FIREWD_` (fwknopd built for firewalld reads ENABLE_FIREWD_FORWARDING and friends).
  std::string_view switches = "ENABLE_IPT_";

  /// True when a stanza may say FORCE_NAT / FORCE_SNAT (fwknopd refuses them otherwise).
  bool any() const noexcept { return forwarding || local; }
};

/// A stanza's NAT variables.
struct stanza_nat {
  std::optional<ip_address> force_to;  ///< FORCE_NAT's address (FORWARD_ALL alone: 0.0.0.0)
  std::uint16_t force_port = 0;        ///< FORCE_NAT's port
  std::optional<ip_address> snat_to;   ///< FORCE_SNAT
  bool force_snat = false;             ///< FORCE_SNAT or FORCE_MASQUERADE is set
  bool masquerade = false;             ///< FORCE_MASQUERADE
  bool disable_dnat = false;           ///< DISABLE_DNAT
  bool forward_all = false;            ///< FORWARD_ALL
};

/// True for a host name fwknop takes: labels of letters, digits and '-' (not first, not before a
/// '.'), at most 63 characters each, 254 in all.
constexpr bool is_host_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > 254) return false;
  std::size_t label = 0;
  const auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (label == 0 ? !alnum(c) : !(alnum(c) || c == '.' || c == '-')) return false;
    if (c == '.') {
      if (label > 63 || !alnum(s[i - 1])) return false;
      label = 0;
    } else {
      ++label;
    }
  }
  return label <= 63;
}

/// The first IPv4 address `name` resolves to (getaddrinfo: /etc/hosts, then DNS).
inline std::optional<ip_address> resolve_ipv4(std::string_view name) noexcept {
  char host[256];
  if (name.size() >= sizeof host) return std::nullopt;
  std::memcpy(host, name.data(), name.size());
  host[name.size()] = '\0';
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host, nullptr, &hints, &found) != 0 || found == nullptr) return std::nullopt;
  std::array<unsigned char, 4> b{};
  std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in*>(found->ai_addr)->sin_addr, 4);
  ::freeaddrinfo(found);
  return ip_address::v4(b);
}

/// `nat_disabled` when `m` asks for a kind of NAT that `o` does not enable; none otherwise.
constexpr errc check_nat_enabled(const nat_options& o, message_type t) noexcept {
  if ((t == message_type::nat_access || t == message_type::client_timeout_nat_access) &&
      !o.forwarding)
    return errc::nat_disabled;
  if ((t == message_type::local_nat_access || t == message_type::client_timeout_local_nat_access) &&
      !o.local)
    return errc::nat_disabled;
  return errc::none_;
}

/// The NAT `m` earns under a stanza's `s` and the server's `o` (`kind == none`: a plain grant);
/// or why not. Call after `check_nat_enabled`. Resolves a host name (it blocks for the resolver).
inline result<nat_spec, errc> nat_for(const nat_options& o, const stanza_nat& s,
                                      const spa_message& m) noexcept {
  nat_spec n;
  if (!has_nat(m.type) && !s.force_to) return n;
  const bool local = m.type == message_type::local_nat_access ||
                     m.type == message_type::client_timeout_local_nat_access;
  n.kind = local ? nat_kind::local : nat_kind::forward;
  if (s.force_to) {
    n.to = *s.force_to;
    n.to_port = s.force_port;
  } else {
    const std::string_view field = m.nat_access;
    const std::size_t comma = field.find(',');
    if (comma == std::string_view::npos) return fail(errc::bad_nat_access);
    const std::string_view host = field.substr(0, comma);
    const auto port = wire::parse_port(field.substr(comma + 1));
    if (!port) return fail(errc::bad_nat_access);
    n.to_port = *port;
    if (const auto ip = wire::message_ipv4(host)) {
      n.to = ip_address::v4(*ip);
    } else {
      if (!o.resolve_names || !is_host_name(host)) return fail(errc::nat_name_refused);
      const auto resolved = resolve_ipv4(host);
      if (!resolved) return fail(errc::nat_name_unresolved);
      n.to = *resolved;
    }
  }
  n.dnat = !s.disable_dnat;
  n.forward_all = s.forward_all;
  if (s.force_snat || o.snat) {
    if (s.force_snat && s.snat_to) {
      n.rewrite = source_nat::snat;
      n.rewrite_to = *s.snat_to;
    } else if (!s.forward_all && s.force_snat && s.masquerade) {
      n.rewrite = source_nat::masquerade;
    } else if (o.translate_ip) {
      n.rewrite = source_nat::snat;
      n.rewrite_to = *o.translate_ip;
    } else {
      n.rewrite = source_nat::masquerade;
    }
  }
  return n;
}

}  // namespace knock::access
