// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::system::run`: runs a program without a shell — `fork` + `execve` of an absolute path
/// with an argv, stdin from /dev/null, stdout and stderr captured, a fixed environment, optionally
/// as another user, and a deadline after which the child's process group is killed. Used by the
/// `iptables` and `command` firewall backends and by the daemon (ENABLE_CMD_EXEC). Nothing here is
/// a template, and nothing throws past `run` except `std::bad_alloc` while building strings.

#include <knock/core/result.hpp>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace knock::system {

/// How a child ended, and what it wrote.
struct process_result {
  int exit_status = -1;    ///< the exit code, or -1 when a signal ended it
  int signal = 0;          ///< the signal that ended it, 0 if it exited
  bool timed_out = false;  ///< killed (SIGKILL) because it outlived the deadline
  std::string output;      ///< stdout, cut at `process_options::max_output`
  std::string errors;      ///< stderr, likewise
  bool succeeded() const noexcept { return exit_status == 0 && !timed_out; }
};

/// How `run` starts and bounds a child.
struct process_options {
  std::chrono::milliseconds timeout{10'000};  ///< then SIGKILL to its process group
  std::size_t max_output = 1 << 20;           ///< bytes kept per stream; the rest is read, dropped
  /// The child's whole environment: fixed, so the parent's never leaks into a firewall tool, and
  /// `LC_ALL=C` keeps the output parseable.
  std::vector<std::string> environment{
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"};
  /// Run as this user and group (both set, or neither: -1 keeps the caller's); supplementary
  /// groups are dropped. For ENABLE_CMD_EXEC's CMD_EXEC_USER / CMD_EXEC_GROUP.
  uid_t user = static_cast<uid_t>(-1);
  gid_t group = static_cast<gid_t>(-1);
  /// Whether the child keeps the caller's ambient capabilities (knock-server raises
  /// cap_net_admin there for iptables and CMD_CYCLE_*); false for ENABLE_CMD_EXEC's commands.
  bool inherit_capabilities = true;
  /// The child's stdin: empty reads /dev/null; else this text, from a memory file written before
  /// the child starts (so no input size can block the parent or the child).
  std::string_view input;
};

namespace detail {
/// True for a regular file this process may execute (a directory is "executable" to access()).
inline bool is_executable_file(const std::string& path) noexcept {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}
}  // namespace detail

/// `name` if it holds a '/' and is an executable file; else the first executable file
/// `dir/name` for `dir` in the ':'-separated `search_path`; else empty.
inline std::string find_executable(std::string_view name,
                                   std::string_view search_path = "/usr/sbin:/usr/bin:/sbin:/bin") {
  if (name.empty()) return {};
  if (name.find('/') != std::string_view::npos)
    return detail::is_executable_file(std::string{name}) ? std::string{name} : std::string{};
  while (!search_path.empty()) {
    const std::size_t colon = search_path.find(':');
    const std::string_view dir = search_path.substr(0, colon);
    search_path.remove_prefix(colon == std::string_view::npos ? search_path.size() : colon + 1);
    if (dir.empty() || dir[0] != '/') continue;  // relative PATH entries are a trap for root
    std::string candidate = std::string{dir} + "/" + std::string{name};
    if (detail::is_executable_file(candidate)) return candidate;
  }
  return {};
}

/// `argv` joined with spaces: for logs and error messages only, never for execution.
inline std::string join_argv(std::span<const std::string> argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

/// "`/usr/sbin/iptables -F X`", as messages quote a command. Built by appending: g++ 12 at -O3
/// warns on `"`" + std::string` (a false -Wrestrict, GCC PR 105329).
inline std::string quoted_argv(std::span<const std::string> argv) {
  std::string q{"`"};
  q.append(join_argv(argv)).append("`");
  return q;
}

namespace detail {

struct fd {
  int value = -1;
  fd() = default;
  explicit fd(int v) : value{v} {}
  fd(const fd&) = delete;
  fd& operator=(const fd&) = delete;
  ~fd() { reset(); }
  void reset() noexcept {
    if (value >= 0) ::close(value);
    value = -1;
  }
};

/// "`argv`: cannot start: <strerror(errnum)>".
inline error cannot_start(std::span<const std::string> argv, int errnum) {
  return system_error(errc::io_failed, quoted_argv(argv) + ": cannot start", errnum);
}

// Only async-signal-safe calls between fork and execve: the parent may be multithreaded.
[[noreturn]] inline void exec_child(const char* path, char* const* argv, char* const* envp, int in,
                                    int out, int err, int status,
                                    uid_t user = static_cast<uid_t>(-1),
                                    gid_t group = static_cast<gid_t>(-1),
                                    bool inherit_capabilities = true) noexcept {
  const auto give_up = [&status] {
    const int e = errno;
    (void)!::write(status, &e, sizeof e);
    ::_exit(127);
  };
  ::setpgid(0, 0);  // its own group, so a timeout kills what it started too
  if (!inherit_capabilities && ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 &&
      errno != EINVAL)
    give_up();
  // Group first: once the user is dropped, the group can no longer be changed.
  if (group != static_cast<gid_t>(-1) && (::setgroups(0, nullptr) != 0 || ::setgid(group) != 0))
    give_up();
  if (user != static_cast<uid_t>(-1) && ::setuid(user) != 0) give_up();
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) give_up();
  for (int i = 0; i < 3; ++i) ::fcntl(i, F_SETFD, 0);
  // The exec-status pipe moves to 3 (close-on-exec); everything above it is the daemon's and
  // must not leak into the child.
  if (status != 3 && ::dup3(status, 3, O_CLOEXEC) < 0) give_up();
  status = 3;
  ::syscall(SYS_close_range, 4U, ~0U, 0U);
  ::execve(path, argv, envp);
  give_up();
  ::_exit(127);  // not reached: give_up does not return
}

}  // namespace detail

/// Runs `argv[0]` (an absolute path) with `argv`, waits at most `options.timeout`, and returns how
/// it ended. An error (`errc::io_failed`, "`/sbin/x -L`: cannot start: No such file or
/// directory") only when it could not be started; a non-zero exit is a result. Blocks the calling
/// thread.
inline result<process_result> run(std::span<const std::string> argv,
                                  const process_options& options = {}) {
  using namespace detail;
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/')
    return fail(error{errc::io_failed,
                      quoted_argv(argv) + ": cannot start: not an absolute path to a program"});
  std::vector<char*> args, env;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  for (const auto& e : options.environment) env.push_back(const_cast<char*>(e.c_str()));
  args.push_back(nullptr);
  env.push_back(nullptr);

  fd null{options.input.empty() ? ::open("/dev/null", O_RDONLY | O_CLOEXEC)
                                : ::memfd_create("knock-stdin", MFD_CLOEXEC)};
  int out[2], err[2], status[2];
  if (null.value < 0) return fail(cannot_start(argv, errno));
  for (std::string_view left = options.input; !left.empty();) {
    const ssize_t put = ::write(null.value, left.data(), left.size());
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return fail(cannot_start(argv, errno));
    left.remove_prefix(static_cast<std::size_t>(put));
  }
  if (!options.input.empty() && ::lseek(null.value, 0, SEEK_SET) != 0)
    return fail(cannot_start(argv, errno));
  if (::pipe2(out, O_CLOEXEC) != 0) return fail(cannot_start(argv, errno));
  fd out_r{out[0]}, out_w{out[1]};
  if (::pipe2(err, O_CLOEXEC) != 0) return fail(cannot_start(argv, errno));
  fd err_r{err[0]}, err_w{err[1]};
  if (::pipe2(status, O_CLOEXEC) != 0) return fail(cannot_start(argv, errno));
  fd status_r{status[0]}, status_w{status[1]};

  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  const pid_t pid = ::fork();
  if (pid < 0) return fail(cannot_start(argv, errno));
  if (pid == 0)
    exec_child(args[0], args.data(), env.data(), null.value, out_w.value, err_w.value,
               status_w.value, options.user, options.group, options.inherit_capabilities);
  out_w.reset(), err_w.reset(), status_w.reset(), null.reset();

  process_result r;
  const auto left_ms = [&] {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<std::chrono::milliseconds::rep>(left.count(), 0));
  };
  // Read both streams until both close, the child exits (a background grandchild may keep them
  // open: it is not waited for) or the deadline passes. A pidfd (Linux 5.3) reports the exit.
#ifdef SYS_pidfd_open
  fd exited{static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U))};
#else
  fd exited;
#endif
  std::array<pollfd, 3> fds{
      {{out_r.value, POLLIN, 0}, {err_r.value, POLLIN, 0}, {exited.value, POLLIN, 0}}};
  std::array<std::string*, 2> into{&r.output, &r.errors};
  std::array<char, 4096> chunk;
  bool child_gone = false;
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const int timeout = child_gone ? 0 : left_ms();  // once it is gone: only what is buffered
    if (timeout == 0 && !child_gone) {
      r.timed_out = true;
      break;
    }
    const int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (fds[2].revents != 0) child_gone = true, fds[2].fd = -1;
    for (std::size_t i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t got = ::read(fds[i].fd, chunk.data(), chunk.size());
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        fds[i].fd = -1;  // poll ignores negative descriptors
        continue;
      }
      const std::size_t room = options.max_output - std::min(options.max_output, into[i]->size());
      into[i]->append(chunk.data(), std::min(room, static_cast<std::size_t>(got)));
    }
  }
  // Reap it: the streams are closed, so it is exiting; give it until the deadline.
  int wstatus = 0;
  for (;;) {
    const pid_t w = r.timed_out ? 0 : ::waitpid(pid, &wstatus, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno == EINTR) continue;
    if (w < 0)
      return fail(cannot_start(argv, errno));  // ECHILD: the program set SIGCHLD to SIG_IGN
    if (r.timed_out || left_ms() == 0) {
      r.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);  // in case it had not reached setpgid yet
      while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    const timespec pause{0, 1'000'000};  // 1 ms
    ::nanosleep(&pause, nullptr);
  }
  int exec_errno = 0;
  if (::read(status_r.value, &exec_errno, sizeof exec_errno) == sizeof exec_errno)
    return fail(cannot_start(argv, exec_errno));
  if (WIFEXITED(wstatus)) r.exit_status = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) r.signal = WTERMSIG(wstatus);
  return r;
}

/// One line for an error message: "`/usr/sbin/iptables -F X` exited with 1: <stderr>".
inline std::string summary(std::span<const std::string> argv, const process_result& r) {
  std::string what = quoted_argv(argv) + " ";
  if (r.timed_out)
    what += "timed out";
  else if (r.signal != 0)
    what.append("was killed by signal ").append(std::to_string(r.signal));
  else
    what.append("exited with ").append(std::to_string(r.exit_status));
  std::string_view text = r.errors.empty() ? std::string_view{r.output} : r.errors;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (!text.empty()) what.append(": ").append(text);
  return what;
}

}  // namespace knock::system
