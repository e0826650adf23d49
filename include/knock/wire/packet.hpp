// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Whole packets, both directions (spec §2, §4, §5):
///
///     wire = base64(Salted__ ‖ salt ‖ AES(plaintext))[10:] ‖ base64(HMAC("U2FsdGVkX1" ‖ body))
///
/// `screen` refuses what cannot be a packet before any key is tried; `open` authenticates (HMAC in
/// constant time, before anything is decrypted: `authenticate`), decrypts and parses (`decrypt`);
/// `seal` builds a packet. `open` and `screen` never allocate.

#include <knock/cipher/concept.hpp>
#include <knock/core/error.hpp>
#include <knock/core/result.hpp>
#include <knock/mac/concept.hpp>
#include <knock/wire/base64.hpp>
#include <knock/wire/decode.hpp>
#include <knock/wire/encode.hpp>
#include <knock/wire/spa_message.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace knock::wire {

/// base64 of "Salted__": fwknop drops these constant 10 characters from the wire and MACs them back
/// in.
inline constexpr std::string_view salted_prefix = "U2FsdGVkX1";

/// Stanza-independent checks of a datagram payload, cheapest first: length 140..1500, no
/// `U2FsdGVkX1` prefix, base64 alphabet only. `=` is refused too: the fwknop client never sends it,
/// and a tolerated
/// `=` would let one packet travel under many spellings (fwknop's replay bypass, spec Q9).
inline result<void> screen(std::string_view payload) noexcept {
  if (payload.size() < limits::min_packet) return fail(errc::packet_too_short);
  if (payload.size() > limits::max_packet) return fail(errc::packet_too_long);
  if (payload.starts_with(salted_prefix)) return fail(errc::prefix_not_stripped);
  if (!base64::is_alphabet(payload)) return fail(errc::not_base64);
  return {};
}

/// How `open` treats packets of 400 characters or more, which fwknop takes for GPG data (spec Q1).
enum class long_packets : bool {
  refuse,  ///< fwknopd's default
  try_aes  ///< what fwknopd does for a stanza with ENABLE_CMD_EXEC
};

/// Checks the HMAC of `wire` in constant time, before anything is decrypted, and returns the body
/// it covers (the wire without its tag). `mac` null means the stanza has no HMAC key: the body is
/// the whole wire, as fwknop takes it.
template <class MacKeyed>
result<std::string_view> authenticate(std::string_view wire, const MacKeyed* mac,
                                      long_packets long_ones = long_packets::refuse) noexcept {
  static_assert(keyed_mac<MacKeyed>,
                "knock::wire::open: MacKeyed must model knock::keyed_mac (knock/mac/concept.hpp)");
  if (wire.size() >= limits::min_gpg_packet && long_ones == long_packets::refuse)
    return fail(errc::too_long_for_rijndael);
  if (mac == nullptr) return wire;
  const std::size_t tag_chars = base64::encoded_size(mac->tag_size());
  if (wire.size() < tag_chars + limits::min_plaintext) return fail(errc::bad_mac);
  const std::string_view body = wire.substr(0, wire.size() - tag_chars);
  const std::array<std::string_view, 2> signed_text{salted_prefix, body};
  if (!mac->verify(signed_text, wire.substr(body.size()))) return fail(errc::bad_mac);
  return body;
}

/// Decrypts an (authenticated) body and parses the message.
template <class Cipher>
result<spa_message> decrypt(std::string_view body, const Cipher& cipher, secret_view key,
                            long_packets long_ones = long_packets::refuse) noexcept {
  static_assert(
      cipher_policy<Cipher>,
      "knock::wire::open: Cipher must model knock::cipher_policy (knock/cipher/concept.hpp)");
  // libfko's own rule: the prefixed ciphertext must stay below the GPG threshold.
  if (salted_prefix.size() + body.size() >= limits::min_gpg_packet &&
      long_ones == long_packets::refuse)
    return fail(errc::too_long_for_rijndael);

  std::array<char, limits::max_packet + 16> text;
  if (body.size() > text.size() - salted_prefix.size()) return fail(errc::packet_too_long);
  salted_prefix.copy(text.data(), salted_prefix.size());
  body.copy(text.data() + salted_prefix.size(), body.size());
  std::array<byte, base64::decoded_size(limits::max_packet + 16)> blob;
  const auto blob_size =
      base64::decode({text.data(), salted_prefix.size() + body.size()}, blob.data());
  if (!blob_size) return fail(errc::not_base64);

  std::array<byte, blob.size()> plain;
  const auto plain_size = cipher.decrypt(key, {blob.data(), *blob_size}, plain);
  if (!plain_size) return fail(plain_size.error());
  // The "right key" test fwknop relies on when there is no HMAC: 16 digits and a ':' (spec Q7).
  const std::string_view plaintext = as_chars({plain.data(), *plain_size});
  if (plaintext.size() <= limits::rand_digits || plaintext[limits::rand_digits] != ':' ||
      !wire::detail::all_digits(plaintext.substr(0, limits::rand_digits)))
    return fail(errc::decrypt_failed);
  return parse(plaintext);
}

/// Authenticates, decrypts and parses one packet for one key set (`authenticate` then `decrypt`).
/// `mac` is null for a stanza without an HMAC key. The payload should have passed `screen`.
template <class Cipher, class MacKeyed>
result<spa_message> open(std::string_view wire, const Cipher& cipher, secret_view key,
                         const MacKeyed* mac,
                         long_packets long_ones = long_packets::refuse) noexcept {
  const auto body = authenticate(wire, mac, long_ones);
  if (!body) return fail(body.error());
  return decrypt(*body, cipher, key, long_ones);
}

/// Builds the wire form of `m` under `key` and the 8-byte `salt`, MAC'd by `mac` unless it is null.
/// Refuses (`errc::request_too_long`) a packet of 400 characters or more, which fwknopd would not
/// take.
template <class Cipher, class MacKeyed>
result<std::string> seal(const spa_message& m, const Cipher& cipher, secret_view key,
                         const MacKeyed* mac, bytes_view salt) {
  static_assert(
      cipher_policy<Cipher>,
      "knock::wire::seal: Cipher must model knock::cipher_policy (knock/cipher/concept.hpp)");
  static_assert(keyed_mac<MacKeyed>,
                "knock::wire::seal: MacKeyed must model knock::keyed_mac (knock/mac/concept.hpp)");
  std::array<char, limits::max_plaintext> text;
  const auto text_size = format(m, text);
  if (!text_size) return fail(text_size.error());
  std::array<byte, max_blob_size(limits::max_plaintext)> blob;
  const auto blob_size = cipher.encrypt(key, salt, as_bytes({text.data(), *text_size}), blob);
  secure_zero(text.data(), text.size());
  if (!blob_size) return fail(blob_size.error());

  std::string wire(base64::encoded_size(*blob_size), '\0');
  base64::encode({blob.data(), *blob_size}, wire.data());
  wire.erase(0, salted_prefix.size());
  if (mac != nullptr) {
    std::array<byte, 64> tag;
    const std::array<std::string_view, 2> signed_text{salted_prefix, wire};
    mac->sign(signed_text, tag);
    const std::size_t body = wire.size();
    wire.resize(body + base64::encoded_size(mac->tag_size()));
    base64::encode({tag.data(), mac->tag_size()}, wire.data() + body);
  }
  if (wire.size() >= limits::min_gpg_packet) return fail(errc::request_too_long);
  return wire;
}

}  // namespace knock::wire
