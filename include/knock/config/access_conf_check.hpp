// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// The part of binding an access.conf stanza that does not depend on the server's Cipher and Mac
/// sets (so it is compiled once): `bind_options`, and `detail::check_stanza`, which checks what a
/// raw stanza says (SOURCE blocks, ports, expiry, NAT, GnuPG settings, the key's form) with
/// fwknopd's defaults and refusals. knock/config/access_conf.hpp binds the result to the
/// policies. Every error reads `file:line: KEY: message`, and none quotes a key.

#include <knock/access/stanza.hpp>
#include <knock/cipher/gnupg_settings.hpp>
#include <knock/config/access_conf_parse.hpp>
#include <knock/config/error.hpp>
#include <knock/config/values.hpp>
#include <knock/core/bytes.hpp>
#include <knock/core/net.hpp>
#include <knock/core/result.hpp>
#include <knock/wire/grammar.hpp>

#include <algorithm>
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
#include <utility>
#include <vector>

#include <grp.h>
#include <pwd.h>
#include <time.h>  // strptime

namespace knock::config {

/// What `bind_access_conf` allows beyond fwknop's own rules.
struct bind_options {
  /// Accept stanzas without an HMAC key (fwknop's legacy setup). Off by default: without an HMAC
  /// the ciphertext is malleable and anyone can make the server decrypt (spec Q10).
  bool allow_no_hmac = false;
  /// Set: fwknopd's way with a stanza whose keys come from an `%include_keys` file that is
  /// missing, empty, or holds wrong lines or keys: it is left out, never matches a packet, and its
  /// error is recorded here for the caller to log; the file loads when at least one stanza is
  /// whole. Any other error refuses the whole file, as in fwknopd. Unset (the library's default,
  /// and knock-server's `--strict-config`): the first error refuses the whole file.
  std::vector<config_error>* skipped = nullptr;
  /// fwknopd.conf's NAT switches: FORCE_NAT and FORCE_SNAT need ENABLE_IPT_FORWARDING or
  /// ENABLE_IPT_LOCAL_NAT (as in fwknopd).
  access::nat_options nat = {};
  /// fwknopd.conf's GPG_HOME_DIR and GPG_EXE: the keyring and gpg of a GnuPG stanza that names
  /// none (an empty `gpg_exe`: gpgme's default).
  std::string gpg_home_dir = "/root/.gnupg";
  std::string gpg_exe{};
};

namespace detail {

/// Variables fwknop acts on that this server does not enforce yet: checked for form, then refused
/// with the reason, so none is ever silently ignored.
inline result<void, config_error> refuse_unsupported(std::string_view file, const raw_stanza& r) {
  // fwknopd's limits: CMD_CYCLE_TIMER 1..2^23 s, a command shorter than its 256-byte buffer.
  if (auto t = positive(file, r.cmd_cycle_timer, "CMD_CYCLE_TIMER", 1, 8388608); !t)
    return fail(t.error());
  for (const auto* v : {&r.cmd_cycle_open, &r.cmd_cycle_close})
    if (v->is_set() && v->text.size() >= 256)
      return error_at(
          file, *v, v == &r.cmd_cycle_open ? "CMD_CYCLE_OPEN" : "CMD_CYCLE_CLOSE",
          "is " + std::to_string(v->text.size()) + " characters long; fwknopd takes at most 255");
  // fwknopd's rules: an open command needs a close command ("NONE": none), and a close command
  // other than NONE needs the timer that runs it.
  const bool closes = r.cmd_cycle_close.is_set() && !r.cmd_cycle_close.text.starts_with("NONE");
  if (r.cmd_cycle_open.is_set() && !r.cmd_cycle_close.is_set())
    return error_at(file, r.cmd_cycle_open, "CMD_CYCLE_OPEN",
                    "needs CMD_CYCLE_CLOSE too (NONE when nothing is to run at the close)");
  if (r.cmd_cycle_close.is_set() && !r.cmd_cycle_open.is_set())
    return error_at(file, r.cmd_cycle_close, "CMD_CYCLE_CLOSE", "needs CMD_CYCLE_OPEN");
  if (closes && !r.cmd_cycle_timer.is_set())
    return error_at(file, r.cmd_cycle_close, "CMD_CYCLE_CLOSE",
                    "needs CMD_CYCLE_TIMER (the seconds until it runs)");
  return {};
}

/// FORCE_NAT, FORCE_SNAT, FORCE_MASQUERADE, DISABLE_DNAT and FORWARD_ALL, with fwknopd's rules:
/// FORCE_NAT is `<IPv4> <port>` and FORCE_SNAT an IPv4 address, both only when fwknopd.conf
/// enables forwarding or local NAT; FORCE_SNAT / FORCE_MASQUERADE need FORCE_NAT or FORWARD_ALL
/// (which then forwards to 0.0.0.0, as fwknopd's FORCE_NAT "0.0.0.0 0").
inline result<access::stanza_nat, config_error> stanza_nat(std::string_view file,
                                                           const raw_stanza& r,
                                                           const access::nat_options& o) {
  access::stanza_nat n;
  const auto needs_nat = [&](const raw_value& v, std::string_view name) {
    const std::string p{o.switches};
    return error_at(file, v, name,
                    "needs " + p + "FORWARDING or " + p + "LOCAL_NAT Y in fwknopd.conf");
  };
  const auto ipv4 = [](std::string_view text) -> std::optional<ip_address> {
    const auto ip = wire::message_ipv4(text);
    if (!ip) return std::nullopt;
    return ip_address::v4(*ip);
  };
  if (const raw_value& v = r.force_nat; v.is_set()) {
    if (!o.any()) return needs_nat(v, "FORCE_NAT");
    const std::string_view text = v.text;
    const std::size_t space = text.find_first_of(blanks);
    const auto to = space == std::string_view::npos ? std::nullopt : ipv4(text.substr(0, space));
    const auto port =
        space == std::string_view::npos ? std::nullopt : wire::parse_port(trim(text.substr(space)));
    if (!to || !port)
      return error_at(file, v, "FORCE_NAT",
                      "'" + printable(v.text) + "' is not '<IPv4 address> <port 1..65535>'");
    n.force_to = *to;
    n.force_port = *port;
  }
  if (const raw_value& v = r.force_snat; v.is_set()) {
    if (!o.any()) return needs_nat(v, "FORCE_SNAT");
    const auto to = ipv4(trim(v.text));
    if (!to)
      return error_at(file, v, "FORCE_SNAT", "'" + printable(v.text) + "' is not an IPv4 address");
    n.snat_to = *to;
    n.force_snat = true;
  }
  auto masq = yes_no(file, r.force_masquerade, "FORCE_MASQUERADE", false);
  if (!masq) return fail(masq.error());
  auto dnat_off = yes_no(file, r.disable_dnat, "DISABLE_DNAT", false);
  if (!dnat_off) return fail(dnat_off.error());
  auto all = yes_no(file, r.forward_all, "FORWARD_ALL", false);
  if (!all) return fail(all.error());
  n.masquerade = *masq;
  n.force_snat = n.force_snat || *masq;
  n.disable_dnat = *dnat_off;
  n.forward_all = *all;
  if (n.force_snat && !n.force_to) {
    if (!n.forward_all)
      return error_at(file, r.force_snat.is_set() ? r.force_snat : r.force_masquerade,
                      r.force_snat.is_set() ? "FORCE_SNAT" : "FORCE_MASQUERADE",
                      "needs FORCE_NAT or FORWARD_ALL in the same stanza");
    n.force_to = ip_address{};  // fwknopd's FORCE_NAT "0.0.0.0 0"
  }
  return n;
}

/// A comma list (GPG_REMOTE_ID, GPG_FINGERPRINT_ID), items trimmed, empty ones dropped.
inline std::vector<std::string> comma_list(std::string_view list) {
  std::vector<std::string> out;
  for (;;) {
    const std::size_t comma = list.find(',');
    if (auto item = trim(list.substr(0, comma)); !item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) return out;
    list.remove_prefix(comma + 1);
  }
}

/// The stanza's GnuPG settings (GPG_*), with fwknopd's defaults and refusals, or nothing when it
/// does not use GnuPG (neither GPG_DECRYPT_PW nor GPG_ALLOW_NO_PW Y).
inline result<std::optional<cipher::gnupg_settings>, config_error> gnupg_of(
    const raw_stanza& r, std::string_view file, const bind_options& options) {
  bool allow_no_pw = false, require = false, disable = false, ignore = false;
  for (const auto& [v, name, target] :
       {std::tuple{&r.gnupg.gpg_allow_no_pw, "GPG_ALLOW_NO_PW", &allow_no_pw},
        {&r.gnupg.gpg_require_sig, "GPG_REQUIRE_SIG", &require},
        {&r.gnupg.gpg_disable_sig, "GPG_DISABLE_SIG", &disable},
        {&r.gnupg.gpg_ignore_sig_verify_error, "GPG_IGNORE_SIG_VERIFY_ERROR", &ignore}}) {
    auto yes = yes_no(file, *v, name, false);
    if (!yes) return fail(yes.error());
    *target = *yes;
  }
  if (r.gnupg.gpg_decrypt_pw.is_set() && iequals(r.gnupg.gpg_decrypt_pw.text, "__CHANGEME__"))
    return error_at(file, r.gnupg.gpg_decrypt_pw, "GPG_DECRYPT_PW",
                    "is still the example's __CHANGEME__: set the passphrase of the decrypt key");
  if (r.gnupg.gpg_home_dir.is_set()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(r.gnupg.gpg_home_dir.text, ec))
      return error_at(file, r.gnupg.gpg_home_dir, "GPG_HOME_DIR",
                      "'" + printable(r.gnupg.gpg_home_dir.text) + "' is not a directory" +
                          (ec ? " (" + ec.message() + ")" : std::string{}));
  }
  if (!r.gnupg.gpg_decrypt_pw.is_set() && !allow_no_pw) return std::nullopt;  // fwknopd's use_gpg

  cipher::gnupg_settings g;
  g.home_dir = r.gnupg.gpg_home_dir.is_set() ? r.gnupg.gpg_home_dir.text : options.gpg_home_dir;
  g.exe = r.gnupg.gpg_exe.is_set() ? r.gnupg.gpg_exe.text : options.gpg_exe;
  g.key_id = r.gnupg.gpg_decrypt_id.text;
  if (!allow_no_pw) g.passphrase = secret_bytes{std::string_view{r.gnupg.gpg_decrypt_pw.text}};
  g.no_passphrase = allow_no_pw;
  // fwknopd: signatures are required unless GPG_DISABLE_SIG says otherwise (GPG_REQUIRE_SIG wins
  // when both are set), and a stanza that checks them must say whose it takes.
  g.require_sig = require || !disable;
  g.ignore_sig_error = ignore;
  g.remote_ids = comma_list(r.gnupg.gpg_remote_id.text);
  g.fingerprints = comma_list(r.gnupg.gpg_fingerprint_id.text);
  if (!disable && g.remote_ids.empty() && g.fingerprints.empty())
    return error_at(
        file, r.gnupg.gpg_decrypt_pw.is_set() ? r.gnupg.gpg_decrypt_pw : r.gnupg.gpg_allow_no_pw,
        r.gnupg.gpg_decrypt_pw.is_set() ? "GPG_DECRYPT_PW" : "GPG_ALLOW_NO_PW",
        "GnuPG signatures are checked, so set GPG_REMOTE_ID or GPG_FINGERPRINT_ID "
        "(the signers to accept), or GPG_DISABLE_SIG Y");
  const raw_value& at =
      r.gnupg.gpg_decrypt_pw.is_set() ? r.gnupg.gpg_decrypt_pw : r.gnupg.gpg_allow_no_pw;
  g.where = (at.file.empty() ? std::string{file} : at.file) + ":" + std::to_string(at.line) +
            " (stanza SOURCE " + printable(r.source.text) + ")";
  return std::optional{std::move(g)};
}

/// What a stanza says apart from its algorithms, checked: the part of binding that does not depend
/// on the Cipher and Mac sets (so it is compiled once).
struct checked_stanza {
  access::address_set sources, destinations;
  secret_bytes key;
  bool has_key = false;                         ///< KEY / KEY_BASE64 set
  std::optional<cipher::gnupg_settings> gnupg;  ///< GPG_*: the stanza uses GnuPG
  std::optional<secret_bytes> hmac_key;
  const raw_value* hmac_key_at = nullptr;  ///< the line that set the HMAC key
  std::optional<port_list> open_ports;
  port_list restrict_ports;
  std::uint32_t fw_access_timeout = 30, max_fw_timeout = 300;
  bool require_source_address = false, enable_cmd_exec = false, enable_cmd_sudo_exec = false;
  epoch_seconds access_expire = never_expires;
  access::stanza_nat nat;
};

inline result<checked_stanza, config_error> check_stanza(const raw_stanza& r, std::string_view file,
                                                         const bind_options& options) {
  checked_stanza s;
  // Takes each checked value; the first error is kept and returned at the next checkpoint.
  std::optional<config_error> first_error;
  const auto take = [&](auto& target, auto checked) {
    if (checked)
      target = *std::move(checked);
    else if (!first_error)
      first_error = checked.error();
  };
  take(s.sources, addresses(file, r.source, "SOURCE"));
  take(s.destinations, addresses(file, r.destination, "DESTINATION"));
  if (first_error) return fail(*first_error);

  auto key = read_key(file, r.key, "KEY", r.key_base64, "KEY_BASE64");
  if (!key) return fail(key.error());
  auto gnupg = gnupg_of(r, file, options);
  if (!gnupg) return fail(gnupg.error());
  s.gnupg = *std::move(gnupg);
  if (!*key && !s.gnupg)
    return error_at(file, r.source, "SOURCE", "stanza has no KEY or KEY_BASE64");
  if (*key && (*key)->size() > 32)  // fwknop's limit for Rijndael passphrases
    return error_at(file, r.key.is_set() ? r.key : r.key_base64,
                    r.key.is_set() ? "KEY" : "KEY_BASE64", "is longer than 32 bytes");
  s.has_key = key->has_value();
  if (*key) s.key = std::move(**key);
  // fwknopd: the HMAC key must differ from the GnuPG passphrase too.
  const secret_bytes* gpg_pw =
      s.gnupg && s.gnupg->passphrase.size() != 0 ? &s.gnupg->passphrase : nullptr;

  auto hmac_key = read_key(file, r.hmac_key, "HMAC_KEY", r.hmac_key_base64, "HMAC_KEY_BASE64");
  if (!hmac_key) return fail(hmac_key.error());
  s.hmac_key = std::move(*hmac_key);
  s.hmac_key_at = r.hmac_key.is_set() ? &r.hmac_key : &r.hmac_key_base64;
  if (s.hmac_key && ((s.has_key && *s.hmac_key == s.key) || (gpg_pw && *s.hmac_key == *gpg_pw)))
    return error_at(file, *s.hmac_key_at, r.hmac_key.is_set() ? "HMAC_KEY" : "HMAC_KEY_BASE64",
                    "must differ from the encryption key");
  if (!s.hmac_key && r.hmac_digest_type.is_set())
    return error_at(file, r.hmac_digest_type, "HMAC_DIGEST_TYPE",
                    "set without HMAC_KEY or HMAC_KEY_BASE64");
  if (!s.hmac_key && !options.allow_no_hmac)
    return error_at(
        file, r.source, "SOURCE",
        "stanza has no HMAC_KEY or HMAC_KEY_BASE64; knock requires an HMAC unless it is "
        "started with --allow-no-hmac (without one, packets are malleable and replayable "
        "in other spellings)");

  if (r.open_ports.is_set()) take(s.open_ports, ports(file, r.open_ports, "OPEN_PORTS"));
  if (r.restrict_ports.is_set())
    take(s.restrict_ports, ports(file, r.restrict_ports, "RESTRICT_PORTS"));
  take(s.fw_access_timeout, positive(file, r.fw_access_timeout, "FW_ACCESS_TIMEOUT", 30));
  take(s.max_fw_timeout, positive(file, r.max_fw_timeout, "MAX_FW_TIMEOUT", 300));
  if (r.require_source_address.is_set() && r.require_source.is_set())
    return error_at(file, r.require_source, "REQUIRE_SOURCE",
                    "REQUIRE_SOURCE_ADDRESS is set too; set only one");
  take(s.require_source_address,
       r.require_source.is_set()
           ? yes_no(file, r.require_source, "REQUIRE_SOURCE", false)
           : yes_no(file, r.require_source_address, "REQUIRE_SOURCE_ADDRESS", false));
  take(s.access_expire, access_expire(file, r));
  take(s.enable_cmd_exec, yes_no(file, r.enable_cmd_exec, "ENABLE_CMD_EXEC", false));
  take(s.enable_cmd_sudo_exec, yes_no(file, r.enable_cmd_sudo_exec, "ENABLE_CMD_SUDO_EXEC", false));
  if (first_error) return fail(*first_error);
  // As fwknopd, CMD_EXEC_GROUP names a group or a user (fwknopd looks it up as a user and takes
  // that user's group: `CMD_EXEC_GROUP nobody` works where only a user 'nobody' exists).
  if (const raw_value& group = r.cmd_exec_group; group.is_set() &&
                                                 ::getgrnam(group.text.c_str()) == nullptr &&
                                                 ::getpwnam(group.text.c_str()) == nullptr)
    return error_at(file, group, "CMD_EXEC_GROUP",
                    "no group (or user) '" + printable(group.text) + "' on this system");
  // CMD_SUDO_EXEC_USER too (sudo is given the name; fwknopd looks the user up at load).
  for (const raw_value* user : {&r.cmd_exec_user, &r.cmd_sudo_exec_user})
    if (user->is_set() && ::getpwnam(user->text.c_str()) == nullptr)
      return error_at(file, *user,
                      user == &r.cmd_exec_user ? "CMD_EXEC_USER" : "CMD_SUDO_EXEC_USER",
                      "no user '" + printable(user->text) + "' on this system");
  if (auto ok = refuse_unsupported(file, r); !ok) return fail(ok.error());
  auto nat = stanza_nat(file, r, options.nat);
  if (!nat) return fail(nat.error());
  s.nat = *nat;
  return s;
}

}  // namespace detail

}  // namespace knock::config
