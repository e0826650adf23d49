// SPDX-License-Identifier: MIT
// knock-client where fwknop's own test suite found it differing from fwknop's client (issue #13):
// each test names the fwknop behaviour it matches (checked against Debian's fwknop 2.6.10).
#include "args_file.hpp"
#include "build.hpp"
#include "command_line.hpp"
#include "keys.hpp"
#include "settings.hpp"

#include <knock/client/http.hpp>
#include <knock/client/raw.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {
using namespace knock_client;

std::int64_t offset(std::string_view v) {
  settings s;
  auto r = apply(s, "TIME_OFFSET", v);
  return r ? s.time_offset : -999999;
}

TEST(fwknop_suite, time_offset_takes_digits_up_to_a_unit_letter_as_fwknop) {
  EXPECT_EQ(offset("+1H"), 3600);  // fwknoprc_hmac_time_offset_hours
  EXPECT_EQ(offset("-5M"), -300);
  EXPECT_EQ(offset("2d"), 2 * 86400);
  EXPECT_EQ(offset("30s"), 30);
  EXPECT_EQ(offset("1x2"), 12);  // fwknop skips what is neither a digit nor a unit
  EXPECT_EQ(offset("65536"), 65536);
  EXPECT_EQ(offset("65537"), -999999);      // over fwknop's 2 << 15
  EXPECT_EQ(offset("123456789"), -999999);  // more digits than fwknop's buffer
  EXPECT_EQ(offset("abc"), -999999);
  EXPECT_EQ(offset("h"), -999999);
}

TEST(fwknop_suite, verbose_is_y_or_a_level_0_to_4_as_fwknop) {
  settings s;
  EXPECT_TRUE(apply(s, "VERBOSE", "Y"));
  EXPECT_TRUE(s.verbose);
  EXPECT_EQ(*apply(s, "VERBOSE", "4"), "4");
  EXPECT_TRUE(apply(s, "VERBOSE", "N"));  // strtol("N") is 0 for fwknop: accepted, off
  EXPECT_FALSE(s.verbose);
  EXPECT_EQ(apply(s, "VERBOSE", "100").error(), "'100' is not Y or a verbosity level (0..4)");
  EXPECT_FALSE(apply(s, "VERBOSE", "5"));
  EXPECT_FALSE(apply(s, "VERBOSE", "-1"));
}

TEST(fwknop_suite, spoof_user_keeps_29_characters_a_found_name_over_48_is_refused) {
  settings s;
  s.allow_ip = "10.0.0.1", s.access = "tcp/22";
  ASSERT_TRUE(apply(s, "SPOOF_USER", std::string(74, 'A')));  // -U / rc: fwknop truncates
  auto r = make_request(s, "", 1700000000, "root");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->username, std::string(29, 'A'));
  s.user.clear();  // from the environment (SPOOF_USER, LOGNAME): fwknopd decodes up to 48
  EXPECT_TRUE(make_request(s, "", 1700000000, std::string(48, 'B')));
  auto too_long = make_request(s, "", 1700000000, std::string(63, 'B'));
  ASSERT_FALSE(too_long);
  EXPECT_NE(too_long.error().find("fwknopd decodes at most 48"), std::string::npos);
}

TEST(fwknop_suite, nat_host_is_checked_as_fwknops_is_valid_hostname) {
  EXPECT_TRUE(is_nat_host("192.168.10.1"));
  EXPECT_TRUE(is_nat_host("inside-1.example.org"));
  EXPECT_FALSE(is_nat_host(".168.10.1"));  // basic_operations: NAT invalid access
  EXPECT_FALSE(is_nat_host("a-.b"));
  EXPECT_FALSE(is_nat_host("a..b"));
  EXPECT_FALSE(is_nat_host("host-"));
  EXPECT_FALSE(is_nat_host("bad host"));
  EXPECT_FALSE(is_nat_host(std::string(64, 'a') + ".b"));
  settings s;
  s.allow_ip = "10.0.0.1", s.access = "tcp/22", s.nat_access = ".168.10.1";
  EXPECT_FALSE(make_request(s, "", 1700000000, "root"));
}

TEST(fwknop_suite, a_key_file_is_read_only_when_fwknop_would_use_it) {
  settings s;
  s.server = "192.0.2.1";
  // fwknop's order, whatever the order given: the key, then its base64, then the file.
  ASSERT_TRUE(apply(s, "KEY_FILE", "/nonexistent/somefile"));
  ASSERT_TRUE(apply(s, "KEY_BASE64", "c2VjcmV0a2V5"));
  ASSERT_TRUE(apply(s, "HMAC_KEY_FILE", "/nonexistent/hmacfile"));
  EXPECT_FALSE(s.use_hmac);  // HMAC_KEY_FILE alone does not turn the HMAC on (fwknop)
  auto k = load_keys(s, std::nullopt);
  ASSERT_TRUE(k) << k.error();
  EXPECT_EQ(k->key.size(), 9u);  // "secretkey"
  EXPECT_FALSE(k->hmac_key);
  ASSERT_TRUE(apply(s, "HMAC_KEY_BASE64", "aG1hY2tleWhtYWNrZXk="));
  ASSERT_TRUE(apply(s, "HMAC_KEY_FILE", "/nonexistent/again"));
  k = load_keys(s, std::nullopt);
  ASSERT_TRUE(k) << k.error();
  ASSERT_TRUE(k->hmac_key);
  EXPECT_EQ(k->hmac_key->size(), 14u);
  settings f;  // only a file: it is read, and its absence is the error
  f.server = "192.0.2.1";
  ASSERT_TRUE(apply(f, "KEY_FILE", "/nonexistent/somefile"));
  EXPECT_NE(load_keys(f, std::nullopt).error().find("somefile"), std::string::npos);
}

TEST(fwknop_suite, a_key_line_keeps_its_first_127_characters_as_fwknop) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  const std::string line = std::string(1500, 'A') + "\nnext\n";  // pw fd 0 HMAC key long
  ASSERT_EQ(::write(p[1], line.data(), line.size()), static_cast<ssize_t>(line.size()));
  ::close(p[1]);
  auto first = read_line(p[0], "HMAC key");
  ASSERT_TRUE(first) << first.error();
  EXPECT_EQ(first->str(), std::string(127, 'A'));
  EXPECT_EQ(read_line(p[0], "x")->str(), "next");
  ::close(p[0]);
}

TEST(fwknop_suite, every_fwknop_protocol_and_its_flags_are_taken) {
  for (const char* p : {"udp", "TCP", "udpraw", "TCPRAW", "icmp", "HTTP"}) {
    settings s;
    EXPECT_TRUE(apply(s, "SPA_SERVER_PROTO", p)) << p;
  }
  auto cl = parse_command_line(std::vector<const char*>{
      "-Q", "1.2.3.4", "-r", "--nat-rand-port", "-R", "--icmp-type", "8", "--icmp-code", "0", "-H",
      "http://proxy:3128/x", "-E", "args.save", "-l", "--show-last", "--stanza-list"});
  ASSERT_TRUE(cl) << cl.error();
  std::vector<std::string> vars;
  for (const auto& a : cl->assignments) vars.push_back(a.variable + "=" + a.value.str());
  EXPECT_EQ(vars,
            (std::vector<std::string>{"SPOOF_SOURCE_IP=1.2.3.4", "RAND_PORT=Y", "NAT_RAND_PORT=Y",
                                      "RESOLVE_IP_HTTPS=Y", "SPA_SERVER_PROTO=http"}));
  EXPECT_EQ(cl->icmp_type, 8);
  EXPECT_EQ(cl->icmp_code, 0);
  EXPECT_EQ(cl->http_proxy, "http://proxy:3128/x");
  EXPECT_EQ(cl->save_args_file, "args.save");
  EXPECT_TRUE(cl->last_cmd && cl->show_last && cl->stanza_list);
  // fwknop's ranges: type 0..40, code 0..15.
  EXPECT_FALSE(parse_command_line(std::vector<const char*>{"--icmp-type", "41"}));
  EXPECT_FALSE(parse_command_line(std::vector<const char*>{"--icmp-code", "16"}));
  settings s;
  EXPECT_FALSE(apply(s, "SPOOF_SOURCE_IP", "bad"));        // fwknop: "Invalid spoof IP"
  EXPECT_FALSE(apply(s, "HTTP_PROXY", "http://1.2.3.4"));  // not an rc variable for fwknop
  EXPECT_TRUE(apply(s, "RAND_PORT", "Y"));
  EXPECT_TRUE(s.rand_port);
}

TEST(fwknop_suite, raw_packets_are_built_as_fwknops_with_right_checksums) {
  const std::string payload = "SPAdata+/=";
  knock::raw_fields f{0x01020304, 0x0a000001, 40000, 62201, 7, 0, 0, 0};
  for (auto t : {knock::transport::udpraw, knock::transport::tcpraw, knock::transport::icmp}) {
    const auto p = knock::raw_ipv4_packet(t, payload, f);
    const std::size_t l4 = t == knock::transport::tcpraw ? 20 : 8;
    ASSERT_EQ(p.size(), 20 + l4 + payload.size());
    EXPECT_EQ(p[0], 0x45);
    EXPECT_EQ(p[8], 255);  // fwknop's TTL
    EXPECT_EQ(knock::internet_checksum({p.data(), 20}), 0);
    EXPECT_EQ(std::string(p.end() - payload.size(), p.end()), payload);
    EXPECT_EQ(p[12], 1);  // the spoofed source, 1.2.3.4
    EXPECT_EQ(p[15], 4);
    const std::span<const std::uint8_t> seg{p.data() + 20, p.size() - 20};
    if (t == knock::transport::icmp) {
      EXPECT_EQ(knock::internet_checksum(seg), 0);
      continue;
    }
    const std::uint32_t pseudo =
        0x0102 + 0x0304 + 0x0a00 + 0x0001 + p[9] + static_cast<std::uint32_t>(seg.size());
    EXPECT_EQ(knock::internet_checksum(seg, pseudo), 0);
    EXPECT_EQ(p[20] << 8 | p[21], 40000);
    EXPECT_EQ(p[22] << 8 | p[23], 62201);
    if (t == knock::transport::tcpraw) {
      EXPECT_EQ(p[33], 0x02);  // SYN only
      EXPECT_EQ(p[34] << 8 | p[35], 32767);
      EXPECT_EQ(p[27], 1);  // sequence 1
    }
  }
  f.icmp_type = 8, f.icmp_echo_id = 0x1234;  // an echo request: identifier and sequence 1
  const auto echo = knock::raw_ipv4_packet(knock::transport::icmp, payload, f);
  EXPECT_EQ(echo[20], 8);
  EXPECT_EQ(echo[24] << 8 | echo[25], 0x1234);
  EXPECT_EQ(echo[27], 1);
}

TEST(fwknop_suite, spa_over_http_is_fwknops_get_request) {
  EXPECT_EQ(knock::http_request("ab+c/d", "10.0.0.1", "Fwknop/2.6.10", false),
            "GET /ab-c_d HTTP/1.1\r\nUser-Agent: Fwknop/2.6.10\r\nAccept: */*\r\nHost: "
            "10.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(knock::http_request("x", "srv", "UA", true).starts_with("GET http://srv/x HTTP/1.1"));
  auto p = knock::parse_http_proxy("http://www.cipherdyne.org:80/cgi-bin/myip", 62201);
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->host, "www.cipherdyne.org");
  EXPECT_EQ(p->port, 80);
  EXPECT_EQ(knock::parse_http_proxy("proxy", 62201)->port, 62201);  // fwknop: the -p port
  // resolve HTTP proxy invalid port
  EXPECT_FALSE(knock::parse_http_proxy("http://www.cipherdyne.org:99999/cgi-bin/myip", 1));
  EXPECT_FALSE(knock::parse_http_proxy("http://:80", 1));
}

TEST(fwknop_suite, the_args_file_is_fwknops_one_line) {
  const char* argv[] = {"/usr/bin/fwknop", "-A", "tcp/22", "-D", "srv"};
  EXPECT_EQ(*join_args(argv), "/usr/bin/fwknop -A tcp/22 -D srv \n");
  auto words = split_args("/usr/bin/fwknop  -A\ttcp/22 -D srv \n");
  ASSERT_TRUE(words);
  EXPECT_EQ(*words, (std::vector<std::string>{"/usr/bin/fwknop", "-A", "tcp/22", "-D", "srv"}));
  std::string many = "fwknop";
  for (int i = 0; i < 30; ++i) many += " -v";
  EXPECT_FALSE(split_args(many));  // fwknop: at most 30 words
  EXPECT_FALSE(split_args("  \n"));
}

}  // namespace
