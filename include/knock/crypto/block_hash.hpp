// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::crypto::block_hash<Hash>`: MD5, SHA-1 and SHA-2 driven through Crypto++'s own
/// compression function (`Impl::InitState`, `Impl::Transform`: public and static; `Transform` picks
/// SHA-NI at run time), with the message padding done here, in stack buffers.
///
/// Why: a keyed HMAC only needs the chaining values after `key ^ ipad` / `key ^ opad` and, per
/// packet, a few compressions. Crypto++'s `IteratedHash` objects add to each hash a virtual
/// `Update` / `TruncatedFinal` / `PadLastBlock`, a copy of a 200-byte object and a wipe in its
/// destructor (≈1,300 of the ≈13,000 instructions of an HMAC-SHA256 over 171 bytes). Here a hash is
/// a bare chaining value (`state`) plus a one-block buffer (`stream`): no object, no virtual call,
/// no heap.
///
/// `Transform` takes the block as host-order words, so the bytes are loaded in the hash's byte
/// order (big-endian for SHA, little-endian for MD5) before each call; the padding and the length
/// are written as words. Both arrays are 16-byte aligned, as Crypto++ asks of its SSE paths. SHA-3
/// is a sponge, not a block hash: it is not covered.
///
/// Cost note: on x86 without SHA-NI, Crypto++'s `SHA256::Transform` is its C++ code while its
/// objects hash SHA-256 with SSE2 assembly (≈13 % fewer instructions per compression under
/// valgrind: 2,977 vs 3,413). With SHA-NI (and for the other hashes) both paths run the same
/// compression code.

#include <knock/core/bytes.hpp>

#include <cryptopp/cryptlib.h>  // CryptoPP::BigEndian

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace knock::crypto {

namespace detail {
// 16-byte vectors (GCC/Clang vector extensions), declared outside the template: the attribute does
// not apply to a dependent type.
using u32x4 = std::uint32_t __attribute__((vector_size(16)));
using u64x2 = std::uint64_t __attribute__((vector_size(16)));
}  // namespace detail

/// Hash policies (knock::md5 …, crypto/hash.hpp) whose Crypto++ class exposes a static compression
/// function.
template <class Hash>
concept block_hash_policy = requires(typename Hash::impl::HashWordType* state,
                                     const typename Hash::impl::HashWordType* in) {
  Hash::impl::InitState(state);
  Hash::impl::Transform(state, in);
};

/// The compression function of `Hash` and the Merkle–Damgård padding around it.
template <block_hash_policy Hash>
struct block_hash {
  using word = typename Hash::impl::HashWordType;  // word32 (MD5, SHA-1, SHA-256), word64 (SHA-512)
  static constexpr bool big_endian =
      std::is_same_v<typename Hash::impl::ByteOrderClass, CryptoPP::BigEndian>;
  static constexpr std::size_t block_size = Hash::block_size;
  static constexpr std::size_t digest_size = Hash::digest_size;
  static constexpr std::size_t block_words = block_size / sizeof(word);
  /// Bytes of the message length closing the last block: 8 (64-byte blocks), 16 (SHA-384/512).
  static constexpr std::size_t length_size = block_size / 8;
  static_assert(digest_size % sizeof(word) == 0 && length_size >= sizeof(std::uint64_t));

  /// A chaining value, sized and aligned as Crypto++ sizes its own (`IteratedHash::m_state`).
  struct state {
    alignas(16) std::array<word, block_words> h;
  };
  /// One block as the compression function takes it: host-order words.
  using block = std::array<word, block_words>;

  /// The chaining value before any block (the hash's initial value).
  static state initial() noexcept {
    state s{};
    Hash::impl::InitState(s.h.data());
    return s;
  }

  /// Runs the `block_size` bytes at `p` through the compression function.
  static void compress(state& s, const byte* p) noexcept {
    alignas(16) block w;
    load_block(p, w, {});
    Hash::impl::Transform(s.h.data(), w.data());
  }

  /// The first `digest_size` bytes of the chaining value, in the hash's byte order.
  static void digest(const state& s, byte* out) noexcept {
    for (std::size_t i = 0; i < digest_size / sizeof(word); ++i)
      store(s.h[i], out + i * sizeof(word));
  }

  /// Finishes `s`, which has absorbed exactly one block, with the digest of `d` as the rest of the
  /// message, and writes the digest (HMAC's outer hash). The block is built from `d`'s words
  /// directly (a digest loaded back in the hash's byte order gives the same words): no bytes in
  /// between, which shortens the path from the inner hash to the tag.
  static void finish_with_digest_of(state& s, const state& d, byte* out) noexcept {
    static constexpr block padding = [] {
      block w{};
      w[digest_size / sizeof(word)] = first_pad_word;
      const auto length = length_words(block_size + digest_size);
      std::copy(length.begin(), length.end(), w.end() - length.size());
      return w;
    }();
    alignas(16) block w = padding;
    std::memcpy(w.data(), d.h.data(), digest_size);
    Hash::impl::Transform(s.h.data(), w.data());
    digest(s, out);
  }

  /// A hash in progress from some chaining value: the blocks absorbed so far are in the state, the
  /// bytes of the next block wait in a buffer.
  class stream {
   public:
    /// Continues from `from`, which has absorbed `absorbed` bytes (a multiple of the block size).
    explicit stream(const state& from = initial(), std::uint64_t absorbed = 0) noexcept
        : s_{from}, length_{absorbed} {}

    void update(const byte* p, std::size_t n) noexcept {
      if (n == 0) return;
      length_ += n;
      if (fill_ != 0) {
        const std::size_t take = std::min(n, block_size - fill_);
        std::memcpy(buf_.data() + fill_, p, take);
        fill_ += take;
        p += take;
        n -= take;
        if (fill_ < block_size) return;
        compress(s_, buf_.data());
        fill_ = 0;
      }
      for (; n >= block_size; p += block_size, n -= block_size) compress(s_, p);
      std::memcpy(buf_.data(), p, n);
      fill_ = n;
    }

    /// Pads (0x80, zeros, the length in bits) and compresses the last block(s); returns the final
    /// chaining value, whose first `digest_size` bytes (`digest`) are the hash.
    const state& finish() noexcept {
      buf_[fill_++] = 0x80;
      std::fill(buf_.begin() + fill_, buf_.end(), byte{0});
      if (fill_ > block_size - length_size) {
        compress(s_, buf_.data());
        std::fill(buf_.begin(), buf_.end(), byte{0});
      }
      alignas(16) block w;
      load_block(buf_.data(), w, length_words(length_));
      Hash::impl::Transform(s_.h.data(), w.data());
      return s_;
    }

    /// `finish`, then the digest into `out` (`digest_size` bytes).
    void final(byte* out) noexcept { digest(finish(), out); }

    /// Zeroes the chaining value and the buffer (call when they derive from a key).
    void wipe() noexcept {
      secure_zero(&s_, sizeof s_);
      secure_zero(buf_.data(), buf_.size());
    }

   private:
    state s_;
    alignas(16) std::array<byte, block_size> buf_;
    std::size_t fill_ = 0;
    std::uint64_t length_;  // bytes absorbed, whole blocks and buffer
  };

 private:
  /// 0x80, the first padding byte, as the first byte of a word.
  static constexpr word first_pad_word = big_endian ? word{0x80} << (8 * (sizeof(word) - 1)) : 0x80;
  /// Words per 16-byte chunk; the length field (8 or 16 bytes) lies in the last chunk.
  static constexpr std::size_t chunk_words = 16 / sizeof(word);
  using chunk = std::array<word, chunk_words>;

  /// The last chunk of a final block, as words, holding only the message length: `bytes` × 8 bits
  /// (a 64-bit count; the high half of SHA-384/512's 128 bits stays zero).
  static constexpr chunk length_words(std::uint64_t bytes) noexcept {
    const std::uint64_t bits = bytes * 8;
    chunk c{};
    if constexpr (sizeof(word) == 8) {
      static_assert(big_endian);
      c[1] = bits;
    } else if constexpr (big_endian) {
      c[2] = static_cast<word>(bits >> 32);
      c[3] = static_cast<word>(bits);
    } else {
      c[2] = static_cast<word>(bits);
      c[3] = static_cast<word>(bits >> 32);
    }
    return c;
  }

  /// Loads the block at `p` as words into `w`, OR-ing `last` into its last 16 bytes. Works in
  /// 16-byte chunks (GCC vector extensions: SSE2 shifts on x86-64), so that `Transform`'s 16-byte
  /// loads read whole 16-byte stores: word-sized stores would make the CPU's store forwarding
  /// fail and put a stall on the path from one compression to the next.
  static void load_block(const byte* p, block& w, const chunk& last) noexcept {
    using vec = std::conditional_t<sizeof(word) == 4, detail::u32x4, detail::u64x2>;
    for (std::size_t i = 0; i < block_words; i += chunk_words) {
      vec x;
      std::memcpy(&x, p + i * sizeof(word), sizeof x);
      if constexpr (big_endian != (std::endian::native == std::endian::big)) x = swap_bytes(x);
      if (i + chunk_words == block_words) {
        vec l;
        std::memcpy(&l, last.data(), sizeof l);
        x |= l;
      }
      std::memcpy(w.data() + i, &x, sizeof x);
    }
  }
  /// Reverses the bytes of every word of `x`.
  template <class Vec>
  static Vec swap_bytes(Vec x) noexcept {
    if constexpr (sizeof(word) == 8) x = (x << 32) | (x >> 32);
    constexpr auto halves =
        static_cast<word>(sizeof(word) == 8 ? 0x0000FFFF0000FFFFull : 0x0000FFFFu);
    x = ((x & halves) << 16) | ((x >> 16) & halves);
    constexpr auto bytes =
        static_cast<word>(sizeof(word) == 8 ? 0x00FF00FF00FF00FFull : 0x00FF00FFu);
    return ((x & bytes) << 8) | ((x >> 8) & bytes);
  }
  static void store(word w, byte* p) noexcept {
    if (big_endian != (std::endian::native == std::endian::big)) w = byteswap(w);
    std::memcpy(p, &w, sizeof w);
  }
  static word byteswap(word w) noexcept {
    if constexpr (sizeof(word) == 4)
      return __builtin_bswap32(w);
    else
      return __builtin_bswap64(w);
  }
};

}  // namespace knock::crypto
