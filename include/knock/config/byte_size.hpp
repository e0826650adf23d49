// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::config::byte_size(conf, name, min, max)`: a memory size in fwknopd.conf — a number of
/// bytes, or with a binary unit: `512K`, `2M`, `1G` (`KiB`, `MiB`, `GiB`, `KB`, `MB`, `GB` mean the
/// same, any case). Out of range or not a size: an error at the variable's file:line.

#include <knock/config/error.hpp>
#include <knock/config/fwknopd_conf.hpp>
#include <knock/core/result.hpp>
#include <knock/core/size_text.hpp>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace knock::config {

/// The size `name` says in bytes, between `min` and `max`; nullopt when it is unset.
inline result<std::optional<std::uint64_t>, config_error> byte_size(const fwknopd_conf& c,
                                                                    std::string_view name,
                                                                    std::uint64_t min,
                                                                    std::uint64_t max) {
  if (!c.has(name)) return std::optional<std::uint64_t>{};
  const std::string text = c.text(name);
  const auto bad = [&] {
    return fail(c.error(
        name, "'" + printable(text) + "' is not a size (bytes, or with a unit: 512K, 2M, 1G)"));
  };
  std::uint64_t n = 0;
  const char* end = text.data() + text.size();
  const auto [rest, ec] = std::from_chars(text.data(), end, n);
  if (ec != std::errc{} || rest == text.data()) return bad();
  std::string unit{rest, end};
  for (char& ch : unit) ch = static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
  int shift = -1;
  for (const auto& [spelled, s] :
       {std::pair{"", 0}, std::pair{"B", 0}, std::pair{"K", 10}, std::pair{"KB", 10},
        std::pair{"KIB", 10}, std::pair{"M", 20}, std::pair{"MB", 20}, std::pair{"MIB", 20},
        std::pair{"G", 30}, std::pair{"GB", 30}, std::pair{"GIB", 30}})
    if (unit == spelled) shift = s;
  if (shift < 0) return bad();
  if (n > (max >> shift) || (n << shift) < min)
    return fail(c.error(name, "'" + printable(text) + "' is out of range (" + size_text(min) +
                                  " to " + size_text(max) + ")"));
  return std::optional<std::uint64_t>{n << shift};
}

}  // namespace knock::config
