// SPDX-License-Identifier: MIT
// knock::firewall::pf: the rule text (pure), and the backend against the recording pfctl stub
// (test/firewall/oracle/fwstub.py, python3), unprivileged.
#include <knock/firewall/pf.hpp>

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

TEST(pfctl_rules, writes_fwknopds_rule_text) {
  EXPECT_EQ(pfctl::rule_text(ip("192.0.2.7"), {ip_protocol::tcp, 22}, 1700000035),
            "pass in quick proto 6 from 192.0.2.7 to any port 22 keep state label _exp_1700000035");
  EXPECT_EQ(pfctl::rule_text(ip("2001:db8::7"), {ip_protocol::udp, 53}, 5),
            "pass in quick proto 17 from 2001:db8::7 to any port 53 keep state label _exp_5");
}

TEST(pfctl_rules, reads_the_expiry_of_a_listed_label) {
  EXPECT_EQ(pfctl::label_expiry(R"(pass in quick proto tcp ... label "_exp_1700000035")"),
            1700000035);
  EXPECT_EQ(pfctl::label_expiry("pass ... label _exp_42"), 42);
  EXPECT_FALSE(pfctl::label_expiry(R"(pass in label "admin")"));
  EXPECT_FALSE(pfctl::label_expiry(R"(pass in label "_exp_12x")"));
  EXPECT_FALSE(pfctl::label_expiry(R"(pass in label "_exp_")"));
  const auto rules = pfctl::parse_rules("  pass a label \"_exp_9\"\n\npass b\n");
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].text, "pass a label \"_exp_9\"");
  EXPECT_EQ(rules[0].expires, 9);
  EXPECT_FALSE(rules[1].expires);
}

TEST(pfctl_rules, finds_a_referenced_anchor_by_its_whole_name) {
  EXPECT_TRUE(pfctl::lists_anchor("  ftp-proxy\n  fwknop\n", "fwknop"));
  EXPECT_FALSE(pfctl::lists_anchor("  fwknop2\n  ftp-proxy/*\n", "fwknop"));
  EXPECT_FALSE(pfctl::lists_anchor("", "fwknop"));
}

TEST(pfctl_rules, refuses_anchor_names_pf_would) {
  EXPECT_EQ(pfctl::anchor_problem("fwknop"), "");
  EXPECT_EQ(pfctl::anchor_problem("knock/grants"), "");
  EXPECT_NE(pfctl::anchor_problem(""), "");
  EXPECT_NE(pfctl::anchor_problem("_fwknop"), "");
  EXPECT_NE(pfctl::anchor_problem("a b"), "");
  EXPECT_NE(pfctl::anchor_problem("a\"b"), "");
  EXPECT_NE(pfctl::anchor_problem(std::string(64, 'a')), "");
}

config::fwknopd_conf conf_of(std::string_view text) {
  auto c = config::parse_fwknopd_conf(text, "fwknopd.conf");
  EXPECT_TRUE(c) << (c ? "" : config::to_string(c.error()));
  return *c;
}

TEST(pf, reads_fwknopds_variables_with_its_defaults) {
  auto o = pf::settings(conf_of(""));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->anchor, "fwknop");
  EXPECT_EQ(o->expire_interval, 30u);
  o = pf::settings(conf_of("PF_ANCHOR_NAME knock\nPF_EXPIRE_INTERVAL 131071\n"));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->anchor, "knock");
  EXPECT_EQ(o->expire_interval, 131071u);
}

TEST(pf, refuses_bad_values_at_their_line) {
  for (const char* bad : {"PF_EXPIRE_INTERVAL 0", "PF_EXPIRE_INTERVAL 131072",
                          "PF_EXPIRE_INTERVAL x", "PF_ANCHOR_NAME _x", "PF_ANCHOR_NAME a b",
                          "FIREWALL_EXE pfctl", "FIREWALL_EXE /nonexistent/pfctl"}) {
    const auto e = pf::check(conf_of(std::string{"# x\n"} + bad + "\n"));
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().line, 2u) << bad;
    EXPECT_EQ(e.error().key, std::string_view{bad}.substr(0, std::string_view{bad}.find(' ')));
  }
}

/// A stub pfctl in a fresh directory.
struct stub {
  fs::path dir;
  explicit stub(std::string_view initial) {
    dir = fs::temp_directory_path() /
          ("knock-pf-test-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    const std::string cmd =
        "python3 " KNOCK_FWSTUB " init '" + dir.string() + "' pfctl '" + std::string{initial} + "'";
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
  pfctl::options options() const {
    pfctl::options o;
    o.pfctl = (dir / "pfctl").string();
    o.command_timeout = std::chrono::milliseconds{3000};
    return o;
  }
};

bool have_python() { return std::system("python3 -c '' 2>/dev/null") == 0; }

TEST(pf, enable_destination_rule_writes_the_packets_destination_as_fwknopd) {
  // fwknopd's PF rule with ENABLE_DESTINATION_RULE Y: `to <the SPA packet's destination>`.
  EXPECT_EQ(pfctl::rule_text(ip("192.0.2.7"), {ip_protocol::tcp, 22}, 9, "198.51.100.9"),
            "pass in quick proto 6 from 192.0.2.7 to 198.51.100.9 port 22 keep state label _exp_9");
  EXPECT_FALSE(pf::settings(conf_of(""))->use_destination);
  EXPECT_TRUE(pf::settings(conf_of("ENABLE_DESTINATION_RULE Y\n"))->use_destination);
  EXPECT_FALSE(pf::check(conf_of("ENABLE_DESTINATION_RULE maybe\n")));
}

TEST(pf, grants_expires_lists_and_flushes_through_pfctl) {
  if (!have_python()) GTEST_SKIP() << "python3 not found";
  stub s{
      R"({"referenced": ["fwknop"], "anchors": {"fwknop": ["pass in quick proto tcp from 192.0.2.9 to any port = 80 flags S/SA label \"_exp_1\""]}})"};
  auto o = s.options();
  o.expire_interval = 10'000;
  auto fw = pf::open(o);
  ASSERT_TRUE(fw) << fw.error().message;
  EXPECT_EQ(s.state().find("192.0.2.9"), std::string::npos) << "start-up empties the anchor";
  ASSERT_TRUE(
      fw->open(make_grant("192.0.2.7", 1000, {{ip_protocol::tcp, 22}, {ip_protocol::udp, 53}})));
  ASSERT_TRUE(fw->open(make_grant("::ffff:192.0.2.8", 2000, {{ip_protocol::tcp, 22}})));
  auto lines = fw->list();
  ASSERT_TRUE(lines);
  ASSERT_EQ(lines->size(), 3u);
  EXPECT_EQ((*lines)[0],
            "pass in quick inet proto tcp from 192.0.2.7 to any port = 22 flags S/SA label "
            "\"_exp_1000\"");
  EXPECT_EQ((*lines)[2],
            "pass in quick inet proto tcp from 192.0.2.8 to any port = 22 flags S/SA label "
            "\"_exp_2000\"");
  ASSERT_TRUE(fw->expire(500));  // the first call looks (rules an earlier run left)
  const auto before = fw->commands_run();
  ASSERT_TRUE(fw->expire(999));
  EXPECT_EQ(fw->commands_run(), before) << "nothing due, no interval passed: no process";
  ASSERT_TRUE(fw->expire(1000));
  lines = fw->list();
  ASSERT_TRUE(lines);
  ASSERT_EQ(lines->size(), 1u);
  EXPECT_NE((*lines)[0].find("192.0.2.8"), std::string::npos);
  ASSERT_TRUE(fw->flush());
  EXPECT_EQ(fw->list()->size(), 0u);
  EXPECT_EQ(s.state().find("states_flushed"), std::string::npos)
      << "knock never flushes the host's states";
}

TEST(pf, keeps_the_admins_rules_in_the_anchor) {
  if (!have_python()) GTEST_SKIP() << "python3 not found";
  stub s{R"({"referenced": ["fwknop"]})"};
  auto fw = pf::open(s.options());
  ASSERT_TRUE(fw);
  ASSERT_TRUE(fw->open(make_grant("192.0.2.7", 10, {{ip_protocol::tcp, 22}})));
  s.set(
      "anchors",
      R"({"fwknop": ["pass in quick inet proto tcp from 192.0.2.1 to any port = 25 flags S/SA", "pass in quick inet proto tcp from 192.0.2.7 to any port = 22 flags S/SA label \"_exp_10\""]})");
  ASSERT_TRUE(fw->expire(10));
  auto lines = fw->list();
  ASSERT_TRUE(lines);
  ASSERT_EQ(lines->size(), 1u);
  EXPECT_NE((*lines)[0].find("192.0.2.1"), std::string::npos);
}

TEST(pf, refuses_an_anchor_the_main_rule_set_does_not_refer_to) {
  if (!have_python()) GTEST_SKIP() << "python3 not found";
  stub s{R"({"referenced": ["ftp-proxy"]})"};
  auto fw = pf::open(s.options());
  ASSERT_FALSE(fw);
  EXPECT_EQ(fw.error().code, errc::firewall_failed);
  EXPECT_NE(fw.error().message.find("anchor 'fwknop' is not referenced"), std::string::npos)
      << fw.error().message;
  EXPECT_TRUE(pf::attach(s.options())) << "--fw-list / --fw-flush do not need it";
}

TEST(pf, refuses_the_grant_when_pfctl_fails_or_hangs) {
  if (!have_python()) GTEST_SKIP() << "python3 not found";
  stub s{R"({"referenced": ["fwknop"]})"};
  auto o = s.options();
  o.command_timeout = std::chrono::milliseconds{1500};
  auto fw = pf::open(o);
  ASSERT_TRUE(fw);
  s.set("broken", "\"fail\"");
  auto r = fw->open(make_grant("192.0.2.7", 10, {{ip_protocol::tcp, 22}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::firewall_failed);
  EXPECT_NE(r.error().message.find("pf: `"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("broken (test hook)"), std::string::npos);
  s.set("broken", "\"hang\"");
  r = fw->open(make_grant("192.0.2.7", 10, {{ip_protocol::tcp, 22}}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("timed out"), std::string::npos) << r.error().message;
  s.set("broken", "null");
  EXPECT_TRUE(fw->open(make_grant("192.0.2.7", 10, {{ip_protocol::tcp, 22}})));
}

TEST(pf, a_closed_backend_fails_every_call) {
  pf fw;
  EXPECT_FALSE(fw.open(make_grant("192.0.2.7", 10, {{ip_protocol::tcp, 22}})));
  EXPECT_FALSE(fw.list());
  EXPECT_FALSE(fw.flush());
  EXPECT_TRUE(fw.stop());
}

}  // namespace
