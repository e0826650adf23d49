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
#include <knock/config/access_conf_check.hpp>
#include <knock/config/access_conf_parse.hpp>
#include <knock/config/error.hpp>
#include <knock/config/values.hpp>
#include <knock/core/bytes.hpp>
#include <knock/core/net.hpp>
#include <knock/core/result.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/mac/concept.hpp>
#include <knock/wire/grammar.hpp>

#include <concepts>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace knock::config {

namespace detail {

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
