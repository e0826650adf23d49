// SPDX-License-Identifier: MIT
#pragma once
// Hand-built frames (what scapy would make) and a few real ones, captured from a Linux 6.x veth
// with an AF_PACKET socket while the kernel sent them.

#include <knock/core/bytes.hpp>
#include <knock/core/net.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace knock::test {

using frame = std::vector<byte>;

inline void put16(frame& f, std::size_t at, unsigned v) {
  f[at] = static_cast<byte>(v >> 8);
  f[at + 1] = static_cast<byte>(v);
}
// Byte by byte, not f.insert(f.end(), first, last): at -O3, GCC 12 reports that range insert's
// memmove reads out of bounds (-Warray-bounds, -Wstringop-overread), a false positive in
// libstdc++'s inlined vector::_M_range_insert (GCC's -Warray-bounds false-positive meta-bug, PR
// 56456).
inline void append(frame& f, bytes_view b) {
  for (const byte c : b) f.push_back(c);
}
inline void append(frame& f, std::string_view s) { append(f, as_bytes(s)); }
inline void append(frame& f, std::initializer_list<unsigned> bytes) {
  for (unsigned b : bytes) f.push_back(static_cast<byte>(b));
}

inline ip_address ip(std::string_view text) { return *ip_address::parse(text); }

/// A UDP (17) or TCP (6) segment header plus payload; TCP with a 20-byte header and PSH|ACK.
inline frame segment(unsigned protocol, std::uint16_t sport, std::uint16_t dport,
                     std::string_view payload) {
  frame f(protocol == 17 ? 8 : 20, 0);
  put16(f, 0, sport);
  put16(f, 2, dport);
  if (protocol == 17)
    put16(f, 4, static_cast<unsigned>(8 + payload.size()));
  else
    f[12] = 5 << 4, f[13] = 0x18;
  append(f, payload);
  return f;
}

/// An IPv4 packet around `body`; `options` (a multiple of 4 bytes) grow the IHL; `fragment` is
/// the flags-and-offset field (0x4000 = DF).
inline frame ipv4(const ip_address& src, const ip_address& dst, unsigned protocol,
                  const frame& body, const frame& options = {}, unsigned fragment = 0x4000) {
  frame f(20, 0);
  f[0] = static_cast<byte>(0x40 | (20 + options.size()) / 4);
  put16(f, 2, static_cast<unsigned>(20 + options.size() + body.size()));
  put16(f, 4, 0x1234);
  put16(f, 6, fragment);
  f[8] = 64, f[9] = static_cast<byte>(protocol);
  for (std::size_t i = 0; i < 4; ++i) f[12 + i] = src.bytes()[i], f[16 + i] = dst.bytes()[i];
  append(f, options);
  unsigned sum = 0;  // the header checksum, so that tcpdump and friends are happy
  for (std::size_t i = 0; i < f.size(); i += 2) sum += static_cast<unsigned>(f[i] << 8 | f[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(f, 10, ~sum & 0xffff);
  append(f, body);
  return f;
}

/// An IPv6 packet; `chain` is the extension headers, already linked, and `first` the Next Header
/// value of the fixed header (the protocol when there is no chain).
inline frame ipv6(const ip_address& src, const ip_address& dst, unsigned first, const frame& body,
                  const frame& chain = {}) {
  frame f(40, 0);
  f[0] = 0x60;
  put16(f, 4, static_cast<unsigned>(chain.size() + body.size()));
  f[6] = static_cast<byte>(first), f[7] = 64;
  for (std::size_t i = 0; i < 16; ++i) f[8 + i] = src.bytes()[i], f[24 + i] = dst.bytes()[i];
  append(f, chain);
  append(f, body);
  return f;
}

/// An 8-byte extension header (hop-by-hop, destination options, routing) naming `next`.
inline frame ext8(unsigned next) { return {static_cast<byte>(next), 0, 1, 4, 0, 0, 0, 0}; }

inline frame ethernet(const frame& packet, unsigned type,
                      std::initializer_list<unsigned> tags = {}) {
  frame f{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2};
  for (unsigned tpid : tags) append(f, {tpid >> 8, tpid & 0xff, 0, 42});
  append(f, {type >> 8, type & 0xff});
  append(f, packet);
  return f;
}
inline frame sll(const frame& packet, unsigned protocol) {
  frame f{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0};  // to us, ARPHRD_ETHER, 6-byte address
  append(f, {protocol >> 8, protocol & 0xff});
  append(f, packet);
  return f;
}
inline frame sll2(const frame& packet, unsigned protocol) {
  frame f{0, 0, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0};  // ifindex 3, to us
  put16(f, 0, protocol);
  append(f, packet);
  return f;
}
/// BSD loopback: `family` in host order little- or big-endian (DLT_NULL), or network (DLT_LOOP).
inline frame null_link(const frame& packet, unsigned family, bool little_endian) {
  frame f = little_endian ? frame{static_cast<byte>(family), 0, 0, 0}
                          : frame{0, 0, 0, static_cast<byte>(family)};
  append(f, packet);
  return f;
}

inline frame from_hex(std::string_view hex) {
  frame f;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    f.push_back(static_cast<byte>(std::stoi(std::string{hex.substr(i, 2)}, nullptr, 16)));
  return f;
}

/// Real frames (Ethernet, veth, Linux 6.x): 192.0.2.2 → 192.0.2.1, 2001:db8::2 → 2001:db8::1.
namespace real {
// UDP 40000 → 62201, "knock-v4".
inline const frame udp4 = from_hex(
    "a645b3aabdc996f89f41f175080045000024aae6000040114bdfc0000202c00002019c40f2f9001084256b6e6f63"
    "6b2d7634");
// UDP 40001 → 62201, "knock-v6".
inline const frame udp6 = from_hex(
    "a645b3aabdc996f89f41f17586dd600f8c1d0010114020010db800000000000000000000000220010db800000000"
    "00000000000000019c41f2f900105b966b6e6f636b2d7636");
// UDP 40002 → 62201, "knock-opt", with an IPv4 Record Route option (IHL 7).
inline const frame udp4_options = from_hex(
    "22e5cfd9d44afed825ce856c08004700002d15c6400040118d2dc0000202c0000201070708c0000202009c42f2f9"
    "001184266b6e6f636b2d6f7074");
// TCP 57032 → 62201: SYN, then the data segment "knock-tcp" (PSH|ACK), then FIN.
inline const frame tcp_syn = from_hex(
    "22e5cfd9d44afed825ce856c08004500003cda3240004006dc85c0000202c0000201dec8f2f97257731900000000"
    "a002faf084320000020405b40402080afb91ef9e000000000103030a");
inline const frame tcp_data = from_hex(
    "22e5cfd9d44afed825ce856c08004500003dda3440004006dc82c0000202c0000201dec8f2f97257731a401b4d60"
    "8018003f843300000101080afb91ef9ef784f58a6b6e6f636b2d746370");
inline const frame tcp_fin = from_hex(
    "22e5cfd9d44afed825ce856c080045000034da3540004006dc8ac0000202c0000201dec8f2f972577323401b4d60"
    "8011003f842a00000101080afb91ef9ef784f58a");
// ARP who-has 192.0.2.1.
inline const frame arp = from_hex(
    "ffffffffffff96f89f41f1750806000108000604000196f89f41f175c0000202000000000000c0000201");
// ICMPv6 neighbour solicitation.
inline const frame icmp6_ns = from_hex(
    "3333ff00000196f89f41f17586dd6000000000203aff20010db8000000000000000000000002ff02000000000000"
    "00000001ff0000018700f6780000000020010db8000000000000000000000001010196f89f41f175");
// MLDv2 report: a hop-by-hop header (router alert), then ICMPv6.
inline const frame mld_hop_by_hop = from_hex(
    "333300000016ba0486333c5f86dd600000000038000100000000000000000000000000000000ff02000000000000"
    "000000000000001"
    "63a000502000001008f0030dc0000000204000000ff0200000000000000000001ff333c5f04000000ff0200000000"
    "000000000001ff000002");

/// The three IPv4 fragments of a 3000-byte UDP payload ('F'), headers real, payload filled in.
inline frame fill(std::string_view head_hex, std::size_t size, char with) {
  frame f = from_hex(head_hex);
  f.resize(size, static_cast<byte>(with));
  return f;
}
inline const frame frag4_first =
    fill("a645b3aabdc996f89f41f1750800450005dcaae7200040112626c0000202c00002019c40f2f90bc0116c",
         1514, 'F');
inline const frame frag4_middle =
    fill("a645b3aabdc996f89f41f1750800450005dcaae720b94011256dc0000202c0000201", 1514, 'F');
inline const frame frag4_last =
    fill("a645b3aabdc996f89f41f175080045000044aae7017240114a4cc0000202c0000201", 82, 'F');
/// The first and last IPv6 fragments of a 3000-byte UDP payload ('G').
inline const frame frag6_first = fill(
    "a645b3aabdc996f89f41f17586dd600f8c1d05b02c4020010db800000000000000000000000220010db800000000"
    "000000000000000111000001d9c1d9b69c41f2f90bc05818",
    1510, 'G');
inline const frame frag6_last = fill(
    "a645b3aabdc996f89f41f17586dd600f8c1d00782c4020010db800000000000000000000000220010db800000000"
    "000000000000000111000b50d9c1d9b6",
    174, 'G');
}  // namespace real

}  // namespace knock::test
