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
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock::firewall::ipt {

/// One of fwknopd.conf's `IPT_*_ACCESS` values: `target, table, from chain, jump position,
/// chain, rule position` ("DNAT, nat, PREROUTING, 1, FWKNOP_PREROUTING, 1").
struct chain_spec {
  std::string target, table, from_chain;
  unsigned jump_position = 1;
  std::string chain;
  unsigned rule_position = 1;
  friend bool operator==(const chain_spec&, const chain_spec&) = default;
};

/// fwknopd's defaults for the NAT chains.
inline chain_spec default_forward() {
  return {"ACCEPT", "filter", "FORWARD", 1, "FWKNOP_FORWARD", 1};
}
inline chain_spec default_dnat() {
  return {"DNAT", "nat", "PREROUTING", 1, "FWKNOP_PREROUTING", 1};
}
inline chain_spec default_snat() {
  return {"SNAT", "nat", "POSTROUTING", 1, "FWKNOP_POSTROUTING", 1};
}
inline chain_spec default_masquerade() {
  return {"MASQUERADE", "nat", "POSTROUTING", 1, "FWKNOP_MASQUERADE", 1};
}
/// fwknopd's default IPT_OUTPUT_ACCESS.
inline chain_spec default_output() { return {"ACCEPT", "filter", "OUTPUT", 1, "FWKNOP_OUTPUT", 1}; }

/// Parses an `IPT_*_ACCESS` value as fwknopd takes it: six comma-separated fields of letters,
/// digits, `_` and blanks, the positions whole numbers from 1.
inline std::optional<chain_spec> parse_chain_spec(std::string_view text) {
  std::vector<std::string> f;
  std::string cur;
  for (char c : text) {
    const bool word =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (c == ',') {
      f.push_back(cur);
      cur.clear();
    } else if (word) {
      cur += c;
    } else if (c != ' ' && c != '\t') {
      return std::nullopt;
    }
  }
  f.push_back(cur);
  if (f.size() != 6) return std::nullopt;
  for (const auto& x : f)
    if (x.empty()) return std::nullopt;
  const auto number = [](const std::string& x) -> std::optional<unsigned> {
    if (x.size() > 5) return std::nullopt;
    unsigned v = 0;
    for (char c : x) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    return v == 0 ? std::nullopt : std::optional<unsigned>{v};
  };
  const auto jump = number(f[3]), rule = number(f[5]);
  if (!jump || !rule) return std::nullopt;
  return chain_spec{f[0], f[1], f[2], *jump, f[4], *rule};
}

/// The NAT chains, as fwknopd.conf sets them up.
struct nat_chains {
  bool enabled = false;  ///< ENABLE_IPT_FORWARDING or ENABLE_IPT_LOCAL_NAT: forward + DNAT chains
  bool snat = false;     ///< ENABLE_IPT_SNAT: SNAT + MASQUERADE chains made at start too
  chain_spec forward = default_forward();        ///< IPT_FORWARD_ACCESS
  chain_spec dnat = default_dnat();              ///< IPT_DNAT_ACCESS
  chain_spec snat_to = default_snat();           ///< IPT_SNAT_ACCESS
  chain_spec masquerade = default_masquerade();  ///< IPT_MASQUERADE_ACCESS
};

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
  nat_chains nat;  ///< the NAT chains (IPv4 only, as fwknopd)
  /// `ENABLE_IPT_OUTPUT`: a second rule per port of a grant, in `output` (the replies, by their
  /// source port), as fwknopd writes it.
  bool use_output = false;
  chain_spec output = default_output();  ///< `IPT_OUTPUT_ACCESS`
  /// `ENABLE_DESTINATION_RULE`: the access, local-NAT, output and DNAT rules match the SPA
  /// packet's destination address instead of any address.
  bool use_destination = false;

  /// The access chain (IPT_INPUT_ACCESS) as a `chain_spec`.
  chain_spec input() const {
    return {target, table, from_chain, jump_position, chain, rule_position};
  }
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

/// What a rule matches as the host's side (`-d` of an access rule, `-s` of an output rule): the
/// SPA packet's destination with `use_destination` (ENABLE_DESTINATION_RULE), else any address of
/// `source`'s family.
inline std::string host_match(const options& o, const ip_address& source,
                              const ip_address& destination) {
  if (o.use_destination) return to_string(destination);
  return source.is_v4() ? "0.0.0.0/0" : "::/0";
}

namespace detail {
inline std::vector<std::string> access_arguments(const options& o, const ip_address& source,
                                                 std::string host, port_spec port,
                                                 epoch_seconds expires) {
  return {"-t",        o.table,
          "-p",        std::to_string(static_cast<int>(port.protocol)),
          "-s",        to_string(source),
          "-d",        std::move(host),
          "--dport",   std::to_string(port.port),
          "-m",        "comment",
          "--comment", "_exp_" + std::to_string(expires),
          "-j",        o.target};
}
}  // namespace detail

/// The arguments of one access rule after `-A <chain>` / `-C <chain>` (spec §10.2), `-d` the
/// packet's `destination` with ENABLE_DESTINATION_RULE (fwknopd 2.6.10: `-d 10.77.0.1`).
inline std::vector<std::string> rule_arguments(const options& o, const ip_address& source,
                                               const ip_address& destination, port_spec port,
                                               epoch_seconds expires) {
  return detail::access_arguments(o, source, host_match(o, source, destination), port, expires);
}
/// The access rule to any destination (`-d 0.0.0.0/0` or `::/0`), whatever `use_destination`.
inline std::vector<std::string> rule_arguments(const options& o, const ip_address& source,
                                               port_spec port, epoch_seconds expires) {
  return detail::access_arguments(o, source, source.is_v4() ? "0.0.0.0/0" : "::/0", port, expires);
}

/// The arguments of the output rule of one port after `-A <chain>` / `-C <chain>`
/// (ENABLE_IPT_OUTPUT), in fwknopd 2.6.10's order: `-t filter -p 6 -d <source> -s <host> --sport
/// 22 -m comment --comment _exp_<T> -j ACCEPT`, the host `0.0.0.0/0` unless
/// ENABLE_DESTINATION_RULE.
inline std::vector<std::string> output_rule_arguments(const options& o, const ip_address& source,
                                                      const ip_address& destination, port_spec port,
                                                      epoch_seconds expires) {
  return {"-t",        o.output.table,
          "-p",        std::to_string(static_cast<int>(port.protocol)),
          "-d",        to_string(source),
          "-s",        host_match(o, source, destination),
          "--sport",   std::to_string(port.port),
          "-m",        "comment",
          "--comment", "_exp_" + std::to_string(expires),
          "-j",        o.output.target};
}

/// One rule of a NAT grant: the chain it goes to and its arguments after `-A <chain>`.
struct chain_rule {
  const chain_spec* chain;
  std::vector<std::string> arguments;
};

/// The rules of a NAT grant from `source`, in fwknopd 2.6's shapes and order: for `--nat-local`
/// the access rule to the local port, else the forward rule (FORWARD_ALL: every port); the DNAT
/// rule of the first port (unless DISABLE_DNAT); the SNAT or MASQUERADE rule when asked. With
/// ENABLE_DESTINATION_RULE the local access rule and the DNAT rule match `destination` (the SPA
/// packet's), as fwknopd's do; the forward and source-NAT rules never do.
inline std::vector<chain_rule> nat_rules(const options& o, const chain_spec& input,
                                         const ip_address& source, port_spec first,
                                         const nat_spec& n, epoch_seconds expires,
                                         const ip_address& destination = {}) {
  std::vector<chain_rule> out;
  const std::string src = to_string(source),
                    proto = std::to_string(static_cast<int>(first.protocol));
  const std::string exp = "_exp_" + std::to_string(expires), to = to_string(n.to);
  const std::string to_port = std::to_string(n.to_port), port = std::to_string(first.port);
  const auto comment = [&](std::vector<std::string> head, const chain_spec& c,
                           std::vector<std::string> tail) {
    head.insert(head.end(), {"-m", "comment", "--comment", exp, "-j", c.target});
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  if (n.kind == nat_kind::local) {
    out.push_back(
        {&input, rule_arguments(o, source, destination, {first.protocol, n.to_port}, expires)});
  } else if (n.forward_all) {
    out.push_back(
        {&o.nat.forward, comment({"-t", o.nat.forward.table, "-s", src}, o.nat.forward, {})});
  } else {
    out.push_back({&o.nat.forward,
                   comment({"-t", o.nat.forward.table, "-p", proto, "-s", src, "--dport", to_port},
                           o.nat.forward, {})});
  }
  if (n.dnat) {
    const chain_spec& c = o.nat.dnat;
    const std::string host = host_match(o, source, destination);
    if (n.forward_all)
      out.push_back(
          {&c, comment({"-t", c.table, "-s", src, "-d", host}, c, {"--to-destination", to})});
    else
      out.push_back(
          {&c, comment({"-t", c.table, "-p", proto, "-s", src, "-d", host, "--dport", port}, c,
                       {"--to-destination", to + ":" + to_port})});
  }
  if (n.rewrite != source_nat::none) {
    const bool snat = n.rewrite == source_nat::snat;
    const chain_spec& c = snat ? o.nat.snat_to : o.nat.masquerade;
    std::vector<std::string> target;
    if (snat) target = {"--to-source", to_string(n.rewrite_to)};
    if (n.forward_all)
      out.push_back({&c, comment({"-t", c.table, "-s", src}, c, target)});
    else {
      if (!snat) target = {"--to-ports", port};
      out.push_back(
          {&c, comment({"-t", c.table, "-p", proto, "-d", to, "--dport", to_port}, c, target)});
    }
  }
  return out;
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
