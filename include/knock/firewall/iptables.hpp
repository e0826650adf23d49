// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::iptables`: fwknopd's own firewall handling (spec §10), so existing rule sets,
/// scripts and `--fw-list` habits keep working. FIREWALL_TYPE `iptables`; reads FLUSH_IPT_AT_INIT,
/// FLUSH_IPT_AT_EXIT, ENABLE_IPT_COMMENT_CHECK, RULES_CHECK_THRESHOLD, FIREWALL_EXE and the NAT
/// chains (ENABLE_IPT_FORWARDING / _LOCAL_NAT / _SNAT, IPT_FORWARD/DNAT/SNAT/MASQUERADE_ACCESS).
/// With ENABLE_IPT_OUTPUT, a second rule per port in the output chain (IPT_OUTPUT_ACCESS); with
/// ENABLE_DESTINATION_RULE, rules match the SPA packet's destination address. Models
/// `knock::firewall::configurable_firewall`; lists, flushes, repairs itself and flushes at stop.
///
/// `open(options)` sets up the chain as fwknopd does at start: `-N FWKNOP_INPUT` and
/// `-I INPUT 1 -j FWKNOP_INPUT` (after removing both first, `FLUSH_IPT_AT_INIT`). A grant becomes
/// one rule per port, in fwknopd 2.6.10's exact argument order (knock/firewall/ipt/rules.hpp),
/// after an `-C` duplicate check:
///
///     -A FWKNOP_INPUT -t filter -p 6 -s 10.0.0.5 -d 0.0.0.0/0 --dport 22
///        -m comment --comment _exp_1700000035 -j ACCEPT
///
/// With ENABLE_IPT_OUTPUT Y, fwknopd 2.6.10 also makes `FWKNOP_OUTPUT` (jumped to from `OUTPUT`)
/// and adds, after each access rule, the rule that lets the replies out:
///
///     -A FWKNOP_OUTPUT -t filter -p 6 -d 10.0.0.5 -s 0.0.0.0/0 --sport 22
///        -m comment --comment _exp_1700000035 -j ACCEPT
///
/// With ENABLE_DESTINATION_RULE Y, `0.0.0.0/0` (the host's side of the access, output, local-NAT
/// and DNAT rules) is the address the SPA packet was sent to.
///
/// IPv6 sources go to `ip6tables` (destination `::/0`), which fwknopd never did. `expire(now)`
/// lists the chain and deletes the rules whose `_exp_` has passed — but only when the earliest
/// expiry it knows of has passed, or every `rules_check_threshold` calls (catching rules others
/// added), so a daemon loop calling it often runs no process at all in between.
///
/// Every command is a process (knock/firewall/ipt/commands.hpp). Unlike nftables, expiry depends
/// on the daemon: a crashed daemon leaves its rules until the next start flushes the chain.
///
/// When the chain or the jump rule is deleted under a running daemon, the next grant that fails
/// re-creates them (as fwknopd does before each grant) and is retried once; so does a periodic
/// `expire` whose listing fails. `repairs()` counts them, for the log. (A jump rule removed while
/// the chain stays is found only by a grant that fails, or at the next start.)

#include <knock/config/error.hpp>
#include <knock/firewall/concept.hpp>
#include <knock/firewall/destination.hpp>
#include <knock/firewall/ipt/commands.hpp>
#include <knock/firewall/ipt/rules.hpp>
#include <knock/firewall/setup.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock::firewall {

/// How `iptables::open` sets up (knock/firewall/ipt/rules.hpp).
using iptables_options = ipt::options;
using ipt::listed_rule;

/// fwknopd-compatible iptables/ip6tables rules with `_exp_` comments. Default-constructed, it is
/// closed: every call fails.
class iptables {
 public:
  using role = knock::role::firewall;
  /// FIREWALL_TYPE's value that chooses it.
  static constexpr std::string_view name = "iptables";
  /// The fwknopd.conf variables `make` reads.
  static constexpr std::string_view variables[] = {
      "FLUSH_IPT_AT_INIT",     "FLUSH_IPT_AT_EXIT",      "ENABLE_IPT_COMMENT_CHECK",
      "RULES_CHECK_THRESHOLD", "FIREWALL_EXE",           "IPT_FORWARD_ACCESS",
      "IPT_DNAT_ACCESS",       "IPT_SNAT_ACCESS",        "IPT_MASQUERADE_ACCESS",
      "IPT_INPUT_ACCESS",      "ENABLE_RULE_PREPEND",    "ENABLE_IPT_OUTPUT",
      "IPT_OUTPUT_ACCESS",     "ENABLE_DESTINATION_RULE"};
  /// After the daemon drops root: the programs it runs need both capabilities.
  static constexpr privileges needs{.net_admin = true, .net_raw = true, .runs_programs = true};

  iptables() = default;

  /// What fwknopd.conf says (fwknopd's defaults): FLUSH_IPT_AT_INIT (Y), FLUSH_IPT_AT_EXIT (Y),
  /// RULES_CHECK_THRESHOLD (20; 0..131071, 0: no periodic check), FIREWALL_EXE (an absolute path
  /// to iptables; ip6tables is its sibling when there is one, else IPv6 grants fail; unset:
  /// found in sbin/bin), IPT_INPUT_ACCESS (the access chain: `ACCEPT, filter, INPUT, 1,
  /// FWKNOP_INPUT, 1`), ENABLE_RULE_PREPEND (N: `-I` at the chain's rule position instead of
  /// `-A`), ENABLE_IPT_OUTPUT (N) and IPT_OUTPUT_ACCESS (`ACCEPT, filter, OUTPUT, 1,
  /// FWKNOP_OUTPUT, 1`; checked even when unused, as fwknopd), ENABLE_DESTINATION_RULE (N).
  /// ENABLE_IPT_COMMENT_CHECK is read and checked only: knock's rules always carry their
  /// `_exp_` comment. A bad value is an error at its file:line. Runs nothing.
  static result<iptables_options, config::config_error> settings(const config::fwknopd_conf& c);
  /// `settings(c)`, for its error only.
  static result<void, config::config_error> check(const config::fwknopd_conf& c) {
    if (auto o = settings(c); !o) return fail(o.error());
    return {};
  }
  /// `settings(s.conf)`, then `install` opens, `attach` attaches.
  static result<iptables> make(const setup& s);
  /// Finds the programs and sets up the chain and jump rule for IPv4 (and IPv6), flushing them
  /// first if `flush_at_open`.
  static result<iptables> open(iptables_options options = {});
  /// Finds the programs and touches no rule: for `--fw-list` and `--fw-flush` next to a running
  /// daemon.
  static result<iptables> attach(iptables_options options = {});

  /// One rule per port of `g`, and its output rule (ENABLE_IPT_OUTPUT), each skipped when `-C`
  /// finds it already. `errc::firewall_failed`, naming the command that failed, when one does,
  /// or when ENABLE_DESTINATION_RULE has no destination to match (`g.destination` unspecified).
  result<void> open(const grant& g);
  /// A NAT grant in fwknopd's chains and shapes (knock/firewall/ipt/rules.hpp `nat_rules`): the
  /// forward (or, for `--nat-local`, access) rule, the DNAT rule, the SNAT / MASQUERADE rule,
  /// each with its `_exp_` comment; a chain not made at start (FORCE_SNAT without
  /// ENABLE_IPT_SNAT) is made first. IPv4 only (`nat_unsupported` otherwise), as fwknopd.
  result<void> open_nat(const grant& g);
  /// Deletes the rules whose `_exp_` ≤ `now` — when one is known to be due, or every
  /// `rules_check_threshold` calls. Otherwise runs nothing.
  result<void> expire(epoch_seconds now);
  /// The chain listings (`-L <chain> --line-numbers -n`: access, output, NAT chains), IPv4 then
  /// IPv6, line by line.
  result<std::vector<std::string>> list();
  /// Removes the jump rules and the chains (`-D`, `-F`, `-X`), as `--fw-flush` does.
  result<void> flush();
  /// When the daemon stops: `flush()` if it was opened (not attached) with `flush_at_stop`
  /// (FLUSH_IPT_AT_EXIT), else nothing.
  result<void> stop() { return installed_ && commands_.settings().flush_at_stop ? flush() : ok(); }

  /// Processes run so far: the cost of this backend, visible to tests.
  std::size_t commands_run() const noexcept { return commands_.count(); }
  /// How many times the chain or its jump rule was found missing and re-created.
  std::size_t repairs() const noexcept { return repairs_; }

 private:
  struct family {
    std::string exe;                         // empty: not managed
    epoch_seconds earliest = never_expires;  // earliest `_exp_` known to be in the chain
  };
  static result<void> ok() { return {}; }
  static failure<error> failed(std::string_view what) {
    return fail(error{errc::firewall_failed, "iptables: " + std::string{what}});
  }
  /// After `what` failed: re-creates what is missing of chain `c` (and counts the repair); an
  /// error saying `what` (and why re-creating failed) when nothing was missing or it could not
  /// be made.
  result<void> repair_after(const family& f, const ipt::chain_spec& c, const error& what);
  /// Adds the rule `args` to chain `c` unless `-C` finds it; re-creates the chain and retries
  /// once when adding fails.
  result<void> add_rule(const family& f, const ipt::chain_spec& c,
                        const std::vector<std::string>& args);
  /// The access chain and, with ENABLE_IPT_OUTPUT, the output chain.
  std::vector<ipt::chain_spec> filter_chains() const;
  /// The chains `f`'s grants use: `filter_chains()`, and for IPv4 the NAT chains made so far.
  std::vector<ipt::chain_spec> chains_of(const family& f) const;
  /// The address the rules of `g` match as the host's (its destination, IPv4-mapped unwrapped);
  /// an error when ENABLE_DESTINATION_RULE needs it and it is not known.
  result<ip_address> rule_destination(const grant& g) const;
  result<void> expire(family& f, epoch_seconds now);
  result<void> expire(family& f, const ipt::chain_spec& c, epoch_seconds now);
  // Makes the NAT chain `c` and its jump (after removing them, with `flush_first`) unless it is
  // already in use.
  result<void> use_chain(const ipt::chain_spec& c, bool flush_first);

  ipt::commands commands_;
  std::array<family, 2> families_;           // IPv4, IPv6
  std::vector<ipt::chain_spec> nat_chains_;  // the IPv4 NAT chains made so far
  std::size_t calls_ = 0, repairs_ = 0;
  bool installed_ = false;
};

static_assert(configurable_firewall<iptables> && checked_firewall<iptables>);
static_assert(listing_firewall<iptables> && flushing_firewall<iptables>);
static_assert(self_repairing_firewall<iptables> && stopping_firewall<iptables>);
static_assert(privileged_firewall<iptables> && nat_firewall<iptables>);

}  // namespace knock::firewall

#include <knock/firewall/impl/iptables.hpp>
