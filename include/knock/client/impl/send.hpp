// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Out-of-line bodies of knock/client/send.hpp (POSIX sockets).

#include <knock/client/http.hpp>
#include <knock/client/raw.hpp>
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
  // A raw packet is built as IPv4 (as fwknop's).
  hints.ai_family = d.family == ip_family::v4 || is_raw(d.protocol) ? AF_INET
                    : d.family == ip_family::v6                     ? AF_INET6
                                                                    : AF_UNSPEC;
  const bool stream = d.protocol == transport::tcp || d.protocol == transport::http;
  hints.ai_socktype = stream ? SOCK_STREAM : SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  // Through an HTTP proxy, the addresses are the proxy's.
  std::string host = d.host;
  std::uint16_t port_number = d.port;
  if (d.protocol == transport::http && !d.http_proxy.empty()) {
    auto proxy = parse_http_proxy(d.http_proxy, d.port);
    if (!proxy) return fail(error{errc::io_failed, "-H: " + proxy.error()});
    host = proxy->host, port_number = proxy->port;
  }
  const std::string port = std::to_string(port_number);
  const std::string what = "cannot resolve '" + config::printable(host) + "'";
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
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

inline result<delivery> send_raw(std::string_view payload, const endpoint& to,
                                 const destination& d) {
  const std::string where = "send to " + to.to_string();
  if (to.address.ss_family != AF_INET || payload.size() > 65535 - 40)
    return fail(error{errc::io_failed, where + ": a raw packet is IPv4, under 64 KiB"});
  raw_fields f;
  if (!d.spoof_source.empty()) {
    in_addr a{};
    if (::inet_pton(AF_INET, d.spoof_source.c_str(), &a) != 1)
      return fail(error{errc::io_failed,
                        "'" + config::printable(d.spoof_source) + "' is not an IPv4 address"});
    f.source = ntohl(a.s_addr);
  }
  const auto& dst = reinterpret_cast<const sockaddr_in&>(to.address);
  f.destination = ntohl(dst.sin_addr.s_addr);
  f.destination_port = ntohs(dst.sin_port);
  f.source_port = d.source_port;
  f.icmp_type = d.icmp_type, f.icmp_code = d.icmp_code;
  f.icmp_echo_id = static_cast<std::uint16_t>(::getpid());  // any value
  const std::vector<std::uint8_t> packet = raw_ipv4_packet(d.protocol, payload, f);
  const int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) return detail::io_error("raw socket (root or CAP_NET_RAW is needed) for " + where);
  const detail::socket_fd guard{fd};
  const int on = 1;
  if (::setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &on, sizeof on) != 0)
    return detail::io_error("IP_HDRINCL for " + where);
  const ssize_t sent = ::sendto(fd, packet.data(), packet.size(), 0,
                                reinterpret_cast<const sockaddr*>(&to.address), to.size);
  if (sent < 0) return detail::io_error(where);
  if (static_cast<std::size_t>(sent) != packet.size()) return detail::io_error(where, EMSGSIZE);
  return delivery{to, packet.size()};
}

inline result<delivery> send_packet(std::string_view payload, const destination& d,
                                    const std::vector<endpoint>& addresses) {
  if (addresses.empty())
    return fail(error{errc::io_failed,
                      "send to '" + config::printable(d.host) + "': no address to send to"});
  if (d.protocol == transport::udp) return send_udp(payload, addresses.front(), d.source_port);
  if (is_raw(d.protocol)) return send_raw(payload, addresses.front(), d);
  std::string request;
  if (d.protocol == transport::http)
    payload = request = http_request(payload, d.host, d.user_agent, !d.http_proxy.empty());
  result<delivery> last =
      fail(error{errc::io_failed, "send to '" + config::printable(d.host) + "': unreachable"});
  for (const endpoint& to : addresses)
    if ((last = send_tcp(payload, to, d.source_port, d.connect_timeout))) break;
  return last;
}

}  // namespace knock
