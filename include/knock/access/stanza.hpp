// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::access::stanza<Cipher, Mac>`: one access.conf stanza, bound to the server's policies —
/// the form the server works with (knock/config/ builds it from the file). Keys are secrets; the
/// HMAC state is keyed once, here, not per packet.

#include <knock/access/nat.hpp>
#include <knock/core/bytes.hpp>
#include <knock/core/grant.hpp>
#include <knock/core/net.hpp>
#include <knock/replay/concept.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace knock::access {

/// `ANY`, or a list of addresses and networks (IPv4 and IPv6).
struct address_set {
  bool any = true;
  std::vector<cidr> networks;

  bool contains(const ip_address& a) const noexcept {
    if (any) return true;
    for (const auto& n : networks)
      if (n.contains(a)) return true;
    return false;
  }
};

/// One stanza, bound to a Cipher and a Mac.
template <class Cipher, class Mac>
struct stanza {
  std::string file;      ///< where it was defined, for messages
  std::size_t line = 0;  ///< the line of its SOURCE

  address_set sources;       ///< SOURCE
  address_set destinations;  ///< DESTINATION (default ANY)

  Cipher cipher{};                         ///< ENCRYPTION_MODE
  typename Cipher::key_storage key{};      ///< KEY / KEY_BASE64 (the Cipher's own kind of key)
  std::optional<typename Mac::keyed> mac;  ///< HMAC_KEY(_BASE64) + HMAC_DIGEST_TYPE

  std::optional<port_list> open_ports;   ///< OPEN_PORTS: every requested port must be listed
  port_list restrict_ports;              ///< RESTRICT_PORTS: none may be requested
  std::uint32_t fw_access_timeout = 30;  ///< FW_ACCESS_TIMEOUT: when the client asks none
  std::uint32_t max_fw_timeout = 300;    ///< MAX_FW_TIMEOUT: cap for client timeouts
  std::string require_username;          ///< REQUIRE_USERNAME (empty: any)
  bool require_source_address = false;   ///< REQUIRE_SOURCE_ADDRESS: refuse 0.0.0.0 (-s) requests
  epoch_seconds access_expire = never_expires;  ///< ACCESS_EXPIRE(_EPOCH): unusable from then on
  bool enable_cmd_exec = false;                 ///< ENABLE_CMD_EXEC
  std::string cmd_exec_user;                    ///< CMD_EXEC_USER
  std::string cmd_exec_group;                   ///< CMD_EXEC_GROUP
  /// ENABLE_CMD_SUDO_EXEC: the command runs through sudo (SUDO_EXE), so sudo's policy filters it,
  /// as `sudo [-u CMD_SUDO_EXEC_USER] [-g CMD_SUDO_EXEC_GROUP] COMMAND` (root: no flag).
  bool enable_cmd_sudo_exec = false;
  std::string cmd_sudo_exec_user;   ///< CMD_SUDO_EXEC_USER
  std::string cmd_sudo_exec_group;  ///< CMD_SUDO_EXEC_GROUP
  std::string cmd_cycle_open;         ///< CMD_CYCLE_OPEN: run instead of opening the firewall
  std::string cmd_cycle_close;        ///< CMD_CYCLE_CLOSE (empty or NONE: nothing to run)
  std::uint32_t cmd_cycle_timer = 0;  ///< CMD_CYCLE_TIMER: seconds until the close
  stanza_nat nat;  ///< FORCE_NAT, FORCE_SNAT, FORCE_MASQUERADE, DISABLE_DNAT, FORWARD_ALL

  /// The HMAC state, or null for a stanza without an HMAC key.
  const typename Mac::keyed* mac_state() const noexcept { return mac ? &*mac : nullptr; }
};

}  // namespace knock::access
