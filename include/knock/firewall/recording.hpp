// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::firewall::recording`: keeps the grants it is given and expires them on the server's
/// clock, touching no real firewall. FIREWALL_TYPE `none`, for tests, `--test` / `--decode` runs,
/// and embedding where the caller applies grants itself. Models
/// `knock::firewall::configurable_firewall`; lists and flushes (nothing: it has no rules).
///
/// Made from fwknopd.conf (`make`: FIREWALL_TYPE none, knock-server -t) it only counts: nothing
/// there reads the grants, and keeping them cost 240 bytes an accepted packet (4.6 MiB resident
/// after bench/load.sh's burst of 20,000; the page faults of first touching them were 2.4 % of
/// the daemon's perf samples, and without them it took ×0.963 the CPU, side by side).
/// Constructed (`recording{}`), it keeps each until it expires, in `active()`.

#include <knock/firewall/concept.hpp>
#include <knock/firewall/setup.hpp>

#include <boost/container/deque.hpp>
#include <boost/container/options.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace knock::firewall {

/// Records grants instead of applying them.
class recording {
 public:
  using role = knock::role::firewall;
  /// Where the grants are kept: a deque (it grows without copying what it holds, or holding twice
  /// its size while it does: knock-server -t keeps every grant of a burst until it expires, 20,000
  /// in bench/load.sh's), in blocks of 256 (a 61 KiB allocation per 256 grants; std::deque's
  /// 512-byte nodes hold two 240-byte grants, a malloc per two grants).
  using grant_list = boost::container::deque<
      grant, void, boost::container::deque_options_t<boost::container::block_size<256u>>>;
  /// What it keeps of each grant.
  enum class keeping : bool { count, grants };

  /// Keeps every grant (`active()`), or only counts them (`opened()`).
  recording() noexcept = default;
  explicit recording(keeping k) noexcept : keep_{k == keeping::grants} {}

  /// FIREWALL_TYPE's value that chooses it.
  static constexpr std::string_view name = "none";
  /// It reads no fwknopd.conf variable.
  static constexpr std::array<std::string_view, 0> variables{};

  /// Nothing to check: it reads no variable.
  static result<void, config::config_error> check(const config::fwknopd_conf&) { return {}; }
  /// One that counts (see the file comment), whatever the setup.
  static result<recording> make(const setup&) { return recording{keeping::count}; }

  result<void> open(const grant& g) {
    if (keep_) open_.push_back(g);
    ++opened_;
    return {};
  }
  /// Records a NAT grant like any other (`grant.nat` says what a real firewall would do).
  result<void> open_nat(const grant& g) { return open(g); }
  result<void> expire(epoch_seconds now) {
    open_.erase(std::remove_if(open_.begin(), open_.end(),
                               [&](const grant& g) { return g.expires <= now; }),
                open_.end());
    return {};
  }
  /// `--fw-list`: no line. No firewall holds a rule of it (the grants it records are in
  /// `active()`, for its embedder).
  result<std::vector<std::string>> list() const { return std::vector<std::string>{}; }
  /// `--fw-flush`: there is no rule to remove; succeeds and changes nothing.
  result<void> flush() { return {}; }

  /// Its calls never wait (memory only): firewall::async may run them on the queuing thread.
  bool instant() const noexcept { return true; }

  /// Grants still open at the last `expire` call, oldest first (none when it only counts).
  const grant_list& active() const noexcept { return open_; }
  /// Grants ever opened.
  std::size_t opened() const noexcept { return opened_; }

 private:
  grant_list open_;
  std::size_t opened_ = 0;
  bool keep_ = true;
};

static_assert(configurable_firewall<recording> && checked_firewall<recording>);
static_assert(listing_firewall<recording> && flushing_firewall<recording>);
static_assert(nat_firewall<recording> && instant_firewall<recording>);

}  // namespace knock::firewall
