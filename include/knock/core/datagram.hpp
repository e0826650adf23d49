// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::datagram`: one received payload with its addresses — what every capture yields and what
/// `server::handle` takes, whoever received it (pcap, a UDP socket, an appliance's own data path).

#include <knock/core/net.hpp>

#include <cstdint>
#include <string_view>

namespace knock {

/// A received SPA candidate. The payload is borrowed for the duration of the call that takes it.
struct datagram {
  std::string_view payload;  ///< the UDP (or TCP) payload, exact bytes
  ip_address source;         ///< sender
  ip_address destination;    ///< the address it was sent to (0.0.0.0 from a UDP socket, as fwknopd)
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
};

}  // namespace knock
