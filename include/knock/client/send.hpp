// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Sending a packet as fwknop's client does (spec §9): one UDP datagram whose payload is the wire
/// string (`-P udp`, the default), a TCP connection that carries it and closes (`-P tcp`), an
/// HTTP GET request that carries it (`-P http`, knock/client/http.hpp), or one IPv4 packet built
/// whole on a raw socket (`-P udpraw|tcpraw|icmp`, knock/client/raw.hpp; root), whose source
/// address may be spoofed (`-Q`).
/// Names resolve with getaddrinfo, over IPv4 or IPv6 or both (`-4`/`-6`); a source port can be
/// fixed (`-S`). Errors are `knock::error`s (`errc::io_failed`) whose message says what failed
/// where: "cannot resolve 'spa.example': Name or service not known", "send to 192.0.2.1:62201:
/// Network is unreachable" (names from the caller are made printable first). Nothing here throws.

#include <knock/client/transport.hpp>
#include <knock/core/result.hpp>

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace knock {

/// Which addresses a name may resolve to.
enum class ip_family : std::uint8_t { any, v4, v6 };

/// Where and how to send (fwknop's `-D`, `-p`, `-P`, `-S`, and knock's `-4`/`-6`).
struct destination {
  std::string host;            ///< a name, an IPv4 or an IPv6 address
  std::uint16_t port = 62201;  ///< fwknopd's default
  transport protocol = transport::udp;
  ip_family family = ip_family::any;
  std::uint16_t source_port = 0;                    ///< 0: chosen by the system
  std::chrono::milliseconds connect_timeout{5000};  ///< TCP only
  std::string spoof_source;    ///< raw only: the IPv4 source to write (empty: the system's)
  std::uint8_t icmp_type = 0;  ///< icmp only (fwknop's default: echo reply)
  std::uint8_t icmp_code = 0;  ///< icmp only
  std::string http_proxy;      ///< http only: "host[:port]" to send the request through
  std::string user_agent = "Fwknop/2.6.10";  ///< http only: what fwknopd expects by default
};

/// One resolved address.
struct endpoint {
  sockaddr_storage address{};
  socklen_t size = 0;

  /// "192.0.2.1:62201" or "[2001:db8::1]:62201".
  std::string to_string() const;
};

/// What was sent, and to whom.
struct delivery {
  endpoint to;
  std::size_t bytes = 0;
};

/// The addresses `d.host` has for `d.family`, in the order getaddrinfo gives them (never empty).
result<std::vector<endpoint>> resolve(const destination& d);

/// Sends `payload` as one UDP datagram to `to`, from `source_port` when not 0.
result<delivery> send_udp(std::string_view payload, const endpoint& to,
                          std::uint16_t source_port = 0);

/// Connects to `to` (giving up after `timeout`), sends `payload`, closes.
result<delivery> send_tcp(std::string_view payload, const endpoint& to, std::uint16_t source_port,
                          std::chrono::milliseconds timeout);

/// Builds one IPv4 packet around `payload` (knock/client/raw.hpp) and sends it on a raw socket
/// to `to` (IPv4), from `d.spoof_source` when set. Needs CAP_NET_RAW.
result<delivery> send_raw(std::string_view payload, const endpoint& to, const destination& d);

/// Sends `payload` to `d` over `d.protocol`: UDP or a raw packet to the first address `resolve`
/// gives, TCP (and HTTP, whose request carries `payload`) to the first that accepts a connection.
result<delivery> send_packet(std::string_view payload, const destination& d,
                             const std::vector<endpoint>& addresses);

}  // namespace knock

#include <knock/client/impl/send.hpp>
