// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::capture::packet_socket`: sniffs SPA datagrams on live interfaces as `capture::pcap`
/// does — the same PCAP_INTF, PCAP_FILTER (compiled by libpcap), ENABLE_PCAP_PROMISC and
/// ENABLE_PCAP_ANY_DIRECTION — but reads a plain Linux packet socket (`AF_PACKET`, `SOCK_DGRAM`)
/// with `recvmmsg` instead of mapping a capture ring. Models
/// `knock::capture::configurable_capture` (name `packet`) and counts.
///
/// Why: a ring is memory the kernel allocates whole when the capture opens and maps into the
/// daemon, resident from start-up whatever the traffic (3 MiB by default, `capture::pcap`). A
/// packet socket queues frames in its receive buffer, kernel memory taken only while frames wait
/// to be read and given back when they are: a flood can queue up to `SO_RCVBUF` (32 MiB by default,
/// `KNOCK_CAPTURE_BUFFER`), an idle daemon holds none of it. What stays resident is the batch
/// buffer (`batch` × `snaplen`, ≈110 KiB). The kernel filter runs before anything is queued, so
/// what the filter refuses costs no memory either.
///
/// Each interface (or `any`: one socket on every interface) gets a socket that receives nothing
/// until the filter is attached; outgoing frames are left out by the kernel
/// (`PACKET_IGNORE_OUTGOING`) unless ENABLE_PCAP_ANY_DIRECTION. Frames arrive without their link
/// header (raw IPv4 or IPv6, `parse_frame`'s `link_type::raw`), so every link type reads alike.
/// Sockets can join a `PACKET_FANOUT` group (KNOCK_WORKERS). Savefiles (PCAP_FILE) are libpcap's
/// job: `capture::pcap`. Errors name the interface: "packet: eth9: No such device".

#include <knock/capture/concept.hpp>
#include <knock/capture/frame.hpp>
#include <knock/capture/pcap.hpp>
#include <knock/capture/socket_set.hpp>
#include <knock/core/error.hpp>
#include <knock/core/size_text.hpp>

#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock::capture {

/// How `packet_socket::open` captures: `capture::pcap`'s options, but for the buffer, which is
/// here the socket's receive buffer (kernel memory, taken only while frames wait).
struct packet_socket_options {
  std::vector<std::string> interfaces;  ///< names, or `any` (every interface); one socket each
  std::string filter{default_filter};   ///< BPF, as `PCAP_FILTER`; empty: every IP frame
  int receive_buffer = 32 << 20;        ///< `KNOCK_CAPTURE_BUFFER`: `SO_RCVBUF` per socket
  int snaplen = 1500 + 256;             ///< the longest frame kept whole (`MAX_SNIFF_BYTES`)
  bool inbound_only = true;             ///< false: `ENABLE_PCAP_ANY_DIRECTION Y`
  bool promiscuous = false;             ///< `ENABLE_PCAP_PROMISC Y`
  std::size_t batch = 64;               ///< frames per `recvmmsg`, per socket per `receive`
};

/// Packet sockets on live interfaces. Move-only; closes its sockets.
class packet_socket {
 public:
  using role = knock::role::capture;
  /// What `KNOCK_CAPTURE` says to choose it.
  static constexpr std::string_view name = "packet";
  /// The fwknopd.conf variables `make` reads: `capture::pcap`'s (`make` refuses PCAP_FILE: a
  /// savefile needs `KNOCK_CAPTURE pcap`).
  static constexpr auto& variables = pcap::variables;

  /// What fwknopd.conf says, as `pcap::settings` reads it; KNOCK_CAPTURE_BUFFER is the socket's
  /// receive buffer (default 32 MiB). A bad value is an error at its file:line. Opens nothing.
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
    return o;
  }
  /// `settings(c)`, for its error only.
  static result<void, config::config_error> check(const config::fwknopd_conf& c) {
    if (auto o = settings(c); !o) return fail(o.error());
    return {};
  }
  /// `settings(s.conf)`, then opens; refuses PCAP_FILE (knock-server reads a savefile with
  /// `capture::pcap` unless KNOCK_CAPTURE says `packet`).
  static result<packet_socket> make(const setup& s) {
    auto o = settings(s.conf);
    if (!o) return fail(error{o.error().code, config::to_string(o.error())});
    if (!s.conf.text("PCAP_FILE").empty()) {
      const auto e =
          s.conf.error("PCAP_FILE", "a savefile is read by KNOCK_CAPTURE pcap, not packet");
      return fail(error{e.code, config::to_string(e)});
    }
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

  /// The sockets, one per interface; poll them for input.
  std::span<const int> fds() const noexcept { return sockets_.fds; }
  /// Sockets alike join one fanout group (their owner joins them).
  static constexpr share_mode shared_by() noexcept { return share_mode::fanout; }
  /// "eth0, eth1", for the daemon's start-up line.
  std::string describe() const;
  /// What it holds: the receive buffers, kernel memory taken only while frames wait (none of it
  /// in the daemon's resident set), and the resident batch buffer.
  std::string memory() const {
    return "socket buffer up to " + size_text(receive_buffer_) + " per interface " +
           "(kernel, taken only while frames wait), batch buffer " + size_text(buffer_.size());
  }

  /// Calls `on_datagram(const datagram&)` for each datagram ready now, without blocking: at most
  /// `batch` frames per socket. Returns how many were delivered, or `errc::capture_failed` (the
  /// interface went down or away: "packet: eth0: receive: Network is down").
  template <class F>
  result<std::size_t> receive(F&& on_datagram);

  /// Counters since opening; `dropped` is the kernel's count (`PACKET_STATISTICS`).
  capture_stats stats() const noexcept;

 private:
  packet_socket() = default;
  static failure<error> failed(std::string_view what, int errnum) {
    return fail(system_error(errc::capture_failed, "packet: " + std::string{what}, errnum));
  }
  // One socket on `interface`, filtered, bound; added to `sockets_`.
  result<void> add(const std::string& interface, std::span<const sock_filter> filter,
                   const packet_socket_options& o);

  detail::socket_set sockets_;
  std::vector<std::string> names_;  // per socket: the interface, for errors
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
