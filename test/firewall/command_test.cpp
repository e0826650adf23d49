// SPDX-License-Identifier: MIT
#include <knock/firewall/command.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using knock::grant;
using knock::ip_address;
using knock::ip_protocol;
using knock::firewall::command;
using knock::firewall::command_options;
using knock::firewall::command_values;
namespace detail = knock::firewall::detail;
using strings = std::vector<std::string>;

command_values values() {
  command_values v;
  v.source = *ip_address::parse("10.0.0.5");
  v.packet_source = *ip_address::parse("192.0.2.9");
  v.destination = *ip_address::parse("2001:db8::1");
  v.port = {ip_protocol::udp, 53};
  v.expires = 1700000035;
  v.timeout = 30;
  return v;
}

grant make_grant(std::string_view source, std::vector<knock::port_spec> ports,
                 knock::epoch_seconds expires = 1700000035, std::uint32_t timeout = 30) {
  grant g;
  g.source = *ip_address::parse(source);
  for (auto p : ports) g.ports.push_back(p);
  g.expires = expires;
  g.timeout = timeout;
  g.stanza = 1;
  return g;
}

TEST(command_template, substitutes_every_fwknop_variable) {
  const auto v = values();
  EXPECT_EQ(detail::substitute("$IP,$SRC,$PKT_SRC,$DST", v),
            "10.0.0.5,10.0.0.5,192.0.2.9,2001:db8::1");
  EXPECT_EQ(detail::substitute("$PROTO/$PORT", v), "17/53");  // protocol as a number, as fwknopd
  EXPECT_EQ(detail::substitute("until=$TIMEOUT,for=$CLIENT_TIMEOUT", v), "until=1700000035,for=30");
  EXPECT_EQ(detail::substitute("no variable", v), "no variable");
}

TEST(command_template, matches_names_as_prefixes_like_fwknopd) {
  const auto v = values();
  EXPECT_EQ(detail::substitute("$IPX", v), "10.0.0.5X");
  EXPECT_EQ(detail::substitute("$PORTS", v), "53S");
  EXPECT_EQ(detail::substitute("$$IP", v),
            std::nullopt);  // "$" then "$IP": the first starts nothing
  EXPECT_EQ(detail::substitute("$HOME", v), std::nullopt);
  EXPECT_EQ(detail::substitute("cost$", v), std::nullopt);
}

TEST(command_template, splits_on_blanks_before_substituting) {
  EXPECT_EQ(
      detail::split_command("  /sbin/ipset\tadd  knock $IP,$PROTO:$PORT timeout $CLIENT_TIMEOUT "),
      (strings{"/sbin/ipset", "add", "knock", "$IP,$PROTO:$PORT", "timeout", "$CLIENT_TIMEOUT"}));
  EXPECT_EQ(detail::split_command("a 'b c'"),
            (strings{"a", "'b", "c'"}));  // no quoting, as fwknopd
  EXPECT_TRUE(detail::split_command(" \t ").empty());
}

TEST(command_template, a_value_never_changes_the_argument_count) {
  // Even a value holding blanks and shell syntax stays inside its one argument.
  auto v = values();
  const strings words = detail::split_command("/bin/x --from=$SRC;$DST|$PKT_SRC");
  EXPECT_EQ(detail::command_argv(words, v),
            (strings{"/bin/x", "--from=10.0.0.5;2001:db8::1|192.0.2.9"}));
}

TEST(command, refuses_unknown_variables_missing_programs_and_empty_commands) {
  const auto why = [](const knock::result<command>& r) { return r ? "" : r.error().message; };
  auto unknown = command::open({{{"/bin/true $HOME"}}});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, knock::errc::config_invalid);
  EXPECT_EQ(why(unknown),
            "CMD_CYCLE_OPEN: unknown variable in '$HOME' (known: $IP $SRC $PKT_SRC $DST $PORT "
            "$PROTO $TIMEOUT $CLIENT_TIMEOUT)");
  auto close = command::open({{{"/bin/true", "/bin/true $IPADDR$"}}});
  ASSERT_FALSE(close);
  EXPECT_NE(why(close).find("CMD_CYCLE_CLOSE"), std::string::npos) << why(close);
  auto missing = command::open({{{"no-such-program-knock $IP"}}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(why(missing),
            "CMD_CYCLE_OPEN: program 'no-such-program-knock' not found or not executable");
  EXPECT_FALSE(command::open({{{"$SRC"}}}));
  EXPECT_FALSE(command::open({{{"  "}}}));
  auto found = command::open({{{"true $IP", "NONE"}}});
  EXPECT_TRUE(found) << why(found);  // found on the search path
}

TEST(command, closed_by_default) {
  command c;
  const auto r = c.open(make_grant("10.0.0.5", {{ip_protocol::tcp, 22}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "CMD_CYCLE: not opened");
  EXPECT_TRUE(c.expire(0));
}

class command_cycle : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/knock-cmd-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { fs::remove_all(dir); }
  bool exists(const std::string& name) const { return fs::exists(dir / name); }
  std::size_t files() const {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator{dir}, fs::directory_iterator{}));
  }
  fs::path dir;
};

TEST_F(command_cycle, opens_every_port_and_closes_after_the_timer) {
  const std::string d = dir.string();
  auto c = command::open(
      {{{"touch " + d + "/open-$IP-$PKT_SRC-$DST-$PROTO-$PORT-$TIMEOUT-$CLIENT_TIMEOUT",
         "/usr/bin/touch " + d + "/close-$SRC-$PROTO-$PORT"}}});
  ASSERT_TRUE(c) << c.error().message;
  const grant g = make_grant("10.0.0.5", {{ip_protocol::tcp, 22}, {ip_protocol::udp, 53}});
  const auto opened = c->open(g, *ip_address::parse("192.0.2.9"), *ip_address::parse("192.0.2.1"));
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_TRUE(exists("open-10.0.0.5-192.0.2.9-192.0.2.1-6-22-1700000035-30"));
  EXPECT_TRUE(exists("open-10.0.0.5-192.0.2.9-192.0.2.1-17-53-1700000035-30"));
  EXPECT_EQ(files(), 2u);
  EXPECT_EQ(c->pending(), 2u);
  ASSERT_EQ(c->list().size(), 2u);
  EXPECT_EQ(c->list()[0], "1700000035 /usr/bin/touch " + d + "/close-10.0.0.5-6-22");

  ASSERT_TRUE(c->expire(1700000034));  // the timer has not run out
  EXPECT_EQ(files(), 2u);
  const auto expired = c->expire(1700000035);
  ASSERT_TRUE(expired) << expired.error().message;
  EXPECT_TRUE(exists("close-10.0.0.5-6-22"));
  EXPECT_TRUE(exists("close-10.0.0.5-17-53"));
  EXPECT_EQ(c->pending(), 0u);
  ASSERT_TRUE(c->expire(1700009999));  // each close runs once
  EXPECT_EQ(files(), 4u);
}

TEST_F(command_cycle, closes_in_timer_order_and_on_flush) {
  const std::string d = dir.string();
  auto c = command::open({{{"/bin/true", "/usr/bin/touch " + d + "/$TIMEOUT"}}});
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->open(make_grant("10.0.0.7", {{ip_protocol::tcp, 1}}, 300)));
  ASSERT_TRUE(c->open(make_grant("10.0.0.8", {{ip_protocol::tcp, 1}}, 100)));
  ASSERT_TRUE(c->open(make_grant("2001:db8::8", {{ip_protocol::tcp, 1}}, 200)));
  ASSERT_TRUE(c->expire(150));
  EXPECT_TRUE(exists("100"));
  EXPECT_EQ(files(), 1u);
  ASSERT_TRUE(c->flush());  // --fw-flush / exit: every pending close now
  EXPECT_TRUE(exists("200") && exists("300"));
  EXPECT_EQ(c->pending(), 0u);
}

TEST_F(command_cycle, keeps_shell_syntax_and_values_inside_one_argument) {
  const std::string d = dir.string();
  auto c = command::open({{{"/usr/bin/touch " + d + "/a;rm|$IP&&x>y " + d + "/`$PORT`*"}}});
  ASSERT_TRUE(c);
  const auto opened = c->open(make_grant("10.0.0.5", {{ip_protocol::tcp, 22}}));
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_TRUE(exists("a;rm|10.0.0.5&&x>y"));
  EXPECT_TRUE(exists("`22`*"));
  EXPECT_EQ(files(), 2u);
}

TEST_F(command_cycle, picks_the_stanza_cycle_and_reports_failures) {
  const std::string d = dir.string();
  command_options o;
  o.cycles = {{"/usr/bin/touch " + d + "/two-$PORT", "NONE", 2},
              {"/bin/false", "/usr/bin/touch " + d + "/closed-$PORT", 3}};
  auto c = command::open(o);
  ASSERT_TRUE(c);
  grant g = make_grant("10.0.0.5", {{ip_protocol::tcp, 22}});
  g.stanza = 2;
  ASSERT_TRUE(c->open(g));
  EXPECT_TRUE(exists("two-22"));
  EXPECT_EQ(c->pending(), 0u);  // NONE: nothing to close

  g.stanza = 3;
  const auto failed = c->open(g);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), knock::errc::firewall_failed);
  EXPECT_EQ(failed.error().message, "CMD_CYCLE_OPEN: `/bin/false` exited with 1");
  EXPECT_EQ(c->pending(), 1u);  // the open ran: its close is still due

  g.stanza = 1;
  const auto none = c->open(g);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message, "CMD_CYCLE: no command cycle for stanza 1");
}

}  // namespace
