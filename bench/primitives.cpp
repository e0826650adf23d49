// SPDX-License-Identifier: MIT
// The steps of knock's decode path one by one, on the default packet, to set against the floor of
// /work/shared/PERFORMANCE.md ("fastest primitive for each step") and against decode/valid/knock.
//   primitive/screen_204                 wire::screen of the 204-char packet
//   primitive/base64_decode_171          U2FsdGVkX1 + 161 body chars -> 128 B blob
//   primitive/base64_decode_43           the HMAC tag -> 32 B
//   primitive/hmac_sha256_precomputed    HMAC-SHA256 over the 171 signed chars, pads precomputed
//   primitive/hmac_sha256_verify         the same + base64 of the tag + constant-time compare
//   primitive/rijndael_cbc_decrypt_128   EVP_BytesToKey(MD5) + AES-256 key schedule + 7 CBC
//                                        blocks + PKCS#7 strip
//   primitive/parse_108                  wire::parse of the 108 B plaintext (incl. its SHA-256
//                                        inner digest check)
//   primitive/sha256_64                  SHA-256 of the 64 B the inner digest covers (inside parse)
//   primitive/sha256_204                 SHA-256 of the wire string (the replay digest)
#include "cases.hpp"
#include "corpus.hpp"

#include <knock/cipher/rijndael.hpp>
#include <knock/crypto/hash.hpp>
#include <knock/mac/hmac.hpp>
#include <knock/wire/packet.hpp>

#include "support/vectors.hpp"

#include <array>
#include <memory>
#include <stdexcept>

namespace knock_bench {

using namespace knock;

void add_primitive_cases(const corpus& c) {
  const std::string_view body = std::string_view{c.valid}.substr(0, c.valid.size() - 43);
  const std::string_view tag = std::string_view{c.valid}.substr(body.size());
  auto signed_text =
      std::make_shared<const std::string>(std::string{wire::rijndael_prefix} + std::string{body});
  const auto key = test::key_from_b64(c.vector.at("enc_key_b64").get<std::string>());
  const auto hmac_key = test::key_from_b64(c.vector.at("hmac_key_b64").get<std::string>());
  const std::string_view packet = c.valid;

  add_case(
      "primitive/screen_204", [packet] { return wire::screen(packet) ? accepted : 1; }, accepted);

  add_case(
      "primitive/base64_decode_171",
      [signed_text] {
        std::array<byte, 130> out;
        const auto n = codec::base64::decode(*signed_text, out.data());
        benchmark::DoNotOptimize(out);
        return n && *n == 128 ? accepted : 1;
      },
      accepted);

  add_case(
      "primitive/base64_decode_43",
      [tag] {
        std::array<byte, 33> out;
        const auto n = codec::base64::decode(tag, out.data());
        benchmark::DoNotOptimize(out);
        return n && *n == 32 ? accepted : 1;
      },
      accepted);

  auto hmac = std::make_shared<const mac::hmac<sha256>::keyed>(hmac_key.view());
  add_case(
      "primitive/hmac_sha256_precomputed",
      [hmac, body] {
        std::array<byte, 32> out;
        const std::array<std::string_view, 2> parts{wire::rijndael_prefix, body};
        hmac->sign(parts, out);
        benchmark::DoNotOptimize(out);
        return accepted;
      },
      accepted);
  add_case(
      "primitive/hmac_sha256_verify",
      [hmac, body, tag] {
        const std::array<std::string_view, 2> parts{wire::rijndael_prefix, body};
        return hmac->verify(parts, tag) ? accepted : 1;
      },
      accepted);

  auto plaintext = std::make_shared<const std::string>(
      c.vector.at("intermediate").at("plaintext").get<std::string>());
  if (plaintext->size() != 108) throw std::runtime_error{"the default plaintext is not 108 B"};

  auto blob = std::make_shared<std::array<byte, 128>>();
  if (!codec::base64::decode(*signed_text, blob->data())) throw std::runtime_error{"bad packet"};
  auto aes_key = std::make_shared<const secret_bytes>(key.clone());
  add_case(
      "primitive/rijndael_cbc_decrypt_128",
      [blob, aes_key] {
        std::array<byte, 128> out;
        const auto n = cipher::rijndael<cbc>{}.decrypt(aes_key->view(), *blob, out);
        benchmark::DoNotOptimize(out);
        return n && *n == 108 ? accepted : 1;
      },
      accepted);

  add_case(
      "primitive/parse_108",
      [plaintext] {
        auto m = wire::parse(*plaintext);
        benchmark::DoNotOptimize(m);
        return m ? accepted : 1;
      },
      accepted);

  const std::string_view covered = std::string_view{*plaintext}.substr(0, plaintext->rfind(':'));
  if (covered.size() != 64) throw std::runtime_error{"the inner digest does not cover 64 B"};
  add_case(
      "primitive/sha256_64",
      [plaintext, covered] {
        std::array<byte, 32> d;
        knock::hash(hash_id::sha256, as_bytes(covered), d.data());
        benchmark::DoNotOptimize(d);
        return accepted;
      },
      accepted);

  add_case(
      "primitive/sha256_204",
      [packet] {
        std::array<byte, 32> d;
        knock::hash(hash_id::sha256, as_bytes(packet), d.data());
        benchmark::DoNotOptimize(d);
        return accepted;
      },
      accepted);
}

}  // namespace knock_bench
