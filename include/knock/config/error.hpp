// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::config::config_error`: why a configuration file was refused, with the place to fix it.
/// Printed as `access.conf:12: HMAC_DIGEST_TYPE: unknown value 'sha999' (built with: md5, …)`.
/// Messages never quote a key's value.

#include <knock/core/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace knock::config {

/// A configuration error: where it is and what is wrong.
struct config_error {
  std::string file;      ///< the name the file was parsed under (its path, for `load_*`)
  std::size_t line = 0;  ///< 1-based; 0 when the error is about the whole file
  std::string key;       ///< the variable, as the file spells it ("HMAC_DIGEST_TYPE"); may be empty
  std::string message;
  errc code = errc::config_invalid;  ///< `errc::io_failed` when the file could not be read
};

/// `file:line: KEY: message`, leaving out the parts that are empty or zero.
inline std::string to_string(const config_error& e) {
  std::string out = e.file;
  if (e.line != 0) out += ':' + std::to_string(e.line);
  out += ": ";
  if (!e.key.empty()) out += e.key + ": ";
  return out + e.message;
}

/// `s` with every byte outside printable ASCII replaced by '?', so a name or value taken from a
/// file cannot put control characters on a terminal.
inline std::string printable(std::string_view s) {
  std::string out{s};
  for (char& c : out)
    if (c < 0x20 || c > 0x7e) c = '?';
  return out;
}

/// "md5, sha1, …": the names a build supports, for "unknown value" errors.
template <class Names>
std::string joined(const Names& names) {
  std::string out;
  for (std::string_view n : names) out.append(out.empty() ? "" : ", ").append(n);
  return out;
}

}  // namespace knock::config
