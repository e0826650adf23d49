// SPDX-License-Identifier: MIT
#pragma once
// One minimal model per concept: exactly the requirements, nothing more. If a concept grows a
// requirement, these stop compiling — update them together with the concept's table.

#include <knock/cipher/concept.hpp>
#include <knock/core/error.hpp>
#include <knock/firewall/concept.hpp>
#include <knock/mac/concept.hpp>
#include <knock/observe/concept.hpp>
#include <knock/replay/concept.hpp>

#include <array>
#include <cstring>
#include <string_view>
#include <vector>

namespace knock::test {

/// A Cipher that XORs with the key's first byte: `Salted__` framing and PKCS#7 like the real one.
struct cipher_archetype {
  using role = knock::role::cipher;
  static constexpr std::array<std::string_view, 1> names{"xor"};
  static result<cipher_archetype> make(std::string_view name) {
    if (name != "xor") return fail(errc::config_invalid);
    return cipher_archetype{};
  }
  using key_type = secret_view;
  using key_storage = secret_bytes;
  static constexpr std::string_view wire_prefix = "U2FsdGVkX1";
  static result<void, errc> takes(std::size_t chars, long_packets) noexcept {
    if (chars >= gnupg_threshold) return fail(errc::too_long_for_rijndael);
    return {};
  }
  std::string_view name() const noexcept { return "xor"; }
  bool looks_decrypted(std::string_view text) const noexcept {
    return text.size() > 16 && text[16] == ':';
  }
  result<std::size_t, errc> decrypt(secret_view key, bytes_view blob,
                                    bytes_span out) const noexcept {
    if (blob.size() < salted_header_size + 16 || (blob.size() - salted_header_size) % 16 != 0)
      return fail(errc::bad_ciphertext_length);
    const std::size_t n = blob.size() - salted_header_size;
    const byte k = key.empty() ? 0 : key[0];
    for (std::size_t i = 0; i < n; ++i) out[i] = blob[salted_header_size + i] ^ k;
    const byte pad = out[n - 1];
    return pad >= 1 && pad <= 16 ? n - pad : n;
  }
  result<std::size_t, errc> encrypt(secret_view key, bytes_view salt, bytes_view text,
                                    bytes_span out) const {
    const std::size_t padded = (text.size() / 16 + 1) * 16;
    if (out.size() < salted_header_size + padded || salt.size() != 8)
      return fail(errc::invalid_request);
    std::memcpy(out.data(), "Salted__", 8);
    std::memcpy(out.data() + 8, salt.data(), 8);
    const byte k = key.empty() ? 0 : key[0];
    for (std::size_t i = 0; i < padded; ++i)
      out[salted_header_size + i] =
          (i < text.size() ? text[i] : static_cast<byte>(padded - text.size())) ^ k;
    return salted_header_size + padded;
  }
};

/// A Mac whose tag is the sum of the key and message bytes (one byte).
struct mac_archetype {
  using role = knock::role::mac;
  static constexpr std::array<std::string_view, 1> names{"sum"};
  struct keyed {
    byte seed = 0;
    std::string_view name() const noexcept { return "sum"; }
    std::size_t tag_size() const noexcept { return 1; }
    void sign(text_parts msg, bytes_span tag) const {
      byte s = seed;
      for (auto part : msg)
        for (char c : part) s = static_cast<byte>(s + static_cast<byte>(c));
      tag[0] = s;
    }
    bool verify(text_parts msg, std::string_view tag_b64) const noexcept {
      std::array<byte, 1> t;
      sign(msg, t);
      constexpr std::string_view abc =
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      const char expect[2] = {abc[t[0] >> 2], abc[(t[0] & 3) << 4]};
      return tag_b64 == std::string_view{expect, 2};
    }
  };
  static result<keyed> make(std::string_view name, secret_view key) {
    if (name != "sum") return fail(errc::config_invalid);
    byte s = 0;
    for (byte b : key) s = static_cast<byte>(s + b);
    return keyed{s};
  }
};

/// A ReplayStore as a plain list (O(n); full, "cannot tell", after `capacity` entries).
struct replay_archetype {
  using role = knock::role::replay;
  std::vector<std::pair<replay_key, epoch_seconds>> seen;
  std::size_t capacity = 64;
  result<sighting> remember(const replay_key& k, epoch_seconds expires,
                            epoch_seconds now) noexcept {
    for (const auto& [key, until] : seen)
      if (key == k && until > now) return sighting::replay;
    if (seen.size() >= capacity) return fail(errc::replay_store_unavailable);
    seen.emplace_back(k, expires);
    return sighting::first;
  }
  std::size_t size() const noexcept { return seen.size(); }
};

/// A Firewall that counts.
struct firewall_archetype {
  using role = knock::role::firewall;
  int opened = 0;
  result<void> open(const grant&) {
    ++opened;
    return {};
  }
  result<void> expire(epoch_seconds) { return {}; }
};

/// An Observer that counts.
struct observer_archetype {
  using role = knock::role::observer;
  int events = 0, accepted = 0;
  void on_packet(const packet_event& e) noexcept {
    ++events;
    accepted += e.accepted;
  }
};

static_assert(cipher_policy<cipher_archetype>);
static_assert(mac_policy<mac_archetype>);
static_assert(replay_policy<replay_archetype>);
static_assert(firewall_policy<firewall_archetype>);
static_assert(observer_policy<observer_archetype>);

}  // namespace knock::test
