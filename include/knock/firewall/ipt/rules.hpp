// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The rules knock's iptables backend writes and reads, as fwknopd 2.6.10 writes and reads them
/// (spec §10): its options (fwknopd.conf's `IPT_INPUT_ACCESS` and friends), the arguments of one
/// access rule, and the parse of a chain listing. Pure functions, no process: unit-tested on their
/// own (test/firewall/iptables_test.cpp).

#include <knock/core/grant.hpp>
#include <knock/core/net.hpp>
#include <knock/core/time.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace knock::firewall::ipt {

/// fwknopd.conf's `IPT_INPUT_ACCESS` (`ACCEPT, filter, INPUT, 1, FWKNOP_INPUT, 1`) and friends.
struct options {
  std::string iptables = "iptables";    ///< `FIREWALL_EXE`: a path, or a name looked up in sbin/bin
  std::string ip6tables = "ip6tables";  ///< for IPv6 sources; empty: IPv4 only
  std::string target = "ACCEPT";
  std::string table = "filter";
  std::string from_chain = "INPUT";
  unsigned jump_position = 1;
  std::string chain = "FWKNOP_INPUT";
  unsigned rule_position = 1;           ///< where `prepend` inserts
  bool prepend = false;                 ///< `ENABLE_RULE_PREPEND`: `-I` instead of `-A`
  bool flush_at_open = true;            ///< `FLUSH_IPT_AT_INIT`
  bool flush_at_stop = true;            ///< `FLUSH_IPT_AT_EXIT`: `stop()` flushes
  unsigned rules_check_threshold = 20;  ///< `RULES_CHECK_THRESHOLD`: full check every N calls
  bool wait_for_lock = false;           ///< pass `-w` (legacy iptables' xtables lock)
  std::chrono::milliseconds command_timeout{10'000};
};

/// A rule of the chain listing that carries an `_exp_` comment.
struct listed_rule {
  unsigned number = 0;        ///< 1-based, as `--line-numbers` prints it
  epoch_seconds expires = 0;  ///< the `_exp_` time
  friend bool operator==(const listed_rule&, const listed_rule&) = default;
};

/// fwknopd's parse of `iptables -L <chain> --line-numbers -n` (spec §10.3): per line, the up to 11
/// characters after `_exp_`, cut at `*`, trimmed, all digits; the rule number starts the line.
inline std::vector<listed_rule> parse_listing(std::string_view text) {
  std::vector<listed_rule> out;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    const std::size_t at = line.find("_exp_");
    if (at == std::string_view::npos) continue;
    std::string_view stamp = line.substr(at + 5, 11);
    stamp = stamp.substr(0, stamp.find('*'));
    while (!stamp.empty() && stamp.front() == ' ') stamp.remove_prefix(1);
    while (!stamp.empty() && stamp.back() == ' ') stamp.remove_suffix(1);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    listed_rule r;
    bool ok = !stamp.empty() && !line.empty() && line.front() >= '1' && line.front() <= '9';
    for (char c : stamp) ok = ok && c >= '0' && c <= '9';
    for (char c : stamp) r.expires = r.expires * 10 + (c - '0');
    for (; ok && !line.empty() && line.front() >= '0' && line.front() <= '9'; line.remove_prefix(1))
      r.number = r.number * 10 + static_cast<unsigned>(line.front() - '0');
    if (ok) out.push_back(r);
  }
  return out;
}

/// The arguments of one access rule after `-A <chain>` / `-C <chain>` (spec §10.2).
inline std::vector<std::string> rule_arguments(const options& o, const ip_address& source,
                                               port_spec port, epoch_seconds expires) {
  return {"-t",        o.table,
          "-p",        std::to_string(static_cast<int>(port.protocol)),
          "-s",        to_string(source),
          "-d",        source.is_v4() ? "0.0.0.0/0" : "::/0",
          "--dport",   std::to_string(port.port),
          "-m",        "comment",
          "--comment", "_exp_" + std::to_string(expires),
          "-j",        o.target};
}

/// The lines of `text`, without their newlines.
inline void append_lines(std::string_view text, std::vector<std::string>& out) {
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    out.emplace_back(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  }
}

}  // namespace knock::firewall::ipt
