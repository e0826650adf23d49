// SPDX-License-Identifier: MIT
// IP addresses and CIDR blocks: strict parsing (checked against glibc's inet_pton, on a list and on
// random strings) and membership (checked against a bit-by-bit reference).
#include <knock/core/net.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {
using knock::cidr;
using knock::ip_address;

static_assert(cidr::parse("10.0.0.0/8")->contains(*ip_address::parse("10.1.2.3")),
              "parse and contains work at compile time");
static_assert(!cidr::parse("10.0.0.0/8")->contains(*ip_address::parse("11.0.0.0")));

ip_address addr(const char* s) {
  const auto a = ip_address::parse(s);
  EXPECT_TRUE(a) << s;
  return a.value_or(ip_address{});
}
cidr block(const char* s) {
  const auto c = cidr::parse(s);
  EXPECT_TRUE(c) << s;
  return c.value_or(cidr{});
}

// What inet_pton makes of `s` (the family picked as knock picks it: a ':' means IPv6).
std::optional<std::vector<unsigned char>> inet_pton_bytes(const std::string& s) {
  const bool v6 = s.find(':') != std::string::npos;
  std::array<unsigned char, 16> out{};
  if (::inet_pton(v6 ? AF_INET6 : AF_INET, s.c_str(), out.data()) != 1) return std::nullopt;
  return std::vector<unsigned char>(out.begin(), out.begin() + (v6 ? 16 : 4));
}

void expect_same_as_inet_pton(const std::string& s) {
  const auto want = inet_pton_bytes(s);
  const auto got = ip_address::parse(s);
  ASSERT_EQ(got.has_value(), want.has_value()) << "'" << s << "'";
  if (!got) return;
  EXPECT_EQ(std::vector<unsigned char>(got->bytes().begin(), got->bytes().end()), *want) << s;
  EXPECT_EQ(got->is_v4(), want->size() == 4) << s;
}

TEST(net_ip_address, parses_what_inet_pton_parses) {
  for (const char* s : {"0.0.0.0",
                        "255.255.255.255",
                        "10.0.0.5",
                        "192.168.1.10",
                        "1.2.3.4",
                        "::",
                        "::1",
                        "1::",
                        "2001:db8::1",
                        "2001:DB8::A:b",
                        "::ffff:1.2.3.4",
                        "1:2:3:4:5:6:7:8",
                        "1:2:3:4:5:6:7::",
                        "::2:3:4:5:6:7:8",
                        "1:2:3:4:5:6:1.2.3.4",
                        "::1.2.3.4",
                        "fe80::1:2",
                        "0:0:0:0:0:0:0:0",
                        "0000:0000::ffff",
                        "a:b:c:d:e:f:0:1"})
    expect_same_as_inet_pton(s);
}

TEST(net_ip_address, refuses_what_inet_pton_refuses) {
  for (const char* s : {"",
                        " ",
                        "1.2.3",
                        "1.2.3.4.5",
                        "256.1.1.1",
                        "01.2.3.4",
                        "1.2.3.04",
                        "1.2.3.4 ",
                        " 1.2.3.4",
                        "1..2.3",
                        "1.2.3.",
                        ".1.2.3",
                        "1.2.3.-4",
                        "+1.2.3.4",
                        "0x1.2.3.4",
                        "1234.1.1.1",
                        ":",
                        ":::",
                        "1:::2",
                        "1::2::3",
                        "12345::",
                        "1:2:3:4:5:6:7:8:9",
                        "1:2:3:4:5:6:7",
                        ":1::",
                        "1::2:",
                        ":1:2:3:4:5:6:7",
                        "1:2:3:4:5:6:7:8:",
                        "::1.2.3",
                        "::1.2.3.4:5",
                        "fe80::1%eth0",
                        "g::",
                        "1:2:3:4:5:6:7:1.2.3.4",
                        "1::2:3:4:5:6:7:8",
                        "::ffff:01.2.3.4",
                        "::ffff:256.1.1.1",
                        "ANY",
                        "localhost"}) {
    expect_same_as_inet_pton(s);
    EXPECT_FALSE(ip_address::parse(s)) << s;
  }
}

TEST(net_ip_address, agrees_with_inet_pton_on_random_strings) {
  std::mt19937 rng{20240601};
  const std::string alphabet = "0123456789abcdefABCDEF:.::..1100fg/ ";
  std::size_t accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string s(rng() % 24, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    expect_same_as_inet_pton(s);
    accepted += ip_address::parse(s).has_value();
    if (HasFailure()) return;
  }
  EXPECT_GT(accepted, 0u);  // the generator does reach valid addresses
}

TEST(net_ip_address, knows_the_ipv4_inside_a_mapped_ipv6_address) {
  EXPECT_EQ(addr("::ffff:10.1.2.3").mapped_v4(), addr("10.1.2.3"));
  EXPECT_FALSE(addr("::10.1.2.3").mapped_v4());
  EXPECT_FALSE(addr("10.1.2.3").mapped_v4());
  EXPECT_NE(addr("::ffff:10.1.2.3"), addr("10.1.2.3"));  // different families
}

TEST(net_cidr, parses_blocks_and_clears_host_bits) {
  EXPECT_EQ(block("10.0.0.0/8").network(), addr("10.0.0.0"));
  EXPECT_EQ(block("10.0.0.0/8").prefix(), 8u);
  EXPECT_EQ(block("10.1.2.3/8"), block("10.0.0.0/8"));
  EXPECT_EQ(block("192.168.3.255/23").network(), addr("192.168.2.0"));
  EXPECT_EQ(block("1.2.3.4").prefix(), 32u);
  EXPECT_EQ(block("2001:db8::1").prefix(), 128u);
  EXPECT_EQ(block("2001:db8:abcd:ef01::/33").network(), addr("2001:db8:8000::"));
  EXPECT_EQ(block("0.0.0.0/0").prefix(), 0u);
  EXPECT_EQ(block("::/0").prefix(), 0u);
  EXPECT_EQ(block("1.2.3.4/32").network(), addr("1.2.3.4"));
}

TEST(net_cidr, refuses_bad_blocks) {
  for (const char* s : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/-1",
                        "10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0/8 ", "10.0.0.0/8/8", "10.0.0/8",
                        "::/129", "::/1000", "::/", "10.0.0.0/255.0.0.0", "any"})
    EXPECT_FALSE(cidr::parse(s)) << s;
}

TEST(net_cidr, contains_its_addresses_only) {
  const cidr ten = block("10.0.0.0/8");
  EXPECT_TRUE(ten.contains(addr("10.0.0.0")));
  EXPECT_TRUE(ten.contains(addr("10.255.255.255")));
  EXPECT_FALSE(ten.contains(addr("11.0.0.0")));
  EXPECT_FALSE(ten.contains(addr("9.255.255.255")));
  const cidr odd = block("192.168.2.0/23");
  EXPECT_TRUE(odd.contains(addr("192.168.3.255")));
  EXPECT_FALSE(odd.contains(addr("192.168.4.0")));
  EXPECT_FALSE(odd.contains(addr("192.168.1.255")));
  EXPECT_TRUE(block("1.2.3.4").contains(addr("1.2.3.4")));
  EXPECT_FALSE(block("1.2.3.4").contains(addr("1.2.3.5")));
  EXPECT_TRUE(block("0.0.0.0/0").contains(addr("203.0.113.9")));
  EXPECT_FALSE(block("0.0.0.0/0").contains(addr("2001:db8::1")));
  const cidr doc = block("2001:db8::/32");
  EXPECT_TRUE(doc.contains(addr("2001:db8:ffff:ffff::1")));
  EXPECT_FALSE(doc.contains(addr("2001:db9::")));
  EXPECT_FALSE(doc.contains(addr("10.0.0.1")));
  EXPECT_TRUE(block("::/0").contains(addr("::1")));
  EXPECT_FALSE(block("::/0").contains(addr("1.2.3.4")));
  EXPECT_TRUE(block("fe80::/65").contains(addr("fe80::7fff:ffff:ffff:ffff")));
  EXPECT_FALSE(block("fe80::/65").contains(addr("fe80::8000:0:0:0")));
}

TEST(net_cidr, an_ipv4_block_holds_the_mapped_form_of_its_addresses) {
  EXPECT_TRUE(block("10.0.0.0/8").contains(addr("::ffff:10.9.8.7")));
  EXPECT_FALSE(block("10.0.0.0/8").contains(addr("::ffff:11.9.8.7")));
  EXPECT_FALSE(block("10.0.0.0/8").contains(addr("::10.9.8.7")));
}

// contains() against the definition: the first `prefix` bits agree.
TEST(net_cidr, contains_agrees_with_a_bitwise_reference) {
  std::mt19937 rng{7};
  const auto random_address = [&](bool v6) {
    std::array<knock::byte, 16> b;
    for (auto& x : b) x = static_cast<knock::byte>(rng() % 4 == 0 ? 0 : rng());
    return v6 ? ip_address::v6(b) : ip_address::v4({b[0], b[1], b[2], b[3]});
  };
  for (int i = 0; i < 20000; ++i) {
    const bool v6 = rng() % 2 == 0;
    const ip_address net = random_address(v6);
    const unsigned prefix = static_cast<unsigned>(rng() % (v6 ? 129 : 33));
    ip_address probe = net;
    if (rng() % 2 == 0) {  // flip one bit: inside the block iff it is past the prefix
      std::array<knock::byte, 16> b{};
      std::copy(net.bytes().begin(), net.bytes().end(), b.begin());
      const unsigned bit = static_cast<unsigned>(rng() % (v6 ? 128 : 32));
      b[bit / 8] ^= static_cast<knock::byte>(0x80 >> (bit % 8));
      probe = v6 ? ip_address::v6(b) : ip_address::v4({b[0], b[1], b[2], b[3]});
    }
    bool inside = true;
    for (unsigned bit = 0; bit < prefix; ++bit) {
      const auto mask = static_cast<knock::byte>(0x80 >> (bit % 8));
      inside = inside && (net.bytes()[bit / 8] & mask) == (probe.bytes()[bit / 8] & mask);
    }
    const auto c = cidr::make(net, prefix);
    ASSERT_TRUE(c);
    ASSERT_EQ(c->contains(probe), inside) << "prefix " << prefix;
  }
  EXPECT_FALSE(cidr::make(addr("1.2.3.4"), 33));
  EXPECT_FALSE(cidr::make(addr("::1"), 129));
}

}  // namespace
