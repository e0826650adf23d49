// SPDX-License-Identifier: MIT
#pragma once
// What the capture tests share: a UDP sender and an epoll loop that collects datagrams the way
// the daemon reads them.

#include <knock/capture/concept.hpp>
#include <knock/capture/udp_socket.hpp>  // detail::to_sockaddr

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace knock::test {

/// A UDP client socket bound to `from` and an ephemeral port. Created in the calling thread's
/// network namespace, and it stays there.
class sender {
 public:
  explicit sender(const ip_address& from) {
    fd_ = ::socket(from.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_storage a;
    const socklen_t n = capture::detail::to_sockaddr(from, 0, a);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), n) != 0)
      throw std::runtime_error{"sender: cannot bind"};
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(from.is_v4() ? reinterpret_cast<sockaddr_in&>(a).sin_port
                               : reinterpret_cast<sockaddr_in6&>(a).sin6_port);
  }
  ~sender() { ::close(fd_); }
  sender(const sender&) = delete;
  sender& operator=(const sender&) = delete;

  void send(const ip_address& to, std::uint16_t port, std::string_view payload) const {
    sockaddr_storage a;
    const socklen_t n = capture::detail::to_sockaddr(to, port, a);
    if (::sendto(fd_, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&a), n) !=
        static_cast<ssize_t>(payload.size()))
      throw std::runtime_error{"sender: sendto failed"};
  }
  int fd() const { return fd_; }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

/// A delivered datagram, copied out of the callback.
struct seen {
  std::string payload;
  ip_address source, destination;
  std::uint16_t source_port = 0, destination_port = 0;
};

/// Polls the capture's descriptors with epoll (level-triggered, as the daemon) and calls
/// `receive` whenever one is ready, until `want` datagrams came or `wait` passed.
template <class Capture>
std::vector<seen> collect(Capture& c, std::size_t want,
                          std::chrono::milliseconds wait = std::chrono::seconds{3},
                          std::size_t* calls = nullptr) {
  std::vector<seen> out;
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (int fd : c.fds()) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.fd = fd;
    EXPECT_EQ(::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e), 0);
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
    epoll_event events[8];
    if (::epoll_wait(ep, events, 8, 50) <= 0) continue;
    const auto n = c.receive([&](const datagram& d) {
      out.push_back(
          {std::string{d.payload}, d.source, d.destination, d.source_port, d.destination_port});
    });
    EXPECT_TRUE(n);
    if (calls) ++*calls;
  }
  ::close(ep);
  return out;
}

}  // namespace knock::test
