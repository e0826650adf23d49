// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::firewalld`: RHEL/Fedora's firewalld, through `firewall-cmd`. FIREWALL_TYPE
/// `firewalld`; reads fwknopd's FLUSH_FIREWD_AT_INIT, FLUSH_FIREWD_AT_EXIT, FIREWD_INPUT_ACCESS
/// (and checks the other FIREWD_*_ACCESS lines and ENABLE_FIREWD_COMMENT_CHECK), FIREWALL_EXE,
/// and knock's KNOCK_FIREWD_RICH_RULES / KNOCK_FIREWD_ZONE. Models `configurable_firewall`;
/// lists, flushes, and flushes at stop.
///
/// Two ways, chosen with KNOCK_FIREWD_RICH_RULES:
/// - **direct** (N, the default; fwknopd's): iptables rules through
///   `firewall-cmd --direct --passthrough ipv4|ipv6 ...` — the FWKNOP_INPUT chain, its jump from
///   INPUT and one `_exp_`-commented rule per port (knock/firewall/ipt/rules.hpp), deleted by the
///   daemon when due.
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
      "FLUSH_FIREWD_AT_INIT",    "FLUSH_FIREWD_AT_EXIT", "ENABLE_FIREWD_COMMENT_CHECK",
      "FIREWD_INPUT_ACCESS",     "FIREWD_OUTPUT_ACCESS", "FIREWD_FORWARD_ACCESS",
      "FIREWD_DNAT_ACCESS",      "FIREWD_SNAT_ACCESS",   "FIREWD_MASQUERADE_ACCESS",
      "KNOCK_FIREWD_RICH_RULES", "KNOCK_FIREWD_ZONE",    "FIREWALL_EXE"};
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
  /// `attach`, then (direct) removes and re-creates the chain and its jump, or (rich, with
  /// FLUSH_FIREWD_AT_INIT) removes knock's rich rules from the zone.
  static result<firewalld> open(firewalld_options o);

  result<void> open(const grant& g);
  result<void> expire(epoch_seconds now);
  /// Direct: the chain's listing (IPv4, IPv6). Rich: the zone's rich rules.
  result<std::vector<std::string>> list();
  /// Direct: removes the jump and the chain. Rich: removes knock's rich rules from the zone.
  result<void> flush();
  result<void> stop() { return installed_ && options_.flush_at_stop ? flush() : result<void>{}; }

  std::size_t commands_run() const noexcept { return cmd_.count(); }

 private:
  ipt::options ipt_options() const;
  result<system::process_result> direct(bool v6, std::vector<std::string> args) {
    return cmd_.run(firewalld_rules::passthrough(v6, args));
  }
  result<void> ensure_chain(bool v6);
  void remove_chain(bool v6);
  std::string zone_argument() const { return "--zone=" + zone_; }

  firewalld_options options_;
  tool cmd_;
  std::string zone_;
  epoch_seconds earliest_[2] = {never_expires, never_expires};
  bool installed_ = false;
};

static_assert(configurable_firewall<firewalld> && checked_firewall<firewalld>);
static_assert(listing_firewall<firewalld> && flushing_firewall<firewalld>);
static_assert(stopping_firewall<firewalld> && privileged_firewall<firewalld>);

}  // namespace knock::firewall

#include <knock/firewall/impl/firewalld.hpp>
