// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// NAT in knock's nftables table: fwknopd's DNAT, FORWARD and SNAT rules as elements of maps and
/// sets with kernel-side timeouts, so a NAT grant, like an access grant, ends in the kernel even
/// when the daemon is gone. Pure functions (no libnftables). What `nat_table_script` adds:
///
///     map dnat_v4      { ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }
///                        client . proto . gateway port  ->  internal address . port
///     map dnat_all_v4  { ipv4_addr : ipv4_addr }               FORWARD_ALL: client -> internal
///     set forward_v4   { ipv4_addr . inet_proto . inet_service }  client . proto . internal port
///     set forward_all_v4 { ipv4_addr }                          FORWARD_ALL: client
///     map snat_v4      { ipv4_addr . inet_proto . inet_service : ipv4_addr }  internal -> SNAT
///     set masquerade_v4 { ipv4_addr . inet_proto . inet_service }             internal service
///     map snat_all_v4  { ipv4_addr : ipv4_addr }, set masquerade_all_v4 { ipv4_addr }  (client)
///     chain prerouting  (nat, dstnat):  dnat ... map @dnat_v4; dnat ... map @dnat_all_v4
///     chain postrouting (nat, srcnat):  snat ... map @snat_v4; ... @masquerade_v4 masquerade; ...
///     chain forward (filter, -10):      established accept; @forward_v4 accept; @forward_all_v4
///     accept
///
/// A `--nat-local` grant is an `allowed_v4` element for the local port plus its DNAT element.
/// The forward chain accepts: another table's forward chain that drops must let knock's DNAT'ed
/// connections through (nftables runs every base chain; an accept here is not final).

#include <knock/core/grant.hpp>
#include <knock/core/net.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace knock::firewall::nft {

/// The maps, sets and chains of NAT grants, for the table `t` ("inet knock").
inline std::string nat_table_script(const std::string& t) {
  std::string s;
  const auto add = [&](std::string_view what) { s += "add " + std::string{what} + "\n"; };
  const std::string key3 = "ipv4_addr . inet_proto . inet_service";
  add("map " + t + " dnat_v4 { type " + key3 + " : ipv4_addr . inet_service; flags timeout; }");
  add("map " + t + " dnat_all_v4 { type ipv4_addr : ipv4_addr; flags timeout; }");
  add("set " + t + " forward_v4 { type " + key3 + "; flags timeout; }");
  add("set " + t + " forward_all_v4 { type ipv4_addr; flags timeout; }");
  add("map " + t + " snat_v4 { type " + key3 + " : ipv4_addr; flags timeout; }");
  add("set " + t + " masquerade_v4 { type " + key3 + "; flags timeout; }");
  add("map " + t + " snat_all_v4 { type ipv4_addr : ipv4_addr; flags timeout; }");
  add("set " + t + " masquerade_all_v4 { type ipv4_addr; flags timeout; }");
  add("chain " + t + " prerouting { type nat hook prerouting priority dstnat; policy accept; }");
  s += "flush chain " + t + " prerouting\n";
  add("rule " + t +
      " prerouting meta l4proto { tcp, udp } dnat ip to ip saddr . meta l4proto . th dport map "
      "@dnat_v4");
  add("rule " + t + " prerouting dnat ip to ip saddr map @dnat_all_v4");
  add("chain " + t + " postrouting { type nat hook postrouting priority srcnat; policy accept; }");
  s += "flush chain " + t + " postrouting\n";
  add("rule " + t +
      " postrouting meta l4proto { tcp, udp } snat ip to ip daddr . meta l4proto . th dport map "
      "@snat_v4");
  add("rule " + t +
      " postrouting meta l4proto { tcp, udp } ip daddr . meta l4proto . th dport @masquerade_v4 "
      "masquerade");
  add("rule " + t + " postrouting snat ip to ip saddr map @snat_all_v4");
  add("rule " + t + " postrouting ip saddr @masquerade_all_v4 masquerade");
  add("chain " + t + " forward { type filter hook forward priority -10; policy accept; }");
  s += "flush chain " + t + " forward\n";
  add("rule " + t + " forward ct state established,related accept");
  add("rule " + t + " forward ip saddr . meta l4proto . th dport @forward_v4 accept");
  add("rule " + t + " forward ip saddr @forward_all_v4 accept");
  return s;
}

/// One element of a NAT grant: the set or map, its key, and for a map the value.
struct nat_element {
  std::string set, key, value;  ///< value empty for a set
};

/// The elements a NAT grant `g` (IPv4 source and target) adds, as fwknopd's rules for it.
inline std::vector<nat_element> nat_elements(const grant& g) {
  std::vector<nat_element> out;
  const nat_spec& n = g.nat;
  const std::string src = knock::to_string(g.source.mapped_v4().value_or(g.source));
  const port_spec first = *g.ports.begin();
  const std::string proto{knock::to_string(first.protocol)};
  const std::string to = knock::to_string(n.to), to_port = std::to_string(n.to_port);
  const std::string internal = to + " . " + proto + " . " + to_port;
  if (n.kind == nat_kind::local)
    out.push_back({"allowed_v4", src + " . " + proto + " . " + to_port, ""});
  else if (n.forward_all)
    out.push_back({"forward_all_v4", src, ""});
  else
    out.push_back({"forward_v4", src + " . " + proto + " . " + to_port, ""});
  if (n.dnat) {
    if (n.forward_all)
      out.push_back({"dnat_all_v4", src, to});
    else
      out.push_back({"dnat_v4", src + " . " + proto + " . " + std::to_string(first.port),
                     to + " . " + to_port});
  }
  const std::string rewrite_to = knock::to_string(n.rewrite_to);
  if (n.rewrite == source_nat::snat)
    out.push_back(n.forward_all ? nat_element{"snat_all_v4", src, rewrite_to}
                                : nat_element{"snat_v4", internal, rewrite_to});
  else if (n.rewrite == source_nat::masquerade)
    out.push_back(n.forward_all ? nat_element{"masquerade_all_v4", src, ""}
                                : nat_element{"masquerade_v4", internal, ""});
  return out;
}

/// The transaction for a NAT grant: every element added with the grant's timeout. A set element
/// already there starts over (add, delete, add); a map element in `replace` (found there, maybe
/// with another value) is deleted first, the others are added.
inline std::string nat_grant_script(std::string_view table, const grant& g,
                                    const std::vector<nat_element>& elements,
                                    const std::vector<bool>& replace = {}) {
  std::string s;
  const std::string t = "inet " + std::string{table} + " ";
  const std::string timeout = " timeout " + std::to_string(g.timeout) + "s";
  for (std::size_t i = 0; i < elements.size(); ++i) {
    const nat_element& e = elements[i];
    const std::string key = t + e.set + " { " + e.key;
    const std::string timed = key + timeout + (e.value.empty() ? "" : " : " + e.value) + " }\n";
    if (e.value.empty())
      s += "add element " + timed + "delete element " + key + " }\n";
    else if (i < replace.size() && replace[i])
      s += "delete element " + key + " }\n";
    s += "add element " + timed;
  }
  return s;
}

/// The elements of `nft list set|map` output as written (`elements = { a, b }`), one string each.
inline std::vector<std::string> element_texts(std::string_view text) {
  std::vector<std::string> out;
  const std::size_t at = text.find("elements = {");
  if (at == std::string_view::npos) return out;
  std::string_view block = text.substr(at + 12);
  block = block.substr(0, block.find('}'));
  while (!block.empty()) {
    const std::size_t comma = block.find(',');
    std::string_view item = block.substr(0, comma);
    block.remove_prefix(comma == std::string_view::npos ? block.size() : comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t' || item.front() == '\n'))
      item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t' || item.back() == '\n'))
      item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

}  // namespace knock::firewall::nft
