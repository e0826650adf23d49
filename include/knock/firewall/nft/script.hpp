// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The text knock's nftables backend speaks: the script that makes its table, the one that grants,
/// and the parsing of what nft lists back. Pure functions, no libnftables: unit-tested on their
/// own (test/firewall/nftables_test.cpp). The table they describe:
///
///     table inet knock {
///       set allowed_v4 { type ipv4_addr . inet_proto . inet_service; flags timeout; }
///       set allowed_v6 { type ipv6_addr . inet_proto . inet_service; flags timeout; }
///       set protected  { type inet_proto . inet_service; elements = { tcp . 22 } }
///       chain input {
///         type filter hook input priority -10; policy accept;
///         ct state established,related accept
///         ip saddr . meta l4proto . th dport @allowed_v4 accept
///         ip6 saddr . meta l4proto . th dport @allowed_v6 accept
///         meta l4proto . th dport @protected drop
///       }
///     }

#include <knock/core/grant.hpp>
#include <knock/core/net.hpp>
#include <knock/firewall/nft/nat.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace knock::firewall::nft {

/// What `nftables::open` sets up.
struct options {
  std::string table = "knock";             ///< in family `inet`: letters, digits, `_`, at most 63
  std::vector<port_spec> protected_ports;  ///< dropped unless granted (the union of OPEN_PORTS)
  int priority = -10;                      ///< of the input hook: before the default filter (0)
  bool keep_grants = false;                ///< reuse the table's sets (grants survive a restart)
  unsigned check_every = 5;  ///< `expire` calls between checks that the table is intact; 0: never
  bool nat =
      false;  ///< NAT grants (ENABLE_IPT_FORWARDING / _LOCAL_NAT): knock/firewall/nft/nat.hpp
};

/// One element of the allowed sets, as the kernel reports it.
struct element {
  ip_address source;
  port_spec port;
  std::uint32_t timeout = 0;    ///< seconds granted
  std::uint32_t remaining = 0;  ///< seconds left
  friend bool operator==(const element&, const element&) = default;
};

/// `"10.0.0.5 tcp/22 timeout 30s expires 29s"`: a `--fw-list` line.
inline std::string to_string(const element& g) {
  return knock::to_string(g.source) + " " + knock::to_string(g.port) + " timeout " +
         std::to_string(g.timeout) + "s expires " + std::to_string(g.remaining) + "s";
}

/// True for a name that is safe to splice into nft's grammar.
constexpr bool is_identifier(std::string_view s) noexcept {
  if (s.empty() || s.size() > 63 || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

/// The script that makes the table, in one transaction: protection never has a gap.
inline std::string table_script(const options& o) {
  const std::string t = "inet " + o.table;
  std::string elements;
  for (const port_spec& p : o.protected_ports)
    elements += (elements.empty() ? "" : ", ") + std::string{knock::to_string(p.protocol)} + " . " +
                std::to_string(p.port);
  std::string s = "add table " + t + "\n";
  if (!o.keep_grants) s += "delete table " + t + "\nadd table " + t + "\n";
  s += "add set " + t +
       " allowed_v4 { type ipv4_addr . inet_proto . inet_service; flags timeout; }\n";
  s += "add set " + t +
       " allowed_v6 { type ipv6_addr . inet_proto . inet_service; flags timeout; }\n";
  s += "add set " + t + " protected { type inet_proto . inet_service; }\n";
  s += "flush set " + t + " protected\n";
  if (!elements.empty()) s += "add element " + t + " protected { " + elements + " }\n";
  s += "add chain " + t + " input { type filter hook input priority " + std::to_string(o.priority) +
       "; policy accept; }\n";
  s += "flush chain " + t + " input\n";
  s += "add rule " + t + " input ct state established,related accept\n";
  s += "add rule " + t + " input ip saddr . meta l4proto . th dport @allowed_v4 accept\n";
  s += "add rule " + t + " input ip6 saddr . meta l4proto . th dport @allowed_v6 accept\n";
  s += "add rule " + t + " input meta l4proto . th dport @protected drop\n";
  if (o.nat) s += nat_table_script(t);
  return s;
}

/// True when `nft list chain <table> input` output still has the rules that protect the ports.
inline bool chain_intact(std::string_view listing) noexcept {
  return listing.find("@allowed_v4 accept") != std::string_view::npos &&
         listing.find("@allowed_v6 accept") != std::string_view::npos &&
         listing.find("@protected drop") != std::string_view::npos;
}

/// libnftables' error text on one line: its distinct `Error: …` lines joined with "; " (the echoed
/// command and the `^^^` marker lines dropped); the whole text, newlines joined, if it has none.
inline std::string one_line(std::string_view text) {
  std::string errors, all;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.starts_with("Error") && errors.find(line) == std::string::npos)  // once each
      errors += (errors.empty() ? "" : "; ") + std::string{line};
    all += (all.empty() ? "" : "; ") + std::string{line};
  }
  return errors.empty() ? all : errors;
}

/// The commands for one grant: add, delete, add again in one transaction, so an element already
/// there gets the new timeout (a plain `add` would keep the old one).
inline std::string grant_script(std::string_view table, const grant& g) {
  const ip_address source = g.source.mapped_v4().value_or(g.source);
  const std::string set =
      "inet " + std::string{table} + (source.is_v4() ? " allowed_v4 { " : " allowed_v6 { ");
  std::string keys, timed;
  for (auto p = g.ports.begin(); p != g.ports.end(); ++p) {
    if (std::find(g.ports.begin(), p, *p) != p) continue;  // deleting one twice would fail
    const std::string key = knock::to_string(source) + " . " +
                            std::string{knock::to_string(p->protocol)} + " . " +
                            std::to_string(p->port);
    keys += (keys.empty() ? "" : ", ") + key;
    timed += (timed.empty() ? "" : ", ") + key + " timeout " + std::to_string(g.timeout) + "s";
  }
  return "add element " + set + timed + " }\ndelete element " + set + keys + " }\nadd element " +
         set + timed + " }\n";
}

/// The elements in `nft -n list set` output (numeric protocols and times): `10.0.0.5 . 6 . 22
/// timeout 30s expires 29s`, comma-separated between `elements = {` and `}`.
inline std::vector<element> parse_elements(std::string_view text) {
  std::vector<element> out;
  const auto number = [](std::string_view s) {
    std::uint64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') break;
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
  };
  const auto after = [](std::string_view s, std::string_view word) {
    const std::size_t at = s.find(word);
    return at == std::string_view::npos ? std::string_view{} : s.substr(at + word.size());
  };
  for (std::size_t at; (at = text.find("elements = {")) != std::string_view::npos;) {
    text.remove_prefix(at + 12);
    std::string_view block = text.substr(0, text.find('}'));
    text.remove_prefix(block.size());
    while (!block.empty()) {
      const std::size_t comma = block.find(',');
      std::string_view item = block.substr(0, comma);
      block.remove_prefix(comma == std::string_view::npos ? block.size() : comma + 1);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t' || item.front() == '\n'))
        item.remove_prefix(1);
      const std::size_t dot1 = item.find(" . "), dot2 = item.find(" . ", dot1 + 3);
      if (dot1 == std::string_view::npos || dot2 == std::string_view::npos) continue;
      const auto address = ip_address::parse(item.substr(0, dot1));
      const auto proto = number(item.substr(dot1 + 3));
      if (!address || (proto != 6 && proto != 17)) continue;
      element g;
      g.source = *address;
      g.port = {static_cast<ip_protocol>(proto),
                static_cast<std::uint16_t>(number(item.substr(dot2 + 3)))};
      g.timeout = static_cast<std::uint32_t>(number(after(item, " timeout ")));
      g.remaining = static_cast<std::uint32_t>(number(after(item, " expires ")));
      out.push_back(g);
    }
  }
  return out;
}

}  // namespace knock::firewall::nft
