// SPDX-License-Identifier: MIT
#pragma once
// Test vectors in the schema of shared/spec/fwknop-2.6.10-vectors.json, and what a test needs to
// open them: the cipher, the keys and the HMAC state a stanza with that vector's settings would
// hold.

#include <knock/cipher/any_of.hpp>
#include <knock/codec/base64.hpp>
#include <knock/mac/any_of.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace knock::test {

inline nlohmann::json load_json(const std::string& path) {
  std::ifstream in{path};
  if (!in) throw std::runtime_error{"cannot read " + path};
  return nlohmann::json::parse(in);
}

/// Decodes padded base64 (keys keep their '=').
inline secret_bytes key_from_b64(std::string_view b64) {
  std::vector<byte> out(codec::base64::decoded_size(b64.size()) + 3);
  const auto n = codec::base64::decode_padded(b64, out.data());
  if (!n) throw std::runtime_error{"bad base64 key"};
  return secret_bytes{bytes_view{out.data(), *n}};
}

/// libfko's encryption-mode numbers → knock's cipher.
inline cipher::any_rijndael cipher_for(int fko_mode) {
  const char* name = fko_mode == 1   ? "ecb"
                     : fko_mode == 2 ? "cbc"
                     : fko_mode == 3 ? "cfb"
                     : fko_mode == 5 ? "ofb"
                     : fko_mode == 6 ? "ctr"
                     : fko_mode == 8 ? "legacy"
                                     : "?";
  auto c = cipher::any_rijndael::make(name);
  if (!c) throw std::runtime_error{"unknown mode " + std::to_string(fko_mode)};
  return *c;
}

/// What one vector needs to be opened: as a stanza configured like fwknopd was for it.
struct vector_keys {
  cipher::any_rijndael cipher;
  secret_bytes key;
  std::optional<mac::any_hmac::keyed> mac;

  explicit vector_keys(const nlohmann::json& v) : cipher{cipher_for(v.at("enc_mode").get<int>())} {
    key = key_from_b64(v.at("enc_key_b64").get<std::string>());
    if (!v.at("hmac_key_b64").is_null()) {
      const auto hmac_key = key_from_b64(v.at("hmac_key_b64").get<std::string>());
      const auto type = static_cast<hash_id>(v.at("hmac_type").get<int>());
      auto k = mac::any_hmac::make(to_string(type), hmac_key.view());
      if (!k) throw std::runtime_error{"bad hmac type"};
      mac.emplace(*k);
    }
  }
  const mac::any_hmac::keyed* mac_ptr() const { return mac ? &*mac : nullptr; }
};

/// The vectors of a file whose category is one of `categories`, as gtest parameters.
inline std::vector<nlohmann::json> vectors_of(const std::string& path,
                                              std::initializer_list<std::string_view> categories) {
  const nlohmann::json file = load_json(path);
  std::vector<nlohmann::json> out;
  for (const auto& v : file.at("vectors"))
    for (std::string_view c : categories)
      if (v.at("category").get<std::string>() == c) out.push_back(v);
  return out;
}

/// The 8-byte salt of a packet: bytes 8..15 of its blob, whose base64 starts 11 characters in.
inline std::array<byte, 8> salt_of(std::string_view packet) {
  std::string text = "U2FsdGVkX1" + std::string{packet.substr(0, 22)};  // 32 chars = 24 bytes
  std::array<byte, 24> blob;
  if (!codec::base64::decode(text, blob.data())) throw std::runtime_error{"bad packet"};
  std::array<byte, 8> salt;
  std::copy(blob.begin() + 8, blob.begin() + 16, salt.begin());
  return salt;
}

}  // namespace knock::test
