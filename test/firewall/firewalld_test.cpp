// SPDX-License-Identifier: MIT
// knock::firewall::firewalld: fwknopd.conf's FIREWD_* lines and knock's rich rules (pure). The
// backend itself runs against a real firewalld in a network namespace (oracle/oracle_firewalld.sh).
#include <knock/firewall/firewalld.hpp>

#include <knock/config/fwknopd_conf.hpp>

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

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
}

// --- issue #16: ENABLE_FIREWD_OUTPUT and the NAT switches, as fwknopd 2.6.11 built for firewalld
// (server/fw_util_firewalld.[ch]) reads and writes them. The backend against a real firewalld,
// side by side with that fwknopd: oracle/oracle_firewalld.sh.

std::string joined(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
  return s;
}

/// "CHAIN: arguments" per rule, "6 " first for IPv6 rules.
std::vector<std::string> rules_of(const firewalld_options& o, const grant& g) {
  std::vector<std::string> out;
  for (const auto& r : firewalld::direct_rules(o, g))
    out.push_back((r.v6 ? "6 " : "") + r.chain.chain + ": " + joined(r.arguments));
  return out;
}

grant grant_of(std::string_view source, std::initializer_list<port_spec> ports) {
  grant g;
  g.source = *ip_address::parse(source);
  for (auto p : ports) g.ports.push_back(p);
  g.timeout = 30;
  g.expires = 1700000035;
  return g;
}

firewalld_options options_of(std::string_view text) {
  auto o = firewalld::settings(conf_of(text));
  EXPECT_TRUE(o) << (o ? "" : config::to_string(o.error()));
  return o ? *o : firewalld_options{};
}

TEST(firewalld, reads_the_output_and_nat_switches_with_fwknopds_defaults) {
  auto o = options_of("");
  EXPECT_FALSE(o.output);
  EXPECT_FALSE(o.nat.enabled);
  EXPECT_FALSE(o.nat.snat);
  EXPECT_EQ(o.output_chain, (ipt::chain_spec{"ACCEPT", "filter", "OUTPUT", 1, "FWKNOP_OUTPUT", 1}));
  EXPECT_EQ(o.nat.forward, ipt::default_forward());
  EXPECT_EQ(o.nat.dnat, ipt::default_dnat());
  EXPECT_EQ(o.nat.snat_to, ipt::default_snat());
  EXPECT_EQ(o.nat.masquerade, ipt::default_masquerade());
  o = options_of(
      "ENABLE_FIREWD_OUTPUT Y\nFIREWD_OUTPUT_ACCESS ACCEPT, filter, OUTPUT, 2, K_OUT, 1\n");
  EXPECT_TRUE(o.output);
  EXPECT_EQ(o.output_chain.chain, "K_OUT");
  EXPECT_EQ(o.output_chain.jump_position, 2u);
  EXPECT_TRUE(options_of("ENABLE_FIREWD_FORWARDING Y\n").nat.enabled);
  EXPECT_TRUE(options_of("ENABLE_FIREWD_LOCAL_NAT Y\n").nat.enabled);
  o = options_of(
      "ENABLE_FIREWD_FORWARDING Y\nENABLE_FIREWD_SNAT Y\n"
      "FIREWD_FORWARD_ACCESS ACCEPT, filter, FORWARD, 1, FWKNOP_FORWARD_TEST, 1\n"
      "FIREWD_DNAT_ACCESS DNAT, nat, PREROUTING, 1, FWKNOP_PREROUTING_TEST, 1\n"
      "FIREWD_SNAT_ACCESS SNAT, nat, POSTROUTING, 1, K_SNAT, 1\n"
      "FIREWD_MASQUERADE_ACCESS MASQUERADE, nat, POSTROUTING, 1, K_MASQ, 1\n");
  EXPECT_TRUE(o.nat.enabled && o.nat.snat);
  EXPECT_EQ(o.nat.forward.chain, "FWKNOP_FORWARD_TEST");
  EXPECT_EQ(o.nat.dnat.chain, "FWKNOP_PREROUTING_TEST");
  EXPECT_EQ(o.nat.snat_to.chain, "K_SNAT");
  EXPECT_EQ(o.nat.masquerade.chain, "K_MASQ");
  // ENABLE_IPT_* are the iptables backend's: fwknopd built for firewalld does not read them.
  EXPECT_FALSE(options_of("ENABLE_IPT_FORWARDING Y\n").nat.enabled);
}

TEST(firewalld, refuses_bad_switches_and_nat_with_rich_rules_at_their_line) {
  for (const char* bad :
       {"ENABLE_FIREWD_OUTPUT maybe", "ENABLE_FIREWD_FORWARDING 1x", "ENABLE_FIREWD_LOCAL_NAT ?",
        "ENABLE_FIREWD_SNAT yes please", "FIREWD_OUTPUT_ACCESS ACCEPT, filter, OUTPUT",
        "FIREWD_MASQUERADE_ACCESS MASQUERADE, nat, POSTROUTING, 1, X, 0"}) {
    const auto e = firewalld::check(conf_of(std::string{"# x\n"} + bad + "\n"));
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().line, 2u) << bad;
    EXPECT_EQ(e.error().key, std::string_view{bad}.substr(0, std::string_view{bad}.find(' ')));
  }
  // knock's rich rules cannot NAT or add output rules: said at the switch's line.
  for (const char* on : {"ENABLE_FIREWD_OUTPUT Y", "ENABLE_FIREWD_FORWARDING Y",
                         "ENABLE_FIREWD_LOCAL_NAT Y", "ENABLE_FIREWD_SNAT Y"}) {
    const auto e =
        firewalld::check(conf_of(std::string{"KNOCK_FIREWD_RICH_RULES Y\n"} + on + "\n"));
    ASSERT_FALSE(e) << on;
    EXPECT_EQ(e.error().line, 2u) << on;
    EXPECT_NE(config::to_string(e.error()).find("direct rules"), std::string::npos);
  }
  EXPECT_TRUE(config::parse_fwknopd_conf("ENABLE_FIREWD_SNAT Y\nENABLE_FIREWD_OUTPUT Y\n", "f"))
      << "the firewalld switches are knock's now";
}

TEST(firewalld, a_plain_grant_is_fwknopds_input_rule_and_no_output_rule_by_default) {
  const auto g = grant_of("192.0.2.7", {{ip_protocol::tcp, 22}, {ip_protocol::udp, 53}});
  EXPECT_EQ(rules_of(options_of(""), g),
            (std::vector<std::string>{
                "FWKNOP_INPUT: -t filter -p 6 -s 192.0.2.7 -d 0.0.0.0/0 --dport 22 -m comment "
                "--comment _exp_1700000035 -j ACCEPT",
                "FWKNOP_INPUT: -t filter -p 17 -s 192.0.2.7 -d 0.0.0.0/0 --dport 53 -m comment "
                "--comment _exp_1700000035 -j ACCEPT"}));
}

TEST(firewalld, enable_firewd_output_adds_fwknopds_sport_rule_per_port) {
  // fwknopd's FIREWD_OUT_RULE_ARGS: -t T -p P -d <source> -s <destination> --sport <port>.
  const auto o = options_of("ENABLE_FIREWD_OUTPUT Y\n");
  EXPECT_EQ(rules_of(o, grant_of("192.0.2.7", {{ip_protocol::tcp, 22}, {ip_protocol::udp, 53}})),
            (std::vector<std::string>{
                "FWKNOP_INPUT: -t filter -p 6 -s 192.0.2.7 -d 0.0.0.0/0 --dport 22 -m comment "
                "--comment _exp_1700000035 -j ACCEPT",
                "FWKNOP_OUTPUT: -t filter -p 6 -d 192.0.2.7 -s 0.0.0.0/0 --sport 22 -m comment "
                "--comment _exp_1700000035 -j ACCEPT",
                "FWKNOP_INPUT: -t filter -p 17 -s 192.0.2.7 -d 0.0.0.0/0 --dport 53 -m comment "
                "--comment _exp_1700000035 -j ACCEPT",
                "FWKNOP_OUTPUT: -t filter -p 17 -d 192.0.2.7 -s 0.0.0.0/0 --sport 53 -m comment "
                "--comment _exp_1700000035 -j ACCEPT"}));
  // IPv6 (knock's, through `--passthrough ipv6`): the same shape, `::/0`.
  EXPECT_EQ(rules_of(o, grant_of("2001:db8::7", {{ip_protocol::tcp, 22}})).back(),
            "6 FWKNOP_OUTPUT: -t filter -p 6 -d 2001:db8::7 -s ::/0 --sport 22 -m comment "
            "--comment _exp_1700000035 -j ACCEPT");
  EXPECT_EQ(joined(firewalld_rules::passthrough(false, {"-A", "FWKNOP_OUTPUT"})),
            "--direct --passthrough ipv4 -A FWKNOP_OUTPUT");
}

nat_spec forward_to(std::string_view to, std::uint16_t port) {
  nat_spec n;
  n.kind = nat_kind::forward;
  n.to = *ip_address::parse(to);
  n.to_port = port;
  return n;
}

TEST(firewalld, enable_firewd_forwarding_grants_are_fwknopds_forward_and_dnat_rules) {
  auto g = grant_of("192.0.2.7", {{ip_protocol::tcp, 2222}});
  g.nat = forward_to("10.0.0.5", 22);
  const auto o = options_of("ENABLE_FIREWD_FORWARDING Y\n");
  EXPECT_EQ(rules_of(o, g),
            (std::vector<std::string>{
                "FWKNOP_FORWARD: -t filter -p 6 -s 192.0.2.7 --dport 22 -m comment --comment "
                "_exp_1700000035 -j ACCEPT",
                "FWKNOP_PREROUTING: -t nat -p 6 -s 192.0.2.7 -d 0.0.0.0/0 --dport 2222 -m comment "
                "--comment _exp_1700000035 -j DNAT --to-destination 10.0.0.5:22"}));
  // The chains of FIREWD_FORWARD_ACCESS / FIREWD_DNAT_ACCESS (test/conf/firewd_custom_nat_chain).
  const auto custom = options_of(
      "ENABLE_FIREWD_FORWARDING Y\n"
      "FIREWD_FORWARD_ACCESS ACCEPT, filter, FORWARD, 1, FWKNOP_FORWARD_TEST, 1\n"
      "FIREWD_DNAT_ACCESS DNAT, nat, PREROUTING, 1, FWKNOP_PREROUTING_TEST, 1\n");
  const auto r = firewalld::direct_rules(custom, g);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].chain.chain, "FWKNOP_FORWARD_TEST");
  EXPECT_EQ(r[1].chain.chain, "FWKNOP_PREROUTING_TEST");
  EXPECT_FALSE(r[0].v6 || r[1].v6);
  // FORWARD_ALL: every port, to the address.
  g.nat.forward_all = true;
  EXPECT_EQ(rules_of(o, g),
            (std::vector<std::string>{
                "FWKNOP_FORWARD: -t filter -s 192.0.2.7 -m comment --comment _exp_1700000035 -j "
                "ACCEPT",
                "FWKNOP_PREROUTING: -t nat -s 192.0.2.7 -d 0.0.0.0/0 -m comment --comment "
                "_exp_1700000035 -j DNAT --to-destination 10.0.0.5"}));
}

TEST(firewalld, enable_firewd_local_nat_grants_open_the_input_chain_and_dnat) {
  auto g = grant_of("192.0.2.7", {{ip_protocol::tcp, 2222}});
  g.nat = forward_to("198.51.100.1", 22);
  g.nat.kind = nat_kind::local;
  EXPECT_EQ(rules_of(options_of("ENABLE_FIREWD_LOCAL_NAT Y\n"), g),
            (std::vector<std::string>{
                "FWKNOP_INPUT: -t filter -p 6 -s 192.0.2.7 -d 0.0.0.0/0 --dport 22 -m comment "
                "--comment _exp_1700000035 -j ACCEPT",
                "FWKNOP_PREROUTING: -t nat -p 6 -s 192.0.2.7 -d 0.0.0.0/0 --dport 2222 -m comment "
                "--comment _exp_1700000035 -j DNAT --to-destination 198.51.100.1:22"}));
}

TEST(firewalld, enable_destination_rule_matches_the_spa_packets_destination_as_fwknopd) {
  // fwknopd's firewalld build with ENABLE_DESTINATION_RULE Y puts the SPA packet's destination
  // where 0.0.0.0/0 stands: `-d` of the input and DNAT rules, `-s` of the output rule.
  auto g = grant_of("192.0.2.7", {{ip_protocol::tcp, 22}});
  g.destination = *ip_address::parse("198.51.100.9");
  const auto o = options_of("ENABLE_DESTINATION_RULE Y\nENABLE_FIREWD_OUTPUT Y\n");
  EXPECT_TRUE(o.use_destination);
  EXPECT_EQ(rules_of(o, g),
            (std::vector<std::string>{
                "FWKNOP_INPUT: -t filter -p 6 -s 192.0.2.7 -d 198.51.100.9 --dport 22 -m comment "
                "--comment _exp_1700000035 -j ACCEPT",
                "FWKNOP_OUTPUT: -t filter -p 6 -d 192.0.2.7 -s 198.51.100.9 --sport 22 -m comment "
                "--comment _exp_1700000035 -j ACCEPT"}));
  g.nat = forward_to("198.51.100.1", 22);
  g.nat.kind = nat_kind::local;
  EXPECT_EQ(
      rules_of(options_of("ENABLE_DESTINATION_RULE Y\nENABLE_FIREWD_LOCAL_NAT Y\n"), g).back(),
      "FWKNOP_PREROUTING: -t nat -p 6 -s 192.0.2.7 -d 198.51.100.9 --dport 22 -m comment "
      "--comment _exp_1700000035 -j DNAT --to-destination 198.51.100.1:22");
  // Off (fwknopd's default), the destination is not used.
  EXPECT_FALSE(options_of("").use_destination);
  EXPECT_EQ(rules_of(options_of(""), grant_of("192.0.2.7", {{ip_protocol::tcp, 22}})).front(),
            "FWKNOP_INPUT: -t filter -p 6 -s 192.0.2.7 -d 0.0.0.0/0 --dport 22 -m comment "
            "--comment _exp_1700000035 -j ACCEPT");
  // ENABLE_RULE_PREPEND (fwknopd's firewalld build: `-I <chain>`) is read the same way.
  EXPECT_FALSE(options_of("").prepend);
  EXPECT_TRUE(options_of("ENABLE_RULE_PREPEND Y\n").prepend);
  // A bad value is refused at its line; with rich rules it is refused too (they have no -d).
  EXPECT_FALSE(firewalld::settings(conf_of("ENABLE_DESTINATION_RULE maybe\n")));
  EXPECT_FALSE(
      firewalld::settings(conf_of("KNOCK_FIREWD_RICH_RULES Y\nENABLE_DESTINATION_RULE Y\n")));
}

TEST(firewalld, enable_firewd_snat_adds_snat_to_the_translate_ip_or_masquerade) {
  auto g = grant_of("192.0.2.7", {{ip_protocol::tcp, 2222}});
  g.nat = forward_to("10.0.0.5", 22);
  const auto o = options_of("ENABLE_FIREWD_FORWARDING Y\nENABLE_FIREWD_SNAT Y\n");
  g.nat.rewrite = source_nat::snat;  // SNAT_TRANSLATE_IP 10.1.2.3 (access::nat_for)
  g.nat.rewrite_to = *ip_address::parse("10.1.2.3");
  EXPECT_EQ(rules_of(o, g).back(),
            "FWKNOP_POSTROUTING: -t nat -p 6 -d 10.0.0.5 --dport 22 -m comment --comment "
            "_exp_1700000035 -j SNAT --to-source 10.1.2.3");
  g.nat.rewrite = source_nat::masquerade;  // no SNAT_TRANSLATE_IP
  EXPECT_EQ(rules_of(o, g).back(),
            "FWKNOP_MASQUERADE: -t nat -p 6 -d 10.0.0.5 --dport 22 -m comment --comment "
            "_exp_1700000035 -j MASQUERADE --to-ports 2222");
  EXPECT_EQ(rules_of(o, g).size(), 3u);
}

TEST(firewalld, the_server_reads_the_firewd_nat_switches_with_firewalld) {
  const auto c = conf_of(
      "FIREWALL_TYPE firewalld\nENABLE_FIREWD_FORWARDING Y\nENABLE_FIREWD_SNAT Y\n"
      "SNAT_TRANSLATE_IP 10.1.2.3\nENABLE_IPT_LOCAL_NAT Y\n");
  auto n = config::read_nat_options(c);
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->forwarding && n->snat);
  EXPECT_FALSE(n->local) << "ENABLE_IPT_LOCAL_NAT is not fwknopd-for-firewalld's";
  EXPECT_EQ(n->translate_ip, ip_address::parse("10.1.2.3"));
  EXPECT_EQ(n->switches, "ENABLE_FIREWD_");
  // --firewall overrides FIREWALL_TYPE.
  n = config::read_nat_options(c, "iptables");
  ASSERT_TRUE(n);
  EXPECT_FALSE(n->forwarding);
  EXPECT_TRUE(n->local);
  n = config::read_nat_options(conf_of("ENABLE_FIREWD_LOCAL_NAT Y\n"), "firewalld");
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->local);
  const auto bad = config::read_nat_options(
      conf_of("FIREWALL_TYPE firewalld\nENABLE_FIREWD_SNAT Y\nSNAT_TRANSLATE_IP 10.1.2\n"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(config::to_string(bad.error()),
            "fwknopd.conf:3: SNAT_TRANSLATE_IP: '10.1.2' is not an IPv4 address "
            "(ENABLE_FIREWD_SNAT is Y)");
}

}  // namespace
