// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::firewalld`: RHEL/Fedora's firewalld, through `firewall-cmd`. FIREWALL_TYPE
/// `firewalld`; reads fwknopd's FLUSH_FIREWD_AT_INIT, FLUSH_FIREWD_AT_EXIT, the FIREWD_*_ACCESS
/// chains, ENABLE_FIREWD_OUTPUT, the NAT switches ENABLE_FIREWD_FORWARDING / _LOCAL_NAT / _SNAT
/// (checks ENABLE_FIREWD_COMMENT_CHECK), FIREWALL_EXE, and knock's KNOCK_FIREWD_RICH_RULES /
/// KNOCK_FIREWD_ZONE. Models `configurable_firewall` and `nat_firewall`; lists, flushes, and
/// flushes at stop.
///
/// Two ways, chosen with KNOCK_FIREWD_RICH_RULES:
/// - **direct** (N, the default; fwknopd's): iptables rules through
///   `firewall-cmd --direct --passthrough ipv4|ipv6 ...` — the FWKNOP_INPUT chain, its jump from
///   INPUT and one `_exp_`-commented rule per port (knock/firewall/ipt/rules.hpp), deleted by the
///   daemon when due. ENABLE_FIREWD_OUTPUT adds the FWKNOP_OUTPUT chain (a `--sport` rule back to
///   the source per port); NAT grants (IPv4 only, as fwknopd) go to FWKNOP_FORWARD (or, for
///   `--nat-local`, the input chain), FWKNOP_PREROUTING's DNAT and, with ENABLE_FIREWD_SNAT or
///   FORCE_SNAT, FWKNOP_POSTROUTING's SNAT or FWKNOP_MASQUERADE — the rule text of the iptables
///   backend (`ipt::nat_rules`), passed through.
/// - **rich** (Y): one rich rule per port in KNOCK_FIREWD_ZONE (default: firewalld's default
///   zone), added with `--timeout`, so firewalld itself removes it: a crashed daemon leaves
///   nothing open. `expire` does nothing.
///
/// Start-up checks that firewalld runs (`--state`) and, in rich mode, that the zone exists
/// (`--get-zones`): a clear start-up error otherwise. firewall-cmd talks to firewalld over the
/// system D-Bus, whose policy admits root only: with firewalld, run knock-server as root
/// (KNOCK_USER root) or grant its account firewalld's polkit actions.

#include <knock/config/error.hpp>
#include <knock/firewall/concept.hpp>
#include <knock/firewall/destination.hpp>
#include <knock/firewall/firewalld_rules/rules.hpp>
#include <knock/firewall/ipt/rules.hpp>
#include <knock/firewall/setup.hpp>
#include <knock/firewall/tool.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock::firewall {

/// What fwknopd.conf says for firewalld.
struct firewalld_options {
  std::string firewall_cmd = "firewall-cmd";  ///< FIREWALL_EXE
  firewalld_rules::chain_access input{"ACCEPT", "filter", "INPUT", 1, "FWKNOP_INPUT", 1};
  bool output = false;  ///< ENABLE_FIREWD_OUTPUT: a rule in `output_chain` per granted port
  firewalld_rules::chain_access output_chain =
      firewalld_rules::default_output();  ///< FIREWD_OUTPUT_ACCESS
  /// ENABLE_FIREWD_FORWARDING / _LOCAL_NAT (`enabled`), ENABLE_FIREWD_SNAT (`snat`) and the
  /// FIREWD_FORWARD / DNAT / SNAT / MASQUERADE_ACCESS chains.
  ipt::nat_chains nat;
  /// ENABLE_DESTINATION_RULE: the input, output, local-NAT and DNAT rules match the SPA packet's
  /// destination address instead of any address (as fwknopd's firewalld build does).
  bool use_destination = false;
  bool prepend = false;       ///< ENABLE_RULE_PREPEND: rules go first (`-I`), not last (`-A`)
  bool flush_at_open = true;  ///< FLUSH_FIREWD_AT_INIT
  bool flush_at_stop = true;  ///< FLUSH_FIREWD_AT_EXIT
  bool rich_rules = false;    ///< KNOCK_FIREWD_RICH_RULES
  std::string zone;           ///< KNOCK_FIREWD_ZONE; empty: firewalld's default zone
  std::chrono::milliseconds command_timeout{20'000};  // firewall-cmd is slow (python, D-Bus)
};

/// firewalld, fwknopd's direct way or knock's rich rules. Default-constructed, it is closed.
class firewalld {
 public:
  using role = knock::role::firewall;
  static constexpr std::string_view name = "firewalld";
  static constexpr std::string_view variables[] = {
      "FLUSH_FIREWD_AT_INIT", "FLUSH_FIREWD_AT_EXIT",     "ENABLE_FIREWD_COMMENT_CHECK",
      "FIREWD_INPUT_ACCESS",  "FIREWD_OUTPUT_ACCESS",     "FIREWD_FORWARD_ACCESS",
      "FIREWD_DNAT_ACCESS",   "FIREWD_SNAT_ACCESS",       "FIREWD_MASQUERADE_ACCESS",
      "ENABLE_FIREWD_OUTPUT", "ENABLE_FIREWD_FORWARDING", "ENABLE_FIREWD_LOCAL_NAT",
      "ENABLE_FIREWD_SNAT",   "KNOCK_FIREWD_RICH_RULES",  "KNOCK_FIREWD_ZONE",
      "FIREWALL_EXE",         "ENABLE_DESTINATION_RULE",  "ENABLE_RULE_PREPEND"};
  /// firewall-cmd asks firewalld over D-Bus: it needs the daemon's account, not capabilities.
  static constexpr privileges needs{.runs_programs = true};

  firewalld() = default;

  /// The variables, with fwknopd's defaults; a bad value is an error at its file:line.
  static result<firewalld_options, config::config_error> settings(const config::fwknopd_conf& c);
  static result<void, config::config_error> check(const config::fwknopd_conf& c) {
    if (auto o = settings(c); !o) return fail(o.error());
    return {};
  }
  static result<firewalld> make(const setup& s) {
    auto o = settings(s.conf);
    if (!o) return fail(error{o.error().code, config::to_string(o.error())});
    return s.how == mode::install ? open(*std::move(o)) : attach(*std::move(o));
  }
  /// Finds firewall-cmd; checks firewalld runs (and, rich, the zone); touches no rule.
  static result<firewalld> attach(firewalld_options o);
  /// `attach`, then (direct) removes and re-creates the chains (input, output, NAT: those
  /// fwknopd.conf enables) and their jumps, or (rich, with FLUSH_FIREWD_AT_INIT) removes knock's
  /// rich rules from the zone.
  static result<firewalld> open(firewalld_options o);

  /// One rule per port (and, with ENABLE_FIREWD_OUTPUT, its output rule), skipped when `-C`
  /// finds it there already.
  result<void> open(const grant& g);
  /// A NAT grant, direct rules only: fwknopd's forward (or local access), DNAT and SNAT /
  /// MASQUERADE rules with their `_exp_` comments, in the chains fwknopd.conf names; a chain not
  /// made at start (FORCE_SNAT without ENABLE_FIREWD_SNAT) is made first. IPv4 only
  /// (`nat_unsupported` otherwise, and in rich mode).
  result<void> open_nat(const grant& g);
  result<void> expire(epoch_seconds now);
  /// Direct: the chains' listings (IPv4: input, output, NAT; IPv6: input, output). Rich: the
  /// zone's rich rules.
  result<std::vector<std::string>> list();
  /// Direct: removes the jumps and the chains. Rich: removes knock's rich rules from the zone.
  result<void> flush();
  result<void> stop() { return installed_ && options_.flush_at_stop ? flush() : result<void>{}; }

  std::size_t commands_run() const noexcept { return cmd_.count(); }

  /// The direct rules `g` adds under `o`, in the order they are added (pure): per port the
  /// input rule and (ENABLE_FIREWD_OUTPUT) the output rule; for a NAT grant fwknopd's forward
  /// (or local access), DNAT and SNAT / MASQUERADE rules (`ipt::nat_rules`, IPv4).
  static std::vector<firewalld_rules::direct_rule> direct_rules(const firewalld_options& o,
                                                                const grant& g);
  /// The iptables backend's options for `o`'s chains: its rule text is firewalld's.
  static ipt::options ipt_options(const firewalld_options& o);

 private:
  result<void> add_rules(const std::vector<firewalld_rules::direct_rule>& rules,
                         epoch_seconds expires, bool nat);
  result<system::process_result> direct(bool v6, std::vector<std::string> args) {
    return cmd_.run(firewalld_rules::passthrough(v6, args));
  }
  result<void> ensure_chain(bool v6, const ipt::chain_spec& c);
  void remove_chain(bool v6, const ipt::chain_spec& c);
  /// Adds `args` to chain `c` unless `-C` finds them there.
  result<void> add_rule(bool v6, const ipt::chain_spec& c, const std::vector<std::string>& args);
  /// The chains of `v6`'s family in use: input, output, then (IPv4) the NAT chains made so far.
  std::vector<ipt::chain_spec> chains(bool v6) const;
  // Makes the NAT chain `c` and its jump (removing them first with `flush_first`) unless made.
  result<void> use_chain(const ipt::chain_spec& c, bool flush_first);
  std::string zone_argument() const { return "--zone=" + zone_; }

  firewalld_options options_;
  tool cmd_;
  std::string zone_;
  epoch_seconds earliest_[2] = {never_expires, never_expires};
  std::vector<ipt::chain_spec> nat_chains_;  // the IPv4 NAT chains made so far
  bool installed_ = false;
};

static_assert(configurable_firewall<firewalld> && checked_firewall<firewalld>);
static_assert(listing_firewall<firewalld> && flushing_firewall<firewalld>);
static_assert(stopping_firewall<firewalld> && privileged_firewall<firewalld>);
static_assert(nat_firewall<firewalld>);

}  // namespace knock::firewall

#include <knock/firewall/impl/firewalld.hpp>
