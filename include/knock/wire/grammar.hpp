// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// What fwknop accepts inside a message (spec §3.2): the access request
/// `IPv4,proto/port{,proto/port}`, the command request `IPv4,text`, the NAT target `host,port` and
/// the username's characters. These are the rules both sides apply: the decoder to refuse, the
/// encoder to never send what fwknopd refuses.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace knock::wire {

namespace detail {
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool all_digits(std::string_view s) noexcept {
  for (char c : s)
    if (!is_digit(c)) return false;
  return !s.empty();
}
/// The value of 1..`max_digits` decimal digits, or nothing.
constexpr std::optional<std::uint64_t> parse_decimal(std::string_view s,
                                                     std::size_t max_digits) noexcept {
  if (s.size() > max_digits || !all_digits(s)) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) v = v * 10 + static_cast<std::uint64_t>(c - '0');
  return v;
}
}  // namespace detail

/// An IPv4 address as fwknop's message check takes it: 7..15 characters, digits and exactly three
/// dots, and accepted by inet_aton — so a part with a leading 0 is octal ("010" is 8, "08" is
/// refused). Returns its four bytes as inet_aton reads them.
constexpr std::optional<std::array<unsigned char, 4>> message_ipv4(std::string_view s) noexcept {
  if (s.size() < 7 || s.size() > 15) return std::nullopt;
  // One pass: each part's value as its digits come, in base 8 from a second digit after a 0.
  std::array<unsigned char, 4> out{};
  std::size_t part = 0;
  unsigned value = 0, digits = 0, base = 10;
  for (const char c : s) {
    if (c == '.') {
      if (digits == 0 || part == 3) return std::nullopt;
      out[part++] = static_cast<unsigned char>(value);
      value = 0, digits = 0, base = 10;
      continue;
    }
    const unsigned d = static_cast<unsigned>(static_cast<unsigned char>(c)) - unsigned{'0'};
    if (d > 9) return std::nullopt;
    if (digits == 1 && value == 0) base = 8;  // a leading 0: octal, as inet_aton reads it
    if (d >= base) return std::nullopt;
    value = value * base + d;
    if (value > 255) return std::nullopt;
    ++digits;
  }
  if (digits == 0 || part != 3) return std::nullopt;
  out[3] = static_cast<unsigned char>(value);
  return out;
}
constexpr bool is_message_ipv4(std::string_view s) noexcept { return message_ipv4(s).has_value(); }

/// A port number: 1..5 digits (leading zeros allowed), 1..65535.
constexpr std::optional<std::uint16_t> parse_port(std::string_view s) noexcept {
  const auto v = detail::parse_decimal(s, 5);
  if (!v || *v == 0 || *v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(*v);
}

/// `proto/port{,proto/port}` with proto `tcp` or `udp` (the only ones fwknop can validate, spec
/// Q6).
constexpr bool is_port_list(std::string_view s) noexcept {
  while (true) {
    const std::size_t comma = s.find(',');
    const std::string_view item = s.substr(0, comma);
    if (!(item.starts_with("tcp/") || item.starts_with("udp/")) || !parse_port(item.substr(4)))
      return false;
    if (comma == std::string_view::npos) return true;
    s.remove_prefix(comma + 1);
  }
}

/// An access request: `IPv4,proto/port{,proto/port}` (types 1–6).
constexpr bool is_access_message(std::string_view s) noexcept {
  const std::size_t comma = s.find(',');
  return comma != std::string_view::npos && is_message_ipv4(s.substr(0, comma)) &&
         is_port_list(s.substr(comma + 1));
}

/// A command request: `IPv4,<non-empty text>` (type 0).
constexpr bool is_command_message(std::string_view s) noexcept {
  const std::size_t comma = s.find(',');
  return comma != std::string_view::npos && is_message_ipv4(s.substr(0, comma)) &&
         comma + 1 < s.size();
}

/// A NAT target: `host,port` with one comma, a host of 1..70 characters without
/// space / ? " ' \, and a port 1..65535.
constexpr bool is_nat_access(std::string_view s) noexcept {
  const std::size_t comma = s.find(',');
  if (comma == std::string_view::npos || s.find(',', comma + 1) != std::string_view::npos)
    return false;
  const std::string_view host = s.substr(0, comma);
  if (host.empty() || host.size() > 70 || host.find_first_of(" /?\"'\\") != std::string_view::npos)
    return false;
  return parse_port(s.substr(comma + 1)).has_value();
}

/// A username byte fwknop accepts: printable ASCII except " / \ [ ] : ; | = , + * ? < >.
constexpr bool is_username_char(char c) noexcept {
  constexpr std::string_view refused = "\"/\\[]:;|=,+*?<>";
  return c >= 0x20 && c <= 0x7E && refused.find(c) == std::string_view::npos;
}

}  // namespace knock::wire
