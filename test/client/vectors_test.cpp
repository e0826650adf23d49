// SPDX-License-Identifier: MIT
// Known answers: every packet of test/data/fwknop-client-vectors.json was made by the real fwknop
// client with a pinned clock and /dev/urandom. Its argv, given to knock-client's own option parser
// and then to knock::client with the same random field and salt, must give the same packet byte
// for byte: the options, the rc-variable table, the request rules (types, NAT forms, -s, commands)
// and the crypto all agree with fwknop.
#include "build.hpp"
#include "command_line.hpp"
#include "keys.hpp"

#include <knock/client.hpp>

#include "support/vectors.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {
using namespace knock;

std::vector<nlohmann::json> client_vectors() {
  return test::vectors_of(KNOCK_TEST_DATA "/fwknop-client-vectors.json", {"valid"});
}

std::array<byte, 8> salt_of(const std::string& hex) {
  std::array<byte, 8> salt{};
  for (std::size_t i = 0; i < salt.size(); ++i)
    salt[i] = static_cast<byte>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return salt;
}

class fwknop_client_vector : public ::testing::TestWithParam<nlohmann::json> {};

TEST_P(fwknop_client_vector, knock_client_options_rebuild_the_packet_byte_for_byte) {
  const nlohmann::json& v = GetParam();
  std::vector<std::string> args;
  for (const auto& a : v.at("args")) args.push_back(a.get<std::string>());
  // Drop "fwknop --test -B <file> --no-rc-file --no-save-args": they steer the run, not the packet.
  std::vector<const char*> argv;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "-B")
      ++i;
    else
      argv.push_back(args[i].c_str());
  }
  auto cl = knock_client::parse_command_line(argv);
  ASSERT_TRUE(cl) << cl.error();
  knock_client::settings s;
  for (const auto& a : cl->assignments)
    ASSERT_TRUE(knock_client::apply(s, a.variable, a.value.str()));

  const auto& det = v.at("det_env");
  auto request = knock_client::make_request(s, cl->command,
                                            det.at("FKO_FIXED_TIME").get<std::int64_t>(), "root");
  ASSERT_TRUE(request) << request.error();
  auto keys = knock_client::load_keys(s, std::nullopt);
  ASSERT_TRUE(keys) << keys.error();
  auto cipher = cipher::any_rijndael::make(s.mode);
  ASSERT_TRUE(cipher);
  auto c = keys->hmac_key ? default_client::make(*cipher, std::move(keys->key),
                                                 to_string(keys->hmac_type), keys->hmac_key->view())
                          : default_client::make(*cipher, std::move(keys->key));
  ASSERT_TRUE(c) << error_name(c.error());

  const auto& expected = v.at("expected");
  const auto packet = c->make_packet(*request, expected.at("rand_value").get<std::string>(),
                                     salt_of(det.at("FKO_FIXED_RAND").get<std::string>()));
  ASSERT_TRUE(packet) << error_name(packet.error());
  EXPECT_EQ(*packet, v.at("packet").get<std::string>());
  EXPECT_EQ(static_cast<int>(type_of(*request)), expected.at("message_type").get<int>());
}

INSTANTIATE_TEST_SUITE_P(client, fwknop_client_vector, ::testing::ValuesIn(client_vectors()),
                         [](const auto& info) {
                           return info.param.at("name").template get<std::string>();
                         });

}  // namespace
