// SPDX-License-Identifier: MIT
#pragma once
// The packets every implementation is given (the same bytes for knock and libfko), and the keys of
// the stanza that accepts the valid one.

#include <nlohmann/json.hpp>

#include <string>

namespace knock_bench {

/// Entries in the replay caches of the `replay` case.
inline constexpr std::size_t replay_entries = 100'000;

struct corpus {
  nlohmann::json vector;    ///< access_cbc_hmac_sha256 of test/data/fwknop-2.6.10-vectors.json
  std::string valid;        ///< its packet: 204 chars, CBC, HMAC-SHA256, K256 keys
  std::string bad_hmac;     ///< `valid` with one character of the HMAC tag changed
  std::string garbage_b64;  ///< 204 random characters of the base64 alphabet
  std::string garbage_bin;  ///< 204 random bytes 0x01..0xFF (no NUL: libfko takes C strings)
  std::string replay_digest_b64;  ///< fwknopd's replay digest of `valid` (SHA-256, base64)
};

/// Loads the vector and makes the other packets (fixed seeds: every run sees the same bytes).
corpus load_corpus();

}  // namespace knock_bench
