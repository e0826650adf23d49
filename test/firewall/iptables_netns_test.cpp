// SPDX-License-Identifier: MIT
// knock::firewall::iptables against the real kernel, inside network namespaces (root only).
#include <knock/firewall/iptables.hpp>

#include "netns.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <string>

namespace {

using knock::grant;
using knock::ip_address;
using knock::ip_protocol;
using knock::firewall::iptables;
using knock::firewall::iptables_options;
using knock::test::can_connect;
using knock::test::inside;
using knock::test::ok;
using knock::test::run_ok;

constexpr std::uint16_t ssh = 2222;

#define KNOCK_NEEDS_ROOT()                                                        \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces"; \
  if (knock::test::ip_program().empty()) GTEST_SKIP() << "needs iproute2 (ip)";   \
  if (knock::system::find_executable("iptables").empty()) GTEST_SKIP() << "needs iptables"

ip_address addr(const char* text) { return *ip_address::parse(text); }

grant make_grant(const char* source, knock::epoch_seconds expires) {
  grant g;
  g.source = addr(source);
  g.ports.push_back({ip_protocol::tcp, ssh});
  g.timeout = 30;
  g.expires = expires;
  return g;
}

std::size_t count(const std::vector<std::string>& lines, std::string_view what) {
  std::size_t n = 0;
  for (const auto& l : lines) n += l.find(what) != std::string::npos;
  return n;
}

TEST(iptables_netns, grants_lists_expires_and_flushes_like_fwknopd) {
  KNOCK_NEEDS_ROOT();
  const bool host_had_chain = knock::test::host_ruleset().find("FWKNOP_INPUT") != std::string::npos;
  knock::test::lab lab;
  ASSERT_TRUE(lab.ok);
  const auto listener = knock::test::listen_in(lab.s, ssh);
  ASSERT_TRUE(listener);
  struct host_check {  // whatever happens below, the host must not see a chain appear
    bool had;
    ~host_check() {
      if (!had) {
        EXPECT_EQ(knock::test::host_ruleset().find("FWKNOP_INPUT"), std::string::npos)
            << "the host's ruleset must never see FWKNOP_INPUT";
      }
    }
  } host{host_had_chain};
  inside server{lab.s};
  ASSERT_TRUE(server.ok());
  const std::string ipt = knock::system::find_executable("iptables");
  const std::string ip6t = knock::system::find_executable("ip6tables");
  // The server's default policy for the protected port: drop (fwknopd expects the admin's).
  ASSERT_TRUE(run_ok({ipt, "-A", "INPUT", "-p", "tcp", "--dport", "2222", "-j", "DROP"}));
  ASSERT_TRUE(run_ok({ip6t, "-A", "INPUT", "-p", "tcp", "--dport", "2222", "-j", "DROP"}));
  EXPECT_FALSE(can_connect(lab.c, addr("10.77.1.1"), ssh));

  auto fw = iptables::open();
  ASSERT_TRUE(ok(fw));
  std::string input;
  ASSERT_TRUE(run_ok({ipt, "-S", "INPUT"}, &input));
  EXPECT_NE(input.find("-A INPUT -j FWKNOP_INPUT\n-A INPUT -p tcp -m tcp --dport 2222 -j DROP"),
            std::string::npos)
      << input;  // the jump comes first

  const knock::epoch_seconds now = std::time(nullptr), until = now + 30;
  ASSERT_TRUE(ok(fw->open(make_grant("10.77.1.2", until))));
  ASSERT_TRUE(ok(fw->open(make_grant("fd77:1::2", until))));
  EXPECT_TRUE(can_connect(lab.c, addr("10.77.1.1"), ssh));
  EXPECT_TRUE(can_connect(lab.c, addr("fd77:1::1"), ssh));
  EXPECT_FALSE(can_connect(lab.x, addr("10.77.2.1"), ssh));
  EXPECT_FALSE(can_connect(lab.x, addr("fd77:2::1"), ssh));

  std::string rules;
  ASSERT_TRUE(run_ok({ipt, "-S", "FWKNOP_INPUT"}, &rules));
  EXPECT_NE(rules.find("-A FWKNOP_INPUT -s 10.77.1.2/32 -p tcp -m tcp --dport 2222 -m comment "
                       "--comment _exp_" +
                       std::to_string(until) + " -j ACCEPT"),
            std::string::npos)
      << rules;

  // The same grant in the same second is found by -C: one process, no second rule (spec Q15).
  const std::size_t before = fw->commands_run();
  ASSERT_TRUE(fw->open(make_grant("10.77.1.2", until)));
  EXPECT_EQ(fw->commands_run(), before + 1);
  auto listed = fw->list();
  ASSERT_TRUE(ok(listed));
  EXPECT_EQ(count(*listed, "_exp_" + std::to_string(until)), 2u);  // one IPv4, one IPv6
  EXPECT_EQ(count(*listed, "10.77.1.2"), 1u);
  EXPECT_EQ(count(*listed, "fd77:1::2"), 1u);
  for (const auto& l : *listed) std::cout << "  | " << l << "\n";
  auto admin = iptables::attach();  // --fw-list next to the running daemon: changes nothing
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->list()->size(), listed->size());

  // expire() before anything is due runs nothing until the periodic check (every 20th call).
  const std::size_t quiet = fw->commands_run();
  for (int i = 1; i < 20; ++i) ASSERT_TRUE(fw->expire(now));
  EXPECT_EQ(fw->commands_run(), quiet);
  ASSERT_TRUE(fw->expire(now));  // the 20th: lists both chains, deletes nothing
  EXPECT_EQ(fw->commands_run(), quiet + 2);
  EXPECT_TRUE(can_connect(lab.c, addr("10.77.1.1"), ssh));

  // A fake clock past the _exp_: both rules go, by number.
  ASSERT_TRUE(ok(fw->expire(until)));
  EXPECT_EQ(fw->commands_run(), quiet + 2 + 4);  // per family: one listing, one delete
  listed = fw->list();
  ASSERT_TRUE(listed);
  EXPECT_EQ(count(*listed, "_exp_"), 0u);
  EXPECT_FALSE(can_connect(lab.c, addr("10.77.1.1"), ssh));
  EXPECT_FALSE(can_connect(lab.c, addr("fd77:1::1"), ssh));
  const std::size_t after = fw->commands_run();
  ASSERT_TRUE(fw->expire(until + 1));  // nothing known to be due: nothing run
  EXPECT_EQ(fw->commands_run(), after);

  // Rules of others in the chain are left alone, and a restart that keeps the chain finds ours.
  ASSERT_TRUE(run_ok({ipt, "-A", "FWKNOP_INPUT", "-s", "192.0.2.7", "-j", "ACCEPT"}));
  ASSERT_TRUE(fw->open(make_grant("10.77.1.2", until + 5)));
  iptables_options keep;
  keep.flush_at_open = false;
  auto restarted = iptables::open(keep);
  ASSERT_TRUE(ok(restarted));
  ASSERT_TRUE(ok(restarted->expire(until + 5)));
  listed = restarted->list();
  ASSERT_TRUE(listed);
  EXPECT_EQ(count(*listed, "_exp_"), 0u);
  EXPECT_EQ(count(*listed, "192.0.2.7"), 1u);

  // --fw-flush: jump, rules and chain gone, in both families.
  ASSERT_TRUE(ok(fw->flush()));
  EXPECT_FALSE(knock::test::succeeds({ipt, "-n", "-L", "FWKNOP_INPUT"}));
  EXPECT_FALSE(knock::test::succeeds({ip6t, "-n", "-L", "FWKNOP_INPUT"}));
  ASSERT_TRUE(run_ok({ipt, "-S", "INPUT"}, &input));
  EXPECT_EQ(input.find("FWKNOP_INPUT"), std::string::npos) << input;
  const auto unlisted = fw->list();
  ASSERT_FALSE(unlisted);
  EXPECT_EQ(unlisted.error().message.rfind("iptables: `" + ipt +
                                               " -t filter -L FWKNOP_INPUT "
                                               "--line-numbers -n` exited with ",
                                           0),
            0u)
      << unlisted.error().message;
}

TEST(iptables_netns, recreates_a_chain_deleted_under_it_and_says_when_it_cannot) {
  KNOCK_NEEDS_ROOT();
  knock::test::lab lab;
  ASSERT_TRUE(lab.ok);
  const auto listener = knock::test::listen_in(lab.s, ssh);
  ASSERT_TRUE(listener);
  inside server{lab.s};
  ASSERT_TRUE(server.ok());
  const std::string ipt = knock::system::find_executable("iptables");
  ASSERT_TRUE(run_ok({ipt, "-A", "INPUT", "-p", "tcp", "--dport", "2222", "-j", "DROP"}));
  iptables_options o;
  o.ip6tables.clear();
  o.rules_check_threshold = 2;
  auto fw = iptables::open(o);
  ASSERT_TRUE(ok(fw));
  const knock::epoch_seconds until = std::time(nullptr) + 30;

  // Jump and chain deleted: the next grant re-creates both (jump first in INPUT) and goes through.
  ASSERT_TRUE(run_ok({ipt, "-D", "INPUT", "-j", "FWKNOP_INPUT"}));
  ASSERT_TRUE(run_ok({ipt, "-X", "FWKNOP_INPUT"}));
  ASSERT_TRUE(ok(fw->open(make_grant("10.77.1.2", until))));
  EXPECT_EQ(fw->repairs(), 1u);
  std::string input;
  ASSERT_TRUE(run_ok({ipt, "-S", "INPUT"}, &input));
  EXPECT_NE(input.find("-A INPUT -j FWKNOP_INPUT\n-A INPUT -p tcp"), std::string::npos) << input;
  EXPECT_TRUE(can_connect(lab.c, addr("10.77.1.1"), ssh));
  EXPECT_FALSE(can_connect(lab.x, addr("10.77.2.1"), ssh));

  // Deleted again, no grant: the periodic expire (every 2nd call here) finds it and re-creates it.
  ASSERT_TRUE(run_ok({ipt, "-D", "INPUT", "-j", "FWKNOP_INPUT"}));
  ASSERT_TRUE(run_ok({ipt, "-F", "FWKNOP_INPUT"}));
  ASSERT_TRUE(run_ok({ipt, "-X", "FWKNOP_INPUT"}));
  ASSERT_TRUE(ok(fw->expire(0)));
  ASSERT_TRUE(ok(fw->expire(0)));
  EXPECT_EQ(fw->repairs(), 2u);
  EXPECT_TRUE(knock::test::succeeds({ipt, "-C", "INPUT", "-j", "FWKNOP_INPUT"}));

  // A grant that fails for another reason (a target that does not exist) is not a repair, and
  // the error names the command and iptables' message.
  iptables_options bad = o;
  bad.target = "NO_SUCH_TARGET";
  bad.flush_at_open = false;
  auto broken = iptables::open(bad);
  ASSERT_TRUE(ok(broken));
  const auto refused = broken->open(make_grant("10.77.1.3", until));
  ASSERT_FALSE(refused);
  EXPECT_EQ(broken->repairs(), 0u);
  const std::string& why = refused.error().message;
  EXPECT_EQ(why.rfind("iptables: `" + ipt + " -A FWKNOP_INPUT", 0), 0u) << why;
  EXPECT_NE(why.find("` exited with "), std::string::npos) << why;
  EXPECT_EQ(why.find("re-creating"), std::string::npos) << why;

  // The program gone (here: never runnable) is said as such, not as an exit status.
  iptables_options gone = o;
  gone.iptables = "/dev/null";  // exists, is not executable: access() already refuses it
  const auto unusable = iptables::attach(gone);
  ASSERT_FALSE(unusable);
  EXPECT_EQ(unusable.error().message, "iptables: /dev/null: not found or not executable");
  ASSERT_TRUE(fw->flush());
}

// ENABLE_IPT_OUTPUT Y and ENABLE_DESTINATION_RULE Y, as Debian's fwknopd 2.6.10 set them up in a
// namespace (iptables-save after `fwknop -A tcp/22 -a 10.77.0.2` sent to 10.77.0.1):
//   -A INPUT -j FWKNOP_INPUT
//   -A OUTPUT -j FWKNOP_OUTPUT
//   -A FWKNOP_INPUT -s 10.77.0.2/32 -d 10.77.0.1/32 -p tcp -m tcp --dport 22 -m comment ... -j
//   ACCEPT -A FWKNOP_OUTPUT -s 10.77.0.1/32 -d 10.77.0.2/32 -p tcp -m tcp --sport 22 -m comment ...
//   -j ACCEPT
// and both rules gone at expiry, both chains at exit. Here the server drops the port both ways,
// so a connection needs both rules; and the client has a route to the server's other address,
// which the destination rule keeps closed.
TEST(iptables_netns, output_chain_and_destination_rule_like_fwknopd) {
  KNOCK_NEEDS_ROOT();
  knock::test::lab lab;
  ASSERT_TRUE(lab.ok);
  ASSERT_TRUE(run_ok({knock::test::ip_program(), "-n", lab.c.name(), "route", "add", "10.77.2.0/24",
                      "via", "10.77.1.1"}));
  const auto listener = knock::test::listen_in(lab.s, ssh);
  ASSERT_TRUE(listener);
  inside server{lab.s};
  ASSERT_TRUE(server.ok());
  const std::string ipt = knock::system::find_executable("iptables");
  const std::string ip6t = knock::system::find_executable("ip6tables");
  for (const auto& exe : {ipt, ip6t}) {
    ASSERT_TRUE(run_ok({exe, "-A", "INPUT", "-p", "tcp", "--dport", "2222", "-j", "DROP"}));
    ASSERT_TRUE(run_ok({exe, "-A", "OUTPUT", "-p", "tcp", "--sport", "2222", "-j", "DROP"}));
  }
  iptables_options o;
  o.use_output = true;
  o.use_destination = true;
  auto fw = iptables::open(o);
  ASSERT_TRUE(ok(fw));
  std::string output;
  ASSERT_TRUE(run_ok({ipt, "-S", "OUTPUT"}, &output));
  EXPECT_NE(output.find("-A OUTPUT -j FWKNOP_OUTPUT\n-A OUTPUT -p tcp -m tcp --sport 2222 -j DROP"),
            std::string::npos)
      << output;
  EXPECT_FALSE(can_connect(lab.c, addr("10.77.1.1"), ssh));

  const knock::epoch_seconds until = std::time(nullptr) + 30;
  auto g = make_grant("10.77.1.2", until);
  g.destination = addr("10.77.1.1");
  ASSERT_TRUE(ok(fw->open(g)));
  auto g6 = make_grant("fd77:1::2", until);
  g6.destination = addr("fd77:1::1");
  ASSERT_TRUE(ok(fw->open(g6)));
  const std::string exp = " -m comment --comment _exp_" + std::to_string(until) + " -j ACCEPT";
  std::string rules;
  ASSERT_TRUE(run_ok({ipt, "-S", "FWKNOP_INPUT"}, &rules));
  EXPECT_NE(rules.find("-A FWKNOP_INPUT -s 10.77.1.2/32 -d 10.77.1.1/32 -p tcp -m tcp --dport "
                       "2222" +
                       exp),
            std::string::npos)
      << rules;
  ASSERT_TRUE(run_ok({ipt, "-S", "FWKNOP_OUTPUT"}, &rules));
  EXPECT_NE(rules.find("-A FWKNOP_OUTPUT -s 10.77.1.1/32 -d 10.77.1.2/32 -p tcp -m tcp --sport "
                       "2222" +
                       exp),
            std::string::npos)
      << rules;
  ASSERT_TRUE(run_ok({ip6t, "-S", "FWKNOP_OUTPUT"}, &rules));
  EXPECT_NE(rules.find("-A FWKNOP_OUTPUT -s fd77:1::1/128 -d fd77:1::2/128 -p tcp -m tcp --sport "
                       "2222" +
                       exp),
            std::string::npos)
      << rules;
  EXPECT_TRUE(can_connect(lab.c, addr("10.77.1.1"), ssh));
  EXPECT_TRUE(can_connect(lab.c, addr("fd77:1::1"), ssh));
  EXPECT_FALSE(can_connect(lab.c, addr("10.77.2.1"), ssh));  // the server, not the SPA's address
  EXPECT_FALSE(can_connect(lab.x, addr("10.77.2.1"), ssh));

  // Without its output rule the grant does not work: the replies are dropped.
  ASSERT_TRUE(run_ok({ipt, "-D", "FWKNOP_OUTPUT", "1"}));
  EXPECT_FALSE(can_connect(lab.c, addr("10.77.1.1"), ssh));
  EXPECT_FALSE(fw->open(make_grant("10.77.1.2", until)));  // no destination: refused
  ASSERT_TRUE(ok(fw->open(g)));  // -C finds the access rule; the output rule is added again
  EXPECT_TRUE(can_connect(lab.c, addr("10.77.1.1"), ssh));

  auto listed = fw->list();  // --fw-list: both chains, both families
  ASSERT_TRUE(ok(listed));
  for (const auto& l : *listed) std::cout << "  | " << l << "\n";
  EXPECT_EQ(count(*listed, "_exp_" + std::to_string(until)), 4u);
  EXPECT_EQ(count(*listed, "Chain FWKNOP_OUTPUT"), 2u);

  // Expiry takes both rules of both grants.
  ASSERT_TRUE(ok(fw->expire(until)));
  listed = fw->list();
  ASSERT_TRUE(ok(listed));
  EXPECT_EQ(count(*listed, "_exp_"), 0u);
  EXPECT_FALSE(can_connect(lab.c, addr("10.77.1.1"), ssh));
  EXPECT_FALSE(can_connect(lab.c, addr("fd77:1::1"), ssh));

  // The output chain deleted under the daemon: the next grant re-creates it, jump first.
  ASSERT_TRUE(run_ok({ipt, "-D", "OUTPUT", "-j", "FWKNOP_OUTPUT"}));
  ASSERT_TRUE(run_ok({ipt, "-X", "FWKNOP_OUTPUT"}));
  g.expires = until + 5;
  ASSERT_TRUE(ok(fw->open(g)));
  EXPECT_EQ(fw->repairs(), 1u);
  EXPECT_TRUE(can_connect(lab.c, addr("10.77.1.1"), ssh));

  // --fw-flush (and FLUSH_IPT_AT_EXIT): both chains and both jumps gone, in both families.
  ASSERT_TRUE(ok(fw->flush()));
  for (const auto& exe : {ipt, ip6t}) {
    EXPECT_FALSE(knock::test::succeeds({exe, "-n", "-L", "FWKNOP_OUTPUT"}));
    EXPECT_FALSE(knock::test::succeeds({exe, "-n", "-L", "FWKNOP_INPUT"}));
    ASSERT_TRUE(run_ok({exe, "-S", "OUTPUT"}, &output));
    EXPECT_EQ(output.find("FWKNOP"), std::string::npos) << output;
  }
}

TEST(iptables_netns, measures_grants_per_second) {
  KNOCK_NEEDS_ROOT();
  knock::test::netns ns{"r"};
  ASSERT_TRUE(ns.ok());
  inside here{ns};
  iptables_options o;
  o.ip6tables.clear();
  auto fw = iptables::open(o);
  ASSERT_TRUE(ok(fw));
  constexpr int n = 100;
  grant g = make_grant("10.0.0.1", std::time(nullptr) + 60);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    g.source = ip_address::v4({10, 99, 0, static_cast<unsigned char>(i)});
    ASSERT_TRUE(ok(fw->open(g)));
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(fw->list()->size(), 2u + n);
  std::cout << "[ measure  ] iptables: " << n << " grants (1 port, -C + -A each) in "
            << took.count() << " s = " << n / took.count() << " grants/s\n";
  const auto expiring = std::chrono::steady_clock::now();
  ASSERT_TRUE(fw->expire(std::time(nullptr) + 61));
  const std::chrono::duration<double> swept = std::chrono::steady_clock::now() - expiring;
  std::cout << "[ measure  ] iptables: expired " << n << " rules in " << swept.count() << " s\n";
  EXPECT_EQ(fw->list()->size(), 2u);
}

}  // namespace
