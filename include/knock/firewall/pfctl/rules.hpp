// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The rule text knock's PF backend writes into its anchor and reads back, in fwknopd's shape
/// (so an OpenBSD admin's habits and scripts keep working): one `pass` rule per port, its expiry
/// in the rule's label,
///
///     pass in quick proto 6 from 192.0.2.7 to any port 22 keep state label _exp_1700000035
///
/// and the parse of `pfctl -a ANCHOR -s rules` (pfctl prints the rule normalised:
/// `proto tcp ... port = 22 flags S/SA keep state label "_exp_1700000035"`) and of
/// `pfctl -s Anchors`. Pure functions, no process: unit-tested on their own.

#include <knock/core/grant.hpp>
#include <knock/core/net.hpp>
#include <knock/core/time.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace knock::firewall::pfctl {

/// What fwknopd.conf says for PF.
struct options {
  std::string pfctl = "pfctl";         ///< `FIREWALL_EXE`: a path, or a name looked up in sbin/bin
  std::string anchor = "fwknop";       ///< `PF_ANCHOR_NAME`
  std::uint32_t expire_interval = 30;  ///< `PF_EXPIRE_INTERVAL`: s between full anchor checks
  bool use_destination = false;        ///< `ENABLE_DESTINATION_RULE`: `to <packet's destination>`
  std::chrono::milliseconds command_timeout{10'000};
};

/// One rule of the anchor as pfctl lists it.
struct listed_rule {
  std::string text;                      ///< the line, as listed (pfctl reads it back as is)
  std::optional<epoch_seconds> expires;  ///< the `_exp_` of its label; none: not a grant rule
};

/// Why `anchor` cannot be PF_ANCHOR_NAME, or empty: 1..63 characters (PF's limit, as fwknopd's
/// buffer), letters, digits and `_ - . /`, not starting with `_` (PF reserves those) or `/`.
inline std::string_view anchor_problem(std::string_view anchor) noexcept {
  if (anchor.empty() || anchor.size() > 63) return "must be 1 to 63 characters";
  if (anchor.front() == '_' || anchor.front() == '/')
    return "must not start with '_' or '/' (PF reserves them)";
  for (char c : anchor) {
    const bool fine = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || c == '.' || c == '/';
    if (!fine) return "may hold only letters, digits and _ - . /";
  }
  return {};
}

/// The rule that lets `source` reach `port` until `expires` (fwknopd's text); `to` is `any`, or
/// the SPA packet's destination with ENABLE_DESTINATION_RULE.
inline std::string rule_text(const ip_address& source, port_spec port, epoch_seconds expires,
                             std::string_view to = "any") {
  std::string r{"pass in quick proto "};
  r.append(std::to_string(static_cast<int>(port.protocol)))
      .append(" from ")
      .append(to_string(source))
      .append(" to ")
      .append(to)
      .append(" port ")
      .append(std::to_string(port.port))
      .append(" keep state label _exp_")
      .append(std::to_string(expires));
  return r;
}

/// The `_exp_` time of a listed rule's label: the digits after `_exp_` (an optional closing
/// quote after them); none when there is no such label or it is not all digits.
inline std::optional<epoch_seconds> label_expiry(std::string_view line) noexcept {
  const std::size_t at = line.find("_exp_");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view digits = line.substr(at + 5);
  digits = digits.substr(0, digits.find_first_of("\" \t"));
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  epoch_seconds t = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    t = t * 10 + (c - '0');
  }
  return t;
}

/// The rules of a `pfctl -a ANCHOR -s rules` listing, one per non-blank line.
inline std::vector<listed_rule> parse_rules(std::string_view text) {
  std::vector<listed_rule> out;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (line.empty()) continue;
    out.push_back({std::string{line}, label_expiry(line)});
  }
  return out;
}

/// True when `pfctl -s Anchors` lists `anchor` (one name a line, indented): the main rule set
/// refers to it, so its rules are evaluated.
inline bool lists_anchor(std::string_view text, std::string_view anchor) noexcept {
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (line == anchor) return true;
  }
  return false;
}

/// The rule set `pfctl -a ANCHOR -f -` reads: the rules, one a line.
inline std::string rule_set(const std::vector<std::string>& rules) {
  std::string out;
  for (const auto& r : rules) out.append(r).append("\n");
  return out;
}

}  // namespace knock::firewall::pfctl
