// SPDX-License-Identifier: MIT
// knock::capture::packet_socket (issue #17: capture without a resident ring) on real interfaces,
// as root, inside network namespaces this test creates and removes (fixture.hpp).
#include <knock/capture/packet_socket.hpp>

#include "collect.hpp"
#include "fixture.hpp"
#include "netns.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

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

// The filter (PCAP_FILTER, compiled by libpcap for frames starting at their IP header) lets the
// SPA port through and nothing else; IPv4 and IPv6 arrive with their addresses and ports.
TEST_F(packet_socket_netns, filtered_ipv4_and_ipv6_with_their_addresses) {
  link_first();
  auto cap = open(on({"a0"}));
  ASSERT_TRUE(cap);
  ASSERT_EQ(cap->fds().size(), 1u);
  EXPECT_EQ(cap->describe(), "a0");
  const auto out4 = sender_in(peer(), ip("192.0.2.2"));
  const auto out6 = sender_in(peer(), ip("2001:db8::2"));
  out4->send(ip("192.0.2.1"), 62202, "another port: filtered out");
  out4->send(ip("192.0.2.1"), 62201, "knock over ipv4");
  out6->send(ip("2001:db8::1"), 62201, "knock over ipv6");
  auto got = collect(*cap, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(collect(*cap, 1, 100ms).empty());
  std::sort(got.begin(), got.end(), [](auto& x, auto& y) { return x.payload < y.payload; });
  EXPECT_EQ(got[0].payload, "knock over ipv4");
  EXPECT_EQ(got[0].source, ip("192.0.2.2"));
  EXPECT_EQ(got[0].destination, ip("192.0.2.1"));
  EXPECT_EQ(got[0].source_port, out4->port());
  EXPECT_EQ(got[0].destination_port, 62201);
  EXPECT_EQ(got[1].payload, "knock over ipv6");
  EXPECT_EQ(got[1].source, ip("2001:db8::2"));
  EXPECT_EQ(got[1].destination, ip("2001:db8::1"));
  const auto s = cap->stats();
  EXPECT_EQ(s.received, 2u) << "the other port never reached the socket";
  EXPECT_EQ(s.delivered, 2u);
}

TEST_F(packet_socket_netns, two_interfaces_and_any) {
  link_first();
  ASSERT_TRUE(veth(server(), "a1", "198.51.100.1/24", peer(), "b1", "198.51.100.2/24"));
  for (const auto& interfaces : {std::vector<std::string>{"a0", "a1"}, {"any"}}) {
    SCOPED_TRACE(interfaces[0]);
    auto cap = open(on(interfaces));
    ASSERT_TRUE(cap);
    ASSERT_EQ(cap->fds().size(), interfaces.size());
    const auto out0 = sender_in(peer(), ip("192.0.2.2"));
    const auto out1 = sender_in(peer(), ip("198.51.100.2"));
    out0->send(ip("192.0.2.1"), 62201, "via a0");
    out1->send(ip("198.51.100.1"), 62201, "via a1");
    auto got = collect(*cap, 2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_TRUE(collect(*cap, 1, 100ms).empty());
    std::sort(got.begin(), got.end(), [](auto& x, auto& y) { return x.payload < y.payload; });
    EXPECT_EQ(got[0].payload, "via a0");
    EXPECT_EQ(got[0].destination, ip("192.0.2.1"));
    EXPECT_EQ(got[1].payload, "via a1");
    EXPECT_EQ(got[1].destination, ip("198.51.100.1"));
  }
}

// Each packet crosses `lo` twice (out, then in): seen once, inbound. What the server sends out
// on a veth is left out too, unless asked (ENABLE_PCAP_ANY_DIRECTION).
TEST_F(packet_socket_netns, inbound_only_by_default) {
  link_first();
  {
    auto cap = open(on({"lo"}));
    ASSERT_TRUE(cap);
    const auto local = sender_in(server(), ip("::1"));
    local->send(ip("::1"), 62201, "on lo");
    const auto got = collect(*cap, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].source, ip("::1"));
    EXPECT_TRUE(collect(*cap, 1, 200ms).empty());
  }
  for (const bool inbound_only : {true, false}) {
    SCOPED_TRACE(inbound_only ? "inbound only" : "both directions");
    packet_socket_options o = on({"a0"});
    o.inbound_only = inbound_only;
    auto cap = open(o);
    ASSERT_TRUE(cap);
    const auto outbound = sender_in(server(), ip("192.0.2.1"));
    const auto inbound = sender_in(peer(), ip("192.0.2.2"));
    outbound->send(ip("192.0.2.2"), 62201, "out");
    inbound->send(ip("192.0.2.1"), 62201, "in");
    auto got = collect(*cap, inbound_only ? 1 : 2);
    EXPECT_TRUE(collect(*cap, 1, 200ms).empty());
    ASSERT_EQ(got.size(), inbound_only ? 1u : 2u);
    std::sort(got.begin(), got.end(), [](auto& x, auto& y) { return x.payload < y.payload; });
    EXPECT_EQ(got[0].payload, "in");
    if (!inbound_only) {
      EXPECT_EQ(got[1].source, ip("192.0.2.1"));
    }
  }
}

// Issue #17: opening costs the daemon no ring — its resident set grows by the batch buffer only
// — and a burst of 3,000 SPA-sized datagrams sent while nothing reads waits in the socket's
// receive buffer, kernel memory, every one of them.
TEST_F(packet_socket_netns, burst_waits_in_kernel_memory_not_in_the_daemon) {
  link_first();
  const long before = resident_kib();
  auto cap = open(on({"a0"}));
  ASSERT_TRUE(cap);
  const long grown = resident_kib() - before;
  EXPECT_LT(grown, 512) << "KiB resident after opening";
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

// A 3000-byte payload over a 1500-byte MTU arrives in fragments: refused and counted.
TEST_F(packet_socket_netns, fragments_are_refused_and_counted) {
  link_first(1500);
  packet_socket_options o = on({"a0"});
  o.filter = "udp port 62201 or (ip6 and ip6[6] == 44)";  // BPF port checks skip IPv6 fragments
  auto cap = open(o);
  ASSERT_TRUE(cap);
  const auto out4 = sender_in(peer(), ip("192.0.2.2"));
  const auto out6 = sender_in(peer(), ip("2001:db8::2"));
  const int dont = IP_PMTUDISC_DONT;
  ASSERT_EQ(::setsockopt(out4->fd(), IPPROTO_IP, IP_MTU_DISCOVER, &dont, sizeof dont), 0);
  out4->send(ip("192.0.2.1"), 62201, std::string(3000, 'F'));
  out6->send(ip("2001:db8::1"), 62201, std::string(3000, 'G'));
  out4->send(ip("192.0.2.1"), 62201, "after the fragments");
  const auto got = collect(*cap, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "after the fragments");
  const auto s = cap->stats();
  EXPECT_GE(s.fragments, 1u + 3u) << "received " << s.received;
  EXPECT_EQ(s.malformed, 0u);
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
