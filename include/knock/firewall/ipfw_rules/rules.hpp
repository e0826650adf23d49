// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The rules knock's ipfw backend adds and reads, in fwknopd's shape: one numbered rule per
/// port of a grant (all ports of a grant share its number), in the active set, its expiry in the
/// rule's comment,
///
///     ipfw add 10001 set 1 pass 6 from 192.0.2.7 to me dst-port 22 setup keep-state //
///     _exp_1700000035
///
/// and the parse of `ipfw [-S] [-d] set N list` (`# DISABLED ` before a rule of a disabled set
/// under -S; the dynamic rules after `## Dynamic rules`). Pure functions, no process.

#include <knock/core/grant.hpp>
#include <knock/core/net.hpp>
#include <knock/core/time.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace knock::firewall::ipfw_rules {

/// What fwknopd.conf says for ipfw (fwknopd's defaults).
struct options {
  std::string ipfw = "ipfw";          ///< `FIREWALL_EXE`
  std::uint32_t start_rule = 10000;   ///< `IPFW_START_RULE_NUM`
  std::uint32_t max_rules = 65535;    ///< `IPFW_MAX_RULES`: numbers start..start+max-1 (≤ 65534)
  std::uint32_t active_set = 1;       ///< `IPFW_ACTIVE_SET_NUM`
  std::uint32_t expire_set = 2;       ///< `IPFW_EXPIRE_SET_NUM` (disabled at start-up)
  std::uint32_t purge_interval = 30;  ///< `IPFW_EXPIRE_PURGE_INTERVAL`, seconds
  bool add_check_state = false;       ///< `IPFW_ADD_CHECK_STATE`: a check-state rule at start
  bool flush_at_open = true;          ///< `FLUSH_IPFW_AT_INIT`
  bool flush_at_stop = true;          ///< `FLUSH_IPFW_AT_EXIT`
  bool use_destination = false;       ///< `ENABLE_DESTINATION_RULE`: `to <packet's destination>`
  std::chrono::milliseconds command_timeout{10'000};

  /// The last rule number knock may use (65535 is ipfw's default rule).
  std::uint32_t last_rule() const noexcept {
    const std::uint64_t last = std::uint64_t{start_rule} + max_rules - 1;
    return last > 65534 ? 65534 : static_cast<std::uint32_t>(last);
  }
};

/// A rule of a listing.
struct listed_rule {
  std::uint32_t number = 0;
  std::optional<epoch_seconds> expires;  ///< its `_exp_` comment; none: not a grant rule
  bool disabled = false;                 ///< listed under `# DISABLED` (its set is disabled)
};

/// The arguments after `ipfw` that add grant rule `number` for `source` to `port`. `setup`
/// (TCP SYN only) is left out for UDP, where fwknopd's rule could never match. The rule is `to me`
/// (`me6`), or `to <destination>` (the SPA packet's) with ENABLE_DESTINATION_RULE.
inline std::vector<std::string> add_arguments(const options& o, std::uint32_t number,
                                              const ip_address& source, port_spec port,
                                              epoch_seconds expires,
                                              const ip_address& destination = {}) {
  std::vector<std::string> a{
      "add",      std::to_string(number),
      "set",      std::to_string(o.active_set),
      "pass",     std::to_string(static_cast<int>(port.protocol)),
      "from",     to_string(source),
      "to",       o.use_destination ? to_string(destination) : source.is_v4() ? "me" : "me6",
      "dst-port", std::to_string(port.port)};
  if (port.protocol == ip_protocol::tcp) a.emplace_back("setup");
  a.emplace_back("keep-state");
  a.emplace_back("//");
  a.push_back("_exp_" + std::to_string(expires));
  return a;
}

namespace detail {
inline bool read_number(std::string_view& s, std::uint64_t& out, std::size_t max_digits) {
  std::size_t n = 0;
  out = 0;
  while (n < s.size() && n < max_digits && s[n] >= '0' && s[n] <= '9')
    out = out * 10 + (s[n++] - '0');
  if (n == 0 || (n < s.size() && s[n] >= '0' && s[n] <= '9')) return false;
  s.remove_prefix(n);
  return true;
}
/// Calls `f(line)` for each line of `text`.
template <class F>
void each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    f(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  }
}
}  // namespace detail

/// The static rules of an `ipfw [-S] set N list` listing (the dynamic part, if any, is skipped).
inline std::vector<listed_rule> parse_listing(std::string_view text) {
  std::vector<listed_rule> out;
  bool dynamic = false;
  detail::each_line(text, [&](std::string_view line) {
    if (line.starts_with("## Dynamic rules")) dynamic = true;
    if (dynamic) return;
    listed_rule r;
    if (line.starts_with("# DISABLED ")) {
      r.disabled = true;
      line.remove_prefix(11);
    }
    std::uint64_t n = 0;
    if (!detail::read_number(line, n, 5) || n == 0 || n > 65535) return;
    r.number = static_cast<std::uint32_t>(n);
    if (const std::size_t at = line.find("// _exp_"); at != std::string_view::npos) {
      std::string_view stamp = line.substr(at + 8);
      std::uint64_t t = 0;
      if (detail::read_number(stamp, t, 19) && (stamp.empty() || stamp.front() == ' '))
        r.expires = static_cast<epoch_seconds>(t);
    }
    out.push_back(r);
  });
  return out;
}

/// The rule numbers that have dynamic rules (live connections) in an `ipfw -d ... list`.
inline std::set<std::uint32_t> dynamic_rule_numbers(std::string_view text) {
  std::set<std::uint32_t> out;
  bool dynamic = false;
  detail::each_line(text, [&](std::string_view line) {
    if (line.starts_with("## Dynamic rules")) {
      dynamic = true;
      return;
    }
    std::uint64_t n = 0;
    if (dynamic && detail::read_number(line, n, 5) && n > 0 && n < 65536)
      out.insert(static_cast<std::uint32_t>(n));
  });
  return out;
}

}  // namespace knock::firewall::ipfw_rules
