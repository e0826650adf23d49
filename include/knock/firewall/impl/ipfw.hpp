// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Out-of-line bodies of knock/firewall/ipfw.hpp.

#include <knock/firewall/ipfw.hpp>

namespace knock::firewall {

namespace detail {
/// The variable `name` as a whole number in `low..high` (`fallback` when unset); an error at its
/// line saying the range (and `why`, when ipfw's limit is narrower than fwknopd's).
inline result<std::uint32_t, config::config_error> whole_number(
    const config::fwknopd_conf& c, std::string_view name, std::uint32_t fallback, std::uint32_t low,
    std::uint32_t high, std::string_view why = {}) {
  if (!c.has(name)) return fallback;
  const std::string text = c.text(name);
  std::uint64_t n = 0;
  bool ok = !text.empty() && text.size() <= 10;
  for (char ch : text) ok = ok && ch >= '0' && ch <= '9', n = n * 10 + (ch - '0');
  if (ok && n >= low && n <= high) return static_cast<std::uint32_t>(n);
  std::string m{"'"};
  m.append(config::printable(text)).append("' is not a whole number in ");
  m.append(std::to_string(low)).append("..").append(std::to_string(high)).append(why);
  return fail(c.error(name, std::move(m)));
}
}  // namespace detail

inline result<ipfw_rules::options, config::config_error> ipfw::settings(
    const config::fwknopd_conf& c) {
  ipfw_rules::options o;
  const auto bad = [](const config::config_error& e) { return fail(e); };
  auto at_init = c.yes_no("FLUSH_IPFW_AT_INIT", true);
  if (!at_init) return bad(at_init.error());
  auto at_exit = c.yes_no("FLUSH_IPFW_AT_EXIT", true);
  if (!at_exit) return bad(at_exit.error());
  auto check_state = c.yes_no("IPFW_ADD_CHECK_STATE", false);
  if (!check_state) return bad(check_state.error());
  auto use_destination = c.yes_no("ENABLE_DESTINATION_RULE", false);
  if (!use_destination) return bad(use_destination.error());
  o.use_destination = *use_destination;
  auto start = detail::whole_number(c, "IPFW_START_RULE_NUM", 10000, 1, 65534,
                                    " (ipfw's rule numbers; 65535 is its default rule)");
  if (!start) return bad(start.error());
  auto max = detail::whole_number(c, "IPFW_MAX_RULES", 65535, 1, 131071);
  if (!max) return bad(max.error());
  auto active = detail::whole_number(c, "IPFW_ACTIVE_SET_NUM", 1, 0, 31, " (ipfw's sets)");
  if (!active) return bad(active.error());
  auto expire = detail::whole_number(c, "IPFW_EXPIRE_SET_NUM", 2, 0, 31, " (ipfw's sets)");
  if (!expire) return bad(expire.error());
  if (*active != 0 && *active == *expire) {
    std::string m{"is the same set as IPFW_ACTIVE_SET_NUM ("};
    m.append(std::to_string(*active)).append(")");
    return bad(c.error("IPFW_EXPIRE_SET_NUM", std::move(m)));
  }
  if (*expire == 31)
    return bad(c.error("IPFW_EXPIRE_SET_NUM", "31 is ipfw's set that cannot be disabled"));
  auto purge = detail::whole_number(c, "IPFW_EXPIRE_PURGE_INTERVAL", 30, 1, 131071);
  if (!purge) return bad(purge.error());
  auto exe = firewall_exe(c, "ipfw");
  if (!exe) return bad(exe.error());
  o.ipfw = exe->empty() ? std::string{"ipfw"} : *exe;
  o.flush_at_open = *at_init;
  o.flush_at_stop = *at_exit;
  o.add_check_state = *check_state;
  o.start_rule = *start;
  o.max_rules = *max;
  o.active_set = *active;
  o.expire_set = *expire;
  o.purge_interval = *purge;
  return o;
}

inline result<ipfw> ipfw::make(const setup& s) {
  auto o = settings(s.conf);
  if (!o) return fail(error{o.error().code, config::to_string(o.error())});
  return s.how == mode::install ? open(*std::move(o)) : attach(*std::move(o));
}

inline result<ipfw> ipfw::attach(ipfw_rules::options o) {
  ipfw fw;
  const std::string exe = system::find_executable(o.ipfw);
  fw.ipfw_ = tool{"ipfw", exe, o.command_timeout};
  if (exe.empty()) return fw.ipfw_.failed(o.ipfw.append(": not found or not executable"));
  fw.slots_.assign(o.last_rule() - o.start_rule + 1, slot::free);
  fw.options_ = std::move(o);
  return fw;
}

inline result<ipfw> ipfw::open(ipfw_rules::options o) {
  auto made = attach(std::move(o));
  if (!made) return made;
  ipfw& fw = *made;
  const auto& opt = fw.options_;
  const std::string active = std::to_string(opt.active_set);
  if (opt.flush_at_open) {
    if (auto f = fw.flush(); !f) return fail(f.error());
  } else {
    // Grants an earlier run left: their numbers are taken, their expiry is known.
    auto left = fw.listing(opt.active_set);
    if (!left) return fail(left.error());
    for (const auto& r : *left) {
      if (!fw.in_range(r.number) || !r.expires) continue;
      fw.at(r.number) = slot::active;
      fw.earliest_ = std::min(fw.earliest_, *r.expires);
    }
  }
  if (opt.add_check_state) {
    auto added =
        fw.ipfw_.run({"add", std::to_string(opt.start_rule), "set", active, "check-state"});
    if (!added) return fail(added.error());
    fw.at(opt.start_rule) = slot::active;
  }
  if (opt.expire_set > 0 && opt.flush_at_open) {
    auto off = fw.ipfw_.run({"set", "disable", std::to_string(opt.expire_set)});
    if (!off) return fail(off.error());
  }
  auto expired = fw.listing(opt.expire_set, true);
  if (!expired) return fail(expired.error());
  for (const auto& r : *expired)
    if (fw.in_range(r.number) && fw.at(r.number) == slot::free) fw.at(r.number) = slot::expired;
  fw.installed_ = true;
  return made;
}

inline result<std::vector<ipfw_rules::listed_rule>> ipfw::listing(std::uint32_t set, bool all) {
  std::vector<std::string> args{"set", std::to_string(set), "list"};
  if (all) args.insert(args.begin(), "-S");  // rules of a disabled set too
  auto r = ipfw_.run(std::move(args));
  if (!r) return fail(r.error());
  return ipfw_rules::parse_listing(r->output);
}

inline result<void> ipfw::open(const grant& g) try {
  if (slots_.empty()) return ipfw_.failed("not opened");
  const auto free = std::find(slots_.begin(), slots_.end(), slot::free);
  if (free == slots_.end()) {
    std::string m{"no free rule number in "};
    m.append(std::to_string(options_.start_rule)).append("..");
    m.append(std::to_string(options_.last_rule()));
    m.append(" (IPFW_START_RULE_NUM, IPFW_MAX_RULES): each holds a grant, or an expired grant ");
    m.append("with live connections");
    return ipfw_.failed(m);
  }
  const auto number = options_.start_rule + static_cast<std::uint32_t>(free - slots_.begin());
  const ip_address source = g.source.mapped_v4().value_or(g.source);
  const auto destination = destination_of(g);
  if (options_.use_destination && !destination) return ipfw_.failed(unknown_destination);
  for (const port_spec& p : g.ports) {
    auto added = ipfw_.run(ipfw_rules::add_arguments(options_, number, source, p, g.expires,
                                                     destination.value_or(ip_address{})));
    if (!added) {
      // Nothing half-open: the rules of this number that were added go again.
      (void)ipfw_.run(
          {"set", std::to_string(options_.active_set), "delete", std::to_string(number)});
      return fail(added.error());
    }
  }
  *free = slot::active;
  earliest_ = std::min(earliest_, g.expires);
  return {};
} catch (...) {  // std::bad_alloc: fail closed, never throw into the server
  return ipfw_.failed("out of memory");
}

inline result<void> ipfw::move_due(epoch_seconds now) {
  earliest_ = never_expires;  // a broken ipfw must not make every call run it
  auto rules = listing(options_.active_set);
  if (!rules) return fail(rules.error());
  result<void> outcome;
  std::uint32_t moved = 0;
  for (const auto& r : *rules) {
    if (!r.expires || !in_range(r.number) || r.number == moved) continue;
    if (*r.expires > now) {
      earliest_ = std::min(earliest_, *r.expires);
      continue;
    }
    auto m = ipfw_.run({"set", "move", "rule", std::to_string(r.number), "to",
                        std::to_string(options_.expire_set)});
    if (!m) {
      outcome = fail(m.error());
      continue;
    }
    moved = r.number;  // all the grant's rules share the number: one move takes them all
    at(r.number) = slot::expired;
  }
  return outcome;
}

inline result<void> ipfw::purge() {
  if (std::find(slots_.begin(), slots_.end(), slot::expired) == slots_.end()) return {};
  auto r = ipfw_.run({"-d", "set", std::to_string(options_.expire_set), "list"});
  if (!r) return fail(r.error());
  const auto live = ipfw_rules::dynamic_rule_numbers(r->output);
  result<void> outcome;
  for (std::uint32_t n = options_.start_rule; n <= options_.last_rule(); ++n) {
    if (at(n) != slot::expired || live.contains(n)) continue;
    auto gone =
        ipfw_.run({"set", std::to_string(options_.expire_set), "delete", std::to_string(n)});
    if (gone)
      at(n) = slot::free;
    else
      outcome = fail(gone.error());
  }
  return outcome;
}

inline result<void> ipfw::expire(epoch_seconds now) try {
  if (slots_.empty()) return ipfw_.failed("not opened");
  result<void> outcome;
  if (now >= earliest_) outcome = move_due(now);
  if (next_purge_ == 0) next_purge_ = now + options_.purge_interval;
  if (now >= next_purge_) {
    next_purge_ = now + options_.purge_interval;
    if (auto p = purge(); !p) outcome = p;
  }
  return outcome;
} catch (...) {
  return ipfw_.failed("out of memory");
}

inline result<std::vector<std::string>> ipfw::list() try {
  std::vector<std::string> lines;
  for (const auto set : {options_.active_set, options_.expire_set}) {
    auto r = ipfw_.run({"-d", "-S", "-T", "set", std::to_string(set), "list"});
    if (!r) return fail(r.error());
    ipfw_rules::detail::each_line(r->output, [&](std::string_view l) { lines.emplace_back(l); });
  }
  return lines;
} catch (...) {
  return ipfw_.failed("out of memory");
}

inline result<void> ipfw::flush() try {
  const std::string active = std::to_string(options_.active_set);
  auto rules = listing(options_.active_set);
  if (!rules) return fail(rules.error());
  if (options_.active_set > 0) {
    if (!rules->empty())
      if (auto d = ipfw_.run({"delete", "set", active}); !d) return fail(d.error());
  } else {
    std::uint32_t last = 0;
    for (const auto& r : *rules) {  // set 0 is everyone's: knock's numbers only
      if (!r.expires || !in_range(r.number) || r.number == last) continue;
      if (auto d = ipfw_.run({"set", "0", "delete", std::to_string(r.number)}); !d)
        return fail(d.error());
      last = r.number;
    }
  }
  for (auto& s : slots_)
    if (s == slot::active) s = slot::free;
  earliest_ = never_expires;
  return {};
} catch (...) {
  return ipfw_.failed("out of memory");
}

}  // namespace knock::firewall
