// SPDX-License-Identifier: MIT
#pragma once
// What knock-server's worker and its configuration reader (config_reader.hpp) say to each other
// over their socketpair, a byte stream of frames:
//
//   frame    magic "KNCR" (4) | kind (1) | sequence (8) | length (4) | payload (length bytes)
//   request  kind 1, no payload: "read the access configuration again". It names no file: the
//            reader reads only the paths it resolves itself from the configuration.
//   reply    kind 2, the request's sequence; the payload is the files read (reader_snapshot.hpp)
//
// Numbers are little-endian. A header is refused, saying why, for a wrong magic or kind or a
// payload over 32 MiB (before any of it is read); a request with a payload is refused. The
// `cursor` reads a payload, saying where it ran out.

#include <knock/core/error.hpp>
#include <knock/core/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace knock_server::reader {

inline constexpr std::string_view magic = "KNCR";
inline constexpr std::size_t header_size = 17;
inline constexpr std::uint32_t max_payload = std::uint32_t{32} << 20;
inline constexpr std::uint32_t max_text = std::uint32_t{1} << 20;
inline constexpr std::uint32_t max_path = 4096;
inline constexpr std::uint32_t max_entries = 65536;

enum class kind : std::uint8_t { request = 1, reply = 2 };

/// A frame's header.
struct header {
  kind what = kind::request;
  std::uint64_t sequence = 0;
  std::uint32_t length = 0;  ///< of the payload that follows
};

namespace detail {

inline void put(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i) & 0xff));
}
inline void put_string(std::string& out, std::string_view s) {
  put(out, s.size(), 4);
  out.append(s);
}

inline knock::error refused(std::string what) {
  return knock::error{knock::errc::io_failed, std::move(what)};
}

/// Reads the payload front to back; every read says what it was reading when it ran out.
class cursor {
 public:
  explicit cursor(std::string_view in) : in_{in} {}
  knock::result<std::uint64_t> number(int bytes, std::string_view what) {
    if (in_.size() - at_ < static_cast<std::size_t>(bytes)) return truncated(what);
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= std::uint64_t{static_cast<unsigned char>(in_[at_ + i])} << (8 * i);
    at_ += static_cast<std::size_t>(bytes);
    return v;
  }
  knock::result<std::string_view> string(std::uint32_t limit, std::string_view what) {
    auto n = number(4, what);
    if (!n) return knock::fail(n.error());
    if (*n > limit)
      return knock::fail(refused("oversized reply: " + std::string{what} + " of " +
                                 std::to_string(*n) + " bytes (at most " + std::to_string(limit) +
                                 ")"));
    if (in_.size() - at_ < *n) return truncated(what);
    const std::string_view s = in_.substr(at_, *n);
    at_ += *n;
    return s;
  }
  bool done() const noexcept { return at_ == in_.size(); }
  std::size_t offset() const noexcept { return at_; }

 private:
  knock::failure<knock::error> truncated(std::string_view what) const {
    return knock::fail(refused("truncated reply: it ends inside " + std::string{what} +
                               " (at byte " + std::to_string(at_) + " of " +
                               std::to_string(in_.size()) + ")"));
  }
  std::string_view in_;
  std::size_t at_ = 0;
};

}  // namespace detail

/// A frame's header, as sent.
inline std::string encode_header(const header& h) {
  std::string out{magic};
  out.push_back(static_cast<char>(h.what));
  detail::put(out, h.sequence, 8);
  detail::put(out, h.length, 4);
  return out;
}

/// The header at the start of `in` (`header_size` bytes), checked: magic, kind, length.
inline knock::result<header> decode_header(std::string_view in) {
  if (in.size() < header_size)
    return knock::fail(detail::refused("truncated frame: " + std::to_string(in.size()) + " of " +
                                       std::to_string(header_size) + " header bytes"));
  if (in.substr(0, magic.size()) != magic)
    return knock::fail(detail::refused("not a frame of this protocol (wrong magic)"));
  const auto k = static_cast<kind>(in[4]);
  if (k != kind::request && k != kind::reply)
    return knock::fail(
        detail::refused("unknown frame kind " + std::to_string(static_cast<unsigned char>(in[4]))));
  detail::cursor c{in.substr(5, 12)};
  header h{k, *c.number(8, "the sequence"), static_cast<std::uint32_t>(*c.number(4, "the length"))};
  if (h.length > max_payload)
    return knock::fail(detail::refused("oversized frame: " + std::to_string(h.length) +
                                       " bytes of payload (at most " + std::to_string(max_payload) +
                                       ")"));
  return h;
}

/// The one request the reader takes: a header, no payload. Anything else is refused.
inline knock::result<void> check_request(const header& h) {
  if (h.what != kind::request)
    return knock::fail(detail::refused("unexpected frame: expected a request, got a reply"));
  if (h.length != 0)
    return knock::fail(detail::refused(
        "a request with " + std::to_string(h.length) +
        " bytes of payload: a request names nothing (no path: the reader reads only the files "
        "the configuration names)"));
  return {};
}

}  // namespace knock_server::reader
