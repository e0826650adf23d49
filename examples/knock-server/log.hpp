// SPDX-License-Identifier: MIT
#pragma once
// knock-server's own log lines (start-up, reloads, failures): to stderr in the foreground (`-f`),
// else to syslog. Packets are logged by knock::observe::log_lines, in the foreground to a
// buffered stream of their own on stderr's descriptor (`packet_stream`), flushed once a batch of
// packets (`flush_packets`) and before each of the daemon's own lines, so the log keeps its order.

#include <cstdio>
#include <memory>
#include <string>

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

namespace knock_server {

struct close_stream {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using stream = std::unique_ptr<std::FILE, close_stream>;

/// A fully buffered stream on a duplicate of stderr's descriptor, for the packet lines; null
/// when one cannot be had (the lines then go to stderr, flushed one by one).
inline stream packet_stream() noexcept {
  const int fd = ::dup(STDERR_FILENO);
  if (fd < 0) return nullptr;
  stream s{::fdopen(fd, "w")};
  if (!s) return ::close(fd), nullptr;
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  std::setvbuf(s.get(), nullptr, _IOFBF, 32 * 1024);
  return s;
}

/// Where the daemon's lines go.
struct logger {
  bool foreground = true;
  bool syslog_too = false;       ///< `--syslog-enable`: syslog in the foreground as well
  std::FILE* packets = nullptr;  ///< the packet lines' stream, flushed before each line here

  void operator()(int level, const std::string& line) const {
    if (foreground) {
      flush_packets();
      std::fprintf(stderr, "knock-server: %s\n", line.c_str());
    }
    if (!foreground || syslog_too) ::syslog(level, "%s", line.c_str());
  }
  /// Writes the packet lines waiting in their stream (one `write`); nothing when none wait.
  void flush_packets() const noexcept {
    if (packets != nullptr) std::fflush(packets);
  }
};

}  // namespace knock_server
