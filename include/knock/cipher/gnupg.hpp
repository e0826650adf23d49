// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::cipher::gnupg`: fwknop's asymmetric mode. The SPA message is encrypted to the server's
/// OpenPGP key and signed with the client's, by GnuPG through gpgme; the blob is a binary OpenPGP
/// message whose base64 starts with `hQ` (an old-format public-key encrypted session key packet
/// header), which fwknop strips from the wire. Models knock::cipher_policy.
///
/// The key is a `gnupg_keyring`, opened once at start-up (`open_for_decrypt` /
/// `open_for_encrypt`): the home, the key ids of the secret keys that may decrypt, the signature
/// rules; opening checks the keyring, the key and its passphrase with a trial decryption, so a
/// wrong setup stops start-up, not a packet. Per packet, `decrypt` first reads the recipient key id
/// from the OpenPGP header (knock/cipher/openpgp.hpp) and refuses a packet for another key without
/// any private-key work; only then does GnuPG decrypt and verify. Unlike Rijndael, this allocates
/// (gpgme) and runs the gpg engine: a GnuPG packet costs an RSA decryption and a signature check.
/// One keyring is one gpgme context: not for concurrent use.
///
/// A build without gpgme (CMake `-DKNOCK_WITH_GNUPG=OFF`, which defines `KNOCK_WITH_GNUPG=0`;
/// fwknop's `--without-gpgme`, for firmware that has no GnuPG) keeps this interface: every keyring
/// then fails to open with a message saying so (impl/gnupg_absent.hpp).

#include <knock/cipher/concept.hpp>
#include <knock/cipher/gnupg_settings.hpp>
#include <knock/cipher/openpgp.hpp>
#include <knock/core/error.hpp>

#ifndef KNOCK_WITH_GNUPG
#define KNOCK_WITH_GNUPG 1
#endif

#include <array>
#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

namespace knock::cipher {

/// An opened GnuPG key set: a gpgme context on a keyring home, with its settings. Move-only.
class gnupg_keyring {
 public:
  /// A server stanza's keys: checks the home, finds the secret key(s) (`key_id` or any), and
  /// decrypts a trial message with the passphrase. Errors say what to fix.
  static result<gnupg_keyring> open_for_decrypt(gnupg_settings settings);
  /// A client's keys: the recipient's public key and (unless `signer` is empty) the signer's
  /// secret key.
  static result<gnupg_keyring> open_for_encrypt(gnupg_settings settings);

  gnupg_keyring() = default;
  gnupg_keyring(gnupg_keyring&&) noexcept = default;
  gnupg_keyring& operator=(gnupg_keyring&&) noexcept = default;

  const gnupg_keyring& view() const noexcept { return *this; }
  explicit operator bool() const noexcept { return state_ != nullptr; }
  const gnupg_settings& settings() const noexcept;
  /// The key ids packets may be encrypted to (the decrypting subkeys of the secret keys).
  const std::vector<openpgp::key_id>& decrypt_ids() const noexcept;

  /// Decrypts a trial message to the decrypt key as the current user: what `open_for_decrypt`
  /// checks, again (after the daemon has changed user, say). Errors say what to fix.
  result<void> probe() const;
  /// Stops the gpg-agent of the keyring's home (`gpgconf --kill gpg-agent`), which the current
  /// user started by opening it: the account the daemon becomes then starts its own.
  void stop_agent() const noexcept;
  /// Decrypts and verifies `blob` into `out`; see knock::cipher::gnupg::decrypt.
  result<std::size_t, errc> decrypt(bytes_view blob, bytes_span out) const noexcept;
  /// Encrypts (and signs) `text` into `out`.
  result<std::size_t, errc> encrypt(bytes_view text, bytes_span out) const noexcept;

 private:
  struct state;
  struct state_deleter {
    void operator()(state* s) const noexcept;
  };
  std::unique_ptr<state, state_deleter> state_;
};

/// fwknop's GnuPG (asymmetric) cipher. Models knock::cipher_policy.
struct gnupg {
  using role = knock::role::cipher;
  static constexpr std::array<std::string_view, 1> names{"asymmetric"};
  using key_type = gnupg_keyring;
  using key_storage = gnupg_keyring;
  /// base64 of 0x85 0x0…: the header of a session key packet with a two-byte length.
  static constexpr std::string_view wire_prefix = "hQ";

  static constexpr std::string_view name() noexcept { return names[0]; }

  /// GnuPG data is 400 base64 characters or more (fwknop's MIN_GNUPG_MSG_SIZE); shorter is
  /// Rijndael data to fwknop: `errc::too_short_for_gnupg`.
  static constexpr result<void, errc> takes(std::size_t chars, long_packets) noexcept {
    if (chars < gnupg_threshold) return fail(errc::too_short_for_gnupg);
    return {};
  }
  static result<gnupg> make(std::string_view name) noexcept {
    if (name.size() != names[0].size()) return fail(errc::config_invalid);
    for (std::size_t i = 0; i < name.size(); ++i)
      if ((name[i] | 0x20) != names[0][i]) return fail(errc::config_invalid);
    return gnupg{};
  }
  /// fwknop's right-key test, as for Rijndael: 16 digits and ':'.
  static constexpr bool looks_decrypted(std::string_view text) noexcept {
    if (text.size() <= 16 || text[16] != ':') return false;
    for (std::size_t i = 0; i < 16; ++i)
      if (text[i] < '0' || text[i] > '9') return false;
    return true;
  }

  /// Refuses a blob not encrypted to one of `key`'s decrypt ids (`gnupg_wrong_recipient`, read
  /// from the header: no private-key work) or not an OpenPGP message (`bad_openpgp`); then
  /// decrypts (`gnupg_decrypt_failed`) and, when the stanza requires a signature, checks it
  /// (`gnupg_unsigned`, `gnupg_bad_signature`, `gnupg_signer_not_allowed`) as fwknopd does.
  result<std::size_t, errc> decrypt(const gnupg_keyring& key, bytes_view blob,
                                    bytes_span out) const noexcept {
    return key.decrypt(blob, out);
  }
  /// Encrypts `text` to the recipient and signs it with the signer; the salt is not used.
  result<std::size_t, errc> encrypt(const gnupg_keyring& key, bytes_view /*salt*/, bytes_view text,
                                    bytes_span out) const {
    return key.encrypt(text, out);
  }
};

static_assert(cipher_policy<gnupg>);

}  // namespace knock::cipher

#if KNOCK_WITH_GNUPG
#include <knock/cipher/impl/gnupg.hpp>
#else
#include <knock/cipher/impl/gnupg_absent.hpp>
#endif
