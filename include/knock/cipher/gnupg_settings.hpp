// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::cipher::gnupg_settings`: what a GnuPG key is made from — a keyring home, key ids, a
/// passphrase and the signature rules — as access.conf (`GPG_*`) and the client's options say it.
/// Plain data without gpgme, so configuration code can fill it in any translation unit;
/// knock/cipher/gnupg.hpp opens it.

#include <knock/core/bytes.hpp>

#include <string>
#include <vector>

namespace knock::cipher {

/// The settings of one GnuPG key set (a server stanza's, or a client's).
struct gnupg_settings {
  std::string home_dir;  ///< GPG_HOME_DIR / --gpg-home-dir (empty: GnuPG's default)
  std::string exe;       ///< GPG_EXE / --gpg-exe (empty: gpgme's default gpg)
  /// Server: GPG_DECRYPT_ID, the key packets must be encrypted to (empty: any secret key in the
  /// keyring). Client: the recipient (GPG_RECIPIENT / --gpg-recipient-key).
  std::string key_id;
  std::string signer;             ///< client: GPG_SIGNER / --gpg-signer-key (empty: no signature)
  secret_bytes passphrase;        ///< GPG_DECRYPT_PW / GPG_SIGNING_PW
  bool no_passphrase = false;     ///< GPG_ALLOW_NO_PW / --gpg-no-signing-pw: the key has none
  bool use_agent = false;         ///< client: --gpg-agent (gpg-agent asks for the passphrase)
  bool require_sig = true;        ///< GPG_REQUIRE_SIG (fwknopd's default once GnuPG is on)
  bool ignore_sig_error = false;  ///< GPG_IGNORE_SIG_VERIFY_ERROR
  std::vector<std::string> remote_ids;    ///< GPG_REMOTE_ID: signer key ids allowed
  std::vector<std::string> fingerprints;  ///< GPG_FINGERPRINT_ID: signer fingerprints allowed
  std::string where;  ///< for messages: "access.conf:12 (stanza SOURCE 10.0.0.0/8)"
};

}  // namespace knock::cipher
