// SPDX-License-Identifier: MIT
#pragma once
// Policies for the compile-fail cases. Each template argument removes exactly one requirement, so a
// failing case differs from the control case (control_fakes_model_the_concepts.cpp, which uses the
// defaults) by one member: the diagnostic is about that member and nothing else.

#include <knock/cipher/concept.hpp>
#include <knock/core/result.hpp>
#include <knock/core/role.hpp>
#include <knock/mac/concept.hpp>

#include <array>
#include <cstddef>
#include <string_view>

namespace knock::test {

struct cipher_role {
  using role = knock::role::cipher;
};
struct mac_role {
  using role = knock::role::mac;
};
struct no_role {};

/// A cipher_policy when `Role` and `Decrypt` are true; without the role tag or without `decrypt`
/// else.
template <bool Role = true, bool Decrypt = true>
struct fake_cipher : std::conditional_t<Role, cipher_role, no_role> {
  static constexpr std::array<std::string_view, 1> names{"fake"};
  static result<fake_cipher> make(std::string_view) noexcept { return fake_cipher{}; }
  using key_type = secret_view;
  using key_storage = secret_bytes;
  static constexpr std::string_view wire_prefix = "U2FsdGVkX1";  // any_of mixes it with rijndael
  static result<void, errc> takes(std::size_t, long_packets) noexcept { return {}; }
  std::string_view name() const noexcept { return "fake"; }
  bool looks_decrypted(std::string_view) const noexcept { return true; }
  result<std::size_t, errc> decrypt(secret_view, bytes_view,
                                    bytes_span) const noexcept requires Decrypt {
    return std::size_t{0};
  }
  result<std::size_t, errc> encrypt(secret_view, bytes_view, bytes_view, bytes_span) const {
    return std::size_t{0};
  }
};

/// A keyed_mac when `Verify` is true.
template <bool Verify = true>
struct fake_keyed_mac {
  std::string_view name() const noexcept { return "fake"; }
  std::size_t tag_size() const noexcept { return 0; }
  void sign(text_parts, bytes_span) const {}
  bool verify(text_parts, std::string_view) const noexcept requires Verify { return true; }
};

/// A mac_policy when `Role` is true.
template <bool Role = true>
struct fake_mac : std::conditional_t<Role, mac_role, no_role> {
  static constexpr std::array<std::string_view, 1> names{"fake"};
  using keyed = fake_keyed_mac<>;
  static result<keyed> make(std::string_view, secret_view) noexcept { return keyed{}; }
};

}  // namespace knock::test
