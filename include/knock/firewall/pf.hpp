// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::pf`: OpenBSD's PF, as fwknopd drives it. FIREWALL_TYPE `pf`; reads
/// PF_ANCHOR_NAME (`fwknop`), PF_EXPIRE_INTERVAL (30 s) and FIREWALL_EXE (pfctl). Models
/// `knock::firewall::configurable_firewall`; lists, flushes, and flushes its anchor at stop.
///
/// Grants live in an anchor that pf.conf refers to (`anchor "fwknop"` before the block rules):
/// a grant lists the anchor (`pfctl -a fwknop -s rules`), appends one rule per port
/// (knock/firewall/pfctl/rules.hpp: fwknopd's `pass in quick ... keep state label _exp_<time>`) and
/// loads the whole set back (`pfctl -a fwknop -f -`, the rules on stdin, no shell, one process
/// for all the grant's ports). `expire(now)` does the same without the rules whose `_exp_` has
/// passed, when one is due or every PF_EXPIRE_INTERVAL seconds (catching rules left by an
/// earlier run); rules in the anchor without an `_exp_` label are the admin's and stay.
///
/// Start-up refuses an anchor that `pfctl -s Anchors` does not list (its rules would never be
/// evaluated), then empties it. Unlike fwknopd, which empties the anchor with `-F all` (and so
/// kills every state on the host, established SSH sessions included), knock flushes with
/// `-F rules`: `keep state` lets connections made during a grant outlive it.

#include <knock/config/error.hpp>
#include <knock/firewall/concept.hpp>
#include <knock/firewall/destination.hpp>
#include <knock/firewall/pfctl/rules.hpp>
#include <knock/firewall/setup.hpp>
#include <knock/firewall/tool.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock::firewall {

/// PF rules in an anchor, fwknopd's way. Default-constructed, it is closed: every call fails.
class pf {
 public:
  using role = knock::role::firewall;
  /// FIREWALL_TYPE's value that chooses it.
  static constexpr std::string_view name = "pf";
  /// The fwknopd.conf variables `make` reads.
  static constexpr std::string_view variables[] = {"PF_ANCHOR_NAME", "PF_EXPIRE_INTERVAL",
                                                   "FIREWALL_EXE", "ENABLE_DESTINATION_RULE"};
  /// After the daemon drops root: pfctl changes the firewall.
  static constexpr privileges needs{.net_admin = true, .runs_programs = true};

  pf() = default;

  /// fwknopd.conf's PF_ANCHOR_NAME (fwknop; pfctl::anchor_problem), PF_EXPIRE_INTERVAL (30;
  /// fwknopd's 1..131071) and FIREWALL_EXE (an absolute path; unset: pfctl found in sbin/bin).
  /// A bad value is an error at its file:line. Runs nothing.
  static result<pfctl::options, config::config_error> settings(const config::fwknopd_conf& c) {
    const auto bad = [](const config::config_error& e) { return fail(e); };
    pfctl::options o;
    if (c.has("PF_ANCHOR_NAME")) {
      o.anchor = c.text("PF_ANCHOR_NAME");
      if (auto why = pfctl::anchor_problem(o.anchor); !why.empty()) {
        std::string m{"'"};
        m.append(config::printable(o.anchor)).append("' ").append(why);
        return bad(c.error("PF_ANCHOR_NAME", std::move(m)));
      }
    }
    auto every = c.number("PF_EXPIRE_INTERVAL", 30, 131071);
    if (!every) return bad(every.error());
    o.expire_interval = *every;
    auto exe = firewall_exe(c, "pfctl");
    if (!exe) return bad(exe.error());
    o.pfctl = exe->empty() ? std::string{"pfctl"} : *exe;
    auto use_destination = c.yes_no("ENABLE_DESTINATION_RULE", false);
    if (!use_destination) return bad(use_destination.error());
    o.use_destination = *use_destination;
    return o;
  }
  /// `settings(c)`, for its error only.
  static result<void, config::config_error> check(const config::fwknopd_conf& c) {
    if (auto o = settings(c); !o) return fail(o.error());
    return {};
  }
  /// `settings(s.conf)`, then `open` (serve) or `attach` (`--fw-list`, `--fw-flush`).
  static result<pf> make(const setup& s) {
    auto o = settings(s.conf);
    if (!o) return fail(error{o.error().code, config::to_string(o.error())});
    return s.how == mode::install ? open(*std::move(o)) : attach(*std::move(o));
  }
  /// Finds pfctl; touches nothing.
  static result<pf> attach(pfctl::options o) {
    pf fw;
    const std::string exe = system::find_executable(o.pfctl);
    fw.pfctl_ = tool{"pf", exe, o.command_timeout};
    if (exe.empty()) return fw.pfctl_.failed(o.pfctl.append(": not found or not executable"));
    fw.options_ = std::move(o);
    return fw;
  }
  /// `attach`, then refuses an anchor the main rule set does not refer to, and empties it.
  static result<pf> open(pfctl::options o) {
    auto made = attach(std::move(o));
    if (!made) return made;
    pf& fw = *made;
    auto anchors = fw.pfctl_.run({"-s", "Anchors"});
    if (!anchors) return fail(anchors.error());
    if (!pfctl::lists_anchor(anchors->output, fw.options_.anchor)) {
      const std::string& a = fw.options_.anchor;
      std::string m{"anchor '"};
      m.append(a).append("' is not referenced from the main rule set (pfctl -s Anchors); add ");
      m.append("'anchor \"").append(a).append("\"' to pf.conf before its block rules, or set ");
      m.append("PF_ANCHOR_NAME");
      return fw.pfctl_.failed(m);
    }
    if (auto flushed = fw.flush(); !flushed) return fail(flushed.error());
    fw.installed_ = true;
    return made;
  }

  /// Appends one rule per port of `g` to the anchor. `errc::firewall_failed`, naming the command
  /// that failed, when listing or loading does (the anchor is then as it was).
  result<void> open(const grant& g) try {
    auto rules = listing();
    if (!rules) return fail(rules.error());
    std::vector<std::string> set;
    for (auto& r : *rules) set.push_back(std::move(r.text));
    const ip_address source = g.source.mapped_v4().value_or(g.source);
    std::string to{"any"};
    if (options_.use_destination) {
      const auto d = destination_of(g);
      if (!d) return pfctl_.failed(unknown_destination);
      to = to_string(*d);
    }
    for (const port_spec& p : g.ports) set.push_back(pfctl::rule_text(source, p, g.expires, to));
    if (auto loaded = load(set); !loaded) return loaded;
    earliest_ = std::min(earliest_, g.expires);
    return {};
  } catch (...) {  // std::bad_alloc: fail closed, never throw into the server
    return pfctl_.failed("out of memory");
  }

  /// Removes the rules whose `_exp_` ≤ `now`: when one is known to be due, or PF_EXPIRE_INTERVAL
  /// seconds after the last look. Otherwise runs nothing.
  result<void> expire(epoch_seconds now) try {
    if (now < earliest_ && now < next_look_) return {};
    // Whatever happens, the next look is at the next known expiry or interval, never at every
    // call: a broken pfctl must not turn the daemon loop into an exec storm.
    next_look_ = now + options_.expire_interval;
    earliest_ = never_expires;
    auto rules = listing();
    if (!rules) return fail(rules.error());
    std::vector<std::string> kept;
    bool due = false;
    for (auto& r : *rules) {
      if (r.expires && *r.expires <= now) {
        due = true;
        continue;
      }
      if (r.expires) earliest_ = std::min(earliest_, *r.expires);
      kept.push_back(std::move(r.text));
    }
    return due ? load(kept) : result<void>{};
  } catch (...) {
    return pfctl_.failed("out of memory");
  }

  /// `pfctl -a ANCHOR -s rules`, line by line.
  result<std::vector<std::string>> list() try {
    auto rules = listing();
    if (!rules) return fail(rules.error());
    std::vector<std::string> lines;
    for (auto& r : *rules) lines.push_back(std::move(r.text));
    return lines;
  } catch (...) {
    return pfctl_.failed("out of memory");
  }
  /// Empties the anchor (`pfctl -a ANCHOR -F rules`; states stay).
  result<void> flush() {
    earliest_ = never_expires;
    auto r = pfctl_.run({"-a", options_.anchor, "-F", "rules"});
    if (!r) return fail(r.error());
    return {};
  }
  /// When the daemon stops: empties the anchor if it was opened (as fwknopd does at exit).
  result<void> stop() { return installed_ ? flush() : result<void>{}; }

  /// Processes run so far: the cost of this backend, visible to tests.
  std::size_t commands_run() const noexcept { return pfctl_.count(); }

 private:
  result<std::vector<pfctl::listed_rule>> listing() {
    auto r = pfctl_.run({"-a", options_.anchor, "-s", "rules"});
    if (!r) return fail(r.error());
    return pfctl::parse_rules(r->output);
  }
  result<void> load(const std::vector<std::string>& rules) {
    auto r = pfctl_.run({"-a", options_.anchor, "-f", "-"}, pfctl::rule_set(rules));
    if (!r) return fail(r.error());
    return {};
  }

  pfctl::options options_;
  tool pfctl_;
  epoch_seconds earliest_ = never_expires;  // earliest `_exp_` known to be in the anchor
  epoch_seconds next_look_ = 0;             // PF_EXPIRE_INTERVAL's next full look
  bool installed_ = false;
};

static_assert(configurable_firewall<pf> && checked_firewall<pf>);
static_assert(listing_firewall<pf> && flushing_firewall<pf> && stopping_firewall<pf>);
static_assert(privileged_firewall<pf>);

}  // namespace knock::firewall
