// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The Cipher policy family: turns a passphrase and fwknop's `Salted__` blob into the plaintext,
/// and back.
///
/// | requirement                           | meaning | caller  |
/// |---------------------------------------|-----------------------------------------------------------|---------|
/// | `using role = knock::role::cipher`    | declares the family | concepts| | `P::names` | range
/// of the config names it accepts ("cbc", …)            | config  | | `P::make(name)` | `result<P>`
/// for an `ENCRYPTION_MODE` / `-M` name           | config  | | `c.name()` | the mode `c` runs |
/// logs    | | `c.decrypt(key, blob, out)` noexcept  | blob = `Salted__` ‖ salt ‖ ciphertext →
/// plaintext size      | server  | | `c.encrypt(key, salt, text, out)`     | writes `Salted__` ‖
/// salt ‖ ciphertext → its size            | client  |
///
/// `out` must hold `max_blob_size(text.size())` bytes for `encrypt` and `blob.size()` for
/// `decrypt`. Padding is PKCS#7 in every mode, as fwknop does it (spec §4.3).

#include <knock/core/bytes.hpp>
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

template <class P>
concept cipher_policy = has_role<P, role::cipher> && std::ranges::range<decltype(P::names)> &&
    requires(const P& c, std::string_view name, secret_view key, bytes_view in, bytes_span out,
             bytes_view salt) {
  { P::make(name) } -> std::same_as<result<P>>;
  { c.name() } -> std::convertible_to<std::string_view>;
  { c.decrypt(key, in, out) }
  noexcept->std::same_as<result<std::size_t>>;
  { c.encrypt(key, salt, in, out) } -> std::same_as<result<std::size_t>>;
};

}  // namespace knock
