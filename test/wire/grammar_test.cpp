// SPDX-License-Identifier: MIT
#include <knock/wire/grammar.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>

namespace {
using namespace knock::wire;

TEST(grammar, message_ipv4_is_what_inet_aton_takes_in_dotted_quad_form) {
  EXPECT_TRUE(is_message_ipv4("10.0.0.5"));
  EXPECT_TRUE(is_message_ipv4("255.255.255.255"));
  EXPECT_TRUE(is_message_ipv4("010.000.000.005"));  // octal parts, as inet_aton reads them
  EXPECT_FALSE(is_message_ipv4("08.0.0.5"));        // 8 is not an octal digit
  EXPECT_FALSE(is_message_ipv4("256.0.0.1"));
  EXPECT_FALSE(is_message_ipv4("0400.0.0.1"));  // octal 256
  EXPECT_FALSE(is_message_ipv4("1.2.3"));
  EXPECT_FALSE(is_message_ipv4("1.2.3.4.5"));
  EXPECT_FALSE(is_message_ipv4("1..2.3"));
  EXPECT_FALSE(is_message_ipv4("a.b.c.d"));
  EXPECT_FALSE(is_message_ipv4("1.2.3.4 "));
}

// Against inet_aton itself: 300,000 strings of digits and dots (7..15 characters, dots and
// zeros frequent): message_ipv4 takes exactly those with three dots that inet_aton takes, and
// reads the same four bytes.
TEST(grammar, message_ipv4_agrees_with_inet_aton) {
  std::mt19937 rng{20261207};
  const std::string_view alphabet = "0000111225578899....";
  std::size_t taken = 0;
  for (int n = 0; n < 300'000; ++n) {
    std::string s(7 + rng() % 9, '0');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    in_addr a{};
    const bool aton = std::count(s.begin(), s.end(), '.') == 3 && ::inet_aton(s.c_str(), &a) != 0;
    const auto ours = message_ipv4(s);
    ASSERT_EQ(ours.has_value(), aton) << s;
    if (ours) {
      ASSERT_EQ(std::memcmp(ours->data(), &a.s_addr, 4), 0) << s;
    }
    taken += aton;
  }
  EXPECT_GT(taken, 1'000u) << "enough valid ones to compare the bytes";
}

TEST(grammar, access_messages_take_only_tcp_and_udp_ports) {
  EXPECT_TRUE(is_access_message("10.0.0.5,tcp/22"));
  EXPECT_TRUE(is_access_message("0.0.0.0,tcp/22,udp/53,tcp/08080"));
  EXPECT_TRUE(is_access_message("10.0.0.5,udp/65535"));
  EXPECT_FALSE(is_access_message("10.0.0.5,tcp/65536"));
  EXPECT_FALSE(is_access_message("10.0.0.5,tcp/0"));
  EXPECT_FALSE(is_access_message("10.0.0.5,tcp/123456"));
  EXPECT_FALSE(is_access_message("10.0.0.5,icmp/0"));
  EXPECT_FALSE(is_access_message("10.0.0.5,none/0"));
  EXPECT_FALSE(is_access_message("10.0.0.5,sctp/22"));
  EXPECT_FALSE(is_access_message("10.0.0.5,tcp/22,"));
  EXPECT_FALSE(is_access_message("10.0.0.5,tcp/22x"));
  EXPECT_FALSE(is_access_message("10.0.0.5"));
}

TEST(grammar, command_messages_need_an_address_and_text) {
  EXPECT_TRUE(is_command_message("10.0.0.5,echo hi"));
  EXPECT_FALSE(is_command_message("10.0.0.5,"));
  EXPECT_FALSE(is_command_message("host,echo hi"));
}

TEST(grammar, nat_access_is_host_comma_port) {
  EXPECT_TRUE(is_nat_access("192.168.1.10,22"));
  EXPECT_TRUE(is_nat_access("inside.example,2222"));
  EXPECT_FALSE(is_nat_access("192.168.1.10"));
  EXPECT_FALSE(is_nat_access("192.168.1.10,22,"));
  EXPECT_FALSE(is_nat_access("a b,22"));
  EXPECT_FALSE(is_nat_access(",22"));
  EXPECT_FALSE(is_nat_access("host,70000"));
  EXPECT_FALSE(is_nat_access(std::string(71, 'h') + ",22"));
}

TEST(grammar, usernames_refuse_fwknops_special_characters) {
  for (char c : std::string_view{"aZ09 .-_@!#$%&'()^`{}~"}) EXPECT_TRUE(is_username_char(c)) << c;
  for (char c : std::string_view{"\"/\\[]:;|=,+*?<>\t\x7f"}) EXPECT_FALSE(is_username_char(c)) << c;
}
}  // namespace
