// SPDX-License-Identifier: MIT
// What every live capture (knock::capture::pcap, knock::capture::packet_socket) must do alike, on
// real interfaces, as root, inside network namespaces each test creates and removes
// (fixture.hpp): addresses and ports as sent, IPv4 and IPv6, several interfaces, the filter,
// inbound only by default, fragments refused, TCP payloads.
#include <knock/capture/packet_socket.hpp>
#include <knock/capture/pcap.hpp>

#include "collect.hpp"
#include "fixture.hpp"
#include "netns.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>
#include <type_traits>

namespace {
using namespace knock;
using namespace knock::test;
using namespace std::chrono_literals;

template <class Capture, class Options>
struct live {
  using capture = Capture;
  using options = Options;
};

template <class Live>
class live_capture : public capture_netns {
 protected:
  using capture = typename Live::capture;
  using options = typename Live::options;
  /// Descriptors per interface: a pcap handle; a packet socket's ring and the socket behind it.
  static constexpr std::size_t fds_per_interface =
      std::is_same_v<capture, knock::capture::packet_socket> ? 2 : 1;
  std::optional<capture> open(const options& o) const { return open_capture<capture>(o); }
  static options on(std::vector<std::string> interfaces) {
    options o;
    o.interfaces = std::move(interfaces);
    return o;
  }
};

struct live_names {
  template <class Live>
  static std::string GetName(int) {
    return std::string{Live::capture::name};
  }
};
using captures = ::testing::Types<live<capture::pcap, capture::pcap_options>,
                                  live<capture::packet_socket, capture::packet_socket_options>>;
TYPED_TEST_SUITE(live_capture, captures, live_names);

TYPED_TEST(live_capture, veth_ipv4_datagram_with_its_addresses) {
  this->link_first();
  auto cap = this->open(this->on({"a0"}));
  ASSERT_TRUE(cap);
  ASSERT_EQ(cap->fds().size(), this->fds_per_interface);
  const auto out = this->sender_in(this->peer(), ip("192.0.2.2"));
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
  EXPECT_EQ(cap->stats().received, 1u) << "the kernel's filter kept the other port out";
}

TYPED_TEST(live_capture, veth_ipv6) {
  this->link_first();
  auto cap = this->open(this->on({"a0"}));
  ASSERT_TRUE(cap);
  const auto out = this->sender_in(this->peer(), ip("2001:db8::2"));
  out->send(ip("2001:db8::1"), 62201, "knock over ipv6");
  const auto got = collect(*cap, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "knock over ipv6");
  EXPECT_EQ(got[0].source, ip("2001:db8::2"));
  EXPECT_EQ(got[0].destination, ip("2001:db8::1"));
  EXPECT_EQ(got[0].source_port, out->port());
}

TYPED_TEST(live_capture, two_interfaces_at_once) {
  this->link_first();
  ASSERT_TRUE(veth(this->server(), "a1", "198.51.100.1/24", this->peer(), "b1", "198.51.100.2/24"));
  auto cap = this->open(this->on({"a0", "a1"}));
  ASSERT_TRUE(cap);
  ASSERT_EQ(cap->fds().size(), 2 * this->fds_per_interface);
  const auto out0 = this->sender_in(this->peer(), ip("192.0.2.2"));
  const auto out1 = this->sender_in(this->peer(), ip("198.51.100.2"));
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

// Each packet crosses `lo` twice (out, then in): seen once, inbound.
TYPED_TEST(live_capture, loopback_interface) {
  auto cap = this->open(this->on({"lo"}));
  ASSERT_TRUE(cap);
  const auto local = this->sender_in(this->server(), ip("::1"));
  local->send(ip("::1"), 62201, "on lo");
  const auto got = collect(*cap, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "on lo");
  EXPECT_EQ(got[0].source, ip("::1"));
  EXPECT_EQ(got[0].destination, ip("::1"));
  EXPECT_TRUE(collect(*cap, 1, 200ms).empty());
}

// What the server itself sends out is not captured, unless asked (ENABLE_PCAP_ANY_DIRECTION).
TYPED_TEST(live_capture, inbound_only_by_default) {
  this->link_first();
  for (const bool inbound_only : {true, false}) {
    SCOPED_TRACE(inbound_only ? "inbound only" : "both directions");
    auto o = this->on({"a0"});
    o.inbound_only = inbound_only;
    auto cap = this->open(o);
    ASSERT_TRUE(cap);
    const auto outbound = this->sender_in(this->server(), ip("192.0.2.1"));
    const auto inbound = this->sender_in(this->peer(), ip("192.0.2.2"));
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
TYPED_TEST(live_capture, fragments_are_refused_and_counted) {
  this->link_first(1500);
  auto o = this->on({"a0"});
  o.filter = "udp port 62201 or (ip6 and ip6[6] == 44)";  // BPF port checks skip IPv6 fragments
  auto cap = this->open(o);
  ASSERT_TRUE(cap);
  const auto out4 = this->sender_in(this->peer(), ip("192.0.2.2"));
  const auto out6 = this->sender_in(this->peer(), ip("2001:db8::2"));
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
TYPED_TEST(live_capture, tcp_payload) {
  this->link_first();
  auto o = this->on({"a0"});
  o.filter = "tcp port 62201";
  auto cap = this->open(o);
  ASSERT_TRUE(cap);
  int listener = -1, client = -1;
  {
    inside in{this->server()};
    listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage a;
    const socklen_t n = capture::detail::to_sockaddr(ip("192.0.2.1"), 62201, a);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), n), 0);
    ASSERT_EQ(::listen(listener, 4), 0);
  }
  {
    inside in{this->peer()};
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
