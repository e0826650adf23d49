// SPDX-License-Identifier: MIT
// knock::capture::udp_socket on loopback only (127.0.0.1 and ::1), driven by epoll as the daemon
// drives it.
#include <knock/capture/udp_socket.hpp>

#include <knock/config/fwknopd_conf.hpp>

#include "collect.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

namespace {
using namespace knock;
using capture::udp_socket;
using capture::udp_socket_options;
using test::collect;
using test::sender;

const ip_address lo4 = *ip_address::parse("127.0.0.1");
const ip_address lo6 = *ip_address::parse("::1");

udp_socket open_on(std::vector<ip_address> addresses, bool record_destination = false) {
  udp_socket_options o;
  o.port = 0;
  o.addresses = std::move(addresses);
  o.record_destination = record_destination;
  auto s = udp_socket::open(o);
  if (!s) throw std::runtime_error{s.error().message};
  return *std::move(s);
}

TEST(udp_socket, ipv4_loopback) {
  udp_socket s = open_on({lo4});
  ASSERT_EQ(s.fds().size(), 1u);
  ASSERT_NE(s.port(), 0);
  sender c{lo4};
  c.send(lo4, s.port(), "knock over ipv4");
  const auto got = collect(s, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "knock over ipv4");
  EXPECT_EQ(got[0].source, lo4);
  EXPECT_EQ(got[0].source_port, c.port());
  EXPECT_EQ(got[0].destination, ip_address{});  // 0.0.0.0, as fwknopd records
  EXPECT_EQ(got[0].destination_port, s.port());
}

TEST(udp_socket, ipv6_loopback) {
  udp_socket s = open_on({lo6});
  sender c{lo6};
  c.send(lo6, s.port(), "knock over ipv6");
  const auto got = collect(s, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].source, lo6);
  EXPECT_EQ(got[0].source_port, c.port());
  EXPECT_EQ(got[0].destination, ip_address::v6({}));  // ::
}

TEST(udp_socket, dual_stack_gives_ipv4_senders_back_as_ipv4) {
  udp_socket s = open_on({});
  ASSERT_EQ(s.fds().size(), 1u);  // one socket on [::] takes both
  sender c4{lo4}, c6{lo6};
  c4.send(lo4, s.port(), "from v4");
  c6.send(lo6, s.port(), "from v6");
  auto got = collect(s, 2);
  ASSERT_EQ(got.size(), 2u);
  if (got[0].payload != "from v4") std::swap(got[0], got[1]);
  EXPECT_EQ(got[0].source, lo4);  // not ::ffff:127.0.0.1
  EXPECT_TRUE(got[0].source.is_v4());
  EXPECT_EQ(got[0].destination, ip_address{});
  EXPECT_EQ(got[1].source, lo6);
}

TEST(udp_socket, record_destination_reports_the_real_one) {
  for (std::vector<ip_address> bind : {std::vector<ip_address>{}, {lo4, lo6}}) {
    udp_socket s = open_on(bind, true);
    sender c4{lo4}, c6{lo6};
    c4.send(lo4, s.port(), "v4");
    c6.send(lo6, s.port(), "v6");
    auto got = collect(s, 2);
    ASSERT_EQ(got.size(), 2u);
    if (got[0].payload != "v4") std::swap(got[0], got[1]);
    EXPECT_EQ(got[0].destination, lo4);
    EXPECT_EQ(got[1].destination, lo6);
  }
}

TEST(udp_socket, explicit_addresses_share_one_port) {
  udp_socket s = open_on({lo4, lo6});
  ASSERT_EQ(s.fds().size(), 2u);
  sender c4{lo4}, c6{lo6};
  c4.send(lo4, s.port(), "a");
  c6.send(lo6, s.port(), "b");
  EXPECT_EQ(collect(s, 2).size(), 2u);
}

TEST(udp_socket, burst_is_read_in_batches) {
  udp_socket_options o;
  o.port = 0;
  o.addresses = {lo4};
  o.batch = 16;
  auto s = udp_socket::open(o);
  ASSERT_TRUE(s);
  sender c{lo4};
  constexpr std::size_t count = 300;
  for (std::size_t i = 0; i < count; ++i) c.send(lo4, s->port(), "packet " + std::to_string(i));
  std::size_t calls = 0;
  const auto got = collect(*s, count, std::chrono::seconds{3}, &calls);
  ASSERT_EQ(got.size(), count);
  for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(got[i].payload, "packet " + std::to_string(i));
  EXPECT_GE(calls, count / 16);  // never more than a batch per call
  EXPECT_EQ(s->stats().delivered, count);
  EXPECT_EQ(s->stats().dropped, 0u);
}

TEST(udp_socket, oversized_datagrams_are_counted_not_cut) {
  udp_socket_options o;
  o.port = 0;
  o.addresses = {lo4};
  o.max_payload = 100;
  auto s = udp_socket::open(o);
  ASSERT_TRUE(s);
  sender c{lo4};
  c.send(lo4, s->port(), std::string(101, 'x'));
  c.send(lo4, s->port(), std::string(100, 'y'));
  const auto got = collect(*s, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, std::string(100, 'y'));
  EXPECT_EQ(s->stats().received, 2u);
  EXPECT_EQ(s->stats().malformed, 1u);
}

TEST(udp_socket, receive_never_blocks) {
  udp_socket s = open_on({lo4});
  const auto start = std::chrono::steady_clock::now();
  const auto n = s.receive([](const datagram&) {});
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds{100});
}

TEST(udp_socket, a_throwing_callback_leaves_it_usable) {
  udp_socket s = open_on({lo4});
  sender c{lo4};
  c.send(lo4, s.port(), "boom");
  pollfd p{s.fds()[0], POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  EXPECT_THROW(
      (void)s.receive([](const datagram&) { throw std::logic_error{"from the callback"}; }),
      std::logic_error);
  c.send(lo4, s.port(), "after");
  const auto got = collect(s, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "after");
}

TEST(udp_socket, bind_conflict_says_why) {
  udp_socket first = open_on({lo4});
  udp_socket_options o;
  o.port = first.port();
  o.addresses = {lo4};
  auto second = udp_socket::open(o);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), errc::capture_failed);
  EXPECT_EQ(second.error().message,
            "udp: bind 127.0.0.1:" + std::to_string(first.port()) + ": Address already in use");
}

// KNOCK_WORKERS with the UDP server: one socket per worker on one port, the kernel giving each
// flow (source address and port) to one socket, every datagram of a flow to the same one.
TEST(udp_socket, share_port_spreads_flows_over_the_sockets) {
  udp_socket_options o;
  o.port = 0;
  o.addresses = {lo4};
  o.share_port = true;
  auto a = udp_socket::open(o);
  ASSERT_TRUE(a) << a.error().message;
  o.port = a->port();
  auto b = udp_socket::open(o);
  ASSERT_TRUE(b) << b.error().message;
  constexpr std::size_t flows = 32;
  std::deque<sender> senders;  // senders are not movable
  for (std::size_t i = 0; i < flows; ++i) senders.emplace_back(lo4);
  for (auto& c : senders)
    for (const char* text : {"first", "second"}) c.send(lo4, a->port(), text);
  const auto got_a = collect(*a, 2 * flows, std::chrono::milliseconds{500});
  const auto got_b = collect(*b, 2 * flows, std::chrono::milliseconds{500});
  EXPECT_EQ(got_a.size() + got_b.size(), 2 * flows);  // none lost, none twice
  EXPECT_GT(got_a.size(), 0u);  // 32 flows all hashed to one socket: 1 in 2^31
  EXPECT_GT(got_b.size(), 0u);
  for (const auto& seen_a : got_a)
    for (const auto& seen_b : got_b)
      EXPECT_NE(seen_a.source_port, seen_b.source_port) << "a flow split over both sockets";
}

knock::config::fwknopd_conf conf(std::string_view text) {
  auto c = knock::config::parse_fwknopd_conf(text, "f.conf");
  EXPECT_TRUE(c) << (c ? "" : knock::config::to_string(c.error()));
  return c ? *c : knock::config::fwknopd_conf{};
}

// KNOCK_CAPTURE_BUFFER sizes SO_RCVBUF (default 32 MiB); memory() says what the kernel gave.
TEST(udp_socket_make, sizes_the_receive_buffer_and_says_so) {
  auto o = udp_socket::settings(
      *knock::config::parse_fwknopd_conf("KNOCK_CAPTURE_BUFFER 256K\n", "f.conf"));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->receive_buffer, 256 << 10);
  EXPECT_EQ(udp_socket::settings(*knock::config::parse_fwknopd_conf("", "f.conf"))->receive_buffer,
            32 << 20);
  o->port = 0;
  auto s = udp_socket::open(*o);
  ASSERT_TRUE(s) << s.error().message;
  // The kernel doubles SO_RCVBUF for its bookkeeping (capped by rmem_max without privilege).
  EXPECT_TRUE(s->memory().starts_with("socket buffer up to ")) << s->memory();
  EXPECT_NE(s->memory().find("(kernel, taken only while datagrams wait), batch buffer 93.8 KiB"),
            std::string::npos)
      << s->memory();
  const auto bad = udp_socket::make({conf("KNOCK_CAPTURE_BUFFER 0\n")});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "f.conf:1: KNOCK_CAPTURE_BUFFER: '0' is out of range (64 KiB to 1 GiB)");
}

TEST(udp_socket_make, binds_udpserv_port) {
  EXPECT_EQ(udp_socket::name, "udp");
  ASSERT_EQ(std::size(udp_socket::variables), 2u);
  EXPECT_EQ(udp_socket::variables[0], "UDPSERV_PORT");
  EXPECT_EQ(udp_socket::variables[1], "KNOCK_CAPTURE_BUFFER");
  const auto bad = udp_socket::make({conf("UDPSERV_PORT 65536;\n")});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), errc::config_invalid);
  EXPECT_EQ(bad.error().message,
            "f.conf:1: UDPSERV_PORT: '65536' is not a positive integer up to 65535");
  EXPECT_FALSE(udp_socket::make({conf("UDPSERV_PORT 0\n")}));

  udp_socket_options any_port;  // [::], like make
  any_port.port = 0;
  auto taken = udp_socket::open(any_port);
  ASSERT_TRUE(taken) << taken.error().message;
  const std::string port = std::to_string(taken->port());
  const auto busy = udp_socket::make({conf("UDPSERV_PORT " + port + "\n")});
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error(), errc::capture_failed);
  EXPECT_NE(busy.error().message.find(":" + port + ": Address already in use"), std::string::npos)
      << busy.error().message;
  std::string free_port;
  {
    const auto probe = udp_socket::open(any_port);
    ASSERT_TRUE(probe);
    free_port = std::to_string(probe->port());
  }  // closed: the port is free again
  auto made = udp_socket::make({conf("UDPSERV_PORT " + free_port + "\n")});
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_EQ(std::to_string(made->port()), free_port);
  EXPECT_EQ(made->fds().size(), 1u);
}

// The daemon makes each worker's socket with `sharing` = KNOCK_WORKERS: more than one shares the
// port; one alone keeps it to itself (a second daemon on the port is an error, not a silent
// sharer).
TEST(udp_socket_make, shares_the_port_when_workers_share_it) {
  udp_socket_options any_port;
  any_port.port = 0;
  std::string port;
  {
    const auto probe = udp_socket::open(any_port);
    ASSERT_TRUE(probe);
    port = std::to_string(probe->port());
  }
  const auto c = conf("UDPSERV_PORT " + port + "\n");
  auto first = udp_socket::make({c, 2});
  ASSERT_TRUE(first) << first.error().message;
  auto second = udp_socket::make({c, 2});
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->port(), first->port());
  const auto alone = udp_socket::make({c});
  ASSERT_FALSE(alone);
  EXPECT_NE(alone.error().message.find(":" + port + ": Address already in use"), std::string::npos)
      << alone.error().message;
}

TEST(udp_socket, moves_keep_the_socket) {
  udp_socket a = open_on({lo4});
  const int fd = a.fds()[0];
  udp_socket b = std::move(a);
  EXPECT_TRUE(a.fds().empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  ASSERT_EQ(b.fds().size(), 1u);
  EXPECT_EQ(b.fds()[0], fd);
  sender c{lo4};
  c.send(lo4, b.port(), "moved");
  EXPECT_EQ(collect(b, 1).size(), 1u);
}

TEST(udp_socket_make, reads_and_checks_udpserv_port) {
  const auto defaults = udp_socket::settings(conf(""));
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->port, 62201);
  EXPECT_TRUE(defaults->addresses.empty());  // [::], dual stack
  EXPECT_EQ(udp_socket::settings(conf("UDPSERV_PORT 1\n"))->port, 1);
  const auto bad = udp_socket::check(conf("\nUDPSERV_PORT x\n"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(knock::config::to_string(bad.error()),
            "f.conf:2: UDPSERV_PORT: 'x' is not a positive integer up to 65535");
}

}  // namespace
