// SPDX-License-Identifier: MIT
#include <knock/firewall/iptables.hpp>

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace knock::firewall {
void PrintTo(const listed_rule& r, std::ostream* os) {
  *os << "{" << r.number << ", " << r.expires << "}";
}
}  // namespace knock::firewall

namespace {

using knock::ip_address;
using knock::ip_protocol;
using knock::firewall::iptables;
using knock::firewall::iptables_options;
using knock::firewall::listed_rule;
namespace detail = knock::firewall::detail;
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
  EXPECT_EQ(detail::parse_listing(captured_v4),
            (std::vector<listed_rule>{{1, 1700000035}, {2, 1700000040}}));
  EXPECT_EQ(detail::parse_listing(captured_v6), (std::vector<listed_rule>{{1, 1700000035}}));
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
  EXPECT_EQ(detail::parse_listing(odd),
            (std::vector<listed_rule>{{10, 1700000050}, {12, 1700000060}, {14, 170000008}}));
  EXPECT_TRUE(detail::parse_listing("").empty());
}

TEST(iptables_rule, is_fwknopd_2_6_10_access_template) {
  // spec §10.2: -A FWKNOP_INPUT -t filter -p 6 -s 10.0.0.5 -d 0.0.0.0/0 --dport 22
  //             -m comment --comment _exp_<T> -j ACCEPT
  iptables_options o;
  EXPECT_EQ(
      detail::rule_arguments(o, *ip_address::parse("10.0.0.5"), {ip_protocol::tcp, 22}, 1700000035),
      (strings{"-t", "filter", "-p", "6", "-s", "10.0.0.5", "-d", "0.0.0.0/0", "--dport", "22",
               "-m", "comment", "--comment", "_exp_1700000035", "-j", "ACCEPT"}));
  EXPECT_EQ(detail::rule_arguments(o, *ip_address::parse("2001:db8::5"), {ip_protocol::udp, 53}, 7),
            (strings{"-t", "filter", "-p", "17", "-s", "2001:db8::5", "-d", "::/0", "--dport", "53",
                     "-m", "comment", "--comment", "_exp_7", "-j", "ACCEPT"}));
}

TEST(iptables, reports_a_missing_program_at_open) {
  iptables_options o;
  o.iptables = "/nonexistent/iptables";
  std::string why;
  EXPECT_FALSE(iptables::open(o, &why));
  EXPECT_EQ(why, "/nonexistent/iptables: not found or not executable");
  o.iptables = "iptables";
  o.ip6tables = "no-such-ip6tables-knock";
  EXPECT_FALSE(iptables::attach(o, &why));
  EXPECT_EQ(why, "no-such-ip6tables-knock: not found or not executable");
}

TEST(iptables, closed_by_default) {
  iptables fw;
  knock::grant g;
  g.ports.push_back({ip_protocol::tcp, 22});
  EXPECT_EQ(fw.open(g).error(), knock::errc::firewall_failed);
  EXPECT_EQ(fw.last_error(), "not opened");
  EXPECT_TRUE(fw.expire(0));
  EXPECT_FALSE(fw.list());
  EXPECT_FALSE(fw.flush());
  EXPECT_EQ(fw.commands_run(), 0u);
}

}  // namespace
