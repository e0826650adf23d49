// SPDX-License-Identifier: MIT
#pragma once
// Out-of-line bodies of knock/cipher/gnupg.hpp (gpgme). Included at its bottom.

#include <knock/cipher/gnupg.hpp>

#if KNOCK_WITH_GNUPG  // gnupg.hpp includes impl/gnupg_absent.hpp instead otherwise
#include <gpgme.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include <cerrno>

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace knock::cipher {

namespace gnupg_detail {

inline bool hex_digit(char c, unsigned& v) noexcept {
  if (c >= '0' && c <= '9')
    v = static_cast<unsigned>(c - '0');
  else if (c >= 'a' && c <= 'f')
    v = static_cast<unsigned>(c - 'a' + 10);
  else if (c >= 'A' && c <= 'F')
    v = static_cast<unsigned>(c - 'A' + 10);
  else
    return false;
  return true;
}

/// A 16-hex-digit key id (gpgme's `subkey->keyid`) as bytes.
inline bool parse_key_id(const char* hex, openpgp::key_id& out) noexcept {
  if (hex == nullptr || std::strlen(hex) != 16) return false;
  for (std::size_t i = 0; i < 8; ++i) {
    unsigned hi = 0, lo = 0;
    if (!hex_digit(hex[2 * i], hi) || !hex_digit(hex[2 * i + 1], lo)) return false;
    out[i] = static_cast<byte>(hi << 4 | lo);
  }
  return true;
}

inline char upper(char c) noexcept { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }

/// fwknopd's signer tests: an id is the end of the signing key's fingerprint (fwknopd takes the
/// last 8 hex digits; a 16-digit long id or the whole fingerprint are taken too, any case, an
/// optional "0x" dropped); a fingerprint is the whole of it.
inline bool id_matches(std::string_view wanted, std::string_view fpr) noexcept {
  if (wanted.starts_with("0x") || wanted.starts_with("0X")) wanted.remove_prefix(2);
  if (wanted.empty() || wanted.size() > fpr.size()) return false;
  const std::string_view tail = fpr.substr(fpr.size() - wanted.size());
  for (std::size_t i = 0; i < wanted.size(); ++i)
    if (upper(wanted[i]) != upper(tail[i])) return false;
  return true;
}
inline bool fingerprint_matches(std::string_view wanted, std::string_view fpr) noexcept {
  return wanted.size() == fpr.size() && id_matches(wanted, fpr);  // spaces removed at start-up
}

inline std::string gpgme_message(gpgme_error_t e) { return gpgme_strerror(e); }

}  // namespace gnupg_detail

struct gnupg_keyring::state {
  gpgme_ctx_t ctx = nullptr;
  gnupg_settings settings;
  std::vector<openpgp::key_id> decrypt_ids;
  gpgme_key_t recipient = nullptr;  // client
  gpgme_key_t signer = nullptr;     // client
  gpgme_key_t trial = nullptr;      // server: the key probe() encrypts to

  ~state() {
    if (trial != nullptr) gpgme_key_unref(trial);
    if (recipient != nullptr) gpgme_key_unref(recipient);
    if (signer != nullptr) gpgme_key_unref(signer);
    if (ctx != nullptr) gpgme_release(ctx);
  }

  // gpgme asks for a passphrase through this (loopback pinentry): the configured one, or an
  // empty line when the key is said to have none.
  static gpgme_error_t passphrase(void* self, const char*, const char*, int, int fd) noexcept {
    const auto* s = static_cast<const state*>(self);
    const secret_view pw = s->settings.passphrase.view();
    if (pw.size() != 0 && gpgme_io_writen(fd, pw.data(), pw.size()) != 0)
      return gpg_error(GPG_ERR_CANCELED);
    return gpgme_io_writen(fd, "\n", 1) == 0 ? 0 : gpg_error(GPG_ERR_CANCELED);
  }

  /// "GPG_HOME_DIR '/x'": where messages point.
  std::string home() const {
    return settings.home_dir.empty() ? std::string{"GnuPG's default home"}
                                     : "GPG_HOME_DIR '" + settings.home_dir + "'";
  }
  error problem(std::string what) const {
    std::string m = settings.where;
    if (!m.empty()) m += ": ";
    m += what;
    return error{errc::config_invalid, std::move(m)};
  }

  // A context on the home and engine of `settings`.
  static result<std::unique_ptr<state, state_deleter>> make(gnupg_settings settings) {
    std::unique_ptr<state, state_deleter> s{new state};
    s->settings = std::move(settings);
    const auto& set = s->settings;
    if (!set.home_dir.empty()) {
      struct stat st {};
      if (::stat(set.home_dir.c_str(), &st) != 0)
        return fail(s->problem(s->home() + ": " + std::strerror(errno) +
                               " (create it with gpg --homedir, or point GPG_HOME_DIR at the "
                               "keyring holding the keys)"));
      if (!S_ISDIR(st.st_mode)) return fail(s->problem(s->home() + " is not a directory"));
      if (::access(set.home_dir.c_str(), R_OK | X_OK) != 0)
        return fail(s->problem(s->home() + ": " + std::strerror(errno) +
                               " (the keyring must be readable by the user knock runs as)"));
    }
    if (!set.exe.empty() && ::access(set.exe.c_str(), X_OK) != 0)
      return fail(s->problem("GPG_EXE '" + set.exe + "': " + std::strerror(errno)));
    gpgme_check_version(nullptr);
    if (auto e = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP); e != 0)
      return fail(s->problem("GnuPG engine: " + gnupg_detail::gpgme_message(e)));
    if (auto e = gpgme_new(&s->ctx); e != 0)
      return fail(s->problem("gpgme: " + gnupg_detail::gpgme_message(e)));
    if (auto e = gpgme_ctx_set_engine_info(s->ctx, GPGME_PROTOCOL_OpenPGP,
                                           set.exe.empty() ? nullptr : set.exe.c_str(),
                                           set.home_dir.empty() ? nullptr : set.home_dir.c_str());
        e != 0)
      return fail(s->problem("gpgme engine: " + gnupg_detail::gpgme_message(e)));
    gpgme_set_protocol(s->ctx, GPGME_PROTOCOL_OpenPGP);
    gpgme_set_armor(s->ctx, 0);
    if (!set.use_agent) {
      gpgme_set_pinentry_mode(s->ctx, GPGME_PINENTRY_MODE_LOOPBACK);
      gpgme_set_passphrase_cb(s->ctx, &state::passphrase, s.get());
    }
    return s;
  }
};

inline void gnupg_keyring::state_deleter::operator()(state* s) const noexcept { delete s; }

inline const gnupg_settings& gnupg_keyring::settings() const noexcept { return state_->settings; }
inline const std::vector<openpgp::key_id>& gnupg_keyring::decrypt_ids() const noexcept {
  return state_->decrypt_ids;
}

inline result<gnupg_keyring> gnupg_keyring::open_for_decrypt(gnupg_settings settings) {
  auto made = state::make(std::move(settings));
  if (!made) return fail(made.error());
  gnupg_keyring k;
  k.state_ = *std::move(made);
  state& s = *k.state_;
  for (std::string& f : s.settings.fingerprints)  // "ABCD 1234 …" as gpg prints them
    f.erase(std::remove(f.begin(), f.end(), ' '), f.end());
  const std::string& id = s.settings.key_id;
  // The decrypting subkeys of the secret key(s) GPG_DECRYPT_ID names (a comma list, as fwknop's
  // own tests write it; a listed id without a secret key here is skipped), or of every secret
  // key: what a packet's header must name.
  gpgme_key_t trial = nullptr;
  std::vector<std::string> patterns;
  for (std::string_view rest = id;;) {
    const std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) patterns.emplace_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (patterns.empty()) patterns.emplace_back();  // every secret key
  for (const std::string& pattern : patterns) {
    if (auto e = gpgme_op_keylist_start(s.ctx, pattern.empty() ? nullptr : pattern.c_str(), 1);
        e != 0)
      return fail(s.problem(s.home() + ": cannot list keys: " + gnupg_detail::gpgme_message(e)));
    for (gpgme_key_t key = nullptr; gpgme_op_keylist_next(s.ctx, &key) == 0;) {
      for (gpgme_subkey_t sub = key->subkeys; sub != nullptr; sub = sub->next) {
        openpgp::key_id kid;
        if (sub->can_encrypt && sub->secret && !sub->revoked && !sub->expired && !sub->disabled &&
            gnupg_detail::parse_key_id(sub->keyid, kid))
          s.decrypt_ids.push_back(kid);
      }
      if (trial == nullptr && !s.decrypt_ids.empty())
        trial = key;
      else
        gpgme_key_unref(key);
    }
    gpgme_op_keylist_end(s.ctx);
  }
  const std::string fix =
      " (import it: gpg --homedir " +
      (s.settings.home_dir.empty() ? std::string{"HOME"} : s.settings.home_dir) +
      " --import KEYFILE; list them: gpg --homedir ... -K)";
  if (s.decrypt_ids.empty())
    return fail(s.problem(id.empty() ? s.home() + " holds no secret key that can decrypt" + fix
                                     : "GPG_DECRYPT_ID '" + id + "': no secret key that can " +
                                           "decrypt with that id in " + s.home() + fix));

  s.trial = trial;  // kept for probe()
  if (auto ok = k.probe(); !ok) return fail(ok.error());
  return k;
}

inline void gnupg_keyring::stop_agent() const noexcept {
  if (!state_ || state_->settings.home_dir.empty()) return;
  const char* gpgconf = gpgme_get_dirinfo("gpgconf-name");
  if (gpgconf == nullptr) return;
  const std::string home = state_->settings.home_dir;
  char* const argv[] = {const_cast<char*>(gpgconf),      const_cast<char*>("--homedir"),
                        const_cast<char*>(home.c_str()), const_cast<char*>("--kill"),
                        const_cast<char*>("gpg-agent"),  nullptr};
  pid_t pid = 0;
  if (::posix_spawn(&pid, gpgconf, nullptr, nullptr, argv, environ) == 0) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

inline result<void> gnupg_keyring::probe() const {
  if (!state_ || state_->trial == nullptr) return {};
  const state& s = *state_;
  // A trial message to the key, decrypted as packets will be: a missing or wrong passphrase, a
  // keyring or gpg-agent the current user cannot use, shows here.
  static constexpr std::string_view text = "knock start-up check";
  gpgme_data_t plain = nullptr, sealed = nullptr, opened = nullptr;
  gpgme_key_t to[2] = {s.trial, nullptr};
  gpgme_error_t e = gpgme_data_new_from_mem(&plain, text.data(), text.size(), 0);
  if (e == 0) e = gpgme_data_new(&sealed);
  if (e == 0) e = gpgme_op_encrypt(s.ctx, to, GPGME_ENCRYPT_ALWAYS_TRUST, plain, sealed);
  std::string failed_step = "encrypting a trial message to it";
  if (e == 0) {
    gpgme_data_seek(sealed, 0, SEEK_SET);
    e = gpgme_data_new(&opened);
    if (e == 0) e = gpgme_op_decrypt(s.ctx, sealed, opened);
    failed_step = "decrypting a trial message";
  }
  for (gpgme_data_t d : {plain, sealed, opened})
    if (d != nullptr) gpgme_data_release(d);
  if (e == 0) return {};
  const std::string key_name =
      std::string{"key "} + (s.trial->subkeys ? s.trial->subkeys->keyid : "?");
  const auto code = gpg_err_code(e);
  if (code == GPG_ERR_BAD_PASSPHRASE || code == GPG_ERR_NO_PASSPHRASE || code == GPG_ERR_CANCELED ||
      code == GPG_ERR_NO_PIN || code == GPG_ERR_BAD_PIN)
    return fail(s.problem(key_name + " in " + s.home() +
                          (s.settings.passphrase.size() == 0
                               ? " needs a passphrase: set GPG_DECRYPT_PW, or remove the key's "
                                 "passphrase (gpg --passwd) and keep GPG_ALLOW_NO_PW"
                               : ": GPG_DECRYPT_PW is not its passphrase") +
                          " (" + gnupg_detail::gpgme_message(e) + ")"));
  return fail(s.problem(key_name + " in " + s.home() + ": " + failed_step +
                        " failed: " + gnupg_detail::gpgme_message(e)));
}

inline result<gnupg_keyring> gnupg_keyring::open_for_encrypt(gnupg_settings settings) {
  auto made = state::make(std::move(settings));
  if (!made) return fail(made.error());
  gnupg_keyring k;
  k.state_ = *std::move(made);
  state& s = *k.state_;
  if (s.settings.key_id.empty())
    return fail(s.problem("no GnuPG recipient key: set --gpg-recipient-key (GPG_RECIPIENT)"));
  if (auto e = gpgme_get_key(s.ctx, s.settings.key_id.c_str(), &s.recipient, 0); e != 0)
    return fail(s.problem("GnuPG recipient key '" + s.settings.key_id + "' is not in " + s.home() +
                          ": " + gnupg_detail::gpgme_message(e) +
                          " (import the server's public key: gpg --import)"));
  if (!s.settings.signer.empty()) {
    if (auto e = gpgme_get_key(s.ctx, s.settings.signer.c_str(), &s.signer, 1); e != 0)
      return fail(s.problem("GnuPG signer key '" + s.settings.signer + "': no such secret key in " +
                            s.home() + ": " + gnupg_detail::gpgme_message(e)));
    gpgme_signers_clear(s.ctx);
    if (auto e = gpgme_signers_add(s.ctx, s.signer); e != 0)
      return fail(s.problem("GnuPG signer key '" + s.settings.signer +
                            "': " + gnupg_detail::gpgme_message(e)));
  }
  return k;
}

inline result<std::size_t, errc> gnupg_keyring::decrypt(bytes_view blob,
                                                        bytes_span out) const noexcept {
  if (!state_) return fail(errc::gnupg_decrypt_failed);
  const state& s = *state_;
  // The header first: a packet for another key costs no private-key work.
  const auto recipients = openpgp::read_recipients(blob);
  if (!recipients) return fail(recipients.error());
  if (std::none_of(s.decrypt_ids.begin(), s.decrypt_ids.end(),
                   [&](const openpgp::key_id& id) { return recipients->may_be_for(id); }))
    return fail(errc::gnupg_wrong_recipient);

  gpgme_data_t in = nullptr, plain = nullptr;
  if (gpgme_data_new_from_mem(&in, reinterpret_cast<const char*>(blob.data()), blob.size(), 0) != 0)
    return fail(errc::crypto_failed);
  if (gpgme_data_new(&plain) != 0) {
    gpgme_data_release(in);
    return fail(errc::crypto_failed);
  }
  const gpgme_error_t e = gpgme_op_decrypt_verify(s.ctx, in, plain);
  gpgme_data_release(in);
  const auto refuse = [&](errc why) -> result<std::size_t, errc> {
    std::size_t n = 0;
    char* text = gpgme_data_release_and_get_mem(plain, &n);
    if (text != nullptr) {
      secure_zero(text, n);
      gpgme_free(text);
    }
    return fail(why);
  };
  if (e != 0) return refuse(errc::gnupg_decrypt_failed);
  const gpgme_decrypt_result_t decrypted = gpgme_op_decrypt_result(s.ctx);
  if (decrypted == nullptr || decrypted->unsupported_algorithm)
    return refuse(errc::gnupg_decrypt_failed);
  if (s.settings.require_sig) {  // fwknopd checks nothing of the signature otherwise
    const gpgme_verify_result_t verified = gpgme_op_verify_result(s.ctx);
    const gpgme_signature_t sig = verified != nullptr ? verified->signatures : nullptr;
    if (sig == nullptr || sig->fpr == nullptr) return refuse(errc::gnupg_unsigned);
    if (!s.settings.ignore_sig_error &&
        (gpg_err_code(sig->status) != GPG_ERR_NO_ERROR || sig->validity < GPGME_VALIDITY_MARGINAL))
      return refuse(errc::gnupg_bad_signature);
    const std::string_view fpr = sig->fpr;
    const auto listed = [&](const std::vector<std::string>& list, auto matches) {
      return std::any_of(list.begin(), list.end(),
                         [&](const std::string& want) { return matches(want, fpr); });
    };
    if (!s.settings.fingerprints.empty() &&
        !listed(s.settings.fingerprints, gnupg_detail::fingerprint_matches))
      return refuse(errc::gnupg_signer_not_allowed);
    if (!s.settings.remote_ids.empty() && !listed(s.settings.remote_ids, gnupg_detail::id_matches))
      return refuse(errc::gnupg_signer_not_allowed);
  }
  std::size_t n = 0;
  char* text = gpgme_data_release_and_get_mem(plain, &n);
  if (text == nullptr) return fail(errc::gnupg_decrypt_failed);
  const bool fits = n <= out.size();
  if (fits) std::memcpy(out.data(), text, n);
  secure_zero(text, n);
  gpgme_free(text);
  if (!fits) return fail(errc::bad_plaintext_length);
  return n;
}

inline result<std::size_t, errc> gnupg_keyring::encrypt(bytes_view text,
                                                        bytes_span out) const noexcept {
  if (!state_ || state_->recipient == nullptr) return fail(errc::invalid_request);
  const state& s = *state_;
  gpgme_data_t plain = nullptr, sealed = nullptr;
  if (gpgme_data_new_from_mem(&plain, reinterpret_cast<const char*>(text.data()), text.size(), 0) !=
      0)
    return fail(errc::crypto_failed);
  if (gpgme_data_new(&sealed) != 0) {
    gpgme_data_release(plain);
    return fail(errc::crypto_failed);
  }
  gpgme_key_t to[2] = {s.recipient, nullptr};
  const gpgme_error_t e =
      s.signer != nullptr
          ? gpgme_op_encrypt_sign(s.ctx, to, GPGME_ENCRYPT_ALWAYS_TRUST, plain, sealed)
          : gpgme_op_encrypt(s.ctx, to, GPGME_ENCRYPT_ALWAYS_TRUST, plain, sealed);
  gpgme_data_release(plain);
  std::size_t n = 0;
  char* blob = gpgme_data_release_and_get_mem(sealed, &n);
  if (e != 0 || blob == nullptr) {
    if (blob != nullptr) gpgme_free(blob);
    return fail(errc::crypto_failed);
  }
  const bool fits = n <= out.size();
  if (fits) std::memcpy(out.data(), blob, n);
  gpgme_free(blob);
  if (!fits) return fail(errc::request_too_long);
  return n;
}

}  // namespace knock::cipher
#endif  // KNOCK_WITH_GNUPG
