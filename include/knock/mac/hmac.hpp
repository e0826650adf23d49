// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::mac::hmac<Hash>`: RFC 2104 HMAC over Crypto++ hash primitives. The keyed state holds the
/// hash state after `key ^ ipad` and after `key ^ opad`; a packet costs the message and the outer
/// block, never a re-derivation of the pads, and no heap allocation.
///
/// MD5, SHA-1 and SHA-2 keep bare chaining values and call Crypto++'s compression function
/// directly (knock/crypto/block_hash.hpp): for HMAC-SHA256 over a default packet that is four
/// compressions and nothing else. SHA-3 (a sponge) keeps two Crypto++ hash objects and copies them.

#include <knock/codec/base64.hpp>
#include <knock/core/error.hpp>
#include <knock/crypto/block_hash.hpp>
#include <knock/crypto/hash.hpp>
#include <knock/mac/concept.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <string_view>
#include <type_traits>

namespace knock::mac {

namespace detail {

/// `key` as one HMAC block (RFC 2104 §2: hashed first when longer than a block, zero-padded).
template <class Hash>
std::array<byte, Hash::block_size> key_block(secret_view key) noexcept {
  std::array<byte, Hash::block_size> pad{};
  if (key.size() > Hash::block_size) {
    if constexpr (crypto::block_hash_policy<Hash>) {
      typename crypto::block_hash<Hash>::stream h;
      h.update(key.data(), key.size());
      h.final(pad.data());
      h.wipe();
    } else {
      typename Hash::impl h;
      h.CalculateDigest(pad.data(), key.data(), key.size());
    }
  } else if (!key.empty()) {
    std::copy(key.begin(), key.end(), pad.begin());
  }
  return pad;
}

/// The pads of a block hash (MD5, SHA-1, SHA-2): the chaining values after one block of
/// `key ^ ipad` and of `key ^ opad`. They are as good as the key, so they are wiped on destruction.
/// The per-packet streams start from copies of them and run at least one compression in place
/// before `sign` returns, so no copy of a pad state is left on the stack.
template <class Hash>
class block_pads {
  using hash = crypto::block_hash<Hash>;

 public:
  explicit block_pads(secret_view key) noexcept {
    auto pad = key_block<Hash>(key);
    for (auto& b : pad) b ^= 0x36;
    inner_ = hash::initial();
    hash::compress(inner_, pad.data());
    for (auto& b : pad) b ^= 0x36 ^ 0x5c;
    outer_ = hash::initial();
    hash::compress(outer_, pad.data());
    secure_zero(pad.data(), pad.size());
  }
  block_pads(const block_pads&) = default;
  block_pads& operator=(const block_pads&) = default;
  ~block_pads() {
    secure_zero(&inner_, sizeof inner_);
    secure_zero(&outer_, sizeof outer_);
  }

  void sign(text_parts msg, byte* tag) const noexcept {
    typename hash::stream inner{inner_, Hash::block_size};
    for (std::string_view part : msg) inner.update(as_bytes(part).data(), part.size());
    typename hash::state outer = outer_;
    hash::finish_with_digest_of(outer, inner.finish(), tag);
  }

 private:
  typename hash::state inner_;  // has absorbed key ^ ipad
  typename hash::state outer_;  // has absorbed key ^ opad
};

/// The pads of any other Crypto++ hash (SHA-3): two hash objects that have absorbed `key ^ ipad`
/// and `key ^ opad`, copied per packet (fixed-size states: no allocation; Crypto++ wipes them).
template <class Hash>
class object_pads {
 public:
  explicit object_pads(secret_view key) noexcept {
    auto pad = key_block<Hash>(key);
    for (auto& b : pad) b ^= 0x36;
    inner_.Update(pad.data(), pad.size());
    for (auto& b : pad) b ^= 0x36 ^ 0x5c;
    outer_.Update(pad.data(), pad.size());
    secure_zero(pad.data(), pad.size());
  }

  void sign(text_parts msg, byte* tag) const noexcept {
    std::array<byte, Hash::digest_size> inner_digest;
    typename Hash::impl inner = inner_;
    for (std::string_view part : msg) inner.Update(as_bytes(part).data(), part.size());
    inner.Final(inner_digest.data());
    typename Hash::impl outer = outer_;
    outer.Update(inner_digest.data(), inner_digest.size());
    outer.Final(tag);
  }

 private:
  typename Hash::impl inner_;  // has absorbed key ^ ipad
  typename Hash::impl outer_;  // has absorbed key ^ opad
};

template <class Hash>
using pads =
    std::conditional_t<crypto::block_hash_policy<Hash>, block_pads<Hash>, object_pads<Hash>>;

}  // namespace detail

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
    explicit keyed(secret_view key) noexcept : pads_{key} {}

    static constexpr std::string_view name() noexcept { return Hash::name; }
    static constexpr std::size_t tag_size() noexcept { return tag_bytes; }

    /// Writes the raw tag of `msg` (the concatenated parts) into `tag` (at least `tag_size()`
    /// bytes).
    void sign(text_parts msg, bytes_span tag) const noexcept { pads_.sign(msg, tag.data()); }

    /// True when `tag_b64` is the unpadded base64 tag of `msg`. Compares in constant time.
    /// `tag_b64` is decoded rather than the computed tag encoded: the decoder is strict (one
    /// accepted spelling per byte string, base64.hpp), so this accepts exactly the canonical
    /// encoding; and the decoding does not wait for the hash, so the CPU runs it during the latency
    /// of the last compressions instead of after them.
    bool verify(text_parts msg, std::string_view tag_b64) const noexcept {
      if (tag_b64.size() != codec::base64::encoded_size(tag_bytes)) return false;
      std::array<byte, tag_bytes> expected;
      sign(msg, expected);
      std::array<byte, tag_bytes> received;
      const auto decoded = codec::base64::decode(tag_b64, received.data());
      return decoded && equal_ct(bytes_view{expected}, bytes_view{received});
    }

   private:
    detail::pads<Hash> pads_;
  };

  /// The keyed state for `key`, when `name` is this algorithm's name.
  static result<keyed> make(std::string_view name, secret_view key) noexcept {
    if (parse_hash_id(name) != Hash::id) return fail(errc::config_invalid);
    return keyed{key};
  }
};

static_assert(mac_policy<hmac<sha256>>);

}  // namespace knock::mac
