// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::ipfw`: FreeBSD's (and macOS's) ipfw, as fwknopd drives it. FIREWALL_TYPE
/// `ipfw`; reads FLUSH_IPFW_AT_INIT, FLUSH_IPFW_AT_EXIT, IPFW_START_RULE_NUM, IPFW_MAX_RULES,
/// IPFW_ACTIVE_SET_NUM, IPFW_EXPIRE_SET_NUM, IPFW_EXPIRE_PURGE_INTERVAL, IPFW_ADD_CHECK_STATE and
/// FIREWALL_EXE. Models `knock::firewall::configurable_firewall`; lists, flushes, flushes at stop.
///
/// A grant takes the lowest free rule number of IPFW_START_RULE_NUM.. (IPFW_MAX_RULES of them)
/// and adds one `keep-state` rule per port under it, in the active set, its expiry in the comment
/// (knock/firewall/ipfw_rules/rules.hpp). When a grant's `_exp_` passes, its number is moved to
/// the expire set, which start-up disables: no new connection matches, while the dynamic rules
/// of connections made during the grant keep them alive. Every IPFW_EXPIRE_PURGE_INTERVAL seconds
/// the expired numbers without dynamic rules are deleted and their numbers are free again
/// (fwknopd 2.6.11 has this purge but never calls it, so its numbers run out). No free number:
/// the grant is refused, saying so; nothing is opened.

#include <knock/config/error.hpp>
#include <knock/firewall/concept.hpp>
#include <knock/firewall/destination.hpp>
#include <knock/firewall/ipfw_rules/rules.hpp>
#include <knock/firewall/setup.hpp>
#include <knock/firewall/tool.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock::firewall {

/// fwknopd's ipfw rules and sets. Default-constructed, it is closed: every call fails.
class ipfw {
 public:
  using role = knock::role::firewall;
  /// FIREWALL_TYPE's value that chooses it.
  static constexpr std::string_view name = "ipfw";
  /// The fwknopd.conf variables `make` reads.
  static constexpr std::string_view variables[] = {"FLUSH_IPFW_AT_INIT",
                                                   "FLUSH_IPFW_AT_EXIT",
                                                   "IPFW_START_RULE_NUM",
                                                   "IPFW_MAX_RULES",
                                                   "IPFW_ACTIVE_SET_NUM",
                                                   "IPFW_EXPIRE_SET_NUM",
                                                   "IPFW_EXPIRE_PURGE_INTERVAL",
                                                   "IPFW_ADD_CHECK_STATE",
                                                   "FIREWALL_EXE",
                                                   "ENABLE_DESTINATION_RULE"};
  /// After the daemon drops root: ipfw changes the firewall.
  static constexpr privileges needs{.net_admin = true, .runs_programs = true};

  ipfw() = default;

  /// The variables with fwknopd's defaults and ranges, and ipfw's own limits (rule numbers
  /// 1..65534, sets 0..31; the active and expire sets differ unless one is 0). A bad value is
  /// an error at its file:line. Runs nothing.
  static result<ipfw_rules::options, config::config_error> settings(const config::fwknopd_conf& c);
  /// `settings(c)`, for its error only.
  static result<void, config::config_error> check(const config::fwknopd_conf& c) {
    if (auto o = settings(c); !o) return fail(o.error());
    return {};
  }
  /// `settings(s.conf)`, then `open` (serve) or `attach` (`--fw-list`, `--fw-flush`).
  static result<ipfw> make(const setup& s);
  /// Finds ipfw; touches nothing.
  static result<ipfw> attach(ipfw_rules::options o);
  /// `attach`, then fwknopd's start-up: empties the active set (FLUSH_IPFW_AT_INIT), adds the
  /// check-state rule (IPFW_ADD_CHECK_STATE), disables the expire set, and learns which numbers
  /// the expire set (and, without the flush, the active set) already holds.
  static result<ipfw> open(ipfw_rules::options o);

  /// One rule per port of `g` under the lowest free number. Refused when no number is free or
  /// ipfw fails (the number's rules added so far are deleted again).
  result<void> open(const grant& g);
  /// Moves the grants whose `_exp_` ≤ `now` to the expire set (when one is known to be due), and
  /// every IPFW_EXPIRE_PURGE_INTERVAL s deletes expired numbers without dynamic rules.
  result<void> expire(epoch_seconds now);
  /// `ipfw -d -S -T set N list` for the active, then the expire set.
  result<std::vector<std::string>> list();
  /// Deletes the active set's rules (`delete set N`; with set 0, knock's numbers one by one).
  /// The expire set stays, as fwknopd leaves it: its dynamic rules carry live connections.
  result<void> flush();
  /// When the daemon stops: `flush()` if it was opened with FLUSH_IPFW_AT_EXIT.
  result<void> stop() { return installed_ && options_.flush_at_stop ? flush() : result<void>{}; }

  /// Processes run so far.
  std::size_t commands_run() const noexcept { return ipfw_.count(); }
  /// Rule numbers in use (active or expired and not yet purged).
  std::size_t numbers_in_use() const noexcept {
    return static_cast<std::size_t>(
        std::count_if(slots_.begin(), slots_.end(), [](slot s) { return s != slot::free; }));
  }

 private:
  enum class slot : std::uint8_t { free, active, expired };
  slot& at(std::uint32_t number) { return slots_[number - options_.start_rule]; }
  bool in_range(std::uint32_t number) const noexcept {
    return number >= options_.start_rule && number <= options_.last_rule();
  }
  result<std::vector<ipfw_rules::listed_rule>> listing(std::uint32_t set, bool all = false);
  result<void> move_due(epoch_seconds now);
  result<void> purge();

  ipfw_rules::options options_;
  tool ipfw_;
  std::vector<slot> slots_;  // one per rule number of the range
  epoch_seconds earliest_ = never_expires, next_purge_ = 0;
  bool installed_ = false;
};

static_assert(configurable_firewall<ipfw> && checked_firewall<ipfw>);
static_assert(listing_firewall<ipfw> && flushing_firewall<ipfw> && stopping_firewall<ipfw>);
static_assert(privileged_firewall<ipfw>);

}  // namespace knock::firewall

#include <knock/firewall/impl/ipfw.hpp>
