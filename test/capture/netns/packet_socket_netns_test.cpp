// SPDX-License-Identifier: MIT
// knock::capture::packet_socket (issue #17: capture without a large resident ring; issue #18: a
// small ring read in place first) on real interfaces, as root, inside network namespaces this
// test creates and removes (fixture.hpp).
#include <knock/capture/packet_socket.hpp>

#include "collect.hpp"
#include "fixture.hpp"
#include "netns.hpp"

#include <gtest/gtest.h>

#include <knock/config/fwknopd_conf.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace {
using namespace knock;
using namespace knock::test;
using capture::packet_socket;
using capture::packet_socket_options;
using namespace std::chrono_literals;

class packet_socket_netns : public capture_netns {
 protected:
  std::optional<packet_socket> open(const packet_socket_options& o) const {
    return open_capture<packet_socket>(o);
  }
};

packet_socket_options on(std::vector<std::string> interfaces) {
  packet_socket_options o;
  o.interfaces = std::move(interfaces);
  return o;
}

// The resident set, in KiB (/proc/self/statm's second field).
long resident_kib() {
  long size = 0, resident = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * 4;
}

// `any`: one socket on every interface, frames from their IP header whatever the link.
TEST_F(packet_socket_netns, any_interface) {
  link_first();
  auto cap = open(on({"any"}));
  ASSERT_TRUE(cap);
  ASSERT_EQ(cap->fds().size(), 2u) << "a ring and the socket behind it";
  EXPECT_EQ(cap->describe(), "any");
  const auto remote = sender_in(peer(), ip("2001:db8::2"));
  const auto local = sender_in(server(), ip("127.0.0.1"));
  remote->send(ip("2001:db8::1"), 62201, "from the peer");
  local->send(ip("127.0.0.1"), 62201, "from lo");
  auto got = collect(*cap, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(collect(*cap, 1, 200ms).empty());  // no second copy of the loopback one
  std::sort(got.begin(), got.end(), [](auto& x, auto& y) { return x.payload < y.payload; });
  EXPECT_EQ(got[0].payload, "from lo");
  EXPECT_EQ(got[0].source, ip("127.0.0.1"));
  EXPECT_EQ(got[1].payload, "from the peer");
  EXPECT_EQ(got[1].destination, ip("2001:db8::1"));
}

// Issue #17: opening with a 256 KiB ring costs the daemon the ring and the batch buffer — its
// resident set grows by those and little more — and a burst of 3,000 SPA-sized datagrams from 16
// flows sent while nothing reads, more than the ring holds, is all delivered: the ring's share
// read in place, the rest from the socket's receive buffer (kernel memory) it overflowed to. (A
// TPACKET_V3 ring lost one frame here each time it filled up, many flows being at it: the
// kernel drops the frame that finds it full before the group can send it on.)
TEST_F(packet_socket_netns, burst_overflows_the_ring_into_kernel_memory_and_loses_nothing) {
  link_first();
  // A first open pages in libpcap's filter compiler and the allocator's arenas: code and heap
  // any capture needs once. The second open is what each interface costs.
  packet_socket_options o = on({"a0"});
  o.ring = 256 << 10;
  ASSERT_TRUE(open(o));
  const long before = resident_kib();
  auto cap = open(o);
  ASSERT_TRUE(cap);
  const long grown = resident_kib() - before;
  // The ring (256 KiB) and the batch buffer (110 KiB), and room for the allocator's bookkeeping
  // (under ASan, its shadow memory: 516 KiB were seen); libpcap's default ring alone is 3 MiB.
  EXPECT_LT(grown, 256 + 110 + 256) << "KiB resident after opening";
  EXPECT_EQ(cap->memory(),
            "ring 256 KiB per interface (resident), then socket buffer up to 64 MiB per interface "
            "(kernel, taken only while frames wait), batch buffer 109.8 KiB");
  std::vector<std::unique_ptr<sender>> flows;
  for (int i = 0; i < 16; ++i) flows.push_back(sender_in(peer(), ip("192.0.2.2")));
  const std::string payload(204, 'A');
  for (int i = 0; i < 3000; ++i) {
    flows[i % 16]->send(ip("192.0.2.1"), 62201, payload);
    if (i % 100 == 99) std::this_thread::sleep_for(1ms);  // within the veth's backlog
  }
  const auto got = collect(*cap, 3000, 5s);
  EXPECT_EQ(got.size(), 3000u);
  EXPECT_EQ(cap->stats().dropped, 0u);
  EXPECT_TRUE(collect(*cap, 1, 200ms).empty()) << "a frame came twice";
  const std::uint64_t in_place = cap->stats().in_place;
  EXPECT_EQ(in_place, 512u) << "the ring's 512 slots, then the socket";
  // Drained, the ring takes the next frames again (the group's program picks it each time; the
  // socket is only where a frame goes when the ring is full).
  for (int i = 0; i < 10; ++i) flows[i]->send(ip("192.0.2.1"), 62201, payload);
  EXPECT_EQ(collect(*cap, 10).size(), 10u);
  EXPECT_EQ(cap->stats().in_place, in_place + 10);
}

// A frame the ring's slots hold whole is read in place; a longer one (a GnuPG packet) goes to
// the socket, whole, by the group's program: no frame is ever cut short by the ring.
TEST_F(packet_socket_netns, frames_longer_than_a_slot_go_to_the_socket_whole) {
  link_first();
  auto cap = open(on({"a0"}));
  ASSERT_TRUE(cap);
  const auto out = sender_in(peer(), ip("192.0.2.2"));
  const std::size_t fits = capture::detail::rx_ring::max_frame_bytes - 20 - 8;  // IPv4 + UDP
  for (const std::size_t size : {fits, fits + 1, std::size_t{1400}}) {
    const std::uint64_t in_place = cap->stats().in_place;
    const std::string payload(size, 'L');
    out->send(ip("192.0.2.1"), 62201, payload);
    const auto got = collect(*cap, 1);
    ASSERT_EQ(got.size(), 1u) << size;
    EXPECT_EQ(got[0].payload, payload) << size;
    EXPECT_EQ(cap->stats().in_place, in_place + (size == fits ? 1 : 0)) << size;
  }
  EXPECT_EQ(cap->stats().malformed, 0u);
}

// Frames read as they come (the daemon keeping up) all come through the ring, in order; a lone
// frame waits at most the block timeout (10 ms) to be handed over.
TEST_F(packet_socket_netns, frames_read_as_they_come_are_read_in_place) {
  link_first();
  auto cap = open(on({"a0"}));
  ASSERT_TRUE(cap);
  const auto out = sender_in(peer(), ip("192.0.2.2"));
  std::vector<std::string> sent;
  for (int i = 0; i < 50; ++i) {
    sent.push_back("frame " + std::to_string(i));
    const auto started = std::chrono::steady_clock::now();
    out->send(ip("192.0.2.1"), 62201, sent.back());
    const auto got = collect(*cap, 1, 2s);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].payload, sent.back());
    EXPECT_LT(std::chrono::steady_clock::now() - started, 500ms);
  }
  EXPECT_EQ(cap->stats().in_place, 50u);
  EXPECT_EQ(cap->stats().received, 50u);
}

// KNOCK_CAPTURE_RING 0, and captures made for workers (which join the workers' fanout group, one
// group a socket): the socket alone, as before the ring.
TEST_F(packet_socket_netns, no_ring_when_turned_off_or_shared_by_workers) {
  link_first();
  packet_socket_options o = on({"a0"});
  o.ring = 0;
  auto cap = open(o);
  ASSERT_TRUE(cap);
  EXPECT_EQ(cap->fds().size(), 1u);
  EXPECT_EQ(cap->memory(),
            "socket buffer up to 64 MiB per interface (kernel, taken only while frames wait), "
            "batch buffer 109.8 KiB");
  const auto out = sender_in(peer(), ip("192.0.2.2"));
  out->send(ip("192.0.2.1"), 62201, "through the socket");
  const auto got = collect(*cap, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "through the socket");
  EXPECT_EQ(cap->stats().in_place, 0u);

  auto c = config::parse_fwknopd_conf("PCAP_INTF a0\n", "f.conf");
  ASSERT_TRUE(c);
  inside in{server()};
  for (unsigned sharing : {1u, 2u}) {
    auto made = packet_socket::make({*c, sharing});
    ASSERT_TRUE(made) << made.error().message;
    EXPECT_EQ(made->fds().size(), sharing == 1 ? 2u : 1u) << sharing << " worker(s)";
  }
}

// A ring and a receive buffer too small for the burst: the kernel drops the rest and says how many.
TEST_F(packet_socket_netns, overflow_is_counted_as_dropped) {
  link_first();
  packet_socket_options o = on({"a0"});
  o.ring = 128 << 10;  // 256 frames
  o.receive_buffer = 64 << 10;
  auto cap = open(o);
  ASSERT_TRUE(cap);
  const auto out = sender_in(peer(), ip("192.0.2.2"));
  for (int i = 0; i < 2000; ++i) {
    out->send(ip("192.0.2.1"), 62201, std::string(204, 'B'));
    if (i % 100 == 99) std::this_thread::sleep_for(1ms);
  }
  const auto got = collect(*cap, 2000, 1s);
  const auto s = cap->stats();
  EXPECT_GT(got.size(), 0u);
  EXPECT_GT(s.dropped, 0u);
  EXPECT_LE(got.size() + s.dropped, 2000u);
  EXPECT_EQ(cap->stats().dropped, s.dropped) << "the kernel's count is read once, kept";
}

// Errors name the interface or the filter; an interface going down fails `receive`, which the
// daemon turns into EXIT_AT_INTF_DOWN's exit or its reopening.
TEST_F(packet_socket_netns, errors_name_what_failed) {
  link_first();
  {
    inside in{server()};
    auto missing = packet_socket::open("nosuch0");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().message, "packet: nosuch0: No such device");
    auto bad = packet_socket::open("a0", "udp port sixty");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("packet: filter 'udp port sixty': "), std::string::npos)
        << bad.error().message;
    auto link = packet_socket::open("a0", "ether host 02:00:00:00:00:01");
    ASSERT_FALSE(link);
    EXPECT_NE(link.error().message.find("link-layer filters need KNOCK_CAPTURE pcap"),
              std::string::npos)
        << link.error().message;
  }
  auto cap = open(on({"a0"}));
  ASSERT_TRUE(cap);
  ASSERT_TRUE(server().ip({"link", "set", "a0", "down"}));
  const auto r = cap->receive([](const datagram&) {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::capture_failed);
  EXPECT_EQ(r.error().message, "packet: a0: receive: Network is down");
}

}  // namespace
