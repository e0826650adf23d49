// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::detail::sigpipe_guard`: a write(2) that cannot be told MSG_NOSIGNAL (OpenSSL's, in
/// knock/replay/redis_socket.hpp) raises no SIGPIPE in the program.

#include <cerrno>
#include <csignal>
#include <ctime>

#include <pthread.h>
#include <signal.h>

namespace knock::detail {
/// While it lives, SIGPIPE is blocked in this thread; one raised meanwhile (a write(2) to a
/// connection the peer reset: thread-directed) is taken before the old mask comes back, so the
/// process's disposition (death, by default) never sees it. One already pending is left alone.
/// errno is kept across the destructor (callers read it after the call it guarded).
class sigpipe_guard {
 public:
  sigpipe_guard() noexcept {
    ::sigemptyset(&pipe_);
    ::sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    was_pending_ = ::sigpending(&pending) == 0 && ::sigismember(&pending, SIGPIPE) == 1;
    ::pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  sigpipe_guard(const sigpipe_guard&) = delete;
  sigpipe_guard& operator=(const sigpipe_guard&) = delete;
  ~sigpipe_guard() {
    const int saved = errno;
    sigset_t pending;
    if (!was_pending_ && ::sigpending(&pending) == 0 && ::sigismember(&pending, SIGPIPE) == 1) {
      const timespec now{0, 0};
      while (::sigtimedwait(&pipe_, nullptr, &now) < 0 && errno == EINTR) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    errno = saved;
  }

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

}  // namespace knock::detail
