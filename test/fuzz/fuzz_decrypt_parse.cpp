// SPDX-License-Identifier: MIT
// libFuzzer: the stages after the HMAC — `wire::decrypt(body, cipher, key)` on the input as an
// authenticated body (HMAC bypassed), and `wire::parse` on the input as a decrypted plaintext.
// The first byte picks the cipher mode; the rest is the body / plaintext.

#include "fuzz_keys.hpp"

#include <knock/wire/packet.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {
struct keys {
  knock::secret_bytes enc = knock::fuzz::key_from_b64(knock::fuzz::k256_enc_b64);
  std::array<knock::cipher::any_rijndael, 6> ciphers{
      knock::fuzz::cipher_named("cbc"), knock::fuzz::cipher_named("ecb"),
      knock::fuzz::cipher_named("cfb"), knock::fuzz::cipher_named("ofb"),
      knock::fuzz::cipher_named("ctr"), knock::fuzz::cipher_named("legacy")};
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const keys k;
  using knock::wire::long_packets;
  const std::string_view all{reinterpret_cast<const char*>(data), size};
  (void)knock::wire::parse(all);
  if (size == 0) return 0;
  const auto& cipher = k.ciphers[data[0] % k.ciphers.size()];
  const auto policy = (data[0] & 0x80) != 0 ? long_packets::try_aes : long_packets::refuse;
  const std::string_view body = all.substr(1);
  (void)knock::wire::decrypt(body, cipher, k.enc.view(), policy);
  (void)knock::wire::parse(body);
  return 0;
}
