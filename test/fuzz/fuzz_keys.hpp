// SPDX-License-Identifier: MIT
#pragma once
// The K256 key set of test/data/*.json (AES key and 64-byte HMAC key), built as
// test/support/vectors.hpp does, without nlohmann::json.
//

#include <knock/cipher/any_of.hpp>
#include <knock/codec/base64.hpp>
#include <knock/mac/any_of.hpp>

#include <algorithm>
#include <array>
#include <concepts>
#include <variant>

#include <cstdlib>
#include <string_view>
#include <vector>

namespace knock::fuzz {

inline constexpr std::string_view k256_enc_b64 = "4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU=";
inline constexpr std::string_view k256_hmac_b64 =
    "I/w0dzxn5CtMqsrQ5zOYFqszPYoDXv7BE1VNFRLNWr2bfcf2mwWQk0uX9Z0BYja47gw1/pYoFH8n1rHmDVThyg==";

/// The library's HMAC set (test/fuzz once carried a copy: clang 14 could not build it).
using any_hmac = mac::any_hmac;

inline secret_bytes key_from_b64(std::string_view b64) {
  std::vector<byte> out(codec::base64::decoded_size(b64.size()) + 3);
  const auto n = codec::base64::decode_padded(b64, out.data());
  if (!n) std::abort();
  return secret_bytes{bytes_view{out.data(), *n}};
}

inline cipher::any_rijndael cipher_named(const char* name) {
  auto c = cipher::any_rijndael::make(name);
  if (!c) std::abort();
  return *c;
}

inline any_hmac::keyed hmac_named(const char* name, const secret_bytes& key) {
  auto k = any_hmac::make(name, key.view());
  if (!k) std::abort();
  return *k;
}

}  // namespace knock::fuzz
