// SPDX-License-Identifier: MIT
#pragma once
// One JSON object on one line, written field by field in order. Strings are escaped so that any
// input (packet fields, file names from the command line) gives valid JSON: quotes, backslashes
// and control characters are escaped, and bytes that are not UTF-8 become U+FFFD.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace knock_server {

class json_line {
 public:
  // Distinct names rather than overloads: a string literal would otherwise pick `bool`.
  json_line& string(std::string_view key, std::string_view value) {
    name(key);
    quoted(value);
    return *this;
  }
  json_line& number(std::string_view key, std::int64_t value) {
    name(key);
    out_ += std::to_string(value);
    return *this;
  }
  json_line& boolean(std::string_view key, bool value) {
    name(key);
    out_ += value ? "true" : "false";
    return *this;
  }
  json_line& null(std::string_view key) {
    name(key);
    out_ += "null";
    return *this;
  }
  json_line& begin_object(std::string_view key) {
    name(key);
    out_ += '{';
    first_ = true;
    return *this;
  }
  json_line& end_object() {
    out_ += '}';
    first_ = false;
    return *this;
  }
  json_line& begin_array(std::string_view key) {
    name(key);
    out_ += '[';
    first_ = true;
    return *this;
  }
  // One string element of the open array.
  json_line& element(std::string_view value) {
    if (!first_) out_ += ',';
    first_ = false;
    quoted(value);
    return *this;
  }
  json_line& end_array() {
    out_ += ']';
    first_ = false;
    return *this;
  }
  // The object's text, without a newline.
  std::string finish() && { return std::move(out_) + '}'; }

 private:
  void name(std::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    quoted(key);
    out_ += ':';
  }

  // Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, no surrogates,
  // nothing above U+10FFFF), or 0.
  static std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
    const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = at(i);
    std::size_t n = 0;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF)
      n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
      n = 3, low = c == 0xE0 ? 0xA0 : 0x80, high = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
      n = 4, low = c == 0xF0 ? 0x90 : 0x80, high = c == 0xF4 ? 0x8F : 0xBF;
    else
      return 0;
    if (i + n > s.size() || at(i + 1) < low || at(i + 1) > high) return 0;
    for (std::size_t k = 2; k < n; ++k)
      if (at(i + k) < 0x80 || at(i + k) > 0xBF) return 0;
    return n;
  }

  void quoted(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out_ += '"';
    for (std::size_t i = 0; i < s.size();) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += static_cast<char>(c);
      } else if (c < 0x20 || c == 0x7F) {
        out_ += "\\u00";
        out_ += hex[c >> 4];
        out_ += hex[c & 0xF];
      } else if (c >= 0x80) {
        const std::size_t n = utf8_sequence(s, i);
        if (n == 0) {
          out_ += "\\ufffd";
          ++i;
        } else {
          out_.append(s.substr(i, n));
          i += n;
        }
        continue;
      } else {
        out_ += static_cast<char>(c);
      }
      ++i;
    }
    out_ += '"';
  }

  std::string out_ = "{";
  bool first_ = true;
};

}  // namespace knock_server
