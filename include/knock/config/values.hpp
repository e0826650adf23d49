// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Config values, checked: `Y`/`N` switches, positive integers, address and port lists, dates,
/// keys (text or base64, never quoted in errors), and reading a config file without leaving copies
/// of its keys in freed memory. Shared by access.conf and fwknopd.conf; every error names
/// `file:line` and the variable.

#include <knock/access/stanza.hpp>
#include <knock/codec/base64.hpp>
#include <knock/config/access_conf_parse.hpp>
#include <knock/config/error.hpp>
#include <knock/core/bytes.hpp>
#include <knock/core/grant.hpp>
#include <knock/core/net.hpp>
#include <knock/core/result.hpp>
#include <knock/wire/grammar.hpp>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <time.h>  // strptime

namespace knock::config::detail {

/// The error `message` about `key`, at the line of `at`.
inline failure<config_error> error_at(std::string_view file, const raw_value& at,
                                      std::string_view key, std::string message) {
  return fail(config_error{at.file.empty() ? std::string{file} : at.file, at.line, std::string{key},
                           std::move(message)});
}

/// `Y` or `N` (any case), as fwknop writes its switches.
inline result<bool, config_error> yes_no(std::string_view file, const raw_value& v,
                                         std::string_view key, bool fallback) {
  if (!v.is_set()) return fallback;
  if (iequals(v.text, "y")) return true;
  if (iequals(v.text, "n")) return false;
  return error_at(file, v, key, "'" + printable(v.text) + "' is not Y or N");
}

/// A whole number in 1..`max`.
inline result<std::uint32_t, config_error> positive(std::string_view file, const raw_value& v,
                                                    std::string_view key, std::uint32_t fallback,
                                                    std::uint32_t max = 0xFFFFFFFF) {
  if (!v.is_set()) return fallback;
  std::uint32_t out = 0;
  const char* end = v.text.data() + v.text.size();
  const auto parsed = std::from_chars(v.text.data(), end, out);
  if (parsed.ec != std::errc{} || parsed.ptr != end || out == 0 || out > max)
    return error_at(file, v, key,
                    "'" + printable(v.text) + "' is not a positive integer" +
                        (max == 0xFFFFFFFF ? "" : " up to " + std::to_string(max)));
  return out;
}

/// `a.b.c.d/N`, `a:b::/N`, a bare address, or (as fwknopd also takes) `a.b.c.d/w.x.y.z` with a
/// netmask of contiguous leading ones.
inline std::optional<cidr> address_block(std::string_view item) noexcept {
  const std::size_t slash = item.find('/');
  if (slash != std::string_view::npos &&
      item.substr(slash + 1).find('.') != std::string_view::npos) {
    const auto a = ip_address::parse(item.substr(0, slash));
    const auto mask = ip_address::parse(item.substr(slash + 1));
    if (!a || !mask || !a->is_v4() || !mask->is_v4()) return std::nullopt;
    std::uint32_t bits = 0;
    for (byte b : mask->bytes().first(4)) bits = bits << 8 | b;
    const unsigned ones = static_cast<unsigned>(std::countl_one(bits));
    if (ones < 32 && (bits << ones) != 0) return std::nullopt;  // not contiguous
    return cidr::make(*a, ones);
  }
  return cidr::parse(item);
}

/// `ANY`, or a comma list of addresses CIDR blocks (IPv4 and IPv6) and IPv4
/// address/netmask pairs; a mask of 0 bits is refused, as fwknopd refuses it.
inline result<access::address_set, config_error> addresses(std::string_view file,
                                                           const raw_value& v,
                                                           std::string_view key) {
  access::address_set set;
  if (!v.is_set()) return set;
  set.any = false;
  for (std::string_view list = v.text;;) {
    const std::size_t comma = list.find(',');
    const std::string_view item = trim(list.substr(0, comma));
    if (iequals(item, "any")) {
      set.any = true;
    } else if (const auto block = address_block(item)) {
      // fwknopd refuses a /0 mask ("Invalid IP mask"): every address is spelled ANY, so a typo in
      // a mask can never open the stanza to the world.
      if (block->prefix() == 0)
        return error_at(file, v, key,
                        "'" + printable(item) +
                            "': a mask of 0 bits matches every address (fwknopd refuses it); "
                            "write ANY if that is what you mean");
      set.networks.push_back(*block);
    } else {
      return error_at(file, v, key,
                      "'" + printable(item) + "' is not ANY, an IP address or a CIDR block");
    }
    if (comma == std::string_view::npos) return set;
    list.remove_prefix(comma + 1);
  }
}

/// A comma list of `tcp/N` / `udp/N`.
inline result<port_list, config_error> ports(std::string_view file, const raw_value& v,
                                             std::string_view key) {
  port_list out;
  for (std::string_view list = v.text;;) {
    const std::size_t comma = list.find(',');
    const std::string_view item = trim(list.substr(0, comma));
    const bool tcp = item.size() > 4 && iequals(item.substr(0, 4), "tcp/");
    const bool udp = item.size() > 4 && iequals(item.substr(0, 4), "udp/");
    const auto port = wire::parse_port(item.substr(std::min<std::size_t>(4, item.size())));
    if (!(tcp || udp) || !port)
      return error_at(file, v, key, "'" + printable(item) + "' is not tcp/PORT or udp/PORT");
    if (!out.push_back({tcp ? ip_protocol::tcp : ip_protocol::udp, *port}))
      return error_at(file, v, key,
                      "lists more than " + std::to_string(port_list::capacity) + " ports");
    if (comma == std::string_view::npos) return out;
    list.remove_prefix(comma + 1);
  }
}

/// ACCESS_EXPIRE (`MM/DD/YYYY`, local midnight, as fwknopd reads it with mktime) or
/// ACCESS_EXPIRE_EPOCH (seconds); the earlier wins when both are set.
inline result<epoch_seconds, config_error> access_expire(std::string_view file,
                                                         const raw_stanza& r) {
  epoch_seconds out = never_expires;
  if (const raw_value& d = r.access_expire; d.is_set()) {
    std::tm tm{};
    const char* end = ::strptime(d.text.c_str(), "%m/%d/%Y", &tm);
    if (end == nullptr || *end != '\0')
      return error_at(file, d, "ACCESS_EXPIRE", "'" + printable(d.text) + "' is not MM/DD/YYYY");
    tm.tm_isdst = -1;
    out = static_cast<epoch_seconds>(std::mktime(&tm));
  }
  if (const raw_value& e = r.access_expire_epoch; e.is_set()) {
    epoch_seconds v = 0;
    const char* end = e.text.data() + e.text.size();
    const auto parsed = std::from_chars(e.text.data(), end, v);
    if (parsed.ec != std::errc{} || parsed.ptr != end || v < 0)
      return error_at(file, e, "ACCESS_EXPIRE_EPOCH",
                      "'" + printable(e.text) + "' is not seconds since the epoch");
    out = std::min(out, v);
  }
  return out;
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
  std::vector<byte> bytes(codec::base64::decoded_size(set.text.size()) + 2);
  const auto n = codec::base64::decode_padded(set.text, bytes.data());
  std::optional<secret_bytes> key;
  if (n) key.emplace(bytes_view{bytes.data(), *n});
  secure_zero(bytes.data(), bytes.size());
  if (!key) return error_at(file, set, name, "is not valid base64");
  return key;
}

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

}  // namespace knock::config::detail

namespace knock::config {

/// Reads a configuration file whole, leaving no copy of its keys in freed memory (what the
/// `load_*` functions use; for programs that show a file's variables, like `knock-server -D`).
inline result<std::string, config_error> read_config_file(const std::string& path) {
  return detail::read_config_file(path);
}

/// A comma list of `tcp/N` / `udp/N` given outside a file (a flag): errors read
/// `where: key: …`.
inline result<port_list, config_error> read_ports(std::string_view where, std::string_view text,
                                                  std::string_view key) {
  auto p = detail::ports(where, raw_value{text, 1}, key);
  if (!p) {
    config_error e = p.error();
    e.line = 0;
    return fail(std::move(e));
  }
  return *p;
}

}  // namespace knock::config
