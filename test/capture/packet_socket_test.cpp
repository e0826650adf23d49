// SPDX-License-Identifier: MIT
// knock::capture::packet_socket's configuration, unprivileged (the captures themselves:
// netns/packet_socket_netns_test.cpp and netns/live_capture_netns_test.cpp, as root).
#include <knock/capture/any_of.hpp>
#include <knock/capture/packet_socket.hpp>
#include <knock/capture/pcap.hpp>
#include <knock/capture/udp_socket.hpp>
#include <knock/config/fwknopd_conf.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <string>

namespace {
using knock::capture::packet_socket;

knock::config::fwknopd_conf conf(const std::string& text) {
  auto c = knock::config::parse_fwknopd_conf(text, "f.conf");
  EXPECT_TRUE(c);
  return *c;
}

// fwknopd's PCAP_* variables, as capture::pcap reads them; KNOCK_CAPTURE_BUFFER is SO_RCVBUF here.
TEST(packet_socket_settings, reads_pcaps_variables_and_its_buffer) {
  auto o = packet_socket::settings(
      conf("PCAP_INTF eth1, eth2\nPCAP_FILTER udp port 40000\nENABLE_PCAP_PROMISC Y\n"
           "ENABLE_PCAP_ANY_DIRECTION Y\nMAX_SNIFF_BYTES 2000\n"));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->interfaces, (std::vector<std::string>{"eth1", "eth2"}));
  EXPECT_EQ(o->filter, "udp port 40000");
  EXPECT_TRUE(o->promiscuous);
  EXPECT_FALSE(o->inbound_only);
  EXPECT_EQ(o->snaplen, 2000);
  EXPECT_EQ(o->receive_buffer, 32 << 20) << "the default";
  EXPECT_EQ(packet_socket::settings(conf("KNOCK_CAPTURE_BUFFER 8M\n"))->receive_buffer, 8 << 20);
  const auto bad = packet_socket::settings(conf("KNOCK_CAPTURE_BUFFER 1K\n"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(knock::config::to_string(bad.error()),
            "f.conf:1: KNOCK_CAPTURE_BUFFER: '1K' is out of range (64 KiB to 1 GiB)");
}

// KNOCK_CAPTURE_RING: the ring read first (1 MiB unless set; 0: none), at least two 64 KiB
// blocks, at most 64 MiB; listed among the variables the capture reads.
TEST(packet_socket_settings, reads_its_ring) {
  EXPECT_EQ(packet_socket::settings(conf("PCAP_INTF eth0\n"))->ring, std::size_t{1} << 20);
  EXPECT_EQ(packet_socket::settings(conf("KNOCK_CAPTURE_RING 1M\n"))->ring, std::size_t{1} << 20);
  EXPECT_EQ(packet_socket::settings(conf("KNOCK_CAPTURE_RING 0\n"))->ring, 0u);
  const auto small = packet_socket::settings(conf("PCAP_INTF eth0\nKNOCK_CAPTURE_RING 64K\n"));
  ASSERT_FALSE(small);
  EXPECT_EQ(knock::config::to_string(small.error()),
            "f.conf:2: KNOCK_CAPTURE_RING: '64K' is too small: at least 128K (two blocks), or 0 "
            "for no ring");
  const auto big = packet_socket::settings(conf("KNOCK_CAPTURE_RING 1G\n"));
  ASSERT_FALSE(big);
  EXPECT_EQ(knock::config::to_string(big.error()),
            "f.conf:1: KNOCK_CAPTURE_RING: '1G' is out of range (0 B to 64 MiB)");
  EXPECT_NE(std::find(std::begin(packet_socket::variables), std::end(packet_socket::variables),
                      "KNOCK_CAPTURE_RING"),
            std::end(packet_socket::variables));
}

// A savefile is capture::pcap's: knock-server's any_of checks every source's variables, so the
// check passes (the daemon then chooses pcap); packet_socket refuses it only when made.
TEST(packet_socket_settings, a_savefile_is_refused_when_made_not_when_checked) {
  const auto c = conf("PCAP_FILE /tmp/spa.pcap\n");
  EXPECT_TRUE(packet_socket::check(c));
  using captures =
      knock::capture::any_of<packet_socket, knock::capture::pcap, knock::capture::udp_socket>;
  EXPECT_TRUE(captures::check(c));
  const auto made = packet_socket::make({c});
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().message,
            "f.conf:1: PCAP_FILE: a savefile is read by KNOCK_CAPTURE pcap, not packet");
}

// KNOCK_WORKERS: each live source says how sources alike divide the traffic (the daemon joins
// packet sockets to a fanout group; UDP sockets shared their port when made), also through
// knock-server's any_of.
TEST(packet_socket_settings, live_sources_say_how_workers_share_them) {
  static_assert(packet_socket::shared_by() == knock::capture::share_mode::fanout);
  static_assert(knock::capture::udp_socket::shared_by() == knock::capture::share_mode::port);
  using captures =
      knock::capture::any_of<packet_socket, knock::capture::pcap, knock::capture::udp_socket>;
  knock::capture::udp_socket_options any_port;
  any_port.port = 0;
  auto udp = knock::capture::udp_socket::open(any_port);
  ASSERT_TRUE(udp) << udp.error().message;
  const captures chosen{*std::move(udp)};
  EXPECT_EQ(chosen.shared_by(), knock::capture::share_mode::port);
  EXPECT_EQ(to_string(chosen.shared_by()), "SO_REUSEPORT");
  EXPECT_EQ(to_string(knock::capture::share_mode::fanout), "PACKET_FANOUT");
}

// The filter is compiled before any socket is opened: a bad one is an error naming it, also
// without the privilege a packet socket needs.
TEST(packet_socket_settings, a_bad_filter_is_named) {
  const auto bad = packet_socket::open("lo", "udp port sixty");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, knock::errc::config_invalid);
  EXPECT_EQ(bad.error().message.rfind("packet: filter 'udp port sixty': ", 0), 0u)
      << bad.error().message;
}

}  // namespace
