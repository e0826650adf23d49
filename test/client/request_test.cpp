// SPDX-License-Identifier: MIT
// request → spa_message: fwknop's type selection (timeouts promote 1→3, 2→4, 5→6, never a
// command), the -s form, the NAT forms, and a named error for every field fwknopd would refuse.
#include <knock/client/request.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {
using namespace knock;

constexpr std::string_view rand16 = "1234567890123456";

request access_request() {
  request r;
  r.allow_ip = "10.0.0.5";
  r.access = "tcp/22";
  r.username = "alice";
  r.timestamp = 1700000000;
  return r;
}

TEST(request, type_follows_fwknop_with_and_without_client_timeout) {
  struct row {
    nat_mode nat;
    std::uint32_t timeout;
    message_type expected;
  };
  for (const row& x : {row{nat_mode::none, 0, message_type::access},
                       row{nat_mode::none, 45, message_type::client_timeout_access},
                       row{nat_mode::forward, 0, message_type::nat_access},
                       row{nat_mode::forward, 45, message_type::client_timeout_nat_access},
                       row{nat_mode::local, 0, message_type::local_nat_access},
                       row{nat_mode::local, 45, message_type::client_timeout_local_nat_access}}) {
    request r = access_request();
    r.nat = x.nat;
    r.nat_access = "192.168.1.10,22";
    r.client_timeout = x.timeout;
    EXPECT_EQ(type_of(r), x.expected);
    auto m = make_message(r, rand16);
    ASSERT_TRUE(m) << error_name(m.error());
    EXPECT_EQ(m->type, x.expected);
    EXPECT_EQ(m->client_timeout, has_client_timeout(x.expected) ? x.timeout : 0u);
    EXPECT_EQ(m->nat_access.view(), x.nat == nat_mode::none ? "" : "192.168.1.10,22");
  }
}

TEST(request, command_never_carries_a_timeout_or_a_nat_target) {
  request r = access_request();
  r.command = "echo hi";
  r.client_timeout = 45;
  r.nat = nat_mode::forward;
  r.nat_access = "192.168.1.10,22";
  auto m = make_message(r, rand16);
  ASSERT_TRUE(m) << error_name(m.error());
  EXPECT_EQ(m->type, message_type::command);
  EXPECT_EQ(m->message.view(), "10.0.0.5,echo hi");
  EXPECT_EQ(m->client_timeout, 0u);
  EXPECT_TRUE(m->nat_access.empty());
}

TEST(request, fields_land_where_fwknop_puts_them) {
  request r = access_request();
  r.allow_ip = "0.0.0.0";  // -s
  r.access = "tcp/22,udp/53";
  r.digest_type = hash_id::sha3_512;
  auto m = make_message(r, rand16);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->rand_value.view(), rand16);
  EXPECT_EQ(m->username.view(), "alice");
  EXPECT_EQ(m->timestamp, 1700000000);
  EXPECT_EQ(m->message.view(), "0.0.0.0,tcp/22,udp/53");
  EXPECT_EQ(m->digest_type, hash_id::sha3_512);
  EXPECT_FALSE(m->has_server_auth);
}

TEST(request, each_bad_field_has_its_own_error) {
  const auto error_of = [](auto change) {
    request r = access_request();
    change(r);
    auto m = make_message(r, rand16);
    return m ? errc::none_ : to_errc(m.error());
  };
  EXPECT_EQ(error_of([](request& r) { r.username = ""; }), errc::bad_username);
  EXPECT_EQ(error_of([](request& r) { r.username = "a:b"; }), errc::bad_username);
  EXPECT_EQ(error_of([](request& r) { r.username = std::string(49, 'a'); }), errc::bad_username);
  EXPECT_EQ(error_of([](request& r) { r.timestamp = -1; }), errc::bad_timestamp);
  EXPECT_EQ(error_of([](request& r) { r.timestamp = 1LL << 31; }), errc::bad_timestamp);
  EXPECT_EQ(error_of([](request& r) { r.allow_ip = ""; }), errc::bad_message);
  EXPECT_EQ(error_of([](request& r) { r.allow_ip = "1.2.3"; }), errc::bad_message);
  EXPECT_EQ(error_of([](request& r) { r.access = "tcp/0"; }), errc::bad_message);
  EXPECT_EQ(error_of([](request& r) { r.access = "tcp/65536"; }), errc::bad_message);
  EXPECT_EQ(error_of([](request& r) { r.access = "icmp/1"; }), errc::bad_message);
  EXPECT_EQ(error_of([](request& r) { r.access = ""; }), errc::bad_message);
  EXPECT_EQ(error_of([](request& r) { r.access = "tcp/22,"; }), errc::bad_message);
  EXPECT_EQ(error_of([](request& r) {
              r.nat = nat_mode::forward;
              r.nat_access = "192.168.1.10";
            }),
            errc::bad_nat_access);
  EXPECT_EQ(error_of([](request& r) {
              r.nat = nat_mode::local;
              r.nat_access = "host name,22";
            }),
            errc::bad_nat_access);
  EXPECT_EQ(error_of([](request& r) { r.client_timeout = 65537; }), errc::bad_client_timeout);
  EXPECT_EQ(error_of([](request& r) { r.command = std::string(200, 'x'); }),
            errc::request_too_long);
  EXPECT_EQ(error_of([](request&) {}), errc::none_);
  EXPECT_FALSE(make_message(access_request(), "123"));
  EXPECT_FALSE(make_message(access_request(), "12345678901234x6"));
}

TEST(request, limits_are_inclusive_where_fwknop_is) {
  request r = access_request();
  r.username = std::string(48, 'u');
  r.client_timeout = 65536;
  r.timestamp = (1LL << 31) - 1;
  EXPECT_TRUE(make_message(r, rand16));
}

}  // namespace
