// SPDX-License-Identifier: MIT
// access.conf: the parser (every variable, the line format, every error with its line), the binder
// (every variable's effect, every error with its line, keys never quoted) and the loader, which
// must turn each access.conf fwknopd was run with for the shared vectors into stanzas that open
// those vectors' packets.
#include <knock/config/access_conf.hpp>

#include "support/vectors.hpp"

#include <knock/wire/packet.hpp>

#include <gtest/gtest.h>

#include <unistd.h>
#include <array>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {
using namespace knock;
using config::config_error;

std::vector<config::raw_stanza> parse_ok(std::string_view text) {
  auto r = config::parse_access_conf(text, "access.conf");
  EXPECT_TRUE(r) << config::to_string(r.error());
  return r ? *std::move(r) : std::vector<config::raw_stanza>{};
}
config_error parse_error(std::string_view text) {
  auto r = config::parse_access_conf(text, "access.conf");
  EXPECT_FALSE(r) << "accepted:\n" << text;
  return r ? config_error{} : r.error();
}
using stanza = access::stanza<cipher::any_rijndael, mac::any_hmac>;

// Most tests here are about one variable, not about HMAC: they bind with --allow-no-hmac.
const config::bind_options lenient{.allow_no_hmac = true};

std::vector<stanza> bind_ok(std::string_view text, const config::bind_options& options = lenient) {
  auto raw = config::parse_access_conf(text, "access.conf");
  EXPECT_TRUE(raw) << config::to_string(raw.error());
  if (!raw) return {};
  auto r = config::bind_access_conf(*raw, "access.conf", options);
  EXPECT_TRUE(r) << config::to_string(r.error());
  return r ? *std::move(r) : std::vector<stanza>{};
}
config_error bind_error(std::string_view text, const config::bind_options& options = lenient) {
  auto raw = config::parse_access_conf(text, "access.conf");
  EXPECT_TRUE(raw) << config::to_string(raw.error());
  if (!raw) return {};
  auto r = config::bind_access_conf(*raw, "access.conf", options);
  EXPECT_FALSE(r) << "accepted:\n" << text;
  return r ? config_error{} : r.error();
}
std::string key_text(const secret_bytes& k) { return std::string{as_chars(k.view())}; }

// --- parser -------------------------------------------------------------------------------------

TEST(config_parse_access_conf, reads_every_variable_with_its_line) {
  const auto s = parse_ok(
      "# a comment\n"
      "\n"
      "SOURCE            10.0.0.0/8, ANY\n"
      "KEY               passphrase\n"
      "KEY_BASE64        cGFzc3BocmFzZQ==\n"
      "HMAC_KEY          hmac secret with blanks\n"
      "HMAC_KEY_BASE64   aG1hYw==\n"
      "HMAC_DIGEST_TYPE  SHA512\n"
      "ENCRYPTION_MODE   ctr\n"
      "FW_ACCESS_TIMEOUT 45\n"
      "ENABLE_CMD_EXEC   Y\n");
  ASSERT_EQ(s.size(), 1u);
  const auto& r = s[0];
  const auto expect = [](const config::raw_value& v, std::string_view text, std::size_t line) {
    EXPECT_EQ(v.text, text);
    EXPECT_EQ(v.line, line);
  };
  expect(r.source, "10.0.0.0/8, ANY", 3);
  expect(r.key, "passphrase", 4);
  expect(r.key_base64, "cGFzc3BocmFzZQ==", 5);
  expect(r.hmac_key, "hmac secret with blanks", 6);
  expect(r.hmac_key_base64, "aG1hYw==", 7);
  expect(r.hmac_digest_type, "SHA512", 8);
  expect(r.encryption_mode, "ctr", 9);
  expect(r.fw_access_timeout, "45", 10);
  expect(r.enable_cmd_exec, "Y", 11);
}

TEST(config_parse_access_conf, follows_fwknops_line_format) {
  const auto s = parse_ok(
      "  # indented comment\r\n"
      "source: ANY\r\n"                     // any case; a trailing ':' on the name
      "\tKey\t  pass word  ;  comment\r\n"  // value up to ';', trailing blanks removed
      "Encryption_Mode cbc;\n"
      "   \n"
      "fw_access_timeout 7");  // no final newline
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].source.text, "ANY");
  EXPECT_EQ(s[0].key.text, "pass word");
  EXPECT_EQ(s[0].key.line, 3u);
  EXPECT_EQ(s[0].encryption_mode.text, "cbc");
  EXPECT_EQ(s[0].fw_access_timeout.text, "7");
  EXPECT_EQ(s[0].fw_access_timeout.line, 6u);
  EXPECT_FALSE(s[0].hmac_key.is_set());
}

TEST(config_parse_access_conf, each_source_line_starts_a_stanza) {
  const auto s = parse_ok("SOURCE ANY\nKEY a\nSOURCE 1.2.3.4\nKEY b\n\nSOURCE ::1\nKEY c\n");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].key.text, "a");
  EXPECT_EQ(s[1].source.text, "1.2.3.4");
  EXPECT_EQ(s[1].source.line, 3u);
  EXPECT_EQ(s[2].key.text, "c");
  EXPECT_EQ(s[2].key.line, 7u);
}

TEST(config_parse_access_conf, refuses_an_unknown_variable) {
  const auto e = parse_error("SOURCE ANY\nKEY k\n\nOPEN_PORTZ tcp/22\n");
  EXPECT_EQ(e.line, 4u);
  EXPECT_EQ(e.key, "OPEN_PORTZ");
  EXPECT_EQ(e.code, errc::config_invalid);
  EXPECT_TRUE(config::to_string(e).starts_with(
      "access.conf:4: OPEN_PORTZ: unknown variable (known: SOURCE, DESTINATION, KEY, KEY_BASE64, "
      "HMAC_KEY, HMAC_KEY_BASE64, HMAC_DIGEST_TYPE, ENCRYPTION_MODE, OPEN_PORTS, RESTRICT_PORTS, "
      "FW_ACCESS_TIMEOUT, MAX_FW_TIMEOUT, REQUIRE_USERNAME"))
      << config::to_string(e);
  EXPECT_EQ(parse_error("%include other.conf\nSOURCE ANY\nKEY k\n").line, 1u);
}

TEST(config_parse_access_conf, refuses_a_variable_before_the_first_source) {
  const auto e = parse_error("# keys first\nKEY k\nSOURCE ANY\n");
  EXPECT_EQ(config::to_string(e), "access.conf:2: KEY: comes before the first SOURCE line");
}

TEST(config_parse_access_conf, refuses_a_variable_set_twice_in_a_stanza) {
  const auto e = parse_error("SOURCE ANY\nKEY a\nkey b\n");
  EXPECT_EQ(config::to_string(e), "access.conf:3: key: set twice in one stanza (first on line 2)");
  parse_ok("SOURCE ANY\nKEY a\nSOURCE ANY\nKEY b\n");  // once per stanza is fine
}

TEST(config_parse_access_conf, refuses_a_variable_without_value) {
  EXPECT_EQ(config::to_string(parse_error("SOURCE ANY\nKEY\n")),
            "access.conf:2: KEY: has no value");
  EXPECT_EQ(parse_error("SOURCE ANY\nKEY   ; nothing\n").line, 2u);
  EXPECT_EQ(parse_error("SOURCE\nKEY k\n").line, 1u);
}

TEST(config_parse_access_conf, does_not_quote_a_line_that_is_no_variable_name) {
  const auto e = parse_error("SOURCE ANY\nKEY k\n+secret/key==\n");
  EXPECT_EQ(config::to_string(e), "access.conf:3: line does not start with a variable name");
}

TEST(config_parse_access_conf, refuses_a_file_without_stanza) {
  EXPECT_EQ(config::to_string(parse_error("")),
            "access.conf: no stanza (each stanza starts with a SOURCE line)");
  EXPECT_EQ(parse_error("# only\n\n# comments\n").line, 0u);
}

TEST(config_parse_access_conf, survives_binary_junk) {
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk += static_cast<char>((i * 7919) % 256);
  (void)config::parse_access_conf(junk, "junk");
  (void)config::parse_access_conf(std::string(100000, '\n'), "newlines");
  (void)config::parse_access_conf(std::string("SOURCE ANY\0KEY x\n", 17), "nul");
}

// --- binder -------------------------------------------------------------------------------------

TEST(config_bind_access_conf, binds_every_variable) {
  const auto s = bind_ok(
      "SOURCE 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,::1\n"
      "KEY_BASE64 cGFzc3BocmFzZQ==\n"
      "HMAC_KEY_BASE64 aG1hYy1rZXk=\n"
      "HMAC_DIGEST_TYPE Sha3_512\n"
      "ENCRYPTION_MODE OFB\n"
      "FW_ACCESS_TIMEOUT 45\n"
      "ENABLE_CMD_EXEC y\n"
      "SOURCE any\n"
      "KEY passphrase\n"
      "HMAC_KEY hmac-key\n");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].line, 1u);
  EXPECT_EQ(s[0].file, "access.conf");
  EXPECT_FALSE(s[0].sources.any);
  EXPECT_EQ(s[0].sources.networks.size(), 4u);
  EXPECT_EQ(key_text(s[0].key), "passphrase");
  ASSERT_NE(s[0].mac_state(), nullptr);
  EXPECT_EQ(s[0].mac_state()->name(), "sha3_512");
  EXPECT_EQ(s[0].cipher.name(), "ofb");
  EXPECT_EQ(s[0].fw_access_timeout, 45u);
  EXPECT_TRUE(s[0].enable_cmd_exec);
  // Defaults: CBC, HMAC-SHA256 when an HMAC key is set, 30 s, no command execution.
  EXPECT_EQ(s[1].line, 8u);
  EXPECT_TRUE(s[1].sources.any);
  EXPECT_EQ(key_text(s[1].key), "passphrase");
  ASSERT_NE(s[1].mac_state(), nullptr);
  EXPECT_EQ(s[1].mac_state()->name(), "sha256");
  EXPECT_EQ(s[1].cipher.name(), "cbc");
  EXPECT_EQ(s[1].fw_access_timeout, 30u);
  EXPECT_FALSE(s[1].enable_cmd_exec);
  // Both spellings of one HMAC key give the same tags.
  std::array<byte, 64> a{}, b{};  // SHA-256 tags fill the first 32
  const std::array<std::string_view, 1> msg{"message"};
  s[1].mac_state()->sign(msg, a);
  const auto same = bind_ok("SOURCE ANY\nKEY k\nHMAC_KEY_BASE64 aG1hYy1rZXk=\n");
  same[0].mac_state()->sign(msg, b);
  EXPECT_EQ(a, b);
}

TEST(config_bind_access_conf, takes_every_mode_and_digest_the_build_has) {
  for (std::string_view mode : cipher::any_rijndael::names) {
    const auto s = bind_ok("SOURCE ANY\nKEY k\nENCRYPTION_MODE " + std::string{mode} + "\n");
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].cipher.name(), mode);
  }
  for (std::string_view digest : mac::any_hmac::names) {
    std::string upper{digest};
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const auto s = bind_ok("SOURCE ANY\nKEY k\nHMAC_KEY h\nHMAC_DIGEST_TYPE " + upper + "\n");
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].mac_state()->name(), digest);
  }
  EXPECT_EQ(bind_ok("SOURCE ANY\nKEY k\n")[0].mac_state(), nullptr);  // no HMAC key: no HMAC
}

TEST(config_bind_access_conf, lists_sources) {
  const auto s = bind_ok("SOURCE 10.0.0.0/8, 2001:db8::/32\nKEY k\nSOURCE ANY\nKEY k\n");
  const auto at = [](const char* a) { return *ip_address::parse(a); };
  EXPECT_FALSE(s[0].sources.any);
  EXPECT_TRUE(s[0].sources.contains(at("10.9.8.7")));
  EXPECT_TRUE(s[0].sources.contains(at("::ffff:10.9.8.7")));
  EXPECT_TRUE(s[0].sources.contains(at("2001:db8::5")));
  EXPECT_FALSE(s[0].sources.contains(at("192.0.2.1")));
  EXPECT_TRUE(s[1].sources.any);
  EXPECT_TRUE(s[1].sources.contains(at("192.0.2.1")));
  EXPECT_TRUE(s[1].destinations.any);  // DESTINATION is not read yet: any
}

TEST(config_bind_access_conf, refuses_a_bad_source) {
  EXPECT_EQ(config::to_string(bind_error("SOURCE ANY\nKEY k\nSOURCE 10.0.0.0/33\nKEY k\n")),
            "access.conf:3: SOURCE: '10.0.0.0/33' is not ANY, an IP address or a CIDR block");
  EXPECT_EQ(bind_error("SOURCE 1.2.3.4,,5.6.7.8\nKEY k\n").line, 1u);
  EXPECT_EQ(bind_error("SOURCE 1.2.3.4 5.6.7.8\nKEY k\n").line, 1u);
  EXPECT_EQ(bind_error("SOURCE localhost\nKEY k\n").line, 1u);
}

// fwknopd refuses a CIDR mask outside 1..32 ("Invalid IP mask", server/access.c): a /0 would match
// every address, and a typo in a mask must never open a stanza to the world. ANY says it on
// purpose.
TEST(config_bind_access_conf, refuses_a_zero_bit_mask_as_fwknopd_does) {
  const std::string why =
      "': a mask of 0 bits matches every address (fwknopd refuses it); write "
      "ANY if that is what you mean";
  EXPECT_EQ(config::to_string(bind_error("SOURCE 10.0.0.0/0\nKEY k\n")),
            "access.conf:1: SOURCE: '10.0.0.0/0" + why);
  EXPECT_EQ(config::to_string(bind_error("SOURCE ANY\nDESTINATION 192.0.2.1, 0.0.0.0/0\nKEY k\n")),
            "access.conf:2: DESTINATION: '0.0.0.0/0" + why);
  EXPECT_EQ(config::to_string(bind_error("SOURCE ::/0\nKEY k\n")),
            "access.conf:1: SOURCE: '::/0" + why);
  EXPECT_EQ(config::to_string(bind_error("SOURCE 10.1.2.3/0.0.0.0\nKEY k\n")),
            "access.conf:1: SOURCE: '10.1.2.3/0.0.0.0" + why);
  EXPECT_TRUE(
      bind_ok("SOURCE 10.0.0.0/1\nKEY k\n")[0].sources.contains(*ip_address::parse("10.9.9.9")));
}

// fwknopd also takes an IPv4 netmask after the slash (server/access.c); knock takes it when its
// ones are contiguous (what a netmask is), and refuses any other.
TEST(config_bind_access_conf, takes_a_dotted_netmask_as_fwknopd_does) {
  const auto s = bind_ok("SOURCE 10.1.2.3/255.255.0.0, 192.0.2.7/255.255.255.255\nKEY k\n");
  const auto at = [](const char* a) { return *ip_address::parse(a); };
  EXPECT_TRUE(s[0].sources.contains(at("10.1.200.9")));
  EXPECT_FALSE(s[0].sources.contains(at("10.2.0.1")));
  EXPECT_TRUE(s[0].sources.contains(at("192.0.2.7")));
  EXPECT_FALSE(s[0].sources.contains(at("192.0.2.8")));
  EXPECT_EQ(bind_error("SOURCE 10.1.2.3/255.0.255.0\nKEY k\n").line, 1u);
  EXPECT_EQ(bind_error("SOURCE 2001:db8::/255.255.0.0\nKEY k\n").line, 1u);
}

// fwknopd's limits (server/access.c, cmd_cycle.h): CMD_CYCLE_TIMER in 1..8388608 seconds, a cycle
// command shorter than its 256-byte buffer.
TEST(config_bind_access_conf, refuses_cmd_cycle_values_fwknopd_refuses) {
  const std::string head = "SOURCE ANY\nKEY k\nCMD_CYCLE_OPEN /bin/true\n";
  EXPECT_EQ(config::to_string(bind_error(head + "CMD_CYCLE_TIMER 8388609\n")),
            "access.conf:4: CMD_CYCLE_TIMER: '8388609' is not a positive integer up to 8388608");
  EXPECT_EQ(
      bind_ok(head + "CMD_CYCLE_TIMER 8388608\nCMD_CYCLE_CLOSE /bin/false\n")[0].cmd_cycle_timer,
      8388608u);
  EXPECT_EQ(config::to_string(bind_error("SOURCE ANY\nKEY k\nCMD_CYCLE_OPEN /bin/" +
                                         std::string(251, 'x') + "\nCMD_CYCLE_TIMER 5\n")),
            "access.conf:3: CMD_CYCLE_OPEN: is 256 characters long; fwknopd takes at most 255");
  EXPECT_EQ(
      bind_error(head + "CMD_CYCLE_TIMER 5\nCMD_CYCLE_CLOSE " + std::string(300, 'y') + "\n").line,
      5u);
}

TEST(config_bind_access_conf, refuses_a_stanza_without_key) {
  EXPECT_EQ(config::to_string(bind_error("SOURCE ANY\nKEY k\n\nSOURCE 1.2.3.4\nHMAC_KEY h\n")),
            "access.conf:4: SOURCE: stanza has no KEY or KEY_BASE64");
}

TEST(config_bind_access_conf, refuses_two_spellings_of_one_key) {
  EXPECT_EQ(config::to_string(bind_error("SOURCE ANY\nKEY k\nKEY_BASE64 aw==\n")),
            "access.conf:3: KEY_BASE64: KEY is set too (line 2); set only one");
  EXPECT_EQ(config::to_string(bind_error("SOURCE ANY\nKEY k\nHMAC_KEY_BASE64 aA==\nHMAC_KEY h\n")),
            "access.conf:4: HMAC_KEY: HMAC_KEY_BASE64 is set too (line 3); set only one");
}

TEST(config_bind_access_conf, refuses_bad_base64_without_quoting_it) {
  const auto e = bind_error("SOURCE ANY\nKEY_BASE64 c2VjcmV0*\n");
  EXPECT_EQ(config::to_string(e), "access.conf:2: KEY_BASE64: is not valid base64");
  EXPECT_EQ(config::to_string(bind_error("SOURCE ANY\nKEY k\n\nHMAC_KEY_BASE64 c2VjcmV0a\n")),
            "access.conf:4: HMAC_KEY_BASE64: is not valid base64");
}

TEST(config_bind_access_conf, refuses_a_key_longer_than_32_bytes) {
  const std::string k32(32, 'k');
  EXPECT_EQ(bind_ok("SOURCE ANY\nKEY " + k32 + "\n")[0].key.size(), 32u);
  EXPECT_EQ(config::to_string(bind_error("SOURCE ANY\nKEY " + k32 + "x\n")),
            "access.conf:2: KEY: is longer than 32 bytes");
  // 33 bytes in base64
  EXPECT_EQ(config::to_string(bind_error(
                "SOURCE ANY\nKEY_BASE64 a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2tr\n")),
            "access.conf:2: KEY_BASE64: is longer than 32 bytes");
}

TEST(config_bind_access_conf, refuses_an_hmac_key_equal_to_the_encryption_key) {
  EXPECT_EQ(config::to_string(bind_error("SOURCE ANY\nKEY same\nHMAC_KEY same\n")),
            "access.conf:3: HMAC_KEY: must differ from the encryption key");
  // The same bytes spelled differently are the same key.
  EXPECT_EQ(config::to_string(bind_error("SOURCE ANY\nKEY same\nHMAC_KEY_BASE64 c2FtZQ==\n")),
            "access.conf:3: HMAC_KEY_BASE64: must differ from the encryption key");
}

TEST(config_bind_access_conf, refuses_an_unknown_mode_or_digest_listing_what_is_built) {
  EXPECT_EQ(
      config::to_string(bind_error("SOURCE ANY\nKEY k\nHMAC_KEY h\nHMAC_DIGEST_TYPE sha999\n")),
      "access.conf:4: HMAC_DIGEST_TYPE: unknown value 'sha999' (built with: md5, sha1, sha256, "
      "sha384, sha512, sha3_256, sha3_512)");
  EXPECT_EQ(
      config::to_string(bind_error("SOURCE ANY\nKEY k\nENCRYPTION_MODE Asymmetric\n")),
      "access.conf:3: ENCRYPTION_MODE: unknown value 'Asymmetric' (built with: cbc, ctr, cfb, "
      "ofb, ecb, legacy)");
}

TEST(config_bind_access_conf, binds_to_the_policy_sets_it_is_given) {
  using cbc_only = cipher::rijndael<cbc>;
  using sha256_only = mac::hmac<sha256>;
  const auto text = "SOURCE ANY\nKEY k\nHMAC_KEY h\nENCRYPTION_MODE CBC\n";
  auto raw = config::parse_access_conf(text, "access.conf");
  ASSERT_TRUE(raw);
  auto s = config::bind_access_conf<cbc_only, sha256_only>(*raw, "access.conf");
  ASSERT_TRUE(s) << config::to_string(s.error());
  EXPECT_EQ((*s)[0].mac_state()->name(), "sha256");
  raw = config::parse_access_conf("SOURCE ANY\nKEY k\nHMAC_KEY h\nENCRYPTION_MODE ctr\n",
                                  "access.conf");
  ASSERT_TRUE(raw);
  const auto e = config::bind_access_conf<cbc_only, sha256_only>(*raw, "access.conf");
  ASSERT_FALSE(e);
  EXPECT_EQ(config::to_string(e.error()),
            "access.conf:4: ENCRYPTION_MODE: unknown value 'ctr' (built with: cbc)");
  raw = config::parse_access_conf("SOURCE ANY\nKEY k\nHMAC_KEY h\nHMAC_DIGEST_TYPE md5\n", "x");
  ASSERT_TRUE(raw);
  EXPECT_EQ(config::to_string(config::bind_access_conf<cbc_only, sha256_only>(*raw, "x").error()),
            "x:4: HMAC_DIGEST_TYPE: unknown value 'md5' (built with: sha256)");
}

TEST(config_bind_access_conf, refuses_a_digest_type_without_hmac_key) {
  EXPECT_EQ(config::to_string(bind_error("SOURCE ANY\nKEY k\nHMAC_DIGEST_TYPE sha1\n")),
            "access.conf:3: HMAC_DIGEST_TYPE: set without HMAC_KEY or HMAC_KEY_BASE64");
}

TEST(config_bind_access_conf, refuses_a_timeout_that_is_not_a_positive_integer) {
  for (const char* bad : {"0", "-5", "+5", "abc", "5s", "99999999999", "0x10"}) {
    const auto e =
        bind_error(std::string{"SOURCE ANY\nKEY k\n\n\nFW_ACCESS_TIMEOUT "} + bad + "\n");
    EXPECT_EQ(e.line, 5u) << bad;
    EXPECT_EQ(e.key, "FW_ACCESS_TIMEOUT") << bad;
    EXPECT_EQ(e.message, std::string{"'"} + bad + "' is not a positive integer");
  }
}

TEST(config_bind_access_conf, refuses_a_cmd_exec_that_is_not_y_or_n) {
  EXPECT_EQ(bind_ok("SOURCE ANY\nKEY k\nENABLE_CMD_EXEC n\n")[0].enable_cmd_exec, false);
  EXPECT_EQ(config::to_string(bind_error("SOURCE ANY\nKEY k\nENABLE_CMD_EXEC maybe\n")),
            "access.conf:3: ENABLE_CMD_EXEC: 'maybe' is not Y or N");
}

TEST(config_bind_access_conf, refuses_the_placeholder_key) {
  EXPECT_EQ(config::to_string(bind_error("SOURCE ANY\nKEY_BASE64 __CHANGEME__\n")),
            "access.conf:2: KEY_BASE64: is still __CHANGEME__");
  EXPECT_EQ(bind_error("SOURCE ANY\nKEY k\nHMAC_KEY __CHANGEME__\n").line, 3u);
}

TEST(config_bind_access_conf, never_quotes_a_key) {
  const std::string secret = "S3cr3tK3yMaterial";
  for (const std::string& text : {"SOURCE ANY\nKEY " + secret + "\nHMAC_KEY " + secret + "\n",
                                  "SOURCE ANY\nKEY " + secret + secret + secret + "\n",
                                  "SOURCE ANY\nKEY_BASE64 " + secret + "*\n",
                                  "SOURCE ANY\nKEY " + secret + "\nKEY_BASE64 " + secret + "\n",
                                  "SOURCE ANY\nKEY k\nHMAC_KEY_BASE64 " + secret + "*\n"}) {
    const auto e = bind_error(text);
    EXPECT_EQ(config::to_string(e).find(secret), std::string::npos) << config::to_string(e);
  }
}

// --- loader -------------------------------------------------------------------------------------

class temp_file {
 public:
  explicit temp_file(std::string_view text) {
    char name[] = "/tmp/knock-access-XXXXXX";
    const int fd = ::mkstemp(name);
    path_ = name;
    if (fd >= 0) ::close(fd);
    std::ofstream{path_, std::ios::binary} << text;
  }
  ~temp_file() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(config_load_access_conf, reads_a_file_and_names_it_in_errors) {
  const temp_file good{"SOURCE ANY\nKEY k\nHMAC_KEY h\n"};
  auto loaded = config::load_access_conf(good.path());
  ASSERT_TRUE(loaded) << config::to_string(loaded.error());
  EXPECT_EQ(loaded->size(), 1u);
  const temp_file bad{"SOURCE ANY\nKEY k\nFOO bar\n"};
  const auto e = config::load_access_conf(bad.path());
  ASSERT_FALSE(e);
  EXPECT_EQ(config::to_string(e.error()).rfind(bad.path() + ":3: FOO: unknown variable", 0), 0u)
      << config::to_string(e.error());
}

TEST(config_load_access_conf, reports_a_file_it_cannot_read) {
  const auto e = config::load_access_conf("/nonexistent/access.conf");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, errc::io_failed);
  EXPECT_EQ(config::to_string(e.error()),
            "/nonexistent/access.conf: cannot read: No such file or directory");
  EXPECT_EQ(config::load_access_conf("/tmp").error().code, errc::io_failed);  // a directory
}

// Each access.conf fwknopd ran with for the shared vectors binds to a stanza that opens the valid
// packets exactly as the vector's own keys do.
TEST(config_load_access_conf, binds_the_configs_fwknopd_ran_with) {
  const auto vectors = test::vectors_of(KNOCK_TEST_DATA "/fwknop-2.6.10-vectors.json",
                                        {"valid", "quirk_accepted", "invalid"});
  std::size_t opened = 0;
  for (const auto& v : vectors) {
    const std::string name = v.at("name");
    const temp_file conf{v.at("verification").at("fwknopd").at("access_conf").get<std::string>()};
    auto stanzas = config::load_access_conf(conf.path(), lenient);
    ASSERT_TRUE(stanzas) << name << ": " << config::to_string(stanzas.error());
    ASSERT_EQ(stanzas->size(), 1u) << name;
    const auto& s = (*stanzas)[0];
    const std::string packet = v.at("packet");
    if (v.at("category") == "invalid") continue;
    auto m =
        wire::open(packet, s.cipher, s.key.view(), s.mac_state(),
                   s.enable_cmd_exec ? wire::long_packets::try_aes : wire::long_packets::refuse);
    ASSERT_TRUE(m) << name << ": " << error_name(m.error());
    EXPECT_EQ(m->timestamp, v.at("expected").at("timestamp").get<std::int64_t>()) << name;
    ++opened;
  }
  EXPECT_EQ(opened, 25u);
}

}  // namespace
