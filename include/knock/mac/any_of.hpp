// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::mac::any_of<Macs...>`: a Mac chosen at run time (per access.conf stanza, by
/// `HMAC_DIGEST_TYPE`) among Macs fixed at compile time. `knock::mac::any_hmac` holds all seven
/// HMACs.

#include <knock/core/error.hpp>
#include <knock/mac/concept.hpp>
#include <knock/mac/hmac.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace knock::mac {

/// One of `Macs...`, picked by name when a key is bound. Models knock::mac_policy.
template <class... Macs>
struct any_of {
  static_assert(
      (mac_policy<Macs> && ...),
      "knock::mac::any_of: every Mac must model knock::mac_policy (knock/mac/concept.hpp)");
  using role = knock::role::mac;
  static constexpr auto names = [] {
    std::array<std::string_view, (std::size(Macs::names) + ...)> all{};
    std::size_t i = 0;
    ((std::ranges::copy(Macs::names, all.begin() + i), i += std::size(Macs::names)), ...);
    return all;
  }();

  /// The keyed state of whichever Mac was named.
  class keyed {
   public:
    /// The keyed state of one of `Macs...` (constrained, so that `result<keyed>` is never taken for
    /// a `K`: clang would recurse through result's converting constructor).
    template <class K>
    requires(std::is_same_v<K, typename Macs::keyed> || ...) explicit keyed(K k) noexcept
        : state_{std::move(k)} {}

    std::string_view name() const noexcept {
      return std::visit([](const auto& k) -> std::string_view { return k.name(); }, state_);
    }
    std::size_t tag_size() const noexcept {
      return std::visit([](const auto& k) noexcept { return k.tag_size(); }, state_);
    }
    void sign(text_parts msg, bytes_span tag) const {
      std::visit([&](const auto& k) { k.sign(msg, tag); }, state_);
    }
    bool verify(text_parts msg, std::string_view tag_b64) const noexcept {
      return std::visit([&](const auto& k) noexcept { return k.verify(msg, tag_b64); }, state_);
    }

   private:
    std::variant<typename Macs::keyed...> state_;
  };

  /// Binds `key` to the Mac called `name`; `errc::config_invalid` when none of `Macs...` has that
  /// name.
  static result<keyed> make(std::string_view name, secret_view key) {
    result<keyed> out = fail(errc::config_invalid);
    (void)((try_make<Macs>(name, key, out)) || ...);
    return out;
  }

 private:
  template <class M>
  static bool try_make(std::string_view name, secret_view key, result<keyed>& out) {
    auto k = M::make(name, key);
    if (k) out = keyed{*std::move(k)};
    return k.has_value();
  }
};

/// Every HMAC fwknop defines, selected by its `HMAC_DIGEST_TYPE` name.
using any_hmac = any_of<hmac<md5>, hmac<sha1>, hmac<sha256>, hmac<sha384>, hmac<sha512>,
                        hmac<sha3_256>, hmac<sha3_512>>;

static_assert(mac_policy<any_hmac>);

}  // namespace knock::mac
