// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Out-of-line bodies of knock/firewall/iptables.hpp.

#include <knock/firewall/iptables.hpp>

namespace knock::firewall {

namespace detail {
/// The ip6tables next to `iptables` ("/usr/sbin/iptables-legacy" → "/usr/sbin/ip6tables-legacy")
/// when it is an executable; empty otherwise.
inline std::string sibling_ip6tables(const std::string& iptables) {
  const std::size_t base = iptables.rfind('/') + 1;
  const std::size_t at = iptables.find("iptables", base);
  if (at == std::string::npos) return {};
  std::string six = iptables;
  six.replace(at, 8, "ip6tables");
  return system::find_executable(six);
}
}  // namespace detail

inline result<iptables_options, config::config_error> iptables::settings(
    const config::fwknopd_conf& c) {
  const auto bad = [](const config::config_error& e) { return fail(e); };
  iptables_options o;
  auto at_init = c.yes_no("FLUSH_IPT_AT_INIT", true);
  if (!at_init) return bad(at_init.error());
  auto at_exit = c.yes_no("FLUSH_IPT_AT_EXIT", true);
  if (!at_exit) return bad(at_exit.error());
  if (auto check = c.yes_no("ENABLE_IPT_COMMENT_CHECK", true); !check) return bad(check.error());
  o.flush_at_open = *at_init;
  o.flush_at_stop = *at_exit;
  if (c.text("RULES_CHECK_THRESHOLD") == "0") {  // fwknopd's range is 0..131071
    o.rules_check_threshold = 0;
  } else {
    auto every = c.number("RULES_CHECK_THRESHOLD", 20, 131071);
    if (!every) return bad(every.error());
    o.rules_check_threshold = *every;
  }
  if (c.has("FIREWALL_EXE")) {
    const std::string exe = c.text("FIREWALL_EXE");
    if (exe.empty() || exe[0] != '/' || system::find_executable(exe).empty())
      return bad(c.error("FIREWALL_EXE",
                         "'" + config::printable(exe) + "' is not the path of an executable file"));
    o.iptables = exe;
    o.ip6tables = detail::sibling_ip6tables(exe);
  }
  for (const auto& [name, target] : {std::pair{"ENABLE_RULE_PREPEND", &o.prepend},
                                     {"ENABLE_IPT_OUTPUT", &o.use_output},
                                     {"ENABLE_DESTINATION_RULE", &o.use_destination}}) {
    auto on = c.yes_no(name, false);
    if (!on) return bad(on.error());
    *target = *on;
  }
  // The access, output and NAT chains (fwknopd checks every IPT_*_ACCESS, used or not).
  ipt::chain_spec input = o.input();
  for (const auto& [name, target] : {std::pair{"IPT_INPUT_ACCESS", &input},
                                     {"IPT_OUTPUT_ACCESS", &o.output},
                                     {"IPT_FORWARD_ACCESS", &o.nat.forward},
                                     {"IPT_DNAT_ACCESS", &o.nat.dnat},
                                     {"IPT_SNAT_ACCESS", &o.nat.snat_to},
                                     {"IPT_MASQUERADE_ACCESS", &o.nat.masquerade}}) {
    if (!c.has(name)) continue;
    const auto spec = ipt::parse_chain_spec(c.text(name));
    if (!spec)
      return bad(c.error(name, "'" + config::printable(c.text(name)) +
                                   "' is not 'target, table, from chain, position, chain, "
                                   "position' (letters, digits, '_')"));
    *target = *spec;
  }
  o.target = input.target;
  o.table = input.table;
  o.from_chain = input.from_chain;
  o.jump_position = input.jump_position;
  o.chain = input.chain;
  o.rule_position = input.rule_position;
  for (const auto& [name, target] : {std::pair{"ENABLE_IPT_FORWARDING", &o.nat.enabled},
                                     {"ENABLE_IPT_LOCAL_NAT", &o.nat.enabled},
                                     {"ENABLE_IPT_SNAT", &o.nat.snat}}) {
    auto on = c.yes_no(name, false);
    if (!on) return bad(on.error());
    *target = *target || *on;
  }
  return o;
}

inline result<iptables> iptables::make(const setup& s) {
  auto o = settings(s.conf);
  if (!o) return fail(error{o.error().code, config::to_string(o.error())});
  return s.how == mode::install ? open(*std::move(o)) : attach(*std::move(o));
}

inline result<iptables> iptables::attach(iptables_options options) {
  iptables fw;
  for (std::size_t i = 0; i < 2; ++i) {
    const std::string& name = i == 0 ? options.iptables : options.ip6tables;
    if (name.empty()) continue;
    fw.families_[i].exe = system::find_executable(name);
    if (fw.families_[i].exe.empty()) return failed(name + ": not found or not executable");
  }
  if (fw.families_[0].exe.empty()) return failed("no iptables program given");
  // Attached (--fw-list, --fw-flush), the NAT chains are the ones fwknopd.conf enables.
  const auto& nat = options.nat;
  if (nat.enabled) fw.nat_chains_ = {nat.forward, nat.dnat};
  if (nat.enabled && nat.snat)
    fw.nat_chains_.insert(fw.nat_chains_.end(), {nat.snat_to, nat.masquerade});
  fw.commands_ = ipt::commands{std::move(options)};
  return fw;
}

inline result<iptables> iptables::open(iptables_options options) {
  auto made = attach(std::move(options));
  if (!made) return made;
  iptables& fw = *made;
  const bool flush = fw.commands_.settings().flush_at_open;
  for (auto& f : fw.families_) {
    if (f.exe.empty()) continue;
    // The access chain, and the output chain with ENABLE_IPT_OUTPUT (IPv6 too, unlike fwknopd,
    // whose grants are IPv4 only). Without the flush an existing chain is kept, rules and all.
    for (const auto& c : fw.filter_chains()) {
      if (flush) fw.commands_.remove_chain(f.exe, c);
      if (auto ready = fw.commands_.ensure_chain(f.exe, c); !ready)
        return failed(ready.error().message);
    }
    // Rules an earlier run left behind (not flushed) are found by the first expire().
    f.earliest = flush ? never_expires : 0;
  }
  // The NAT chains fwknopd makes at start (IPv4 only).
  const auto& nat = fw.commands_.settings().nat;
  std::vector<ipt::chain_spec> chains;
  if (nat.enabled) chains = {nat.forward, nat.dnat};
  if (nat.enabled && nat.snat) chains.insert(chains.end(), {nat.snat_to, nat.masquerade});
  fw.nat_chains_.clear();
  for (const auto& c : chains)
    if (auto ready = fw.use_chain(c, flush); !ready) return failed(ready.error().message);
  fw.installed_ = true;
  return made;
}

inline std::vector<ipt::chain_spec> iptables::filter_chains() const {
  const auto& o = commands_.settings();
  std::vector<ipt::chain_spec> out{o.input()};
  if (o.use_output) out.push_back(o.output);
  return out;
}

inline std::vector<ipt::chain_spec> iptables::chains_of(const family& f) const {
  auto out = filter_chains();
  if (&f == &families_[0]) out.insert(out.end(), nat_chains_.begin(), nat_chains_.end());
  return out;
}

inline result<void> iptables::repair_after(const family& f, const ipt::chain_spec& c,
                                           const error& what) {
  auto made = commands_.ensure_chain(f.exe, c);
  if (made && *made) {
    ++repairs_;
    return {};
  }
  if (made) return failed(what.message);  // nothing was missing: the failure stands
  return failed(what.message + "; re-creating chain " + c.chain +
                " failed too: " + made.error().message);
}

inline result<void> iptables::add_rule(const family& f, const ipt::chain_spec& c,
                                       const std::vector<std::string>& args) {
  const auto with = [&](std::vector<std::string> head) {
    head.insert(head.end(), args.begin(), args.end());
    return head;
  };
  if (commands_.run(f.exe, with({"-C", c.chain}))) return {};  // spec Q15: no duplicates
  const auto add = commands_.settings().prepend
                       ? with({"-I", c.chain, std::to_string(c.rule_position)})
                       : with({"-A", c.chain});
  // The chain (or its jump) may have been deleted under us: re-create them, and retry once.
  if (auto added = commands_.run(f.exe, add); !added) {
    if (auto fixed = repair_after(f, c, added.error()); !fixed) return fixed;
    if (auto again = commands_.run(f.exe, add); !again) return failed(again.error().message);
  }
  return {};
}

inline result<ip_address> iptables::rule_destination(const grant& g) const {
  if (!commands_.settings().use_destination)
    return g.destination.mapped_v4().value_or(g.destination);
  // fwknopd's UDP server writes `-d 0.0.0.0`, a rule that never matches: refused instead.
  if (auto d = firewall::destination_of(g)) return *d;
  return failed(unknown_destination);
}

inline result<void> iptables::open(const grant& g) try {
  const ip_address source = g.source.mapped_v4().value_or(g.source);
  family& f = families_[source.is_v4() ? 0 : 1];
  if (f.exe.empty())
    return failed(families_[0].exe.empty() ? "not opened" : "IPv6 grant, and no ip6tables");
  const auto destination = rule_destination(g);
  if (!destination) return fail(destination.error());
  const auto& o = commands_.settings();
  for (const port_spec& p : g.ports) {
    // fwknopd's order: the access rule, then (ENABLE_IPT_OUTPUT) the output rule of the port.
    auto added = add_rule(f, o.input(), ipt::rule_arguments(o, source, *destination, p, g.expires));
    if (added) f.earliest = std::min(f.earliest, g.expires);
    if (added && o.use_output)
      added =
          add_rule(f, o.output, ipt::output_rule_arguments(o, source, *destination, p, g.expires));
    if (!added) return added;
  }
  return {};
} catch (...) {  // std::bad_alloc: fail closed, never throw into the server
  return failed("out of memory");
}

inline result<void> iptables::use_chain(const ipt::chain_spec& c, bool flush_first) {
  if (std::find(nat_chains_.begin(), nat_chains_.end(), c) != nat_chains_.end()) return {};
  const std::string& exe = families_[0].exe;
  if (flush_first) commands_.remove_chain(exe, c);
  if (auto ready = commands_.ensure_chain(exe, c); !ready) return fail(ready.error());
  nat_chains_.push_back(c);
  return {};
}

inline result<void> iptables::open_nat(const grant& g) try {
  const ip_address source = g.source.mapped_v4().value_or(g.source);
  family& f = families_[0];
  if (f.exe.empty()) return failed("not opened");
  if (!source.is_v4() || !g.nat.to.is_v4())
    return fail(error{errc::nat_unsupported, "iptables: NAT is IPv4 only (as in fwknopd)"});
  if (g.ports.empty()) return failed("NAT grant without a port");
  const auto destination = rule_destination(g);
  if (!destination) return fail(destination.error());
  const auto& o = commands_.settings();
  const ipt::chain_spec input = o.input();
  const auto rules =
      ipt::nat_rules(o, input, source, *g.ports.begin(), g.nat, g.expires, *destination);
  // Added last rule first: the source NAT, then the DNAT, then the accept that lets traffic in.
  // The kernel fixes a connection's NAT at its first packet; a client that connects the moment
  // the accept exists would otherwise keep a connection made before its MASQUERADE / SNAT rule
  // (the internal host then answers it directly, and the answer never arrives).
  for (auto rule = rules.rbegin(); rule != rules.rend(); ++rule) {
    const ipt::chain_spec& c = *rule->chain;
    if (!(c == input))
      if (auto ready = use_chain(c, false); !ready) return failed(ready.error().message);
    if (auto added = add_rule(f, c, rule->arguments); !added) return added;
  }
  f.earliest = std::min(f.earliest, g.expires);
  return {};
} catch (...) {
  return failed("out of memory");
}

inline result<void> iptables::expire(epoch_seconds now) try {
  const auto every = commands_.settings().rules_check_threshold;
  const bool periodic = every != 0 && ++calls_ % every == 0;
  result<void> outcome;
  for (auto& f : families_) {
    if (f.exe.empty() || (!periodic && now < f.earliest)) continue;
    if (auto r = expire(f, now); !r) outcome = r;
  }
  return outcome;
} catch (...) {
  return failed("out of memory");
}

inline result<void> iptables::expire(family& f, epoch_seconds now) {
  // Whatever happens, the next look is at the next known expiry or periodic check, never at
  // every call: a broken iptables must not turn the daemon loop into an exec storm.
  f.earliest = never_expires;
  result<void> outcome;
  for (const auto& c : chains_of(f))
    if (auto r = expire(f, c, now); !r) outcome = r;
  return outcome;
}

inline result<void> iptables::expire(family& f, const ipt::chain_spec& c, epoch_seconds now) {
  auto listing = commands_.listing(f.exe, c);
  // Deleted under us: re-created (empty, so nothing is due), or an error saying why not.
  if (!listing) return repair_after(f, c, listing.error());
  unsigned deleted = 0;
  result<void> outcome;
  for (const listed_rule& r : ipt::parse_listing(listing->output)) {
    if (r.expires > now) {
      f.earliest = std::min(f.earliest, r.expires);
      continue;
    }
    // Numbers shift down as rules go: fwknopd deletes `number - already deleted`.
    auto gone =
        commands_.run(f.exe, {"-t", c.table, "-D", c.chain, std::to_string(r.number - deleted)});
    if (gone)
      ++deleted;
    else
      outcome = failed(gone.error().message);
  }
  return outcome;
}

inline result<std::vector<std::string>> iptables::list() try {
  if (families_[0].exe.empty()) return failed("not opened");
  std::vector<std::string> lines;
  for (const auto& f : families_) {
    if (f.exe.empty()) continue;
    auto r = commands_.listing(f.exe);
    if (!r) return failed(r.error().message);
    ipt::append_lines(r->output, lines);
    const auto chains = chains_of(f);
    for (std::size_t i = 1; i < chains.size(); ++i)  // a chain not made (yet) has nothing to show
      if (auto n = commands_.listing(f.exe, chains[i])) ipt::append_lines(n->output, lines);
  }
  return lines;
} catch (...) {
  return failed("out of memory");
}

inline result<void> iptables::flush() try {
  if (families_[0].exe.empty()) return failed("not opened");
  const auto& o = commands_.settings();
  for (auto& f : families_) {
    if (f.exe.empty()) continue;
    for (const auto& c : chains_of(f)) commands_.remove_chain(f.exe, c);
    f.earliest = never_expires;
    if (commands_.run(f.exe, {"-t", o.table, "-n", "-L", o.chain}))
      return failed(f.exe + ": chain " + o.chain + " is still there after -F and -X");
  }
  return {};
} catch (...) {
  return failed("out of memory");
}

}  // namespace knock::firewall
