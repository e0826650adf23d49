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
#include <knock/config/error.hpp>
#include <knock/core/error.hpp>
#include <knock/core/net.hpp>

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
  static constexpr std::string_view variables[] = {"UDPSERV_PORT"};

  /// From fwknopd.conf: UDPSERV_PORT (1..65535, default 62201; a bad value is an error at its
  /// file:line); then binds `[::]` dual stack.
  static result<udp_socket> make(const setup& s) {
    auto port = s.conf.number("UDPSERV_PORT", 62201, 65535);
    if (!port) return fail(error{port.error().code, config::to_string(port.error())});
    udp_socket_options o;
    o.port = static_cast<std::uint16_t>(*port);
    return open(o);
  }
  /// Binds the sockets of `o`.
  static result<udp_socket> open(const udp_socket_options& o = {});

  /// The sockets; poll them for input.
  std::span<const int> fds() const noexcept { return sockets_.fds; }
  /// The port the sockets are bound to (the chosen one when opened with port 0).
  std::uint16_t port() const noexcept { return port_; }

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

  struct sockets {  // owned descriptors, closed on destruction; a move hands them over
    std::vector<int> fds;
    sockets() = default;
    sockets(sockets&& o) noexcept : fds{std::exchange(o.fds, {})} {}
    sockets& operator=(sockets&& o) noexcept {
      std::swap(fds, o.fds);
      return *this;
    }
    ~sockets() {
      for (int fd : fds) ::close(fd);
    }
  };

  udp_socket() = default;
  static failure<error> failed(std::string_view what, int errnum) {
    return fail(system_error(errc::capture_failed, "udp: " + std::string{what}, errnum));
  }
  // The destination it names, and the drop count, from one datagram's control messages.
  std::optional<ip_address> read_control(std::size_t socket, msghdr& h) noexcept;

  sockets sockets_;
  std::vector<std::uint32_t> drops_;  // per socket: the kernel's cumulative count
  std::vector<slot> slots_;
  std::vector<mmsghdr> messages_;  // recvmmsg wants them contiguous
  std::vector<char> buffer_;
  capture_stats counts_;
  std::uint16_t port_ = 0;
  bool record_destination_ = false;
  std::size_t batch_ = 64;
  std::size_t max_payload_ = 1500;
};

static_assert(configurable_capture<udp_socket> && counting_capture<udp_socket>);

inline result<udp_socket> udp_socket::open(const udp_socket_options& o) {
  udp_socket out;
  out.port_ = o.port;
  out.record_destination_ = o.record_destination;
  out.batch_ = o.batch == 0 ? 1 : o.batch;
  out.max_payload_ = o.max_payload == 0 ? 1 : o.max_payload;
  const bool dual = o.addresses.empty();
  std::vector<ip_address> binds = dual ? std::vector{ip_address::v6({})} : o.addresses;
  out.sockets_.fds.reserve(binds.size());
  for (ip_address& a : binds) {
    int fd = ::socket(a.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 && dual && errno == EAFNOSUPPORT) {  // a kernel without IPv6
      a = ip_address{};
      fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    if (fd < 0) return failed("socket", errno);
    out.sockets_.fds.push_back(fd);  // owned from here (reserved: cannot throw); closed on failure
    out.drops_.push_back(0);
    const int on = 1, v6only = dual ? 0 : 1, size = o.receive_buffer;
    if (!a.is_v4() && ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0)
      return failed("IPV6_V6ONLY", errno);
    // SO_RCVBUFFORCE passes net.core.rmem_max when privileged; SO_RCVBUF is capped by it.
    if (size > 0 && ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
      (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    (void)::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on);  // a drop counter, if any
    if (o.record_destination) {
      // IPv4 datagrams, also on a dual-stack socket, report IP_PKTINFO; IPv6 ones IPV6_PKTINFO.
      if ((a.is_v4() || dual) && ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on) != 0)
        return failed("IP_PKTINFO", errno);
      if (!a.is_v4() && ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) != 0)
        return failed("IPV6_RECVPKTINFO", errno);
    }
    sockaddr_storage address;
    const socklen_t length = detail::to_sockaddr(a, out.port_, address);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
      const int error = errno;
      return failed("bind " + detail::endpoint_text(a, out.port_), error);
    }
    if (out.port_ == 0) {  // the next sockets take the same port
      socklen_t size_of = sizeof address;
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size_of) != 0)
        return failed("getsockname", errno);
      out.port_ = ntohs(a.is_v4() ? reinterpret_cast<const sockaddr_in&>(address).sin_port
                                  : reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
    }
  }
  out.slots_.resize(out.batch_);
  out.messages_.resize(out.batch_);
  out.buffer_.resize(out.batch_ * out.max_payload_);
  return out;
}

inline std::optional<ip_address> udp_socket::read_control(std::size_t socket, msghdr& h) noexcept {
  std::optional<ip_address> destination;
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
    const unsigned char* data = CMSG_DATA(c);
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
      std::memcpy(&drops_[socket], data, sizeof(std::uint32_t));
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, data, sizeof info);
      destination = detail::address_of(&info.ipi_addr, AF_INET);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info;
      std::memcpy(&info, data, sizeof info);
      destination = detail::address_of(&info.ipi6_addr, AF_INET6);
    }
  }
  return destination;
}

template <class F>
result<std::size_t> udp_socket::receive(F&& on_datagram) {
  std::size_t delivered = 0;
  for (std::size_t s = 0; s < sockets_.fds.size(); ++s) {
    for (std::size_t i = 0; i < batch_; ++i) {  // the kernel rewrote lengths and flags last time
      slot& m = slots_[i];
      m.data = {buffer_.data() + i * max_payload_, max_payload_};
      msghdr& h = messages_[i].msg_hdr;
      h = {};
      h.msg_name = &m.peer;
      h.msg_namelen = sizeof m.peer;
      h.msg_iov = &m.data;
      h.msg_iovlen = 1;
      h.msg_control = m.control;
      h.msg_controllen = sizeof m.control;
    }
    int n = 0;
    do
      n = ::recvmmsg(sockets_.fds[s], messages_.data(), static_cast<unsigned>(batch_), MSG_DONTWAIT,
                     nullptr);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) continue;
      const int e = errno;
      return failed("receive on port " + std::to_string(port_), e);
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
      ++counts_.received;
      msghdr& h = messages_[i].msg_hdr;
      const std::optional<ip_address> to = read_control(s, h);
      const auto& peer = slots_[i].peer;
      if ((h.msg_flags & MSG_TRUNC) != 0 ||
          (peer.ss_family != AF_INET && peer.ss_family != AF_INET6)) {
        ++counts_.malformed;
        continue;
      }
      datagram d;
      if (peer.ss_family == AF_INET) {
        const auto& in = reinterpret_cast<const sockaddr_in&>(peer);
        d.source = detail::address_of(&in.sin_addr, AF_INET);
        d.source_port = ntohs(in.sin_port);
      } else {
        const auto& in6 = reinterpret_cast<const sockaddr_in6&>(peer);
        d.source = detail::address_of(&in6.sin6_addr, AF_INET6);
        d.source_port = ntohs(in6.sin6_port);
      }
      // fwknopd records 0.0.0.0; the unspecified address of the sender's family says the same.
      d.destination = record_destination_ && to ? *to
                      : d.source.is_v4()        ? ip_address{}
                                                : ip_address::v6({});
      d.destination_port = port_;
      d.payload = {buffer_.data() + i * max_payload_, messages_[i].msg_len};
      ++counts_.delivered;
      ++delivered;
      on_datagram(std::as_const(d));
    }
  }
  return delivered;
}

}  // namespace knock::capture
