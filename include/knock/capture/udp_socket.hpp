// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::capture::udp_socket`: fwknopd's UDP server mode (`-U`, `ENABLE_UDP_SERVER`, port
/// `UDPSERV_PORT` 62201) — an ordinary socket instead of a sniffer, so no libpcap and no root.
/// Models `knock::capture::configurable_capture` (name `udp`, made from UDPSERV_PORT) and counts.
/// Errors say what failed where: "udp: bind [::]:62201: Address already in use".
///
/// By default one socket on `[::]` with `IPV6_V6ONLY` off takes IPv4 and IPv6 alike (IPv4 senders
/// arrive as `::ffff:a.b.c.d` and are given back as IPv4); without IPv6 it falls back to
/// `0.0.0.0`. Nonblocking, read with `recvmmsg` in batches, `SO_RCVBUF` sized for bursts. As in
/// fwknopd, the recorded destination is the unspecified address (`0.0.0.0`, `::` for IPv6
/// senders) — which is what access.conf's `DESTINATION` then sees — unless `record_destination`
/// turns on `IP_PKTINFO` to record the real one.

#include <knock/capture/concept.hpp>
#include <knock/capture/socket_set.hpp>
#include <knock/config/byte_size.hpp>
#include <knock/config/error.hpp>
#include <knock/core/error.hpp>
#include <knock/core/net.hpp>
#include <knock/core/size_text.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock::capture {

/// How `udp_socket::open` listens.
struct udp_socket_options {
  std::uint16_t port = 62201;         ///< `UDPSERV_PORT`; 0: a free port (see `port()`)
  std::vector<ip_address> addresses;  ///< empty: `[::]`, dual stack; else one socket each
  int receive_buffer = 32 << 20;      ///< `SO_RCVBUF` in bytes: room for a burst and a stall
  bool record_destination = false;    ///< `IP_PKTINFO`: the real destination, not `0.0.0.0`
  std::size_t batch = 64;             ///< datagrams per `recvmmsg`, per socket per `receive`
  std::size_t max_payload = 1500;     ///< longer datagrams are counted malformed, never cut
  /// `SO_REUSEPORT`: further sockets (of this user) may bind the same port, and the kernel gives
  /// each flow (source and destination address and port) to one of them: KNOCK_WORKERS.
  bool share_port = false;
};

namespace detail {

/// An address and port as a socket address; IPv4 stays `AF_INET`.
inline socklen_t to_sockaddr(const ip_address& a, std::uint16_t port, sockaddr_storage& out) {
  out = {};
  if (a.is_v4()) {
    auto& in = reinterpret_cast<sockaddr_in&>(out);
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    std::memcpy(&in.sin_addr, a.bytes().data(), 4);
    return sizeof in;
  }
  auto& in6 = reinterpret_cast<sockaddr_in6&>(out);
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  std::memcpy(&in6.sin6_addr, a.bytes().data(), 16);
  return sizeof in6;
}

/// The address of 4 or 16 network-order bytes, an IPv4-mapped IPv6 address given back as IPv4.
inline ip_address address_of(const void* p, int family) noexcept {
  std::array<byte, 16> b{};
  std::memcpy(b.data(), p, family == AF_INET ? 4 : 16);
  if (family == AF_INET) return ip_address::v4({b[0], b[1], b[2], b[3]});
  const ip_address a = ip_address::v6(b);
  return a.mapped_v4().value_or(a);
}

/// `"192.0.2.1:62201"`, `"[2001:db8::1]:62201"`: for error messages.
inline std::string endpoint_text(const ip_address& a, std::uint16_t port) {
  char text[INET6_ADDRSTRLEN] = "?";
  ::inet_ntop(a.is_v4() ? AF_INET : AF_INET6, a.bytes().data(), text, sizeof text);
  const std::string host = a.is_v4() ? text : "[" + std::string{text} + "]";
  return host + ":" + std::to_string(port);
}

}  // namespace detail

/// UDP sockets that receive SPA datagrams. Move-only; closes its sockets.
class udp_socket {
 public:
  using role = knock::role::capture;
  /// What `KNOCK_CAPTURE` says to choose it (the daemon also chooses it for ENABLE_UDP_SERVER).
  static constexpr std::string_view name = "udp";
  /// The fwknopd.conf variables `make` reads.
  static constexpr std::string_view variables[] = {"UDPSERV_PORT", "KNOCK_CAPTURE_BUFFER"};

  /// What fwknopd.conf says: UDPSERV_PORT (1..65535, default 62201), on `[::]` dual stack, and
  /// KNOCK_CAPTURE_BUFFER (knock's: `SO_RCVBUF`, `8M`, `512K` or bytes; 64 KiB..1 GiB; default
  /// 32 MiB). A bad value is an error at its file:line. Binds nothing.
  static result<udp_socket_options, config::config_error> settings(const config::fwknopd_conf& c) {
    auto port = c.number("UDPSERV_PORT", 62201, 65535);
    if (!port) return fail(port.error());
    udp_socket_options o;
    o.port = static_cast<std::uint16_t>(*port);
    auto buffer = config::byte_size(c, "KNOCK_CAPTURE_BUFFER", std::uint64_t{64} << 10,
                                    std::uint64_t{1} << 30);
    if (!buffer) return fail(buffer.error());
    if (*buffer) o.receive_buffer = static_cast<int>(**buffer);
    return o;
  }
  /// `settings(c)`, for its error only.
  static result<void, config::config_error> check(const config::fwknopd_conf& c) {
    if (auto o = settings(c); !o) return fail(o.error());
    return {};
  }
  /// `settings(s.conf)`, then binds; the port shared when `s.sharing` is more than one.
  static result<udp_socket> make(const setup& s) {
    auto o = settings(s.conf);
    if (!o) return fail(error{o.error().code, config::to_string(o.error())});
    o->share_port = s.sharing > 1;
    return open(*o);
  }
  /// Binds the sockets of `o`.
  static result<udp_socket> open(const udp_socket_options& o = {});

  /// The sockets; poll them for input.
  std::span<const int> fds() const noexcept { return sockets_.fds; }
  /// The port the sockets are bound to (the chosen one when opened with port 0).
  std::uint16_t port() const noexcept { return port_; }
  /// Sockets alike share their port (made with `setup::sharing` > 1).
  static constexpr share_mode shared_by() noexcept { return share_mode::port; }
  /// "UDP port 62201", for the daemon's start-up line.
  std::string describe() const { return "UDP port " + std::to_string(port_); }
  /// What the sockets hold: their receive buffers are kernel memory, taken only while datagrams
  /// wait to be read (none of it is in the daemon's resident set), up to what `SO_RCVBUF` gave;
  /// the daemon's own batch buffer is resident.
  std::string memory() const {
    return "socket buffer up to " + size_text(receive_buffer_) +
           " (kernel, taken only while datagrams wait), batch buffer " + size_text(buffer_.size());
  }

  /// Calls `on_datagram(const datagram&)` for each datagram ready now, without blocking: at most
  /// `batch` per socket. Returns how many were delivered, or `errc::capture_failed` ("udp:
  /// receive on port 62201: ..."). If
  /// `on_datagram` throws, the rest of that socket's batch is lost.
  template <class F>
  result<std::size_t> receive(F&& on_datagram);

  /// Counters since opening; `dropped` is the kernel's count (`SO_RXQ_OVFL`).
  capture_stats stats() const noexcept {
    capture_stats out = counts_;
    for (std::uint32_t d : drops_) out.dropped += d;
    return out;
  }

 private:
  struct slot {  // where one datagram of a recvmmsg batch lands, but its payload
    iovec data;
    sockaddr_storage peer;
    alignas(cmsghdr) unsigned char control[128];
  };

  udp_socket() = default;
  static failure<error> failed(std::string_view what, int errnum) {
    return fail(system_error(errc::capture_failed, "udp: " + std::string{what}, errnum));
  }
  // The destination it names, and the drop count, from one datagram's control messages.
  std::optional<ip_address> read_control(std::size_t socket, msghdr& h) noexcept;

  detail::socket_set sockets_;
  std::vector<std::uint32_t> drops_;  // per socket: the kernel's cumulative count
  std::vector<slot> slots_;
  std::vector<mmsghdr> messages_;  // recvmmsg wants them contiguous
  std::vector<char> buffer_;
  capture_stats counts_;
  std::uint16_t port_ = 0;
  bool record_destination_ = false;
  std::size_t batch_ = 64;
  std::size_t max_payload_ = 1500;
  std::size_t receive_buffer_ = 0;  // SO_RCVBUF as the kernel reports it (the last socket's)
};

static_assert(configurable_capture<udp_socket> && checked_capture<udp_socket>);
static_assert(counting_capture<udp_socket> && memory_reporting_capture<udp_socket>);

}  // namespace knock::capture

#include <knock/capture/impl/udp_socket.hpp>
