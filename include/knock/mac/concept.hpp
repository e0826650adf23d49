// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The Mac policy family: authenticates the base64 ciphertext of a packet (fwknop's
/// encrypt-then-MAC).
// clang-format off
///
/// | requirement                          | meaning                                                      | caller         |
/// |--------------------------------------|--------------------------------------------------------------|----------------|
/// | `using role = knock::role::mac`      | declares the family                                          | concepts       |
/// | `P::names`                           | range of the config names it accepts ("sha256", …)           | config, errors |
/// | `typename P::keyed`                  | per-key state (pads absorbed), a `keyed_mac`                 | wire           |
/// | `P::make(name, key)`                 | `result<P::keyed>`: the keyed state, built once at load      | config         |
/// | `k.name()`                           | the algorithm `k` runs                                       | logs           |
/// | `k.tag_size()` noexcept              | raw tag bytes; 0 means "no MAC" (tag chars = base64 of it)   | wire           |
/// | `k.sign(parts, tag)`                 | writes the raw tag of the concatenated `parts`               | client         |
/// | `k.verify(parts, tag_b64)` noexcept  | `bool`: constant-time check of an unpadded base64 tag        | server         |
///
/// No optional members.
// clang-format on
///
/// `parts` is a span of string views hashed as one message, so the receiver can MAC
/// `Cipher::wire_prefix + body` ("U2FsdGVkX1" + body) without building that string.

#include <knock/core/bytes.hpp>
#include <knock/core/result.hpp>
#include <knock/core/role.hpp>

#include <concepts>
#include <cstddef>
#include <ranges>
#include <span>
#include <string_view>

namespace knock {

/// Pieces of one message, hashed in order as if concatenated.
using text_parts = std::span<const std::string_view>;

/// The per-key state of a Mac: what the wire layer calls for every packet.
template <class K>
concept keyed_mac = requires(const K& k, text_parts msg, bytes_span tag_out,
                             std::string_view tag_b64) {
  { k.name() } -> std::convertible_to<std::string_view>;
  { k.tag_size() }
  noexcept->std::same_as<std::size_t>;
  { k.sign(msg, tag_out) } -> std::same_as<void>;
  { k.verify(msg, tag_b64) }
  noexcept->std::same_as<bool>;
};

/// A Mac policy: a role tag, the names it answers to, and a factory for its keyed state.
template <class P>
concept mac_policy = has_role<P, role::mac> && std::ranges::range<decltype(P::names)> &&
    keyed_mac<typename P::keyed> && requires(std::string_view name, secret_view key) {
  { P::make(name, key) } -> std::same_as<result<typename P::keyed>>;
};

}  // namespace knock
