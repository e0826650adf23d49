// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Time as knock counts it: whole seconds since the epoch on the server's clock, 64-bit (fwknop's
/// timestamps are seconds too; 64 bits keep them valid past 2038).

#include <chrono>
#include <cstdint>
#include <limits>

namespace knock {

/// Seconds since the epoch, 64-bit.
using epoch_seconds = std::int64_t;

/// A time that never comes: an entry that never expires (packet aging switched off).
inline constexpr epoch_seconds never_expires = std::numeric_limits<epoch_seconds>::max();

/// Now, by `Clock`, in seconds since the epoch.
template <class Clock = std::chrono::system_clock>
epoch_seconds now_seconds() noexcept {
  return std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
}

}  // namespace knock
