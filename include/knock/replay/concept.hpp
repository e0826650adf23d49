// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The ReplayStore policy family: remembers packets already accepted, so a captured packet cannot
/// be used again.
// clang-format off
///
/// | requirement                          | meaning                                                  | caller |
/// |--------------------------------------|----------------------------------------------------------|--------|
/// | `using role = knock::role::replay`   | declares the family                                      | concepts |
/// | `s.contains(key, now)` noexcept      | seen, and its entry has not expired at `now`: O(1)       | server |
/// | `s.remember(key, expires, now)`      | `result<void>`; keeps `key` until `expires`; may drop    | server |
/// |                                      | entries expired at `now`, never a live one (`errc::replay_store_full`) | |
/// | `s.size()` noexcept                  | entries held                                             | observers, tests |
/// | optional: `s.commit()`               | `result<void>`; makes what was remembered durable. The   | server, daemon |
/// |                                      | server calls it once per accepted packet, before the grant |  |
// clang-format on
///
/// Keys are canonical (see knock/server.hpp for how they are made): one packet, one key, however it
/// was spelled on the wire. Times are seconds since the epoch on the server's clock.

#include <knock/core/bytes.hpp>
#include <knock/core/result.hpp>
#include <knock/core/role.hpp>
#include <knock/core/time.hpp>

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace knock {

/// A canonical packet identity: a SHA-256 digest.
struct replay_key {
  std::array<byte, 32> bytes{};
  friend bool operator==(const replay_key&, const replay_key&) = default;
};

template <class P>
concept replay_policy = has_role<P, role::replay> &&
    requires(P& s, const P& cs, const replay_key& k, epoch_seconds t) {
  { cs.contains(k, t) }
  noexcept->std::same_as<bool>;
  { s.remember(k, t, t) } -> std::same_as<result<void>>;
  { cs.size() }
  noexcept->std::same_as<std::size_t>;
};

}  // namespace knock
