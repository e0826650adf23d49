// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The Observer policy family: receives one event per packet — the verdict, its reason, the source
/// and the stanza — for logs and counters. Never a key, never the plaintext.
///
/// | requirement                            | meaning                                  | caller |
/// |----------------------------------------|------------------------------------------|--------|
/// | `using role = knock::role::observer`   | declares the family                       | concepts
/// | | `o.on_packet(event)` noexcept          | one call per datagram handled             | server
/// |

#include <knock/access/grant.hpp>
#include <knock/core/error.hpp>
#include <knock/core/role.hpp>

#include <concepts>
#include <cstddef>
#include <optional>

namespace knock {

/// What the server decided about one datagram.
struct packet_event {
  ip_address source;
  bool accepted = false;
  errc reason = errc::none_;          ///< why not, when not accepted
  std::optional<std::size_t> stanza;  ///< 1-based; the stanza that decoded it, if any
  const grant* granted = nullptr;     ///< the grant, when accepted
};

template <class P>
concept observer_policy = has_role<P, role::observer> && requires(P& o, const packet_event& e) {
  { o.on_packet(e) }
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
