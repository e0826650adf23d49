// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::recording`: keeps the grants it is given and expires them on the server's
/// clock, touching no real firewall. FIREWALL_TYPE `none`, for tests, `--test` / `--decode` runs,
/// and embedding where the caller applies grants itself. Models
/// `knock::firewall::configurable_firewall`; lists and flushes (nothing: it has no rules).

#include <knock/firewall/concept.hpp>
#include <knock/firewall/setup.hpp>

#include <algorithm>
#include <array>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace knock::firewall {

/// Records grants instead of applying them.
class recording {
 public:
  using role = knock::role::firewall;
  /// FIREWALL_TYPE's value that chooses it.
  static constexpr std::string_view name = "none";
  /// It reads no fwknopd.conf variable.
  static constexpr std::array<std::string_view, 0> variables{};

  /// Nothing to check: it reads no variable.
  static result<void, config::config_error> check(const config::fwknopd_conf&) { return {}; }
  /// An empty one, whatever the setup.
  static result<recording> make(const setup&) { return recording{}; }

  result<void> open(const grant& g) {
    open_.push_back(g);
    ++opened_;
    return {};
  }
  /// Records a NAT grant like any other (`grant.nat` says what a real firewall would do).
  result<void> open_nat(const grant& g) { return open(g); }
  result<void> expire(epoch_seconds now) {
    std::erase_if(open_, [&](const grant& g) { return g.expires <= now; });
    return {};
  }
  /// `--fw-list`: no line. No firewall holds a rule of it (the grants it records are in
  /// `active()`, for its embedder).
  result<std::vector<std::string>> list() const { return std::vector<std::string>{}; }
  /// `--fw-flush`: there is no rule to remove; succeeds and changes nothing.
  result<void> flush() { return {}; }

  /// Grants still open at the last `expire` call, oldest first.
  const std::deque<grant>& active() const noexcept { return open_; }
  /// Grants ever opened.
  std::size_t opened() const noexcept { return opened_; }

 private:
  // A deque: it grows without copying what it holds or keeping twice its size while it does
  // (knock-server -t keeps every grant of a burst until it expires: 20,000 in bench/load.sh's).
  std::deque<grant> open_;
  std::size_t opened_ = 0;
};

static_assert(configurable_firewall<recording> && checked_firewall<recording>);
static_assert(listing_firewall<recording> && flushing_firewall<recording>);
static_assert(nat_firewall<recording>);

}  // namespace knock::firewall
