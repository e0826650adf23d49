// SPDX-License-Identifier: MIT
// The .fwknoprc text format as fwknop 2.6 reads and writes it.
#include <knock/client/fwknoprc.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {
using namespace knock::fwknoprc;

constexpr std::string_view sample =
    "# .fwknoprc\n"
    "ACCESS tcp/1\n"  // before any section: ignored, as fwknop does
    "[default]\n"
    "SPA_SERVER_PORT     62201\n"
    "\n"
    "#DIGEST_TYPE sha1\n"
    "  ; a comment\n"
    "[myssh]\n"
    "SPA_SERVER          192.0.2.1\n"
    "ACCESS:             tcp/22;udp/53\n"
    "   ALLOW_IP\tsource # the packet's source\n"
    "KEY_BASE64          4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU=\r\n"
    "[broken]\n"
    "ACCESS\n"
    "[MySSH]\n"
    "FW_TIMEOUT 60";  // no final LF

TEST(fwknoprc, parses_lines_as_fwknops_sscanf_does) {
  setting s;
  ASSERT_TRUE(parse_setting("ACCESS:  tcp/22,udp/53;junk\n", s));
  EXPECT_EQ(s.name, "ACCESS");
  EXPECT_EQ(s.value, "tcp/22,udp/53");
  ASSERT_TRUE(parse_setting("\tKEY secret#comment", s));
  EXPECT_EQ(s.value, "secret");
  ASSERT_TRUE(parse_setting("KEY:: a b", s));  // the name is cut at its last ':'
  EXPECT_EQ(s.name, "KEY:");
  EXPECT_EQ(s.value, "a");
  EXPECT_FALSE(parse_setting("ACCESS\n", s));
  EXPECT_FALSE(parse_setting("ACCESS   ;x\n", s));
  EXPECT_FALSE(parse_setting(": x", s));
}

TEST(fwknoprc, selects_a_stanza_ignoring_case_and_in_file_order) {
  const stanza d = select(sample, "default");
  ASSERT_TRUE(d.found);
  ASSERT_EQ(d.settings.size(), 1u);
  EXPECT_EQ(d.settings[0].name, "SPA_SERVER_PORT");
  EXPECT_EQ(d.settings[0].line, 4u);
  EXPECT_EQ(d.bad_line, 0u);

  const stanza s = select(sample, "myssh");
  ASSERT_TRUE(s.found);
  ASSERT_EQ(s.settings.size(), 5u);  // both [myssh] and [MySSH]
  EXPECT_EQ(s.settings[1].value, "tcp/22");
  EXPECT_EQ(s.settings[2].name, "ALLOW_IP");
  EXPECT_EQ(s.settings[2].value, "source");
  EXPECT_EQ(s.settings[3].value, "4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU=");
  EXPECT_EQ(s.settings[4].name, "FW_TIMEOUT");
  EXPECT_EQ(s.settings[4].value, "60");
  EXPECT_EQ(s.settings[4].line, 16u);

  EXPECT_EQ(select(sample, "broken").bad_line, 14u);
  EXPECT_FALSE(select(sample, "nope").found);
  EXPECT_FALSE(select("", "default").found);
}

TEST(fwknoprc, writes_settings_in_fwknops_layout) {
  EXPECT_EQ(format_setting("ACCESS", "tcp/22"), "ACCESS                      tcp/22\n");
  EXPECT_EQ(format_setting("HMAC_KEY_BASE64", "x"), "HMAC_KEY_BASE64             x\n");
  EXPECT_EQ(format_setting(std::string(26, 'N'), "v"), std::string(26, 'N') + "    v\n");
}

TEST(fwknoprc, update_replaces_one_stanza_and_keeps_everything_else) {
  const std::string out = update(sample, "MYSSH", {{"ACCESS", "tcp/443", 0}, {"USE_HMAC", "Y", 0}});
  EXPECT_EQ(out,
            "# .fwknoprc\n"
            "ACCESS tcp/1\n"
            "[default]\n"
            "SPA_SERVER_PORT     62201\n"
            "\n"
            "#DIGEST_TYPE sha1\n"
            "  ; a comment\n"
            "[myssh]\n"
            "ACCESS                      tcp/443\n"
            "USE_HMAC                    Y\n"
            "[broken]\n"
            "ACCESS\n"
            "[MySSH]\n");
  const stanza s = select(out, "myssh");
  ASSERT_EQ(s.settings.size(), 2u);
  EXPECT_EQ(s.settings[0].value, "tcp/443");
}

TEST(fwknoprc, update_appends_a_new_stanza) {
  EXPECT_EQ(update("[default]\nX 1", "new", {{"ACCESS", "tcp/22", 0}}),
            "[default]\nX 1\n\n[new]\nACCESS                      tcp/22\n");
  EXPECT_EQ(update("", "new", {{"ACCESS", "tcp/22", 0}}),
            "[new]\nACCESS                      tcp/22\n");
}

}  // namespace
