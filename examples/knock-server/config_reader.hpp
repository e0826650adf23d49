// SPDX-License-Identifier: MIT
#pragma once
// Privilege separation for reloads. The worker (the daemon after it drops root) cannot read a
// root-only access.conf any more; a small reader forked just before the drop can. It keeps only
// what reading needs:
//
//   started with cap_dac_read_search (plain root)   the worker's uid and gid + cap_dac_read_search
//   without it (the systemd unit's bounding set)    uid 0 (the owner of a root-only file), with no
//                                                   capability at all
//
// and in both cases an empty bounding set and no_new_privs; it closes every descriptor but its
// end of the socketpair (and stdin/stdout/stderr), never sees a packet, never touches the
// firewall. On each request (reader_protocol.hpp: a request names nothing) it reads the access
// file or folder the daemon was started with and every %include / %include_folder /
// %include_keys it names, as the parser reaches them, and sends back their texts. The worker
// parses them with the ordinary loaders as if read from disk, so errors name the real file:line.
//
// Lifetimes: the reader exits when the worker goes (its socket reads end of file; also
// PR_SET_PDEATHSIG). When the reader goes, the worker logs it, serves on with the configuration
// it has and refuses reloads with the reason. The worker keeps its pid, so the pid file, `-K`,
// `-R` and systemd's MAINPID name it as before.

#include "event_loop.hpp"
#include "log.hpp"
#include "reader_protocol.hpp"
#include "reader_snapshot.hpp"
#include "run_as.hpp"

#include <knock/config/access_conf.hpp>
#include <knock/system/privileges.hpp>

#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace knock_server {

/// What the reader reads, fixed when it starts: the worker cannot name another path.
struct reader_source {
  std::string access_file;    ///< ACCESS_FILE, when `access_folder` is empty
  std::string access_folder;  ///< ACCESS_FOLDER
  bool strict = false;        ///< --strict-config: the parser stops at the first error
  std::string syslog_identity = "knock-server";  ///< its log lines, as the daemon's
  int syslog_facility = LOG_DAEMON;
  const std::string& root() const noexcept {
    return access_folder.empty() ? access_file : access_folder;
  }
};

/// The access configuration `src` names and everything it includes, read as the loaders read it
/// (the same parser follows the same includes; a file that cannot be read is sent as its error).
inline reader::snapshot read_configuration(const reader_source& src) {
  reader::snapshot snap;
  {
    const knock::config::include_access files = snap.recording();
    std::vector<knock::config::config_error> skipped;
    auto* lenient = src.strict ? nullptr : &skipped;
    if (src.access_folder.empty()) {
      if (auto text = files.read(src.access_file)) {
        (void)knock::config::parse_access_conf(*text, src.access_file, &files, lenient);
        knock::secure_zero(text->data(), text->size());
      }
    } else {
      const std::string text = "%include_folder " + src.access_folder + "\n";
      (void)knock::config::parse_access_conf(text, src.access_folder, &files, lenient);
    }
  }
  return snap;
}

namespace detail {

inline bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

/// Reads `n` bytes into `out` by `deadline_ms` (-1: no deadline). The count read (short: end of
/// file), or -1 (errno; ETIMEDOUT past the deadline).
inline long read_exact(int fd, char* out, std::size_t n, int timeout_ms) {
  std::size_t got = 0;
  while (got < n) {
    if (timeout_ms >= 0) {
      pollfd p{fd, POLLIN, 0};
      const int r = ::poll(&p, 1, timeout_ms);  // each wait restarts it: bounded by the sender
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) errno = ETIMEDOUT;
      if (r <= 0) return -1;
    }
    const ssize_t r = ::read(fd, out + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return static_cast<long>(got);
}

/// The reader's plan (see the file comment).
inline knock::system::privilege_plan reader_plan(const account& worker) {
  using knock::system::capability;
  knock::system::privilege_plan plan;
  const auto now = knock::system::process_credentials::current();
  if (now.permitted.has(capability::dac_read_search) && !worker.is_root()) {
    plan.user = worker.uid, plan.group = worker.gid;
    plan.keep.add(capability::dac_read_search);
  }
  return plan;
}

/// The reader process: never returns.
[[noreturn]] inline void reader_main(int sock, const reader_source& src, const account& worker,
                                     pid_t worker_pid, const logger& log) {
  const auto say = [&](int level, const std::string& line) {
    log(level, "configuration reader: " + line);
  };
  for (int sig : {SIGHUP, SIGINT, SIGPIPE, SIGUSR1, SIGUSR2}) std::signal(sig, SIG_IGN);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Nothing of the worker's: capture, firewall, TCP listener, replay log all close here.
  ::closelog();
  if (sock > 3) ::syscall(SYS_close_range, 3U, static_cast<unsigned>(sock - 1), 0U);
  ::syscall(SYS_close_range, static_cast<unsigned>(sock + 1), ~0U, 0U);
  if (!log.foreground || log.syslog_too)  // its own connection, under the daemon's name
    ::openlog(src.syslog_identity.c_str(), LOG_PID, src.syslog_facility);
  ::prctl(PR_SET_NAME, "knock-reader", 0, 0, 0);
  const auto plan = reader_plan(worker);
  if (auto ok = knock::system::drop_privileges(plan); !ok)
    say(LOG_ERR, "cannot drop privileges: " + to_string(ok.error())), ::_exit(1);
  // Set after the drop (a change of uid clears it), then checked: the worker may be gone already.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (::getppid() != worker_pid) ::_exit(0);
  for (;;) {
    char head[reader::header_size];
    const long got = read_exact(sock, head, sizeof head, -1);
    if (got == 0) ::_exit(0);  // the worker is gone
    auto h = got == static_cast<long>(sizeof head)
                 ? reader::decode_header({head, sizeof head})
                 : knock::result<reader::header>{knock::fail(knock::error{
                       knock::errc::io_failed,
                       got < 0 ? std::string{"reading a request: "} + std::strerror(errno)
                               : "truncated request: " + std::to_string(got) + " of " +
                                     std::to_string(sizeof head) + " bytes"})};
    auto ok = h ? reader::check_request(*h) : knock::result<void>{knock::fail(h.error())};
    if (!ok)  // a worker that says anything else is not trusted with another answer
      say(LOG_ERR, "refused the worker's request, exiting: " + to_string(ok.error())), ::_exit(1);
    reader::snapshot snap = read_configuration(src);
    std::string payload = snap.encode();
    snap.wipe();
    if (payload.size() > reader::max_payload) {  // sent as the access file's error instead
      knock::secure_zero(payload.data(), payload.size());
      payload = reader::snapshot::encode_error(
          {src.root(), 0, "", "the configuration and its includes are larger than 32 MiB"});
    }
    const std::string head_out = reader::encode_header(
        {reader::kind::reply, h->sequence, static_cast<std::uint32_t>(payload.size())});
    const bool sent = write_all(sock, head_out) && write_all(sock, payload);
    knock::secure_zero(payload.data(), payload.size());
    if (!sent) ::_exit(0);  // the worker is gone
  }
}

}  // namespace detail

/// The worker's end of the reader: asks it for the configuration at each reload.
class config_reader {
 public:
  /// Forks the reader (see the file comment) for a worker that becomes `worker`.
  static knock::result<config_reader> start(const reader_source& src, const account& worker,
                                            const logger& log) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      return knock::fail(
          knock::system_error(knock::errc::io_failed, "configuration reader: socketpair"));
    const pid_t worker_pid = ::getpid();
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      ::close(sv[0]), ::close(sv[1]);
      return knock::fail(knock::system_error(knock::errc::io_failed, "configuration reader: fork"));
    }
    if (pid == 0) {
      ::close(sv[0]);
      detail::reader_main(sv[1], src, worker, worker_pid, log);
    }
    ::close(sv[1]);
    return config_reader{unique_fd{sv[0]}, pid, src.root()};
  }

  config_reader(config_reader&&) noexcept = default;
  config_reader& operator=(config_reader&&) noexcept = default;
  ~config_reader() { lose(""); }

  pid_t pid() const noexcept { return pid_; }
  /// The socket, to poll between requests (readable there: the reader is gone); -1 once lost.
  int fd() const noexcept { return fd_.get(); }
  bool alive() const noexcept { return static_cast<bool>(fd_); }

  /// The access configuration, read again by the reader; when it cannot be had, why (the reader
  /// is then lost for good, and every later call says so).
  knock::result<reader::snapshot> fetch(int timeout_ms = 10000) {
    if (!alive()) return gone();
    const std::uint64_t sequence = ++sequence_;
    if (!detail::write_all(fd_.get(), reader::encode_header({reader::kind::request, sequence, 0})))
      return lose(std::string{"cannot reach it: "} + std::strerror(errno)), gone();
    char head[reader::header_size];
    const long got = detail::read_exact(fd_.get(), head, sizeof head, timeout_ms);
    if (got != static_cast<long>(sizeof head))
      return lose(short_read(got, sizeof head, timeout_ms, "the reply's header")), gone();
    auto h = reader::decode_header({head, sizeof head});
    if (!h) return lose(to_string(h.error())), gone();
    if (h->what != reader::kind::reply || h->sequence != sequence)
      return lose("unexpected frame (not the reply to request " + std::to_string(sequence) + ")"),
             gone();
    std::string payload(h->length, '\0');
    const long body = detail::read_exact(fd_.get(), payload.data(), payload.size(), timeout_ms);
    if (body != static_cast<long>(payload.size())) {
      knock::secure_zero(payload.data(), payload.size());
      return lose(short_read(body, payload.size(), timeout_ms, "the reply")), gone();
    }
    auto snap = reader::snapshot::decode(payload, root_);
    knock::secure_zero(payload.data(), payload.size());
    if (!snap) return lose(to_string(snap.error())), gone();
    return snap;
  }

  /// The socket polled readable between requests: the reader exited, or sent what it was not
  /// asked for. The line to log when it is lost (nullopt: nothing happened).
  std::optional<std::string> check() {
    char c = 0;
    const ssize_t n = ::recv(fd_.get(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return std::nullopt;
    lose(n > 0 ? "it sent a frame it was not asked for" : "");
    return "configuration reader (pid " + std::to_string(pid_) + ") " + why_ +
           ": serving on with the current configuration; reloads are refused until knock-server "
           "restarts";
  }

 private:
  config_reader(unique_fd fd, pid_t pid, std::string root)
      : fd_{std::move(fd)}, pid_{pid}, root_{std::move(root)} {}

  knock::failure<knock::error> gone() const {
    return knock::fail(knock::error{
        knock::errc::io_failed, "configuration reader (pid " + std::to_string(pid_) + ") " + why_ +
                                    ": reloads are refused until knock-server restarts"});
  }
  static std::string short_read(long got, std::size_t want, int timeout_ms, std::string what) {
    if (got < 0 && errno == ETIMEDOUT)
      return "no answer within " + std::to_string(timeout_ms / 1000) + " s";
    if (got < 0) return "reading " + what + ": " + std::strerror(errno);
    return "truncated reply: " + what + " ends after " + std::to_string(got) + " of " +
           std::to_string(want) + " bytes";
  }
  /// Closes the socket (the reader then exits) and reaps the reader; `why` (empty: it exited)
  /// plus its exit status become the reason reloads are refused.
  void lose(const std::string& why) {
    if (pid_ <= 0 || !alive()) return;
    fd_ = unique_fd{};
    int status = 0;
    pid_t w = 0;
    for (int i = 0; i < 100 && (w = ::waitpid(pid_, &status, WNOHANG)) == 0; ++i)
      ::usleep(10000);  // it exits at end of file; at most 1 s
    std::string how = w != pid_             ? "still running"
                      : WIFEXITED(status)   ? "status " + std::to_string(WEXITSTATUS(status))
                      : WIFSIGNALED(status) ? std::string{"signal "} + ::strsignal(WTERMSIG(status))
                                            : "status unknown";
    why_ = why.empty() ? "exited (" + how + ")" : "was stopped (" + why + "; " + how + ")";
  }

  unique_fd fd_;
  pid_t pid_ = -1;
  std::string root_;
  std::uint64_t sequence_ = 0;
  std::string why_;
};

}  // namespace knock_server
