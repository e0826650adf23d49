// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// fwknopd's `access.conf`, bound to the server's policies: `bind_access_conf` turns
/// `parse_access_conf`'s raw stanzas (knock/config/access_conf_parse.hpp) into
/// `access::stanza<Cipher, Mac>`s — SOURCE blocks, the cipher, the key in a `secret_bytes`, the
/// HMAC state keyed once, here, at load. `load_access_conf(path)` reads, parses and binds a file.
/// Every error reads `file:line: KEY: message`, and none quotes a key.

#include <knock/access/stanza.hpp>
#include <knock/cipher/any_of.hpp>
#include <knock/cipher/concept.hpp>
#include <knock/config/access_conf_parse.hpp>
#include <knock/config/error.hpp>
#include <knock/core/bytes.hpp>
#include <knock/core/net.hpp>
#include <knock/core/result.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/mac/concept.hpp>
#include <knock/wire/base64.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace knock::config {

namespace detail {

/// The error `message` about `key`, at the line of `at`.
inline failure<config_error> error_at(std::string_view file, const raw_value& at,
                                      std::string_view key, std::string message) {
  return fail(config_error{std::string{file}, at.line, std::string{key}, std::move(message)});
}

/// The key that `text` (taken as bytes) or `b64` (base64, `=` padding allowed) sets; at most one
/// may be set, and neither is fine (the caller decides). Errors never quote the key.
inline result<std::optional<secret_bytes>, config_error> read_key(std::string_view file,
                                                                  const raw_value& text,
                                                                  std::string_view text_name,
                                                                  const raw_value& b64,
                                                                  std::string_view b64_name) {
  if (text.is_set() && b64.is_set()) {
    const bool text_last = text.line > b64.line;
    return error_at(file, text_last ? text : b64, text_last ? text_name : b64_name,
                    std::string{text_last ? b64_name : text_name} + " is set too (line " +
                        std::to_string(text_last ? b64.line : text.line) + "); set only one");
  }
  const raw_value& set = text.is_set() ? text : b64;
  const std::string_view name = text.is_set() ? text_name : b64_name;
  if (!set.is_set()) return std::optional<secret_bytes>{};
  if (set.text == "__CHANGEME__") return error_at(file, set, name, "is still __CHANGEME__");
  if (text.is_set()) return std::optional<secret_bytes>{secret_bytes{std::string_view{set.text}}};
  std::vector<byte> bytes(base64::decoded_size(set.text.size()) + 2);
  const auto n = base64::decode_padded(set.text, bytes.data());
  std::optional<secret_bytes> key;
  if (n) key.emplace(bytes_view{bytes.data(), *n});
  secure_zero(bytes.data(), bytes.size());
  if (!key) return error_at(file, set, name, "is not valid base64");
  return key;
}

/// What a stanza says apart from its algorithms, checked: the part of binding that does not depend
/// on the Cipher and Mac sets (so it is compiled once).
struct checked_stanza {
  access::address_set sources;
  secret_bytes key;
  std::optional<secret_bytes> hmac_key;
  const raw_value* hmac_key_at = nullptr;  ///< the line that set the HMAC key
  std::uint32_t fw_access_timeout = 30;
  bool enable_cmd_exec = false;
};

inline result<checked_stanza, config_error> check_stanza(const raw_stanza& r,
                                                         std::string_view file) {
  checked_stanza s;
  s.sources.any = false;
  for (std::string_view list = r.source.text;;) {
    const std::size_t comma = list.find(',');
    const std::string_view item = trim(list.substr(0, comma));
    if (iequals(item, "any"))
      s.sources.any = true;
    else if (const auto block = cidr::parse(item))
      s.sources.networks.push_back(*block);
    else
      return error_at(file, r.source, "SOURCE",
                      "'" + printable(item) + "' is not ANY, an IP address or a CIDR block");
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }

  auto key = read_key(file, r.key, "KEY", r.key_base64, "KEY_BASE64");
  if (!key) return fail(key.error());
  if (!*key) return error_at(file, r.source, "SOURCE", "stanza has no KEY or KEY_BASE64");
  if ((*key)->size() > 32)  // fwknop's limit for Rijndael passphrases
    return error_at(file, r.key.is_set() ? r.key : r.key_base64,
                    r.key.is_set() ? "KEY" : "KEY_BASE64", "is longer than 32 bytes");
  s.key = std::move(**key);

  auto hmac_key = read_key(file, r.hmac_key, "HMAC_KEY", r.hmac_key_base64, "HMAC_KEY_BASE64");
  if (!hmac_key) return fail(hmac_key.error());
  s.hmac_key = std::move(*hmac_key);
  s.hmac_key_at = r.hmac_key.is_set() ? &r.hmac_key : &r.hmac_key_base64;
  if (s.hmac_key && *s.hmac_key == s.key)
    return error_at(file, *s.hmac_key_at, r.hmac_key.is_set() ? "HMAC_KEY" : "HMAC_KEY_BASE64",
                    "must differ from the encryption key");
  if (!s.hmac_key && r.hmac_digest_type.is_set())
    return error_at(file, r.hmac_digest_type, "HMAC_DIGEST_TYPE",
                    "set without HMAC_KEY or HMAC_KEY_BASE64");

  if (const raw_value& t = r.fw_access_timeout; t.is_set()) {
    const char* end = t.text.data() + t.text.size();
    const auto parsed = std::from_chars(t.text.data(), end, s.fw_access_timeout);
    if (parsed.ec != std::errc{} || parsed.ptr != end || s.fw_access_timeout == 0)
      return error_at(file, t, "FW_ACCESS_TIMEOUT",
                      "'" + printable(t.text) + "' is not a positive integer");
  }
  if (const raw_value& e = r.enable_cmd_exec; e.is_set()) {
    if (!iequals(e.text, "y") && !iequals(e.text, "n"))
      return error_at(file, e, "ENABLE_CMD_EXEC", "'" + printable(e.text) + "' is not Y or N");
    s.enable_cmd_exec = iequals(e.text, "y");
  }
  return s;
}

/// One raw stanza → an `access::stanza`, or the first thing wrong with it.
template <class Cipher, class Mac>
result<access::stanza<Cipher, Mac>, config_error> bind_stanza(const raw_stanza& r,
                                                              std::string_view file) {
  auto checked = check_stanza(r, file);
  if (!checked) return fail(checked.error());
  access::stanza<Cipher, Mac> s;
  s.file = file;
  s.line = r.source.line;
  s.sources = std::move(checked->sources);
  s.key = std::move(checked->key);
  s.fw_access_timeout = checked->fw_access_timeout;
  s.enable_cmd_exec = checked->enable_cmd_exec;

  if (r.encryption_mode.is_set()) {  // else the set's first Cipher: CBC for fwknop's modes
    auto cipher = Cipher::make(r.encryption_mode.text);
    if (!cipher)
      return error_at(file, r.encryption_mode, "ENCRYPTION_MODE",
                      "unknown value '" + printable(r.encryption_mode.text) +
                          "' (built with: " + joined(Cipher::names) + ")");
    s.cipher = *std::move(cipher);
  }
  if (checked->hmac_key) {
    const raw_value& at = r.hmac_digest_type.is_set() ? r.hmac_digest_type : *checked->hmac_key_at;
    const std::string_view type =
        r.hmac_digest_type.is_set() ? std::string_view{r.hmac_digest_type.text} : "sha256";
    auto keyed = Mac::make(type, checked->hmac_key->view());
    if (!keyed)
      return error_at(
          file, at, "HMAC_DIGEST_TYPE",
          "unknown value '" + printable(type) + "' (built with: " + joined(Mac::names) + ")");
    s.mac.emplace(*std::move(keyed));
  }
  return s;
}

}  // namespace detail

/// Binds raw stanzas to the server's policy sets (by default every Rijndael mode and every HMAC
/// fwknop has): decodes and checks keys, builds each HMAC's keyed state once, and picks each
/// stanza's cipher by its ENCRYPTION_MODE. Errors list what the sets support.
template <class Cipher = cipher::any_rijndael, class Mac = mac::any_hmac>
result<std::vector<access::stanza<Cipher, Mac>>, config_error> bind_access_conf(
    const std::vector<raw_stanza>& raw, std::string_view file_name) {
  static_assert(cipher_policy<Cipher>,
                "knock::config::bind_access_conf: Cipher must model knock::cipher_policy "
                "(knock/cipher/concept.hpp)");
  static_assert(mac_policy<Mac>,
                "knock::config::bind_access_conf: Mac must model knock::mac_policy "
                "(knock/mac/concept.hpp)");
  std::vector<access::stanza<Cipher, Mac>> out;
  out.reserve(raw.size());
  for (const raw_stanza& r : raw) {
    auto s = detail::bind_stanza<Cipher, Mac>(r, file_name);
    if (!s) return fail(s.error());
    out.push_back(*std::move(s));
  }
  return out;
}

namespace detail {

/// The text of the file at `path` (at most 1 MiB), read without leaving copies behind in freed
/// memory; `errc::io_failed` when it cannot be read.
inline result<std::string, config_error> read_config_file(const std::string& path) {
  constexpr std::size_t max_size = std::size_t{1} << 20;
  std::string text;
  std::error_code size_error;  // reserving up front keeps reallocation from leaving key copies
  if (const auto size = std::filesystem::file_size(path, size_error); !size_error)
    text.reserve(std::min<std::uintmax_t>(size, max_size + 1));
  std::FILE* f = std::fopen(path.c_str(), "rb");
  bool read_ok = f != nullptr;
  int err = errno;
  if (f != nullptr) {
    char buf[4096];
    for (std::size_t n; text.size() <= max_size && (n = std::fread(buf, 1, sizeof buf, f)) != 0;)
      text.append(buf, n);
    read_ok = std::ferror(f) == 0;
    err = errno;
    std::fclose(f);
    secure_zero(buf, sizeof buf);
  }
  if (!read_ok)
    return fail(config_error{path, 0, "", "cannot read: " + std::generic_category().message(err),
                             errc::io_failed});
  if (text.size() > max_size) {
    secure_zero(text.data(), text.size());
    return fail(config_error{path, 0, "", "is larger than 1 MiB"});
  }
  return text;
}

}  // namespace detail

/// Reads, parses and binds the access.conf at `path` (see `bind_access_conf`); errors name `path`.
/// The text read is wiped before returning.
template <class Cipher = cipher::any_rijndael, class Mac = mac::any_hmac>
result<std::vector<access::stanza<Cipher, Mac>>, config_error> load_access_conf(
    const std::string& path) {
  auto text = detail::read_config_file(path);
  if (!text) return fail(text.error());
  auto raw = parse_access_conf(*text, path);
  secure_zero(text->data(), text->size());
  if (!raw) return fail(raw.error());
  return bind_access_conf<Cipher, Mac>(*raw, path);
}

}  // namespace knock::config
