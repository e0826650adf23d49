// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The Firewall policy family: turns a grant into access, and takes it away again.
///
/// | requirement                             | meaning | caller |
/// |-----------------------------------------|----------------------------------------------------------|--------|
/// | `using role = knock::role::firewall`    | declares the family | concepts | | `f.open(grant)`
/// | `result<void>`: access until `grant.expires`, then closed  | server | | `f.expire(now)` |
/// `result<void>`: closes what expired at `now` (a no-op for  | server loop | | | backends whose
/// kernel expires rules itself)               |        |

#include <knock/access/grant.hpp>
#include <knock/core/result.hpp>
#include <knock/core/role.hpp>

#include <concepts>

namespace knock {

template <class P>
concept firewall_policy = has_role<P, role::firewall> &&
    requires(P& f, const grant& g, epoch_seconds now) {
  { f.open(g) } -> std::same_as<result<void>>;
  { f.expire(now) } -> std::same_as<result<void>>;
};

}  // namespace knock
