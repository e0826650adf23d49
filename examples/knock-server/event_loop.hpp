// SPDX-License-Identifier: MIT
#pragma once
// The daemon's loop: one epoll over the capture's descriptors, a 1 s timer (firewall expiry,
// log summaries, replay-log syncs) and a signalfd (TERM/INT stop, HUP reloads). No
// sleep-polling anywhere; every descriptor is closed by its owner (RAII).

#include "log.hpp"

#include <knock/core/error.hpp>
#include <knock/core/result.hpp>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

namespace knock_server {

/// A file descriptor, closed when its owner goes.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_{fd} {}
  unique_fd(unique_fd&& o) noexcept : fd_{std::exchange(o.fd_, -1)} {}
  unique_fd& operator=(unique_fd o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~unique_fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

/// What woke the loop.
enum class wake { input, tick, reload, stop };

class event_loop {
 public:
  /// A loop over `inputs`, the timer and the stop/reload signals (which it blocks from now on).
  static knock::result<event_loop> open(std::span<const int> inputs) {
    sigset_t mask;
    sigemptyset(&mask);
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, sig);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    event_loop loop;
    loop.epoll_ = unique_fd{::epoll_create1(EPOLL_CLOEXEC)};
    loop.timer_ = unique_fd{::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)};
    loop.signals_ = unique_fd{::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)};
    if (!loop.epoll_ || !loop.timer_ || !loop.signals_)
      return knock::fail(knock::system_error(knock::errc::io_failed, "event loop"));
    const itimerspec every_second{{1, 0}, {1, 0}};
    if (::timerfd_settime(loop.timer_.get(), 0, &every_second, nullptr) != 0)
      return knock::fail(knock::system_error(knock::errc::io_failed, "event loop: timer"));
    for (int fd : inputs)
      if (!loop.watch(fd)) return knock::fail(knock::system_error(knock::errc::io_failed, "epoll"));
    if (!loop.watch(loop.timer_.get()) || !loop.watch(loop.signals_.get()))
      return knock::fail(knock::system_error(knock::errc::io_failed, "epoll"));
    return loop;
  }

  /// Waits, then calls `on(wake, fd)` for each event (`fd` is the input's for `wake::input`)
  /// until `on` returns false or a stop signal comes. The exit status: 0, or 1 after a failure.
  template <class On>
  int run(On&& on, const logger& log) {
    for (;;) {
      epoll_event events[16];
      const int n = ::epoll_wait(epoll_.get(), events, 16, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return log(LOG_ERR, std::string{"epoll_wait: "} + std::strerror(errno)), 1;
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == timer_.get()) {
          std::uint64_t ticks = 0;
          (void)!::read(fd, &ticks, sizeof ticks);
          if (!on(wake::tick, fd)) return 1;
        } else if (fd == signals_.get()) {
          for (signalfd_siginfo si{}; ::read(fd, &si, sizeof si) == sizeof si;) {
            if (si.ssi_signo == SIGHUP) {
              if (!on(wake::reload, fd)) return 1;
              continue;
            }
            log(LOG_NOTICE,
                std::string{"stopping on "} + ::strsignal(static_cast<int>(si.ssi_signo)));
            on(wake::stop, fd);
            return 0;
          }
        } else if (!on(wake::input, fd)) {
          return 1;
        }
      }
    }
  }

  /// Adds an input (its wake-ups are `wake::input` with this `fd`); false when epoll refuses.
  bool watch(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    return ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
  }
  /// Wakes up for `fd` when it can be written to (`on`), or when it can be read (not `on`), as an
  /// input; false when epoll refuses.
  bool watch_output(int fd, bool on) {
    epoll_event ev{};
    ev.events = on ? EPOLLOUT : EPOLLIN;
    ev.data.fd = fd;
    return ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) == 0;
  }
  /// Stops waking up for `fd` (until `watch` adds it again).
  void unwatch(int fd) noexcept { ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr); }

 private:
  event_loop() = default;

  unique_fd epoll_, timer_, signals_;
};

}  // namespace knock_server
