// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The Cipher policy family: owns a packet format — the blob it encrypts to, the base64 text of
/// that blob's constant start that fwknop strips from the wire, which packets it takes, and the
/// kind of key it needs. `wire/` holds only what every cipher shares (framing, MAC, message
/// grammar).
// clang-format off
///
/// | requirement                             | meaning                                                    | caller       |
/// |-----------------------------------------|------------------------------------------------------------|--------------|
/// | `using role = knock::role::cipher`      | declares the family                                        | concepts     |
/// | `typename P::key_type`                  | what `decrypt`/`encrypt` take: `secret_view` for Rijndael; | wire, server |
/// |                                         | a GnuPG cipher takes its keyring and key ids               |              |
/// | `typename P::key_storage`               | what a stanza keeps (owning, zeroised); `.view()` gives    | config,      |
/// |                                         | the `key_type` (Rijndael: `secret_bytes`)                  | server       |
/// | `P::wire_prefix`                        | base64 text every blob starts with, stripped from the wire | wire         |
/// |                                         | and restored before decoding ("U2FsdGVkX1"; GnuPG: "hQ")   |              |
/// | `P::takes(chars, long_packets)` noexcept| `result<void, errc>`: is a packet of `chars` base64        | wire         |
/// |                                         | characters one of this cipher's? (fwknop's 400 rule)       |              |
/// | `P::names`                              | range of the config names it accepts ("cbc", …)            | config       |
/// | `P::make(name)`                         | `result<P>` for an `ENCRYPTION_MODE` / `-M` name           | config       |
/// | `c.name()`                              | the mode `c` runs                                          | logs         |
/// | `c.decrypt(key, blob, out)` noexcept    | `result<size_t, errc>`: blob → plaintext size in `out`     | server       |
/// | `c.looks_decrypted(text)` noexcept      | the cheap right-key test on a plaintext (Rijndael: 16      | wire         |
/// |                                         | digits and ':'), what fwknop relies on without an HMAC     |              |
/// | `c.encrypt(key, salt, text, out)`       | `result<size_t, errc>`: text → blob in `out`, its size     | client       |
// clang-format on
///
/// For Rijndael the blob is `Salted__` ‖ salt ‖ ciphertext; `out` must hold
/// `max_blob_size(text.size())` bytes for `encrypt` and `blob.size()` for `decrypt`. Padding is
/// PKCS#7 in every mode, as fwknop does it (spec §4.3). The packet path reports bare `errc`s: a
/// refused packet costs no allocation.

#include <knock/core/bytes.hpp>
#include <knock/core/error.hpp>
#include <knock/core/result.hpp>
#include <knock/core/role.hpp>

#include <concepts>
#include <cstddef>
#include <ranges>
#include <string_view>

namespace knock {

/// `Salted__` ‖ 8 bytes of salt: the header of every Rijndael blob.
inline constexpr std::size_t salted_header_size = 16;

/// The largest blob `encrypt` writes for `n` bytes of text (header + text + 1..16 bytes of
/// padding).
constexpr std::size_t max_blob_size(std::size_t n) noexcept {
  return salted_header_size + (n / 16 + 1) * 16;
}

/// fwknop's MIN_GNUPG_MSG_SIZE: a packet of this many base64 characters or more is GnuPG data to
/// fwknop, shorter ones are Rijndael data (spec Q1).
inline constexpr std::size_t gnupg_threshold = 400;

/// How a cipher treats packets on the other side of the GnuPG threshold (spec Q1).
enum class long_packets : bool {
  refuse,  ///< fwknopd's default
  try_aes  ///< what fwknopd does for a stanza with ENABLE_CMD_EXEC
};

template <class P>
concept cipher_policy = has_role<P, role::cipher> && std::ranges::range<decltype(P::names)> &&
    std::convertible_to<decltype(P::wire_prefix), std::string_view> &&
    requires(const typename P::key_storage& stored) {
  { stored.view() } -> std::convertible_to<const typename P::key_type&>;
} && requires(const P& c, std::string_view name, const typename P::key_type& key, bytes_view in,
              bytes_span out, bytes_view salt, std::size_t chars, long_packets long_ones) {
  { P::takes(chars, long_ones) }
  noexcept->std::same_as<result<void, errc>>;
  { P::make(name) } -> std::same_as<result<P>>;
  { c.name() } -> std::convertible_to<std::string_view>;
  { c.decrypt(key, in, out) }
  noexcept->std::same_as<result<std::size_t, errc>>;
  { c.looks_decrypted(name) }
  noexcept->std::same_as<bool>;
  { c.encrypt(key, salt, in, out) } -> std::same_as<result<std::size_t, errc>>;
};

/// An optional ability: a cipher whose framing depends on the packet and the stanza (a stanza
/// with Rijndael and GnuPG keys, knock/cipher/either.hpp). `c.route(chars, long_ones)` gives the
/// prefix the packet was framed with (what the HMAC covers and decoding restores), or why the
/// stanza takes no such packet; `wire/` asks it instead of `P::wire_prefix` and `P::takes`.
template <class P>
concept routed_cipher = cipher_policy<P> &&
    requires(const P& c, std::size_t chars, long_packets long_ones) {
  { c.route(chars, long_ones) }
  noexcept->std::same_as<result<std::string_view, errc>>;
};

}  // namespace knock
