// SPDX-License-Identifier: MIT
#pragma once
// Least privilege for knock-server: started as root, it opens the capture, the firewall and its
// files, then becomes KNOCK_USER (`--user`; default `knock` when that account exists, else
// `nobody`) and keeps only the capabilities its configuration needs:
//
//   nftables             cap_net_admin            grants are netlink messages from the daemon
//   iptables, CMD_CYCLE  cap_net_admin, cap_net_raw  ambient too: the programs it runs need them
//   CMD_EXEC_USER/GROUP  cap_setuid, cap_setgid   to run commands as that user (not inherited)
//   FIREWALL_TYPE none   nothing
//
// What a reload (SIGHUP) reads, a configuration reader forked before the drop reads for it
// (config_reader.hpp): access.conf may stay root's alone.

#include <knock/config/error.hpp>
#include <knock/firewall/concept.hpp>
#include <knock/system/privileges.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace knock_server {

/// The account the daemon runs as after start-up.
struct account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  bool is_root() const noexcept { return uid == 0; }
};

/// KNOCK_USER's account: "user" (its primary group) or "user:group". Empty: `knock` if it
/// exists, else `nobody`. An error names what does not exist.
inline knock::result<account> find_account(const std::string& spec) {
  std::string user = spec, group;
  if (const auto colon = spec.find(':'); colon != std::string::npos)
    user = spec.substr(0, colon), group = spec.substr(colon + 1);
  if (user.empty()) user = ::getpwnam("knock") != nullptr ? "knock" : "nobody";
  const passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr)
    return knock::fail(
        knock::error{knock::errc::config_invalid,
                     "KNOCK_USER: no user '" + knock::config::printable(user) + "'"});
  account a{user, pw->pw_uid, pw->pw_gid};
  if (!group.empty()) {
    const struct group* gr = ::getgrnam(group.c_str());
    if (gr == nullptr)
      return knock::fail(
          knock::error{knock::errc::config_invalid,
                       "KNOCK_USER: no group '" + knock::config::printable(group) + "'"});
    a.gid = gr->gr_gid;
  }
  return a;
}

/// The account the process runs as now.
inline account current_account() {
  const passwd* pw = ::getpwuid(::geteuid());
  return {pw != nullptr ? pw->pw_name : std::to_string(::geteuid()), ::geteuid(), ::getegid()};
}

/// Becoming `who` (unless it is who we are) with the capabilities the firewall backend (its
/// `needs`) and the stanzas (CMD_CYCLE runs firewall programs, CMD_EXEC_USER switches user) need.
template <class Stanzas>
knock::system::privilege_plan privilege_plan_for(const account& who,
                                                 knock::firewall::privileges firewall,
                                                 const Stanzas& stanzas) {
  using knock::system::capability;
  knock::system::privilege_plan plan;
  if (who.uid != ::geteuid()) plan.user = who.uid, plan.group = who.gid;
  for (const auto& s : stanzas) {
    if (!s.cmd_cycle_open.empty())
      firewall.net_admin = firewall.net_raw = firewall.runs_programs = true;
    if (s.enable_cmd_exec && (!s.cmd_exec_user.empty() || !s.cmd_exec_group.empty()))
      plan.keep.add(capability::setuid).add(capability::setgid);
  }
  if (firewall.net_admin) plan.keep.add(capability::net_admin);
  if (firewall.net_raw) plan.keep.add(capability::net_raw);
  if (firewall.runs_programs) {  // the programs it runs get the capabilities it keeps
    if (firewall.net_admin) plan.inherit.add(capability::net_admin);
    if (firewall.net_raw) plan.inherit.add(capability::net_raw);
  }
  return plan;
}

/// Whether `who` may access `path` with `mode` (access(2): R_OK, W_OK | X_OK for a directory
/// to create and rename files in): a child becomes `who` and asks the kernel, so permissions,
/// ACLs and read-only mounts all count. When not, the error gives the kernel's reason.
inline knock::result<void> may_access(const account& who, const std::string& path, int mode) {
  const pid_t pid = ::fork();
  if (pid < 0) return knock::fail(knock::system_error(knock::errc::io_failed, "fork"));
  if (pid == 0) {
    if (knock::system::switch_user(who.uid, who.gid) != 0) ::_exit(255);
    ::_exit(::access(path.c_str(), mode) == 0 ? 0 : (errno > 0 && errno < 255 ? errno : EACCES));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 255;
  if (code == 0) return {};
  return knock::fail(knock::error{knock::errc::io_failed, code == 255
                                                              ? "cannot become that user to check"
                                                              : std::strerror(code)});
}

/// The directory part of `path` ("." when it has none).
inline std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash + (slash == 0));
}

/// Makes the run directory `dir` belong to `who`: created (mode 0700) when missing; handed over
/// when root owns it and it holds nothing but the daemon's own files (`ours`: names), as a fresh
/// systemd RuntimeDirectory does. Any other directory is left alone: a mistaken FWKNOP_RUN_DIR
/// must never give a system directory away. Returns whether `dir` is now `who`'s.
inline bool claim_run_dir(const std::string& dir, const account& who,
                          std::initializer_list<std::string> ours) {
  if (::mkdir(dir.c_str(), 0700) == 0) return ::chown(dir.c_str(), who.uid, who.gid) == 0;
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  if (st.st_uid == who.uid) return true;
  if (st.st_uid != 0) return false;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool only_ours = true;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    only_ours = only_ours && std::find(ours.begin(), ours.end(), name) != ours.end();
  }
  ::closedir(d);
  return only_ours && ::chown(dir.c_str(), who.uid, who.gid) == 0;
}

/// The file name part of `path`.
inline std::string file_name_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace knock_server
