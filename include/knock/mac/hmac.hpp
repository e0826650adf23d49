// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::mac::hmac<Hash>`: RFC 2104 HMAC over Crypto++ hash primitives. The keyed state holds two
/// hash objects that have already absorbed `key ^ ipad` and `key ^ opad`; a packet costs a copy of
/// each plus the message, never a re-derivation of the pads, and no heap allocation.

#include <knock/core/error.hpp>
#include <knock/crypto/hash.hpp>
#include <knock/mac/concept.hpp>
#include <knock/wire/base64.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <string_view>

namespace knock::mac {

/// HMAC with the hash policy `Hash` (knock::sha256, …). Models knock::mac_policy.
template <class Hash>
struct hmac {
  using role = knock::role::mac;
  using hash = Hash;
  static constexpr std::array<std::string_view, 1> names{Hash::name};
  static constexpr std::size_t tag_bytes = Hash::digest_size;

  /// Per-key state: built once per key (at config load), then used for every packet.
  class keyed {
   public:
    explicit keyed(secret_view key) noexcept {
      std::array<byte, Hash::block_size> pad{};
      if (key.size() > Hash::block_size) {
        typename Hash::impl h;
        h.CalculateDigest(pad.data(), key.data(), key.size());
      } else if (!key.empty()) {
        std::copy(key.begin(), key.end(), pad.begin());
      }
      for (auto& b : pad) b ^= 0x36;
      inner_.Update(pad.data(), pad.size());
      for (auto& b : pad) b ^= 0x36 ^ 0x5c;
      outer_.Update(pad.data(), pad.size());
      secure_zero(pad.data(), pad.size());
    }
    keyed(const keyed&) = default;
    keyed& operator=(const keyed&) = default;

    static constexpr std::string_view name() noexcept { return Hash::name; }
    static constexpr std::size_t tag_size() noexcept { return tag_bytes; }

    /// Writes the raw tag of `msg` (the concatenated parts) into `tag` (at least `tag_size()`
    /// bytes).
    void sign(text_parts msg, bytes_span tag) const noexcept {
      std::array<byte, tag_bytes> inner_digest;
      typename Hash::impl inner = inner_;  // copies of fixed-size states: no allocation
      for (std::string_view part : msg) inner.Update(as_bytes(part).data(), part.size());
      inner.Final(inner_digest.data());
      typename Hash::impl outer = outer_;
      outer.Update(inner_digest.data(), inner_digest.size());
      outer.Final(tag.data());
    }

    /// True when `tag_b64` is the unpadded base64 tag of `msg`. Compares in constant time.
    bool verify(text_parts msg, std::string_view tag_b64) const noexcept {
      std::array<byte, tag_bytes> tag;
      sign(msg, tag);
      std::array<char, base64::encoded_size(tag_bytes)> expected;
      base64::encode(tag, expected.data());
      return equal_ct(std::string_view{expected.data(), expected.size()}, tag_b64);
    }

   private:
    typename Hash::impl inner_;  // has absorbed key ^ ipad
    typename Hash::impl outer_;  // has absorbed key ^ opad
  };

  /// The keyed state for `key`, when `name` is this algorithm's name.
  static result<keyed> make(std::string_view name, secret_view key) noexcept {
    if (parse_hash_id(name) != Hash::id) return fail(errc::config_invalid);
    return keyed{key};
  }
};

static_assert(mac_policy<hmac<sha256>>);

}  // namespace knock::mac
