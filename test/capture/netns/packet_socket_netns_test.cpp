// SPDX-License-Identifier: MIT
// knock::capture::packet_socket (issue #17: capture without a resident ring) on real interfaces,
// as root, inside network namespaces this test creates and removes (fixture.hpp).
#include <knock/capture/packet_socket.hpp>

#include "collect.hpp"
#include "fixture.hpp"
#include "netns.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
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
  ASSERT_EQ(cap->fds().size(), 1u);
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

// Issue #17: opening costs the daemon no ring — its resident set grows by the batch buffer only
// — and a burst of 3,000 SPA-sized datagrams sent while nothing reads waits in the socket's
// receive buffer, kernel memory, every one of them.
TEST_F(packet_socket_netns, burst_waits_in_kernel_memory_not_in_the_daemon) {
  link_first();
  // A first open pages in libpcap's filter compiler and the allocator's arenas: code and heap
  // any capture needs once. The second open is what each interface costs.
  ASSERT_TRUE(open(on({"a0"})));
  const long before = resident_kib();
  auto cap = open(on({"a0"}));
  ASSERT_TRUE(cap);
  const long grown = resident_kib() - before;
  EXPECT_LT(grown, 512) << "KiB resident after opening (a TPACKET ring would be megabytes)";
  EXPECT_EQ(cap->memory(),
            "socket buffer up to 64 MiB per interface (kernel, taken only while frames wait), "
            "batch buffer 109.8 KiB");
  const auto out = sender_in(peer(), ip("192.0.2.2"));
  const std::string payload(204, 'A');
  for (int i = 0; i < 3000; ++i) {
    out->send(ip("192.0.2.1"), 62201, payload);
    if (i % 100 == 99) std::this_thread::sleep_for(1ms);  // within the veth's backlog
  }
  const auto got = collect(*cap, 3000, 5s);
  EXPECT_EQ(got.size(), 3000u);
  EXPECT_EQ(cap->stats().dropped, 0u);
}

// A receive buffer too small for the burst: the kernel drops the rest and says how many.
TEST_F(packet_socket_netns, overflow_is_counted_as_dropped) {
  link_first();
  packet_socket_options o = on({"a0"});
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
