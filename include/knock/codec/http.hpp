// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// SPA over HTTP (fwknopd's ENABLE_SPA_OVER_HTTP): `fwknop -P http` sends its packet as the path of
/// an HTTP request, `GET /<packet> HTTP/1.1`, with `User-Agent: Fwknop/<version>`, through a proxy
/// or straight to the server; the capture sees the TCP payload. `spa_from_http` turns such a
/// payload back into the packet fwknopd would decode:
///
/// - it applies only to a payload that starts with `GET /` (case-insensitive, as fwknopd);
/// - unless `any_user_agent` (ALLOW_ANY_USER_AGENT), the request must carry `User-Agent: Fwknop`;
/// - the packet is the path up to the first white space, with the URL-safe base64 the client
///   writes (`-`, `_`) turned back into `+`, `/`; it must be at least 140 characters;
/// - with `forwarded_for` (ENABLE_X_FORWARDED_FOR), an `X-Forwarded-For: <IPv4>` header names the
///   client instead of the connection's source (what a reverse proxy in front of the server
///   sees). Trust it only behind such a proxy: anyone can write the header.
///
/// Bounded and allocation-free: the packet is copied into the caller's buffer.

#include <knock/core/net.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace knock::codec {

/// What an HTTP request carried.
struct http_spa {
  std::string_view packet;              ///< the SPA packet, in the caller's buffer
  std::optional<ip_address> forwarded;  ///< X-Forwarded-For, when asked for and an IPv4 address
};

/// Why a payload that starts with `GET /` is not taken (nullopt from `spa_from_http` otherwise
/// means: not an HTTP request, decode the payload as it is).
enum class http_refusal { no_fwknop_user_agent, too_short };

namespace detail {
inline bool starts_with_nocase(std::string_view text, std::string_view prefix) noexcept {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(a) == lower(b);
         });
}
inline std::size_t find_nocase(std::string_view text, std::string_view needle) noexcept {
  for (std::size_t i = 0; i + needle.size() <= text.size(); ++i)
    if (starts_with_nocase(text.substr(i), needle)) return i;
  return std::string_view::npos;
}
constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}
}  // namespace detail

/// True when `payload` is an HTTP request fwknopd would read an SPA packet from.
inline bool is_http_request(std::string_view payload) noexcept {
  return detail::starts_with_nocase(payload, "GET /");
}

/// `spa_from_http`'s answer: the packet, or why the request is not taken.
struct http_result {
  std::optional<http_spa> spa;
  std::optional<http_refusal> refused;
};

/// The SPA packet in the HTTP request `payload` (see the file comment), copied into `buffer`;
/// `payload` must satisfy `is_http_request`. The result's `packet` views `buffer`.
template <std::size_t N>
http_result spa_from_http(std::string_view payload, std::array<char, N>& buffer,
                          bool any_user_agent, bool forwarded_for) noexcept {
  http_result r;
  if (!any_user_agent && payload.find("User-Agent: Fwknop") == std::string_view::npos) {
    r.refused = http_refusal::no_fwknop_user_agent;
    return r;
  }
  std::string_view path = payload.substr(5);  // after "GET /"
  path = path.substr(
      0, std::min<std::size_t>(
             std::find_if(path.begin(), path.end(), detail::is_space) - path.begin(), N));
  if (path.size() < 140) {  // fwknop's smallest packet
    r.refused = http_refusal::too_short;
    return r;
  }
  std::size_t n = 0;
  for (char c : path) buffer[n++] = c == '-' ? '+' : c == '_' ? '/' : c;
  http_spa spa{std::string_view{buffer.data(), n}, std::nullopt};
  if (forwarded_for) {
    if (const std::size_t at = detail::find_nocase(payload, "X-Forwarded-For: ");
        at != std::string_view::npos) {
      std::string_view value = payload.substr(at + 17);
      value = value.substr(
          0, static_cast<std::size_t>(std::find_if(value.begin(), value.end(), detail::is_space) -
                                      value.begin()));
      if (auto ip = ip_address::parse(value); ip && ip->is_v4()) spa.forwarded = *ip;
    }
  }
  r.spa = spa;
  return r;
}

}  // namespace knock::codec
