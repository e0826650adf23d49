// SPDX-License-Identifier: MIT
#pragma once
// ENABLE_CMD_EXEC: an accepted command message runs its text (after "IP,") split on blanks,
// without a shell, as the stanza's CMD_EXEC_USER / CMD_EXEC_GROUP, for at most 30 s, with none of
// the daemon's capabilities, on a thread of its own so the packet loop never waits; its end is
// logged.

#include "log.hpp"

#include <knock/config/error.hpp>
#include <knock/core/spa_message.hpp>
#include <knock/system/process.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <grp.h>
#include <pwd.h>
#include <syslog.h>

namespace knock_server {

/// The words of `text`, split on blanks and tabs.
inline std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t start = text.find_first_not_of(" \t", at);
    if (start == std::string_view::npos) break;
    const std::size_t end = std::min(text.find_first_of(" \t", start), text.size());
    words.emplace_back(text.substr(start, end - start));
    at = end;
  }
  return words;
}

/// `sudo [-u USER] [-g GROUP] ` before the command of a stanza with ENABLE_CMD_SUDO_EXEC, as
/// fwknopd builds it (a user or group "root" adds no flag); sudo finds the command itself.
template <class Stanza>
std::vector<std::string> sudo_prefix(const Stanza& s, const std::string& sudo_exe) {
  std::vector<std::string> argv{sudo_exe};
  const auto root = [](const std::string& name) { return name.empty() || name == "root"; };
  if (!root(s.cmd_sudo_exec_user)) argv.insert(argv.end(), {"-u", s.cmd_sudo_exec_user});
  if (!root(s.cmd_sudo_exec_group)) argv.insert(argv.end(), {"-g", s.cmd_sudo_exec_group});
  return argv;
}

/// Runs the command of `m`, accepted by stanza `s`, in the background (through `sudo_exe` when
/// the stanza says ENABLE_CMD_SUDO_EXEC).
template <class Stanza>
void run_command(const Stanza& s, const knock::spa_message& m, const std::string& sudo_exe,
                 logger log) {
  std::string_view text = m.message;
  text.remove_prefix(text.find(',') + 1);
  std::vector<std::string> argv = split_words(text);
  const std::string shown = knock::config::printable(text);
  if (argv.empty()) return;
  if (s.enable_cmd_sudo_exec) {
    std::vector<std::string> with_sudo = sudo_prefix(s, sudo_exe);
    with_sudo.insert(with_sudo.end(), argv.begin(), argv.end());
    argv = std::move(with_sudo);
  } else {
    argv[0] = knock::system::find_executable(
        argv[0], "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  }
  if (argv[0].empty()) return log(LOG_WARNING, "command not found: " + shown);
  knock::system::process_options po;
  po.timeout = std::chrono::seconds{30};
  po.inherit_capabilities = false;
  if (!s.cmd_exec_user.empty()) {
    const passwd* pw = ::getpwnam(s.cmd_exec_user.c_str());
    if (pw == nullptr) return log(LOG_WARNING, "CMD_EXEC_USER " + s.cmd_exec_user + " is gone");
    po.user = pw->pw_uid;
    po.group = pw->pw_gid;
  }
  if (!s.cmd_exec_group.empty()) {  // a group, else a user's group (fwknopd's reading)
    if (const group* gr = ::getgrnam(s.cmd_exec_group.c_str()))
      po.group = gr->gr_gid;
    else if (const passwd* pw = ::getpwnam(s.cmd_exec_group.c_str()))
      po.group = pw->pw_gid;
    else
      return log(LOG_WARNING, "CMD_EXEC_GROUP " + s.cmd_exec_group + " is gone");
  }
  log(LOG_NOTICE, "running command: " + shown);
  std::thread([argv = std::move(argv), po, shown, log] {
    const auto r = knock::system::run(argv, po);
    if (!r) return log(LOG_WARNING, "command could not start: " + shown);
    log(r->succeeded() ? LOG_NOTICE : LOG_WARNING,
        "command " + std::string{r->timed_out ? "timed out" : "ended"} + " (exit " +
            std::to_string(r->exit_status) + "): " + shown);
  }).detach();
}

}  // namespace knock_server
