// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Picking policies out of a pack by role (not API). A fold expression, not Hana: shorter errors.

#include <knock/core/role.hpp>

#include <chrono>
#include <cstddef>
#include <type_traits>

namespace knock::detail {

/// True when `P` plays `Role`; a clock is recognised by `std::chrono::is_clock_v`.
template <class P, class Role>
inline constexpr bool plays = has_role<P, Role>;
struct clock_role {};
template <class P>
inline constexpr bool plays<P, clock_role> = std::chrono::is_clock_v<P>;

/// How many of `Ps...` play `Role`.
template <class Role, class... Ps>
inline constexpr std::size_t count_role = (std::size_t{plays<Ps, Role>} + ... + 0);

/// The first of `Ps...` that plays `Role`, else `Default`.
template <class Role, class Default, class... Ps>
struct select_role {
  using type = Default;
};
template <class Role, class Default, class P, class... Ps>
struct select_role<Role, Default, P, Ps...>
    : std::conditional_t<plays<P, Role>, std::type_identity<P>, select_role<Role, Default, Ps...>> {
};

template <class Role, class Default, class... Ps>
using select_role_t = typename select_role<Role, Default, Ps...>::type;

/// A type no policy is: what a missing required role selects.
struct missing {};

}  // namespace knock::detail
