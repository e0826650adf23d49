// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::capture::packet_socket`: sniffs SPA datagrams on live interfaces as `capture::pcap`
/// does — the same PCAP_INTF, PCAP_FILTER (compiled by libpcap), ENABLE_PCAP_PROMISC and
/// ENABLE_PCAP_ANY_DIRECTION — through plain Linux packet sockets (`AF_PACKET`, `SOCK_DGRAM`): a
/// small mapped ring first, a socket read with `recvmmsg` for what the ring has no room for.
/// Models `knock::capture::configurable_capture` (name `packet`) and counts.
///
/// Why two stages: a ring is memory the kernel allocates whole when the capture opens and maps
/// into the daemon, resident from start-up whatever the traffic — as large as a burst it must hold
/// (`capture::pcap`: 3 MiB). A socket's receive buffer is kernel memory taken only while frames
/// wait, up to `SO_RCVBUF` (32 MiB by default, `KNOCK_CAPTURE_BUFFER`), none of it in an idle
/// daemon; but `recvmmsg` copies each frame, cold by then, into the daemon: ≈0.8 µs a packet of
/// its CPU in a burst. So each interface gets both, in one `PACKET_FANOUT` group whose program
/// picks the ring (`detail::rx_ring`, 1 MiB: 2,048 slots of 512 bytes, `KNOCK_CAPTURE_RING`) for
/// every frame a slot holds and the socket for longer ones (GnuPG packets), and whose rollover
/// flag sends a frame to the socket when the ring has no free slot: frames are read in place
/// while the daemon keeps up, and a burst it cannot keep up with waits in kernel memory,
/// lossless. `receive` reads the ring, then the socket. What stays resident is the ring and the
/// batch buffer (`batch` × `snaplen`, ≈110 KiB). The kernel filter runs before anything is
/// queued, so what the filter refuses costs no memory either.
///
/// Each interface (or `any`: every interface) gets its sockets, which receive nothing until the
/// filter is attached; outgoing frames are left out by the kernel (`PACKET_IGNORE_OUTGOING`)
/// unless ENABLE_PCAP_ANY_DIRECTION. Frames arrive without their link header (raw IPv4 or IPv6,
/// `parse_frame`'s `link_type::raw`), so every link type reads alike. With KNOCK_WORKERS the
/// workers' sockets join one `PACKET_FANOUT` group by flow hash instead, and have no ring (a
/// socket is in one group at most). A kernel that refuses the ring (no TPACKET_V2, no fanout
/// rollover, no memory) leaves the socket alone, and `memory()` says why. Savefiles (PCAP_FILE)
/// are libpcap's job: `capture::pcap`. Errors name the interface: "packet: eth9: No such device".

#include <knock/capture/concept.hpp>
#include <knock/capture/frame.hpp>
#include <knock/capture/pcap.hpp>
#include <knock/capture/rx_ring.hpp>
#include <knock/capture/socket_set.hpp>
#include <knock/core/error.hpp>
#include <knock/core/name_list.hpp>
#include <knock/core/size_text.hpp>

#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#ifndef KNOCK_CAPTURE_RING_DEFAULT
/// KNOCK_CAPTURE_RING's default, in bytes: 1 MiB, 2,048 frames (docs/PERFORMANCE.md, round five:
/// how much of a burst each size read in place). A program may define another: knock-server's
/// CMake variable of the same name, which the `appliance` presets set to 256 KiB (resident from
/// start-up, the ring counts against issue #17's 8 MiB).
#define KNOCK_CAPTURE_RING_DEFAULT (1 << 20)
#endif

namespace knock::capture {

namespace detail {
/// What `packet_socket` reads besides `capture::pcap`'s variables.
inline constexpr std::string_view packet_socket_variables[] = {"KNOCK_CAPTURE_RING"};
}  // namespace detail

/// How `packet_socket::open` captures: `capture::pcap`'s options, but for the buffers: a small
/// ring, then the socket's receive buffer (kernel memory, taken only while frames wait).
struct packet_socket_options {
  std::vector<std::string> interfaces;  ///< names, or `any` (every interface); sockets for each
  std::string filter{default_filter};   ///< BPF, as `PCAP_FILTER`; empty: every IP frame
  /// `KNOCK_CAPTURE_RING`: the ring per interface, read first; 0: none.
  std::size_t ring = KNOCK_CAPTURE_RING_DEFAULT;
  int receive_buffer = 32 << 20;  ///< `KNOCK_CAPTURE_BUFFER`: `SO_RCVBUF` per socket
  int snaplen = 1500 + 256;       ///< the longest frame kept whole (`MAX_SNIFF_BYTES`)
  bool inbound_only = true;       ///< false: `ENABLE_PCAP_ANY_DIRECTION Y`
  bool promiscuous = false;       ///< `ENABLE_PCAP_PROMISC Y`
  std::size_t batch = 64;         ///< frames per `recvmmsg`, per socket per `receive`
};

/// Packet sockets on live interfaces. Move-only; closes its sockets.
class packet_socket {
 public:
  using role = knock::role::capture;
  /// What `KNOCK_CAPTURE` says to choose it.
  static constexpr std::string_view name = "packet";
  /// The fwknopd.conf variables `make` reads: `capture::pcap`'s (`make` refuses PCAP_FILE: a
  /// savefile needs `KNOCK_CAPTURE pcap`) and KNOCK_CAPTURE_RING.
  static constexpr auto& variables =
      concatenated_names<pcap::variables, detail::packet_socket_variables>;

  /// What fwknopd.conf says, as `pcap::settings` reads it; KNOCK_CAPTURE_BUFFER is the socket's
  /// receive buffer (default 32 MiB), KNOCK_CAPTURE_RING the ring in front of it (default 1 MiB,
  /// `KNOCK_CAPTURE_RING_DEFAULT`; 128 KiB to 64 MiB, or 0: none). A bad value is an error at its
  /// file:line. Opens nothing.
  static result<packet_socket_options, config::config_error> settings(
      const config::fwknopd_conf& c) {
    auto p = pcap::settings(c);
    if (!p) return fail(p.error());
    packet_socket_options o;
    o.interfaces = std::move(p->interfaces);
    o.filter = std::move(p->filter);
    o.snaplen = p->snaplen;
    o.inbound_only = p->inbound_only;
    o.promiscuous = p->promiscuous;
    auto buffer = config::byte_size(c, "KNOCK_CAPTURE_BUFFER", std::uint64_t{64} << 10,
                                    std::uint64_t{1} << 30);
    if (!buffer) return fail(buffer.error());
    if (*buffer) o.receive_buffer = static_cast<int>(**buffer);
    auto ring = config::byte_size(c, "KNOCK_CAPTURE_RING", 0, std::uint64_t{64} << 20);
    if (!ring) return fail(ring.error());
    if (*ring && **ring != 0 && **ring < (128 << 10))
      return fail(c.error("KNOCK_CAPTURE_RING", "'" + c.text("KNOCK_CAPTURE_RING") +
                                                    "' is too small: at least 128K (two blocks), "
                                                    "or 0 for no ring"));
    if (*ring) o.ring = static_cast<std::size_t>(**ring);
    return o;
  }
  /// `settings(c)`, for its error only.
  static result<void, config::config_error> check(const config::fwknopd_conf& c) {
    if (auto o = settings(c); !o) return fail(o.error());
    return {};
  }
  /// `settings(s.conf)`, then opens; refuses PCAP_FILE (knock-server reads a savefile with
  /// `capture::pcap` unless KNOCK_CAPTURE says `packet`). Captures shared by workers
  /// (`s.sharing` > 1) have no ring: their owner joins their sockets to its own fanout group.
  static result<packet_socket> make(const setup& s) {
    auto o = settings(s.conf);
    if (!o) return fail(error{o.error().code, config::to_string(o.error())});
    if (!s.conf.text("PCAP_FILE").empty()) {
      const auto e =
          s.conf.error("PCAP_FILE", "a savefile is read by KNOCK_CAPTURE pcap, not packet");
      return fail(error{e.code, config::to_string(e)});
    }
    if (s.sharing > 1) o->ring = 0;
    return open(*o);
  }
  /// Opens a socket on every interface of `o`.
  static result<packet_socket> open(const packet_socket_options& o);
  /// One interface, otherwise the defaults.
  static result<packet_socket> open(std::string_view interface,
                                    std::string_view filter = default_filter) {
    packet_socket_options o;
    o.interfaces.emplace_back(interface);
    o.filter = filter;
    return open(o);
  }

  /// The sockets (a ring's and an overflow socket per interface, or a socket alone); poll them
  /// for input.
  std::span<const int> fds() const noexcept { return sockets_.fds; }
  /// Sockets alike join one fanout group (their owner joins them).
  static constexpr share_mode shared_by() noexcept { return share_mode::fanout; }
  /// "eth0, eth1", for the daemon's start-up line.
  std::string describe() const;
  /// What it holds: the rings (resident), then the receive buffers, kernel memory taken only
  /// while frames wait (none of it in the daemon's resident set), and the resident batch buffer.
  std::string memory() const;

  /// Calls `on_datagram(const datagram&)` for each datagram ready now, without blocking: at most
  /// `batch` frames from each ring and each socket. Returns how many were delivered, or
  /// `errc::capture_failed` (the interface went down or away: "packet: eth0: receive: Network is
  /// down").
  template <class F>
  result<std::size_t> receive(F&& on_datagram);

  /// Counters since opening; `dropped` is the kernel's count (`PACKET_STATISTICS`), `in_place`
  /// the frames read from a ring (the others came through `recvmmsg`: the ring had no room).
  capture_stats stats() const noexcept;

 private:
  packet_socket() = default;
  static failure<error> failed(std::string_view what, int errnum) {
    return fail(system_error(errc::capture_failed, "packet: " + std::string{what}, errnum));
  }
  // What each interface has: a socket read with recvmmsg, and a ring read first (or none).
  struct source {
    std::string name;  // the interface, for errors
    int fd = -1;       // owned by `sockets_`
    std::optional<detail::rx_ring> ring;
  };
  // The sockets of `interface`, filtered, bound; added to `sockets_` and `sources_`.
  result<void> add(const std::string& interface, std::span<const sock_filter> filter,
                   const packet_socket_options& o);
  // A packet socket on `index` with `filter`, bound: with a ring mapped into `*ring`, or
  // (`ring` null) with `o.receive_buffer`. Owned by `sockets_` from the start.
  result<int> bound_socket(const std::string& interface, unsigned index,
                           std::span<const sock_filter> filter, const packet_socket_options& o,
                           std::optional<detail::rx_ring>* ring);
  void close_socket(int fd) noexcept;
  // Counts a frame (`in_place`: read from a ring) and, when it is an IP datagram of ours, hands it
  // to `on_datagram`; true when it did.
  template <class F>
  bool deliver(std::span<const byte> frame, const sockaddr_ll& from, bool truncated, bool in_place,
               F& on_datagram);

  detail::socket_set sockets_;
  std::vector<source> sources_;     // after `sockets_`: the rings are unmapped first
  std::string no_ring_;             // why an interface has no ring, when one was asked for
  std::vector<sockaddr_ll> peers_;  // per frame of a batch: where it came from
  std::vector<mmsghdr> messages_;   // recvmmsg wants them contiguous
  std::vector<iovec> slots_;
  std::vector<char> buffer_;
  capture_stats counts_;
  mutable std::uint64_t kernel_drops_ = 0;  // PACKET_STATISTICS resets on each read: summed here
  std::size_t batch_ = 64;
  std::size_t snaplen_ = 1500 + 256;
  std::size_t receive_buffer_ = 0;  // SO_RCVBUF as the kernel reports it (the last socket's)
  bool inbound_only_ = true;
};

static_assert(configurable_capture<packet_socket> && checked_capture<packet_socket>);
static_assert(counting_capture<packet_socket> && memory_reporting_capture<packet_socket>);

}  // namespace knock::capture

#include <knock/capture/impl/packet_socket.hpp>
