// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Out-of-line bodies of knock/capture/udp_socket.hpp.

#include <knock/capture/udp_socket.hpp>

namespace knock::capture {

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
    const int on = 1, v6only = dual ? 0 : 1;
    if (!a.is_v4() && ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0)
      return failed("IPV6_V6ONLY", errno);
    out.receive_buffer_ = detail::set_receive_buffer(fd, o.receive_buffer);
    (void)::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on);  // a drop counter, if any
    if (o.record_destination) {
      // IPv4 datagrams, also on a dual-stack socket, report IP_PKTINFO; IPv6 ones IPV6_PKTINFO.
      if ((a.is_v4() || dual) && ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on) != 0)
        return failed("IP_PKTINFO", errno);
      if (!a.is_v4() && ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) != 0)
        return failed("IPV6_RECVPKTINFO", errno);
    }
    if (o.share_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
      return failed("SO_REUSEPORT", errno);
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
    const int n = detail::receive_batch(sockets_.fds[s], {messages_.data(), batch_});
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
