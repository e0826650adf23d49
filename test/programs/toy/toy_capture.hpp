// SPDX-License-Identifier: MIT
#pragma once
// A capture source in one header, to prove the set is open: KNOCK_CAPTURE lines reads one packet
// per line from the FIFO TOY_INPUT names, as sent from TOY_SOURCE. Added to a knock-server by this
// header and one entry in its list (toy_server.cpp).

#include <knock/capture/concept.hpp>
#include <knock/core/net.hpp>

#include <array>
#include <cerrno>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace toy {

class lines {
 public:
  using role = knock::role::capture;
  static constexpr std::string_view name = "lines";
  static constexpr std::array<std::string_view, 2> variables{"TOY_INPUT", "TOY_SOURCE"};

  static knock::result<lines> make(const knock::capture::setup& s) {
    const auto source = knock::ip_address::parse(s.conf.text("TOY_SOURCE", "192.0.2.7"));
    if (!source)
      return knock::fail(
          knock::error{knock::errc::config_invalid, "toy: TOY_SOURCE is not an address"});
    // Read and write: the FIFO always has a writer (us), so it never reads as ended.
    const int fd = ::open(s.conf.text("TOY_INPUT").c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
      return knock::fail(knock::system_error(knock::errc::capture_failed, "toy: TOY_INPUT"));
    return lines{fd, *source};
  }
  lines(lines&& o) noexcept
      : fd_{std::exchange(o.fd_, -1)}, source_{o.source_}, buffer_{std::move(o.buffer_)} {}
  lines& operator=(lines&&) = delete;
  ~lines() {
    if (fd_ >= 0) ::close(fd_);
  }

  std::span<const int> fds() const noexcept { return {&fd_, 1}; }
  template <class F>
  knock::result<std::size_t> receive(F&& f) {
    char chunk[4096];
    const ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n < 0 && errno != EAGAIN)
      return knock::fail(knock::system_error(knock::errc::capture_failed, "toy"));
    if (n > 0) buffer_.append(chunk, static_cast<std::size_t>(n));
    std::size_t delivered = 0;
    for (std::size_t lf; (lf = buffer_.find('\n')) != std::string::npos; ++delivered) {
      const std::string line = buffer_.substr(0, lf);
      buffer_.erase(0, lf + 1);
      f(knock::datagram{line, source_, {}, 40000, 62201});
    }
    return delivered;
  }

 private:
  lines(int fd, knock::ip_address source) : fd_{fd}, source_{source} {}
  int fd_ = -1;
  knock::ip_address source_;
  std::string buffer_;
};

static_assert(knock::capture::configurable_capture<lines>);

}  // namespace toy
