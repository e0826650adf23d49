// SPDX-License-Identifier: MIT
// libFuzzer: `capture::parse_frame` for every link type; the first input byte picks the link type
// (values past the list give an unknown one), the rest is the frame. A datagram's payload must lie
// inside the frame.

#include <knock/capture/frame.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using knock::capture::link_type;
  static constexpr std::array<link_type, 9> links{
      link_type::null, link_type::ethernet,   link_type::raw,
      link_type::loop, link_type::linux_sll,  link_type::ipv4,
      link_type::ipv6, link_type::linux_sll2, static_cast<link_type>(147)};
  if (size == 0) return 0;
  const link_type link = links[data[0] % links.size()];
  const knock::bytes_view frame{reinterpret_cast<const knock::byte*>(data + 1), size - 1};
  const auto d = knock::capture::parse_frame(frame, link);
  if (d) {
    const auto* begin = reinterpret_cast<const char*>(frame.data());
    const auto* end = begin + frame.size();
    const char* p = d->payload.data();
    // The payload views the frame (an empty payload may point anywhere).
    if (!d->payload.empty() && (std::less<const char*>{}(p, begin) ||
                                std::less<const char*>{}(end, p + d->payload.size())))
      std::abort();
  }
  return 0;
}
