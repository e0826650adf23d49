// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// One whole IPv4 packet around an SPA payload, as fwknop's client builds it for `-P udpraw`,
/// `-P tcpraw` and `-P icmp` (normally with `-Q`, a spoofed source address): a 20-byte IPv4
/// header (TTL 255, no options), then a UDP header, a TCP SYN header (sequence 1, window 32767,
/// no options) or an ICMP header (type and code as asked; an echo request carries an identifier
/// and sequence 1), then the payload. Every checksum is computed (fwknop leaves the TCP one 0;
/// a checksum that is right is read the same by fwknopd's pcap and accepted by a socket).
/// Pure functions: the socket that sends the result is in knock/client/send.hpp (`send_raw`).

#include <knock/client/transport.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace knock {

/// The addresses and numbers of one raw packet (addresses and ports in host order).
struct raw_fields {
  std::uint32_t source = 0;  ///< 0: the kernel writes the outgoing interface's address
  std::uint32_t destination = 0;
  std::uint16_t source_port = 0;  ///< udpraw / tcpraw
  std::uint16_t destination_port = 0;
  std::uint16_t ip_id = 0;         ///< any value (0: the kernel picks one)
  std::uint8_t icmp_type = 0;      ///< icmp
  std::uint8_t icmp_code = 0;      ///< icmp
  std::uint16_t icmp_echo_id = 0;  ///< icmp echo request (type 8, code 0) only
};

/// The 16-bit one's complement of the one's complement sum of `data` (RFC 1071), continuing
/// from `sum` (a partial sum, for a pseudo-header).
constexpr std::uint16_t internet_checksum(std::span<const std::uint8_t> data,
                                          std::uint32_t sum = 0) noexcept {
  for (std::size_t i = 0; i + 1 < data.size(); i += 2)
    sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
  if (data.size() % 2 != 0) sum += static_cast<std::uint32_t>(data.back() << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

namespace detail {
inline void put16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8), p[1] = static_cast<std::uint8_t>(v);
}
inline void put32(std::uint8_t* p, std::uint32_t v) noexcept {
  put16(p, static_cast<std::uint16_t>(v >> 16)), put16(p + 2, static_cast<std::uint16_t>(v));
}
}  // namespace detail

/// The IPv4 packet `t` (udpraw, tcpraw or icmp) carrying `payload` with `f`'s fields.
/// Precondition: `is_raw(t)` and `payload.size() <= 65535 - 40`.
inline std::vector<std::uint8_t> raw_ipv4_packet(transport t, std::string_view payload,
                                                 const raw_fields& f) {
  using detail::put16;
  using detail::put32;
  constexpr std::size_t ip = 20;
  const std::size_t l4 = t == transport::tcpraw ? 20 : 8;
  std::vector<std::uint8_t> p(ip + l4 + payload.size(), 0);
  const std::uint8_t proto = t == transport::tcpraw ? 6 : t == transport::udpraw ? 17 : 1;
  p[0] = 0x45;  // version 4, 5 words
  put16(&p[2], static_cast<std::uint16_t>(p.size()));
  put16(&p[4], f.ip_id);
  p[8] = 255;  // fwknop's TTL
  p[9] = proto;
  put32(&p[12], f.source);
  put32(&p[16], f.destination);
  put16(&p[10], internet_checksum({p.data(), ip}));
  std::uint8_t* h = &p[ip];
  for (std::size_t i = 0; i < payload.size(); ++i)
    h[l4 + i] = static_cast<std::uint8_t>(payload[i]);
  const auto segment = std::span<const std::uint8_t>{h, l4 + payload.size()};
  // TCP and UDP checksums cover a pseudo-header: addresses, protocol, segment length.
  const std::uint32_t pseudo = (f.source >> 16) + (f.source & 0xffff) + (f.destination >> 16) +
                               (f.destination & 0xffff) + proto +
                               static_cast<std::uint32_t>(segment.size());
  if (t == transport::udpraw) {
    put16(h, f.source_port), put16(h + 2, f.destination_port);
    put16(h + 4, static_cast<std::uint16_t>(segment.size()));
    std::uint16_t sum = internet_checksum(segment, pseudo);
    put16(h + 6, sum == 0 ? 0xffff : sum);  // 0 would mean "no checksum"
  } else if (t == transport::tcpraw) {
    put16(h, f.source_port), put16(h + 2, f.destination_port);
    put32(h + 4, 1);  // sequence number
    h[12] = 5 << 4;   // 5 words, no options
    h[13] = 0x02;     // SYN
    put16(h + 14, 32767);
    put16(h + 16, internet_checksum(segment, pseudo));
  } else {
    h[0] = f.icmp_type, h[1] = f.icmp_code;
    if (f.icmp_type == 8 && f.icmp_code == 0) put16(h + 4, f.icmp_echo_id), put16(h + 6, 1);
    put16(h + 2, internet_checksum(segment));
  }
  return p;
}

}  // namespace knock
