// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::system::drop_privileges`: after a daemon has opened what only root may open (the
/// capture, the firewall handle, its files), it becomes an ordinary user that keeps only the Linux
/// capabilities it still needs, for good:
///
///     knock::system::privilege_plan plan;
///     plan.user = pw->pw_uid, plan.group = pw->pw_gid;
///     plan.keep.add(knock::system::capability::net_admin);  // nftables grants over netlink
///     if (auto ok = knock::system::drop_privileges(plan); !ok)
///       log(knock::to_string(ok.error()));  // "switching uid and gid: Operation not permitted"
///
/// In order: every other capability leaves the bounding set (nothing can regain it, not even
/// through a set-uid program); the uid and gid change with the capabilities kept across the
/// change; the effective, permitted and inheritable sets become exactly `keep`; the `inherit`
/// subset is raised into the ambient set, so programs the daemon runs (iptables, CMD_CYCLE_*
/// commands) get those capabilities and no others; `no_new_privs` is set. Then it checks that
/// root cannot come back. Also works when the daemon was started as an ordinary user with
/// capabilities (systemd's `AmbientCapabilities=`): the uid stays and only the sets shrink.
///
/// `process_credentials::current()` reads what the kernel says the process has
/// (/proc/self/status), for logs and tests.

#include <knock/core/result.hpp>

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

namespace knock::system {

/// The capabilities knock's daemon may keep after start-up.
enum class capability : unsigned {
  net_admin = CAP_NET_ADMIN,              ///< firewall changes (netlink, iptables)
  net_raw = CAP_NET_RAW,                  ///< raw sockets (iptables-legacy, capture re-opens)
  setuid = CAP_SETUID,                    ///< running ENABLE_CMD_EXEC commands as CMD_EXEC_USER
  setgid = CAP_SETGID,                    ///< ... and CMD_EXEC_GROUP
  dac_read_search = CAP_DAC_READ_SEARCH,  ///< knock-server's configuration reader (reloads)
};

/// A set of Linux capabilities, as the kernel's 64-bit masks.
struct capability_set {
  std::uint64_t bits = 0;

  constexpr capability_set& add(capability c) noexcept {
    bits |= std::uint64_t{1} << static_cast<unsigned>(c);
    return *this;
  }
  constexpr bool has(unsigned number) const noexcept { return (bits >> number & 1) != 0; }
  constexpr bool has(capability c) const noexcept { return has(static_cast<unsigned>(c)); }
  constexpr bool empty() const noexcept { return bits == 0; }
  constexpr bool operator==(const capability_set&) const = default;

  /// "cap_net_admin,cap_net_raw" (the names of capabilities(7)); "none" when empty.
  std::string to_string() const {
    std::string out;
    for (unsigned n = 0; n < 64; ++n) {
      if (!has(n)) continue;
      if (!out.empty()) out += ',';
      out += name(n);
    }
    return out.empty() ? "none" : out;
  }

 private:
  static std::string name(unsigned n) {
    switch (n) {
      case CAP_CHOWN: return "cap_chown";
      case CAP_DAC_OVERRIDE: return "cap_dac_override";
      case CAP_DAC_READ_SEARCH: return "cap_dac_read_search";
      case CAP_FOWNER: return "cap_fowner";
      case CAP_KILL: return "cap_kill";
      case CAP_SETGID: return "cap_setgid";
      case CAP_SETUID: return "cap_setuid";
      case CAP_SETPCAP: return "cap_setpcap";
      case CAP_NET_BIND_SERVICE: return "cap_net_bind_service";
      case CAP_NET_ADMIN: return "cap_net_admin";
      case CAP_NET_RAW: return "cap_net_raw";
      case CAP_SYS_ADMIN: return "cap_sys_admin";
      default: return "cap_" + std::to_string(n);
    }
  }
};

/// What the process should become.
struct privilege_plan {
  std::optional<uid_t> user;  ///< the uid to become; nullopt keeps the current one
  gid_t group = 0;            ///< its gid (with `user`); supplementary groups are dropped
  capability_set keep;        ///< effective and permitted from now on
  capability_set inherit;     ///< of `keep`: also ambient, for the programs the process runs
};

/// What the kernel says the process has now.
struct process_credentials {
  uid_t real_uid = 0, effective_uid = 0, saved_uid = 0;
  gid_t real_gid = 0, effective_gid = 0;
  capability_set effective, permitted, inheritable, ambient, bounding;
  bool no_new_privs = false;

  bool is_root() const noexcept { return real_uid == 0 || effective_uid == 0 || saved_uid == 0; }

  /// Reads /proc/self/status.
  static process_credentials current() {
    process_credentials c;
    std::ifstream in{"/proc/self/status"};
    for (std::string line; std::getline(in, line);) {
      const auto field = [&](std::string_view name) {
        return line.starts_with(name) ? line.c_str() + name.size() : nullptr;
      };
      const auto mask = [](const char* text) {
        return capability_set{std::strtoull(text, nullptr, 16)};
      };
      unsigned long long a = 0, b = 0, s = 0;
      if (const char* v = field("Uid:"); v && std::sscanf(v, "%llu %llu %llu", &a, &b, &s) == 3)
        c.real_uid = static_cast<uid_t>(a), c.effective_uid = static_cast<uid_t>(b),
        c.saved_uid = static_cast<uid_t>(s);
      else if (const char* g = field("Gid:"); g && std::sscanf(g, "%llu %llu", &a, &b) == 2)
        c.real_gid = static_cast<gid_t>(a), c.effective_gid = static_cast<gid_t>(b);
      else if (const char* e = field("CapEff:"))
        c.effective = mask(e);
      else if (const char* p = field("CapPrm:"))
        c.permitted = mask(p);
      else if (const char* i = field("CapInh:"))
        c.inheritable = mask(i);
      else if (const char* am = field("CapAmb:"))
        c.ambient = mask(am);
      else if (const char* bd = field("CapBnd:"))
        c.bounding = mask(bd);
      else if (const char* n = field("NoNewPrivs:"))
        c.no_new_privs = std::strtol(n, nullptr, 10);
    }
    return c;
  }
};

namespace detail {

/// The step that failed, with `strerror(errno)`.
inline failure<error> failed(const char* step) { return fail(system_error(errc::io_failed, step)); }

inline unsigned last_capability() {
  unsigned last = CAP_LAST_CAP;
  std::ifstream in{"/proc/sys/kernel/cap_last_cap"};
  in >> last;
  return last < 64 ? last : 63;
}

// The three sets as the kernel takes them (version 3: two 32-bit halves).
inline int set_capabilities(capability_set effective, capability_set permitted,
                            capability_set inheritable) noexcept {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  for (int half = 0; half < 2; ++half) {
    const unsigned shift = 32U * static_cast<unsigned>(half);
    data[half].effective = static_cast<std::uint32_t>(effective.bits >> shift);
    data[half].permitted = static_cast<std::uint32_t>(permitted.bits >> shift);
    data[half].inheritable = static_cast<std::uint32_t>(inheritable.bits >> shift);
  }
  return static_cast<int>(::syscall(SYS_capset, &header, data));
}

}  // namespace detail

/// Becomes `user` and `group` for good: real, effective and saved ids; the only supplementary group
/// is `group`. Async-signal-safe (for a forked child); 0, or -1 with `errno`.
inline int switch_user(uid_t user, gid_t group) noexcept {
  if (::setgroups(1, &group) != 0 || ::setresgid(group, group, group) != 0) return -1;
  return ::setresuid(user, user, user);
}

/// Carries out `plan` (see the file comment). On failure the process may be half-way — the
/// caller should exit; the error's message names the step that failed and the kernel's reason
/// ("switching uid and gid: Operation not permitted").
inline result<void> drop_privileges(const privilege_plan& plan) {
  using namespace detail;
  const capability_set inherit{plan.inherit.bits & plan.keep.bits};
  const process_credentials before = process_credentials::current();

  // The bounding set first, while CAP_SETPCAP is still there (root has it; an unprivileged start
  // may not, and then its bounding set is systemd's business).
  if (before.effective.has(CAP_SETPCAP))
    for (unsigned n = 0; n <= last_capability(); ++n)
      if (!plan.keep.has(n) && ::prctl(PR_CAPBSET_DROP, n, 0, 0, 0) != 0 && errno != EINVAL)
        return failed("dropping capabilities from the bounding set");

  if (plan.user) {
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return failed("PR_SET_KEEPCAPS");
    if (switch_user(*plan.user, plan.group) != 0) return failed("switching uid and gid");
    if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return failed("PR_SET_KEEPCAPS");
  }
  // Raising a capability into the ambient set needs it inheritable and permitted; clear the
  // ambient set first so nothing inherited from our parent survives.
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return failed("clearing the ambient capabilities");
  if (set_capabilities(plan.keep, plan.keep, inherit) != 0)
    return failed("setting the capabilities");
  for (unsigned n = 0; n < 64; ++n)
    if (inherit.has(n) && ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, n, 0, 0) != 0)
      return failed("raising an ambient capability");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return failed("PR_SET_NO_NEW_PRIVS");

  // Trust, then verify: with a new user, root must be gone for good.
  const process_credentials after = process_credentials::current();
  if (plan.user && *plan.user != 0 && !plan.keep.has(capability::setuid) &&
      (after.is_root() || ::setuid(0) == 0)) {
    errno = EPERM;
    return failed("root could be regained after the drop");
  }
  if ((after.effective.bits & ~plan.keep.bits) != 0) {
    errno = EPERM;
    return failed("capabilities beyond the plan remain");
  }
  return {};
}

}  // namespace knock::system
