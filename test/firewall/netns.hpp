// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Network namespaces for the firewall tests: created with `ip netns add`, always removed (RAII,
/// plus a sweep of namespaces left by test processes that died), entered per thread with
/// `setns`, so nothing a test does reaches the host's ruleset.
///
/// `lab` builds three namespaces: the server `s`, a client `c` (10.77.1.2, fd77:1::2) and a
/// stranger `x` (10.77.2.2, fd77:2::2), each linked to the server by a veth pair (server side
/// 10.77.1.1 / fd77:1::1 and 10.77.2.1 / fd77:2::1). No namespace has a default route.

#include <knock/core/net.hpp>
#include <knock/system/process.hpp>

#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace knock::test {

/// Success, or a failure that prints the error's message: `ASSERT_TRUE(ok(fw->open(g)))`.
template <class Result>
::testing::AssertionResult ok(const Result& r) {
  if (r) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << knock::to_string(r.error());
}

/// Runs an absolute-path argv; true on success.
inline bool succeeds(const std::vector<std::string>& argv, std::string* output = nullptr) {
  auto r = knock::system::run(argv);
  if (r && output) *output = r->output;
  return r && r->succeeded();
}

/// `succeeds`, printing what failed.
inline bool run_ok(std::vector<std::string> argv, std::string* output = nullptr) {
  auto r = knock::system::run(argv);
  if (r && output) *output = r->output;
  if (r && r->succeeded()) return true;
  std::cerr << (r ? knock::system::summary(argv, *r) : r.error().message) << "\n";
  return false;
}

inline const std::string& ip_program() {
  static const std::string path = knock::system::find_executable("ip");
  return path;
}

/// The prefix of this process's namespaces: "kfw<pid>".
inline std::string netns_prefix(pid_t pid = ::getpid()) { return "kfw" + std::to_string(pid); }

/// Deletes namespaces named "kfw<pid>…" whose process is gone (a test that crashed).
inline void sweep_stale_namespaces() {
  DIR* dir = ::opendir("/run/netns");
  if (!dir) return;
  std::vector<std::string> stale;
  while (const dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (!name.starts_with("kfw") || name.size() < 4 || name[3] < '1' || name[3] > '9') continue;
    const pid_t pid = static_cast<pid_t>(std::atol(name.c_str() + 3));
    if (pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH)
      stale.push_back(name);
  }
  ::closedir(dir);
  for (const auto& n : stale) (void)run_ok({ip_program(), "netns", "del", n});
}

/// A named network namespace, deleted with its owner.
class netns {
 public:
  explicit netns(std::string suffix) : name_{netns_prefix() + suffix} {
    ok_ = run_ok({ip_program(), "netns", "add", name_});
  }
  netns(const netns&) = delete;
  netns& operator=(const netns&) = delete;
  ~netns() {
    if (ok_) (void)run_ok({ip_program(), "netns", "del", name_});
  }
  const std::string& name() const noexcept { return name_; }
  std::string path() const { return "/run/netns/" + name_; }
  bool ok() const noexcept { return ok_; }

 private:
  std::string name_;
  bool ok_ = false;
};

/// The calling thread inside `ns` until destruction; then back where it was. What it creates
/// there (sockets, an nft context, forked children) stays bound to `ns`.
class inside {
 public:
  explicit inside(const netns& ns) {
    home_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const int target = ::open(ns.path().c_str(), O_RDONLY | O_CLOEXEC);
    ok_ = home_ >= 0 && target >= 0 && ::setns(target, CLONE_NEWNET) == 0;
    if (target >= 0) ::close(target);
  }
  inside(const inside&) = delete;
  inside& operator=(const inside&) = delete;
  ~inside() {
    if (ok_ && ::setns(home_, CLONE_NEWNET) != 0) std::abort();  // never run on in the wrong place
    if (home_ >= 0) ::close(home_);
  }
  bool ok() const noexcept { return ok_; }

 private:
  int home_ = -1;
  bool ok_ = false;
};

/// Server, client and stranger namespaces joined by veth pairs.
struct lab {
  netns s{"s"}, c{"c"}, x{"x"};
  bool ok = false;

  lab() {
    sweep_stale_namespaces();
    if (!s.ok() || !c.ok() || !x.ok()) return;
    const std::string& ip = ip_program();
    const auto in = [&](const netns& n, std::vector<std::string> args) {
      args.insert(args.begin(), {ip, "-n", n.name()});
      return run_ok(std::move(args));
    };
    ok =
        in(s, {"link", "add", "to-c", "type", "veth", "peer", "name", "eth0", "netns", c.name()}) &&
        in(s, {"link", "add", "to-x", "type", "veth", "peer", "name", "eth0", "netns", x.name()}) &&
        in(s, {"addr", "add", "10.77.1.1/24", "dev", "to-c"}) &&
        in(s, {"addr", "add", "fd77:1::1/64", "dev", "to-c", "nodad"}) &&
        in(s, {"addr", "add", "10.77.2.1/24", "dev", "to-x"}) &&
        in(s, {"addr", "add", "fd77:2::1/64", "dev", "to-x", "nodad"}) &&
        in(c, {"addr", "add", "10.77.1.2/24", "dev", "eth0"}) &&
        in(c, {"addr", "add", "fd77:1::2/64", "dev", "eth0", "nodad"}) &&
        in(x, {"addr", "add", "10.77.2.2/24", "dev", "eth0"}) &&
        in(x, {"addr", "add", "fd77:2::2/64", "dev", "eth0", "nodad"});
    for (const netns* n : {&s, &c, &x}) ok = ok && in(*n, {"link", "set", "lo", "up"});
    ok = ok && in(s, {"link", "set", "to-c", "up"}) && in(s, {"link", "set", "to-x", "up"}) &&
         in(c, {"link", "set", "eth0", "up"}) && in(x, {"link", "set", "eth0", "up"});
  }
};

/// A socket descriptor that closes itself.
class socket_fd {
 public:
  socket_fd() = default;
  explicit socket_fd(int fd) : fd_{fd} {}
  socket_fd(socket_fd&& o) noexcept : fd_{std::exchange(o.fd_, -1)} {}
  socket_fd& operator=(socket_fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~socket_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

inline sockaddr_in6 v6_endpoint(const ip_address& a, std::uint16_t port) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  if (a.is_v4()) {  // IPv4-mapped: one code path for both families
    sa.sin6_addr.s6_addr[10] = sa.sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&sa.sin6_addr.s6_addr[12], a.bytes().data(), 4);
  } else {
    std::memcpy(&sa.sin6_addr, a.bytes().data(), 16);
  }
  return sa;
}

/// A dual-stack TCP listener on [::]:port in `ns`. The kernel completes handshakes into the
/// backlog, so nobody needs to accept for a connect to succeed.
inline socket_fd listen_in(const netns& ns, std::uint16_t port) {
  inside here{ns};
  socket_fd s{::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  const int off = 0, on = 1;
  ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  const sockaddr_in6 sa = v6_endpoint(*ip_address::parse("::"), port);
  if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(s.get(), 64) != 0)
    return {};
  return s;
}

/// A TCP connection from `ns` to `to`:`port`, or an empty socket if none is made within `wait`
/// (a dropped SYN just times out).
inline socket_fd connect_from(const netns& ns, const ip_address& to, std::uint16_t port,
                              std::chrono::milliseconds wait = std::chrono::milliseconds{400}) {
  socket_fd s;
  {
    inside here{ns};
    s = socket_fd{::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  }
  const sockaddr_in6 sa = v6_endpoint(to, port);
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 &&
      errno != EINPROGRESS)
    return {};
  pollfd p{s.get(), POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) return {};
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return {};
  return s;
}

/// True when `from` can open a TCP connection to `to`:`port` now.
inline bool can_connect(const netns& from, const ip_address& to, std::uint16_t port) {
  return static_cast<bool>(connect_from(from, to, port));
}

/// `text` sent on `from`, read back whole on `to` within a second.
inline bool carries(const socket_fd& from, const socket_fd& to, std::string_view text) {
  if (::send(from.get(), text.data(), text.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(text.size()))
    return false;
  std::string got;
  while (got.size() < text.size()) {
    pollfd p{to.get(), POLLIN, 0};
    if (::poll(&p, 1, 1000) != 1) return false;
    char buf[256];
    const ssize_t n = ::recv(to.get(), buf, sizeof buf, 0);
    if (n <= 0) return false;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got == text;
}

/// The host's ruleset as `nft list ruleset` prints it (read-only), to prove a test left it alone.
inline std::string host_ruleset() {
  std::string out;
  const std::string nft = knock::system::find_executable("nft");
  if (!nft.empty()) (void)run_ok({nft, "list", "ruleset"}, &out);
  return out;
}

}  // namespace knock::test
