// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The Capture policy family: hands received datagrams to the server, shaped for an epoll loop
/// with no sleep-polling. The daemon polls `fds()` for reading; when one is ready it calls
/// `receive`, which reads what is ready without blocking and calls back once per datagram.
// clang-format off
///
/// | requirement                         | meaning                                   | caller   |
/// |-------------------------------------|-------------------------------------------|----------|
/// | `using role = knock::role::capture` | declares the family                       | concepts |
/// | `c.fds()` noexcept                  | `std::span<const int>`: descriptors to    | daemon   |
/// |                                     | poll for input (level-triggered); empty:  |          |
/// |                                     | nothing to wait for (a savefile: one      |          |
/// |                                     | `receive` reads it all)                   |          |
/// | `c.receive(f)`                      | `result<std::size_t>`: calls              | daemon   |
/// |                                     | `f(const datagram&)` per datagram ready   |          |
/// |                                     | now, never blocks; returns how many; the  |          |
/// |                                     | payload is valid during the call only     |          |
///
/// Optional abilities, each a named concept:
///
/// | concept               | requirement                               | caller   |
/// |-----------------------|-------------------------------------------|----------|
/// | `counting_capture`    | `c.stats()` noexcept → `capture_stats`    | logs     |
/// |                       | since opening                             |          |
/// | `describing_capture`  | `c.describe()` → `std::string`: what it   | logs     |
/// |                       | listens on ("UDP port 62201")             |          |
/// | `memory_reporting_    | `c.memory()` → `std::string`: what it     | logs     |
/// | capture`              | holds in memory ("capture ring 3 MiB      |          |
/// |                       | (eth0)"), resident or not                 |          |
/// | `checked_capture`     | `C::check(conf)` → `result<void,          | settings |
/// |                       | config_error>`: refuses a bad value of    |          |
/// |                       | its variables, opening nothing            |          |
/// | `configurable_capture`| `C::name` (what `KNOCK_CAPTURE` says to   | `any_of` |
/// |                       | choose it), `C::variables` (the           |          |
/// |                       | fwknopd.conf variables it reads),         |          |
/// |                       | `C::make(setup)` → `result<C>`            |          |
// clang-format on
///
/// `receive` reads at most a bounded batch per descriptor, so one busy interface cannot starve
/// the others; with level-triggered polling the rest comes on the next round. A failure of the
/// source (an interface that went away) is `errc::capture_failed`; what was delivered before it
/// stays delivered. Exceptions thrown by `f` pass through and leave the capture usable.
///
/// ```cpp
/// for (int fd : input.fds()) epoll_ctl(ep, EPOLL_CTL_ADD, fd, &in_event);
/// while (epoll_wait(ep, events, n, -1) >= 0)
///   if (!input.receive([&](const knock::datagram& d) { server.handle(d); })) break;
/// ```

#include <knock/capture/frame.hpp>
#include <knock/config/fwknopd_conf.hpp>
#include <knock/core/datagram.hpp>
#include <knock/core/result.hpp>
#include <knock/core/role.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <ranges>
#include <span>
#include <string>
#include <string_view>

namespace knock {

/// Counters a capture keeps from its opening. A count a capture cannot know stays 0.
struct capture_stats {
  std::uint64_t received = 0;   ///< frames (pcap) or datagrams (socket) read
  std::uint64_t delivered = 0;  ///< datagrams handed to the callback
  std::uint64_t dropped = 0;    ///< lost before knock read them: the kernel buffer was full
  std::uint64_t ifdropped = 0;  ///< dropped by the interface or its driver (pcap's ps_ifdrop)
  std::uint64_t fragments = 0;  ///< IP fragments, refused (knock never reassembles)
  std::uint64_t malformed = 0;  ///< truncated or malformed frames; datagrams too long to buffer
  std::uint64_t ignored = 0;    ///< frames the filter let through that hold no UDP/TCP payload
  std::uint64_t in_place = 0;   ///< of `received`, read where the kernel wrote them (a mapped
                                ///< ring), not copied out by a system call

  /// Counts a frame `parse_frame` refused, under the reason's counter.
  constexpr void count(capture::frame_error e) noexcept {
    if (e == capture::frame_error::fragment)
      ++fragments;
    else if (capture::is_malformed(e))
      ++malformed;
    else
      ++ignored;
  }

  /// Adds `o`'s counts (the captures of several workers, summed).
  constexpr capture_stats& operator+=(const capture_stats& o) noexcept {
    received += o.received, delivered += o.delivered, dropped += o.dropped;
    ifdropped += o.ifdropped, fragments += o.fragments, malformed += o.malformed;
    ignored += o.ignored, in_place += o.in_place;
    return *this;
  }
};

namespace detail {
/// The least a `receive` callback can be; the concept checks `receive` with it.
struct datagram_sink {
  void operator()(const datagram&) const noexcept {}
};
}  // namespace detail

/// A Capture policy: a role tag, descriptors to poll, and a non-blocking `receive`.
template <class C>
concept capture_policy = has_role<C, role::capture> &&
    requires(C& c, const C& cc, detail::datagram_sink& sink) {
  { cc.fds() }
  noexcept->std::same_as<std::span<const int>>;
  { c.receive(sink) } -> std::same_as<result<std::size_t>>;
};

/// A Capture that also reports its counters.
template <class C>
concept counting_capture = capture_policy<C> && requires(const C& c) {
  { c.stats() }
  noexcept->std::same_as<capture_stats>;
};

namespace capture {

/// What `C::make(setup)` may read.
struct setup {
  const config::fwknopd_conf& conf;  ///< the variables, with file:line for errors
  /// How many captures alike the program opens (KNOCK_WORKERS), one per worker thread: a
  /// socket bound to a port then lets the others bind it too (`SO_REUSEPORT`).
  unsigned sharing = 1;
};

/// How captures alike (KNOCK_WORKERS, see `setup::sharing`) divide the traffic between them,
/// the kernel giving each flow to one: packet sockets join one `PACKET_FANOUT` group (their
/// owner joins them: `fanout`), sockets bound to a port share it (`SO_REUSEPORT`, set when
/// made: `port`). `none`: a capture that cannot be shared (a savefile is read once).
enum class share_mode : std::uint8_t { none, fanout, port };
/// "PACKET_FANOUT", "SO_REUSEPORT", "none": for the start-up line.
constexpr std::string_view to_string(share_mode m) noexcept {
  return m == share_mode::fanout ? "PACKET_FANOUT"
         : m == share_mode::port ? "SO_REUSEPORT"
                                 : "none";
}

/// Says how captures alike share the traffic (`c.shared_by()`).
template <class C>
concept sharing_capture = capture_policy<C> && requires(const C& c) {
  { c.shared_by() } -> std::same_as<share_mode>;
};

/// Says what it listens on, for a log line.
template <class C>
concept describing_capture = capture_policy<C> && requires(const C& c) {
  { c.describe() } -> std::convertible_to<std::string>;
};

/// Says what memory it holds (its rings or socket buffers), for the start-up log line.
template <class C>
concept memory_reporting_capture = capture_policy<C> && requires(const C& c) {
  { c.memory() } -> std::convertible_to<std::string>;
};

/// Checks its variables without opening anything.
template <class C>
concept checked_capture = capture_policy<C> && requires(const config::fwknopd_conf& c) {
  { C::check(c) } -> std::same_as<result<void, config::config_error>>;
};

/// A source a program can choose by name and make from its configuration.
template <class C>
concept configurable_capture = capture_policy<C> && requires(const setup& s) {
  { C::name } -> std::convertible_to<std::string_view>;
  requires std::ranges::range<decltype(C::variables)>;
  { C::make(s) } -> std::same_as<result<C>>;
};

}  // namespace capture
}  // namespace knock
