// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// What the socket captures (`udp_socket`, `packet_socket`) share: the descriptors they own, the
/// receive buffer they ask the kernel for, and how they read a batch.

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

namespace knock::capture::detail {

/// Owned descriptors, closed on destruction; a move hands them over.
struct socket_set {
  std::vector<int> fds;
  socket_set() = default;
  socket_set(socket_set&& o) noexcept : fds{std::exchange(o.fds, {})} {}
  socket_set& operator=(socket_set&& o) noexcept {
    std::swap(fds, o.fds);
    return *this;
  }
  ~socket_set() {
    for (int fd : fds) ::close(fd);
  }
};

/// Asks for a receive buffer of `bytes` on `fd` and returns what the kernel gave (it doubles the
/// request for its bookkeeping; 0 if it cannot say). `SO_RCVBUFFORCE` passes net.core.rmem_max when
/// privileged; `SO_RCVBUF` is capped by it. The buffer is kernel memory, taken only while data
/// waits to be read.
inline std::size_t set_receive_buffer(int fd, int bytes) noexcept {
  if (bytes > 0 && ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  int got = 0;
  socklen_t got_size = sizeof got;
  if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &got_size) != 0 || got < 0) return 0;
  return static_cast<std::size_t>(got);
}

/// One `recvmmsg` into `messages`, without blocking and retried when a signal interrupts it: how
/// many arrived, or -1 with `errno` (`EAGAIN`: nothing ready).
inline int receive_batch(int fd, std::span<mmsghdr> messages) noexcept {
  int n = 0;
  do
    n = ::recvmmsg(fd, messages.data(), static_cast<unsigned>(messages.size()), MSG_DONTWAIT,
                   nullptr);
  while (n < 0 && errno == EINTR);
  return n;
}

}  // namespace knock::capture::detail
