// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::iptables`: fwknopd's own firewall handling (spec §10), so existing rule sets,
/// scripts and `--fw-list` habits keep working. Models `knock::firewall_policy`.
///
/// `open(options)` sets up the chain as fwknopd does at start: `-N FWKNOP_INPUT` and
/// `-I INPUT 1 -j FWKNOP_INPUT` (after removing both first, `FLUSH_IPT_AT_INIT`). A grant becomes
/// one rule per port, in fwknopd 2.6.10's exact argument order, after an `-C` duplicate check:
///
///     -A FWKNOP_INPUT -t filter -p 6 -s 10.0.0.5 -d 0.0.0.0/0 --dport 22
///        -m comment --comment _exp_1700000035 -j ACCEPT
///
/// IPv6 sources go to `ip6tables` (destination `::/0`), which fwknopd never did. `expire(now)`
/// lists the chain and deletes the rules whose `_exp_` has passed — but only when the earliest
/// expiry it knows of has passed, or every `rules_check_threshold` calls (catching rules others
/// added), so a daemon loop calling it often runs no process at all in between.
///
/// Every command is `fork` + `execve` of an absolute path found at open (no shell, fixed
/// environment, a timeout): `detail::run`. Unlike nftables, expiry depends on the daemon: a
/// crashed daemon leaves its rules until the next start flushes the chain.
///
/// When the chain or the jump rule is deleted under a running daemon, the next grant that fails
/// re-creates them (as fwknopd does before each grant) and is retried once; so does a periodic
/// `expire` whose listing fails. `repairs()` counts them, for the log. (A jump rule removed while
/// the chain stays is found only by a grant that fails, or at the next start.)

#include <knock/core/error.hpp>
#include <knock/core/net.hpp>
#include <knock/detail/process.hpp>
#include <knock/firewall/concept.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock::firewall {

/// fwknopd.conf's `IPT_INPUT_ACCESS` (`ACCEPT, filter, INPUT, 1, FWKNOP_INPUT, 1`) and friends.
struct iptables_options {
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

namespace detail {

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
inline std::vector<std::string> rule_arguments(const iptables_options& o, const ip_address& source,
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

}  // namespace detail

/// fwknopd-compatible iptables/ip6tables rules with `_exp_` comments. Models
/// knock::firewall_policy. Default-constructed, it is closed: every call fails.
class iptables {
 public:
  using role = knock::role::firewall;

  iptables() = default;

  /// Finds the programs and sets up the chain and jump rule for IPv4 (and IPv6), flushing them
  /// first if `flush_at_open`. On failure `*why` (if given) says what went wrong.
  static result<iptables> open(iptables_options options = {}, std::string* why = nullptr);
  /// Finds the programs and touches no rule: for `--fw-list` and `--fw-flush` next to a running
  /// daemon.
  static result<iptables> attach(iptables_options options = {}, std::string* why = nullptr);

  /// One rule per port of `g` (skipped when `-C` finds it already). `errc::firewall_failed`, with
  /// `last_error()`, when a command fails.
  result<void> open(const grant& g);
  /// Deletes the rules whose `_exp_` ≤ `now` — when one is known to be due, or every
  /// `rules_check_threshold` calls. Otherwise runs nothing.
  result<void> expire(epoch_seconds now);
  /// The chain listings (`-L <chain> --line-numbers -n`), IPv4 then IPv6, line by line.
  result<std::vector<std::string>> list();
  /// Removes the jump rule and the chain (`-D`, `-F`, `-X`), as `--fw-flush` and exit do.
  result<void> flush();

  /// What the last failure was, for logs.
  const std::string& last_error() const noexcept { return error_; }
  /// Processes run so far: the cost of this backend, visible to tests.
  std::size_t commands_run() const noexcept { return commands_; }
  /// How many times the chain or its jump rule was found missing and re-created.
  std::size_t repairs() const noexcept { return repairs_; }

 private:
  struct family {
    std::string exe;                         // empty: not managed
    epoch_seconds earliest = never_expires;  // earliest `_exp_` known to be in the chain
  };

  static result<iptables> make(iptables_options options, std::string* why);
  knock::detail::process_result run(const family& f, std::vector<std::string> args);
  result<void> failed(std::string what) {
    error_ = std::move(what);
    return fail(errc::firewall_failed);
  }
  void remove_chain(const family& f);
  /// Creates the chain and the jump to it where missing: -1 failed, 0 both were there, 1 made.
  int ensure_chain(const family& f);
  /// After `what` failed: re-creates what is missing (true: something was, and now is there);
  /// false with `error_` saying what failed.
  bool repair_after(const family& f, std::string what);
  result<void> expire(family& f, epoch_seconds now);

  iptables_options options_;
  std::array<family, 2> families_;  // IPv4, IPv6
  std::size_t calls_ = 0, commands_ = 0, repairs_ = 0;
  std::string error_ = "not opened";
};

static_assert(firewall_policy<iptables>);

// ---- bodies

inline result<iptables> iptables::make(iptables_options options, std::string* why) {
  iptables fw;
  fw.options_ = std::move(options);
  fw.error_.clear();
  for (std::size_t i = 0; i < 2; ++i) {
    const std::string& name = i == 0 ? fw.options_.iptables : fw.options_.ip6tables;
    if (name.empty()) continue;
    fw.families_[i].exe = knock::detail::find_executable(name);
    if (fw.families_[i].exe.empty() && fw.error_.empty())  // the first missing one
      fw.error_ = name + ": not found or not executable";
  }
  if (fw.error_.empty() && fw.families_[0].exe.empty()) fw.error_ = "no iptables program given";
  if (!fw.error_.empty()) {
    if (why) *why = fw.error_;
    return fail(errc::firewall_failed);
  }
  return fw;
}

inline result<iptables> iptables::attach(iptables_options options, std::string* why) {
  return make(std::move(options), why);
}

inline result<iptables> iptables::open(iptables_options options, std::string* why) {
  auto made = make(std::move(options), why);
  if (!made) return made;
  iptables& fw = *made;
  const auto& o = fw.options_;
  for (auto& f : fw.families_) {
    if (f.exe.empty()) continue;
    if (o.flush_at_open) fw.remove_chain(f);
    // Without the flush an existing chain is kept, rules and all.
    if (fw.ensure_chain(f) < 0) {
      if (why) *why = fw.error_;
      return fail(errc::firewall_failed);
    }
    // Rules an earlier run left behind (not flushed) are found by the first expire().
    f.earliest = o.flush_at_open ? never_expires : 0;
  }
  fw.error_.clear();
  return made;
}

inline knock::detail::process_result iptables::run(const family& f, std::vector<std::string> args) {
  std::vector<std::string> argv{f.exe};
  if (options_.wait_for_lock) argv.emplace_back("-w");
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  ++commands_;
  knock::detail::process_options po;
  po.timeout = options_.command_timeout;
  auto r = knock::detail::run(argv, po);
  knock::detail::process_result out;
  if (r) {
    out = *std::move(r);
    if (!out.succeeded()) error_ = knock::detail::describe(argv, out);
  } else {  // could not even start it
    out.exit_status = 126;
    out.errors = r.error().message();
    error_ = "cannot run `" + knock::detail::join_argv(argv) + "`: " + out.errors;
  }
  return out;
}

inline int iptables::ensure_chain(const family& f) {
  const auto& o = options_;
  int made = 0;
  // `-N` fails when the chain is there (or cannot be made); `-L` tells which.
  if (run(f, {"-t", o.table, "-N", o.chain}).succeeded())
    made = 1;
  else if (!run(f, {"-t", o.table, "-n", "-L", o.chain}).succeeded())
    return -1;
  if (run(f, {"-t", o.table, "-C", o.from_chain, "-j", o.chain}).succeeded()) return made;
  if (!run(f, {"-t", o.table, "-I", o.from_chain, std::to_string(o.jump_position), "-j", o.chain})
           .succeeded())
    return -1;
  return 1;
}

inline bool iptables::repair_after(const family& f, std::string what) {
  const int made = ensure_chain(f);
  if (made > 0) {
    ++repairs_;
    return true;
  }
  error_ =
      made == 0 ? what : what + "; re-creating chain " + options_.chain + " failed too: " + error_;
  return false;
}

inline void iptables::remove_chain(const family& f) {
  const auto& o = options_;
  for (int i = 0; i < 16; ++i)  // every jump, not just the first: older runs may have left more
    if (!run(f, {"-t", o.table, "-D", o.from_chain, "-j", o.chain}).succeeded()) break;
  (void)run(f, {"-t", o.table, "-F", o.chain});
  (void)run(f, {"-t", o.table, "-X", o.chain});
}

inline result<void> iptables::open(const grant& g) try {
  const ip_address source = g.source.mapped_v4().value_or(g.source);
  family& f = families_[source.is_v4() ? 0 : 1];
  if (f.exe.empty())
    return failed(families_[0].exe.empty() ? "not opened" : "IPv6 grant, and no ip6tables");
  for (const port_spec& p : g.ports) {
    const auto args = detail::rule_arguments(options_, source, p, g.expires);
    const auto with = [&](std::vector<std::string> head) {
      head.insert(head.end(), args.begin(), args.end());
      return head;
    };
    if (run(f, with({"-C", options_.chain})).succeeded()) continue;  // spec Q15: no duplicates
    const auto add = options_.prepend
                         ? with({"-I", options_.chain, std::to_string(options_.rule_position)})
                         : with({"-A", options_.chain});
    // The chain (or its jump) may have been deleted under us: re-create them, and retry once.
    if (!run(f, add).succeeded() && (!repair_after(f, error_) || !run(f, add).succeeded()))
      return fail(errc::firewall_failed);  // error_ says what failed
    f.earliest = std::min(f.earliest, g.expires);
  }
  return {};
} catch (...) {  // std::bad_alloc: fail closed, never throw into the server
  return failed("out of memory");
}

inline result<void> iptables::expire(epoch_seconds now) try {
  const bool periodic =
      options_.rules_check_threshold != 0 && ++calls_ % options_.rules_check_threshold == 0;
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
  const auto& o = options_;
  // Whatever happens, the next look is at the next known expiry or periodic check, never at
  // every call: a broken iptables must not turn the daemon loop into an exec storm.
  f.earliest = never_expires;
  auto listing = run(f, {"-t", o.table, "-L", o.chain, "--line-numbers", "-n"});
  if (!listing.succeeded()) {
    // Deleted under us: re-created (empty, so nothing is due), or an error saying why not.
    if (repair_after(f, error_)) return {};
    return fail(errc::firewall_failed);
  }
  unsigned deleted = 0;
  result<void> outcome;
  for (const listed_rule& r : detail::parse_listing(listing.output)) {
    if (r.expires > now) {
      f.earliest = std::min(f.earliest, r.expires);
      continue;
    }
    // Numbers shift down as rules go: fwknopd deletes `number - already deleted`.
    if (run(f, {"-t", o.table, "-D", o.chain, std::to_string(r.number - deleted)}).succeeded())
      ++deleted;
    else
      outcome = fail(errc::firewall_failed);
  }
  return outcome;
}

inline result<std::vector<std::string>> iptables::list() try {
  std::vector<std::string> lines;
  if (families_[0].exe.empty()) {
    error_ = "not opened";
    return fail(errc::firewall_failed);
  }
  for (const auto& f : families_) {
    if (f.exe.empty()) continue;
    auto r = run(f, {"-t", options_.table, "-L", options_.chain, "--line-numbers", "-n"});
    if (!r.succeeded()) return fail(errc::firewall_failed);
    std::string_view text = r.output;
    while (!text.empty()) {
      const std::size_t end = text.find('\n');
      lines.emplace_back(text.substr(0, end));
      text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    }
  }
  return lines;
} catch (...) {
  error_ = "out of memory";
  return fail(errc::firewall_failed);
}

inline result<void> iptables::flush() try {
  if (families_[0].exe.empty()) return failed("not opened");
  for (auto& f : families_) {
    if (f.exe.empty()) continue;
    remove_chain(f);
    f.earliest = never_expires;
    if (run(f, {"-t", options_.table, "-n", "-L", options_.chain}).succeeded())
      return failed(f.exe + ": chain " + options_.chain + " is still there after -F and -X");
  }
  return {};
} catch (...) {
  return failed("out of memory");
}

}  // namespace knock::firewall
