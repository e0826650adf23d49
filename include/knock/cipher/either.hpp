// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::cipher::either<Symmetric, Asymmetric>`: a stanza's cipher is Rijndael, GnuPG, or both
/// (fwknopd's stanza with a KEY and a GPG_DECRYPT_PW), and the packet path picks per packet as
/// fwknopd does: by the packet's length (fwknop's 400-character rule, `route`), which also fixes
/// the prefix the HMAC covers and the one restored before decoding, then by the blob's framing
/// (`Salted__` or an OpenPGP message) in `decrypt`. A long packet goes to the symmetric side only
/// when the stanza has no asymmetric key, or lets long packets try AES (ENABLE_CMD_EXEC) and has
/// a symmetric key (fwknopd would then also try GnuPG after a failed AES attempt; knock does not).
///
/// The key is both sides' storage; configuration sets the sides a stanza uses
/// (`set_symmetric_key`, `set_asymmetric_key`). Models knock::cipher_policy and
/// knock::routed_cipher.

#include <knock/cipher/concept.hpp>
#include <knock/cipher/gnupg_settings.hpp>
#include <knock/core/error.hpp>

#include <cstddef>
#include <string_view>
#include <utility>

namespace knock::cipher {

template <class Symmetric, class Asymmetric>
class either {
  static_assert(cipher_policy<Symmetric> && cipher_policy<Asymmetric>,
                "knock::cipher::either: both Ciphers must model knock::cipher_policy "
                "(knock/cipher/concept.hpp)");

 public:
  using role = knock::role::cipher;
  /// ENCRYPTION_MODE names the symmetric side's mode; the asymmetric side is set by its keys.
  static constexpr auto names = Symmetric::names;

  /// Both sides' keys; a side the stanza does not use stays empty.
  struct keys {
    typename Symmetric::key_storage symmetric{};
    typename Asymmetric::key_storage asymmetric{};
    const keys& view() const noexcept { return *this; }
  };
  using key_type = keys;
  using key_storage = keys;
  /// The symmetric side's prefix; per packet, `route` says which applies.
  static constexpr std::string_view wire_prefix = Symmetric::wire_prefix;

  either() = default;
  explicit either(Symmetric s) noexcept : symmetric_{std::move(s)} {}

  static result<either> make(std::string_view name) {
    auto s = Symmetric::make(name);
    if (!s) return fail(s.error());
    return either{*std::move(s)};
  }

  /// The stanza decrypts with `key` on the symmetric side (KEY / KEY_BASE64).
  void set_symmetric_key(keys& k, typename Symmetric::key_storage key) {
    k.symmetric = std::move(key);
    uses_symmetric_ = true;
  }
  /// The stanza decrypts on the asymmetric side with the key `settings` open (GPG_*).
  result<void> set_asymmetric_key(keys& k, gnupg_settings settings) {
    auto opened = Asymmetric::key_storage::open_for_decrypt(std::move(settings));
    if (!opened) return fail(opened.error());
    k.asymmetric = *std::move(opened);
    uses_asymmetric_ = true;
    return {};
  }
  /// The asymmetric side's key still works for the current user (a GnuPG keyring after the
  /// daemon dropped root); nothing to check for a stanza without one.
  result<void> check_asymmetric_key(const keys& k) const {
    if (!uses_asymmetric_) return {};
    return k.asymmetric.probe();
  }
  /// Stops what the asymmetric side's key started for the current user (a gpg-agent).
  void release_asymmetric_agent(const keys& k) const noexcept {
    if (uses_asymmetric_) k.asymmetric.stop_agent();
  }
  bool uses_symmetric() const noexcept { return uses_symmetric_; }
  bool uses_asymmetric() const noexcept { return uses_asymmetric_; }

  std::string_view name() const noexcept {
    return uses_symmetric_ ? symmetric_.name() : Asymmetric::name();
  }

  /// Stanza-independent: what either side might take.
  static constexpr result<void, errc> takes(std::size_t chars, long_packets long_ones) noexcept {
    if (Asymmetric::takes(chars, long_ones)) return {};
    return Symmetric::takes(chars, long_ones);
  }

  /// The side a packet of `chars` base64 characters goes to, as the prefix it was framed with; or
  /// why this stanza takes no such packet.
  result<std::string_view, errc> route(std::size_t chars, long_packets long_ones) const noexcept {
    const auto asymmetric = Asymmetric::takes(chars, long_ones);
    const bool aes_first = uses_symmetric_ && long_ones == long_packets::try_aes;
    if (uses_asymmetric_ && asymmetric && !aes_first) return Asymmetric::wire_prefix;
    if (!uses_symmetric_) return fail(asymmetric ? errc::gnupg_decrypt_failed : asymmetric.error());
    if (auto ok = Symmetric::takes(chars, long_ones); !ok) return fail(ok.error());
    return Symmetric::wire_prefix;
  }

  bool looks_decrypted(std::string_view text) const noexcept {
    return symmetric_.looks_decrypted(text);
  }

  /// By the blob's framing: `Salted__` is the symmetric side's, anything else the asymmetric's.
  result<std::size_t, errc> decrypt(const keys& k, bytes_view blob, bytes_span out) const noexcept {
    static constexpr std::string_view salted = "Salted__";
    const bool symmetric = blob.size() >= salted.size() && as_chars(blob.first(8)) == salted;
    if (symmetric && uses_symmetric_) return symmetric_.decrypt(k.symmetric.view(), blob, out);
    if (!symmetric && uses_asymmetric_) return asymmetric_.decrypt(k.asymmetric.view(), blob, out);
    return fail(errc::decrypt_failed);
  }
  result<std::size_t, errc> encrypt(const keys& k, bytes_view salt, bytes_view text,
                                    bytes_span out) const {
    return symmetric_.encrypt(k.symmetric.view(), salt, text, out);
  }

 private:
  Symmetric symmetric_{};
  [[no_unique_address]] Asymmetric asymmetric_{};
  bool uses_symmetric_ = false;
  bool uses_asymmetric_ = false;
};

}  // namespace knock::cipher
