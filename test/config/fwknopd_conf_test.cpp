// SPDX-License-Identifier: MIT
#include <knock/config/fwknopd_conf.hpp>

#include <gtest/gtest.h>

namespace {
using namespace knock;

config::daemon_config ok(std::string_view text) {
  auto c = config::parse_fwknopd_conf(text, "fwknopd.conf");
  EXPECT_TRUE(c) << (c ? "" : config::to_string(c.error()));
  return c ? *std::move(c) : config::daemon_config{};
}
std::string error(std::string_view text) {
  auto c = config::parse_fwknopd_conf(text, "fwknopd.conf");
  EXPECT_FALSE(c) << "accepted: " << text;
  return c ? "" : config::to_string(c.error());
}

TEST(config_fwknopd_conf, defaults_are_fwknopds) {
  const auto c = ok("# every line commented out, as Debian ships it\n#PCAP_INTF eth0;\n");
  EXPECT_TRUE(c.server.packet_aging);
  EXPECT_EQ(c.server.max_packet_age, 120);
  EXPECT_TRUE(c.digest_persistence);
  EXPECT_EQ(c.interfaces, std::vector<std::string>{"eth0"});
  EXPECT_EQ(c.pcap_filter, "udp port 62201");
  EXPECT_FALSE(c.udp_server);
  EXPECT_EQ(c.udp_port, 62201);
  EXPECT_EQ(c.firewall_type, "nftables");
  EXPECT_EQ(c.digest_file, "/run/knock/replay.log");
  EXPECT_EQ(c.pid_file, "/run/knock/knock-server.pid");
  EXPECT_EQ(c.rules_check_threshold, 20u);
  EXPECT_EQ(c.user, "");  // the daemon picks: knock if it exists, else nobody
  EXPECT_EQ(c.replay_capacity, 65536u);
}

TEST(config_fwknopd_conf, knock_replay_capacity_is_a_bounded_positive_count) {
  EXPECT_EQ(ok("KNOCK_REPLAY_CAPACITY 1000000;\n").replay_capacity, 1000000u);
  EXPECT_EQ(error("KNOCK_REPLAY_CAPACITY 0;\n"),
            "fwknopd.conf:1: KNOCK_REPLAY_CAPACITY: '0' is not a positive integer up to 16777216");
}

TEST(config_fwknopd_conf, knock_user_names_who_the_daemon_becomes) {
  EXPECT_EQ(ok("KNOCK_USER knock;\n").user, "knock");
  EXPECT_EQ(ok("KNOCK_USER knock:adm\n").user, "knock:adm");
}

TEST(config_fwknopd_conf, reads_what_knock_runs_with) {
  const auto c =
      ok("ENABLE_SPA_PACKET_AGING   N;\n"
         "MAX_SPA_PACKET_AGE        60;\n"
         "DIGEST_FILE               /var/lib/knock/digest.log;\n"
         "PCAP_INTF                 eth0, eth1;\n"
         "PCAP_FILTER               udp dst port 5000;\n"
         "ENABLE_UDP_SERVER         Y;\n"
         "UDPSERV_PORT              5000;\n"
         "FWKNOP_RUN_DIR            /tmp/k;\n"
         "FIREWALL_TYPE             IPTables;\n"
         "KNOCK_PROTECTED_PORTS     tcp/22, tcp/2222;\n"
         "ENABLE_IPT_FORWARDING     N;\n");
  EXPECT_FALSE(c.server.packet_aging);
  EXPECT_EQ(c.server.max_packet_age, 60);
  EXPECT_EQ(c.digest_file, "/var/lib/knock/digest.log");
  EXPECT_EQ(c.interfaces, (std::vector<std::string>{"eth0", "eth1"}));
  EXPECT_EQ(c.pcap_filter, "udp dst port 5000");
  EXPECT_TRUE(c.udp_server);
  EXPECT_EQ(c.udp_port, 5000);
  EXPECT_EQ(c.pid_file, "/tmp/k/knock-server.pid");
  EXPECT_EQ(c.firewall_type, "iptables");
  ASSERT_TRUE(c.protected_ports);
  EXPECT_EQ(c.protected_ports->size(), 2u);
}

TEST(config_fwknopd_conf, refuses_with_file_line_and_key) {
  EXPECT_EQ(error("\nNO_SUCH_THING 1;\n"), "fwknopd.conf:2: NO_SUCH_THING: unknown variable");
  EXPECT_EQ(error("MAX_SPA_PACKET_AGE 0;\n"),
            "fwknopd.conf:1: MAX_SPA_PACKET_AGE: '0' is not a positive integer up to 100000");
  EXPECT_EQ(error("UDPSERV_PORT 70000;\n"),
            "fwknopd.conf:1: UDPSERV_PORT: '70000' is not a positive integer up to 65535");
  EXPECT_EQ(error("ENABLE_UDP_SERVER yes;\n"),
            "fwknopd.conf:1: ENABLE_UDP_SERVER: 'yes' is not Y or N");
  EXPECT_EQ(error("FIREWALL_TYPE pf;\n"),
            "fwknopd.conf:1: FIREWALL_TYPE: unknown value 'pf' (known: nftables, iptables, none)");
  EXPECT_NE(error("FIREWALL_TYPE command;\n").find("unknown value 'command'"), std::string::npos);
  EXPECT_EQ(error("PCAP_FILTER a;\nPCAP_FILTER b;\n"),
            "fwknopd.conf:2: PCAP_FILTER: set twice (first on line 1)");
  EXPECT_EQ(error("ENABLE_SPA_OVER_HTTP Y;\n"),
            "fwknopd.conf:1: ENABLE_SPA_OVER_HTTP: is a fwknopd feature knock does not have");
  EXPECT_EQ(error("IPT_INPUT_ACCESS ACCEPT, filter, INPUT, 1, FWKNOP_INPUT, 1;\n"),
            "fwknopd.conf:1: IPT_INPUT_ACCESS: is a fwknopd feature knock does not have");
  EXPECT_NE(
      error("ENABLE_SPA_PACKET_AGING N;\nENABLE_DIGEST_PERSISTENCE N;\n")
          .find("fwknopd.conf:1: ENABLE_SPA_PACKET_AGING: packet aging may be switched off only"),
      std::string::npos);
}
}  // namespace
