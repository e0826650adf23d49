// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Whole packets, both directions (spec §2, §4, §5), for any Cipher and Mac:
///
///     wire = base64(blob) without Cipher::wire_prefix ‖ base64(MAC(Cipher::wire_prefix ‖ body))
///
/// (for Rijndael, blob = `Salted__` ‖ salt ‖ AES(plaintext) and the prefix is `U2FsdGVkX1`).
/// `screen` refuses what cannot be a packet before any key is tried; `open` authenticates (HMAC in
/// constant time, before anything is decrypted: `authenticate`), decrypts and parses (`decrypt`);
/// `seal` builds a packet. The framing is knock/codec/framing.hpp; what is particular to a cipher
/// (its prefix, which lengths it takes, its key type, its right-key test) is the Cipher's
/// (knock/cipher/concept.hpp). `open` and `screen` never allocate.

#include <knock/cipher/concept.hpp>
#include <knock/codec/base64.hpp>
#include <knock/codec/framing.hpp>
#include <knock/core/error.hpp>
#include <knock/core/result.hpp>
#include <knock/core/spa_message.hpp>
#include <knock/mac/concept.hpp>
#include <knock/wire/decode.hpp>
#include <knock/wire/encode.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace knock::wire {

/// The texts fwknop's ciphers strip from the front of the wire: Rijndael's `U2FsdGVkX1` (base64 of
/// `Salted__`) and GnuPG's `hQ` (base64 of the first bytes of an OpenPGP public-key-encrypted
/// session key packet). A sender never leaves them on, so a payload that starts with one was
/// tampered with: someone prefixed a packet seen before to slip past the replay check. fwknopd
/// refuses both before trying any key (server/incoming_spa.c), `hQ` only above 400 characters.
inline constexpr std::string_view rijndael_prefix = "U2FsdGVkX1";
inline constexpr std::string_view gnupg_prefix = "hQ";

/// Stanza-independent checks of a datagram payload, cheapest first: length 140..1500, no stripped
/// prefix left on (above), base64 alphabet only. `=` is refused too: the fwknop client never sends
/// it, and a tolerated `=` would let one packet travel under many spellings (fwknop's replay
/// bypass, spec Q9).
inline result<void, errc> screen(std::string_view payload) noexcept {
  if (payload.size() < limits::min_packet) return fail(errc::packet_too_short);
  if (payload.size() > limits::max_packet) return fail(errc::packet_too_long);
  if (payload.starts_with(rijndael_prefix) ||
      (payload.size() > gnupg_threshold && payload.starts_with(gnupg_prefix)))
    return fail(errc::prefix_not_stripped);
  if (!codec::base64::is_alphabet(payload)) return fail(errc::not_base64);
  return {};
}

/// How `open` treats packets on the other side of fwknop's GnuPG threshold (spec Q1).
using knock::long_packets;

/// The prefix a packet of `chars` characters was framed with for `cipher`, or why `cipher` takes
/// no such packet (`Cipher::takes`: fwknop's GnuPG threshold). A `routed_cipher` decides per
/// packet and stanza.
template <class Cipher>
result<std::string_view, errc> framing(const Cipher& cipher, std::size_t chars,
                                       long_packets long_ones) noexcept {
  if constexpr (routed_cipher<Cipher>) {
    return cipher.route(chars, long_ones);
  } else {
    if (auto ok = Cipher::takes(chars, long_ones); !ok) return fail(ok.error());
    return std::string_view{Cipher::wire_prefix};
  }
}

/// Checks that `wire` is a `Cipher` packet (`Cipher::takes`: fwknop's GnuPG threshold), then its
/// HMAC in constant time, before anything is decrypted; returns the body the HMAC covers (the wire
/// without its tag). `mac` null means the stanza has no HMAC key: the body is the whole wire, as
/// fwknop takes it.
template <class Cipher, class MacKeyed>
result<std::string_view, errc> authenticate(
    std::string_view wire, const Cipher& cipher, const MacKeyed* mac,
    long_packets long_ones = long_packets::refuse) noexcept {
  static_assert(
      cipher_policy<Cipher>,
      "knock::wire::open: Cipher must model knock::cipher_policy (knock/cipher/concept.hpp)");
  static_assert(keyed_mac<MacKeyed>,
                "knock::wire::open: MacKeyed must model knock::keyed_mac (knock/mac/concept.hpp)");
  const auto prefix = framing(cipher, wire.size(), long_ones);
  if (!prefix) return fail(prefix.error());
  if (mac == nullptr) return wire;
  const auto parts = codec::split_tag(wire, mac->tag_size());
  if (!parts || parts->body.size() < limits::min_plaintext) return fail(errc::bad_mac);
  const std::array<std::string_view, 2> signed_text{*prefix, parts->body};
  if (!mac->verify(signed_text, parts->tag)) return fail(errc::bad_mac);
  return parts->body;
}

/// Decrypts an (authenticated) body and parses the message.
template <class Cipher>
result<spa_message, errc> decrypt(std::string_view body, const Cipher& cipher,
                                  const typename Cipher::key_type& key,
                                  long_packets long_ones = long_packets::refuse) noexcept {
  static_assert(
      cipher_policy<Cipher>,
      "knock::wire::open: Cipher must model knock::cipher_policy (knock/cipher/concept.hpp)");
  // libfko's own rule: the prefixed ciphertext must be one of the cipher's too.
  const auto framed = framing(cipher, Cipher::wire_prefix.size() + body.size(), long_ones);
  if (!framed) return fail(framed.error());
  const std::string_view prefix = *framed;

  constexpr std::size_t max_chars = limits::max_packet + 16;
  std::array<byte, codec::base64::decoded_size(max_chars)> blob;
  const auto blob_size = codec::decode_prefixed<max_chars>(prefix, body, blob.data());
  if (!blob_size) return fail(blob_size.error());

  std::array<byte, blob.size()> plain;
  const auto plain_size = cipher.decrypt(key, {blob.data(), *blob_size}, plain);
  if (!plain_size) return fail(plain_size.error());
  const std::string_view plaintext = as_chars({plain.data(), *plain_size});
  if (!cipher.looks_decrypted(plaintext)) return fail(errc::decrypt_failed);
  return parse(plaintext);
}

/// Authenticates, decrypts and parses one packet for one key set (`authenticate` then `decrypt`).
/// `mac` is null for a stanza without an HMAC key. The payload should have passed `screen`.
template <class Cipher, class MacKeyed>
result<spa_message, errc> open(std::string_view wire, const Cipher& cipher,
                               const typename Cipher::key_type& key, const MacKeyed* mac,
                               long_packets long_ones = long_packets::refuse) noexcept {
  const auto body = authenticate(wire, cipher, mac, long_ones);
  if (!body) return fail(body.error());
  return decrypt(*body, cipher, key, long_ones);
}

/// Builds the wire form of `m` under `key` and the 8-byte `salt`, MAC'd by `mac` unless it is null.
/// Refuses (`errc::request_too_long`) a packet that fwknopd would not take for a `Cipher` packet
/// (for Rijndael: 400 characters or more).
template <class Cipher, class MacKeyed>
result<std::string, errc> seal(const spa_message& m, const Cipher& cipher,
                               const typename Cipher::key_type& key, const MacKeyed* mac,
                               bytes_view salt) {
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

  std::string wire = codec::encode_stripped(Cipher::wire_prefix, {blob.data(), *blob_size});
  if (mac != nullptr) {
    std::array<byte, 64> tag;
    const std::array<std::string_view, 2> signed_text{Cipher::wire_prefix, wire};
    mac->sign(signed_text, tag);
    codec::append_tag(wire, {tag.data(), mac->tag_size()});
  }
  if (!Cipher::takes(wire.size(), long_packets::refuse) || wire.size() > limits::max_packet)
    return fail(errc::request_too_long);
  return wire;
}

}  // namespace knock::wire
