// SPDX-License-Identifier: MIT
// knock::firewall::firewalld: fwknopd.conf's FIREWD_* lines and knock's rich rules (pure). The
// backend itself runs against a real firewalld in a network namespace (oracle/oracle_firewalld.sh).
#include <knock/firewall/firewalld.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace knock;
using namespace knock::firewall;

config::fwknopd_conf conf_of(std::string_view text) {
  auto c = config::parse_fwknopd_conf(text, "fwknopd.conf");
  EXPECT_TRUE(c) << (c ? "" : config::to_string(c.error()));
  return *c;
}

TEST(firewalld_rules, reads_fwknopds_chain_lines) {
  const auto a = firewalld_rules::parse_chain_access("ACCEPT, filter, INPUT, 1, FWKNOP_INPUT, 1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->target, "ACCEPT");
  EXPECT_EQ(a->table, "filter");
  EXPECT_EQ(a->from_chain, "INPUT");
  EXPECT_EQ(a->jump_position, 1u);
  EXPECT_EQ(a->chain, "FWKNOP_INPUT");
  EXPECT_TRUE(firewalld_rules::parse_chain_access("DNAT,nat,PREROUTING,1,FWKNOP_PREROUTING,2"));
  for (const char* bad : {"ACCEPT, filter, INPUT, 1, FWKNOP_INPUT",
                          "ACCEPT, filter, INPUT, 1, "
                          "FWKNOP_INPUT, 1, 2",
                          "ACCEPT, filter, IN;PUT, 1, X, 1", "ACCEPT, filter, INPUT, 0, X, 1",
                          "ACCEPT, filter, INPUT, x, X, 1", "ACCEPT, fil ter, INPUT, 1, X, 1",
                          "ACCEPT, , INPUT, 1, X, 1"})
    EXPECT_FALSE(firewalld_rules::parse_chain_access(bad)) << bad;
}

TEST(firewalld_rules, writes_rich_rules_as_firewalld_lists_them) {
  const auto r =
      firewalld_rules::rich_rule(*ip_address::parse("192.0.2.7"), {ip_protocol::tcp, 22});
  EXPECT_EQ(
      r, R"(rule family="ipv4" source address="192.0.2.7" port port="22" protocol="tcp" accept)");
  EXPECT_TRUE(firewalld_rules::is_grant_rule(r));
  EXPECT_TRUE(firewalld_rules::is_grant_rule(
      firewalld_rules::rich_rule(*ip_address::parse("2001:db8::7"), {ip_protocol::udp, 53})));
  EXPECT_FALSE(firewalld_rules::is_grant_rule(
      R"(rule family="ipv4" source address="10.0.0.0/8" service name="ssh" accept)"));
  EXPECT_FALSE(firewalld_rules::is_grant_rule(
      R"(rule family="ipv4" source address="192.0.2.7" port port="22" protocol="tcp" log prefix="x" accept)"));
}

TEST(firewalld, reads_fwknopds_variables_with_its_defaults) {
  auto o = firewalld::settings(conf_of("ENABLE_FIREWD_FORWARDING N\n"));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->input.chain, "FWKNOP_INPUT");
  EXPECT_TRUE(o->flush_at_open && o->flush_at_stop);
  EXPECT_FALSE(o->rich_rules);
  o =
      firewalld::settings(conf_of("FIREWD_INPUT_ACCESS ACCEPT, filter, INPUT, 2, KNOCK_IN, 1\n"
                                  "KNOCK_FIREWD_RICH_RULES Y\nKNOCK_FIREWD_ZONE internal\n"));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->input.chain, "KNOCK_IN");
  EXPECT_EQ(o->input.jump_position, 2u);
  EXPECT_TRUE(o->rich_rules);
  EXPECT_EQ(o->zone, "internal");
}

TEST(firewalld, refuses_bad_values_at_their_line) {
  for (const char* bad :
       {"FIREWD_INPUT_ACCESS ACCEPT, filter, INPUT, 1", "FIREWD_SNAT_ACCESS SNAT; nat",
        "FLUSH_FIREWD_AT_INIT maybe", "KNOCK_FIREWD_RICH_RULES x", "KNOCK_FIREWD_ZONE pub;lic",
        "KNOCK_FIREWD_ZONE public", "FIREWALL_EXE firewall-cmd"}) {
    const auto e = firewalld::check(conf_of(std::string{"# x\n"} + bad + "\n"));
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().line, 2u) << bad;
  }
  EXPECT_FALSE(config::parse_fwknopd_conf("ENABLE_FIREWD_SNAT Y\n", "f"))
      << "NAT through firewalld is not there yet: refused, never silently ignored";
}

}  // namespace
