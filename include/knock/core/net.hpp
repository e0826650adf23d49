// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// IPv4 and IPv6 addresses and CIDR blocks, as access.conf's `SOURCE` lists them. Parsing is strict
/// (what `inet_pton` accepts: dotted decimal without leading zeros, RFC 4291 text for IPv6, no zone
/// ids); `cidr::contains` is what the server runs per packet, so it is constexpr, noexcept and
/// never allocates.

#include <knock/core/bytes.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <arpa/inet.h>

namespace knock {

/// An IPv4 or IPv6 address, its bytes in network order.
class ip_address {
 public:
  enum class family : std::uint8_t { v4, v6 };

  constexpr ip_address() noexcept = default;  ///< 0.0.0.0
  static constexpr ip_address v4(std::array<byte, 4> b) noexcept {
    ip_address a;
    for (std::size_t i = 0; i < 4; ++i) a.bytes_[i] = b[i];
    return a;
  }
  static constexpr ip_address v6(std::array<byte, 16> b) noexcept {
    ip_address a;
    a.bytes_ = b;
    a.family_ = family::v6;
    return a;
  }
  /// `"192.0.2.1"` or `"2001:db8::1"` (also `"::ffff:192.0.2.1"`); nothing for anything else.
  static constexpr std::optional<ip_address> parse(std::string_view s) noexcept;

  constexpr family kind() const noexcept { return family_; }
  constexpr bool is_v4() const noexcept { return family_ == family::v4; }
  /// 4 or 16 bytes, network order.
  constexpr std::span<const byte> bytes() const noexcept {
    return {bytes_.data(), is_v4() ? std::size_t{4} : std::size_t{16}};
  }
  /// The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), as dual-stack sockets
  /// report IPv4 peers; nothing for any other IPv6 address.
  constexpr std::optional<ip_address> mapped_v4() const noexcept {
    if (is_v4()) return std::nullopt;
    for (std::size_t i = 0; i < 10; ++i)
      if (bytes_[i] != 0) return std::nullopt;
    if (bytes_[10] != 0xff || bytes_[11] != 0xff) return std::nullopt;
    return v4({bytes_[12], bytes_[13], bytes_[14], bytes_[15]});
  }
  friend constexpr bool operator==(const ip_address&, const ip_address&) noexcept = default;

 private:
  std::array<byte, 16> bytes_{};  // IPv4 uses the first 4
  family family_ = family::v4;
};

/// A CIDR block: an address and a prefix length (`10.0.0.0/8`, `2001:db8::/32`). Host bits given
/// in the text are cleared, as fwknopd masks them.
class cidr {
 public:
  constexpr cidr() noexcept = default;  ///< 0.0.0.0/32
  /// `"10.0.0.0/8"`, `"2001:db8::/32"`, or a bare address (a /32 or /128); nothing otherwise.
  static constexpr std::optional<cidr> parse(std::string_view s) noexcept;
  /// The block of `a` with `prefix` leading bits; nothing when `prefix` exceeds the address size.
  static constexpr std::optional<cidr> make(ip_address a, unsigned prefix) noexcept;

  constexpr const ip_address& network() const noexcept { return network_; }
  constexpr unsigned prefix() const noexcept { return prefix_; }

  /// True when `a` is in the block. An IPv4 block also holds the IPv4-mapped IPv6 form of its
  /// addresses. O(1); no allocation.
  constexpr bool contains(const ip_address& a) const noexcept {
    if (a.kind() != network_.kind()) {
      const auto v4 = a.mapped_v4();
      return v4 && network_.is_v4() && contains(*v4);
    }
    const auto want = network_.bytes(), have = a.bytes();
    std::size_t i = 0;
    for (; i < prefix_ / 8; ++i)
      if (want[i] != have[i]) return false;
    const unsigned rest = prefix_ % 8;
    return rest == 0 || ((want[i] ^ have[i]) & static_cast<byte>(0xff << (8 - rest))) == 0;
  }
  friend constexpr bool operator==(const cidr&, const cidr&) noexcept = default;

 private:
  ip_address network_;
  unsigned prefix_ = 32;
};

namespace detail {

constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Dotted decimal, four parts of 0..255 without leading zeros (inet_pton's rules).
constexpr std::optional<std::array<byte, 4>> parse_v4(std::string_view s) noexcept {
  std::array<byte, 4> out{};
  for (std::size_t part = 0; part < 4; ++part) {
    const std::size_t end = part < 3 ? s.find('.') : s.size();
    if (end == std::string_view::npos || end == 0 || end > 3) return std::nullopt;
    if (end > 1 && s[0] == '0') return std::nullopt;
    unsigned v = 0;
    for (std::size_t i = 0; i < end; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
    }
    if (v > 255) return std::nullopt;
    out[part] = static_cast<byte>(v);
    s.remove_prefix(part < 3 ? end + 1 : end);
  }
  return out;
}

/// RFC 4291 §2.2 text: eight groups of 1..4 hex digits, one `::` for one or more zero groups, and
/// optionally dotted decimal for the last 32 bits.
constexpr std::optional<std::array<byte, 16>> parse_v6(std::string_view s) noexcept {
  std::array<std::uint16_t, 8> groups{};
  std::size_t n = 0;
  std::optional<std::size_t> gap;  // where "::" stands, in groups
  std::size_t i = 0;
  if (s.starts_with("::"))
    gap = 0, i = 2;
  else if (s.starts_with(':'))
    return std::nullopt;
  while (i < s.size()) {
    const std::size_t colon = s.find(':', i);
    const std::string_view token =
        s.substr(i, colon == std::string_view::npos ? s.npos : colon - i);
    if (token.find('.') != std::string_view::npos) {  // the IPv4 tail ends the address
      const auto v4 = parse_v4(token);
      if (!v4 || colon != std::string_view::npos || n > 6) return std::nullopt;
      groups[n++] = static_cast<std::uint16_t>((*v4)[0] << 8 | (*v4)[1]);
      groups[n++] = static_cast<std::uint16_t>((*v4)[2] << 8 | (*v4)[3]);
      break;
    }
    if (token.empty() || token.size() > 4 || n == 8) return std::nullopt;
    unsigned v = 0;
    for (char c : token) {
      const int h = hex_value(c);
      if (h < 0) return std::nullopt;
      v = v * 16 + static_cast<unsigned>(h);
    }
    groups[n++] = static_cast<std::uint16_t>(v);
    if (colon == std::string_view::npos) break;
    if (colon + 1 < s.size() && s[colon + 1] == ':') {
      if (gap) return std::nullopt;
      gap = n, i = colon + 2;
    } else {
      i = colon + 1;
      if (i == s.size()) return std::nullopt;  // a single trailing ':'
    }
  }
  if (gap ? n > 7 : n != 8) return std::nullopt;
  std::array<byte, 16> out{};
  const std::size_t head = gap.value_or(n), zeros = 8 - n;
  for (std::size_t g = 0; g < n; ++g) {
    const std::size_t at = g < head ? g : g + zeros;
    if (at >= 8) return std::nullopt;  // cannot happen (n <= 8); says so to g++ 12's aarch64 -O3
    out[2 * at] = static_cast<byte>(groups[g] >> 8);
    out[2 * at + 1] = static_cast<byte>(groups[g] & 0xff);
  }
  return out;
}

}  // namespace detail

constexpr std::optional<ip_address> ip_address::parse(std::string_view s) noexcept {
  if (s.find(':') != std::string_view::npos) {
    const auto b = detail::parse_v6(s);
    return b ? std::optional{v6(*b)} : std::nullopt;
  }
  const auto b = detail::parse_v4(s);
  return b ? std::optional{v4(*b)} : std::nullopt;
}

constexpr std::optional<cidr> cidr::make(ip_address a, unsigned prefix) noexcept {
  const std::size_t bits = a.bytes().size() * 8;
  if (prefix > bits) return std::nullopt;
  std::array<byte, 16> b{};
  for (std::size_t i = 0; i < a.bytes().size(); ++i) {
    const std::size_t keep = prefix > i * 8 ? prefix - i * 8 : 0;  // bits of byte i to keep
    b[i] = keep >= 8 ? a.bytes()[i] : static_cast<byte>(a.bytes()[i] & (0xff00 >> keep));
  }
  cidr c;
  c.network_ = a.is_v4() ? ip_address::v4({b[0], b[1], b[2], b[3]}) : ip_address::v6(b);
  c.prefix_ = prefix;
  return c;
}

constexpr std::optional<cidr> cidr::parse(std::string_view s) noexcept {
  const std::size_t slash = s.find('/');
  const auto a = ip_address::parse(s.substr(0, slash));
  if (!a) return std::nullopt;
  if (slash == std::string_view::npos) return make(*a, a->is_v4() ? 32 : 128);
  const std::string_view digits = s.substr(slash + 1);
  if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0'))
    return std::nullopt;
  unsigned prefix = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    prefix = prefix * 10 + static_cast<unsigned>(c - '0');
  }
  return make(*a, prefix);
}

/// The address as text ("10.0.0.5", "2001:db8::7"), as inet_ntop writes it.
inline std::string to_string(const ip_address& a) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(a.is_v4() ? AF_INET : AF_INET6, a.bytes().data(), text, sizeof text);
  return text;
}

}  // namespace knock
