// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Out-of-line bodies of knock/firewall/firewalld.hpp.

#include <knock/firewall/firewalld.hpp>

namespace knock::firewall {

namespace detail {
/// `text` without the blanks and newlines around it.
inline std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.remove_suffix(1);
  return text;
}
}  // namespace detail

inline result<firewalld_options, config::config_error> firewalld::settings(
    const config::fwknopd_conf& c) {
  const auto bad = [](const config::config_error& e) { return fail(e); };
  firewalld_options o;
  auto at_init = c.yes_no("FLUSH_FIREWD_AT_INIT", true);
  if (!at_init) return bad(at_init.error());
  auto at_exit = c.yes_no("FLUSH_FIREWD_AT_EXIT", true);
  if (!at_exit) return bad(at_exit.error());
  if (auto check = c.yes_no("ENABLE_FIREWD_COMMENT_CHECK", true); !check) return bad(check.error());
  auto rich = c.yes_no("KNOCK_FIREWD_RICH_RULES", false);
  if (!rich) return bad(rich.error());
  // Every FIREWD_*_ACCESS line is checked, used or not (as fwknopd's start does).
  for (const auto& [v, target] : {std::pair{"FIREWD_INPUT_ACCESS", &o.input},
                                  {"FIREWD_OUTPUT_ACCESS", &o.output_chain},
                                  {"FIREWD_FORWARD_ACCESS", &o.nat.forward},
                                  {"FIREWD_DNAT_ACCESS", &o.nat.dnat},
                                  {"FIREWD_SNAT_ACCESS", &o.nat.snat_to},
                                  {"FIREWD_MASQUERADE_ACCESS", &o.nat.masquerade}}) {
    if (!c.has(v)) continue;
    auto a = firewalld_rules::parse_chain_access(c.text(v));
    if (!a) {
      std::string m{"'"};
      m.append(config::printable(c.text(v)));
      m.append("' is not 'TARGET, table, from chain, jump position, chain, rule position'");
      return bad(c.error(v, std::move(m)));
    }
    *target = *std::move(a);
  }
  // fwknopd's switches: the output chain, and the NAT chains (forwarding or local NAT: forward
  // and DNAT; SNAT: the SNAT and MASQUERADE chains too).
  for (const auto& [v, target] : {std::pair{"ENABLE_FIREWD_OUTPUT", &o.output},
                                  {"ENABLE_DESTINATION_RULE", &o.use_destination},
                                  {"ENABLE_RULE_PREPEND", &o.prepend},
                                  {"ENABLE_FIREWD_FORWARDING", &o.nat.enabled},
                                  {"ENABLE_FIREWD_LOCAL_NAT", &o.nat.enabled},
                                  {"ENABLE_FIREWD_SNAT", &o.nat.snat}}) {
    auto on = c.yes_no(v, false);
    if (!on) return bad(on.error());
    if (*on && *rich)
      return bad(c.error(
          v,
          "needs fwknopd's direct rules: knock's rich rules "
          "(KNOCK_FIREWD_RICH_RULES Y) have no output, NAT, destination or prepended rules"));
    *target = *target || *on;
  }
  o.zone = c.text("KNOCK_FIREWD_ZONE");
  for (char ch : o.zone)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '_' || ch == '-' || ch == '.' || ch == '/'))
      return bad(c.error("KNOCK_FIREWD_ZONE", "is not a firewalld zone name"));
  if (c.has("KNOCK_FIREWD_ZONE") && !*rich)
    return bad(c.error("KNOCK_FIREWD_ZONE", "is used only with KNOCK_FIREWD_RICH_RULES Y"));
  auto exe = firewall_exe(c, "firewall-cmd");
  if (!exe) return bad(exe.error());
  o.firewall_cmd = exe->empty() ? std::string{"firewall-cmd"} : *exe;
  o.flush_at_open = *at_init;
  o.flush_at_stop = *at_exit;
  o.rich_rules = *rich;
  return o;
}

inline ipt::options firewalld::ipt_options(const firewalld_options& options) {
  ipt::options o;
  o.target = options.input.target;
  o.table = options.input.table;
  o.from_chain = options.input.from_chain;
  o.jump_position = options.input.jump_position;
  o.chain = options.input.chain;
  o.rule_position = options.input.rule_position;
  o.nat = options.nat;
  o.use_destination = options.use_destination;
  return o;
}

inline result<firewalld> firewalld::attach(firewalld_options o) {
  firewalld fw;
  const std::string exe = system::find_executable(o.firewall_cmd);
  fw.cmd_ = tool{"firewalld", exe, o.command_timeout};
  if (exe.empty()) return fw.cmd_.failed(o.firewall_cmd.append(": not found or not executable"));
  auto state = fw.cmd_.run({"--state"});
  if (!state) return fw.cmd_.failed("firewalld is not running: " + state.error().message);
  if (o.rich_rules) {
    fw.zone_ = o.zone;
    if (fw.zone_.empty()) {
      auto def = fw.cmd_.run({"--get-default-zone"});
      if (!def) return fail(def.error());
      fw.zone_ = detail::trimmed(def->output);
    }
    auto zones = fw.cmd_.run({"--get-zones"});
    if (!zones) return fail(zones.error());
    const std::string list{detail::trimmed(zones->output)};
    const std::string padded = " " + list + " ";
    if (padded.find(" " + fw.zone_ + " ") == std::string::npos) {
      std::string m{"zone '"};
      m.append(fw.zone_).append("' does not exist (firewalld's zones: ").append(list).append(")");
      return fw.cmd_.failed(m);
    }
  }
  // Attached (--fw-list, --fw-flush), the NAT chains are the ones fwknopd.conf enables.
  if (!o.rich_rules && o.nat.enabled) fw.nat_chains_ = {o.nat.forward, o.nat.dnat};
  if (!o.rich_rules && o.nat.enabled && o.nat.snat)
    fw.nat_chains_.insert(fw.nat_chains_.end(), {o.nat.snat_to, o.nat.masquerade});
  fw.options_ = std::move(o);
  return fw;
}

inline result<void> firewalld::ensure_chain(bool v6, const ipt::chain_spec& c) {
  if (!direct(v6, {"-t", c.table, "-N", c.chain}))
    if (auto there = direct(v6, {"-t", c.table, "-n", "-L", c.chain}); !there)
      return fail(there.error());
  if (direct(v6, {"-t", c.table, "-C", c.from_chain, "-j", c.chain})) return {};
  auto jump = direct(
      v6, {"-t", c.table, "-I", c.from_chain, std::to_string(c.jump_position), "-j", c.chain});
  if (!jump) return fail(jump.error());
  return {};
}

inline void firewalld::remove_chain(bool v6, const ipt::chain_spec& c) {
  for (int i = 0; i < 16; ++i)
    if (!direct(v6, {"-t", c.table, "-D", c.from_chain, "-j", c.chain})) break;
  (void)direct(v6, {"-t", c.table, "-F", c.chain});
  (void)direct(v6, {"-t", c.table, "-X", c.chain});
}

inline std::vector<ipt::chain_spec> firewalld::chains(bool v6) const {
  std::vector<ipt::chain_spec> out{options_.input};
  if (options_.output) out.push_back(options_.output_chain);
  if (!v6) out.insert(out.end(), nat_chains_.begin(), nat_chains_.end());
  return out;
}

inline result<void> firewalld::use_chain(const ipt::chain_spec& c, bool flush_first) {
  if (std::find(nat_chains_.begin(), nat_chains_.end(), c) != nat_chains_.end()) return {};
  if (flush_first) remove_chain(false, c);
  if (auto ready = ensure_chain(false, c); !ready) return fail(ready.error());
  nat_chains_.push_back(c);
  return {};
}

inline result<void> firewalld::add_rule(bool v6, const ipt::chain_spec& c,
                                        const std::vector<std::string>& args) {
  const auto with = [&](std::vector<std::string> head) {
    head.insert(head.end(), args.begin(), args.end());
    return head;
  };
  if (direct(v6, with({"-C", c.chain}))) return {};  // already there
  // ENABLE_RULE_PREPEND: `-I <chain>` (first), as fwknopd's firewalld build does.
  if (auto added = direct(v6, with({options_.prepend ? "-I" : "-A", c.chain})); !added)
    return fail(added.error());
  return {};
}

inline result<firewalld> firewalld::open(firewalld_options o) {
  auto made = attach(std::move(o));
  if (!made) return made;
  firewalld& fw = *made;
  if (fw.options_.rich_rules) {
    if (fw.options_.flush_at_open)
      if (auto f = fw.flush(); !f) return fail(f.error());
  } else {
    const bool flush = fw.options_.flush_at_open;
    const auto nat = std::move(fw.nat_chains_);  // made below, in fwknopd's order
    fw.nat_chains_.clear();
    for (const bool v6 : {false, true})
      for (const auto& c : fw.chains(v6)) {
        if (flush) fw.remove_chain(v6, c);
        // IPv6 grants fail later, saying why, if this did not work
        if (auto ready = fw.ensure_chain(v6, c); !ready && !v6) return fail(ready.error());
      }
    for (const auto& c : nat)
      if (auto ready = fw.use_chain(c, flush); !ready) return fail(ready.error());
    fw.earliest_[0] = fw.earliest_[1] = flush ? never_expires : 0;
  }
  fw.installed_ = true;
  return made;
}

inline result<void> firewalld::open(const grant& g) try {
  if (cmd_.exe().empty()) return cmd_.failed("not opened");
  const ip_address source = g.source.mapped_v4().value_or(g.source);
  if (options_.rich_rules) {
    const std::string timeout =
        "--timeout=" + std::to_string(std::max<std::uint32_t>(g.timeout, 1));
    for (const port_spec& p : g.ports) {
      auto added = cmd_.run(
          {zone_argument(), "--add-rich-rule=" + firewalld_rules::rich_rule(source, p), timeout});
      if (!added) return fail(added.error());
    }
    return {};
  }
  if (options_.use_destination && !destination_of(g)) return cmd_.failed(unknown_destination);
  return add_rules(direct_rules(options_, g), g.expires, false);
} catch (...) {  // std::bad_alloc: fail closed, never throw into the server
  return cmd_.failed("out of memory");
}

inline result<void> firewalld::open_nat(const grant& g) try {
  if (cmd_.exe().empty()) return cmd_.failed("not opened");
  const ip_address source = g.source.mapped_v4().value_or(g.source);
  if (options_.rich_rules)
    return fail(error{errc::nat_unsupported,
                      "firewalld: knock's rich rules (KNOCK_FIREWD_RICH_RULES Y) have no NAT"});
  if (!source.is_v4() || !g.nat.to.is_v4())
    return fail(error{errc::nat_unsupported, "firewalld: NAT is IPv4 only (as in fwknopd)"});
  if (g.ports.empty()) return cmd_.failed("NAT grant without a port");
  if (options_.use_destination && !destination_of(g)) return cmd_.failed(unknown_destination);
  return add_rules(direct_rules(options_, g), g.expires, true);
} catch (...) {
  return cmd_.failed("out of memory");
}

inline std::vector<firewalld_rules::direct_rule> firewalld::direct_rules(
    const firewalld_options& options, const grant& g) {
  std::vector<firewalld_rules::direct_rule> out;
  const ip_address source = g.source.mapped_v4().value_or(g.source);
  const ip_address destination = g.destination.mapped_v4().value_or(g.destination);
  const bool v6 = !source.is_v4();
  const auto o = ipt_options(options);
  if (g.nat) {
    if (g.ports.empty()) return out;
    for (auto& r :
         ipt::nat_rules(o, options.input, source, *g.ports.begin(), g.nat, g.expires, destination))
      out.push_back({false, *r.chain, std::move(r.arguments)});
    return out;
  }
  const std::string host = ipt::host_match(o, source, destination);
  for (const port_spec& p : g.ports) {
    out.push_back({v6, options.input, ipt::rule_arguments(o, source, destination, p, g.expires)});
    if (options.output)
      out.push_back({v6, options.output_chain,
                     firewalld_rules::output_rule_arguments(options.output_chain, source, host, p,
                                                            g.expires)});
  }
  return out;
}

inline result<void> firewalld::add_rules(const std::vector<firewalld_rules::direct_rule>& rules,
                                         epoch_seconds expires, bool nat) {
  for (const auto& r : rules) {
    // A NAT chain not made at start (FORCE_SNAT without ENABLE_FIREWD_SNAT) is made first.
    if (nat && !(r.chain == options_.input))
      if (auto ready = use_chain(r.chain, false); !ready) return ready;
    if (auto added = add_rule(r.v6, r.chain, r.arguments); !added) return added;
    earliest_[r.v6] = std::min(earliest_[r.v6], expires);
  }
  return {};
}

inline result<void> firewalld::expire(epoch_seconds now) try {
  if (options_.rich_rules) return {};  // firewalld's --timeout removes them
  result<void> outcome;
  for (const bool v6 : {false, true}) {
    if (now < earliest_[v6]) continue;
    earliest_[v6] = never_expires;
    for (const auto& c : chains(v6)) {
      auto listing = direct(v6, {"-t", c.table, "-L", c.chain, "--line-numbers", "-n"});
      if (!listing) {
        if (!v6) outcome = fail(listing.error());
        continue;
      }
      unsigned deleted = 0;  // numbers shift down as rules go
      for (const auto& r : ipt::parse_listing(listing->output)) {
        if (r.expires > now) {
          earliest_[v6] = std::min(earliest_[v6], r.expires);
          continue;
        }
        auto gone = direct(v6, {"-t", c.table, "-D", c.chain, std::to_string(r.number - deleted)});
        if (gone)
          ++deleted;
        else
          outcome = fail(gone.error());
      }
    }
  }
  return outcome;
} catch (...) {
  return cmd_.failed("out of memory");
}

inline result<std::vector<std::string>> firewalld::list() try {
  std::vector<std::string> lines;
  const auto add_lines = [&](std::string_view text) {
    ipt::append_lines(detail::trimmed(text), lines);
  };
  if (options_.rich_rules) {
    auto r = cmd_.run({zone_argument(), "--list-rich-rules"});
    if (!r) return fail(r.error());
    add_lines(r->output);
    return lines;
  }
  for (const bool v6 : {false, true})
    for (const auto& c : chains(v6)) {
      auto r = direct(v6, {"-t", c.table, "-L", c.chain, "--line-numbers", "-n"});
      if (r)
        add_lines(r->output);
      else if (!v6 && c == options_.input)
        return fail(r.error());
    }
  return lines;
} catch (...) {
  return cmd_.failed("out of memory");
}

inline result<void> firewalld::flush() try {
  if (cmd_.exe().empty()) return cmd_.failed("not opened");
  if (options_.rich_rules) {
    auto r = cmd_.run({zone_argument(), "--list-rich-rules"});
    if (!r) return fail(r.error());
    std::vector<std::string> rules;
    ipt::append_lines(r->output, rules);
    for (const auto& rule : rules)
      if (firewalld_rules::is_grant_rule(rule))
        if (auto gone = cmd_.run({zone_argument(), "--remove-rich-rule=" + rule}); !gone)
          return fail(gone.error());
    return {};
  }
  for (const bool v6 : {false, true})
    for (const auto& c : chains(v6)) remove_chain(v6, c);
  earliest_[0] = earliest_[1] = never_expires;
  return {};
} catch (...) {
  return cmd_.failed("out of memory");
}

}  // namespace knock::firewall
