// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// fwknop's packet framing, the part every cipher shares (spec §2, §5):
///
///     wire = base64(blob) without its constant leading text  ‖  base64(tag)
///
/// A cipher's blob always starts with the same bytes (Rijndael's `Salted__`, GnuPG's packet tag),
/// so their base64 text (`U2FsdGVkX1`, `hQ`: the cipher's `wire_prefix`) is dropped from the wire
/// by the sender and restored by the receiver before decoding. The MAC tag, when there is one, is
/// appended as unpadded base64. These functions know no cipher and no fwknop constant: the cipher
/// names its prefix, the Mac its tag size.

#include <knock/codec/base64.hpp>
#include <knock/core/bytes.hpp>
#include <knock/core/error.hpp>
#include <knock/core/result.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace knock::codec {

/// A packet cut in two: what the MAC covers (`body`) and the base64 tag after it.
struct tagged_text {
  std::string_view body;
  std::string_view tag;
};

/// `wire` cut before its last `base64::encoded_size(tag_bytes)` characters; nothing when it is not
/// longer than the tag.
constexpr std::optional<tagged_text> split_tag(std::string_view wire,
                                               std::size_t tag_bytes) noexcept {
  const std::size_t tag_chars = base64::encoded_size(tag_bytes);
  if (wire.size() <= tag_chars) return std::nullopt;
  return tagged_text{wire.substr(0, wire.size() - tag_chars), wire.substr(wire.size() - tag_chars)};
}

/// Appends the unpadded base64 of `tag` to `wire`.
inline void append_tag(std::string& wire, bytes_view tag) {
  const std::size_t body = wire.size();
  wire.resize(body + base64::encoded_size(tag.size()));
  base64::encode(tag, wire.data() + body);
}

/// Decodes `prefix ‖ body` (the body of a packet with its cipher's prefix restored) into `out`,
/// which holds at least `base64::decoded_size(prefix.size() + body.size())` bytes. `MaxChars`
/// bounds the text (a stack buffer; no allocation). Returns the byte count, `errc::packet_too_long`
/// when the text is longer than `MaxChars`, or `errc::not_base64`.
template <std::size_t MaxChars>
result<std::size_t, errc> decode_prefixed(std::string_view prefix, std::string_view body,
                                          byte* out) noexcept {
  std::array<char, MaxChars> text;
  if (prefix.size() > text.size() || body.size() > text.size() - prefix.size())
    return fail(errc::packet_too_long);
  prefix.copy(text.data(), prefix.size());
  body.copy(text.data() + prefix.size(), body.size());
  return base64::decode({text.data(), prefix.size() + body.size()}, out);
}

/// The base64 of `blob` without its leading `prefix` (which the blob's first bytes must encode to,
/// as the cipher promises): the body of a packet, before any tag.
inline std::string encode_stripped(std::string_view prefix, bytes_view blob) {
  std::string text(base64::encoded_size(blob.size()), '\0');
  base64::encode(blob, text.data());
  text.erase(0, prefix.size());
  return text;
}

}  // namespace knock::codec
