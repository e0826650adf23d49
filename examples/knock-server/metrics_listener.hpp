// SPDX-License-Identifier: MIT
#pragma once
// KNOCK_METRICS_LISTEN: a small HTTP/1.x listener for Prometheus on the daemon's event loop (no
// thread). `GET /metrics` (or HEAD) is answered with the text exposition; any other path is 404,
// any other method 405, anything that is not an HTTP/1.x request line 400. One request per
// connection (`Connection: close`). Bounded: at most `max_clients` connections at once (those
// beyond are closed as soon as they are accepted), a request head of at most `max_request` bytes
// (431 past it), and every connection is closed once it is `deadline` old, whatever it is doing
// (a slow or idle client, one that does not read its answer). Every socket is non-blocking, and
// each wake-up reads or writes once: the capture it shares the loop with never waits for it.

#include "event_loop.hpp"

#include <knock/core/error.hpp>
#include <knock/core/net.hpp>
#include <knock/core/result.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <cstring>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace knock_server {

/// An address and port to listen on: `127.0.0.1:9466`, `[::1]:9466`.
struct metrics_endpoint {
  knock::ip_address address;
  std::uint16_t port = 0;

  static std::optional<metrics_endpoint> parse(std::string_view text) noexcept {
    std::string_view host, port;
    if (text.starts_with('[')) {  // [v6]:port
      const auto close = text.find("]:");
      if (close == std::string_view::npos) return std::nullopt;
      host = text.substr(1, close - 1);
      port = text.substr(close + 2);
      if (host.find(':') == std::string_view::npos) return std::nullopt;
    } else {
      const auto colon = text.rfind(':');
      if (colon == std::string_view::npos) return std::nullopt;
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (host.find(':') != std::string_view::npos) return std::nullopt;  // v6 needs brackets
    }
    const auto a = knock::ip_address::parse(host);
    unsigned p = 0;
    const auto r = std::from_chars(port.data(), port.data() + port.size(), p);
    if (!a || port.empty() || r.ec != std::errc{} || r.ptr != port.data() + port.size() || p == 0 ||
        p > 65535)
      return std::nullopt;
    return metrics_endpoint{*a, static_cast<std::uint16_t>(p)};
  }
};

/// How much a metrics listener takes at once.
struct metrics_limits {
  std::size_t max_clients = 16;
  std::size_t max_request = 8192;  ///< request line and headers
  std::chrono::milliseconds deadline{5000};
};

class metrics_listener {
 public:
  using limits = metrics_limits;

  static knock::result<metrics_listener> open(const metrics_endpoint& at, limits l = {}) {
    metrics_listener m;
    m.limits_ = l;
    const auto fail = [&](const char* what) {
      return knock::fail(knock::system_error(knock::errc::io_failed,
                                             std::string{"KNOCK_METRICS_LISTEN: "} + what));
    };
    const bool v4 = at.address.is_v4();
    m.listener_ =
        unique_fd{::socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
    if (!m.listener_) return fail("socket");
    const int on = 1;
    ::setsockopt(m.listener_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (v4) {
      auto& a = reinterpret_cast<sockaddr_in&>(ss);
      a.sin_family = AF_INET;
      a.sin_port = htons(at.port);
      std::copy_n(at.address.bytes().data(), 4, reinterpret_cast<std::uint8_t*>(&a.sin_addr));
      len = sizeof a;
    } else {
      ::setsockopt(m.listener_.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
      auto& a = reinterpret_cast<sockaddr_in6&>(ss);
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(at.port);
      std::copy_n(at.address.bytes().data(), 16, a.sin6_addr.s6_addr);
      len = sizeof a;
    }
    if (::bind(m.listener_.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return fail("bind");
    if (::listen(m.listener_.get(), 64) != 0) return fail("listen");
    return m;
  }

  int fd() const noexcept { return listener_.get(); }
  /// The port it listens on (the one the kernel chose for port 0).
  std::uint16_t port() const noexcept {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
    return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<const sockaddr_in&>(ss).sin_port
                                         : reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
  }
  std::size_t clients() const noexcept { return clients_.size(); }
  /// Connections closed at once because `max_clients` were open.
  std::uint64_t turned_away() const noexcept { return turned_away_; }
  /// The listener's or one of its connections' descriptor.
  bool owns(int fd) const noexcept {
    return fd == listener_.get() ||
           std::ranges::any_of(clients_, [&](const client& c) { return c.fd.get() == fd; });
  }

  /// `fd` (one it owns) is ready: accepts, reads or writes once. `render()` gives the exposition.
  /// `Loop` has `watch(fd)` and `watch_output(fd, bool)` (event_loop).
  template <class Loop, class Render>
  void ready(int fd, Loop& loop, Render&& render) {
    if (fd == listener_.get()) return accept_pending(loop);
    const auto it =
        std::ranges::find_if(clients_, [&](const client& c) { return c.fd.get() == fd; });
    if (it == clients_.end()) return;
    if (it->out.empty()) {
      if (!read_request(*it, render)) return close(it);
      if (it->out.empty()) return;  // the head is not complete yet
    }
    const ssize_t n = ::send(fd, it->out.data() + it->sent, it->out.size() - it->sent,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!it->waiting_output) it->waiting_output = loop.watch_output(fd, true);
      return;
    }
    if (n < 0) return close(it);
    it->sent += static_cast<std::size_t>(n);
    if (it->sent == it->out.size()) return close(it);
    if (!it->waiting_output) it->waiting_output = loop.watch_output(fd, true);
  }

  /// Closes the connections `deadline` old or more (the loop's 1 s tick).
  void close_old(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) {
    std::erase_if(clients_, [&](const client& c) { return now - c.since >= limits_.deadline; });
  }

 private:
  struct client {
    unique_fd fd;
    std::chrono::steady_clock::time_point since;
    std::string in, out;
    std::size_t sent = 0;
    bool waiting_output = false;
  };
  metrics_listener() = default;

  template <class Loop>
  void accept_pending(Loop& loop) {
    for (;;) {
      unique_fd c{::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)};
      if (!c) return;  // EAGAIN: none left (or a transient error: the next wake-up retries)
      if (clients_.size() >= limits_.max_clients || !loop.watch(c.get())) {
        ++turned_away_;
        continue;  // closed here
      }
      clients_.push_back({std::move(c), std::chrono::steady_clock::now(), {}, {}, 0, false});
    }
  }

  void close(std::vector<client>::iterator it) { clients_.erase(it); }

  // Reads once; false when the connection is to be closed (peer closed, error). Sets `c.out` when
  // the head is complete or too long.
  template <class Render>
  bool read_request(client& c, Render& render) {
    char buf[2048];
    const std::size_t room = limits_.max_request + 1 - std::min(c.in.size(), limits_.max_request);
    const ssize_t n = ::recv(c.fd.get(), buf, std::min(room, sizeof buf), MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (n == 0) return false;
    c.in.append(buf, static_cast<std::size_t>(n));
    std::size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) end = c.in.find("\n\n");
    if (end == std::string::npos) {
      if (c.in.size() > limits_.max_request)
        c.out = answer(431, "Request Header Fields Too Large", {});
      return true;
    }
    c.out = respond(std::string_view{c.in}.substr(0, end), render);
    return true;
  }

  template <class Render>
  static std::string respond(std::string_view head, Render& render) {
    const std::string_view line = head.substr(0, head.find_first_of("\r\n"));
    const auto sp1 = line.find(' ');
    const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return answer(400, "Bad Request", {});
    const std::string_view method = line.substr(0, sp1);
    const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    if (!version.starts_with("HTTP/1.") || version.size() != 8 || !target.starts_with('/'))
      return answer(400, "Bad Request", {});
    if (method != "GET" && method != "HEAD") return answer(405, "Method Not Allowed", {});
    if (target.substr(0, target.find('?')) != "/metrics") return answer(404, "Not Found", {});
    std::string out = answer(200, "OK", render(), "text/plain; version=0.0.4; charset=utf-8");
    if (method == "HEAD") out.resize(out.find("\r\n\r\n") + 4);
    return out;
  }

  static std::string answer(int status, std::string_view reason, std::string body,
                            std::string_view type = "text/plain; charset=utf-8") {
    if (status != 200) body = std::to_string(status) + " " + std::string{reason} + "\n";
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string{reason} + "\r\n";
    out.append("Content-Type: ").append(type).append("\r\n");
    if (status == 405) out.append("Allow: GET, HEAD\r\n");
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    out.append("Connection: close\r\n\r\n").append(body);
    return out;
  }

  limits limits_;
  unique_fd listener_;
  std::vector<client> clients_;
  std::uint64_t turned_away_ = 0;
};

/// KNOCK_METRICS_FILE: `text` into `path`, all or nothing for a reader (`path.tmp`, written,
/// then renamed over `path`; node_exporter's textfile collector reads only `*.prom`). What failed,
/// or nothing.
inline std::optional<std::string> write_atomically(const std::string& path, std::string_view text) {
  const std::string temporary = path + ".tmp";
  const auto failed = [&](const std::string& what) {
    const std::string out = what + ": " + std::strerror(errno);
    ::unlink(temporary.c_str());
    return std::optional<std::string>{out};
  };
  unique_fd f{
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644)};
  if (!f) return std::optional<std::string>{temporary + ": " + std::strerror(errno)};
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = ::write(f.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return failed(temporary);
    done += static_cast<std::size_t>(n);
  }
  f = unique_fd{};
  if (::rename(temporary.c_str(), path.c_str()) != 0) return failed("rename to " + path);
  return std::nullopt;
}

}  // namespace knock_server
