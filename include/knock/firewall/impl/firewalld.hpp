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
  for (std::string_view v :
       {"FIREWD_INPUT_ACCESS", "FIREWD_OUTPUT_ACCESS", "FIREWD_FORWARD_ACCESS",
        "FIREWD_DNAT_ACCESS", "FIREWD_SNAT_ACCESS", "FIREWD_MASQUERADE_ACCESS"}) {
    if (!c.has(v)) continue;
    auto a = firewalld_rules::parse_chain_access(c.text(v));
    if (!a) {
      std::string m{"'"};
      m.append(config::printable(c.text(v)));
      m.append("' is not 'TARGET, table, from chain, jump position, chain, rule position'");
      return bad(c.error(v, std::move(m)));
    }
    if (v == "FIREWD_INPUT_ACCESS") o.input = *std::move(a);
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

inline ipt::options firewalld::ipt_options() const {
  ipt::options o;
  o.target = options_.input.target;
  o.table = options_.input.table;
  o.from_chain = options_.input.from_chain;
  o.jump_position = options_.input.jump_position;
  o.chain = options_.input.chain;
  o.rule_position = options_.input.rule_position;
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
  fw.options_ = std::move(o);
  return fw;
}

inline result<void> firewalld::ensure_chain(bool v6) {
  const auto o = ipt_options();
  if (!direct(v6, {"-t", o.table, "-N", o.chain}))
    if (auto there = direct(v6, {"-t", o.table, "-n", "-L", o.chain}); !there)
      return fail(there.error());
  if (direct(v6, {"-t", o.table, "-C", o.from_chain, "-j", o.chain})) return {};
  auto jump = direct(
      v6, {"-t", o.table, "-I", o.from_chain, std::to_string(o.jump_position), "-j", o.chain});
  if (!jump) return fail(jump.error());
  return {};
}

inline void firewalld::remove_chain(bool v6) {
  const auto o = ipt_options();
  for (int i = 0; i < 16; ++i)
    if (!direct(v6, {"-t", o.table, "-D", o.from_chain, "-j", o.chain})) break;
  (void)direct(v6, {"-t", o.table, "-F", o.chain});
  (void)direct(v6, {"-t", o.table, "-X", o.chain});
}

inline result<firewalld> firewalld::open(firewalld_options o) {
  auto made = attach(std::move(o));
  if (!made) return made;
  firewalld& fw = *made;
  if (fw.options_.rich_rules) {
    if (fw.options_.flush_at_open)
      if (auto f = fw.flush(); !f) return fail(f.error());
  } else {
    if (fw.options_.flush_at_open) fw.remove_chain(false);
    if (auto ready = fw.ensure_chain(false); !ready) return fail(ready.error());
    if (fw.options_.flush_at_open) fw.remove_chain(true);
    (void)fw.ensure_chain(true);  // IPv6 grants fail later, saying why, if this did not work
    fw.earliest_[0] = fw.earliest_[1] = fw.options_.flush_at_open ? never_expires : 0;
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
  const bool v6 = !source.is_v4();
  const auto o = ipt_options();
  for (const port_spec& p : g.ports) {
    auto args = ipt::rule_arguments(o, source, p, g.expires);
    std::vector<std::string> check{"-C", o.chain};
    check.insert(check.end(), args.begin(), args.end());
    if (direct(v6, check)) continue;  // already there
    std::vector<std::string> add{"-A", o.chain};
    add.insert(add.end(), args.begin(), args.end());
    if (auto added = direct(v6, add); !added) return fail(added.error());
    earliest_[v6] = std::min(earliest_[v6], g.expires);
  }
  return {};
} catch (...) {  // std::bad_alloc: fail closed, never throw into the server
  return cmd_.failed("out of memory");
}

inline result<void> firewalld::expire(epoch_seconds now) try {
  if (options_.rich_rules) return {};  // firewalld's --timeout removes them
  const auto o = ipt_options();
  result<void> outcome;
  for (const bool v6 : {false, true}) {
    if (now < earliest_[v6]) continue;
    earliest_[v6] = never_expires;
    auto listing = direct(v6, {"-t", o.table, "-L", o.chain, "--line-numbers", "-n"});
    if (!listing) {
      if (!v6) outcome = fail(listing.error());
      continue;
    }
    unsigned deleted = 0;
    for (const auto& r : ipt::parse_listing(listing->output)) {
      if (r.expires > now) {
        earliest_[v6] = std::min(earliest_[v6], r.expires);
        continue;
      }
      auto gone = direct(v6, {"-t", o.table, "-D", o.chain, std::to_string(r.number - deleted)});
      if (gone)
        ++deleted;
      else
        outcome = fail(gone.error());
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
  const auto o = ipt_options();
  for (const bool v6 : {false, true}) {
    auto r = direct(v6, {"-t", o.table, "-L", o.chain, "--line-numbers", "-n"});
    if (r)
      add_lines(r->output);
    else if (!v6)
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
  remove_chain(false);
  remove_chain(true);
  earliest_[0] = earliest_[1] = never_expires;
  return {};
} catch (...) {
  return cmd_.failed("out of memory");
}

}  // namespace knock::firewall
