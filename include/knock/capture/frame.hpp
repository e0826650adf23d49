// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `parse_frame`: one captured frame (link header, IPv4 or IPv6, UDP or TCP) to the datagram it
/// carries, or the reason it carries none. Pure, allocation-free and total: any bytes give a
/// datagram or a `frame_error`, never a read past the end (fuzzed in test/capture).
///
/// Refused on purpose: IP fragments (IPv4 MF or offset, an IPv6 Fragment header) — knock never
/// reassembles, and an SPA packet fits one datagram; TCP segments without data. Checksums are
/// not verified (the kernel has not yet, and offloads leave them partial), as fwknopd.

#include <knock/core/bytes.hpp>
#include <knock/core/datagram.hpp>
#include <knock/core/net.hpp>
#include <knock/core/result.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace knock::capture {

/// Link-layer framings, numbered as tcpdump.org's LINKTYPE_* registry (what savefiles hold).
enum class link_type : std::uint16_t {
  null = 0,          ///< BSD loopback: 4-byte address family, host byte order
  ethernet = 1,      ///< Ethernet II, up to two 802.1Q/802.1ad tags (also Linux `lo`)
  raw = 101,         ///< raw IPv4 or IPv6, told apart by the version nibble
  loop = 108,        ///< OpenBSD loopback: 4-byte address family, network byte order
  linux_sll = 113,   ///< Linux cooked capture v1 (`any`)
  ipv4 = 228,        ///< raw IPv4 only
  ipv6 = 229,        ///< raw IPv6 only
  linux_sll2 = 276,  ///< Linux cooked capture v2 (`any`, with the interface index)
};

/// Why a frame yields no datagram.
enum class frame_error : std::uint8_t {
  truncated = 1,     ///< shorter than its headers say (or cut by the snap length)
  malformed,         ///< an impossible header field: IP version, header or UDP length, …
  fragment,          ///< an IP fragment: refused, never reassembled
  unsupported_link,  ///< a link type `parse_frame` does not know
  not_ip,            ///< the link layer carries something else (ARP, LLDP, …)
  not_udp_or_tcp,    ///< IP carries something else (ICMP, ESP, …)
  no_payload,        ///< a TCP segment without data (handshake, ACK, FIN)
};

/// The stable name of `e` ("fragment").
constexpr std::string_view to_string(frame_error e) noexcept {
  constexpr std::array<std::string_view, 8> names{"unknown",        "truncated",        "malformed",
                                                  "fragment",       "unsupported_link", "not_ip",
                                                  "not_udp_or_tcp", "no_payload"};
  const auto i = static_cast<std::size_t>(e);
  return i < names.size() ? names[i] : names[0];
}

/// True when `e` says the frame is broken, not merely uninteresting.
constexpr bool is_malformed(frame_error e) noexcept {
  return e == frame_error::truncated || e == frame_error::malformed;
}

namespace detail {

constexpr std::uint16_t load16(bytes_view b, std::size_t at) noexcept {
  return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

constexpr std::uint32_t load32(bytes_view b, std::size_t at) noexcept {
  return std::uint32_t{load16(b, at)} << 16 | load16(b, at + 2);
}

template <std::size_t N>
constexpr std::array<byte, N> copy_out(bytes_view b, std::size_t at) noexcept {
  std::array<byte, N> a{};
  for (std::size_t i = 0; i < N; ++i) a[i] = b[at + i];
  return a;
}

/// `d.source`/`d.destination` already set; fills ports and payload from a UDP or TCP segment.
inline result<datagram, frame_error> parse_transport(unsigned protocol, bytes_view seg,
                                                     datagram d) noexcept {
  if (protocol == 17) {  // UDP: the length field bounds the payload (Ethernet pads short frames)
    if (seg.size() < 8) return fail(frame_error::malformed);
    const std::size_t length = load16(seg, 4);
    if (length < 8 || length > seg.size()) return fail(frame_error::malformed);
    d.payload = as_chars(seg.subspan(8, length - 8));
  } else if (protocol == 6) {  // TCP: fwknop -P tcp sends the packet as the only data segment
    if (seg.size() < 20) return fail(frame_error::malformed);
    const std::size_t header = (std::size_t{seg[12]} >> 4) * 4;  // data offset: 4-byte words
    if (header < 20 || header > seg.size()) return fail(frame_error::malformed);
    if (header == seg.size()) return fail(frame_error::no_payload);
    d.payload = as_chars(seg.subspan(header));
  } else {
    return fail(frame_error::not_udp_or_tcp);
  }
  d.source_port = load16(seg, 0);
  d.destination_port = load16(seg, 2);
  return d;
}

inline result<datagram, frame_error> parse_ipv4(bytes_view p) noexcept {
  if (!p.empty() && p[0] >> 4 != 4) return fail(frame_error::malformed);
  if (p.size() < 20) return fail(frame_error::truncated);
  const std::size_t header = std::size_t{p[0] & 0x0fu} * 4;  // IHL: options included
  const std::size_t total = load16(p, 2);
  if (header < 20 || total < header) return fail(frame_error::malformed);
  if ((load16(p, 6) & 0x3fff) != 0) return fail(frame_error::fragment);  // MF or an offset
  if (total > p.size()) return fail(frame_error::truncated);
  datagram d;
  d.source = ip_address::v4(copy_out<4>(p, 12));
  d.destination = ip_address::v4(copy_out<4>(p, 16));
  return parse_transport(p[9], p.subspan(header, total - header), d);
}

inline result<datagram, frame_error> parse_ipv6(bytes_view p) noexcept {
  if (!p.empty() && p[0] >> 4 != 6) return fail(frame_error::malformed);
  if (p.size() < 40) return fail(frame_error::truncated);
  const std::size_t end = 40 + std::size_t{load16(p, 4)};
  if (end == 40) return fail(frame_error::malformed);  // a jumbogram, or nothing at all
  if (end > p.size()) return fail(frame_error::truncated);
  datagram d;
  d.source = ip_address::v6(copy_out<16>(p, 8));
  d.destination = ip_address::v6(copy_out<16>(p, 24));
  unsigned next = p[6];
  std::size_t at = 40;
  for (int hops = 0; hops < 8; ++hops) {  // a few extension headers, then give up
    std::size_t length = 0;
    switch (next) {
      case 17:
      case 6: return parse_transport(next, p.subspan(at, end - at), d);
      case 44: return fail(frame_error::fragment);
      case 0:   // hop-by-hop options
      case 43:  // routing
      case 60:  // destination options
      case 51:  // authentication header (its length counts 4-byte units, minus 2)
        if (end - at < 8) return fail(frame_error::malformed);
        length = next == 51 ? (std::size_t{p[at + 1]} + 2) * 4 : (std::size_t{p[at + 1]} + 1) * 8;
        if (length > end - at) return fail(frame_error::malformed);
        next = p[at];
        at += length;
        break;
      default: return fail(frame_error::not_udp_or_tcp);  // ICMPv6, ESP, no next header, …
    }
  }
  return fail(frame_error::malformed);
}

/// An IP packet whose version the link layer named (or `0`: read it from the packet).
inline result<datagram, frame_error> parse_ip(bytes_view p, unsigned version) noexcept {
  if (version == 0) {
    if (p.empty()) return fail(frame_error::truncated);
    version = p[0] >> 4;
  }
  if (version == 4) return parse_ipv4(p);
  if (version == 6) return parse_ipv6(p);
  return fail(frame_error::malformed);
}

/// The IP version an EtherType names; 1 for anything else.
constexpr unsigned ethertype_version(std::uint16_t type) noexcept {
  return type == 0x0800 ? 4 : type == 0x86dd ? 6 : 1;
}

/// The IP version a BSD loopback address family names (AF_INET6 differs between the BSDs).
constexpr unsigned family_version(std::uint32_t family) noexcept {
  return family == 2 ? 4 : family == 24 || family == 28 || family == 30 ? 6 : 1;
}

}  // namespace detail

/// The UDP or TCP datagram in `frame`, a frame of link type `link`. The payload views `frame`.
/// O(frame headers); no allocation; `noexcept`.
inline result<datagram, frame_error> parse_frame(bytes_view frame, link_type link) noexcept {
  using detail::load16;
  std::size_t at = 0;    // where the IP packet starts
  unsigned version = 0;  // 4, 6, 0 (read the packet) or 1 (not IP)
  switch (link) {
    case link_type::ethernet: {
      if (frame.size() < 14) return fail(frame_error::truncated);
      std::uint16_t type = load16(frame, 12);
      at = 14;
      for (int tags = 0; tags < 2 && (type == 0x8100 || type == 0x88a8); ++tags, at += 4) {
        if (frame.size() < at + 4) return fail(frame_error::truncated);
        type = load16(frame, at + 2);
      }
      version = detail::ethertype_version(type);
      break;
    }
    case link_type::linux_sll:
      if (frame.size() < 16) return fail(frame_error::truncated);
      at = 16, version = detail::ethertype_version(load16(frame, 14));
      break;
    case link_type::linux_sll2:
      if (frame.size() < 20) return fail(frame_error::truncated);
      at = 20, version = detail::ethertype_version(load16(frame, 0));
      break;
    case link_type::null:
    case link_type::loop: {
      if (frame.size() < 4) return fail(frame_error::truncated);
      std::uint32_t family = detail::load32(frame, 0);  // network order: DLT_LOOP
      if (link == link_type::null && family > 0xffff)   // host order, from either endianness
        family = family >> 24 | (family >> 8 & 0xff00);
      at = 4, version = detail::family_version(family);
      break;
    }
    case link_type::raw: break;
    case link_type::ipv4: version = 4; break;
    case link_type::ipv6: version = 6; break;
    default: return fail(frame_error::unsupported_link);
  }
  if (version == 1) return fail(frame_error::not_ip);
  return detail::parse_ip(frame.subspan(at), version);
}

}  // namespace knock::capture
