// SPDX-License-Identifier: MIT
// knock::firewall::nftables against the real kernel, inside network namespaces (root only).
#include <knock/firewall/nftables.hpp>

#include "netns.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using knock::grant;
using knock::ip_address;
using knock::ip_protocol;
using knock::firewall::nftables;
using knock::firewall::nftables_options;
using knock::test::can_connect;
using knock::test::connect_from;
using knock::test::inside;
using knock::test::ok;

constexpr std::uint16_t ssh = 2222, web = 8080;  // protected, and not

#define KNOCK_NEEDS_ROOT()                                                        \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates network namespaces"; \
  if (knock::test::ip_program().empty()) GTEST_SKIP() << "needs iproute2 (ip)"

ip_address addr(const char* text) { return *ip_address::parse(text); }

grant make_grant(const char* source, std::uint32_t timeout) {
  grant g;
  g.source = addr(source);
  g.ports.push_back({ip_protocol::tcp, ssh});
  g.timeout = timeout;
  return g;
}

std::string unique_table() { return "knock_t" + std::to_string(::getpid()); }

TEST(nftables_netns, grants_expire_in_the_kernel_and_established_connections_survive) {
  KNOCK_NEEDS_ROOT();
  knock::test::lab lab;
  ASSERT_TRUE(lab.ok);
  const auto listener = knock::test::listen_in(lab.s, ssh);
  const auto other = knock::test::listen_in(lab.s, web);
  ASSERT_TRUE(listener && other);
  const std::string table = unique_table();

  {
    inside server{lab.s};
    ASSERT_TRUE(server.ok());
    nftables_options o;
    o.table = table;
    o.protected_ports = {{ip_protocol::tcp, ssh}};
    auto fw = nftables::open(o);
    ASSERT_TRUE(ok(fw));

    // Before any grant: the protected port is closed to everyone, other ports are not.
    EXPECT_FALSE(can_connect(lab.c, addr("10.77.1.1"), ssh));
    EXPECT_FALSE(can_connect(lab.c, addr("fd77:1::1"), ssh));
    EXPECT_FALSE(can_connect(lab.x, addr("10.77.2.1"), ssh));
    EXPECT_TRUE(can_connect(lab.c, addr("10.77.1.1"), web));

    // A 3 s grant for the client, IPv4 and IPv6.
    ASSERT_TRUE(ok(fw->open(make_grant("10.77.1.2", 3))));
    ASSERT_TRUE(ok(fw->open(make_grant("fd77:1::2", 3))));
    const auto granted = std::chrono::steady_clock::now();
    auto v4 = connect_from(lab.c, addr("10.77.1.1"), ssh);
    auto v6 = connect_from(lab.c, addr("fd77:1::1"), ssh);
    EXPECT_TRUE(v4);
    EXPECT_TRUE(v6);
    EXPECT_FALSE(can_connect(lab.x, addr("10.77.2.1"), ssh));  // the stranger: still nothing
    EXPECT_FALSE(can_connect(lab.x, addr("fd77:2::1"), ssh));
    const auto active = fw->grants();
    ASSERT_TRUE(ok(active));
    ASSERT_EQ(active->size(), 2u);
    EXPECT_EQ((*active)[0].source, addr("10.77.1.2"));
    EXPECT_EQ((*active)[1].source, addr("fd77:1::2"));
    EXPECT_EQ((*active)[0].timeout, 3u);
    EXPECT_LE((*active)[0].remaining, 3u);
    const auto lines = fw->list();
    ASSERT_TRUE(lines);
    EXPECT_EQ((*lines)[0].substr(0, 34), "10.77.1.2 tcp/2222 timeout 3s expi");

    // The kernel expires the elements: no call into knock needed.
    while (std::chrono::steady_clock::now() - granted < 5s) {
      auto left = fw->grants();
      ASSERT_TRUE(left);
      if (left->empty()) break;
      std::this_thread::sleep_for(100ms);
    }
    EXPECT_GE(std::chrono::steady_clock::now() - granted, 2500ms);
    ASSERT_TRUE(fw->grants() && fw->grants()->empty());
    EXPECT_FALSE(can_connect(lab.c, addr("10.77.1.1"), ssh));
    EXPECT_FALSE(can_connect(lab.c, addr("fd77:1::1"), ssh));
    EXPECT_FALSE(can_connect(lab.x, addr("10.77.2.1"), ssh));

    // ...but the connections made during the grant still carry data both ways.
    for (auto* client : {&v4, &v6}) {
      ASSERT_TRUE(*client);
      const knock::test::socket_fd accepted{::accept(listener.get(), nullptr, nullptr)};
      ASSERT_TRUE(accepted);
      EXPECT_TRUE(knock::test::carries(*client, accepted, "after expiry"));
      EXPECT_TRUE(knock::test::carries(accepted, *client, "still here"));
    }
  }  // the policy object is gone, the daemon "crashed": the table stays, the port stays shut

  {
    inside server{lab.s};
    EXPECT_FALSE(can_connect(lab.c, addr("10.77.1.1"), ssh));
    auto admin = nftables::attach(table);
    ASSERT_TRUE(admin);
    ASSERT_TRUE(ok(admin->grants()));
    ASSERT_TRUE(ok(admin->flush()));  // --fw-flush
    const auto gone = admin->grants();
    ASSERT_FALSE(gone);  // no table any more
    EXPECT_EQ(gone.error().message.rfind("nftables: table inet " + table + ": Error: ", 0), 0u)
        << gone.error().message;
    EXPECT_NE(gone.error().message.find("No such file or directory"), std::string::npos)
        << gone.error().message;
    EXPECT_TRUE(can_connect(lab.c, addr("10.77.1.1"), ssh));  // nothing protects it now
    EXPECT_TRUE(admin->flush());                              // idempotent
  }
  EXPECT_EQ(knock::test::host_ruleset().find(table), std::string::npos)
      << "the host's ruleset must never see the test's table";
}

TEST(nftables_netns, open_is_idempotent_and_a_clean_start_unless_keeping_grants) {
  KNOCK_NEEDS_ROOT();
  knock::test::netns ns{"n"};
  ASSERT_TRUE(ns.ok());
  inside here{ns};
  ASSERT_TRUE(here.ok());
  nftables_options o;  // the default table name: this is a private namespace
  o.protected_ports = {{ip_protocol::tcp, 22}};
  auto first = nftables::open(o);
  ASSERT_TRUE(ok(first));
  EXPECT_EQ(first->table(), "knock");
  ASSERT_TRUE(first->open(make_grant("10.0.0.5", 60)));
  ASSERT_TRUE(first->open(make_grant("10.0.0.5", 120)));  // again: starts over, one element
  auto kept = first->grants();
  ASSERT_TRUE(kept);
  ASSERT_EQ(kept->size(), 1u);
  EXPECT_EQ((*kept)[0].timeout, 120u);

  o.keep_grants = true;
  o.protected_ports = {{ip_protocol::udp, 53}};
  auto second = nftables::open(o);  // a restarted daemon that keeps what was granted
  ASSERT_TRUE(ok(second));
  EXPECT_EQ(second->grants()->size(), 1u);

  o.keep_grants = false;
  auto third = nftables::open(o);  // the default: a clean start
  ASSERT_TRUE(third);
  EXPECT_TRUE(third->grants()->empty());

  // Refusals come back as errors with libnftables' text, never as a crash.
  grant forever = make_grant("10.0.0.5", 0);
  const auto never = third->open(forever);
  ASSERT_FALSE(never);
  EXPECT_EQ(never.error(), knock::errc::firewall_failed);
  EXPECT_EQ(never.error().message,
            "nftables: table inet knock: grant without a timeout: refused, it would never expire");
  o.priority = -5;  // an existing chain cannot change its hook priority in place
  o.keep_grants = true;
  const auto moved = nftables::open(o);
  ASSERT_FALSE(moved);
  EXPECT_NE(moved.error().message.find("Operation not supported"), std::string::npos)
      << moved.error().message;
  EXPECT_EQ(third->grants()->size(), 0u);  // the failed transaction changed nothing
  // Deleted under the object (--fw-flush, `nft flush ruleset`): the next grant remakes the table.
  ASSERT_TRUE(third->flush());
  EXPECT_EQ(third->repairs(), 0u);
  EXPECT_TRUE(ok(third->open(make_grant("10.0.0.5", 10))));
  EXPECT_EQ(third->repairs(), 1u);
  EXPECT_EQ(third->grants()->size(), 1u);
}

// open_batch (what firewall::async hands it when grants wait together): one transaction for all;
// when it fails, each grant on its own, so a bad one is refused with its reason and the others
// go in; the table deleted under it is remade, as for open().
TEST(nftables_netns, open_batch_grants_together_and_one_by_one_when_the_transaction_fails) {
  KNOCK_NEEDS_ROOT();
  knock::test::netns ns{"b"};
  ASSERT_TRUE(ns.ok());
  inside here{ns};
  ASSERT_TRUE(here.ok());
  nftables_options o;
  o.protected_ports = {{ip_protocol::tcp, 22}};
  auto fw = nftables::open(o);
  ASSERT_TRUE(ok(fw));
  const std::vector<grant> three{make_grant("10.0.0.1", 60), make_grant("10.0.0.2", 60),
                                 make_grant("fd00::3", 60)};
  auto r = fw->open_batch(three);
  ASSERT_EQ(r.size(), 3u);
  for (const auto& x : r) EXPECT_TRUE(ok(x));
  EXPECT_EQ(fw->grants()->size(), 3u);

  const std::vector<grant> mixed{make_grant("10.0.0.4", 60), make_grant("10.0.0.5", 0),
                                 make_grant("10.0.0.6", 60)};
  r = fw->open_batch(mixed);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_TRUE(ok(r[0]));
  ASSERT_FALSE(r[1]) << "a grant without a timeout would never expire";
  EXPECT_NE(r[1].error().message.find("without a timeout"), std::string::npos);
  EXPECT_TRUE(ok(r[2]));
  EXPECT_EQ(fw->grants()->size(), 5u);

  const std::string nft = knock::system::find_executable("nft");
  if (nft.empty()) GTEST_SKIP() << "needs the nft program";
  ASSERT_TRUE(knock::test::run_ok({nft, "delete", "table", "inet", "knock"}));
  r = fw->open_batch(three);
  for (const auto& x : r) EXPECT_TRUE(ok(x));
  EXPECT_EQ(fw->repairs(), 1u) << "remade once, by the first grant on its own";
  EXPECT_EQ(fw->grants()->size(), 3u);
}

TEST(nftables_netns, remakes_a_table_deleted_under_it_and_says_when_it_cannot) {
  KNOCK_NEEDS_ROOT();
  knock::test::lab lab;
  ASSERT_TRUE(lab.ok);
  const auto listener = knock::test::listen_in(lab.s, ssh);
  ASSERT_TRUE(listener);
  inside server{lab.s};
  ASSERT_TRUE(server.ok());
  const std::string nft = knock::system::find_executable("nft");
  if (nft.empty()) GTEST_SKIP() << "needs the nft program";
  nftables_options o;
  o.table = unique_table();
  o.protected_ports = {{ip_protocol::tcp, ssh}};
  o.check_every = 3;
  auto fw = nftables::open(o);
  ASSERT_TRUE(ok(fw));
  const std::string t = "inet " + o.table;

  // Deleted, and no grant comes: the periodic check (every 3rd expire) remakes it, closing the
  // port again for everyone.
  ASSERT_TRUE(knock::test::run_ok({nft, "delete", "table", "inet", o.table}));
  EXPECT_TRUE(can_connect(lab.x, addr("10.77.2.1"), ssh)) << "nothing protects the port now";
  ASSERT_TRUE(fw->expire(0));
  ASSERT_TRUE(fw->expire(0));
  EXPECT_EQ(fw->repairs(), 0u) << "not checked before the 3rd call";
  ASSERT_TRUE(ok(fw->expire(0)));
  EXPECT_EQ(fw->repairs(), 1u);
  EXPECT_FALSE(can_connect(lab.x, addr("10.77.2.1"), ssh));
  ASSERT_TRUE(fw->expire(0) && fw->expire(0) && fw->expire(0));
  EXPECT_EQ(fw->repairs(), 1u) << "an intact table is left alone";

  // Only the chain's rules flushed: damaged, remade too.
  ASSERT_TRUE(knock::test::run_ok({nft, "flush", "chain", "inet", o.table, "input"}));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ok(fw->expire(0)));
  EXPECT_EQ(fw->repairs(), 2u);
  EXPECT_FALSE(can_connect(lab.x, addr("10.77.2.1"), ssh));

  // Replaced by a table that cannot be repaired (a set of another type): the grant fails with
  // libnftables' reasons on one line, and nothing is granted.
  ASSERT_TRUE(knock::test::run_ok({nft, "delete", "table", "inet", o.table}));
  ASSERT_TRUE(knock::test::run_ok({nft, "add", "table", "inet", o.table}));
  ASSERT_TRUE(knock::test::run_ok(
      {nft, "add", "set", "inet", o.table, "allowed_v4", "{ type ipv4_addr; }"}));
  const auto refused = fw->open(make_grant("10.77.1.2", 30));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), knock::errc::firewall_failed);
  const std::string& why = refused.error().message;
  EXPECT_EQ(why.find('\n'), std::string::npos) << why;
  EXPECT_EQ(why.rfind("nftables: table inet " + o.table + ": Error: ", 0), 0u) << why;
  EXPECT_NE(why.find("remaking table inet " + o.table + " failed too: Error: "), std::string::npos)
      << why;
  EXPECT_EQ(fw->repairs(), 2u);
  std::string impostor;
  ASSERT_TRUE(knock::test::run_ok({nft, "list", "table", "inet", o.table}, &impostor));
  EXPECT_EQ(impostor.find("10.77.1.2"), std::string::npos) << impostor;
  std::string reported;
  for (int i = 0; i < 3; ++i)
    if (auto r = fw->expire(0); !r) reported = r.error().message;
  EXPECT_NE(reported.find("missing or damaged, and remaking it failed"), std::string::npos)
      << "the periodic check reports it too: '" << reported << "'";

  // Once the impostor is gone, the next grant remakes the table and goes through.
  ASSERT_TRUE(knock::test::run_ok({nft, "delete", "table", "inet", o.table}));
  ASSERT_TRUE(ok(fw->open(make_grant("10.77.1.2", 30))));
  EXPECT_EQ(fw->repairs(), 3u);
  EXPECT_TRUE(can_connect(lab.c, addr("10.77.1.1"), ssh));
  EXPECT_FALSE(can_connect(lab.x, addr("10.77.2.1"), ssh));

  // attach (--fw-list / --fw-flush) never remakes anything.
  auto admin = nftables::attach(o.table);
  ASSERT_TRUE(admin && admin->flush());
  EXPECT_FALSE(admin->repair());
  EXPECT_FALSE(admin->open(make_grant("10.77.1.2", 30)));
  EXPECT_EQ(admin->repairs(), 0u);
  ASSERT_TRUE(fw->flush());
}

TEST(nftables_netns, measures_grants_per_second) {
  KNOCK_NEEDS_ROOT();
  knock::test::netns ns{"r"};
  ASSERT_TRUE(ns.ok());
  inside here{ns};
  nftables_options o;
  o.protected_ports = {{ip_protocol::tcp, 22}};
  auto fw = nftables::open(o);
  ASSERT_TRUE(fw);
  constexpr int n = 2000;
  grant g = make_grant("10.0.0.1", 60);
  g.ports.push_back({ip_protocol::udp, 53});
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    g.source = ip_address::v4(
        {10, 99, static_cast<unsigned char>(i >> 8), static_cast<unsigned char>(i & 0xff)});
    ASSERT_TRUE(ok(fw->open(g)));
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(fw->grants()->size(), 2u * n);
  std::cout << "[ measure  ] nftables: " << n << " grants (2 ports each) in " << took.count()
            << " s = " << n / took.count() << " grants/s\n";
  RecordProperty("grants_per_second", static_cast<int>(n / took.count()));
}

}  // namespace
