// SPDX-License-Identifier: MIT
// knock_seal: prints SPA packets made by knock's wire layer, for interop tests against the real
// fwknopd.
//   knock_seal --mode cbc --hmac sha256|none --key-b64 K [--hmac-key-b64 H] [--digest sha256]
//              [--type 0..6] [--message "10.0.0.5,tcp/22"] [--nat "host,port"] [--timeout N]
//              [--user U] [--count N (N packets, one a line)]
// The timestamp is the current time; salt and random field come from the OS CSPRNG.
#include <knock/cipher/any_of.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/wire/packet.hpp>

#include <cryptopp/osrng.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {
using namespace knock;

int usage(const char* why) {
  std::fprintf(stderr, "knock_seal: %s\n", why);
  return 2;
}

std::optional<std::vector<byte>> from_b64(std::string_view s) {
  std::vector<byte> out(codec::base64::decoded_size(s.size()) + 3);
  auto n = codec::base64::decode_padded(s, out.data());
  if (!n) return std::nullopt;
  out.resize(*n);
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> opt{{"--mode", "cbc"},
                                         {"--hmac", "sha256"},
                                         {"--digest", "sha256"},
                                         {"--type", "1"},
                                         {"--message", "10.0.0.5,tcp/22"},
                                         {"--user", "knock"}};
  for (int i = 1; i + 1 < argc; i += 2) opt[argv[i]] = argv[i + 1];
  if (argc % 2 == 0) return usage("options come in pairs");

  const auto cipher = cipher::any_rijndael::make(opt["--mode"]);
  if (!cipher) return usage("unknown --mode");
  const auto key = from_b64(opt["--key-b64"]);
  if (!key || key->empty()) return usage("--key-b64 missing or not base64");
  std::optional<mac::any_hmac::keyed> mac;
  if (opt["--hmac"] != "none") {
    const auto hkey = from_b64(opt["--hmac-key-b64"]);
    if (!hkey) return usage("--hmac-key-b64 missing or not base64");
    auto k = mac::any_hmac::make(opt["--hmac"], *hkey);
    if (!k) return usage("unknown --hmac");
    mac.emplace(*k);
  }
  const auto digest = parse_hash_id(opt["--digest"]);
  if (!digest) return usage("unknown --digest");

  CryptoPP::AutoSeededRandomPool rng;
  const unsigned long count = opt.count("--count") ? std::stoul(opt["--count"]) : 1;
  for (unsigned long n = 0; n < count; ++n) {  // each with its own random field and salt
    spa_message m;
    std::string digits(16, '0');
    for (char& d : digits) d = static_cast<char>('0' + rng.GenerateWord32(0, 9));
    m.rand_value.assign(digits);
    m.username.assign(opt["--user"]);
    m.timestamp = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    m.type = static_cast<message_type>(std::stoi(opt["--type"]));
    m.message.assign(opt["--message"]);
    if (opt.count("--nat")) m.nat_access.assign(opt["--nat"]);
    if (opt.count("--timeout"))
      m.client_timeout = static_cast<std::uint32_t>(std::stoul(opt["--timeout"]));
    m.digest_type = *digest;

    std::array<byte, 8> salt;
    rng.GenerateBlock(salt.data(), salt.size());
    auto packet = wire::seal(m, *cipher, *key, mac ? &*mac : nullptr, salt);
    if (!packet) return usage(error_name(packet.error()).c_str());
    std::printf("%s\n", packet->c_str());
  }
  return 0;
}
