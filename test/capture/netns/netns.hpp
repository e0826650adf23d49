// SPDX-License-Identifier: MIT
#pragma once
// Network namespaces for root-only tests: created with `ip netns add` under a name holding the
// pid, always deleted (RAII), entered by the calling thread with setns(). Namespaces left behind
// by a test process that died are deleted by the next one.

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace knock::test {

inline bool is_root() { return ::geteuid() == 0; }

/// Runs `argv` (no shell) with its output discarded; true when it exits with 0.
inline bool run(const std::vector<std::string>& argv) {
  const pid_t child = ::fork();
  if (child < 0) return false;
  if (child == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1), ::dup2(null, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

inline constexpr std::string_view netns_prefix = "knock-cap-";

/// Deletes `knock-cap-<pid>-*` namespaces whose process is gone.
inline void remove_stale_namespaces() {
  DIR* dir = ::opendir("/run/netns");
  if (!dir) return;
  std::vector<std::string> stale;
  while (const dirent* e = ::readdir(dir)) {
    const std::string_view name = e->d_name;
    if (!name.starts_with(netns_prefix)) continue;
    const long pid =
        std::strtol(std::string{name.substr(netns_prefix.size())}.c_str(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
      stale.emplace_back(name);
  }
  ::closedir(dir);
  for (const auto& name : stale) run({"ip", "netns", "del", name});
}

/// A named network namespace, `knock-cap-<pid>-<tag>`, deleted on destruction.
class netns {
 public:
  explicit netns(std::string_view tag)
      : name_{std::string{netns_prefix} + std::to_string(::getpid()) + "-" + std::string{tag}} {
    static const bool cleaned = (remove_stale_namespaces(), true);
    (void)cleaned;
    run({"ip", "netns", "del", name_});  // a leftover of this very pid (pid reuse)
    ok_ = run({"ip", "netns", "add", name_}) && ip({"link", "set", "lo", "up"});
  }
  ~netns() { run({"ip", "netns", "del", name_}); }
  netns(const netns&) = delete;
  netns& operator=(const netns&) = delete;

  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }
  /// `ip -n <name> <args…>`.
  bool ip(std::vector<std::string> args) const {
    args.insert(args.begin(), {"ip", "-n", name_});
    return run(args);
  }

 private:
  std::string name_;
  bool ok_ = false;
};

/// Puts the calling thread into `ns` for its lifetime; sockets and pcap handles opened meanwhile
/// stay in `ns` after it has gone.
class inside {
 public:
  explicit inside(const netns& ns)
      : home_{::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)} {
    const int target = ::open(("/run/netns/" + ns.name()).c_str(), O_RDONLY | O_CLOEXEC);
    ok_ = home_ >= 0 && target >= 0 && ::setns(target, CLONE_NEWNET) == 0;
    if (target >= 0) ::close(target);
  }
  ~inside() {
    if (ok_) ::setns(home_, CLONE_NEWNET);
    if (home_ >= 0) ::close(home_);
  }
  inside(const inside&) = delete;
  inside& operator=(const inside&) = delete;
  bool ok() const { return ok_; }

 private:
  int home_;
  bool ok_ = false;
};

/// A veth pair between two namespaces, each end addressed and up (IPv6 without DAD, so at once).
inline bool veth(const netns& a, const std::string& a_name, const std::string& a_address,
                 const netns& b, const std::string& b_name, const std::string& b_address,
                 int mtu = 1500) {
  const std::string m = std::to_string(mtu);
  const bool v6 = a_address.find(':') != std::string::npos;
  auto addr = [&](const netns& ns, const std::string& dev, const std::string& address) {
    std::vector<std::string> args{"addr", "add", address, "dev", dev};
    if (v6) args.push_back("nodad");
    return ns.ip(args);
  };
  return run({"ip", "link", "add", a_name, "netns", a.name(), "mtu", m, "type", "veth", "peer",
              "name", b_name, "netns", b.name(), "mtu", m}) &&
         addr(a, a_name, a_address) && addr(b, b_name, b_address) &&
         a.ip({"link", "set", a_name, "up"}) && b.ip({"link", "set", b_name, "up"});
}

}  // namespace knock::test
