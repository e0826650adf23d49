// SPDX-License-Identifier: MIT
// fwknopd.conf as a set of variables: the parser refuses what is malformed, set twice or a fwknop
// feature knock does not have; typed reads name file:line; which variables are known is the union
// of the lists of the parts that read them. (What knock-server makes of them: settings_test.)
#include <knock/config/fwknopd_conf.hpp>

#include <gtest/gtest.h>

#include <array>

namespace {
using namespace knock;

config::fwknopd_conf ok(std::string_view text) {
  auto c = config::parse_fwknopd_conf(text, "fwknopd.conf");
  EXPECT_TRUE(c) << (c ? "" : config::to_string(c.error()));
  return c ? *std::move(c) : config::fwknopd_conf{};
}
std::string error(std::string_view text) {
  auto c = config::parse_fwknopd_conf(text, "fwknopd.conf");
  EXPECT_FALSE(c) << "accepted: " << text;
  return c ? "" : config::to_string(c.error());
}
template <class T>
std::string error_of(const T& r) {
  EXPECT_FALSE(r);
  return r ? "" : config::to_string(r.error());
}

TEST(config_fwknopd_conf, keeps_each_variable_with_its_line) {
  const auto c =
      ok("# Debian's file, all commented\n#PCAP_INTF eth0;\nPCAP_INTF   eth1, eth2;\n"
         "max_spa_packet_age 60;\n");
  EXPECT_EQ(c.variables().size(), 2u);
  EXPECT_EQ(c["PCAP_INTF"].text, "eth1, eth2");
  EXPECT_EQ(c["pcap_intf"].line, 3u);  // any case
  EXPECT_EQ(c["MAX_SPA_PACKET_AGE"].text, "60");
  EXPECT_FALSE(c.has("FIREWALL_TYPE"));
  EXPECT_EQ(c.text("FIREWALL_TYPE", "nftables"), "nftables");
}

TEST(config_fwknopd_conf, typed_reads_give_defaults_and_name_file_line) {
  const auto c =
      ok("ENABLE_UDP_SERVER yes;\nUDPSERV_PORT 70000;\nKNOCK_PROTECTED_PORTS tcp/22,bogus;\n"
         "VERBOSE Y;\nKNOCK_REPLAY_CAPACITY 1000;\n");
  EXPECT_EQ(error_of(c.yes_no("ENABLE_UDP_SERVER", false)),
            "fwknopd.conf:1: ENABLE_UDP_SERVER: 'yes' is not Y or N");
  EXPECT_EQ(error_of(c.number("UDPSERV_PORT", 62201, 65535)),
            "fwknopd.conf:2: UDPSERV_PORT: '70000' is not a positive integer up to 65535");
  EXPECT_EQ(error_of(c.ports("KNOCK_PROTECTED_PORTS")),
            "fwknopd.conf:3: KNOCK_PROTECTED_PORTS: 'bogus' is not tcp/PORT or udp/PORT");
  EXPECT_EQ(*c.yes_no("VERBOSE", false), true);
  EXPECT_EQ(*c.yes_no("ENABLE_PCAP_PROMISC", false), false);  // unset: the default
  EXPECT_EQ(*c.number("KNOCK_REPLAY_CAPACITY", 65536), 1000u);
  EXPECT_EQ(*c.number("RULES_CHECK_THRESHOLD", 20), 20u);
  EXPECT_FALSE(c.ports("NOT_SET")->has_value());
}

TEST(config_fwknopd_conf, server_options_are_fwknopds) {
  const auto defaults = config::read_server_options(ok(""));
  ASSERT_TRUE(defaults);
  EXPECT_TRUE(defaults->packet_aging);
  EXPECT_EQ(defaults->max_packet_age, 120);
  const auto set =
      config::read_server_options(ok("ENABLE_SPA_PACKET_AGING N;\nMAX_SPA_PACKET_AGE 60;\n"));
  ASSERT_TRUE(set);
  EXPECT_FALSE(set->packet_aging);
  EXPECT_EQ(set->max_packet_age, 60);
  EXPECT_EQ(error_of(config::read_server_options(ok("MAX_SPA_PACKET_AGE 0;\n"))),
            "fwknopd.conf:1: MAX_SPA_PACKET_AGE: '0' is not a positive integer up to 100000");
}

TEST(config_fwknopd_conf, the_known_variables_are_what_the_parts_read) {
  constexpr std::array<std::string_view, 1> toy{"TOY_GRANTS"};
  const auto c = ok("MAX_SPA_PACKET_AGE 60;\ntoy_grants /tmp/x;\n\nNO_SUCH_THING 1;\n");
  EXPECT_EQ(error_of(c.refuse_unknown(config::server_variables, toy)),
            "fwknopd.conf:4: NO_SUCH_THING: unknown variable");
  EXPECT_EQ(error_of(c.refuse_unknown(config::server_variables)),
            "fwknopd.conf:2: toy_grants: unknown variable");
  EXPECT_TRUE(
      ok("MAX_SPA_PACKET_AGE 1;\nTOY_GRANTS x\n").refuse_unknown(config::server_variables, toy));
}

TEST(config_fwknopd_conf, the_command_line_overrides_and_says_so) {
  auto c = ok("PCAP_INTF eth0;\n");
  c.set("PCAP_INTF", "eth1");
  c.set("UDPSERV_PORT", "x");
  EXPECT_EQ(c.text("PCAP_INTF"), "eth1");
  EXPECT_EQ(error_of(c.number("UDPSERV_PORT", 1, 65535)),
            "command line:1: UDPSERV_PORT: 'x' is not a positive integer up to 65535");
}

TEST(config_fwknopd_conf, refuses_with_file_line_and_key) {
  EXPECT_EQ(error("PCAP_FILTER a;\nPCAP_FILTER b;\n"),
            "fwknopd.conf:2: PCAP_FILTER: set twice (first on line 1)");
  EXPECT_EQ(error("ENABLE_NFQ_CAPTURE Y;\n"),
            "fwknopd.conf:1: ENABLE_NFQ_CAPTURE: is a fwknopd feature knock does not have");
  EXPECT_EQ(error("ENABLE_EXTERNAL_CMDS Y;\n"),
            "fwknopd.conf:1: ENABLE_EXTERNAL_CMDS: is a fwknopd feature knock does not have");
  EXPECT_TRUE(ok("ENABLE_NFQ_CAPTURE N;\n").variables().empty());  // switched off: accepted
  // Firewall switches are the backends' to read (the iptables backend has them; any_of refuses
  // them for a backend without at start): the parse keeps them.
  EXPECT_EQ(ok("ENABLE_IPT_OUTPUT Y;\nENABLE_DESTINATION_RULE Y;\n").variables().size(), 2u);
}

TEST(config_fwknopd_conf, nat_switches_with_fwknopd_defaults_and_checks) {
  const auto d = config::read_nat_options(ok(""));
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->forwarding || d->local || d->snat || d->translate_ip);
  EXPECT_TRUE(d->resolve_names);  // ENABLE_NAT_DNS defaults to Y
  const auto on = config::read_nat_options(
      ok("ENABLE_IPT_FORWARDING Y;\nENABLE_IPT_LOCAL_NAT Y\nENABLE_IPT_SNAT Y\n"
         "SNAT_TRANSLATE_IP 192.168.1.1\nENABLE_NAT_DNS N\n"));
  ASSERT_TRUE(on);
  EXPECT_TRUE(on->forwarding && on->local && on->snat && !on->resolve_names);
  EXPECT_EQ(on->translate_ip, ip_address::parse("192.168.1.1"));
  // SNAT_TRANSLATE_IP is checked only when ENABLE_IPT_SNAT is Y, as in fwknopd.
  EXPECT_TRUE(config::read_nat_options(ok("SNAT_TRANSLATE_IP __CHANGEME__\n")));
  const auto bad = config::read_nat_options(ok("ENABLE_IPT_SNAT Y\nSNAT_TRANSLATE_IP x\n"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(config::to_string(bad.error()),
            "fwknopd.conf:2: SNAT_TRANSLATE_IP: 'x' is not an IPv4 address (ENABLE_IPT_SNAT is Y)");
  const auto yn = config::read_server_options(ok("ENABLE_IPT_FORWARDING maybe\n"));
  ASSERT_FALSE(yn);
  EXPECT_EQ(config::to_string(yn.error()),
            "fwknopd.conf:1: ENABLE_IPT_FORWARDING: 'maybe' is not Y or N");
}
}  // namespace

namespace {
// fwknopd logs a fwknopd.conf line that names a variable without a value and goes on with the
// variable's default; knock-server does the same (the line is reported through `skipped`), and
// refuses without `skipped` (--strict-config).
TEST(config_fwknopd_conf, a_line_without_a_value_is_left_out_as_fwknopd) {
  const std::string_view text = "PCAP_INTF eth0\nSYSLOG_IDENTITY\nUDPSERV_PORT 62201\n";
  std::vector<config::config_error> skipped;
  auto c = config::parse_fwknopd_conf(text, "fwknopd.conf", &skipped);
  ASSERT_TRUE(c) << config::to_string(c.error());
  EXPECT_EQ((*c)["PCAP_INTF"].text, "eth0");
  EXPECT_EQ((*c)["UDPSERV_PORT"].text, "62201");
  EXPECT_FALSE((*c)["SYSLOG_IDENTITY"].is_set());
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(config::to_string(skipped[0]),
            "fwknopd.conf:2: SYSLOG_IDENTITY: has no value: left out (the default applies)");
  EXPECT_EQ(error(text).rfind("fwknopd.conf:2: SYSLOG_IDENTITY", 0), 0u);
}
}  // namespace
