// SPDX-License-Identifier: MIT
// libFuzzer: a datagram payload through what the server does with it — `wire::screen`, then
// `wire::open` under the K256 keys (AES-CBC with HMAC-SHA256, and the no-HMAC legacy stanza so
// that decryption is reached too, in both long-packet policies).

#include "fuzz_keys.hpp"

#include <knock/wire/packet.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {
struct keys {
  knock::secret_bytes enc = knock::fuzz::key_from_b64(knock::fuzz::k256_enc_b64);
  knock::secret_bytes hmac_key = knock::fuzz::key_from_b64(knock::fuzz::k256_hmac_b64);
  knock::cipher::any_rijndael cbc = knock::fuzz::cipher_named("cbc");
  knock::cipher::any_rijndael legacy = knock::fuzz::cipher_named("legacy");
  knock::fuzz::any_hmac::keyed sha256 = knock::fuzz::hmac_named("sha256", hmac_key);
  knock::fuzz::any_hmac::keyed md5 = knock::fuzz::hmac_named("md5", hmac_key);
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const keys k;
  using knock::wire::long_packets;
  const std::string_view payload{reinterpret_cast<const char*>(data), size};
  const bool screened = static_cast<bool>(knock::wire::screen(payload));
  // `open` is only meant for screened payloads, but must stay memory-safe regardless.
  (void)knock::wire::open(payload, k.cbc, k.enc.view(), &k.sha256);
  (void)knock::wire::open(payload, k.cbc, k.enc.view(), &k.md5, long_packets::try_aes);
  if (screened) {
    const knock::fuzz::any_hmac::keyed* none = nullptr;
    (void)knock::wire::open(payload, k.cbc, k.enc.view(), none);
    (void)knock::wire::open(payload, k.legacy, k.enc.view(), none, long_packets::try_aes);
  }
  return 0;
}
