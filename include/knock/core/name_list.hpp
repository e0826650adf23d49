// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Compile-time lists of names, for the sets of backends a program chooses from by name: their
/// names joined for messages, and their variables concatenated into one list.

#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>

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

}  // namespace knock
