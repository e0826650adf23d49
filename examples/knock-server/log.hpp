// SPDX-License-Identifier: MIT
#pragma once
// knock-server's own log lines (start-up, reloads, failures): to stderr in the foreground (`-f`),
// else to syslog. Packets are logged by knock::observe::log_lines.

#include <cstdio>
#include <string>

#include <syslog.h>

namespace knock_server {

/// Where the daemon's lines go.
struct logger {
  bool foreground = true;
  bool syslog_too = false;  ///< `--syslog-enable`: syslog in the foreground as well

  void operator()(int level, const std::string& line) const {
    if (foreground) std::fprintf(stderr, "knock-server: %s\n", line.c_str());
    if (!foreground || syslog_too) ::syslog(level, "%s", line.c_str());
  }
};

}  // namespace knock_server
