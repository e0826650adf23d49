// SPDX-License-Identifier: MIT
#pragma once
// knock-client's GnuPG settings (fwknop's asymmetric mode): the .fwknoprc variables USE_GPG,
// USE_GPG_AGENT, GPG_RECIPIENT, GPG_SIGNER, GPG_HOMEDIR, GPG_EXE, GPG_SIGNING_PW(_BASE64) and
// GPG_NO_SIGNING_PW, which the --gpg-* options set too (command_line.hpp). No gpgme here: the
// packet is made in gpg_packet.hpp.

#include <knock/codec/base64.hpp>
#include <knock/core/bytes.hpp>
#include <knock/core/result.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace knock_client {

/// What a GnuPG packet is made with.
struct gpg_settings {
  bool use = false;    ///< USE_GPG, --gpg-encryption (and any --gpg-* option), -M asymmetric
  bool agent = false;  ///< USE_GPG_AGENT, --gpg-agent: gpg-agent asks for the passphrase
  bool no_signing_pw = false;  ///< GPG_NO_SIGNING_PW, --gpg-no-signing-pw
  std::string recipient;       ///< GPG_RECIPIENT, --gpg-recipient-key: the server's key
  std::string signer;          ///< GPG_SIGNER, --gpg-signer-key: the client's key
  std::string home_dir;        ///< GPG_HOMEDIR, --gpg-home-dir
  std::string exe;             ///< GPG_EXE, --gpg-exe
  std::string signing_pw;      ///< GPG_SIGNING_PW(_BASE64), decoded; wiped
  bool has_signing_pw = false;

  gpg_settings() = default;
  gpg_settings(const gpg_settings&) = default;
  gpg_settings& operator=(const gpg_settings&) = default;
  ~gpg_settings() { knock::secure_zero(signing_pw.data(), signing_pw.size()); }
};

/// Applies the GnuPG variable `name` = `v`: the value as --save-rc-stanza writes it or why it is
/// refused; nothing when `name` is not a GnuPG variable.
inline std::optional<knock::result<std::string, std::string>> apply_gpg(gpg_settings& g,
                                                                        std::string_view name,
                                                                        std::string_view v) {
  const bool yes = v == "Y" || v == "y";
  const auto flag = [&](bool& target) {
    target = yes;
    return std::string{yes ? "Y" : "N"};
  };
  if (name == "USE_GPG") return flag(g.use);
  if (name == "USE_GPG_AGENT") return flag(g.agent);
  if (name == "GPG_NO_SIGNING_PW") return flag(g.no_signing_pw);
  for (auto [variable, target] : {std::pair{"GPG_RECIPIENT", &g.recipient},
                                  {"GPG_SIGNER", &g.signer},
                                  {"GPG_HOMEDIR", &g.home_dir},
                                  {"GPG_EXE", &g.exe}})
    if (name == variable) {
      *target = v;
      while (target->size() > 1 && target->back() == '/' && target == &g.home_dir)
        target->pop_back();  // as fwknop: no trailing '/'
      return *target;
    }
  if (name == "GPG_SIGNING_PW") {
    knock::secure_zero(g.signing_pw.data(), g.signing_pw.size());
    g.signing_pw = v;
    g.has_signing_pw = true;
    return std::string{v};
  }
  if (name == "GPG_SIGNING_PW_BASE64") {
    std::string raw(knock::codec::base64::decoded_size(v.size()) + 3, '\0');
    const auto n =
        knock::codec::base64::decode_padded(v, reinterpret_cast<knock::byte*>(raw.data()));
    if (!n) return knock::fail(std::string{"is not base64"});
    knock::secure_zero(g.signing_pw.data(), g.signing_pw.size());
    g.signing_pw.assign(raw.data(), *n);
    knock::secure_zero(raw.data(), raw.size());
    g.has_signing_pw = true;
    return std::string{v};
  }
  return std::nullopt;
}

}  // namespace knock_client
