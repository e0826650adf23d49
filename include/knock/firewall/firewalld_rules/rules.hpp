// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// What knock's firewalld backend says to `firewall-cmd`, pure functions: fwknopd.conf's
/// `FIREWD_*_ACCESS` lines (`ACCEPT, filter, INPUT, 1, FWKNOP_INPUT, 1`), the direct
/// passthrough prefix fwknopd uses (`--direct --passthrough ipv4 <iptables arguments>`), and the
/// output rule of ENABLE_FIREWD_OUTPUT, and the rich rule of knock's zone mode
/// (`rule family="ipv4" source address="192.0.2.7" port port="22" protocol="tcp" accept`, as
/// `firewall-cmd --list-rich-rules` prints it).

#include <knock/core/grant.hpp>
#include <knock/core/net.hpp>
#include <knock/core/time.hpp>
#include <knock/firewall/ipt/rules.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace knock::firewall::firewalld_rules {

/// One `FIREWD_*_ACCESS` value: target, table, chain to jump from, jump position, knock's chain,
/// rule position — the iptables backend's `IPT_*_ACCESS` shape, since direct rules are iptables
/// rules.
using chain_access = ipt::chain_spec;

/// fwknopd's FIREWD_OUTPUT_ACCESS default.
inline chain_access default_output() {
  return {"ACCEPT", "filter", "OUTPUT", 1, "FWKNOP_OUTPUT", 1};
}

/// `text` as fwknopd's six comma-separated fields (letters, digits, `_`, spaces around them;
/// positions whole numbers from 1); none when it is not.
inline std::optional<chain_access> parse_chain_access(std::string_view text) {
  std::vector<std::string> f;
  std::string field;
  for (char c : text) {
    const bool word =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (c == ',') {
      f.push_back(field);
      field.clear();
    } else if (word) {
      if (!field.empty() && field.back() == ' ') return std::nullopt;  // "a b" in one field
      field += c;
    } else if (c == ' ' || c == '\t') {
      if (!field.empty()) field += ' ';
    } else {
      return std::nullopt;
    }
  }
  f.push_back(field);
  for (auto& x : f)
    while (!x.empty() && x.back() == ' ') x.pop_back();
  if (f.size() != 6) return std::nullopt;
  for (const auto& x : f)
    if (x.empty()) return std::nullopt;
  const auto position = [](const std::string& s) -> unsigned {
    if (s.size() > 5) return 0;
    unsigned n = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return 0;
      n = n * 10 + static_cast<unsigned>(c - '0');
    }
    return n;
  };
  chain_access a{f[0], f[1], f[2], position(f[3]), f[4], position(f[5])};
  if (a.jump_position == 0 || a.rule_position == 0) return std::nullopt;
  return a;
}

/// One direct rule of a grant: its family, its chain, and its iptables arguments after
/// `-A <chain>` / `-C <chain>`.
struct direct_rule {
  bool v6 = false;
  chain_access chain;
  std::vector<std::string> arguments;
};

/// `firewall-cmd --direct --passthrough ipv4|ipv6` followed by `iptables_args`.
inline std::vector<std::string> passthrough(bool v6,
                                            const std::vector<std::string>& iptables_args) {
  std::vector<std::string> a{"--direct", "--passthrough", v6 ? "ipv6" : "ipv4"};
  a.insert(a.end(), iptables_args.begin(), iptables_args.end());
  return a;
}

/// The arguments (after `-A <chain>` / `-C <chain>`) of ENABLE_FIREWD_OUTPUT's rule for one
/// granted port, in fwknopd's order: the replies from `port` back to `source`, from
/// `destination` (fwknopd's `0.0.0.0/0` unless ENABLE_DESTINATION_RULE).
inline std::vector<std::string> output_rule_arguments(const chain_access& c,
                                                      const ip_address& source,
                                                      std::string_view destination, port_spec port,
                                                      epoch_seconds expires) {
  return {"-t",        c.table,
          "-p",        std::to_string(static_cast<int>(port.protocol)),
          "-d",        to_string(source),
          "-s",        std::string{destination},
          "--sport",   std::to_string(port.port),
          "-m",        "comment",
          "--comment", "_exp_" + std::to_string(expires),
          "-j",        c.target};
}

/// The rich rule that lets `source` reach `port`.
inline std::string rich_rule(const ip_address& source, port_spec port) {
  std::string r{"rule family=\""};
  r.append(source.is_v4() ? "ipv4" : "ipv6")
      .append("\" source address=\"")
      .append(to_string(source))
      .append("\" port port=\"")
      .append(std::to_string(port.port))
      .append("\" protocol=\"")
      .append(to_string(port.protocol))
      .append("\" accept");
  return r;
}

/// True for a rich rule of `rich_rule`'s exact shape (knock's; `--fw-flush` removes only those).
inline bool is_grant_rule(std::string_view rule) {
  if (!rule.starts_with("rule family=\"ipv")) return false;
  if (!rule.ends_with("\" accept")) return false;
  return rule.find("\" source address=\"") != std::string_view::npos &&
         rule.find("\" port port=\"") != std::string_view::npos &&
         rule.find("\" protocol=\"") != std::string_view::npos &&
         rule.find(" log") == std::string_view::npos;
}

}  // namespace knock::firewall::firewalld_rules
