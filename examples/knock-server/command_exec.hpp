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

/// Runs the command of `m`, accepted by stanza `s`, in the background.
template <class Stanza>
void run_command(const Stanza& s, const knock::spa_message& m, logger log) {
  std::string_view text = m.message;
  text.remove_prefix(text.find(',') + 1);
  std::vector<std::string> argv = split_words(text);
  const std::string shown = knock::config::printable(text);
  if (argv.empty()) return;
  argv[0] = knock::system::find_executable(
      argv[0], "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
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
  if (!s.cmd_exec_group.empty()) {
    const group* gr = ::getgrnam(s.cmd_exec_group.c_str());
    if (gr == nullptr) return log(LOG_WARNING, "CMD_EXEC_GROUP " + s.cmd_exec_group + " is gone");
    po.group = gr->gr_gid;
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
