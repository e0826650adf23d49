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
  EXPECT_EQ(error("CMD_EXEC_GROUP no-such-group-here\n"),
            "access.conf:4: CMD_EXEC_GROUP: no group 'no-such-group-here' on this system");
}

TEST(config_access_keys, requires_an_hmac_unless_allowed) {
  auto refused = bind_text("SOURCE ANY\nKEY k\n");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().line, 1u);
  EXPECT_NE(config::to_string(refused.error()).find("--allow-no-hmac"), std::string::npos);
  EXPECT_TRUE(bind_text("SOURCE ANY\nKEY k\n", {.allow_no_hmac = true}));
}

TEST(config_access_keys, refuses_what_it_does_not_enforce_yet_saying_so) {
  EXPECT_NE(error("FORCE_NAT 192.168.1.10 22\n").find("FORCE_NAT: NAT is not enforced"),
            std::string::npos);
  EXPECT_EQ(error("FORCE_NAT 192.168.1.10\n"),
            "access.conf:4: FORCE_NAT: '192.168.1.10' is not '<IP> <port>'");
  EXPECT_NE(error("FORWARD_ALL Y\n").find("FORWARD_ALL: NAT is not enforced"), std::string::npos);
  EXPECT_EQ(error("FORWARD_ALL perhaps\n"), "access.conf:4: FORWARD_ALL: 'perhaps' is not Y or N");
  EXPECT_NE(error("FORCE_SNAT 10.0.0.1\n").find("NAT is not enforced"), std::string::npos);
  const stanza cycle =
      one("CMD_CYCLE_OPEN /bin/true $IP\nCMD_CYCLE_CLOSE /bin/false $IP\nCMD_CYCLE_TIMER 10\n");
  EXPECT_EQ(cycle.cmd_cycle_open, "/bin/true $IP");
  EXPECT_EQ(cycle.cmd_cycle_close, "/bin/false $IP");
  EXPECT_EQ(cycle.cmd_cycle_timer, 10u);
  EXPECT_EQ(error("CMD_CYCLE_OPEN /bin/true\nCMD_CYCLE_TIMER 0\n"),
            "access.conf:5: CMD_CYCLE_TIMER: '0' is not a positive integer up to 8388608");
  EXPECT_NE(error("CMD_CYCLE_OPEN /bin/true\n").find("go together"), std::string::npos);
  EXPECT_NE(error("ENABLE_CMD_SUDO_EXEC Y\n").find("not supported"), std::string::npos);
  EXPECT_NE(error("ENABLE_CMD_SUDO_EXEC N\nCMD_SUDO_EXEC_USER root\n").find("not supported"),
            std::string::npos);
  // GnuPG variables parse; a set of ciphers without GnuPG refuses a stanza that uses them.
  EXPECT_TRUE(
      config::parse_access_conf(std::string{base} + "GPG_DECRYPT_ID ABCD1234\n", "a.conf"));
  EXPECT_NE(error("GPG_DECRYPT_PW pw\nGPG_REMOTE_ID ABCD1234\n").find("built without GnuPG"),
            std::string::npos);
}

struct temp_tree {
  fs::path root = fs::temp_directory_path() / ("knock-conf-" + std::to_string(::getpid()));
  temp_tree() { fs::create_directories(root / "conf.d"); }
  ~temp_tree() { fs::remove_all(root); }
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
  EXPECT_EQ((*s)[1].file, (t.root / "other.conf").string());
  EXPECT_TRUE((*s)[2].sources.contains(*ip_address::parse("198.51.100.7")));  // 10-first first
  EXPECT_TRUE((*s)[3].sources.contains(*ip_address::parse("192.0.2.7")));
}

TEST(config_access_includes, errors_name_the_included_file) {
  temp_tree t;
  t.write("bad.conf", "SOURCE ANY\nKEY k\nHMAC_KEY h\nOPEN_PORTS sctp/1\n");
  auto s = config::load_access_conf(t.write("access.conf", "%include bad.conf\n"));
  ASSERT_FALSE(s);
  EXPECT_EQ(
      config::to_string(s.error()),
      (t.root / "bad.conf").string() + ":4: OPEN_PORTS: 'sctp/1' is not tcp/PORT or udp/PORT");

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
}  // namespace
