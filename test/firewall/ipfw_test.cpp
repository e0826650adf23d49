// SPDX-License-Identifier: MIT
// knock::firewall::ipfw: the rule text (pure), and the backend against the recording ipfw stub
// (test/firewall/oracle/fwstub.py, python3), unprivileged.
#include <knock/firewall/ipfw.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

using namespace knock;
using namespace knock::firewall;
namespace fs = std::filesystem;

ip_address ip(std::string_view s) { return *ip_address::parse(s); }

grant make_grant(std::string_view source, epoch_seconds expires,
                 std::initializer_list<port_spec> ports) {
  grant g;
  g.source = ip(source);
  for (auto p : ports) g.ports.push_back(p);
  g.expires = expires;
  g.timeout = 30;
  return g;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out.append(out.empty() ? "" : " ").append(s);
  return out;
}

TEST(ipfw_rules, adds_fwknopds_rule) {
  ipfw_rules::options o;
  EXPECT_EQ(joined(ipfw_rules::add_arguments(o, 10001, ip("192.0.2.7"), {ip_protocol::tcp, 22},
                                             1700000035)),
            "add 10001 set 1 pass 6 from 192.0.2.7 to me dst-port 22 setup keep-state // "
            "_exp_1700000035");
  EXPECT_EQ(
      joined(ipfw_rules::add_arguments(o, 10002, ip("2001:db8::7"), {ip_protocol::udp, 53}, 5)),
      "add 10002 set 1 pass 17 from 2001:db8::7 to me6 dst-port 53 keep-state // _exp_5");
}

TEST(ipfw_rules, reads_listings_and_dynamic_rules) {
  const auto rules = ipfw_rules::parse_listing(
      "10000 check-state\n"
      "10001 allow tcp from 192.0.2.7 to me dst-port 22 setup keep-state // _exp_1700000035\n"
      "# DISABLED 10002 set 2 allow tcp from 192.0.2.8 to me dst-port 22 // _exp_99\n"
      "10003 allow tcp from any to any // _exp_12x\n"
      "## Dynamic rules (1):\n"
      "10001 0 0 (300s) STATE tcp 192.0.2.7 50000 <-> 192.0.2.1 22\n");
  ASSERT_EQ(rules.size(), 4u);
  EXPECT_EQ(rules[0].number, 10000u);
  EXPECT_FALSE(rules[0].expires);
  EXPECT_EQ(rules[1].expires, 1700000035);
  EXPECT_TRUE(rules[2].disabled);
  EXPECT_EQ(rules[2].number, 10002u);
  EXPECT_FALSE(rules[3].expires);
  EXPECT_EQ(ipfw_rules::dynamic_rule_numbers("10001 x\n## Dynamic rules (2):\n10001 0 0\n"
                                             "10009 0 0\n"),
            (std::set<std::uint32_t>{10001, 10009}));
}

config::fwknopd_conf conf_of(std::string_view text) {
  auto c = config::parse_fwknopd_conf(text, "fwknopd.conf");
  EXPECT_TRUE(c) << (c ? "" : config::to_string(c.error()));
  return *c;
}

TEST(ipfw_rules, enable_destination_rule_writes_the_packets_destination_as_fwknopd) {
  // fwknopd's ipfw rule with ENABLE_DESTINATION_RULE Y: `to <the SPA packet's destination>`.
  ipfw_rules::options o;
  o.use_destination = true;
  EXPECT_EQ(joined(ipfw_rules::add_arguments(o, 10001, ip("192.0.2.7"), {ip_protocol::tcp, 22}, 9,
                                             ip("198.51.100.9"))),
            "add 10001 set 1 pass 6 from 192.0.2.7 to 198.51.100.9 dst-port 22 setup keep-state // "
            "_exp_9");
  EXPECT_FALSE(ipfw::settings(conf_of(""))->use_destination);
  EXPECT_TRUE(ipfw::settings(conf_of("ENABLE_DESTINATION_RULE Y\n"))->use_destination);
  EXPECT_FALSE(ipfw::check(conf_of("ENABLE_DESTINATION_RULE maybe\n")));
}

TEST(ipfw, reads_fwknopds_variables_with_its_defaults) {
  auto o = ipfw::settings(conf_of(""));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->start_rule, 10000u);
  EXPECT_EQ(o->max_rules, 65535u);
  EXPECT_EQ(o->last_rule(), 65534u);
  EXPECT_EQ(o->active_set, 1u);
  EXPECT_EQ(o->expire_set, 2u);
  EXPECT_EQ(o->purge_interval, 30u);
  EXPECT_FALSE(o->add_check_state);
  EXPECT_TRUE(o->flush_at_open && o->flush_at_stop);
  o =
      ipfw::settings(conf_of("IPFW_ACTIVE_SET_NUM 0\nIPFW_EXPIRE_SET_NUM 0\nIPFW_MAX_RULES 10\n"
                             "IPFW_ADD_CHECK_STATE Y\n"));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->last_rule(), 10009u);
  EXPECT_TRUE(o->add_check_state);
}

TEST(ipfw, refuses_bad_values_at_their_line) {
  for (const char* bad :
       {"IPFW_START_RULE_NUM 0", "IPFW_START_RULE_NUM 65535", "IPFW_MAX_RULES 0",
        "IPFW_MAX_RULES 131072", "IPFW_ACTIVE_SET_NUM 32", "IPFW_EXPIRE_SET_NUM 1",
        "IPFW_EXPIRE_SET_NUM 31", "IPFW_EXPIRE_PURGE_INTERVAL 0", "IPFW_ADD_CHECK_STATE maybe",
        "FLUSH_IPFW_AT_INIT x", "FIREWALL_EXE ipfw"}) {
    const auto e = ipfw::check(conf_of(std::string{"# x\n"} + bad + "\n"));
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().line, 2u) << bad;
  }
}

struct stub {
  fs::path dir;
  stub() {
    dir = fs::temp_directory_path() /
          ("knock-ipfw-test-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    const std::string cmd = "python3 " KNOCK_FWSTUB " init '" + dir.string() + "' ipfw";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
  }
  ~stub() { fs::remove_all(dir); }
  void set(std::string_view key, std::string_view json) const {
    const std::string cmd = "python3 " KNOCK_FWSTUB " set '" + dir.string() + "' " +
                            std::string{key} + " '" + std::string{json} + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
  }
  std::string state() const {
    std::ifstream f{dir / "state.json"};
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }
  ipfw_rules::options options() const {
    ipfw_rules::options o;
    o.ipfw = (dir / "ipfw").string();
    o.command_timeout = std::chrono::milliseconds{3000};
    return o;
  }
};

bool have_python() { return std::system("python3 -c '' 2>/dev/null") == 0; }

TEST(ipfw, grants_expire_to_the_disabled_set_and_purge_spares_live_connections) {
  if (!have_python()) GTEST_SKIP() << "python3 not found";
  stub s;
  auto o = s.options();
  o.purge_interval = 120;
  auto fw = ipfw::open(o);
  ASSERT_TRUE(fw) << fw.error().message;
  EXPECT_NE(s.state().find("\"disabled\": [2]"), std::string::npos) << s.state();
  ASSERT_TRUE(
      fw->open(make_grant("192.0.2.7", 100, {{ip_protocol::tcp, 22}, {ip_protocol::udp, 53}})));
  ASSERT_TRUE(fw->open(make_grant("192.0.2.8", 200, {{ip_protocol::tcp, 22}})));
  auto lines = fw->list();
  ASSERT_TRUE(lines);
  ASSERT_EQ(lines->size(), 3u);
  EXPECT_EQ((*lines)[0],
            "10000 0 set 1 allow tcp from 192.0.2.7 to me dst-port 22 setup keep-state // "
            "_exp_100");
  EXPECT_EQ((*lines)[2].substr(0, 5), "10001");
  ASSERT_TRUE(fw->expire(50));  // nothing due; the purge clock starts: first purge at 170
  ASSERT_TRUE(fw->expire(100));
  EXPECT_NE(s.state().find("{\"num\": 10000, \"set\": 2"), std::string::npos) << s.state();
  EXPECT_NE(s.state().find("{\"num\": 10001, \"set\": 1"), std::string::npos) << s.state();
  s.set("dynamic", R"({"10000": 1})");  // a connection made during the first grant lives on
  ASSERT_TRUE(fw->expire(200));         // moves 10001, then purges the expired numbers without one
  EXPECT_NE(s.state().find("\"num\": 10000"), std::string::npos) << "live: kept";
  EXPECT_EQ(s.state().find("\"num\": 10001"), std::string::npos) << "no connection: deleted";
  EXPECT_EQ(fw->numbers_in_use(), 1u);
  ASSERT_TRUE(fw->open(make_grant("192.0.2.9", 900, {{ip_protocol::tcp, 22}})));
  EXPECT_NE(s.state().find("{\"num\": 10001, \"set\": 1"), std::string::npos)
      << "the purged number is free again";
  ASSERT_TRUE(fw->flush());
  EXPECT_EQ(s.state().find("\"set\": 1,"), std::string::npos) << s.state();
  EXPECT_NE(s.state().find("\"num\": 10000"), std::string::npos) << "the expire set stays";
}

TEST(ipfw, refuses_a_grant_when_the_rule_range_is_full) {
  if (!have_python()) GTEST_SKIP() << "python3 not found";
  stub s;
  auto o = s.options();
  o.start_rule = 65533;  // 65533, 65534: two numbers, whatever IPFW_MAX_RULES says
  o.add_check_state = true;
  auto fw = ipfw::open(o);
  ASSERT_TRUE(fw) << fw.error().message;
  EXPECT_NE(s.state().find("check-state"), std::string::npos);
  ASSERT_TRUE(fw->open(make_grant("192.0.2.7", 100, {{ip_protocol::tcp, 22}})));
  auto r = fw->open(make_grant("192.0.2.8", 100, {{ip_protocol::tcp, 22}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::firewall_failed);
  EXPECT_NE(r.error().message.find("no free rule number in 65533..65534"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(s.state().find("192.0.2.8"), std::string::npos) << "nothing opened";
}

TEST(ipfw, a_failing_ipfw_refuses_the_grant_and_leaves_nothing_half_open) {
  if (!have_python()) GTEST_SKIP() << "python3 not found";
  stub s;
  auto fw = ipfw::open(s.options());
  ASSERT_TRUE(fw);
  s.set("broken", "\"fail\"");
  auto r = fw->open(make_grant("192.0.2.7", 100, {{ip_protocol::tcp, 22}}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("ipfw: `"), std::string::npos) << r.error().message;
  s.set("broken", "null");
  ASSERT_TRUE(fw->open(make_grant("192.0.2.7", 100, {{ip_protocol::tcp, 22}})));
  EXPECT_NE(s.state().find("\"num\": 10000"), std::string::npos) << "the number was not lost";
}

}  // namespace
