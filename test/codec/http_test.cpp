// SPDX-License-Identifier: MIT
// SPA over HTTP (fwknopd's ENABLE_SPA_OVER_HTTP): the packet out of `GET /<packet> HTTP/1.1` as
// fwknopd takes it - the Fwknop user agent unless ALLOW_ANY_USER_AGENT, '-' and '_' back to '+'
// and '/', the path up to the first blank, at least 140 characters, X-Forwarded-For on request.
#include <knock/codec/http.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {
using namespace knock;

// 150 characters of base64 with '+' and '/' in it, and as fwknop -P http writes it.
std::string make_packet() {
  std::string p = "8";  // appended: g++ 12 -O3 warns falsely (-Wrestrict) on "lit" + string
  p.append(70, 'A').append("+/").append(77, 'b');
  return p;
}
const std::string packet = make_packet();
std::string url_safe(std::string p) {
  for (char& c : p) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return p;
}
std::string request(const std::string& path, const std::string& headers) {
  std::string r = "GET /";
  r.append(path).append(" HTTP/1.1\r\n").append(headers).append("\r\n");
  return r;
}

TEST(codec_http, takes_the_packet_from_the_path_as_fwknopd) {
  const std::string r = request(url_safe(packet), "User-Agent: Fwknop/2.6.10\r\nAccept: */*\r\n");
  ASSERT_TRUE(codec::is_http_request(r));
  std::array<char, 1500> buffer;
  const auto got = codec::spa_from_http(r, buffer, false, false);
  ASSERT_TRUE(got.spa);
  EXPECT_EQ(got.spa->packet, packet);
  EXPECT_FALSE(got.spa->forwarded);
}

TEST(codec_http, only_get_requests_case_insensitively) {
  EXPECT_TRUE(codec::is_http_request("get /x"));
  EXPECT_FALSE(codec::is_http_request("POST /" + packet));
  EXPECT_FALSE(codec::is_http_request(packet));
  EXPECT_FALSE(codec::is_http_request("GET"));
}

TEST(codec_http, needs_the_fwknop_user_agent_unless_any_is_allowed) {
  const std::string r = request(url_safe(packet), "User-Agent: curl/8.0\r\n");
  std::array<char, 1500> buffer;
  const auto refused = codec::spa_from_http(r, buffer, false, false);
  EXPECT_FALSE(refused.spa);
  EXPECT_EQ(refused.refused, codec::http_refusal::no_fwknop_user_agent);
  const auto any = codec::spa_from_http(r, buffer, true, false);
  ASSERT_TRUE(any.spa);
  EXPECT_EQ(any.spa->packet, packet);
}

TEST(codec_http, refuses_a_path_shorter_than_a_packet) {
  std::array<char, 1500> buffer;
  const auto got = codec::spa_from_http(request(std::string(139, 'A'), "User-Agent: Fwknop/2\r\n"),
                                        buffer, false, false);
  EXPECT_FALSE(got.spa);
  EXPECT_EQ(got.refused, codec::http_refusal::too_short);
}

TEST(codec_http, x_forwarded_for_names_the_client_only_when_enabled_and_ipv4) {
  const std::string r =
      request(url_safe(packet), "User-Agent: Fwknop/2\r\nx-forwarded-for: 198.51.100.7\r\n");
  std::array<char, 1500> buffer;
  const auto off = codec::spa_from_http(r, buffer, false, false);
  ASSERT_TRUE(off.spa);
  EXPECT_FALSE(off.spa->forwarded);
  const auto on = codec::spa_from_http(r, buffer, false, true);
  ASSERT_TRUE(on.spa && on.spa->forwarded);
  EXPECT_EQ(to_string(*on.spa->forwarded), "198.51.100.7");
  const auto bad = codec::spa_from_http(
      request(url_safe(packet), "User-Agent: Fwknop/2\r\nX-Forwarded-For: not-an-ip\r\n"), buffer,
      false, true);
  ASSERT_TRUE(bad.spa);  // as fwknopd: logged, the connection's source stays
  EXPECT_FALSE(bad.spa->forwarded);
}

TEST(codec_http, a_path_longer_than_the_buffer_is_cut_not_overrun) {
  std::array<char, 200> small;
  const auto got = codec::spa_from_http(request(std::string(400, 'A'), "User-Agent: Fwknop/2\r\n"),
                                        small, false, false);
  ASSERT_TRUE(got.spa);
  EXPECT_EQ(got.spa->packet.size(), 200u);
}
}  // namespace
