// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Hash algorithm policies over Crypto++'s primitives: `knock::md5` … `knock::sha3_512`. Each names
/// its Crypto++ class (`impl`), block and digest sizes and its `hash_id`. Crypto++ is included only
/// here and in the other adaptors (cipher/rijndael.hpp, mac/hmac.hpp).

#include <knock/core/bytes.hpp>
#include <knock/core/hash_id.hpp>
#include <knock/crypto/block_hash.hpp>

#ifndef CRYPTOPP_ENABLE_NAMESPACE_WEAK
#define CRYPTOPP_ENABLE_NAMESPACE_WEAK 1  // fwknop needs MD5 (key derivation, legacy digests)
#endif
#include <cryptopp/md5.h>
#include <cryptopp/sha.h>
#include <cryptopp/sha3.h>

#include <cstddef>
#include <span>
#include <string_view>

namespace knock {

namespace detail {
template <class Impl, hash_id Id>
struct hash_algorithm {
  using impl = Impl;  ///< the Crypto++ class; its objects hold their state in place (no heap)
  static constexpr hash_id id = Id;
  static constexpr std::string_view name = to_string(Id);
  static constexpr std::size_t digest_size = Impl::DIGESTSIZE;
  static constexpr std::size_t block_size = Impl::BLOCKSIZE;  ///< the HMAC block (SHA-3: its rate)
  static_assert(digest_size == knock::digest_size(Id));
};
}  // namespace detail

struct md5 : detail::hash_algorithm<CryptoPP::Weak::MD5, hash_id::md5> {};
struct sha1 : detail::hash_algorithm<CryptoPP::SHA1, hash_id::sha1> {};
struct sha256 : detail::hash_algorithm<CryptoPP::SHA256, hash_id::sha256> {};
struct sha384 : detail::hash_algorithm<CryptoPP::SHA384, hash_id::sha384> {};
struct sha512 : detail::hash_algorithm<CryptoPP::SHA512, hash_id::sha512> {};
struct sha3_256 : detail::hash_algorithm<CryptoPP::SHA3_256, hash_id::sha3_256> {};
struct sha3_512 : detail::hash_algorithm<CryptoPP::SHA3_512, hash_id::sha3_512> {};

/// Calls `f(H{})` with the hash policy whose id is `id`; returns what `f` returns.
template <class F>
decltype(auto) visit_hash(hash_id id, F&& f) {
  switch (id) {
    case hash_id::md5: return f(md5{});
    case hash_id::sha1: return f(sha1{});
    case hash_id::sha256: return f(sha256{});
    case hash_id::sha384: return f(sha384{});
    case hash_id::sha512: return f(sha512{});
    case hash_id::sha3_256: return f(sha3_256{});
    case hash_id::sha3_512: break;
  }
  return f(sha3_512{});
}

/// Hashes `msg` with the algorithm `id` into `out` (at least `digest_size(id)` bytes); returns that
/// size. MD5, SHA-1 and SHA-2 go straight to Crypto++'s compression function (block_hash.hpp);
/// SHA-3 through a Crypto++ hash object.
inline std::size_t hash(hash_id id, bytes_view msg, byte* out) noexcept {
  return visit_hash(id, [&](auto h) {
    using H = decltype(h);
    if constexpr (crypto::block_hash_policy<H>) {
      typename crypto::block_hash<H>::stream state;
      state.update(msg.data(), msg.size());
      state.final(out);
    } else {
      typename H::impl state;
      state.Update(msg.data(), msg.size());
      state.Final(out);
    }
    return H::digest_size;
  });
}

}  // namespace knock
