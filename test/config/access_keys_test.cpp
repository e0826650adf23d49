// SPDX-License-Identifier: MIT
// access.conf: the policy variables (spec §12), the HMAC requirement, what is refused for now, and
// %include / %include_folder / %include_keys.
#include <knock/config/access_conf.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace {
using namespace knock;
namespace fs = std::filesystem;
using stanza = access::stanza<cipher::any_rijndael, mac::any_hmac>;

constexpr std::string_view base = "SOURCE ANY\nKEY k\nHMAC_KEY h\n";

result<std::vector<stanza>, config::config_error> bind_text(std::string_view text,
                                                            config::bind_options o = {}) {
  auto raw = config::parse_access_conf(text, "access.conf");
  if (!raw) return fail(raw.error());
  return config::bind_access_conf(*raw, "access.conf", o);
}
stanza one(std::string_view extra) {
  auto s = bind_text(std::string{base} + std::string{extra});
  EXPECT_TRUE(s) << (s ? "" : config::to_string(s.error()));
  return s ? std::move((*s)[0]) : stanza{};
}
std::string error(std::string_view extra) {
  auto s = bind_text(std::string{base} + std::string{extra});
  EXPECT_FALSE(s) << "accepted: " << extra;
  return s ? "" : config::to_string(s.error());
}

TEST(config_access_keys, defaults_match_fwknopd) {
  const stanza s = one("");
  EXPECT_TRUE(s.destinations.any);
  EXPECT_FALSE(s.open_ports);
  EXPECT_TRUE(s.restrict_ports.empty());
  EXPECT_EQ(s.fw_access_timeout, 30u);
  EXPECT_EQ(s.max_fw_timeout, 300u);
  EXPECT_FALSE(s.require_source_address);
  EXPECT_TRUE(s.require_username.empty());
  EXPECT_EQ(s.access_expire, never_expires);
  EXPECT_FALSE(s.enable_cmd_exec);
  EXPECT_EQ(s.cipher.name(), "cbc");
  ASSERT_NE(s.mac_state(), nullptr);
  EXPECT_EQ(s.mac_state()->name(), "sha256");
}

TEST(config_access_keys, binds_every_policy_variable) {
  const stanza s =
      one("DESTINATION 10.0.0.0/8, 2001:db8::/32\n"
          "OPEN_PORTS tcp/22, udp/53\n"
          "RESTRICT_PORTS tcp/23\n"
          "MAX_FW_TIMEOUT 600\n"
          "REQUIRE_USERNAME alice\n"
          "REQUIRE_SOURCE_ADDRESS Y\n"
          "ACCESS_EXPIRE_EPOCH 1800000000\n"
          "ENABLE_CMD_EXEC Y\n"
          "CMD_EXEC_USER nobody\n"
          "CMD_EXEC_GROUP root\n");
  EXPECT_FALSE(s.destinations.any);
  EXPECT_TRUE(s.destinations.contains(*ip_address::parse("10.1.2.3")));
  EXPECT_TRUE(s.destinations.contains(*ip_address::parse("2001:db8::1")));
  EXPECT_FALSE(s.destinations.contains(*ip_address::parse("192.0.2.1")));
  ASSERT_TRUE(s.open_ports);
  EXPECT_EQ(s.open_ports->size(), 2u);
  EXPECT_TRUE(s.open_ports->contains({ip_protocol::udp, 53}));
  EXPECT_TRUE(s.restrict_ports.contains({ip_protocol::tcp, 23}));
  EXPECT_EQ(s.max_fw_timeout, 600u);
  EXPECT_EQ(s.require_username, "alice");
  EXPECT_TRUE(s.require_source_address);
  EXPECT_EQ(s.access_expire, 1800000000);
  EXPECT_TRUE(s.enable_cmd_exec);
  EXPECT_EQ(s.cmd_exec_user, "nobody");
  EXPECT_EQ(s.cmd_exec_group, "root");
  EXPECT_TRUE(one("REQUIRE_SOURCE y\n").require_source_address);
}

TEST(config_access_keys, access_expire_is_a_local_date) {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  EXPECT_EQ(one("ACCESS_EXPIRE 01/02/2030\n").access_expire, 1893542400);
  EXPECT_EQ(one("ACCESS_EXPIRE 01/02/2030\nACCESS_EXPIRE_EPOCH 1700000000\n").access_expire,
            1700000000);
}

TEST(config_access_keys, refuses_bad_values_naming_file_line_and_key) {
  EXPECT_EQ(error("OPEN_PORTS tcp/22,icmp/0\n"),
            "access.conf:4: OPEN_PORTS: 'icmp/0' is not tcp/PORT or udp/PORT");
  EXPECT_EQ(error("RESTRICT_PORTS tcp/70000\n"),
            "access.conf:4: RESTRICT_PORTS: 'tcp/70000' is not tcp/PORT or udp/PORT");
  EXPECT_EQ(error("DESTINATION 10.0.0.0/33\n"),
            "access.conf:4: DESTINATION: '10.0.0.0/33' is not ANY, an IP address or a CIDR block");
  EXPECT_EQ(error("MAX_FW_TIMEOUT 0\n"),
            "access.conf:4: MAX_FW_TIMEOUT: '0' is not a positive integer");
  EXPECT_EQ(error("REQUIRE_SOURCE_ADDRESS maybe\n"),
            "access.conf:4: REQUIRE_SOURCE_ADDRESS: 'maybe' is not Y or N");
  EXPECT_EQ(error("REQUIRE_SOURCE Y\nREQUIRE_SOURCE_ADDRESS Y\n"),
            "access.conf:4: REQUIRE_SOURCE: REQUIRE_SOURCE_ADDRESS is set too; set only one");
  EXPECT_EQ(error("ACCESS_EXPIRE 2030-01-02\n"),
            "access.conf:4: ACCESS_EXPIRE: '2030-01-02' is not MM/DD/YYYY");
  EXPECT_EQ(error("ACCESS_EXPIRE_EPOCH soon\n"),
            "access.conf:4: ACCESS_EXPIRE_EPOCH: 'soon' is not seconds since the epoch");
  EXPECT_EQ(error("CMD_EXEC_USER no-such-user-here\n"),
            "access.conf:4: CMD_EXEC_USER: no user 'no-such-user-here' on this system");
}

// fwknopd resolves CMD_EXEC_GROUP with getpwnam: a user's name is taken (its primary group), so
// `CMD_EXEC_GROUP nobody` loads on Debian, which has a user 'nobody' and no such group; a name
// that is neither refuses the file.
TEST(config_access_keys, cmd_exec_group_is_a_group_or_a_user_as_fwknopd) {
  EXPECT_EQ(one("CMD_EXEC_GROUP nobody\n").cmd_exec_group, "nobody");
  EXPECT_EQ(one("CMD_EXEC_GROUP root\n").cmd_exec_group, "root");
  EXPECT_EQ(
      error("CMD_EXEC_GROUP no-such-group-here\n"),
      "access.conf:4: CMD_EXEC_GROUP: no group (or user) 'no-such-group-here' on this system");
}

// fwknopd's ENABLE_CMD_SUDO_EXEC: commands run as `SUDO_EXE -u CMD_SUDO_EXEC_USER -g
// CMD_SUDO_EXEC_GROUP ...`; the user must exist when access.conf loads (fwknopd looks it up then).
TEST(config_access_keys, cmd_sudo_exec_binds_as_fwknopd) {
  const stanza s =
      one("ENABLE_CMD_EXEC Y\nENABLE_CMD_SUDO_EXEC Y\nCMD_SUDO_EXEC_USER nobody\n"
          "CMD_SUDO_EXEC_GROUP nogroup\n");
  EXPECT_TRUE(s.enable_cmd_sudo_exec);
  EXPECT_EQ(s.cmd_sudo_exec_user, "nobody");
  EXPECT_EQ(s.cmd_sudo_exec_group, "nogroup");
  EXPECT_FALSE(one("").enable_cmd_sudo_exec);
  EXPECT_EQ(error("ENABLE_CMD_SUDO_EXEC maybe\n"),
            "access.conf:4: ENABLE_CMD_SUDO_EXEC: 'maybe' is not Y or N");
  EXPECT_EQ(error("CMD_SUDO_EXEC_USER no-such-user-here\n"),
            "access.conf:4: CMD_SUDO_EXEC_USER: no user 'no-such-user-here' on this system");
}

// fwknopd's CMD_CYCLE rules (server/access.c): an open command needs a close command (the word
// NONE when nothing runs at the close), a close command needs an open command, and a close
// command other than NONE needs the timer that runs it.
TEST(config_access_keys, cmd_cycle_rules_are_fwknopds) {
  EXPECT_EQ(error("CMD_CYCLE_OPEN /bin/true\n"),
            "access.conf:4: CMD_CYCLE_OPEN: needs CMD_CYCLE_CLOSE too (NONE when nothing is to "
            "run at the close)");
  EXPECT_EQ(error("CMD_CYCLE_OPEN /bin/true\nCMD_CYCLE_TIMER 5\n"),
            "access.conf:4: CMD_CYCLE_OPEN: needs CMD_CYCLE_CLOSE too (NONE when nothing is to "
            "run at the close)");
  EXPECT_EQ(error("CMD_CYCLE_CLOSE /bin/false\nCMD_CYCLE_TIMER 5\n"),
            "access.conf:4: CMD_CYCLE_CLOSE: needs CMD_CYCLE_OPEN");
  EXPECT_EQ(error("CMD_CYCLE_OPEN /bin/true\nCMD_CYCLE_CLOSE /bin/false\n"),
            "access.conf:5: CMD_CYCLE_CLOSE: needs CMD_CYCLE_TIMER (the seconds until it runs)");
  const stanza none = one("CMD_CYCLE_OPEN /bin/true\nCMD_CYCLE_CLOSE NONE\n");
  EXPECT_EQ(none.cmd_cycle_open, "/bin/true");
}

TEST(config_access_keys, requires_an_hmac_unless_allowed) {
  auto refused = bind_text("SOURCE ANY\nKEY k\n");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().line, 1u);
  EXPECT_NE(config::to_string(refused.error()).find("--allow-no-hmac"), std::string::npos);
  EXPECT_TRUE(bind_text("SOURCE ANY\nKEY k\n", {.allow_no_hmac = true}));
}

TEST(config_access_keys, nat_variables_as_fwknopd_reads_them) {
  // Without ENABLE_IPT_FORWARDING / ENABLE_IPT_LOCAL_NAT, fwknopd refuses FORCE_NAT and FORCE_SNAT.
  EXPECT_EQ(error("FORCE_NAT 192.168.1.10 22\n"),
            "access.conf:4: FORCE_NAT: needs ENABLE_IPT_FORWARDING or ENABLE_IPT_LOCAL_NAT Y in "
            "fwknopd.conf");
  EXPECT_NE(error("FORCE_SNAT 10.0.0.1\n").find("FORCE_SNAT: needs ENABLE_IPT_FORWARDING"),
            std::string::npos);
  // fwknopd built for firewalld names its own switches (FIREWALL_TYPE firewalld, issue #16).
  config::bind_options firewalld;
  firewalld.nat.switches = "ENABLE_FIREWD_";
  const auto refused = bind_text(std::string{base} + "FORCE_NAT 192.168.1.10 22\n", firewalld);
  ASSERT_FALSE(refused);
  EXPECT_EQ(config::to_string(refused.error()),
            "access.conf:4: FORCE_NAT: needs ENABLE_FIREWD_FORWARDING or ENABLE_FIREWD_LOCAL_NAT Y "
            "in fwknopd.conf");
  config::bind_options nat;
  nat.nat.forwarding = true;
  const auto with_nat = [&](std::string_view extra) {
    return bind_text(std::string{base} + std::string{extra}, nat);
  };
  const auto nat_error = [&](std::string_view extra) {
    auto s = with_nat(extra);
    return s ? std::string{"accepted"} : config::to_string(s.error());
  };
  auto forced = with_nat("FORCE_NAT 192.168.1.10 22\nFORCE_SNAT 10.0.0.1\nDISABLE_DNAT Y\n");
  ASSERT_TRUE(forced) << config::to_string(forced.error());
  const auto& n = (*forced)[0].nat;
  EXPECT_EQ(n.force_to, ip_address::parse("192.168.1.10"));
  EXPECT_EQ(n.force_port, 22u);
  EXPECT_EQ(n.snat_to, ip_address::parse("10.0.0.1"));
  EXPECT_TRUE(n.force_snat && n.disable_dnat && !n.forward_all && !n.masquerade);
  EXPECT_EQ(nat_error("FORCE_NAT 192.168.1.10\n"),
            "access.conf:4: FORCE_NAT: '192.168.1.10' is not '<IPv4 address> <port 1..65535>'");
  EXPECT_EQ(nat_error("FORCE_NAT 2001:db8::1 22\n"),
            "access.conf:4: FORCE_NAT: '2001:db8::1 22' is not '<IPv4 address> <port 1..65535>'");
  EXPECT_EQ(nat_error("FORCE_NAT 10.0.0.1 65536\n"),
            "access.conf:4: FORCE_NAT: '10.0.0.1 65536' is not '<IPv4 address> <port 1..65535>'");
  EXPECT_EQ(nat_error("FORCE_SNAT somewhere\n"),
            "access.conf:4: FORCE_SNAT: 'somewhere' is not an IPv4 address");
  EXPECT_EQ(nat_error("FORWARD_ALL perhaps\n"),
            "access.conf:4: FORWARD_ALL: 'perhaps' is not Y or N");
  // fwknopd: FORCE_SNAT / FORCE_MASQUERADE need FORCE_NAT or FORWARD_ALL (which forwards to
  // 0.0.0.0: its FORCE_NAT "0.0.0.0 0").
  EXPECT_EQ(nat_error("FORCE_MASQUERADE Y\n"),
            "access.conf:4: FORCE_MASQUERADE: needs FORCE_NAT or FORWARD_ALL in the same stanza");
  auto all = with_nat("FORCE_MASQUERADE Y\nFORWARD_ALL Y\n");
  ASSERT_TRUE(all);
  EXPECT_EQ((*all)[0].nat.force_to, ip_address{});
  EXPECT_TRUE((*all)[0].nat.masquerade && (*all)[0].nat.force_snat && (*all)[0].nat.forward_all);
  // FORWARD_ALL and DISABLE_DNAT alone change only NAT requests.
  EXPECT_TRUE(with_nat("FORWARD_ALL Y\nDISABLE_DNAT N\n"));
  EXPECT_TRUE(bind_text(std::string{base} + "FORWARD_ALL Y\n"));
}

TEST(config_access_keys, refuses_what_it_does_not_enforce_yet_saying_so) {
  const stanza cycle =
      one("CMD_CYCLE_OPEN /bin/true $IP\nCMD_CYCLE_CLOSE /bin/false $IP\nCMD_CYCLE_TIMER 10\n");
  EXPECT_EQ(cycle.cmd_cycle_open, "/bin/true $IP");
  EXPECT_EQ(cycle.cmd_cycle_close, "/bin/false $IP");
  EXPECT_EQ(cycle.cmd_cycle_timer, 10u);
  EXPECT_EQ(error("CMD_CYCLE_OPEN /bin/true\nCMD_CYCLE_TIMER 0\nCMD_CYCLE_CLOSE NONE\n"),
            "access.conf:5: CMD_CYCLE_TIMER: '0' is not a positive integer up to 8388608");
  // GnuPG variables parse; a set of ciphers without GnuPG refuses a stanza that uses them.
  EXPECT_TRUE(config::parse_access_conf(std::string{base} + "GPG_DECRYPT_ID ABCD1234\n", "a.conf"));
  EXPECT_NE(error("GPG_DECRYPT_PW pw\nGPG_REMOTE_ID ABCD1234\n").find("built without GnuPG"),
            std::string::npos);
}

// A scratch folder that is also the working directory while it lives: fwknopd (and knock) resolve
// a relative %include path from the working directory. CTest runs each case in its own process.
struct temp_tree {
  fs::path root = fs::temp_directory_path() / ("knock-conf-" + std::to_string(::getpid()));
  fs::path was = fs::current_path();
  temp_tree() {
    fs::create_directories(root / "conf.d");
    fs::current_path(root);
  }
  ~temp_tree() {
    fs::current_path(was);
    fs::remove_all(root);
  }
  std::string write(const std::string& name, std::string_view text) const {
    std::ofstream{root / name} << text;
    return (root / name).string();
  }
};

TEST(config_access_includes, include_include_folder_and_include_keys) {
  temp_tree t;
  t.write("keys.txt", "KEY_BASE64 c2VjcmV0\nHMAC_KEY_BASE64 aG1hYw==\n");
  t.write("conf.d/20-second.conf", "SOURCE 192.0.2.0/24\nKEY b\nHMAC_KEY hb\n");
  t.write("conf.d/10-first.conf", "SOURCE 198.51.100.0/24\nKEY a\nHMAC_KEY ha\n");
  t.write("conf.d/ignored.txt", "this is not a config\n");
  t.write("other.conf", "SOURCE 203.0.113.5\nKEY o\nHMAC_KEY ho\n");
  const auto main = t.write("access.conf",
                            "SOURCE ANY\n%include_keys keys.txt\n"
                            "%include other.conf\n"
                            "%include_folder conf.d\n");
  auto s = config::load_access_conf(main);
  ASSERT_TRUE(s) << config::to_string(s.error());
  ASSERT_EQ(s->size(), 4u);
  EXPECT_EQ(as_chars((*s)[0].key.view()), "secret");
  EXPECT_EQ((*s)[1].line, 1u);
  EXPECT_EQ((*s)[1].file, "other.conf");
  EXPECT_TRUE((*s)[2].sources.contains(*ip_address::parse("198.51.100.7")));  // 10-first first
  EXPECT_TRUE((*s)[3].sources.contains(*ip_address::parse("192.0.2.7")));
}

TEST(config_access_includes, errors_name_the_included_file) {
  temp_tree t;
  t.write("bad.conf", "SOURCE ANY\nKEY k\nHMAC_KEY h\nOPEN_PORTS sctp/1\n");
  auto s = config::load_access_conf(t.write("access.conf", "%include bad.conf\n"));
  ASSERT_FALSE(s);
  EXPECT_EQ(config::to_string(s.error()),
            "bad.conf:4: OPEN_PORTS: 'sctp/1' is not tcp/PORT or udp/PORT");

  t.write("keys.txt", "SOURCE ANY\n");
  auto k = config::load_access_conf(t.write("k.conf", "SOURCE ANY\n%include_keys keys.txt\n"));
  ASSERT_FALSE(k);
  EXPECT_NE(config::to_string(k.error()).find("keys.txt:1: SOURCE: only key variables"),
            std::string::npos);

  auto loop = config::load_access_conf(t.write("loop.conf", "%include loop.conf\n"));
  ASSERT_FALSE(loop);
  EXPECT_NE(config::to_string(loop.error()).find("nest too deep"), std::string::npos);

  auto missing = config::load_access_conf(t.write("m.conf", "%include nowhere.conf\n"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, errc::io_failed);
  EXPECT_EQ(missing.error().line, 1u);  // the %include line, then the file and why
  EXPECT_NE(config::to_string(missing.error()).find("m.conf:1: %include: "), std::string::npos);
  EXPECT_NE(config::to_string(missing.error()).find("nowhere.conf: cannot read"),
            std::string::npos);

  auto pure = config::parse_access_conf("%include x.conf\n", "p.conf");
  ASSERT_FALSE(pure);
  EXPECT_NE(config::to_string(pure.error()).find("needs file access"), std::string::npos);
}
// fwknopd resolves a relative %include / %include_keys path from its working directory, not from
// the including file's folder: an access.conf in /etc/fwknop naming "keys.txt" reads ./keys.txt.
TEST(config_access_includes, relative_paths_start_at_the_working_directory_as_fwknopd) {
  temp_tree t;
  fs::create_directories(t.root / "etc");
  t.write("etc/keys.txt", "KEY k-beside-the-file\nHMAC_KEY h\n");
  t.write("keys.txt", "KEY k-in-the-working-directory\nHMAC_KEY h\n");
  auto s =
      config::load_access_conf(t.write("etc/access.conf", "SOURCE ANY\n%include_keys keys.txt\n"));
  ASSERT_TRUE(s) << config::to_string(s.error());
  EXPECT_EQ(as_chars((*s)[0].key.view()), "k-in-the-working-directory");
}

// fwknopd leaves out a stanza whose %include_keys file is missing, empty or holds other lines,
// and runs with the stanzas that are whole; knock does the same when asked for the warnings
// (bind_options::skipped: knock-server's default), and refuses the file without (--strict-config).
TEST(config_access_includes, a_stanza_broken_by_its_include_keys_is_left_out_as_fwknopd) {
  temp_tree t;
  t.write("empty.txt", "");
  t.write("wrong.txt", "KEY k\nOPEN_PORTS tcp/22\n");
  const std::string whole = "SOURCE 192.0.2.1\nKEY good\nHMAC_KEY h\n";
  for (const auto& [keys, why] :
       {std::pair{"missing.txt", "cannot read"}, std::pair{"empty.txt", "no KEY"},
        std::pair{"wrong.txt", "only key variables"}}) {
    const auto path = t.write("a.conf", "SOURCE ANY\n%include_keys " + std::string{keys} +
                                            "\nOPEN_PORTS tcp/22\n\n" + whole);
    std::vector<config::config_error> skipped;
    auto s = config::load_access_conf(path, {.skipped = &skipped});
    ASSERT_TRUE(s) << keys << ": " << config::to_string(s.error());
    ASSERT_EQ(s->size(), 1u) << keys;
    EXPECT_TRUE((*s)[0].sources.contains(*ip_address::parse("192.0.2.1")));
    EXPECT_FALSE((*s)[0].sources.contains(*ip_address::parse("198.51.100.1")));  // not ANY
    ASSERT_EQ(skipped.size(), 1u) << keys;
    const std::string warning = config::to_string(skipped[0]);
    EXPECT_NE(warning.find(keys), std::string::npos) << warning;
    EXPECT_NE(warning.find(why), std::string::npos) << warning;
    EXPECT_FALSE(config::load_access_conf(path)) << keys << ": strict loading refuses the file";
  }
  // Nothing whole: refused even when lenient, naming the first reason.
  std::vector<config::config_error> skipped;
  auto none = config::load_access_conf(t.write("n.conf", "SOURCE ANY\n%include_keys missing.txt\n"),
                                       {.skipped = &skipped});
  ASSERT_FALSE(none);
  EXPECT_NE(config::to_string(none.error()).find("no valid stanza"), std::string::npos);
  // Any other mistake still refuses the whole file, as in fwknopd.
  std::vector<config::config_error> other;
  EXPECT_FALSE(config::load_access_conf(t.write("o.conf", whole + "OPEN_PORTS sctp/1\n"),
                                        {.skipped = &other}));
}

// fwknopd's --access-folder: every *.conf file of a folder, in name order.
TEST(config_access_includes, access_folder_loads_every_conf_file_in_name_order) {
  temp_tree t;
  t.write("conf.d/20-b.conf", "SOURCE 192.0.2.0/24\nKEY b\nHMAC_KEY hb\n");
  t.write("conf.d/10-a.conf", "SOURCE 198.51.100.0/24\nKEY a\nHMAC_KEY ha\n");
  t.write("conf.d/notes.txt", "not a config\n");
  auto s = config::load_access_folder((t.root / "conf.d").string());
  ASSERT_TRUE(s) << config::to_string(s.error());
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ(as_chars((*s)[0].key.view()), "a");
  EXPECT_EQ(as_chars((*s)[1].key.view()), "b");
  EXPECT_FALSE(config::load_access_folder((t.root / "nowhere").string()));
}
}  // namespace

namespace {
// fwknopd takes the later of two lines setting one variable in a stanza (an %include_keys file
// and the stanza both setting KEY, say); knock does the same when lenient, saying so, and refuses
// with --strict-config (no `skipped`).
TEST(config_access_includes, a_variable_set_twice_takes_the_later_value_as_fwknopd) {
  const std::string text = "SOURCE ANY\nKEY first\nHMAC_KEY h\nKEY second\n";
  std::vector<config::config_error> warnings;
  auto raw = config::parse_access_conf(text, "access.conf", nullptr, &warnings);
  ASSERT_TRUE(raw) << config::to_string(raw.error());
  auto s = config::bind_access_conf(*raw, "access.conf", {.skipped = &warnings});
  ASSERT_TRUE(s) << config::to_string(s.error());
  EXPECT_EQ(as_chars((*s)[0].key.view()), "second");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(config::to_string(warnings[0]).rfind("access.conf:4: KEY: set twice", 0), 0u);
  auto strict = config::parse_access_conf(text, "access.conf");
  ASSERT_FALSE(strict);
  EXPECT_EQ(config::to_string(strict.error()),
            "access.conf:4: KEY: set twice in one stanza (first on line 2)");
}
}  // namespace
