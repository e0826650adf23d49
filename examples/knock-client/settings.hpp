// SPDX-License-Identifier: MIT
#pragma once
// What knock-client is asked to do, and the one place that gives each setting its meaning: the
// `.fwknoprc` variables (spec §13). Options on the command line that have a variable (-A is
// ACCESS, -D is SPA_SERVER, ...) are applied through the same table, so the rc file and the
// command line cannot disagree, and --save-rc-stanza writes back what the command line said.

#include "gpg.hpp"

#include <knock/client/send.hpp>
#include <knock/codec/base64.hpp>
#include <knock/core/bytes.hpp>
#include <knock/core/hash_id.hpp>
#include <knock/core/spa_message.hpp>
#include <knock/wire/grammar.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace knock_client {

using knock::result;

/// A secret held as text (a key, or the base64 of one): wiped when it goes away.
class secret_text {
 public:
  secret_text() = default;
  explicit secret_text(std::string_view s) : text_{s} {}
  secret_text(const secret_text& o) : text_{o.text_} {}
  secret_text& operator=(const secret_text& o) {
    wipe(), text_ = o.text_;
    return *this;
  }
  ~secret_text() { wipe(); }
  const std::string& str() const noexcept { return text_; }
  bool empty() const noexcept { return text_.empty(); }

 private:
  void wipe() noexcept { knock::secure_zero(text_.data(), text_.size()); }
  std::string text_;
};

/// Where a key comes from. fwknop keeps each source apart and, whatever their order, takes the
/// key itself first, then its base64, then a key file; a file is read only when it is the one used.
struct key_source {
  enum class kind : std::uint8_t { none, text, base64, file };
  std::optional<secret_text> text, base64, file;  ///< KEY / KEY_BASE64 / KEY_FILE (and HMAC_*)
  /// The source fwknop would use.
  kind from() const noexcept {
    return text ? kind::text : base64 ? kind::base64 : file ? kind::file : kind::none;
  }
  /// The value of that source (a key, its base64, or a file name).
  const secret_text& value() const noexcept {
    static const secret_text none;
    return text ? *text : base64 ? *base64 : file ? *file : none;
  }
};

/// Every setting a run uses; the defaults are fwknop's.
struct settings {
  std::string access;                                 // ACCESS, -A
  std::string allow_ip;                               // ALLOW_IP, -a; -s and "source" give 0.0.0.0
  std::string server;                                 // SPA_SERVER, -D
  std::uint16_t server_port = 62201;                  // SPA_SERVER_PORT, -p
  knock::transport protocol = knock::transport::udp;  // SPA_SERVER_PROTO, -P
  std::uint16_t source_port = 0;                      // SPA_SOURCE_PORT, -S
  std::uint32_t fw_timeout = 0;                       // FW_TIMEOUT, -f
  std::string nat_access;                             // NAT_ACCESS, -N
  bool nat_local = false;                             // NAT_LOCAL, --nat-local
  std::uint16_t nat_port = 0;                         // NAT_PORT, --nat-port
  std::string user;                                   // SPOOF_USER, -U
  std::string mode = "cbc";                           // ENCRYPTION_MODE, -M
  knock::hash_id digest = knock::hash_id::sha256;     // DIGEST_TYPE, -m
  std::optional<knock::hash_id> hmac_type;            // HMAC_DIGEST_TYPE
  bool use_hmac = false;                              // USE_HMAC, --use-hmac
  key_source key;                                     // KEY, KEY_BASE64, KEY_FILE
  key_source hmac_key;                                // HMAC_KEY, HMAC_KEY_BASE64, HMAC_KEY_FILE
  std::int64_t time_offset = 0;                       // TIME_OFFSET, --time-offset-plus/minus
  knock::ip_family family = knock::ip_family::any;    // SERVER_RESOLVE_IPV4, -4 (and -6)
  bool verbose = false;                               // VERBOSE, -v
  std::string spoof_source;                           // SPOOF_SOURCE_IP, -Q
  bool rand_port = false;                             // RAND_PORT, -r
  bool nat_rand_port = false;                         // NAT_RAND_PORT, --nat-rand-port
  bool resolve_ip = false;  // ALLOW_IP resolve, RESOLVE_IP_HTTP(S), -R: ask a web service
  std::string user_agent;   // HTTP_USER_AGENT, -u (empty: fwknop's)
  gpg_settings gpg;                                   // USE_GPG, GPG_*, --gpg-* (gpg.hpp)
};

/// fwknop's client keeps 29 characters of -U / SPOOF_USER (a 30-byte buffer).
inline constexpr std::size_t max_spoof_user = 29;
/// fwknop's highest verbosity level (VERBOSE 0..4).
inline constexpr std::int64_t max_verbosity = 4;

/// A setting's value as fwknop writes it back into an rc file, or why the value is refused.
using applied = result<std::string, std::string>;

namespace values {

inline std::string lower(std::string_view s) {
  std::string out{s};
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}
inline std::string upper(std::string_view s) {
  std::string out{s};
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}
inline bool is_yes(std::string_view v) { return v == "Y" || v == "y"; }  // fwknop: only "Y"
/// `v` with every byte outside printable ASCII shown as '?', so text from a file or the command
/// line cannot put control characters on a terminal.
inline std::string printable(std::string_view v) {
  std::string out;
  for (char c : v) out += c >= 0x20 && c <= 0x7e ? c : '?';
  return out;
}
inline std::string quoted(std::string_view v) { return "'" + printable(v) + "'"; }
/// 1..10 decimal digits worth at most `max`.
inline std::optional<std::uint32_t> number(std::string_view v, std::uint32_t max) {
  if (v.empty() || v.size() > 10) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (n > max) return std::nullopt;
  return static_cast<std::uint32_t>(n);
}
inline bool is_base64_key(std::string_view v) {
  std::vector<knock::byte> out(knock::codec::base64::decoded_size(v.size()) + 3);
  const auto n = knock::codec::base64::decode_padded(v, out.data());
  knock::secure_zero(out.data(), out.size());
  return n.has_value() && *n > 0;
}
constexpr std::string_view hash_names = "md5, sha1, sha256, sha384, sha512, sha3_256, sha3_512";

/// Seconds from fwknop's offset syntax, read as fwknop reads it: its digits (1 to 8 of them, worth
/// at most 65536) up to a unit letter m, h or d (any case; none: seconds), every other character
/// skipped, so "+1H" is an hour and "30s" thirty seconds.
inline std::optional<std::int64_t> offset_seconds(std::string_view v) {
  std::int64_t unit = 1;
  std::string digits;
  for (char c : v) {
    if (c >= '0' && c <= '9') {
      if ((digits += c).size() > 8) return std::nullopt;
      continue;
    }
    const char l = static_cast<char>(c | 0x20);
    if (l == 'm' || l == 'h' || l == 'd') {
      unit = l == 'm' ? 60 : l == 'h' ? 3600 : 86400;
      break;
    }
  }
  const auto n = number(digits, 65536);
  if (!n) return std::nullopt;
  return *n * unit;
}

/// C's strtol as fwknop uses it for a level: leading blanks, a sign, digits; no digits is 0.
inline std::optional<std::int64_t> leading_number(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  const bool minus = !v.empty() && v.front() == '-';
  if (!v.empty() && (v.front() == '-' || v.front() == '+')) v.remove_prefix(1);
  std::int64_t n = 0;
  for (std::size_t i = 0; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i)
    if ((n = n * 10 + (v[i] - '0')) > 1'000'000) return std::nullopt;
  return minus ? -n : n;
}

inline applied port(std::string_view v, std::uint16_t& out, std::uint32_t min) {
  const auto n = number(v, 65535);
  if (!n || *n < min)
    return knock::fail(quoted(v) + " is not a port (" + std::to_string(min) + "..65535)");
  out = static_cast<std::uint16_t>(*n);
  return std::to_string(*n);
}
inline applied yes_no(std::string_view v, bool& out) {
  out = is_yes(v);
  return std::string{out ? "Y" : "N"};
}
inline applied hash(std::string_view v, knock::hash_id& out) {
  const auto h = knock::parse_hash_id(v);
  if (!h) return knock::fail("unknown digest " + quoted(v) + " (" + std::string{hash_names} + ")");
  out = *h;
  return upper(knock::to_string(*h));
}
inline applied key(std::string_view v, key_source& out, key_source::kind kind) {
  // Never quote a key: not even a malformed one.
  if (kind == key_source::kind::base64 && !is_base64_key(v))
    return knock::fail(std::string{"is not base64"});
  auto& slot = kind == key_source::kind::text     ? out.text
               : kind == key_source::kind::base64 ? out.base64
                                                  : out.file;
  slot = secret_text{v};
  return std::string{v};
}
inline applied unsupported(std::string_view what) {
  return knock::fail(std::string{what} + " is not supported by knock-client");
}

}  // namespace values

/// Applies variable `name` = `value` to `s`. Returns the value as fwknop's --save-rc-stanza writes
/// it, or why it is refused (never quoting a key). Unknown names are refused, as fwknop does.
inline applied apply(settings& s, std::string_view name, std::string_view value) {
  namespace d = values;
  using kind = key_source::kind;
  const std::string v{value};
  if (name == "DIGEST_TYPE") return d::hash(v, s.digest);
  if (name == "HMAC_DIGEST_TYPE") {
    knock::hash_id h{};
    auto r = d::hash(v, h);
    if (r) s.hmac_type = h;
    return r;
  }
  if (name == "SPA_SERVER_PROTO") {
    const auto p = knock::parse_transport(v);
    if (!p)
      return knock::fail("unknown protocol " + d::quoted(v) +
                         " (udp, tcp, udpraw, tcpraw, icmp, http)");
    s.protocol = *p;
    return std::string{knock::to_string(*p)};
  }
  if (name == "SPA_SERVER_PORT") return d::port(v, s.server_port, 1);
  if (name == "SPA_SOURCE_PORT") return d::port(v, s.source_port, 0);
  if (name == "NAT_PORT") return d::port(v, s.nat_port, 1);
  if (name == "FW_TIMEOUT") {
    const auto n = d::number(v, knock::limits::max_client_timeout);
    if (!n) return knock::fail(d::quoted(v) + " is not a number of seconds (0..65536)");
    s.fw_timeout = *n;
    return std::to_string(*n);
  }
  if (name == "ALLOW_IP") {
    s.resolve_ip = false;  // as fwknop: the last word on the address wins
    if (d::lower(v) == "resolve") {
      s.resolve_ip = true;
      return std::string{"resolve"};
    }
    if (d::lower(v) == "source") {
      s.allow_ip = "0.0.0.0";  // fwknop's -s
      return std::string{"source"};
    }
    if (!knock::wire::is_message_ipv4(v))
      return knock::fail(d::quoted(v) + " is not an IPv4 address");
    s.allow_ip = v;
    return v;
  }
  if (name == "TIME_OFFSET") {
    const bool minus = value.starts_with('-');
    const auto secs = d::offset_seconds(minus ? value.substr(1) : value);
    if (!secs) return knock::fail(d::quoted(v) + " is not a time offset (such as 30s, 5m, 1h, 1d)");
    s.time_offset = minus ? -*secs : *secs;
    return std::to_string(s.time_offset);
  }
  if (name == "ENCRYPTION_MODE") {
    const std::string m = d::lower(v);
    for (std::string_view known : {"cbc", "ctr", "cfb", "ofb", "ecb", "legacy"}) {
      if (m != known) continue;
      s.mode = m;
      return m == "legacy" ? m : d::upper(m);
    }
    if (m == "asymmetric") return s.gpg.use = true, std::string{"Asymmetric"};  // GnuPG
    if (m == "pcbc") return d::unsupported("encryption mode " + d::quoted(v));
    return knock::fail("unknown encryption mode " + d::quoted(v) +
                       " (cbc, ctr, cfb, ofb, ecb, legacy)");
  }
  if (name == "SPOOF_USER") {  // fwknop keeps the first 29 characters (its 30-byte buffer)
    s.user = v.substr(0, max_spoof_user);
    return s.user;
  }
  if (name == "SPOOF_SOURCE_IP") {
    if (!knock::wire::is_message_ipv4(v))
      return knock::fail(d::quoted(v) + " is not an IPv4 address (the source to spoof)");
    s.spoof_source = v;
    return v;
  }
  if (name == "HTTP_USER_AGENT") {
    for (char c : v)
      if (c < 0x20 || c > 0x7e)
        return knock::fail(std::string{"the user agent must be printable ASCII"});
    s.user_agent = v;
    return v;
  }
  if (name == "ACCESS") {
    if (!knock::wire::is_port_list(v))
      return knock::fail(d::quoted(v) + " is not a list of tcp/PORT or udp/PORT (port 1..65535)");
    s.access = v;
    return v;
  }
  if (name == "SPA_SERVER") {
    s.server = v;
    return v;
  }
  if (name == "NAT_ACCESS") {
    s.nat_access = v;
    return v;
  }
  if (name == "KEY") return d::key(v, s.key, kind::text);
  if (name == "KEY_BASE64") return d::key(v, s.key, kind::base64);
  if (name == "KEY_FILE") return d::key(v, s.key, kind::file);
  if (name == "HMAC_KEY" || name == "HMAC_KEY_BASE64" || name == "HMAC_KEY_FILE") {
    // A key turns the HMAC on; a key file is only where to look once it is on (fwknop).
    if (name != "HMAC_KEY_FILE") s.use_hmac = true;
    const kind k = name == "HMAC_KEY"        ? kind::text
                   : name == "HMAC_KEY_FILE" ? kind::file
                                             : kind::base64;
    return d::key(v, s.hmac_key, k);
  }
  if (name == "USE_HMAC") return d::yes_no(v, s.use_hmac);
  if (name == "NAT_LOCAL") return d::yes_no(v, s.nat_local);
  if (name == "VERBOSE") {  // Y, or fwknop's verbosity level 0..4, read as C's strtol reads it
    const auto level = d::is_yes(v) ? std::optional<std::int64_t>{1} : d::leading_number(v);
    if (!level || *level < 0 || *level > max_verbosity)
      return knock::fail(d::quoted(v) + " is not Y or a verbosity level (0..4)");
    s.verbose = *level > 0;
    return *level <= 1 ? std::string{s.verbose ? "Y" : "N"} : std::to_string(*level);
  }
  if (name == "RAND_PORT") return d::yes_no(v, s.rand_port);
  if (name == "NAT_RAND_PORT") return d::yes_no(v, s.nat_rand_port);
  if (name == "RESOLVE_IP_HTTP" || name == "RESOLVE_IP_HTTPS") {
    if (d::is_yes(v)) s.resolve_ip = true;
    return std::string{d::is_yes(v) ? "Y" : "N"};
  }
  if (name == "SERVER_RESOLVE_IPV4") {
    s.family = d::is_yes(v) ? knock::ip_family::v4 : knock::ip_family::any;
    return std::string{d::is_yes(v) ? "Y" : "N"};
  }
  if (auto gpg = apply_gpg(s.gpg, name, v)) return *std::move(gpg);
  // Accepted, not used: the web lookup's behind -R (see main.cpp).
  for (std::string_view ignored : {"USE_WGET_USER_AGENT", "RESOLVE_HTTP_ONLY", "RESOLVE_URL",
                                   "WGET_CMD", "NO_SAVE_ARGS"})
    if (name == ignored) return v;
  return knock::fail("unknown variable");
}

}  // namespace knock_client
