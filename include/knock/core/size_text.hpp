// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::size_text(bytes)`: a size for a log line, in the largest binary unit that keeps one
/// decimal honest: "2 MiB", "1.5 MiB", "768 KiB", "96 B".

#include <cstddef>
#include <cstdio>
#include <string>

namespace knock {

/// `bytes` as "2 MiB", "1.5 MiB", "640 KiB", "1 GiB" or "96 B" (rounded to one decimal).
inline std::string size_text(std::size_t bytes) {
  constexpr const char* units[] = {"B", "KiB", "MiB", "GiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 3) value /= 1024, ++unit;
  char text[32];
  const double tenths = static_cast<double>(static_cast<long long>(value * 10 + 0.5)) / 10;
  if (tenths == static_cast<double>(static_cast<long long>(tenths)))
    std::snprintf(text, sizeof text, "%lld %s", static_cast<long long>(tenths), units[unit]);
  else
    std::snprintf(text, sizeof text, "%.1f %s", tenths, units[unit]);
  return text;
}

}  // namespace knock
