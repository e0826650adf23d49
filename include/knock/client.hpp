// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::client<Cipher, Mac>`: makes SPA packets that fwknopd (and knock's server) accept. It
/// holds the cipher, the encryption key, the keyed HMAC (optional) and a CSPRNG for the salt and
/// the random field; `make_packet(request)` does the rest (spec §2):
///
///     request ─make_message─► spa_message ─wire::seal─► wire string (< 400 chars, ≥ 140)
///
/// Sending is separate (knock/client/send.hpp), so a packet can be printed, saved or tested first.
///
/// ```cpp
/// auto c = knock::default_client::make(*knock::cipher::any_rijndael::make("cbc"),
///                                      std::move(key), "sha256", hmac_key.view());
/// auto packet = c->make_packet({.allow_ip = "10.0.0.5", .access = "tcp/22", .username = "alice",
///                               .timestamp = std::time(nullptr)});
/// ```

#include <knock/cipher/any_of.hpp>
#include <knock/cipher/concept.hpp>
#include <knock/client/random.hpp>
#include <knock/client/request.hpp>
#include <knock/core/bytes.hpp>
#include <knock/core/error.hpp>
#include <knock/core/result.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/mac/concept.hpp>
#include <knock/wire/packet.hpp>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace knock {

/// An SPA client: a Cipher and a Mac (fixed, or chosen at run time with `any_of`), with their keys.
template <class Cipher, class Mac>
class client {
  static_assert(cipher_policy<Cipher>,
                "knock::client: Cipher must model knock::cipher_policy (knock/cipher/concept.hpp)");
  static_assert(mac_policy<Mac>,
                "knock::client: Mac must model knock::mac_policy (knock/mac/concept.hpp)");

 public:
  using cipher_type = Cipher;
  using mac_type = Mac;
  using keyed_mac = typename Mac::keyed;
  /// The Cipher's key: a Rijndael passphrase (`secret_bytes`), a GnuPG keyring, …
  using key_storage = typename Cipher::key_storage;

  /// A client that encrypts with `key` (a passphrase: 0..32 bytes, else `errc::bad_key`) and sends
  /// no HMAC.
  static result<client> make(Cipher cipher, key_storage key) {
    if (!key_fits(key)) return fail(errc::bad_key);
    auto random = os_random::make();
    if (!random) return fail(random.error());
    return client{std::move(cipher), std::move(key), std::nullopt, *std::move(random)};
  }

  /// A client that also signs with the HMAC called `hmac_name` ("sha256", …) under `hmac_key`.
  /// `errc::config_invalid` when `Mac` has no such HMAC or `hmac_key` equals `key` (both fwknop
  /// programs refuse identical keys).
  static result<client> make(Cipher cipher, key_storage key, std::string_view hmac_name,
                             secret_view hmac_key) {
    if (!key_fits(key)) return fail(errc::bad_key);
    if constexpr (std::is_same_v<key_storage, secret_bytes>)
      if (equal_ct(key.view(), hmac_key)) return fail(errc::config_invalid);
    auto mac = Mac::make(hmac_name, hmac_key);
    if (!mac) return fail(mac.error());
    auto random = os_random::make();
    if (!random) return fail(random.error());
    return client{std::move(cipher), std::move(key), *std::move(mac), *std::move(random)};
  }

  /// The wire form of `r`, with a fresh salt and random field. Besides `make_message`'s errors:
  /// `errc::request_too_long` for a packet of 400 characters or more (fwknopd would take it for
  /// GPG data, spec Q1), `errc::packet_too_short` below 140 (fwknopd ignores it).
  result<std::string> make_packet(const request& r) {
    std::array<char, limits::rand_digits> digits;
    std::array<byte, 8> salt;
    const auto fill = [this](bytes_span out) { return random_.fill(out); };
    if (auto ok = random_digits(fill, digits); !ok) return fail(ok.error());
    if (auto ok = random_.fill(salt); !ok) return fail(ok.error());
    return make_packet(r, {digits.data(), digits.size()}, salt);
  }

  /// `make_packet(r)` with the random field and the 8-byte salt given: deterministic, for tests
  /// and known-answer checks. Do not reuse a salt for real packets.
  result<std::string> make_packet(const request& r, std::string_view rand16,
                                  bytes_view salt) const {
    auto message = make_message(r, rand16);
    if (!message) return fail(message.error());
    auto packet = wire::seal(*message, cipher_, key_.view(), mac(), salt);
    if (!packet) return fail(packet.error());
    if (packet->size() < limits::min_packet) return fail(errc::packet_too_short);
    return *std::move(packet);
  }

  /// Decodes a packet made with this client's keys, as fwknop's `--test` does with its own.
  result<spa_message> open(std::string_view packet) const {
    auto m = wire::open(packet, cipher_, key_.view(), mac());
    if (!m) return fail(m.error());
    return *std::move(m);
  }

  /// The cipher in use.
  const Cipher& cipher() const noexcept { return cipher_; }
  /// The keyed HMAC, or null when the client sends none.
  const keyed_mac* mac() const noexcept { return mac_ ? &*mac_ : nullptr; }

 private:
  static constexpr std::size_t max_key_size = 32;  // longer keys: FKO_ERROR_INVALID_KEY_LEN

  static bool key_fits(const key_storage& key) noexcept {
    if constexpr (std::is_same_v<key_storage, secret_bytes>) return key.size() <= max_key_size;
    return true;
  }

  client(Cipher cipher, key_storage key, std::optional<keyed_mac> mac, os_random random) noexcept
      : cipher_{std::move(cipher)},
        key_{std::move(key)},
        mac_{std::move(mac)},
        random_{std::move(random)} {}

  Cipher cipher_;
  key_storage key_;
  std::optional<keyed_mac> mac_;
  os_random random_;
};

/// Every fwknop encryption mode and HMAC, chosen at run time: what fwknop's own client offers.
using default_client = client<cipher::any_rijndael, mac::any_hmac>;

}  // namespace knock
