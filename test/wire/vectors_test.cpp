// SPDX-License-Identifier: MIT
// Known answers: packets made by the real fwknop 2.6.10 client (shared/spec and test/data), decoded
// field by field, and the broken ones refused with the error that names the broken stage.
#include <knock/wire/packet.hpp>

#include "support/vectors.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

namespace {
using namespace knock;
using nlohmann::json;

// Which stage must refuse each "invalid" vector of the shared file.
const std::map<std::string, errc> expected_error{
    {"bad_hmac_tag", errc::bad_mac},
    {"bad_ciphertext_char", errc::bad_mac},
    {"hmac_type_mismatch", errc::bad_mac},
    {"missing_hmac_stanza_expects_it", errc::bad_mac},
    // The tag read as ciphertext leaves a base64 tail with stray low bits: not canonical base64.
    {"hmac_packet_stanza_without_hmac", errc::not_base64},
    {"wrong_enc_key_valid_hmac", errc::decrypt_failed},
    {"bad_inner_digest", errc::digest_mismatch},
    {"bad_port_99999", errc::bad_message},
    {"bad_proto_sctp", errc::bad_message},
    {"short_rand_15_digits", errc::decrypt_failed},
    {"msg_type_7", errc::bad_message_type},
    {"prefix_not_stripped", errc::prefix_not_stripped},
    {"non_base64_char", errc::not_base64},
    {"truncated_139", errc::packet_too_short},
    {"icmp_proto_rejected", errc::bad_message},
};

result<spa_message, errc> open_vector(const json& v, std::string_view packet) {
  const test::vector_keys keys{v};
  if (auto s = wire::screen(packet); !s) return fail(s.error());
  return wire::open(packet, keys.cipher, keys.key.view(), keys.mac_ptr());
}

void expect_fields(const spa_message& m, const json& e) {
  EXPECT_EQ(m.username.view(), e.at("username").get<std::string>());
  EXPECT_EQ(m.timestamp, e.at("timestamp").get<std::int64_t>());
  EXPECT_EQ(m.version.view(), e.at("version").get<std::string>());
  EXPECT_EQ(static_cast<int>(m.type), e.at("message_type").get<int>());
  EXPECT_EQ(m.message.view(), e.at("message").get<std::string>());
  if (e.at("server_auth").is_null())
    EXPECT_FALSE(m.has_server_auth);
  else
    EXPECT_EQ(m.server_auth.view(), e.at("server_auth").get<std::string>());
  if (!e.contains("rand_value")) return;  // the quirk vectors list fewer fields
  EXPECT_EQ(m.rand_value.view(), e.at("rand_value").get<std::string>());
  if (e.at("nat_access").is_null())
    EXPECT_TRUE(m.nat_access.empty());
  else
    EXPECT_EQ(m.nat_access.view(), e.at("nat_access").get<std::string>());
  EXPECT_EQ(m.client_timeout, e.at("client_timeout").get<std::uint32_t>());
  EXPECT_EQ(static_cast<int>(m.digest_type), e.at("digest_type").get<int>());
  EXPECT_EQ(m.digest.view(), e.at("digest").get<std::string>());
}

class vectors : public ::testing::TestWithParam<json> {};

TEST_P(vectors, behave_as_expected) {
  const json& v = GetParam();
  const std::string category = v.at("category");
  const std::string packet = v.at("packet");
  auto m = open_vector(v, packet);
  if (category == "valid" || category == "quirk_accepted") {
    ASSERT_TRUE(m) << error_name(m.error());
    expect_fields(*m, v.at("expected"));
  } else {
    ASSERT_EQ(category, "invalid");
    ASSERT_FALSE(m) << "accepted an invalid packet";
    const auto want = expected_error.find(v.at("name"));
    ASSERT_NE(want, expected_error.end()) << "no expected error listed for this vector";
    EXPECT_EQ(error_name(m.error()), to_string(want->second));
  }
}

// Re-encoding a client's packet from its decoded fields and its own salt must give its exact bytes.
class client_packets : public ::testing::TestWithParam<json> {};

TEST_P(client_packets, reencode_byte_for_byte) {
  const json& v = GetParam();
  const std::string packet = v.at("packet");
  const test::vector_keys keys{v};
  auto m = wire::open(packet, keys.cipher, keys.key.view(), keys.mac_ptr());
  ASSERT_TRUE(m) << error_name(m.error());
  auto again = wire::seal(*m, keys.cipher, keys.key.view(), keys.mac_ptr(), test::salt_of(packet));
  ASSERT_TRUE(again) << error_name(again.error());
  EXPECT_EQ(*again, packet);
}

std::string vector_name(const ::testing::TestParamInfo<json>& info) {
  std::string n = info.param.at("name");
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

const auto shared_file = KNOCK_TEST_DATA "/fwknop-2.6.10-vectors.json";
const auto client_file = KNOCK_TEST_DATA "/fwknop-client-vectors.json";
INSTANTIATE_TEST_SUITE_P(
    shared, vectors,
    ::testing::ValuesIn(test::vectors_of(shared_file, {"valid", "quirk_accepted", "invalid"})),
    vector_name);
INSTANTIATE_TEST_SUITE_P(client, vectors,
                         ::testing::ValuesIn(test::vectors_of(client_file, {"valid"})),
                         vector_name);
// Packets the installed fwknop client makes right now (test/interop/fwknop_client_live.sh sets
// this).
std::vector<json> live_vectors() {
  const char* path = std::getenv("KNOCK_LIVE_VECTORS");
  return path ? test::vectors_of(path, {"valid"}) : std::vector<json>{};
}
INSTANTIATE_TEST_SUITE_P(live, vectors, ::testing::ValuesIn(live_vectors()), vector_name);
INSTANTIATE_TEST_SUITE_P(live, client_packets, ::testing::ValuesIn(live_vectors()), vector_name);
INSTANTIATE_TEST_SUITE_P(shared, client_packets,
                         ::testing::ValuesIn(test::vectors_of(shared_file, {"valid"})),
                         vector_name);
INSTANTIATE_TEST_SUITE_P(client, client_packets,
                         ::testing::ValuesIn(test::vectors_of(client_file, {"valid"})),
                         vector_name);
}  // namespace
