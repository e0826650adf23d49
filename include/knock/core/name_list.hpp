// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Compile-time lists of names, for the sets of backends a program chooses from by name
/// (`knock::firewall::any_of`, `knock::capture::any_of`): what the set knows — the members' names,
/// their variables concatenated into one list — and the dispatch from a name to a member.

#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>

namespace knock {

/// The names in `lists...` (each a range of `std::string_view`), one after the other.
template <const auto&... Lists>
inline constexpr auto concatenated_names = [] {
  std::array<std::string_view, (std::size(Lists) + ... + 0)> out{};
  auto at = out.begin();
  ((at = std::copy(std::begin(Lists), std::end(Lists), at)), ...);
  return out;
}();

/// "a, b, c".
template <class Names>
std::string join_names(const Names& names, std::string_view separator = ", ") {
  std::string out;
  for (std::string_view n : names) out.append(out.empty() ? "" : separator).append(n);
  return out;
}

/// What a set of members that each say `M::name` and `M::variables` knows at compile time.
template <class... Members>
struct named_set {
  /// The members' names, in list order.
  static constexpr std::array<std::string_view, sizeof...(Members)> names{
      std::string_view{Members::name}...};
  /// Every variable some member reads.
  static constexpr auto variables = concatenated_names<Members::variables...>;

  /// True when `name` (exactly) is one of `names`.
  static constexpr bool knows(std::string_view name) noexcept {
    return ((name == Members::name) || ...);
  }
  /// Calls `f(std::type_identity<M>{})` for the member `M` called `name`; false when none is.
  template <class F>
  static constexpr bool visit_named(std::string_view name, F&& f) {
    return ((name == Members::name ? (f(std::type_identity<Members>{}), true) : false) || ...);
  }
};

}  // namespace knock
