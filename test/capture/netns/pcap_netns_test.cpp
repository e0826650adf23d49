// SPDX-License-Identifier: MIT
// knock::capture::pcap on real interfaces, as root, inside network namespaces this test creates
// and removes: a "server" namespace that captures and a "peer" namespace that sends. The peer has
// only its veth subnets (no default route), so nothing can leave the machine.
#include <knock/capture/pcap.hpp>

#include "collect.hpp"
#include "fixture.hpp"
#include "netns.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>

namespace {
using namespace knock;
using namespace knock::test;
using capture::pcap;
using capture::pcap_options;
using namespace std::chrono_literals;

class pcap_netns : public capture_netns {
 protected:
  std::optional<pcap> open(const pcap_options& o) const { return open_capture<pcap>(o); }
};

pcap_options on(std::vector<std::string> interfaces) {
  pcap_options o;
  o.interfaces = std::move(interfaces);
  return o;
}

TEST_F(pcap_netns, peer_has_no_route_off_the_machine) {
  link_first();
  inside in{peer()};
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_storage to;
  const socklen_t n = capture::detail::to_sockaddr(ip("203.0.113.1"), 9, to);
  EXPECT_NE(::connect(fd, reinterpret_cast<sockaddr*>(&to), n), 0);  // connect sends nothing
  EXPECT_EQ(errno, ENETUNREACH);
  ::close(fd);
}

TEST_F(pcap_netns, veth_ipv4_datagram_with_its_addresses) {
  link_first();
  auto cap = open(on({"a0"}));
  ASSERT_TRUE(cap);
  ASSERT_EQ(cap->fds().size(), 1u);
  const auto out = sender_in(peer(), ip("192.0.2.2"));
  out->send(ip("192.0.2.1"), 62202, "another port: filtered out");
  out->send(ip("192.0.2.1"), 62201, "knock over a veth");
  const auto got = collect(*cap, 1);  // the other port was sent first: it would come first
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "knock over a veth");
  EXPECT_EQ(got[0].source, ip("192.0.2.2"));
  EXPECT_EQ(got[0].destination, ip("192.0.2.1"));
  EXPECT_EQ(got[0].source_port, out->port());
  EXPECT_EQ(got[0].destination_port, 62201);
  EXPECT_TRUE(collect(*cap, 1, 100ms).empty());
  EXPECT_EQ(cap->stats().delivered, 1u);
}

TEST_F(pcap_netns, veth_ipv6) {
  link_first();
  auto cap = open(on({"a0"}));
  ASSERT_TRUE(cap);
  const auto out = sender_in(peer(), ip("2001:db8::2"));
  out->send(ip("2001:db8::1"), 62201, "knock over ipv6");
  const auto got = collect(*cap, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "knock over ipv6");
  EXPECT_EQ(got[0].source, ip("2001:db8::2"));
  EXPECT_EQ(got[0].destination, ip("2001:db8::1"));
  EXPECT_EQ(got[0].source_port, out->port());
}

TEST_F(pcap_netns, two_interfaces_at_once) {
  link_first();
  ASSERT_TRUE(veth(server(), "a1", "198.51.100.1/24", peer(), "b1", "198.51.100.2/24"));
  auto cap = open(on({"a0", "a1"}));
  ASSERT_TRUE(cap);
  ASSERT_EQ(cap->fds().size(), 2u);
  const auto out0 = sender_in(peer(), ip("192.0.2.2"));
  const auto out1 = sender_in(peer(), ip("198.51.100.2"));
  out0->send(ip("192.0.2.1"), 62201, "via a0");
  out1->send(ip("198.51.100.1"), 62201, "via a1");
  auto got = collect(*cap, 2);
  ASSERT_EQ(got.size(), 2u);
  std::sort(got.begin(), got.end(), [](auto& x, auto& y) { return x.payload < y.payload; });
  EXPECT_EQ(got[0].payload, "via a0");
  EXPECT_EQ(got[0].source, ip("192.0.2.2"));
  EXPECT_EQ(got[0].destination, ip("192.0.2.1"));
  EXPECT_EQ(got[1].payload, "via a1");
  EXPECT_EQ(got[1].source, ip("198.51.100.2"));
  EXPECT_EQ(got[1].destination, ip("198.51.100.1"));
}

// `any` is Linux cooked capture: SLL by default, SLL2 on request. Inbound only, loopback traffic
// (which crosses lo out and in) is seen once.
TEST_F(pcap_netns, any_interface_sll_and_sll2) {
  link_first();
  for (const bool sll2 : {false, true}) {
    SCOPED_TRACE(sll2 ? "sll2" : "sll");
    pcap_options o = on({"any"});
    o.sll2 = sll2;
    auto cap = open(o);
    ASSERT_TRUE(cap);
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
    EXPECT_EQ(got[1].source, ip("2001:db8::2"));
    EXPECT_EQ(got[1].destination, ip("2001:db8::1"));
  }
}

// Linux `lo` is Ethernet-framed. Each packet crosses it twice (out, then in); libpcap keeps one.
TEST_F(pcap_netns, loopback_interface) {
  auto cap = open(on({"lo"}));
  ASSERT_TRUE(cap);
  const auto local = sender_in(server(), ip("::1"));
  local->send(ip("::1"), 62201, "on lo");
  const auto got = collect(*cap, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "on lo");
  EXPECT_EQ(got[0].source, ip("::1"));
  EXPECT_EQ(got[0].destination, ip("::1"));
  EXPECT_TRUE(collect(*cap, 1, 200ms).empty());
}

// Issue #17: the ring is made of TPACKET_V3 blocks, said by memory(), and it packs frames at
// their size: a burst of 3,000 SPA-sized datagrams, sent while nothing reads, is held whole by
// 2 MiB (immediate mode's TPACKET_V2 slots, ~2 KiB a frame, held 1,150 of them).
TEST_F(pcap_netns, ring_holds_a_burst_of_small_frames_and_says_its_size) {
  link_first();
  EXPECT_EQ(open(on({"a0"}))->memory(), "capture ring 3 MiB (a0)") << "the default";
  pcap_options o = on({"a0"});
  o.buffer_bytes = 2 << 20;
  auto cap = open(o);
  ASSERT_TRUE(cap);
  EXPECT_EQ(cap->memory(), "capture ring 2 MiB (a0)");
  const auto out = sender_in(peer(), ip("192.0.2.2"));
  const std::string payload(204, 'A');
  for (int i = 0; i < 3000; ++i) {
    out->send(ip("192.0.2.1"), 62201, payload);
    if (i % 100 == 99) std::this_thread::sleep_for(1ms);  // within the veth's backlog
  }
  std::this_thread::sleep_for(50ms);  // the last block times out and is handed over
  const auto got = collect(*cap, 3000, 5s);
  EXPECT_EQ(got.size(), 3000u);
  EXPECT_EQ(cap->stats().dropped, 0u);
}

// A ring the kernel will not give (here: an address space too small to map it) is halved until
// one fits, and memory() says what was asked for; a ring below the smallest allowed is an error.
TEST_F(pcap_netns, falls_back_to_a_smaller_ring_it_can_get) {
  link_first();
  int status = -1;
  const pid_t child = ::fork();
  if (child == 0) {  // alone in the child: the limit stays there
    inside in{server()};
    long size_pages = 0;
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(f, "%ld", &size_pages) != 1) size_pages = 0;
      std::fclose(f);
    }
    const rlim_t room = static_cast<rlim_t>(size_pages) * 4096 + (48u << 20);
    const rlimit limit{room, room};
    if (!in.ok() || size_pages == 0 || ::setrlimit(RLIMIT_AS, &limit) != 0) ::_exit(2);
    pcap_options o = on({"a0"});
    o.buffer_bytes = 512 << 20;
    auto cap = pcap::open(o);
    if (!cap) ::_exit(3);
    const std::string said = cap->memory();
    const bool smaller = said.find("; 512 MiB could not be had)") != std::string::npos &&
                         said.find("capture ring 512 MiB") == std::string::npos;
    o.min_buffer_bytes = 256 << 20;  // nothing between 512 and 256 MiB fits: refused, with why
    auto refused = pcap::open(o);
    const bool said_why = !refused && refused.error().message.find("rx ring") != std::string::npos;
    ::_exit(smaller && said_why ? 0 : 4);
  }
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2: setup, 3: no ring at all, 4: wrong report";
}

// What the server itself sends out is not captured, unless asked (ENABLE_PCAP_ANY_DIRECTION).
TEST_F(pcap_netns, inbound_only_by_default) {
  link_first();
  for (const bool inbound_only : {true, false}) {
    SCOPED_TRACE(inbound_only ? "inbound only" : "both directions");
    pcap_options o = on({"a0"});
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
      EXPECT_EQ(got[1].payload, "out");
      EXPECT_EQ(got[1].source, ip("192.0.2.1"));
    }
  }
}

// A 3000-byte payload over a 1500-byte MTU arrives in fragments: refused and counted, and the
// capture goes on with the next datagram.
TEST_F(pcap_netns, fragments_are_refused_and_counted) {
  link_first(1500);
  pcap_options o = on({"a0"});
  o.filter = "udp port 62201 or (ip6 and ip6[6] == 44)";  // BPF port checks skip IPv6 fragments
  auto cap = open(o);
  ASSERT_TRUE(cap);
  const auto out4 = sender_in(peer(), ip("192.0.2.2"));
  const auto out6 = sender_in(peer(), ip("2001:db8::2"));
  const int dont = IP_PMTUDISC_DONT;  // let the kernel fragment instead of refusing to send
  ASSERT_EQ(::setsockopt(out4->fd(), IPPROTO_IP, IP_MTU_DISCOVER, &dont, sizeof dont), 0);
  out4->send(ip("192.0.2.1"), 62201, std::string(3000, 'F'));
  out6->send(ip("2001:db8::1"), 62201, std::string(3000, 'G'));
  out4->send(ip("192.0.2.1"), 62201, "after the fragments");
  const auto got = collect(*cap, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "after the fragments");
  const auto s = cap->stats();
  // IPv4: only the first fragment carries the UDP ports the filter matches; IPv6: all three.
  EXPECT_GE(s.fragments, 1u + 3u) << "received " << s.received;
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.malformed, 0u);
}

// fwknop -P tcp: connect, send the packet, close. Only the data segment is delivered.
TEST_F(pcap_netns, tcp_payload) {
  link_first();
  pcap_options o = on({"a0"});
  o.filter = "tcp port 62201";
  auto cap = open(o);
  ASSERT_TRUE(cap);
  int listener = -1, client = -1;
  {
    inside in{server()};
    listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage a;
    const socklen_t n = capture::detail::to_sockaddr(ip("192.0.2.1"), 62201, a);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), n), 0);
    ASSERT_EQ(::listen(listener, 4), 0);
  }
  {
    inside in{peer()};
    client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  }
  sockaddr_storage to;
  const socklen_t n = capture::detail::to_sockaddr(ip("192.0.2.1"), 62201, to);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&to), n), 0);
  const std::string payload = "knock-tcp-payload";
  ASSERT_EQ(::send(client, payload.data(), payload.size(), 0), ssize_t(payload.size()));
  ::close(client);
  const auto got = collect(*cap, 1);
  ::close(listener);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, payload);
  EXPECT_EQ(got[0].source, ip("192.0.2.2"));
  EXPECT_EQ(got[0].destination, ip("192.0.2.1"));
  EXPECT_EQ(got[0].destination_port, 62201);
  EXPECT_GE(cap->stats().ignored, 1u);  // the handshake's SYN and ACK carry no data
}

}  // namespace
