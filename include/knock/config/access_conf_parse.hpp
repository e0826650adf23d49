// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `parse_access_conf`: fwknopd's `access.conf` text (spec §12) → raw stanzas, strings and line
/// numbers only. No I/O, no crypto, nothing decoded: easy to fuzz. `knock/config/access_conf.hpp`
/// binds the result to what the server runs with.
///
/// The variables a stanza may set are the members of `raw_stanza`, matched ignoring case; any other
/// name is an error, as is a repeated one. Format: `VARIABLE value`, the value running to `;`, CR
/// or LF with trailing blanks removed; a trailing `:` on the name is ignored; `#` starts a comment
/// line; each `SOURCE` line starts a new stanza.

#include <knock/config/error.hpp>
#include <knock/core/bytes.hpp>
#include <knock/core/result.hpp>

#include <boost/hana/accessors.hpp>
#include <boost/hana/core/to.hpp>
#include <boost/hana/define_struct.hpp>
#include <boost/hana/first.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/pair.hpp>
#include <boost/hana/second.hpp>
#include <boost/hana/string.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock::config {

/// One variable's value as written, and its line (0: not set). The text is wiped when destroyed,
/// as it may be a key.
struct raw_value {
  std::string text;
  std::size_t line = 0;

  raw_value() = default;
  raw_value(std::string_view t, std::size_t l) : text{t}, line{l} {}
  raw_value(const raw_value&) = default;
  raw_value(raw_value&&) noexcept = default;
  raw_value& operator=(const raw_value&) = default;
  raw_value& operator=(raw_value&&) noexcept = default;
  ~raw_value() { secure_zero(text.data(), text.size()); }

  bool is_set() const noexcept { return line != 0; }
};

/// One stanza as written. Each member is a variable, named in lower case: adding a member here
/// teaches the parser a variable (bind it in `bind_access_conf` too).
struct raw_stanza {
  BOOST_HANA_DEFINE_STRUCT(raw_stanza, (raw_value, source), (raw_value, key),
                           (raw_value, key_base64), (raw_value, hmac_key),
                           (raw_value, hmac_key_base64), (raw_value, hmac_digest_type),
                           (raw_value, encryption_mode), (raw_value, fw_access_timeout),
                           (raw_value, enable_cmd_exec));
};

namespace detail {

constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

/// The member of `s` for the variable `name` (any case), or null.
inline raw_value* find_variable(raw_stanza& s, std::string_view name) noexcept {
  raw_value* found = nullptr;
  boost::hana::for_each(boost::hana::accessors<raw_stanza>(), [&](auto member) {
    if (iequals(boost::hana::to<const char*>(boost::hana::first(member)), name))
      found = &boost::hana::second(member)(s);
  });
  return found;
}

/// "SOURCE, KEY, …": every variable, as fwknop spells them.
inline std::string variable_names() {
  std::string out;
  boost::hana::for_each(boost::hana::accessors<raw_stanza>(), [&](auto member) {
    out += out.empty() ? "" : ", ";
    for (const char* c = boost::hana::to<const char*>(boost::hana::first(member)); *c != 0; ++c)
      out += static_cast<char>(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
  });
  return out;
}

/// True for what can be a variable name. Anything else is not quoted in errors: a line that is
/// only a pasted key must not end up on a terminal.
inline bool looks_like_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > 40) return false;
  for (char c : s)
    if (!(ascii_lower(c) >= 'a' && ascii_lower(c) <= 'z') && !(c >= '0' && c <= '9') && c != '_' &&
        c != '%' && c != '-')
      return false;
  return true;
}

inline constexpr std::string_view blanks = " \t";

inline std::string_view trim(std::string_view s) noexcept {
  const std::size_t first = s.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(blanks) - first + 1);
}

}  // namespace detail

/// Splits `text` into raw stanzas; `file_name` is only used in errors. Never throws (but for
/// `std::bad_alloc`); refuses an unknown or repeated variable, a variable before the first SOURCE,
/// a variable without a value and a file without any stanza.
inline result<std::vector<raw_stanza>, config_error> parse_access_conf(std::string_view text,
                                                                       std::string_view file_name) {
  const auto error = [&](std::size_t line, std::string_view key, std::string message) {
    return fail(config_error{std::string{file_name}, line, std::string{key}, std::move(message)});
  };
  std::vector<raw_stanza> stanzas;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    line = line.substr(0, line.find_first_of(";\r"));  // the value ends there; so may the name
    line = detail::trim(line);
    if (line.empty() || line.front() == '#') continue;

    std::string_view name = line.substr(0, line.find_first_of(detail::blanks));
    const std::string_view value = detail::trim(line.substr(name.size()));
    if (name.ends_with(':')) name.remove_suffix(1);
    if (!detail::looks_like_name(name))
      return error(number, "", "line does not start with a variable name");
    if (value.empty()) return error(number, name, "has no value");

    if (detail::iequals(name, "source")) {
      stanzas.emplace_back().source = raw_value{value, number};
      continue;
    }
    raw_stanza scratch;
    raw_value* slot = detail::find_variable(stanzas.empty() ? scratch : stanzas.back(), name);
    if (slot == nullptr)
      return error(number, name, "unknown variable (known: " + detail::variable_names() + ")");
    if (stanzas.empty()) return error(number, name, "comes before the first SOURCE line");
    if (slot->is_set())
      return error(number, name,
                   "set twice in one stanza (first on line " + std::to_string(slot->line) + ")");
    *slot = raw_value{value, number};
  }
  if (stanzas.empty()) return error(0, "", "no stanza (each stanza starts with a SOURCE line)");
  return stanzas;
}

}  // namespace knock::config
