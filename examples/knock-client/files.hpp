// SPDX-License-Identifier: MIT
#pragma once
// knock-client's files: the rc file (read, and rewritten atomically with mode 0600), the packet
// file of -B/-b and the key file of -K.

#include <knock/core/result.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace knock_client {

/// The rc file's text; nothing when it does not exist. A file others may read only gets a warning,
/// as with fwknop (it may hold keys).
inline knock::result<std::optional<std::string>, std::string> read_rc(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::optional<std::string>{};
    return knock::fail("cannot read rc file '" + path + "': " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return knock::fail("rc file '" + path + "' is not a regular file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr)
    return knock::fail("cannot read rc file '" + path + "': " + std::strerror(errno));
  std::string text;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) != 0;) text.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return knock::fail("cannot read rc file '" + path + "'");
  if ((st.st_mode & 077) != 0)
    std::fprintf(stderr,
                 "knock-client: warning: %s is accessible to others; it may hold keys "
                 "(chmod 600 it)\n",
                 path.c_str());
  return std::optional<std::string>{std::move(text)};
}

/// Writes `text` to `path` with mode 0600: a temporary file in the same directory, then a rename,
/// so a reader never sees half a file.
inline knock::result<void, std::string> write_private_file(const std::string& path,
                                                           std::string_view text) {
  std::string temp = path + ".XXXXXX";
  const int fd = ::mkstemp(temp.data());  // creates it 0600
  if (fd < 0) return knock::fail("cannot write '" + path + "': " + std::strerror(errno));
  bool ok = ::fchmod(fd, 0600) == 0;
  for (std::string_view rest = text; ok && !rest.empty();) {
    const ssize_t n = ::write(fd, rest.data(), rest.size());
    ok = n > 0;
    if (ok) rest.remove_prefix(static_cast<std::size_t>(n));
  }
  ok = ::fsync(fd) == 0 && ok;
  const int err = errno;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    const int e = ok ? errno : err;
    ::unlink(temp.c_str());
    return knock::fail("cannot write '" + path + "': " + std::strerror(e));
  }
  return {};
}

/// -B: the packet and a LF, as fwknop writes it; `append` is -b.
inline knock::result<void, std::string> save_packet(const std::string& path,
                                                    std::string_view packet, bool append) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
  if (fd < 0)
    return knock::fail("cannot write packet file '" + path + "': " + std::strerror(errno));
  const std::string line = std::string{packet} + '\n';
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const int err = errno;
  if (::close(fd) != 0 || !ok)
    return knock::fail("cannot write packet file '" + path +
                       "': " + std::strerror(ok ? errno : err));
  return {};
}

}  // namespace knock_client
