// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::cipher::any_of<Ciphers...>`: a Cipher chosen at run time (per access.conf stanza, by
/// `ENCRYPTION_MODE`) among Ciphers fixed at compile time. `knock::cipher::any_rijndael` holds all
/// six modes.

#include <knock/cipher/concept.hpp>
#include <knock/cipher/rijndael.hpp>
#include <knock/core/error.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace knock::cipher {

/// One of `Ciphers...`, picked by name. Models knock::cipher_policy.
template <class... Ciphers>
class any_of {
  static_assert((cipher_policy<Ciphers> && ...),
                "knock::cipher::any_of: every Cipher must model knock::cipher_policy "
                "(knock/cipher/concept.hpp)");
  using first = std::tuple_element_t<0, std::tuple<Ciphers...>>;

 public:
  using role = knock::role::cipher;
  static constexpr auto names = [] {
    std::array<std::string_view, (std::size(Ciphers::names) + ...)> all{};
    std::size_t i = 0;
    ((std::ranges::copy(Ciphers::names, all.begin() + i), i += std::size(Ciphers::names)), ...);
    return all;
  }();

  using key_type = typename first::key_type;
  using key_storage = typename first::key_storage;
  static constexpr std::string_view wire_prefix = first::wire_prefix;
  static_assert(((std::is_same_v<typename Ciphers::key_type, key_type> &&
                  Ciphers::wire_prefix == wire_prefix) &&
                 ...),
                "knock::cipher::any_of: every Cipher must take the same key_type and have the same "
                "wire_prefix (one packet format, several modes)");

  /// The first of `Ciphers...`, the default.
  any_of() = default;
  template <class C>
  requires(std::is_same_v<C, Ciphers> || ...) explicit any_of(C c) noexcept
      : cipher_{std::move(c)} {}

  /// The cipher called `name` (case-insensitive); `errc::config_invalid` if none of `Ciphers...`
  /// is.
  static result<any_of> make(std::string_view name) {
    result<any_of> out = fail(errc::config_invalid);
    (void)((try_make<Ciphers>(name, out)) || ...);
    return out;
  }

  std::string_view name() const noexcept {
    return std::visit([](const auto& c) -> std::string_view { return c.name(); }, cipher_);
  }
  /// The rule of the first of `Ciphers...` (they share one packet format).
  static constexpr result<void, errc> takes(std::size_t chars, long_packets long_ones) noexcept {
    return first::takes(chars, long_ones);
  }
  result<std::size_t, errc> decrypt(const key_type& key, bytes_view blob,
                                    bytes_span out) const noexcept {
    return std::visit([&](const auto& c) noexcept { return c.decrypt(key, blob, out); }, cipher_);
  }
  bool looks_decrypted(std::string_view text) const noexcept {
    return std::visit([&](const auto& c) noexcept { return c.looks_decrypted(text); }, cipher_);
  }
  result<std::size_t, errc> encrypt(const key_type& key, bytes_view salt, bytes_view text,
                                    bytes_span out) const {
    return std::visit([&](const auto& c) { return c.encrypt(key, salt, text, out); }, cipher_);
  }

 private:
  template <class C>
  static bool try_make(std::string_view name, result<any_of>& out) {
    auto c = C::make(name);
    if (c) out = any_of{*std::move(c)};
    return c.has_value();
  }
  std::variant<Ciphers...> cipher_;
};

/// fwknop's Rijndael in every mode, CBC first (the default).
using any_rijndael = any_of<rijndael<cbc>, rijndael<ctr>, rijndael<cfb>, rijndael<ofb>,
                            rijndael<ecb>, rijndael<legacy>>;

static_assert(cipher_policy<any_rijndael>);

}  // namespace knock::cipher
