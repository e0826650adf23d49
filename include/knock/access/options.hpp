// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::access::server_options`: the fwknopd.conf settings the server core applies to every
/// stanza (the time window, what NAT is enabled). knock/config/fwknopd_conf.hpp reads them;
/// knock/server.hpp applies them.

#include <knock/access/nat.hpp>
#include <knock/core/time.hpp>

namespace knock::access {

/// fwknopd.conf settings the server core applies.
struct server_options {
  bool packet_aging = true;            ///< ENABLE_SPA_PACKET_AGING
  epoch_seconds max_packet_age = 120;  ///< MAX_SPA_PACKET_AGE
  nat_options nat;                     ///< ENABLE_IPT_FORWARDING and the other NAT switches
};

}  // namespace knock::access

namespace knock {
/// The name knock/server.hpp has always given these settings (`knock::server_options{}`).
using server_options = access::server_options;
}  // namespace knock
