// SPDX-License-Identifier: MIT
#pragma once
// knock/cipher/gnupg.hpp's bodies for a build without gpgme (KNOCK_WITH_GNUPG=0, CMake option
// KNOCK_WITH_GNUPG=OFF; fwknop's `--without-gpgme`): an appliance's firmware that has no GnuPG.
// Every keyring fails to open with a message saying so, so a GnuPG stanza is refused at start-up
// (file:line) and no packet ever reaches decrypt(); Rijndael stanzas work as in any other build.

#include <knock/cipher/gnupg.hpp>

#include <string>
#include <utility>

#if !KNOCK_WITH_GNUPG  // gnupg.hpp includes impl/gnupg.hpp instead otherwise
namespace knock::cipher {

struct gnupg_keyring::state {
  gnupg_settings settings;
  std::vector<openpgp::key_id> decrypt_ids;
};

namespace gnupg_detail {

inline error built_without_gnupg(const gnupg_settings& settings) {
  std::string m = settings.where;
  if (!m.empty()) m += ": ";
  m += "this build of knock has no GnuPG support (built with KNOCK_WITH_GNUPG=OFF); use a "
       "Rijndael key (KEY / KEY_BASE64) or a build with gpgme";
  return error{errc::config_invalid, std::move(m)};
}

}  // namespace gnupg_detail

inline void gnupg_keyring::state_deleter::operator()(state* s) const noexcept { delete s; }

inline const gnupg_settings& gnupg_keyring::settings() const noexcept { return state_->settings; }
inline const std::vector<openpgp::key_id>& gnupg_keyring::decrypt_ids() const noexcept {
  return state_->decrypt_ids;
}

inline result<gnupg_keyring> gnupg_keyring::open_for_decrypt(gnupg_settings settings) {
  return fail(gnupg_detail::built_without_gnupg(settings));
}
inline result<gnupg_keyring> gnupg_keyring::open_for_encrypt(gnupg_settings settings) {
  return fail(gnupg_detail::built_without_gnupg(settings));
}
inline result<void> gnupg_keyring::probe() const {
  return fail(gnupg_detail::built_without_gnupg(gnupg_settings{}));
}
inline void gnupg_keyring::stop_agent() const noexcept {}

// No keyring opens, so no stanza holds one: a packet can only get here through a default-made one.
inline result<std::size_t, errc> gnupg_keyring::decrypt(bytes_view, bytes_span) const noexcept {
  return fail(errc::gnupg_decrypt_failed);
}
inline result<std::size_t, errc> gnupg_keyring::encrypt(bytes_view, bytes_span) const noexcept {
  return fail(errc::invalid_request);
}

}  // namespace knock::cipher
#endif  // !KNOCK_WITH_GNUPG
