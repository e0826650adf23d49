// SPDX-License-Identifier: MIT
#include <knock/firewall/nftables.hpp>

#include <knock/config/fwknopd_conf.hpp>

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace knock::firewall::nft {
void PrintTo(const element& g, std::ostream* os) { *os << to_string(g); }
}  // namespace knock::firewall::nft

namespace {

using knock::ip_address;
using knock::ip_protocol;
using knock::firewall::nftables;
using knock::firewall::nftables_grant;
using knock::firewall::nftables_options;
namespace nft = knock::firewall::nft;

TEST(nftables_script, builds_the_table_in_one_transaction) {
  nftables_options o;
  o.protected_ports = {{ip_protocol::tcp, 22}, {ip_protocol::udp, 53}};
  const std::string s = nft::table_script(o);
  EXPECT_EQ(s.find("add table inet knock\ndelete table inet knock\nadd table inet knock\n"), 0u)
      << s;
  EXPECT_NE(s.find("add element inet knock protected { tcp . 22, udp . 53 }"), std::string::npos);
  EXPECT_NE(s.find("type filter hook input priority -10; policy accept;"), std::string::npos);
  EXPECT_NE(s.find("input meta l4proto . th dport @protected drop"), std::string::npos);

  o.keep_grants = true;
  o.protected_ports.clear();
  o.table = "knock_test";
  const std::string kept = nft::table_script(o);
  EXPECT_EQ(kept.find("delete table"), std::string::npos) << kept;
  EXPECT_EQ(kept.find("add element"), std::string::npos) << kept;
  EXPECT_NE(kept.find("flush set inet knock_test protected\n"), std::string::npos) << kept;
}

TEST(nftables_script, replaces_each_element_so_its_timeout_starts_over) {
  knock::grant g;
  g.source = *ip_address::parse("::ffff:10.0.0.5");  // as a dual-stack socket reports it
  g.ports.push_back({ip_protocol::tcp, 22});
  g.ports.push_back({ip_protocol::udp, 53});
  g.timeout = 30;
  EXPECT_EQ(nft::grant_script("knock", g),
            "add element inet knock allowed_v4 { 10.0.0.5 . tcp . 22 timeout 30s, 10.0.0.5 . udp . "
            "53 timeout 30s }\n"
            "delete element inet knock allowed_v4 { 10.0.0.5 . tcp . 22, 10.0.0.5 . udp . 53 }\n"
            "add element inet knock allowed_v4 { 10.0.0.5 . tcp . 22 timeout 30s, 10.0.0.5 . udp . "
            "53 timeout 30s }\n");
  g.source = *ip_address::parse("2001:db8::5");
  g.ports = {};
  g.ports.push_back({ip_protocol::tcp, 22});
  EXPECT_EQ(nft::grant_script("t", g).substr(0, 62),
            "add element inet t allowed_v6 { 2001:db8::5 . tcp . 22 timeout");
}

TEST(nftables_nat, a_grant_is_map_and_set_elements_with_the_grant_timeout) {
  knock::grant g;
  g.source = *ip_address::parse("10.0.0.5");
  g.ports.push_back({ip_protocol::tcp, 55000});
  g.timeout = 30;
  g.nat.kind = knock::nat_kind::forward;
  g.nat.to = *ip_address::parse("192.168.1.10");
  g.nat.to_port = 22;
  g.nat.rewrite = knock::source_nat::snat;
  g.nat.rewrite_to = *ip_address::parse("192.168.1.1");
  const auto elements = nft::nat_elements(g);
  EXPECT_EQ(
      nft::nat_grant_script("knock", g, elements),
      "add element inet knock forward_v4 { 10.0.0.5 . tcp . 22 timeout 30s }\n"
      "delete element inet knock forward_v4 { 10.0.0.5 . tcp . 22 }\n"
      "add element inet knock forward_v4 { 10.0.0.5 . tcp . 22 timeout 30s }\n"
      "add element inet knock dnat_v4 { 10.0.0.5 . tcp . 55000 timeout 30s : 192.168.1.10 . 22 }\n"
      "add element inet knock snat_v4 { 192.168.1.10 . tcp . 22 timeout 30s : 192.168.1.1 }\n");
  // A map element already there (maybe with another target) is deleted first.
  EXPECT_NE(nft::nat_grant_script("knock", g, elements, {false, true, false})
                .find("delete element inet knock dnat_v4 { 10.0.0.5 . tcp . 55000 }\nadd element "
                      "inet knock dnat_v4"),
            std::string::npos);
  g.nat.kind = knock::nat_kind::local;
  g.nat.rewrite = knock::source_nat::none;
  g.nat.dnat = true;
  const auto local = nft::nat_elements(g);
  ASSERT_EQ(local.size(), 2u);
  EXPECT_EQ(local[0].set, "allowed_v4");  // the local port, as fwknopd's INPUT rule
  EXPECT_EQ(local[0].key, "10.0.0.5 . tcp . 22");
  g.nat.forward_all = true;
  g.nat.kind = knock::nat_kind::forward;
  g.nat.rewrite = knock::source_nat::masquerade;
  const auto all = nft::nat_elements(g);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].set + " " + all[0].key, "forward_all_v4 10.0.0.5");
  EXPECT_EQ(all[1].set + " " + all[1].key + " " + all[1].value,
            "dnat_all_v4 10.0.0.5 192.168.1.10");
  EXPECT_EQ(all[2].set + " " + all[2].key, "masquerade_all_v4 10.0.0.5");
}

TEST(nftables_nat, the_table_has_nat_only_when_enabled) {
  nft::options o;
  o.protected_ports = {{ip_protocol::tcp, 22}};
  EXPECT_EQ(nft::table_script(o).find("dnat"), std::string::npos);
  o.nat = true;
  const std::string s = nft::table_script(o);
  EXPECT_NE(s.find("add map inet knock dnat_v4 { type ipv4_addr . inet_proto . inet_service : "
                   "ipv4_addr . inet_service; flags timeout; }"),
            std::string::npos);
  EXPECT_NE(s.find("prerouting meta l4proto { tcp, udp } dnat ip to ip saddr . meta l4proto . th "
                   "dport map @dnat_v4"),
            std::string::npos);
  EXPECT_EQ(nft::element_texts("map m {\n elements = { 1.2.3.4 . 6 . 1 timeout 30s expires 2s : "
                               "5.6.7.8 . 22, 9.9.9.9 . 6 . 2 : 1.1.1.1 . 3 }\n}"),
            (std::vector<std::string>{"1.2.3.4 . 6 . 1 timeout 30s expires 2s : 5.6.7.8 . 22",
                                      "9.9.9.9 . 6 . 2 : 1.1.1.1 . 3"}));
}

TEST(nftables_script, accepts_only_plain_table_names) {
  EXPECT_TRUE(nft::is_identifier("knock"));
  EXPECT_TRUE(nft::is_identifier("knock_2"));
  EXPECT_FALSE(nft::is_identifier(""));
  EXPECT_FALSE(nft::is_identifier("2knock"));
  EXPECT_FALSE(nft::is_identifier("knock; flush ruleset"));
  EXPECT_FALSE(nft::is_identifier(std::string(64, 'k')));
  const auto bad = nftables::attach("x y");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "nftables: invalid table name 'x y' (letters, digits and '_', at most 63)");
}

TEST(nftables_list, parses_numeric_set_listings) {
  // Captured from nft 1.0.6 (`nft -n list set inet knock allowed_v4`), Debian 12.
  const char* v4 =
      "table inet knock {\n"
      "\tset allowed_v4 {\n"
      "\t\ttype ipv4_addr . inet_proto . inet_service\n"
      "\t\tflags timeout\n"
      "\t\telements = { 10.0.0.5 . 6 . 22 timeout 30s expires 29s,\n"
      "\t\t\t     10.0.0.6 . 17 . 53 timeout 3600s expires 3599s }\n"
      "\t}\n"
      "}\n";
  const auto got = nft::parse_elements(v4);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0],
            (nftables_grant{*ip_address::parse("10.0.0.5"), {ip_protocol::tcp, 22}, 30, 29}));
  EXPECT_EQ(got[1],
            (nftables_grant{*ip_address::parse("10.0.0.6"), {ip_protocol::udp, 53}, 3600, 3599}));
  EXPECT_EQ(to_string(got[1]), "10.0.0.6 udp/53 timeout 3600s expires 3599s");

  const char* v6 =
      "table inet knock {\n\tset allowed_v6 {\n\t\ttype ipv6_addr . inet_proto . inet_service\n"
      "\t\tflags timeout\n\t\telements = { 2001:db8::5 . 6 . 22 timeout 3s expires 2s }\n\t}\n}\n";
  ASSERT_EQ(nft::parse_elements(v6).size(), 1u);
  EXPECT_EQ(nft::parse_elements(v6)[0].source, *ip_address::parse("2001:db8::5"));
  EXPECT_TRUE(nft::parse_elements("table inet knock {\n\tset allowed_v4 {\n\t}\n}\n").empty());
}

TEST(nftables_errors, are_one_line_with_the_error_lines_only) {
  EXPECT_EQ(nft::one_line("Error: Could not process rule: No such file or directory\n"
                          "add element inet knock allowed_v4 { 10.0.0.5 . tcp . 22 }\n"
                          "                 ^^^^^\n"),
            "Error: Could not process rule: No such file or directory");
  EXPECT_EQ(nft::one_line("Error: a\nx\n^^\nError: b\nError: a\n"), "Error: a; Error: b");
  EXPECT_EQ(nft::one_line("something\nelse\n"), "something; else");
  EXPECT_EQ(nft::one_line(""), "");
}

TEST(nftables_check, knows_an_intact_input_chain) {
  const std::string chain =
      "table inet knock {\n\tchain input {\n\t\ttype filter hook input priority filter - 10; "
      "policy accept;\n\t\tct state established,related accept\n"
      "\t\tip saddr . meta l4proto . th dport @allowed_v4 accept\n"
      "\t\tip6 saddr . meta l4proto . th dport @allowed_v6 accept\n"
      "\t\tmeta l4proto . th dport @protected drop\n\t}\n}\n";
  EXPECT_TRUE(nft::chain_intact(chain));
  EXPECT_FALSE(nft::chain_intact(
      "table inet knock {\n\tchain input {\n\t\ttype filter hook input priority filter - 10; "
      "policy accept;\n\t}\n}\n"));
  EXPECT_FALSE(nft::chain_intact(""));
}

TEST(nftables, closed_by_default) {
  nftables fw;
  knock::grant g;
  g.ports.push_back({ip_protocol::tcp, 22});
  g.timeout = 30;
  const auto r = fw.open(g);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), knock::errc::firewall_failed);
  EXPECT_EQ(r.error().message, "nftables: not opened");
  EXPECT_TRUE(fw.expire(0));
  EXPECT_FALSE(fw.list());
  EXPECT_FALSE(fw.flush());
  EXPECT_FALSE(fw.repair());
  EXPECT_EQ(fw.repairs(), 0u);
}

knock::config::fwknopd_conf conf(std::string_view text) {
  auto c = knock::config::parse_fwknopd_conf(text, "f.conf");
  EXPECT_TRUE(c) << (c ? "" : knock::config::to_string(c.error()));
  return c ? *c : knock::config::fwknopd_conf{};
}

TEST(nftables_make, says_its_name_and_variables) {
  EXPECT_EQ(nftables::name, "nftables");
  ASSERT_EQ(std::size(nftables::variables), 1u);
  EXPECT_EQ(nftables::variables[0], "KNOCK_NFT_TABLE");
}

TEST(nftables_make, refuses_a_bad_table_name_at_its_line) {
  const auto c = conf("# fwknopd.conf\nKNOCK_NFT_TABLE   knock-2;\n");
  const std::vector<knock::port_spec> ports{{ip_protocol::tcp, 22}};
  for (auto how : {knock::firewall::mode::install, knock::firewall::mode::attach}) {
    const auto fw = nftables::make({c, ports, how});
    ASSERT_FALSE(fw);
    EXPECT_EQ(fw.error(), knock::errc::config_invalid);
    EXPECT_EQ(fw.error().message,
              "f.conf:2: KNOCK_NFT_TABLE: 'knock-2' is not a table name nft takes (letters, "
              "digits and '_', at most 63)");
  }
}

TEST(nftables_make, needs_ports_to_protect_when_installing) {
  const auto c = conf("KNOCK_NFT_TABLE foo\n");
  const auto fw = nftables::make({c, {}, knock::firewall::mode::install});
  ASSERT_FALSE(fw);
  EXPECT_EQ(fw.error(), knock::errc::config_invalid);
  EXPECT_EQ(fw.error().message,
            "nftables needs the ports to protect: set OPEN_PORTS in the stanzas, "
            "KNOCK_PROTECTED_PORTS in fwknopd.conf, or --protect");
}

TEST(nftables_make, attaches_to_the_configured_table_without_changing_it) {
  const auto c = conf("KNOCK_NFT_TABLE foo\n");
  auto fw = nftables::make({c, {}, knock::firewall::mode::attach});
  ASSERT_TRUE(fw) << fw.error().message;
  EXPECT_EQ(fw->table(), "foo");
  const auto repaired = fw->repair();  // attached: nothing to remake from
  ASSERT_FALSE(repaired);
  EXPECT_EQ(repaired.error().message,
            "nftables: table inet foo: attached, not opened: nothing to repair from");
  auto defaults = nftables::make({conf(""), {}, knock::firewall::mode::attach});
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->table(), "knock");
}

TEST(nftables_make, checks_and_reads_settings_without_touching_the_kernel) {
  const auto bad = nftables::check(conf("KNOCK_NFT_TABLE 'x'\n"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(knock::config::to_string(bad.error()),
            "f.conf:1: KNOCK_NFT_TABLE: ''x'' is not a table name nft takes (letters, digits and "
            "'_', at most 63)");
  EXPECT_TRUE(nftables::check(conf("KNOCK_NFT_TABLE knock_2\n")));
  const auto o = nftables::settings(conf("KNOCK_NFT_TABLE knock_2\n"));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->table, "knock_2");
  EXPECT_TRUE(o->protected_ports.empty());  // make adds them
}

}  // namespace
