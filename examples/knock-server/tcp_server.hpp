// SPDX-License-Identifier: MIT
#pragma once
// fwknopd's ENABLE_TCP_SERVER: a listener on TCPSERV_PORT that completes TCP handshakes and says
// nothing. A client sending its SPA packet over TCP (`fwknop -P tcp`) needs the connection to be
// accepted before it sends; the packet itself is still read by the capture (PCAP_FILTER must
// include the port), never from this socket. Each connection is closed about a second after it
// was accepted, unread, as fwknopd closes it; at most `max_held` are held at once and any beyond
// are closed at once, so a connection flood costs descriptors only up to that bound.

#include "event_loop.hpp"

#include <knock/core/error.hpp>
#include <knock/core/result.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>

#include <netinet/in.h>
#include <sys/socket.h>

namespace knock_server {

class tcp_server {
 public:
  static constexpr std::size_t max_held = 256;

  /// Listens on `port` of every address (IPv6 and IPv4 where the host has IPv6, else IPv4).
  static knock::result<tcp_server> open(std::uint16_t port) {
    tcp_server t;
    const auto fail = [&](const char* what) {
      return knock::fail(knock::system_error(
          knock::errc::io_failed, "TCP server on port " + std::to_string(port) + ": " + what));
    };
    t.listener_ = unique_fd{::socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
    const int on = 1, off = 0;
    if (t.listener_) {
      ::setsockopt(t.listener_.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
      ::setsockopt(t.listener_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(port);
      a.sin6_addr = in6addr_any;
      if (::bind(t.listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        if (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL) return fail("bind");
        t.listener_ = unique_fd{};
      }
    }
    if (!t.listener_) {  // no IPv6 here
      t.listener_ = unique_fd{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
      if (!t.listener_) return fail("socket");
      ::setsockopt(t.listener_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_ANY);
      if (::bind(t.listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        return fail("bind");
    }
    if (::listen(t.listener_.get(), 64) != 0) return fail("listen");
    return t;
  }

  int fd() const noexcept { return listener_.get(); }
  std::size_t held() const noexcept { return held_.size(); }

  /// Accepts every pending connection (the listener polled readable).
  void accept_pending() {
    for (;;) {
      unique_fd c{::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)};
      if (!c) return;  // EAGAIN: none left (or a transient error: the next wake-up retries)
      if (held_.size() < max_held) held_.emplace_back(clock::now(), std::move(c));
    }
  }

  /// Closes the connections accepted a second ago or more (the loop's 1 s tick).
  void close_old() {
    const auto cutoff = clock::now() - std::chrono::seconds{1};
    while (!held_.empty() && held_.front().first <= cutoff) held_.pop_front();
  }

 private:
  using clock = std::chrono::steady_clock;
  tcp_server() = default;
  unique_fd listener_;
  std::deque<std::pair<clock::time_point, unique_fd>> held_;
};

}  // namespace knock_server
