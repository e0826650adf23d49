// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Out-of-line bodies of knock/client/send.hpp (POSIX sockets).

#include <knock/client/send.hpp>
#include <knock/config/error.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace knock {

namespace detail {

/// A socket descriptor, closed when destroyed.
class socket_fd {
 public:
  explicit socket_fd(int fd) noexcept : fd_{fd} {}
  socket_fd(const socket_fd&) = delete;
  socket_fd& operator=(const socket_fd&) = delete;
  ~socket_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

/// `what: <strerror(errnum)>`, an `errc::io_failed`.
inline failure<error> io_error(std::string_view what, int errnum = errno) {
  return fail(system_error(errc::io_failed, what, errnum));
}

/// A socket of `to`'s family, bound to `source_port` when that is not 0.
inline result<int> open_socket(const endpoint& to, int type, std::uint16_t source_port) {
  const int fd = ::socket(to.address.ss_family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return io_error("socket for " + to.to_string());
  if (source_port == 0) return fd;
  socket_fd guard{fd};
  const int on = 1;  // a fixed TCP source port is otherwise busy while the last one is TIME_WAIT
  if (type == SOCK_STREAM) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_storage local{};
  socklen_t size = 0;
  if (to.address.ss_family == AF_INET6) {
    auto& a = reinterpret_cast<sockaddr_in6&>(local);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_any;
    a.sin6_port = htons(source_port);
    size = sizeof a;
  } else {
    auto& a = reinterpret_cast<sockaddr_in&>(local);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    a.sin_port = htons(source_port);
    size = sizeof a;
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), size) != 0)
    return io_error("bind source port " + std::to_string(source_port));
  return guard.release();
}

/// Connects `fd` to `to` within `timeout`.
inline result<void> connect_within(int fd, const endpoint& to, std::chrono::milliseconds timeout) {
  const std::string where = "connect to " + to.to_string();
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return io_error(where);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to.address), to.size) != 0) {
    if (errno != EINPROGRESS) return io_error(where);
    pollfd p{fd, POLLOUT, 0};
    int ready;
    do ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    while (ready < 0 && errno == EINTR);
    if (ready < 0) return io_error(where);
    if (ready == 0) return io_error(where, ETIMEDOUT);
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return io_error(where);
    if (err != 0) return io_error(where, err);
  }
  if (::fcntl(fd, F_SETFL, flags) != 0) return io_error(where);
  return {};
}

}  // namespace detail

inline std::string endpoint::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(address);
    ::inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text);
    return '[' + std::string{text} + "]:" + std::to_string(ntohs(a.sin6_port));
  }
  const auto& a = reinterpret_cast<const sockaddr_in&>(address);
  ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
  return std::string{text} + ':' + std::to_string(ntohs(a.sin_port));
}

inline result<std::vector<endpoint>> resolve(const destination& d) {
  addrinfo hints{};
  hints.ai_family = d.family == ip_family::v4   ? AF_INET
                    : d.family == ip_family::v6 ? AF_INET6
                                                : AF_UNSPEC;
  hints.ai_socktype = d.protocol == transport::tcp ? SOCK_STREAM : SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(d.port);
  const std::string what = "cannot resolve '" + config::printable(d.host) + "'";
  if (const int rc = ::getaddrinfo(d.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    if (rc == EAI_SYSTEM) return detail::io_error(what);
    return fail(error{errc::io_failed, what + ": " + ::gai_strerror(rc)});
  }
  std::vector<endpoint> out;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_addrlen > sizeof(sockaddr_storage)) continue;
    endpoint e;
    std::memcpy(&e.address, a->ai_addr, a->ai_addrlen);
    e.size = a->ai_addrlen;
    out.push_back(e);
  }
  ::freeaddrinfo(found);
  if (out.empty()) return fail(error{errc::io_failed, what + ": " + ::gai_strerror(EAI_NONAME)});
  return out;
}

inline result<delivery> send_udp(std::string_view payload, const endpoint& to,
                                 std::uint16_t source_port) {
  auto fd = detail::open_socket(to, SOCK_DGRAM, source_port);
  if (!fd) return fail(fd.error());
  const detail::socket_fd guard{*fd};
  const ssize_t sent = ::sendto(*fd, payload.data(), payload.size(), 0,
                                reinterpret_cast<const sockaddr*>(&to.address), to.size);
  if (sent < 0) return detail::io_error("send to " + to.to_string());
  if (static_cast<std::size_t>(sent) != payload.size())
    return detail::io_error("send to " + to.to_string(), EMSGSIZE);
  return delivery{to, payload.size()};
}

inline result<delivery> send_tcp(std::string_view payload, const endpoint& to,
                                 std::uint16_t source_port, std::chrono::milliseconds timeout) {
  auto fd = detail::open_socket(to, SOCK_STREAM, source_port);
  if (!fd) return fail(fd.error());
  const detail::socket_fd guard{*fd};
  if (auto connected = detail::connect_within(*fd, to, timeout); !connected)
    return fail(connected.error());
  for (std::string_view rest = payload; !rest.empty();) {
    const ssize_t sent = ::send(*fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0) return detail::io_error("send to " + to.to_string());
    rest.remove_prefix(static_cast<std::size_t>(sent));
  }
  ::shutdown(*fd, SHUT_WR);
  return delivery{to, payload.size()};
}

inline result<delivery> send_packet(std::string_view payload, const destination& d,
                                    const std::vector<endpoint>& addresses) {
  if (addresses.empty())
    return fail(error{errc::io_failed,
                      "send to '" + config::printable(d.host) + "': no address to send to"});
  if (d.protocol == transport::udp) return send_udp(payload, addresses.front(), d.source_port);
  result<delivery> last =
      fail(error{errc::io_failed, "send to '" + config::printable(d.host) + "': unreachable"});
  for (const endpoint& to : addresses)
    if ((last = send_tcp(payload, to, d.source_port, d.connect_timeout))) break;
  return last;
}

}  // namespace knock
