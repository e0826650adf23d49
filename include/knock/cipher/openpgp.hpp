// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::cipher::openpgp::read_recipients`: the key ids an OpenPGP message is encrypted to, read
/// from the headers of its leading public-key encrypted session key packets (RFC 4880 §4.2, §5.1),
/// without any key, library or allocation. A GnuPG SPA packet is one such packet (fwknop's `hQ`:
/// an old-format tag 1 header with a two-byte length) followed by the encrypted data; the server
/// reads the recipient here to pick the stanza whose key can open it *before* any private-key
/// work, so a packet for another key costs a few comparisons.

#include <knock/core/bytes.hpp>
#include <knock/core/error.hpp>
#include <knock/core/result.hpp>

#include <array>
#include <cstddef>
#include <cstdint>

namespace knock::cipher::openpgp {

/// An OpenPGP key id: the low 64 bits of a key's fingerprint. All zeros: a hidden recipient
/// (`gpg --throw-keyids`), which only trying every key can resolve.
using key_id = std::array<byte, 8>;

/// The recipients of one message, in packet order (at most `capacity`; more are refused).
struct recipient_list {
  static constexpr std::size_t capacity = 8;
  std::array<key_id, capacity> ids{};
  std::size_t count = 0;
  std::size_t header_size = 0;  ///< bytes taken by the session key packets

  /// Whether `id` is one of them, or one of them is hidden.
  constexpr bool may_be_for(const key_id& id) const noexcept {
    for (std::size_t i = 0; i < count; ++i)
      if (ids[i] == id || ids[i] == key_id{}) return true;
    return false;
  }
};

namespace detail {

/// One packet header at `blob[at]`: its tag and body span, or nothing when it is not a whole
/// header with a definite length inside `blob`.
struct packet_header {
  unsigned tag = 0;
  std::size_t body = 0;  ///< offset of the body
  std::size_t size = 0;  ///< body length
};

constexpr bool read_header(bytes_view blob, std::size_t at, packet_header& h) noexcept {
  if (at >= blob.size()) return false;
  const unsigned first = blob[at];
  if ((first & 0x80u) == 0) return false;
  const auto octet = [&](std::size_t i) -> std::size_t { return blob[at + i]; };
  std::size_t length_octets = 0;
  if ((first & 0x40u) == 0) {  // old format: tag in bits 5..2, length type in bits 1..0
    h.tag = (first >> 2) & 0x0Fu;
    const unsigned type = first & 0x03u;
    if (type == 3) return false;  // indeterminate: never a session key packet
    length_octets = type == 0 ? 1 : type == 1 ? 2 : 4;
    if (blob.size() - at < 1 + length_octets) return false;
    h.size = 0;
    for (std::size_t i = 0; i < length_octets; ++i) h.size = (h.size << 8) | octet(1 + i);
  } else {  // new format: tag in bits 5..0, then a one-, two- or five-octet length
    h.tag = first & 0x3Fu;
    if (blob.size() - at < 2) return false;
    const std::size_t o1 = octet(1);
    if (o1 < 192) {
      length_octets = 1;
      h.size = o1;
    } else if (o1 < 224) {
      length_octets = 2;
      if (blob.size() - at < 3) return false;
      h.size = ((o1 - 192) << 8) + octet(2) + 192;
    } else if (o1 == 255) {
      length_octets = 5;
      if (blob.size() - at < 6) return false;
      h.size = (octet(2) << 24) | (octet(3) << 16) | (octet(4) << 8) | octet(5);
    } else {
      return false;  // a partial length: not allowed for a session key packet
    }
  }
  h.body = at + 1 + length_octets;
  return h.size <= blob.size() - h.body;
}

}  // namespace detail

/// The key ids of the public-key encrypted session key packets (version 3) at the start of
/// `blob`. `errc::bad_openpgp` when the blob does not start with one, a header is cut short or
/// claims more than the blob holds, a packet is not version 3, or there are more than
/// `recipient_list::capacity`; also when nothing follows them (no encrypted data).
constexpr result<recipient_list, errc> read_recipients(bytes_view blob) noexcept {
  constexpr unsigned session_key_tag = 1;
  recipient_list out;
  std::size_t at = 0;
  detail::packet_header h;
  while (detail::read_header(blob, at, h) && h.tag == session_key_tag) {
    // version (1) ‖ key id (8) ‖ public-key algorithm (1) ‖ encrypted session key (≥ 1)
    if (h.size < 11 || blob[h.body] != 3 || out.count == out.capacity)
      return fail(errc::bad_openpgp);
    for (std::size_t i = 0; i < 8; ++i) out.ids[out.count][i] = blob[h.body + 1 + i];
    ++out.count;
    at = h.body + h.size;
  }
  if (out.count == 0 || at >= blob.size()) return fail(errc::bad_openpgp);
  out.header_size = at;
  return out;
}

}  // namespace knock::cipher::openpgp
