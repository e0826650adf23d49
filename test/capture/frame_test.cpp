// SPDX-License-Identifier: MIT
// parse_frame: every link type, IPv4 options, IPv6 extension headers, TCP, fragments, truncation,
// malformed headers, real frames from a Linux veth, and a deterministic mutation fuzz.
#include <knock/capture/frame.hpp>

#include "frames.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace {
using namespace knock;
using namespace knock::test;
using capture::frame_error;
using capture::link_type;
using capture::parse_frame;

const ip_address v4_src = ip("198.51.100.7"), v4_dst = ip("192.0.2.1");
const ip_address v6_src = ip("2001:db8::7"), v6_dst = ip("2001:db8::1");

frame udp4(std::string_view payload, const frame& options = {}) {
  return ipv4(v4_src, v4_dst, 17, segment(17, 40000, 62201, payload), options);
}
frame udp6(std::string_view payload) {
  return ipv6(v6_src, v6_dst, 17, segment(17, 40001, 62201, payload));
}

// The datagram must match, and its payload must be a view into the frame.
void expect_datagram(const frame& f, link_type link, const ip_address& src, const ip_address& dst,
                     std::uint16_t sport, std::string_view payload) {
  const auto d = parse_frame(f, link);
  ASSERT_TRUE(d) << capture::to_string(d.error());
  EXPECT_EQ(d->source, src);
  EXPECT_EQ(d->destination, dst);
  EXPECT_EQ(d->source_port, sport);
  EXPECT_EQ(d->destination_port, 62201);
  EXPECT_EQ(d->payload, payload);
  const auto* begin = reinterpret_cast<const char*>(f.data());
  EXPECT_GE(d->payload.data(), begin);
  EXPECT_LE(d->payload.data() + d->payload.size(), begin + f.size());
}

frame_error error_of(const frame& f, link_type link) {
  const auto d = parse_frame(f, link);
  return d ? frame_error{} : d.error();
}

TEST(frame, ethernet_ipv4_udp) {
  expect_datagram(ethernet(udp4("spa"), 0x0800), link_type::ethernet, v4_src, v4_dst, 40000, "spa");
}

TEST(frame, ethernet_ipv6_udp) {
  expect_datagram(ethernet(udp6("spa6"), 0x86dd), link_type::ethernet, v6_src, v6_dst, 40001,
                  "spa6");
}

TEST(frame, ethernet_vlan_and_qinq) {
  expect_datagram(ethernet(udp4("one tag"), 0x0800, {0x8100}), link_type::ethernet, v4_src, v4_dst,
                  40000, "one tag");
  expect_datagram(ethernet(udp6("two tags"), 0x86dd, {0x88a8, 0x8100}), link_type::ethernet, v6_src,
                  v6_dst, 40001, "two tags");
  EXPECT_EQ(
      error_of(ethernet(udp4("three"), 0x0800, {0x88a8, 0x8100, 0x8100}), link_type::ethernet),
      frame_error::not_ip);  // a third tag is not followed
}

TEST(frame, ethernet_padding_is_not_payload) {
  frame f = ethernet(udp4("ab"), 0x0800);
  f.resize(60, 0xee);  // the minimum Ethernet frame: the NIC pads
  expect_datagram(f, link_type::ethernet, v4_src, v4_dst, 40000, "ab");
}

TEST(frame, linux_cooked_v1_and_v2) {
  expect_datagram(sll(udp4("sll"), 0x0800), link_type::linux_sll, v4_src, v4_dst, 40000, "sll");
  expect_datagram(sll(udp6("sll6"), 0x86dd), link_type::linux_sll, v6_src, v6_dst, 40001, "sll6");
  expect_datagram(sll2(udp4("sll2"), 0x0800), link_type::linux_sll2, v4_src, v4_dst, 40000, "sll2");
  expect_datagram(sll2(udp6("sll2-6"), 0x86dd), link_type::linux_sll2, v6_src, v6_dst, 40001,
                  "sll2-6");
  EXPECT_EQ(error_of(sll(udp4("x"), 0x0806), link_type::linux_sll), frame_error::not_ip);
  EXPECT_EQ(error_of(sll2(udp4("x"), 0x0003), link_type::linux_sll2), frame_error::not_ip);
}

TEST(frame, raw_ip_links) {
  expect_datagram(udp4("raw4"), link_type::raw, v4_src, v4_dst, 40000, "raw4");
  expect_datagram(udp6("raw6"), link_type::raw, v6_src, v6_dst, 40001, "raw6");
  expect_datagram(udp4("ipv4"), link_type::ipv4, v4_src, v4_dst, 40000, "ipv4");
  expect_datagram(udp6("ipv6"), link_type::ipv6, v6_src, v6_dst, 40001, "ipv6");
  EXPECT_EQ(error_of(udp6("x"), link_type::ipv4), frame_error::malformed);
  EXPECT_EQ(error_of(udp4("x"), link_type::ipv6), frame_error::malformed);
  frame bad = udp4("x");
  bad[0] = 0x55;
  EXPECT_EQ(error_of(bad, link_type::raw), frame_error::malformed);
  EXPECT_EQ(error_of({}, link_type::raw), frame_error::truncated);
}

TEST(frame, bsd_loopback_links) {
  // DLT_NULL: host order, from a little- or a big-endian machine; the BSDs' AF_INET6 values.
  expect_datagram(null_link(udp4("le"), 2, true), link_type::null, v4_src, v4_dst, 40000, "le");
  expect_datagram(null_link(udp4("be"), 2, false), link_type::null, v4_src, v4_dst, 40000, "be");
  for (unsigned af6 : {24u, 28u, 30u}) {
    expect_datagram(null_link(udp6("v6"), af6, true), link_type::null, v6_src, v6_dst, 40001, "v6");
    expect_datagram(null_link(udp6("v6"), af6, false), link_type::loop, v6_src, v6_dst, 40001,
                    "v6");
  }
  // DLT_LOOP is network order only.
  expect_datagram(null_link(udp4("loop"), 2, false), link_type::loop, v4_src, v4_dst, 40000,
                  "loop");
  EXPECT_EQ(error_of(null_link(udp4("x"), 2, true), link_type::loop), frame_error::not_ip);
  EXPECT_EQ(error_of(null_link(udp4("x"), 7, true), link_type::null), frame_error::not_ip);
}

TEST(frame, linux_loopback_is_ethernet) {
  const frame f =
      ethernet(ipv4(ip("127.0.0.1"), ip("127.0.0.1"), 17, segment(17, 5555, 62201, "lo")), 0x0800);
  expect_datagram(f, link_type::ethernet, ip("127.0.0.1"), ip("127.0.0.1"), 5555, "lo");
}

TEST(frame, unsupported_link) {
  EXPECT_EQ(error_of(udp4("x"), static_cast<link_type>(105)), frame_error::unsupported_link);
}

TEST(frame, ipv4_options_of_every_length) {
  for (std::size_t words = 1; words <= 10; ++words) {  // IHL 6 .. 15
    frame options(words * 4, 1);                       // NOPs
    options.back() = 0;                                // end of options
    expect_datagram(ethernet(udp4("opts", options), 0x0800), link_type::ethernet, v4_src, v4_dst,
                    40000, "opts");
  }
}

TEST(frame, ipv6_extension_headers_are_followed) {
  // hop-by-hop → destination options → routing → UDP
  frame chain = ext8(60);
  append(chain, ext8(43));
  append(chain, ext8(17));
  expect_datagram(ipv6(v6_src, v6_dst, 0, segment(17, 40001, 62201, "ext"), chain), link_type::raw,
                  v6_src, v6_dst, 40001, "ext");
  // an authentication header: length in 4-byte units, minus 2 (here 12 + 4 bytes of ICV)
  frame ah{6, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd};
  expect_datagram(ipv6(v6_src, v6_dst, 51, segment(6, 40001, 62201, "ah-tcp"), ah), link_type::raw,
                  v6_src, v6_dst, 40001, "ah-tcp");
}

TEST(frame, ipv6_extension_headers_refused_cleanly) {
  // ESP, no next header, ICMPv6
  for (unsigned next : {50u, 59u, 58u})
    EXPECT_EQ(error_of(ipv6(v6_src, v6_dst, next, segment(17, 1, 2, "x")), link_type::raw),
              frame_error::not_udp_or_tcp);
  // a header running past the payload length
  frame big = ext8(17);
  big[1] = 200;
  EXPECT_EQ(error_of(ipv6(v6_src, v6_dst, 0, segment(17, 1, 2, "x"), big), link_type::raw),
            frame_error::malformed);
  // more extension headers than knock follows
  frame chain;
  for (int i = 0; i < 9; ++i) append(chain, ext8(60));
  EXPECT_EQ(error_of(ipv6(v6_src, v6_dst, 60, segment(17, 1, 2, "x"), chain), link_type::raw),
            frame_error::malformed);
}

TEST(frame, fragments_are_refused) {
  const frame body = segment(17, 40000, 62201, "frag");
  EXPECT_EQ(error_of(ipv4(v4_src, v4_dst, 17, body, {}, 0x2000), link_type::raw),
            frame_error::fragment);  // first: MF
  EXPECT_EQ(error_of(ipv4(v4_src, v4_dst, 17, body, {}, 0x00b9), link_type::raw),
            frame_error::fragment);  // last: an offset
  EXPECT_EQ(error_of(ipv4(v4_src, v4_dst, 17, body, {}, 0x20b9), link_type::raw),
            frame_error::fragment);                                                      // middle
  EXPECT_TRUE(parse_frame(ipv4(v4_src, v4_dst, 17, body, {}, 0x4000), link_type::raw));  // DF
  EXPECT_TRUE(parse_frame(ipv4(v4_src, v4_dst, 17, body, {}, 0), link_type::raw));
  frame fragment_header{17, 0, 0, 1, 0xd9, 0xc1, 0xd9, 0xb6};
  EXPECT_EQ(error_of(ipv6(v6_src, v6_dst, 44, body, fragment_header), link_type::raw),
            frame_error::fragment);
  frame behind_hop_by_hop = ext8(44);
  append(behind_hop_by_hop, fragment_header);
  EXPECT_EQ(error_of(ipv6(v6_src, v6_dst, 0, body, behind_hop_by_hop), link_type::raw),
            frame_error::fragment);
}

TEST(frame, tcp_payloads) {
  expect_datagram(ethernet(ipv4(v4_src, v4_dst, 6, segment(6, 40000, 62201, "tcp")), 0x0800),
                  link_type::ethernet, v4_src, v4_dst, 40000, "tcp");
  EXPECT_EQ(error_of(ipv4(v4_src, v4_dst, 6, segment(6, 40000, 62201, "")), link_type::raw),
            frame_error::no_payload);
  frame doff = segment(6, 40000, 62201, "x");
  doff[12] = 4 << 4;
  EXPECT_EQ(error_of(ipv4(v4_src, v4_dst, 6, doff), link_type::raw), frame_error::malformed);
  doff[12] = 15 << 4;  // 60-byte header in a 21-byte segment
  EXPECT_EQ(error_of(ipv4(v4_src, v4_dst, 6, doff), link_type::raw), frame_error::malformed);
  EXPECT_EQ(error_of(ipv4(v4_src, v4_dst, 1, segment(17, 0, 0, "icmp")), link_type::raw),
            frame_error::not_udp_or_tcp);
}

TEST(frame, malformed_headers) {
  frame f = udp4("payload");
  f[0] = 0x44;  // IHL 4
  EXPECT_EQ(error_of(f, link_type::raw), frame_error::malformed);
  f = udp4("payload");
  f[2] = 0, f[3] = 19;  // total length below the header
  EXPECT_EQ(error_of(f, link_type::raw), frame_error::malformed);
  f = udp4("payload");
  f[20 + 4] = 0, f[20 + 5] = 7;  // UDP length below its header
  EXPECT_EQ(error_of(f, link_type::raw), frame_error::malformed);
  f = udp4("payload");
  f[20 + 5] = 200;  // UDP length past the IP packet
  EXPECT_EQ(error_of(f, link_type::raw), frame_error::malformed);
  f = udp4("payload");
  f[2] = 0, f[3] = 24;  // an IP packet too short for its UDP header
  EXPECT_EQ(error_of(f, link_type::raw), frame_error::malformed);
  f = udp6("payload");
  f[4] = 0, f[5] = 0;  // IPv6 payload length 0 (a jumbogram)
  EXPECT_EQ(error_of(f, link_type::raw), frame_error::malformed);
  f = udp4("payload");
  f[20 + 4] = 0, f[20 + 5] = 12;  // a UDP length shorter than the IP packet: trailing bytes
  const auto d = parse_frame(f, link_type::raw);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->payload, "payl");
}

TEST(frame, every_prefix_is_truncated) {
  const std::pair<frame, link_type> cases[] = {
      {ethernet(udp4("truncated", frame(8, 1)), 0x0800, {0x8100}), link_type::ethernet},
      {ethernet(udp6("truncated"), 0x86dd), link_type::ethernet},
      {sll(udp4("truncated"), 0x0800), link_type::linux_sll},
      {sll2(udp6("truncated"), 0x86dd), link_type::linux_sll2},
      {null_link(udp4("truncated"), 2, true), link_type::null},
      {udp6("truncated"), link_type::raw},
      {real::udp4_options, link_type::ethernet},
      {real::tcp_data, link_type::ethernet},
  };
  for (const auto& [f, link] : cases) {
    ASSERT_TRUE(parse_frame(f, link));
    for (std::size_t n = 0; n < f.size(); ++n)
      EXPECT_EQ(error_of(frame(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n)), link),
                frame_error::truncated)
          << n << " of " << f.size() << " bytes";
  }
}

TEST(frame, real_frames) {
  expect_datagram(real::udp4, link_type::ethernet, ip("192.0.2.2"), ip("192.0.2.1"), 40000,
                  "knock-v4");
  expect_datagram(real::udp6, link_type::ethernet, ip("2001:db8::2"), ip("2001:db8::1"), 40001,
                  "knock-v6");
  expect_datagram(real::udp4_options, link_type::ethernet, ip("192.0.2.2"), ip("192.0.2.1"), 40002,
                  "knock-opt");
  const auto tcp = parse_frame(real::tcp_data, link_type::ethernet);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->payload, "knock-tcp");
  EXPECT_EQ(tcp->source_port, 57032);
  EXPECT_EQ(error_of(real::tcp_syn, link_type::ethernet), frame_error::no_payload);
  EXPECT_EQ(error_of(real::tcp_fin, link_type::ethernet), frame_error::no_payload);
  EXPECT_EQ(error_of(real::arp, link_type::ethernet), frame_error::not_ip);
  EXPECT_EQ(error_of(real::icmp6_ns, link_type::ethernet), frame_error::not_udp_or_tcp);
  EXPECT_EQ(error_of(real::mld_hop_by_hop, link_type::ethernet), frame_error::not_udp_or_tcp);
  for (const frame* f : {&real::frag4_first, &real::frag4_middle, &real::frag4_last,
                         &real::frag6_first, &real::frag6_last})
    EXPECT_EQ(error_of(*f, link_type::ethernet), frame_error::fragment);
}

TEST(frame, error_names) {
  for (int e = 1; e <= 7; ++e) {
    const auto name = capture::to_string(static_cast<frame_error>(e));
    EXPECT_NE(name, "unknown") << e;
    for (int other = 1; other < e; ++other)
      EXPECT_NE(name, capture::to_string(static_cast<frame_error>(other)));
  }
  EXPECT_TRUE(capture::is_malformed(frame_error::truncated));
  EXPECT_FALSE(capture::is_malformed(frame_error::fragment));
}

// Mutated frames of every link type: whatever comes back must stay inside the frame. Run under
// ASan/UBSan to make this a real fuzz; a libFuzzer entry point would call parse_frame the same way.
TEST(frame, mutation_fuzz_stays_in_bounds) {
  const std::pair<frame, link_type> seeds[] = {
      {real::udp4, link_type::ethernet},
      {real::udp6, link_type::ethernet},
      {real::udp4_options, link_type::ethernet},
      {real::tcp_data, link_type::ethernet},
      {real::mld_hop_by_hop, link_type::ethernet},
      {sll(udp4("seed"), 0x0800), link_type::linux_sll},
      {sll2(udp6("seed"), 0x86dd), link_type::linux_sll2},
      {null_link(udp6("seed"), 30, true), link_type::null},
  };
  std::uint64_t state = 0x9e3779b97f4a7c15u;
  auto next = [&] {  // xorshift64: deterministic, so a failure reproduces
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return state;
  };
  std::size_t accepted = 0;
  for (int round = 0; round < 200000; ++round) {
    const auto& [seed, link] = seeds[next() % std::size(seeds)];
    frame f = seed;
    for (int flips = 1 + static_cast<int>(next() % 4); flips > 0; --flips)
      f[next() % f.size()] = static_cast<byte>(next());
    if (next() % 4 == 0) f.resize(next() % (f.size() + 1));
    const auto d = parse_frame(f, link);
    if (!d) continue;
    ++accepted;
    const auto* begin = reinterpret_cast<const char*>(f.data());
    ASSERT_GE(d->payload.data(), begin);
    ASSERT_LE(d->payload.data() + d->payload.size(), begin + f.size());
  }
  EXPECT_GT(accepted, 0u);  // the mutations leave some frames intact: the check above ran
}

}  // namespace
