// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The Observer policy family: receives one event per packet — the verdict, its reason, the source
/// and the stanza, and what a failing resource said — for logs and counters. Never a key, never
/// the plaintext.
// clang-format off
///
/// | requirement                            | meaning                                            | caller |
/// |----------------------------------------|----------------------------------------------------|--------|
/// | `using role = knock::role::observer`   | declares the family                                | concepts |
/// | `o.on_packet(event)` noexcept          | one call per datagram handled                      | server |
///
/// | optional (named concept)               | meaning                                            | caller |
/// |----------------------------------------|----------------------------------------------------|--------|
/// | `ticking_observer`: `o.tick()` noexcept| called about once a second, packets or not (e.g. to| daemon |
/// |                                        | write a summary that no later packet would flush)  |        |
// clang-format on

#include <knock/core/error.hpp>
#include <knock/core/grant.hpp>
#include <knock/core/role.hpp>

#include <concepts>
#include <cstddef>
#include <optional>
#include <string_view>

namespace knock {

/// What the server decided about one datagram.
struct packet_event {
  ip_address source;
  bool accepted = false;
  errc reason = errc::none_;          ///< why not, when not accepted
  std::optional<std::size_t> stanza;  ///< 1-based; the stanza that decoded it, if any
  const grant* granted = nullptr;     ///< the grant, when accepted
  std::string_view detail;  ///< what a failing resource (firewall, replay store) said; else empty
};

template <class P>
concept observer_policy = has_role<P, role::observer> && requires(P& o, const packet_event& e) {
  { o.on_packet(e) }
  noexcept;
};

/// An Observer that wants a call about once a second (`tick()`), whether packets come or not.
template <class P>
concept ticking_observer = observer_policy<P> && requires(P& o) {
  { o.tick() }
  noexcept;
};

namespace observe {
/// Ignores every event. Models knock::observer_policy; the default.
struct null {
  using role = knock::role::observer;
  void on_packet(const packet_event&) noexcept {}
};
static_assert(observer_policy<null>);
}  // namespace observe

}  // namespace knock
