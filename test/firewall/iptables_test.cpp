// SPDX-License-Identifier: MIT
#include <knock/firewall/iptables.hpp>

#include <knock/config/fwknopd_conf.hpp>
#include <knock/firewall/any_of.hpp>
#include <knock/firewall/recording.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/stat.h>

namespace knock::firewall::ipt {
void PrintTo(const listed_rule& r, std::ostream* os) {
  *os << "{" << r.number << ", " << r.expires << "}";
}
}  // namespace knock::firewall::ipt

namespace {

using knock::ip_address;
using knock::ip_protocol;
using knock::firewall::iptables;
using knock::firewall::iptables_options;
using knock::firewall::listed_rule;
namespace ipt = knock::firewall::ipt;
using strings = std::vector<std::string>;

// Captured from iptables v1.8.9 (nf_tables), Debian 12, inside a network namespace:
//   iptables -t filter -L FWKNOP_INPUT --line-numbers -n   (iptables-legacy prints the same)
// with one rule added by hand (no comment), which expiry must leave alone.
constexpr const char* captured_v4 =
    "Chain FWKNOP_INPUT (1 references)\n"
    "num  target     prot opt source               destination         \n"
    "1    ACCEPT     6    --  10.0.0.5             0.0.0.0/0            tcp dpt:22 /* "
    "_exp_1700000035 */\n"
    "2    ACCEPT     17   --  10.0.0.6             0.0.0.0/0            udp dpt:53 /* "
    "_exp_1700000040 */\n"
    "3    ACCEPT     6    --  192.0.2.7            0.0.0.0/0            tcp dpt:443\n";
constexpr const char* captured_v6 =
    "Chain FWKNOP_INPUT (1 references)\n"
    "num  target     prot opt source               destination         \n"
    "1    ACCEPT     6    --  2001:db8::5          ::/0                 tcp dpt:22 /* "
    "_exp_1700000035 */\n";

TEST(iptables_listing, parses_rule_numbers_and_expiry_from_real_output) {
  EXPECT_EQ(ipt::parse_listing(captured_v4),
            (std::vector<listed_rule>{{1, 1700000035}, {2, 1700000040}}));
  EXPECT_EQ(ipt::parse_listing(captured_v6), (std::vector<listed_rule>{{1, 1700000035}}));
}

TEST(iptables_listing, follows_fwknopd_on_odd_comments) {
  // Older iptables print the protocol by name and may pad the comment; fwknopd reads at most 11
  // characters after _exp_, cuts at '*', trims, and wants digits only.
  const char* odd =
      "10   ACCEPT     tcp  --  10.0.0.9  0.0.0.0/0  tcp dpt:22 /* _exp_ 1700000050 */\n"
      "11   ACCEPT     tcp  --  10.0.0.9  0.0.0.0/0  tcp dpt:22 /* _exp_17000x0050 */\n"
      "12   ACCEPT     tcp  --  10.0.0.9  0.0.0.0/0  tcp dpt:22 /* _exp_1700000060*/\n"
      "     ACCEPT     tcp  --  10.0.0.9  0.0.0.0/0  tcp dpt:22 /* _exp_1700000070 */\n"
      "13   ACCEPT     tcp  --  10.0.0.9  0.0.0.0/0  tcp dpt:22 /* _exp_ */\n"
      "14   ACCEPT     tcp  --  10.0.0.9  0.0.0.0/0  tcp dpt:22 /* _exp_  1700000080 */";
  // Line 14: two blanks leave room for 9 digits only; fwknopd reads 170000008 too (expired).
  EXPECT_EQ(ipt::parse_listing(odd),
            (std::vector<listed_rule>{{10, 1700000050}, {12, 1700000060}, {14, 170000008}}));
  EXPECT_TRUE(ipt::parse_listing("").empty());
}

TEST(iptables_rule, is_fwknopd_2_6_10_access_template) {
  // spec §10.2: -A FWKNOP_INPUT -t filter -p 6 -s 10.0.0.5 -d 0.0.0.0/0 --dport 22
  //             -m comment --comment _exp_<T> -j ACCEPT
  iptables_options o;
  EXPECT_EQ(
      ipt::rule_arguments(o, *ip_address::parse("10.0.0.5"), {ip_protocol::tcp, 22}, 1700000035),
      (strings{"-t", "filter", "-p", "6", "-s", "10.0.0.5", "-d", "0.0.0.0/0", "--dport", "22",
               "-m", "comment", "--comment", "_exp_1700000035", "-j", "ACCEPT"}));
  EXPECT_EQ(ipt::rule_arguments(o, *ip_address::parse("2001:db8::5"), {ip_protocol::udp, 53}, 7),
            (strings{"-t", "filter", "-p", "17", "-s", "2001:db8::5", "-d", "::/0", "--dport", "53",
                     "-m", "comment", "--comment", "_exp_7", "-j", "ACCEPT"}));
}

TEST(iptables, reports_a_missing_program_at_open) {
  iptables_options o;
  o.iptables = "/nonexistent/iptables";
  const auto opened = iptables::open(o);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error(), knock::errc::firewall_failed);
  EXPECT_EQ(opened.error().message, "iptables: /nonexistent/iptables: not found or not executable");
  o.iptables = "iptables";
  o.ip6tables = "no-such-ip6tables-knock";
  const auto attached = iptables::attach(o);
  ASSERT_FALSE(attached);
  EXPECT_EQ(attached.error().message,
            "iptables: no-such-ip6tables-knock: not found or not executable");
}

TEST(iptables, closed_by_default) {
  iptables fw;
  knock::grant g;
  g.ports.push_back({ip_protocol::tcp, 22});
  const auto r = fw.open(g);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), knock::errc::firewall_failed);
  EXPECT_EQ(r.error().message, "iptables: not opened");
  EXPECT_TRUE(fw.expire(0));
  EXPECT_FALSE(fw.list());
  EXPECT_FALSE(fw.flush());
  EXPECT_TRUE(fw.stop());  // neither opened nor attached: nothing to flush
  EXPECT_EQ(fw.commands_run(), 0u);
}

knock::config::fwknopd_conf conf(std::string_view text) {
  auto c = knock::config::parse_fwknopd_conf(text, "f.conf");
  EXPECT_TRUE(c) << (c ? "" : knock::config::to_string(c.error()));
  return c ? *c : knock::config::fwknopd_conf{};
}

// Makes an iptables backend from `text` (attaching: no rule is touched) and gives its error.
std::string make_error(std::string_view text) {
  const auto c = conf(text);
  const auto fw = iptables::make({c, {}, knock::firewall::mode::attach});
  if (fw) return "";
  EXPECT_EQ(fw.error(), knock::errc::config_invalid) << fw.error().message;
  return fw.error().message;
}

// `-A <chain> <arguments>` of each rule, as one string per rule.
strings commands(const std::vector<ipt::chain_rule>& rules) {
  strings out;
  for (const auto& r : rules) {
    std::string line = "-A " + r.chain->chain;
    for (const auto& a : r.arguments) line += " " + a;
    out.push_back(line);
  }
  return out;
}
knock::nat_spec forward_to(std::string_view to, std::uint16_t port) {
  knock::nat_spec n;
  n.kind = knock::nat_kind::forward;
  n.to = *ip_address::parse(to);
  n.to_port = port;
  return n;
}

TEST(iptables_nat, is_what_fwknopd_2_6_10_ran_for_the_nat_access_vector) {
  // fwknopd's fw_rules_added for `fwknop -A tcp/22 -a 10.0.0.5 -N 192.168.1.10:22`
  // (test/data/fwknop-2.6.10-vectors.json, vector nat_access).
  iptables_options o;
  const auto rules =
      ipt::nat_rules(o, o.input(), *ip_address::parse("10.0.0.5"), {ip_protocol::tcp, 22},
                     forward_to("192.168.1.10", 22), 1700000035);
  EXPECT_EQ(
      commands(rules),
      (strings{"-A FWKNOP_FORWARD -t filter -p 6 -s 10.0.0.5 --dport 22 -m comment --comment "
               "_exp_1700000035 -j ACCEPT",
               "-A FWKNOP_PREROUTING -t nat -p 6 -s 10.0.0.5 -d 0.0.0.0/0 --dport 22 -m "
               "comment --comment _exp_1700000035 -j DNAT --to-destination 192.168.1.10:22"}));
}

TEST(iptables_nat, local_nat_forward_all_snat_and_masquerade_shapes) {
  iptables_options o;
  const auto client = *ip_address::parse("10.0.0.5");
  auto local = forward_to("10.0.0.1", 22);
  local.kind = knock::nat_kind::local;
  EXPECT_EQ(
      commands(ipt::nat_rules(o, o.input(), client, {ip_protocol::tcp, 55000}, local, 9)),
      (strings{"-A FWKNOP_INPUT -t filter -p 6 -s 10.0.0.5 -d 0.0.0.0/0 --dport 22 -m comment "
               "--comment _exp_9 -j ACCEPT",
               "-A FWKNOP_PREROUTING -t nat -p 6 -s 10.0.0.5 -d 0.0.0.0/0 --dport 55000 -m "
               "comment --comment _exp_9 -j DNAT --to-destination 10.0.0.1:22"}));
  auto masq = forward_to("192.168.1.10", 22);
  masq.rewrite = knock::source_nat::masquerade;
  masq.dnat = false;  // DISABLE_DNAT
  EXPECT_EQ(commands(ipt::nat_rules(o, o.input(), client, {ip_protocol::udp, 5000}, masq, 9)),
            (strings{"-A FWKNOP_FORWARD -t filter -p 17 -s 10.0.0.5 --dport 22 -m comment "
                     "--comment _exp_9 -j ACCEPT",
                     "-A FWKNOP_MASQUERADE -t nat -p 17 -d 192.168.1.10 --dport 22 -m comment "
                     "--comment _exp_9 -j MASQUERADE --to-ports 5000"}));
  auto all = forward_to("192.168.1.10", 22);
  all.forward_all = true;
  all.rewrite = knock::source_nat::snat;
  all.rewrite_to = *ip_address::parse("192.168.1.1");
  EXPECT_EQ(
      commands(ipt::nat_rules(o, o.input(), client, {ip_protocol::tcp, 1}, all, 9)),
      (strings{"-A FWKNOP_FORWARD -t filter -s 10.0.0.5 -m comment --comment _exp_9 -j ACCEPT",
               "-A FWKNOP_PREROUTING -t nat -s 10.0.0.5 -d 0.0.0.0/0 -m comment --comment "
               "_exp_9 -j DNAT --to-destination 192.168.1.10",
               "-A FWKNOP_POSTROUTING -t nat -s 10.0.0.5 -m comment --comment _exp_9 -j SNAT "
               "--to-source 192.168.1.1"}));
}

TEST(iptables_nat, chain_specs_are_read_as_fwknopd_reads_them) {
  const auto d = ipt::parse_chain_spec("DNAT, nat, PREROUTING, 1, FWKNOP_PREROUTING, 1");
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, ipt::default_dnat());
  EXPECT_EQ(ipt::parse_chain_spec("ACCEPT,filter,FORWARD,2,MY_FWD,3")->rule_position, 3u);
  EXPECT_FALSE(ipt::parse_chain_spec("DNAT, nat, PREROUTING, 1, FWKNOP_PREROUTING"));
  EXPECT_FALSE(ipt::parse_chain_spec("DNAT, nat, PREROUTING, 1, FWKNOP;X, 1"));
  EXPECT_FALSE(ipt::parse_chain_spec("DNAT, nat, PREROUTING, x, FWKNOP_PREROUTING, 1"));
  EXPECT_FALSE(ipt::parse_chain_spec("DNAT, , PREROUTING, 1, FWKNOP_PREROUTING, 1"));
  EXPECT_EQ(make_error("ENABLE_IPT_FORWARDING Y\nIPT_DNAT_ACCESS DNAT, nat, PREROUTING;\n"),
            "f.conf:2: IPT_DNAT_ACCESS: 'DNAT, nat, PREROUTING' is not 'target, table, from "
            "chain, position, chain, position' (letters, digits, '_')");
  EXPECT_EQ(make_error("ENABLE_IPT_SNAT sometimes\n"),
            "f.conf:1: ENABLE_IPT_SNAT: 'sometimes' is not Y or N");
}

TEST(iptables_make, says_its_name_and_variables) {
  EXPECT_EQ(iptables::name, "iptables");
  EXPECT_EQ((strings{std::begin(iptables::variables), std::end(iptables::variables)}),
            (strings{"FLUSH_IPT_AT_INIT", "FLUSH_IPT_AT_EXIT", "ENABLE_IPT_COMMENT_CHECK",
                     "RULES_CHECK_THRESHOLD", "FIREWALL_EXE", "IPT_FORWARD_ACCESS",
                     "IPT_DNAT_ACCESS", "IPT_SNAT_ACCESS", "IPT_MASQUERADE_ACCESS",
                     "IPT_INPUT_ACCESS", "ENABLE_RULE_PREPEND", "ENABLE_IPT_OUTPUT",
                     "IPT_OUTPUT_ACCESS", "ENABLE_DESTINATION_RULE"}));
}

TEST(iptables_make, refuses_bad_values_at_their_line) {
  EXPECT_EQ(make_error("FLUSH_IPT_AT_INIT Y;\nFLUSH_IPT_AT_EXIT maybe;\n"),
            "f.conf:2: FLUSH_IPT_AT_EXIT: 'maybe' is not Y or N");
  EXPECT_EQ(make_error("FLUSH_IPT_AT_INIT 1\n"), "f.conf:1: FLUSH_IPT_AT_INIT: '1' is not Y or N");
  EXPECT_EQ(make_error("ENABLE_IPT_COMMENT_CHECK x\n"),
            "f.conf:1: ENABLE_IPT_COMMENT_CHECK: 'x' is not Y or N");
  EXPECT_EQ(make_error("RULES_CHECK_THRESHOLD 131072\n"),
            "f.conf:1: RULES_CHECK_THRESHOLD: '131072' is not a positive integer up to 131071");
  EXPECT_EQ(make_error("\nFIREWALL_EXE /etc/passwd\n"),
            "f.conf:2: FIREWALL_EXE: '/etc/passwd' is not the path of an executable file");
  EXPECT_EQ(make_error("FIREWALL_EXE /usr/sbin\n"),
            "f.conf:1: FIREWALL_EXE: '/usr/sbin' is not the path of an executable file");
  EXPECT_EQ(make_error("FIREWALL_EXE iptables\n"),
            "f.conf:1: FIREWALL_EXE: 'iptables' is not the path of an executable file");
}

TEST(iptables_make, honours_firewall_exe_and_its_ip6tables_sibling) {
  // /bin/true has no ip6tables sibling: IPv4 only, and an IPv6 grant says so.
  const auto c = conf("FIREWALL_EXE /bin/true\nRULES_CHECK_THRESHOLD 0\nFLUSH_IPT_AT_EXIT N\n");
  auto fw = iptables::make({c, {}, knock::firewall::mode::attach});
  ASSERT_TRUE(fw) << fw.error().message;
  EXPECT_EQ(fw->commands_run(), 0u);  // attaching runs nothing
  ASSERT_TRUE(fw->list());            // `/bin/true -t filter -L ...`: one process, no output
  EXPECT_EQ(fw->commands_run(), 1u);
  knock::grant g;
  g.source = *ip_address::parse("2001:db8::5");
  g.ports.push_back({ip_protocol::tcp, 22});
  const auto six = fw->open(g);
  ASSERT_FALSE(six);
  EXPECT_EQ(six.error().message, "iptables: IPv6 grant, and no ip6tables");
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(fw->expire(0));  // threshold 0: never a periodic look
  EXPECT_EQ(fw->commands_run(), 1u);
  EXPECT_TRUE(fw->stop());  // attached: stop flushes nothing
  EXPECT_EQ(fw->commands_run(), 1u);
}

TEST(iptables_make, stop_flushes_only_with_flush_ipt_at_exit) {
  // /bin/true "succeeds" at every command, so open() and flush() can run without iptables; the
  // flush then fails its own check (the chain "is still there": `-L` succeeds).
  for (const char* at_exit : {"Y", "N"}) {
    const auto c = conf(std::string{"FIREWALL_EXE /bin/true\nFLUSH_IPT_AT_INIT N\n"} +
                        "FLUSH_IPT_AT_EXIT " + at_exit + "\n");
    auto fw = iptables::make({c, {}, knock::firewall::mode::install});
    ASSERT_TRUE(fw) << fw.error().message;
    const std::size_t before = fw->commands_run();
    const auto stopped = fw->stop();
    if (std::string_view{at_exit} == "N") {
      EXPECT_TRUE(stopped);
      EXPECT_EQ(fw->commands_run(), before);
    } else {
      ASSERT_FALSE(stopped);
      EXPECT_EQ(stopped.error().message,
                "iptables: /bin/true: chain FWKNOP_INPUT is still there after -F and -X");
      EXPECT_GT(fw->commands_run(), before);
    }
  }
}

TEST(iptables_make, reads_settings_with_fwknopds_defaults) {
  const auto defaults = iptables::settings(conf(""));
  ASSERT_TRUE(defaults);
  EXPECT_TRUE(defaults->flush_at_open);
  EXPECT_TRUE(defaults->flush_at_stop);
  EXPECT_EQ(defaults->rules_check_threshold, 20u);
  EXPECT_EQ(defaults->iptables, "iptables");
  EXPECT_EQ(defaults->ip6tables, "ip6tables");
  const auto set = iptables::settings(
      conf("FLUSH_IPT_AT_INIT N\nFLUSH_IPT_AT_EXIT n\nRULES_CHECK_THRESHOLD 131071\n"
           "ENABLE_IPT_COMMENT_CHECK N\n"));
  ASSERT_TRUE(set);
  EXPECT_FALSE(set->flush_at_open);
  EXPECT_FALSE(set->flush_at_stop);
  EXPECT_EQ(set->rules_check_threshold, 131071u);
  const auto bad = iptables::check(conf("RULES_CHECK_THRESHOLD -1\n"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().line, 1u);
  EXPECT_EQ(bad.error().key, "RULES_CHECK_THRESHOLD");
}

// fwknopd's IPT_INPUT_ACCESS names the access chain (target, table, the chain that jumps to it
// and where, its name, where rules go) and ENABLE_RULE_PREPEND inserts rules there with -I.
TEST(iptables_make, reads_ipt_input_access_and_enable_rule_prepend_as_fwknopd) {
  const auto defaults = iptables::settings(conf(""));
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->input(),
            (ipt::chain_spec{"ACCEPT", "filter", "INPUT", 1, "FWKNOP_INPUT", 1}));
  EXPECT_FALSE(defaults->prepend);
  const auto set = iptables::settings(conf(
      "IPT_INPUT_ACCESS ACCEPT, filter, INPUT, 2, FWKNOP_MY_INPUT, 3\nENABLE_RULE_PREPEND Y\n"));
  ASSERT_TRUE(set);
  EXPECT_EQ(set->input(), (ipt::chain_spec{"ACCEPT", "filter", "INPUT", 2, "FWKNOP_MY_INPUT", 3}));
  EXPECT_TRUE(set->prepend);
  const auto bad =
      iptables::check(conf("\nIPT_INPUT_ACCESS ACCEPT, filter, INPUT, 1, FWKNOP_INPUT\n"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().line, 2u);
  EXPECT_EQ(bad.error().key, "IPT_INPUT_ACCESS");
}

// ---- ENABLE_IPT_OUTPUT and ENABLE_DESTINATION_RULE (issue #13) --------------------------------

// What Debian's fwknopd 2.6.10 (FIREWALL_TYPE iptables) ran for `fwknop -A tcp/22 -a 10.77.0.2`
// sent to 10.77.0.1, in a network namespace, with ENABLE_IPT_OUTPUT Y and ENABLE_DESTINATION_RULE
// Y (its --verbose log, `create_rule() CMD: ...`):
//   iptables -A FWKNOP_INPUT -t filter -p 6 -s 10.77.0.2 -d 10.77.0.1 --dport 22
//            -m comment --comment _exp_T -j ACCEPT
//   iptables -A FWKNOP_OUTPUT -t filter -p 6 -d 10.77.0.2 -s 10.77.0.1 --sport 22
//            -m comment --comment _exp_T -j ACCEPT
// and with ENABLE_IPT_OUTPUT Y alone, the same with 0.0.0.0/0 for the server's address.
TEST(iptables_rule, output_rule_is_fwknopd_2_6_10s_reply_rule) {
  iptables_options o;
  o.use_output = true;
  const auto client = *ip_address::parse("10.77.0.2"), server = *ip_address::parse("10.77.0.1");
  EXPECT_EQ(ipt::output_rule_arguments(o, client, server, {ip_protocol::tcp, 22}, 1700000035),
            (strings{"-t", "filter", "-p", "6", "-d", "10.77.0.2", "-s", "0.0.0.0/0", "--sport",
                     "22", "-m", "comment", "--comment", "_exp_1700000035", "-j", "ACCEPT"}));
  EXPECT_EQ(ipt::rule_arguments(o, client, server, {ip_protocol::tcp, 22}, 1700000035),
            ipt::rule_arguments(o, client, {ip_protocol::tcp, 22}, 1700000035));
  o.use_destination = true;
  EXPECT_EQ(ipt::output_rule_arguments(o, client, server, {ip_protocol::udp, 53}, 7),
            (strings{"-t", "filter", "-p", "17", "-d", "10.77.0.2", "-s", "10.77.0.1", "--sport",
                     "53", "-m", "comment", "--comment", "_exp_7", "-j", "ACCEPT"}));
  EXPECT_EQ(ipt::rule_arguments(o, client, server, {ip_protocol::tcp, 22}, 7),
            (strings{"-t", "filter", "-p", "6", "-s", "10.77.0.2", "-d", "10.77.0.1", "--dport",
                     "22", "-m", "comment", "--comment", "_exp_7", "-j", "ACCEPT"}));
  // IPT_OUTPUT_ACCESS names the output rule's table and target.
  o.output = {"RETURN", "mangle", "OUTPUT", 1, "MY_OUT", 1};
  const auto six = *ip_address::parse("2001:db8::5");
  o.use_destination = false;
  EXPECT_EQ(ipt::output_rule_arguments(o, six, six, {ip_protocol::tcp, 22}, 7),
            (strings{"-t", "mangle", "-p", "6", "-d", "2001:db8::5", "-s", "::/0", "--sport", "22",
                     "-m", "comment", "--comment", "_exp_7", "-j", "RETURN"}));
}

// fwknopd 2.6.10 with ENABLE_DESTINATION_RULE Y, in the namespace: `-N 192.168.9.9:22` gave
//   -A FWKNOP_FORWARD -s 10.77.0.2/32 -p tcp -m tcp --dport 22 ... -j ACCEPT   (no -d)
//   -A FWKNOP_PREROUTING -s 10.77.0.2/32 -d 10.77.0.1/32 ... -j DNAT --to-destination
//   192.168.9.9:22
// and `--nat-local` an access rule and a DNAT rule both with -d 10.77.0.1/32 (iptables-save).
TEST(iptables_nat, destination_rule_reaches_the_dnat_and_local_access_rules_only) {
  iptables_options o;
  o.use_destination = true;
  const auto client = *ip_address::parse("10.77.0.2"), server = *ip_address::parse("10.77.0.1");
  EXPECT_EQ(commands(ipt::nat_rules(o, o.input(), client, {ip_protocol::tcp, 22},
                                    forward_to("192.168.9.9", 22), 9, server)),
            (strings{"-A FWKNOP_FORWARD -t filter -p 6 -s 10.77.0.2 --dport 22 -m comment "
                     "--comment _exp_9 -j ACCEPT",
                     "-A FWKNOP_PREROUTING -t nat -p 6 -s 10.77.0.2 -d 10.77.0.1 --dport 22 -m "
                     "comment --comment _exp_9 -j DNAT --to-destination 192.168.9.9:22"}));
  auto local = forward_to("10.77.0.1", 22);
  local.kind = knock::nat_kind::local;
  EXPECT_EQ(
      commands(ipt::nat_rules(o, o.input(), client, {ip_protocol::tcp, 2022}, local, 9, server)),
      (strings{"-A FWKNOP_INPUT -t filter -p 6 -s 10.77.0.2 -d 10.77.0.1 --dport 22 -m "
               "comment --comment _exp_9 -j ACCEPT",
               "-A FWKNOP_PREROUTING -t nat -p 6 -s 10.77.0.2 -d 10.77.0.1 --dport 2022 -m "
               "comment --comment _exp_9 -j DNAT --to-destination 10.77.0.1:22"}));
  auto all = forward_to("192.168.9.9", 22);
  all.forward_all = true;
  EXPECT_EQ(
      commands(ipt::nat_rules(o, o.input(), client, {ip_protocol::tcp, 1}, all, 9, server)).at(1),
      "-A FWKNOP_PREROUTING -t nat -s 10.77.0.2 -d 10.77.0.1 -m comment --comment _exp_9 "
      "-j DNAT --to-destination 192.168.9.9");
}

TEST(iptables_make, reads_enable_ipt_output_ipt_output_access_and_destination_rule) {
  const auto defaults = iptables::settings(conf(""));
  ASSERT_TRUE(defaults);
  EXPECT_FALSE(defaults->use_output);  // fwknopd's defaults: N, N
  EXPECT_FALSE(defaults->use_destination);
  EXPECT_EQ(defaults->output,
            (ipt::chain_spec{"ACCEPT", "filter", "OUTPUT", 1, "FWKNOP_OUTPUT", 1}));
  // test/conf/ipt_output_chain_fwknopd.conf and destination_rule_fwknopd.conf
  const auto set = iptables::settings(
      conf("ENABLE_IPT_OUTPUT       Y;\nIPT_OUTPUT_ACCESS       ACCEPT, filter, OUTPUT, 2, "
           "MY_OUTPUT, 3;\nENABLE_DESTINATION_RULE           Y;\n"));
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->use_output);
  EXPECT_TRUE(set->use_destination);
  EXPECT_EQ(set->output, (ipt::chain_spec{"ACCEPT", "filter", "OUTPUT", 2, "MY_OUTPUT", 3}));
  // As fwknopd's config_init: IPT_OUTPUT_ACCESS is checked even with ENABLE_IPT_OUTPUT N.
  EXPECT_EQ(make_error("ENABLE_IPT_OUTPUT N\nIPT_OUTPUT_ACCESS ACCEPT, filter, OUTPUT, 1\n"),
            "f.conf:2: IPT_OUTPUT_ACCESS: 'ACCEPT, filter, OUTPUT, 1' is not 'target, table, from "
            "chain, position, chain, position' (letters, digits, '_')");
  EXPECT_EQ(make_error("ENABLE_IPT_OUTPUT yes\n"),
            "f.conf:1: ENABLE_IPT_OUTPUT: 'yes' is not Y or N");
  EXPECT_EQ(make_error("\nENABLE_DESTINATION_RULE 1\n"),
            "f.conf:2: ENABLE_DESTINATION_RULE: '1' is not Y or N");
}

// A stand-in iptables: logs its arguments, says "no such rule" to -C, and prints for
// `-L <chain>` what the test put in <dir>/<chain>.list.
class fake_iptables {
 public:
  fake_iptables() {
    char name[] = "/tmp/knock-ipt-XXXXXX";
    dir_ = ::mkdtemp(name);
    std::ofstream{dir_ + "/iptables"}
        << "#!/bin/sh\n"
           "d=$(dirname \"$0\")\n"
           "echo \"$*\" >> \"$d/log\"\n"
           "case \" $* \" in *\" -C \"*) exit 1 ;; esac\n"
           "if [ \"$3\" = -L ]; then [ -f \"$d/$4.list\" ] && cat \"$d/$4.list\"; fi\n"
           "exit 0\n";
    ::chmod((dir_ + "/iptables").c_str(), 0755);
  }
  ~fake_iptables() { std::filesystem::remove_all(dir_); }
  fake_iptables(const fake_iptables&) = delete;
  fake_iptables& operator=(const fake_iptables&) = delete;

  std::string exe() const { return dir_ + "/iptables"; }
  void set_listing(const std::string& chain, const std::string& text) const {
    std::ofstream{dir_ + "/" + chain + ".list"} << text;
  }
  // The commands run since the last call, one per line.
  strings take_log() const {
    strings out;
    std::ifstream in{dir_ + "/log"};
    for (std::string line; std::getline(in, line);) out.push_back(line);
    std::filesystem::remove(dir_ + "/log");
    return out;
  }

 private:
  std::string dir_;
};

knock::grant grant_to(std::string_view source, std::string_view destination) {
  knock::grant g;
  g.source = *ip_address::parse(source);
  g.destination = *ip_address::parse(destination);
  g.ports.push_back({ip_protocol::tcp, 22});
  g.expires = 1700000035;
  return g;
}

// fwknopd 2.6.10 with ENABLE_IPT_OUTPUT Y made FWKNOP_OUTPUT (`-I OUTPUT 1 -j FWKNOP_OUTPUT`) at
// start, added the output rule after each access rule, deleted both at expiry, listed both with
// --fw-list and removed both chains at exit.
TEST(iptables_output, makes_fills_expires_lists_and_flushes_the_output_chain_as_fwknopd) {
  fake_iptables ipt;
  const auto c = conf("FIREWALL_EXE " + ipt.exe() +
                      "\nENABLE_IPT_OUTPUT Y\nENABLE_DESTINATION_RULE Y\nFLUSH_IPT_AT_INIT N\n");
  auto fw = iptables::make({c, {}, knock::firewall::mode::install});
  ASSERT_TRUE(fw) << fw.error().message;
  EXPECT_EQ(
      ipt.take_log(),
      (strings{"-t filter -N FWKNOP_INPUT", "-t filter -C INPUT -j FWKNOP_INPUT",
               "-t filter -I INPUT 1 -j FWKNOP_INPUT", "-t filter -N FWKNOP_OUTPUT",
               "-t filter -C OUTPUT -j FWKNOP_OUTPUT", "-t filter -I OUTPUT 1 -j FWKNOP_OUTPUT"}));
  ASSERT_TRUE(fw->open(grant_to("10.77.0.2", "10.77.0.1")));
  EXPECT_EQ(ipt.take_log(),
            (strings{"-C FWKNOP_INPUT -t filter -p 6 -s 10.77.0.2 -d 10.77.0.1 --dport 22 -m "
                     "comment --comment _exp_1700000035 -j ACCEPT",
                     "-A FWKNOP_INPUT -t filter -p 6 -s 10.77.0.2 -d 10.77.0.1 --dport 22 -m "
                     "comment --comment _exp_1700000035 -j ACCEPT",
                     "-C FWKNOP_OUTPUT -t filter -p 6 -d 10.77.0.2 -s 10.77.0.1 --sport 22 -m "
                     "comment --comment _exp_1700000035 -j ACCEPT",
                     "-A FWKNOP_OUTPUT -t filter -p 6 -d 10.77.0.2 -s 10.77.0.1 --sport 22 -m "
                     "comment --comment _exp_1700000035 -j ACCEPT"}));
  // A dual-stack capture's IPv4-mapped addresses are the IPv4 rule's.
  ASSERT_TRUE(fw->open(grant_to("::ffff:10.77.0.3", "::ffff:10.77.0.1")));
  EXPECT_EQ(ipt.take_log().at(3),
            "-A FWKNOP_OUTPUT -t filter -p 6 -d 10.77.0.3 -s 10.77.0.1 "
            "--sport 22 -m comment --comment _exp_1700000035 -j ACCEPT");

  // Expiry lists both chains and deletes what is due in each (iptables' own listing text).
  ipt.set_listing("FWKNOP_INPUT",
                  "Chain FWKNOP_INPUT (1 references)\n"
                  "num  target     prot opt source               destination\n"
                  "1    ACCEPT     6    --  10.77.0.2            10.77.0.1            tcp dpt:22 "
                  "/* _exp_1700000035 */\n");
  ipt.set_listing("FWKNOP_OUTPUT",
                  "Chain FWKNOP_OUTPUT (1 references)\n"
                  "num  target     prot opt source               destination\n"
                  "1    ACCEPT     6    --  10.77.0.1            10.77.0.2            tcp spt:22 "
                  "/* _exp_1700000035 */\n");
  // Not flushed at start: the first look lists both chains; nothing is due yet.
  ASSERT_TRUE(fw->expire(1700000034));
  EXPECT_EQ(ipt.take_log(), (strings{"-t filter -L FWKNOP_INPUT --line-numbers -n",
                                     "-t filter -L FWKNOP_OUTPUT --line-numbers -n"}));
  ASSERT_TRUE(fw->expire(1700000034));  // the earliest expiry is known: nothing runs
  EXPECT_TRUE(ipt.take_log().empty());
  ASSERT_TRUE(fw->expire(1700000035));
  EXPECT_EQ(
      ipt.take_log(),
      (strings{"-t filter -L FWKNOP_INPUT --line-numbers -n", "-t filter -D FWKNOP_INPUT 1",
               "-t filter -L FWKNOP_OUTPUT --line-numbers -n", "-t filter -D FWKNOP_OUTPUT 1"}));

  const auto lines = fw->list();
  ASSERT_TRUE(lines);
  EXPECT_EQ(lines->size(), 6u);  // both chains' listings
  EXPECT_EQ(lines->at(3), "Chain FWKNOP_OUTPUT (1 references)");
  ipt.take_log();
  (void)fw->flush();  // the stand-in's `-L` succeeds, so flush's own check fails: not the point
  const auto flushed = ipt.take_log();
  for (const char* cmd : {"-t filter -D OUTPUT -j FWKNOP_OUTPUT", "-t filter -F FWKNOP_OUTPUT",
                          "-t filter -X FWKNOP_OUTPUT", "-t filter -X FWKNOP_INPUT"})
    EXPECT_NE(std::find(flushed.begin(), flushed.end(), cmd), flushed.end()) << cmd;
}

TEST(iptables_output, output_chain_deleted_under_the_daemon_is_remade_and_the_grant_retried) {
  // The stand-in fails `-A FWKNOP_OUTPUT` once and `-L FWKNOP_OUTPUT` (the chain is gone) until
  // `-N FWKNOP_OUTPUT` made it again.
  fake_iptables ipt;
  const auto c = conf("FIREWALL_EXE " + ipt.exe() + "\nENABLE_IPT_OUTPUT Y\n");
  auto fw = iptables::make({c, {}, knock::firewall::mode::install});
  ASSERT_TRUE(fw) << fw.error().message;
  ipt.take_log();
  {
    std::ofstream patch{ipt.exe()};
    patch << "#!/bin/sh\nd=$(dirname \"$0\")\necho \"$*\" >> \"$d/log\"\n"
             "case \" $* \" in *\" -C \"*) exit 1 ;; esac\n"
             "if [ \"$1 $2\" = \"-A FWKNOP_OUTPUT\" ] && [ ! -f \"$d/made\" ]; then exit 1; fi\n"
             "if [ \"$3 $4\" = \"-N FWKNOP_OUTPUT\" ]; then touch \"$d/made\"; fi\n"
             "exit 0\n";
  }
  ASSERT_TRUE(fw->open(grant_to("10.0.0.5", "10.0.0.1")));
  EXPECT_EQ(fw->repairs(), 1u);
  const auto log = ipt.take_log();
  ASSERT_EQ(log.size(), 8u);
  EXPECT_EQ(log[3].substr(0, 16), "-A FWKNOP_OUTPUT");          // fails
  EXPECT_EQ(log[4], "-t filter -N FWKNOP_OUTPUT");              // re-made
  EXPECT_EQ(log[6], "-t filter -I OUTPUT 1 -j FWKNOP_OUTPUT");  // and its jump
  EXPECT_EQ(log[7].substr(0, 16), "-A FWKNOP_OUTPUT");          // retried
}

// fwknopd's UDP server records 0.0.0.0 as the packet's destination and, with
// ENABLE_DESTINATION_RULE, writes `-d 0.0.0.0`: a rule that matches nothing. knock refuses the
// grant instead, saying why, and runs nothing.
TEST(iptables_output, destination_rule_without_a_known_destination_refuses_the_grant) {
  fake_iptables ipt;
  const auto c = conf("FIREWALL_EXE " + ipt.exe() + "\nENABLE_DESTINATION_RULE Y\n");
  auto fw = iptables::make({c, {}, knock::firewall::mode::install});
  ASSERT_TRUE(fw) << fw.error().message;
  ipt.take_log();
  for (const char* unknown : {"0.0.0.0", "::", "2001:db8::1"}) {  // the last: another family
    const auto r = fw->open(grant_to("10.0.0.5", unknown));
    ASSERT_FALSE(r) << unknown;
    EXPECT_EQ(r.error(), knock::errc::firewall_failed);
    EXPECT_EQ(r.error().message,
              "iptables: ENABLE_DESTINATION_RULE: the SPA packet's destination address is not "
              "known (a UDP server socket does not record it)");
  }
  EXPECT_TRUE(ipt.take_log().empty());
}

// A backend that changes the firewall and reads neither switch (as nftables, pf, ipfw and
// firewalld today): the stand-in for any_of's refusal.
struct no_switches {
  using role = knock::role::firewall;
  static constexpr std::string_view name = "other";
  static constexpr std::array<std::string_view, 0> variables{};
  static constexpr knock::firewall::privileges needs{.net_admin = true};
  static knock::result<no_switches> make(const knock::firewall::setup&) { return no_switches{}; }
  knock::result<void> open(const knock::grant&) { return {}; }
  knock::result<void> expire(knock::epoch_seconds) { return {}; }
};

TEST(iptables_output, other_backends_refuse_the_switches_when_the_daemon_starts) {
  using firewalls = knock::firewall::any_of<no_switches, iptables, knock::firewall::recording>;
  const auto c = conf("PCAP_INTF eth0\nENABLE_IPT_OUTPUT Y\nFIREWALL_EXE /bin/true\n");
  const auto refused = firewalls::make("other", {c, {}, knock::firewall::mode::install});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), knock::errc::config_invalid);
  EXPECT_EQ(refused.error().message,
            "f.conf:2: ENABLE_IPT_OUTPUT: is a fwknopd feature firewall 'other' does not have "
            "(FIREWALL_TYPE iptables has it)");
  const auto dest = conf("ENABLE_DESTINATION_RULE Y\n");
  EXPECT_EQ(firewalls::make("other", {dest, {}, knock::firewall::mode::install}).error().message,
            "f.conf:1: ENABLE_DESTINATION_RULE: is a fwknopd feature firewall 'other' does not "
            "have (FIREWALL_TYPE iptables has it)");
  // Switched off; --fw-list / --fw-flush (attach); -t (none, which opens nothing): accepted.
  EXPECT_TRUE(firewalls::make("other", {conf("ENABLE_IPT_OUTPUT N\n"), {}}));
  EXPECT_TRUE(firewalls::make("other", {c, {}, knock::firewall::mode::attach}));
  EXPECT_TRUE(firewalls::make("none", {c, {}, knock::firewall::mode::install}));
  EXPECT_TRUE(firewalls::make("iptables", {c, {}, knock::firewall::mode::attach}));
}

}  // namespace
