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
#include <knock/cipher/gnupg_settings.hpp>
#include <knock/config/access_conf_parse.hpp>
#include <knock/config/error.hpp>
#include <knock/config/values.hpp>
#include <knock/core/bytes.hpp>
#include <knock/core/net.hpp>
#include <knock/core/result.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/mac/concept.hpp>
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
#include <tuple>
#include <type_traits>
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

/// A Cipher that may hold a stanza's Rijndael key, its GnuPG key, or both
/// (knock/cipher/either.hpp).
template <class Cipher>
concept two_sided_cipher = requires(Cipher& c, typename Cipher::key_storage& k, secret_bytes key,
                                    cipher::gnupg_settings g) {
  c.set_symmetric_key(k, std::move(key));
  { c.set_asymmetric_key(k, std::move(g)) } -> std::same_as<result<void>>;
};

/// Gives the stanza its keys; a GnuPG key is opened here, once (the keyring, the key, the
/// passphrase), and an error says the file, the stanza and what to do.
template <class Cipher, class Mac>
result<void, config_error> bind_keys(access::stanza<Cipher, Mac>& s, checked_stanza& checked,
                                     const raw_stanza& r, std::string_view file) {
  const raw_value& gpg_at =
      r.gnupg.gpg_decrypt_pw.is_set() ? r.gnupg.gpg_decrypt_pw : r.gnupg.gpg_allow_no_pw;
  const char* gpg_name = r.gnupg.gpg_decrypt_pw.is_set() ? "GPG_DECRYPT_PW" : "GPG_ALLOW_NO_PW";
  if constexpr (two_sided_cipher<Cipher>) {
    if (checked.has_key) s.cipher.set_symmetric_key(s.key, std::move(checked.key));
    if (checked.gnupg) {
      auto where = checked.gnupg->where;
      if (auto ok = s.cipher.set_asymmetric_key(s.key, std::move(*checked.gnupg)); !ok) {
        std::string why = ok.error().message;
        if (why.starts_with(where + ": ")) why.erase(0, where.size() + 2);
        return error_at(file, gpg_at, gpg_name,
                        "GnuPG key of stanza SOURCE " + printable(r.source.text) + ": " + why);
      }
    }
  } else if constexpr (std::is_same_v<typename Cipher::key_storage, secret_bytes>) {
    if (checked.gnupg)
      return error_at(file, gpg_at, gpg_name,
                      "this program is built without GnuPG (its Cipher set has no asymmetric "
                      "side): use Rijndael keys with an HMAC");
    s.key = std::move(checked.key);
  } else {
    static_assert(two_sided_cipher<Cipher>,
                  "knock::config: the Cipher's key_storage is neither secret_bytes nor two-sided");
  }
  return {};
}

/// One raw stanza → an `access::stanza`, or the first thing wrong with it.
template <class Cipher, class Mac>
result<access::stanza<Cipher, Mac>, config_error> bind_stanza(const raw_stanza& r,
                                                              std::string_view file,
                                                              const bind_options& options) {
  auto checked = check_stanza(r, file, options);
  if (!checked) return fail(checked.error());
  access::stanza<Cipher, Mac> s;
  s.file = r.source.file.empty() ? std::string{file} : r.source.file;
  s.line = r.source.line;
  s.sources = std::move(checked->sources);
  s.destinations = std::move(checked->destinations);
  s.open_ports = checked->open_ports;
  s.restrict_ports = checked->restrict_ports;
  s.fw_access_timeout = checked->fw_access_timeout;
  s.max_fw_timeout = checked->max_fw_timeout;
  s.require_username = r.require_username.text;
  s.require_source_address = checked->require_source_address;
  s.access_expire = checked->access_expire;
  s.enable_cmd_exec = checked->enable_cmd_exec;
  s.cmd_exec_user = r.cmd_exec_user.text;
  s.cmd_exec_group = r.cmd_exec_group.text;
  s.enable_cmd_sudo_exec = checked->enable_cmd_sudo_exec;
  s.cmd_sudo_exec_user = r.cmd_sudo_exec_user.text;
  s.cmd_sudo_exec_group = r.cmd_sudo_exec_group.text;
  s.cmd_cycle_open = r.cmd_cycle_open.text;
  s.cmd_cycle_close = r.cmd_cycle_close.text;
  s.nat = checked->nat;
  if (r.cmd_cycle_timer.is_set())
    s.cmd_cycle_timer = static_cast<std::uint32_t>(std::stoul(r.cmd_cycle_timer.text));  // checked

  if (r.encryption_mode.is_set()) {  // else the set's first Cipher: CBC for fwknop's modes
    auto cipher = Cipher::make(r.encryption_mode.text);
    if (!cipher)
      return error_at(file, r.encryption_mode, "ENCRYPTION_MODE",
                      "unknown value '" + printable(r.encryption_mode.text) +
                          "' (built with: " + joined(Cipher::names) + ")");
    s.cipher = *std::move(cipher);
  }
  if (auto ok = bind_keys(s, *checked, r, file); !ok) return fail(ok.error());
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
    const std::vector<raw_stanza>& raw, std::string_view file_name,
    const bind_options& options = {}) {
  static_assert(cipher_policy<Cipher>,
                "knock::config::bind_access_conf: Cipher must model knock::cipher_policy "
                "(knock/cipher/concept.hpp)");
  static_assert(mac_policy<Mac>,
                "knock::config::bind_access_conf: Mac must model knock::mac_policy "
                "(knock/mac/concept.hpp)");
  std::vector<access::stanza<Cipher, Mac>> out;
  out.reserve(raw.size());
  for (const raw_stanza& r : raw) {
    auto s = detail::bind_stanza<Cipher, Mac>(r, file_name, options);
    // Keys read from an %include_keys file (their values name that file) may be left out.
    const bool included_keys = !r.key.file.empty() || !r.key_base64.file.empty() ||
                               !r.hmac_key.file.empty() || !r.hmac_key_base64.file.empty();
    if (!s && (options.skipped == nullptr || !included_keys)) return fail(s.error());
    if (!s) {
      options.skipped->push_back(s.error());
      continue;
    }
    out.push_back(*std::move(s));
  }
  if (out.empty() && !raw.empty())  // lenient, and nothing was whole
    return fail(config_error{std::string{file_name}, 0, "",
                             "no valid stanza: every stanza has an error (the first: " +
                                 to_string(options.skipped->front()) + ")"});
  return out;
}

/// The file system as `parse_access_conf` reaches it for `%include`, `%include_folder` and
/// `%include_keys`: files of at most 1 MiB; a folder's `*.conf` files in name order.
inline include_access file_system() {
  return {
      [](const std::string& path) { return detail::read_config_file(path); },
      [](const std::string& dir) -> result<std::vector<std::string>, config_error> {
        std::error_code ec;
        std::vector<std::string> out;
        for (auto it = std::filesystem::directory_iterator{dir, ec};
             !ec && it != std::filesystem::directory_iterator{}; it.increment(ec))
          if (it->path().extension() == ".conf") out.push_back(it->path().string());
        if (ec)
          return fail(config_error{dir, 0, "", "cannot list: " + ec.message(), errc::io_failed});
        std::sort(out.begin(), out.end());
        return out;
      }};
}

/// Reads, parses and binds the access.conf at `path` (see `bind_access_conf`), following its
/// includes; errors name the file they are in. The file and its includes are read through `files`
/// (by default the file system; knock-server's worker passes what its configuration reader read).
/// The text read is wiped before returning.
template <class Cipher = cipher::any_rijndael, class Mac = mac::any_hmac>
result<std::vector<access::stanza<Cipher, Mac>>, config_error> load_access_conf(
    const std::string& path, const bind_options& options = {},
    const include_access& files = file_system()) {
  auto text = files.read(path);
  if (!text) return fail(text.error());
  auto raw = parse_access_conf(*text, path, &files, options.skipped);
  secure_zero(text->data(), text->size());
  if (!raw) return fail(raw.error());
  return bind_access_conf<Cipher, Mac>(*raw, path, options);
}

/// fwknopd's `--access-folder`: every `*.conf` file in `dir`, in name order, as one access
/// configuration (each may `%include` more), reached through `files`. Errors name the file they
/// are in.
template <class Cipher = cipher::any_rijndael, class Mac = mac::any_hmac>
result<std::vector<access::stanza<Cipher, Mac>>, config_error> load_access_folder(
    const std::string& dir, const bind_options& options = {},
    const include_access& files = file_system()) {
  const std::string text = "%include_folder " + dir + "\n";  // the folder as a one-line file
  auto raw = parse_access_conf(text, dir, &files, options.skipped);
  if (!raw) return fail(raw.error());
  return bind_access_conf<Cipher, Mac>(*raw, dir, options);
}

}  // namespace knock::config
