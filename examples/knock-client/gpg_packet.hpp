// SPDX-License-Identifier: MIT
#pragma once
// knock-client's GnuPG packets: the message encrypted to the server's key (--gpg-recipient-key)
// and signed with the client's (--gpg-signer-key), through gpgme, with an HMAC on top when one is
// asked for; the key set up as fwknop's client does (a signing passphrase from GPG_SIGNING_PW, a
// prompt, gpg-agent, or none with --gpg-no-signing-pw).

#include "command_line.hpp"
#include "files.hpp"
#include "gpg.hpp"
#include "keys.hpp"
#include "report.hpp"
#include "settings.hpp"

#include <knock/cipher/gnupg.hpp>
#include <knock/client.hpp>
#include <knock/client/send.hpp>

#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace knock_client {

using gpg_client = knock::client<knock::cipher::gnupg, knock::mac::any_hmac>;

/// The client that makes `s`'s GnuPG packets, or why there is none.
/// `passphrase` gets the signing passphrase (fwknop's --test decrypts with it too).
inline result<gpg_client, std::string> make_gpg_client(const settings& s,
                                                       std::optional<int> input_fd,
                                                       knock::secret_bytes& passphrase) {
  const gpg_settings& g = s.gpg;
  if (g.recipient.empty())
    return knock::fail(
        std::string{"GnuPG mode needs the server's key: --gpg-recipient-key ID (GPG_RECIPIENT)"});
  knock::cipher::gnupg_settings k;
  k.home_dir = g.home_dir;
  k.exe = g.exe;
  k.key_id = g.recipient;
  k.signer = g.signer;
  k.use_agent = g.agent;
  k.no_passphrase = g.no_signing_pw;
  if (!g.signer.empty() && !g.agent && !g.no_signing_pw) {
    if (g.has_signing_pw) {
      k.passphrase = knock::secret_bytes{std::string_view{g.signing_pw}};
    } else {  // as fwknop: the key options (-G, --key-rijndael, …), a prompt, --stdin / --fd
      auto pw = load_key(s.key, s.server, input_fd,
                         "Enter passphrase for signing: ", "GnuPG signing passphrase");
      if (!pw) return knock::fail(pw.error());
      k.passphrase = *std::move(pw);
    }
  }
  passphrase = k.passphrase.clone();
  auto keyring = knock::cipher::gnupg_keyring::open_for_encrypt(std::move(k));
  if (!keyring) return knock::fail(keyring.error().message);
  std::optional<knock::secret_bytes> hmac;
  if (s.use_hmac) {
    auto key = load_key(s.hmac_key, s.server, input_fd, "Enter HMAC key: ", "HMAC key");
    if (!key) return knock::fail(key.error());
    if (key->empty() || key->size() > max_hmac_key)
      return knock::fail(std::string{"the HMAC key must hold 1 to 128 bytes"});
    hmac = *std::move(key);
  }
  auto c = hmac ? gpg_client::make({}, *std::move(keyring),
                                   knock::to_string(s.hmac_type.value_or(knock::hash_id::sha256)),
                                   hmac->view())
                : gpg_client::make({}, *std::move(keyring));
  if (!c) return knock::fail("cannot set up the GnuPG keys: " + knock::to_string(c.error()));
  return *std::move(c);
}

/// Why a GnuPG packet could not be made, in words.
inline std::string gpg_packet_error(const knock::error& e) {
  if (e.code == knock::errc::crypto_failed)
    return "GnuPG could not encrypt and sign (a wrong signing passphrase, or a key that cannot "
           "sign or encrypt: check --gpg-signer-key / --gpg-recipient-key and the keyring)";
  if (e.code == knock::errc::request_too_long)
    return "the GnuPG packet would be longer than 1500 characters, which fwknopd ignores: use "
           "smaller keys (RSA 2048) or a shorter request";
  return knock::to_string(e);
}

/// Makes, saves (-B) and sends (unless -T) the GnuPG packet for `request`: main's path in GnuPG
/// mode. The exit status (1 after a one-line error on stderr).
inline int run_gpg(const command_line& cl, const settings& s, const knock::request& request,
                   const std::optional<knock::destination>& dest) {
  const auto failure = [](const std::string& what) {
    std::fprintf(stderr, "knock-client: %s\n", what.c_str());
    return 1;
  };
  knock::secret_bytes passphrase;
  auto client = make_gpg_client(s, cl.input_fd, passphrase);
  if (!client) return failure(client.error());
  std::vector<knock::endpoint> addresses;
  if (dest) {
    auto found = knock::resolve(*dest);
    if (!found) return failure(found.error().message);
    addresses = *std::move(found);
  }
  auto packet = client->make_packet(request);
  if (!packet) return failure(gpg_packet_error(packet.error()));
  if (cl.test || s.verbose)  // the client cannot decrypt its own GnuPG packet: no field dump
    std::printf("Encryption Type: GPG\nSPA Data: %s\n", packet->c_str());
  if (!cl.save_packet.empty())
    if (auto ok = save_packet(cl.save_packet, *packet, cl.append); !ok) return failure(ok.error());
  if (cl.test) {  // as fwknop: decrypt it in the client's own GnuPG home, or fail
    knock::cipher::gnupg_settings d;
    d.home_dir = s.gpg.home_dir;
    d.exe = s.gpg.exe;
    d.key_id = s.gpg.recipient;
    d.passphrase = std::move(passphrase);
    d.no_passphrase = d.passphrase.size() == 0;
    d.require_sig = false;
    auto keyring = knock::cipher::gnupg_keyring::open_for_decrypt(std::move(d));
    if (!keyring)
      return failure(
          "the GnuPG packet cannot be decrypted here, as fwknop --test does (no "
          "secret key for the recipient in this GnuPG home?): " +
          keyring.error().message);
    auto decoded = knock::wire::open(*packet, knock::cipher::gnupg{}, *keyring, client->mac());
    if (!decoded)
      return failure(std::string{"the GnuPG packet does not decode: "} +
                     std::string{knock::describe(decoded.error())});
    std::printf("test mode enabled, SPA packet not actually sent.\n");
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  if (s.verbose) print_sending(stdout, *dest);
  auto sent = knock::send_packet(*packet, *dest, addresses);
  if (!sent)
    return failure("sending to '" + values::printable(dest->host) +
                   "' failed: " + sent.error().message);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace knock_client
