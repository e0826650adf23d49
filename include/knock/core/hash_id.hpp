// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The hash algorithms fwknop uses, numbered as libfko numbers them (for both the inner digest and
/// the HMAC), with their access.conf / command-line names. No crypto library is included here.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace knock {

/// A hash algorithm, with libfko's numbers (FKO_DIGEST_* and FKO_HMAC_* agree).
enum class hash_id : std::uint8_t { md5 = 1, sha1, sha256, sha384, sha512, sha3_256, sha3_512 };

inline constexpr std::array all_hash_ids{hash_id::md5,     hash_id::sha1,   hash_id::sha256,
                                         hash_id::sha384,  hash_id::sha512, hash_id::sha3_256,
                                         hash_id::sha3_512};

/// The name fwknop uses in its configs: "md5", "sha1", "sha256", "sha384", "sha512", "sha3_256",
/// "sha3_512".
constexpr std::string_view to_string(hash_id h) noexcept {
  constexpr std::array<std::string_view, 8> names{"",       "md5",    "sha1",     "sha256",
                                                  "sha384", "sha512", "sha3_256", "sha3_512"};
  const auto i = static_cast<std::size_t>(h);
  return i < names.size() ? names[i] : "";
}

/// Size in bytes of the digest `h` produces.
constexpr std::size_t digest_size(hash_id h) noexcept {
  switch (h) {
    case hash_id::md5: return 16;
    case hash_id::sha1: return 20;
    case hash_id::sha256:
    case hash_id::sha3_256: return 32;
    case hash_id::sha384: return 48;
    case hash_id::sha512:
    case hash_id::sha3_512: return 64;
  }
  return 0;
}

/// Parses a config or command-line name, ignoring case ("SHA256", "sha3_256"; also "sha3-256").
constexpr std::optional<hash_id> parse_hash_id(std::string_view name) noexcept {
  for (hash_id h : all_hash_ids) {
    const std::string_view want = to_string(h);
    if (want.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < want.size(); ++i) {
      char c = name[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c == '-') c = '_';
      same = same && c == want[i];
    }
    if (same) return h;
  }
  return std::nullopt;
}

}  // namespace knock
