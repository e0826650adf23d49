// SPDX-License-Identifier: MIT
// knock-server's settings (examples/knock-server/settings.hpp): fwknopd's defaults, the program's
// own variables, the command line over the file, and the backend names checked against the lists
// the program was built with.
#include "settings.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include <unistd.h>

namespace {

// Stand-ins for the lists: settings only reads their names and variables.
struct firewalls {
  static constexpr std::array<std::string_view, 3> names{"nftables", "iptables", "none"};
  static constexpr std::array<std::string_view, 2> variables{"KNOCK_NFT_TABLE",
                                                             "FLUSH_IPT_AT_INIT"};
  static bool knows(std::string_view n) {
    return n == "nftables" || n == "iptables" || n == "none";
  }
  static knock::result<void, knock::config::config_error> check(
      const knock::config::fwknopd_conf& c) {
    if (auto ok = c.yes_no("FLUSH_IPT_AT_INIT", true); !ok) return knock::fail(ok.error());
    return {};
  }
};
struct captures {  // knock-server's: packet (the default), pcap, udp
  static constexpr std::array<std::string_view, 3> names{"packet", "pcap", "udp"};
  static constexpr std::array<std::string_view, 3> variables{"PCAP_INTF", "PCAP_FILE",
                                                             "UDPSERV_PORT"};
  static bool knows(std::string_view n) { return n == "packet" || n == "pcap" || n == "udp"; }
  static knock::result<void, knock::config::config_error> check(
      const knock::config::fwknopd_conf& c) {
    if (auto ok = c.number("UDPSERV_PORT", 62201, 65535); !ok) return knock::fail(ok.error());
    return {};
  }
};

class settings_test : public ::testing::Test {
 protected:
  knock_server::settings_result load(const std::string& text, knock_server::options o = {}) {
    std::ofstream{path_} << text;
    o.fwknopd_conf = path_;
    return knock_server::load_settings<firewalls, captures>(o);
  }
  std::string error(const std::string& text, knock_server::options o = {}) {
    auto s = load(text, std::move(o));
    EXPECT_FALSE(s);
    return s ? "" : to_string(s.error());
  }
  void TearDown() override { std::remove(path_.c_str()); }
  // One file per test and process: CTest runs the tests of this file in parallel.
  std::string path_ = ::testing::TempDir() + "settings_test." +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name() + "." +
                      std::to_string(::getpid()) + ".conf";
};

TEST_F(settings_test, defaults_are_fwknopds) {
  const auto s = load("# every line commented out, as Debian ships it\n#PCAP_INTF eth0;\n");
  ASSERT_TRUE(s) << to_string(s.error());
  EXPECT_TRUE(s->server.packet_aging);
  EXPECT_EQ(s->server.max_packet_age, 120);
  EXPECT_TRUE(s->digest_persistence);
  EXPECT_EQ(s->firewall, "nftables");
  EXPECT_EQ(s->capture, "packet");  // sniffs PCAP_INTF, as fwknopd (without libpcap's ring)
  EXPECT_EQ(s->digest_file, "/run/knock/replay.log");
  EXPECT_EQ(s->pid_file, "/run/knock/knock-server.pid");
  EXPECT_EQ(s->user, "");  // the daemon picks: knock if it exists, else nobody
  EXPECT_EQ(s->replay_capacity, 65536u);
  EXPECT_FALSE(s->protected_ports);
}

TEST_F(settings_test, reads_what_knock_runs_with) {
  const auto s = load(
      "ENABLE_SPA_PACKET_AGING   N;\nMAX_SPA_PACKET_AGE 60;\nDIGEST_FILE /var/lib/knock/d.log;\n"
      "ENABLE_UDP_SERVER Y;\nFWKNOP_RUN_DIR /tmp/k;\nFIREWALL_TYPE IPTables;\n"
      "KNOCK_PROTECTED_PORTS tcp/22, tcp/2222;\nKNOCK_USER knock:adm\nKNOCK_REPLAY_CAPACITY "
      "1000000;\n"
      "ENABLE_IPT_FORWARDING N;\n");
  ASSERT_TRUE(s) << to_string(s.error());
  EXPECT_FALSE(s->server.packet_aging);
  EXPECT_EQ(s->server.max_packet_age, 60);
  EXPECT_EQ(s->digest_file, "/var/lib/knock/d.log");
  EXPECT_EQ(s->capture, "udp");
  EXPECT_EQ(s->pid_file, "/tmp/k/knock-server.pid");
  EXPECT_EQ(s->firewall, "iptables");
  ASSERT_TRUE(s->protected_ports);
  EXPECT_EQ(s->protected_ports->size(), 2u);
  EXPECT_EQ(s->user, "knock:adm");
  EXPECT_EQ(s->replay_capacity, 1000000u);
  const auto local = load("SYSLOG_FACILITY log_local3;\n");
  ASSERT_TRUE(local) << to_string(local.error());
  EXPECT_EQ(local->syslog_facility, LOG_LOCAL3);
}

TEST_F(settings_test, the_command_line_wins) {
  knock_server::options o;
  o.firewall = "none";
  o.udp_server = true;
  o.interfaces = {"eth7", "eth8"};
  o.protect = "udp/53";
  const auto s = load("FIREWALL_TYPE iptables;\nPCAP_INTF eth0;\n", o);
  ASSERT_TRUE(s) << to_string(s.error());
  EXPECT_EQ(s->firewall, "none");
  EXPECT_EQ(s->capture, "udp");
  EXPECT_EQ(s->conf.text("PCAP_INTF"), "eth7,eth8");
  ASSERT_TRUE(s->protected_ports);
  EXPECT_EQ(to_string(*s->protected_ports->begin()), "udp/53");
  o.protect = "tcp/99999";
  EXPECT_EQ(error("", o), "command line: --protect: 'tcp/99999' is not tcp/PORT or udp/PORT");
}

TEST_F(settings_test, refuses_with_file_line_and_key) {
  EXPECT_EQ(error("\nNO_SUCH_THING 1;\n"), path_ + ":2: NO_SUCH_THING: unknown variable");
  EXPECT_EQ(error("FIREWALL_TYPE pf;\n"),
            path_ + ":1: FIREWALL_TYPE: unknown value 'pf' (known: nftables, iptables, none)");
  // The parts' variables are checked whichever part runs.
  EXPECT_EQ(error("UDPSERV_PORT 70000;\n"),
            path_ + ":1: UDPSERV_PORT: '70000' is not a positive integer up to 65535");
  EXPECT_EQ(error("FLUSH_IPT_AT_INIT yes;\n"),
            path_ + ":1: FLUSH_IPT_AT_INIT: 'yes' is not Y or N");
  // fwknopd's own refusals (server/log_msg.c, fwknopd.c check_dir_path, config_init.c).
  EXPECT_EQ(error("SYSLOG_FACILITY LOG_LOCAL8;\n"),
            path_ + ":1: SYSLOG_FACILITY: 'LOG_LOCAL8' is not LOG_DAEMON or LOG_LOCAL0..7");
  EXPECT_EQ(error("FWKNOP_RUN_DIR run/knock;\n"),
            path_ + ":1: FWKNOP_RUN_DIR: 'run/knock' is not an absolute path");
  EXPECT_EQ(error("FWKNOP_RUN_DIR /dev/null;\n"),
            path_ + ":1: FWKNOP_RUN_DIR: '/dev/null' is not a directory");
  knock_server::options dev_null;
  dev_null.fwknopd_conf = "/dev/null";
  const auto not_regular = knock_server::load_settings<firewalls, captures>(dev_null);
  ASSERT_FALSE(not_regular);
  EXPECT_EQ(to_string(not_regular.error()), "/dev/null: is not a regular file");
  EXPECT_EQ(error("KNOCK_CAPTURE nfq;\n"),
            path_ + ":1: KNOCK_CAPTURE: unknown value 'nfq' (known: packet, pcap, udp)");
  EXPECT_EQ(error("KNOCK_REPLAY_CAPACITY 0;\n"),
            path_ + ":1: KNOCK_REPLAY_CAPACITY: '0' is not a positive integer up to 16777216");
  EXPECT_NE(error("ENABLE_SPA_PACKET_AGING N;\nENABLE_DIGEST_PERSISTENCE N;\n")
                .find(":1: ENABLE_SPA_PACKET_AGING: packet aging may be switched off only"),
            std::string::npos);
}
}  // namespace

namespace {
// The capture: the list's first (knock-server: packet sockets) unless KNOCK_CAPTURE says; a
// savefile (PCAP_FILE) is libpcap's; UDP server mode wins over both.
TEST_F(settings_test, capture_source) {
  EXPECT_EQ(load("PCAP_INTF eth0\n")->capture, "packet");
  EXPECT_EQ(load("KNOCK_CAPTURE pcap\n")->capture, "pcap");
  EXPECT_EQ(load("PCAP_FILE /tmp/x.pcap\n")->capture, "pcap");
  EXPECT_EQ(load("PCAP_FILE /tmp/x.pcap\nKNOCK_CAPTURE packet\n")->capture, "packet");
  EXPECT_EQ(load("ENABLE_UDP_SERVER Y\n")->capture, "udp");
}

// KNOCK_WORKERS (issue #18): 1 by default, a number, or `auto` (one per core); 0 or a word is
// refused at its file:line.
TEST_F(settings_test, knock_workers) {
  auto def = load("");
  ASSERT_TRUE(def);
  EXPECT_EQ(def->workers, 1u);
  auto two = load("KNOCK_WORKERS 2\n");
  ASSERT_TRUE(two);
  EXPECT_EQ(two->workers, 2u);
  auto cores = load("KNOCK_WORKERS auto\n");
  ASSERT_TRUE(cores);
  EXPECT_EQ(cores->workers, std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_NE(error("\nKNOCK_WORKERS 0\n").find(".conf:2: KNOCK_WORKERS"), std::string::npos)
      << error("\nKNOCK_WORKERS 0\n");
  EXPECT_NE(error("KNOCK_WORKERS many\n").find(".conf:1: KNOCK_WORKERS"), std::string::npos);
}
}  // namespace
