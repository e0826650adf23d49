// SPDX-License-Identifier: MIT
// GnuPG (issue #15), only with `knock-bench --gnupg`: fresh RSA-2048 keys (no passphrase) in a
// throw-away GnuPG home made at start-up with gpg, a packet signed by a client key and encrypted
// to the server key, HMAC-SHA256 on top.
//   decode/gnupg/valid/knock          wire::screen + wire::open with the stanza's cipher
//                                     (either<any_rijndael, gnupg>): HMAC, recipient key id from
//                                     the header, gpgme decrypt + verify, signer check, parse
//   decode/gnupg/valid/libfko         what fwknopd does for a GnuPG stanza (handle_gpg_enc):
//                                     fko_new_with_data(NULL key, ASYMMETRIC, HMAC), the GnuPG
//                                     settings, fko_decrypt_spa_data, the signer id, the fields
//   decode/gnupg/bad_hmac/{knock,libfko}         the valid packet with its HMAC under another
//                                                key: refused before any private-key work
//   decode/gnupg/wrong_recipient/{knock,libfko}  no HMAC; a packet encrypted to another key:
//                                     knock refuses it from the header, libfko asks GnuPG
//   decode/gnupg/garbage/knock        no HMAC; 998 random base64 characters: not OpenPGP
// Each valid packet is decoded again and again (no replay store here: the decode path only).
#include "cases.hpp"
#include "corpus.hpp"

#include <knock/cipher/any_of.hpp>
#include <knock/cipher/either.hpp>
#include <knock/cipher/gnupg.hpp>
#include <knock/client.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/wire/packet.hpp>

#if KNOCK_BENCH_LIBFKO
#include <fko.h>
#endif

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>

namespace knock_bench {
namespace {

using namespace knock;
using stanza_cipher = cipher::either<cipher::any_rijndael, cipher::gnupg>;

struct gpg_homes {
  gpg_homes() = default;
  gpg_homes(const gpg_homes&) = delete;
  std::string root, server, client, other, server_fpr, client_fpr, other_fpr;
  ~gpg_homes() {
    if (root.empty()) return;
    for (const std::string* h : {&server, &client, &other})
      (void)std::system(("gpgconf --homedir " + *h + " --kill gpg-agent 2>/dev/null").c_str());
    (void)std::system(("rm -rf " + root).c_str());
  }
};

std::string run(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string make_home(const std::string& root, const std::string& name, std::string& fpr) {
  const std::string h = root + "/" + name;
  const std::string gpg = "gpg --homedir " + h + " --batch --passphrase '' ";
  run("mkdir -m 700 " + h + " && " + gpg + "--quick-gen-key 'knock " + name + "' rsa2048 " +
      "sign,cert never 2>/dev/null");
  fpr = run("gpg --homedir " + h + " --with-colons -K | awk -F: '/^fpr/{print $10; exit}'");
  run(gpg + "--quick-add-key " + fpr + " rsa2048 encr never 2>/dev/null");
  run("gpg --homedir " + h + " --export > " + root + "/" + name + ".pub");
  if (fpr.size() != 40) throw std::runtime_error("knock-bench --gnupg: gpg made no key");
  return h;
}

std::shared_ptr<gpg_homes> make_homes() {
  auto homes = std::make_shared<gpg_homes>();
  char dir[] = "/tmp/knock-bench-gpg.XXXXXX";
  if (::mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp");
  homes->root = dir;
  homes->server = make_home(dir, "server", homes->server_fpr);
  homes->client = make_home(dir, "client", homes->client_fpr);
  homes->other = make_home(dir, "other", homes->other_fpr);
  const std::string r = homes->root;
  run("gpg --homedir " + homes->server + " --batch --import " + r + "/client.pub 2>/dev/null");
  run("gpg --homedir " + homes->client + " --batch --import " + r + "/server.pub " + r +
      "/other.pub 2>/dev/null");
  run("gpg --homedir " + homes->server + " --batch --yes --quick-lsign-key " + homes->client_fpr +
      " >/dev/null 2>&1");
  return homes;
}

std::string gnupg_packet(const gpg_homes& h, const std::string& to, const std::string& hmac) {
  cipher::gnupg_settings s;
  s.home_dir = h.client;
  s.key_id = to;
  s.signer = h.client_fpr;
  s.no_passphrase = true;
  auto keyring = cipher::gnupg_keyring::open_for_encrypt(std::move(s));
  if (!keyring) throw std::runtime_error(keyring.error().message);
  using gpg_client = client<cipher::gnupg, mac::any_hmac>;
  auto c = hmac.empty() ? gpg_client::make({}, *std::move(keyring))
                        : gpg_client::make({}, *std::move(keyring), "sha256",
                                           secret_view{as_bytes(std::string_view{hmac})});
  if (!c) throw std::runtime_error("gnupg client");
  request r;
  r.allow_ip = "10.0.0.1";
  r.access = "tcp/22";
  r.username = "bench";
  r.timestamp = std::time(nullptr);
  auto p = c->make_packet(r);
  if (!p) throw std::runtime_error("gnupg packet: " + to_string(p.error()));
  return *p;
}

struct knock_stanza {
  stanza_cipher cipher;
  stanza_cipher::key_storage key;
  std::optional<mac::any_hmac::keyed> mac;
};

std::shared_ptr<knock_stanza> make_stanza(const gpg_homes& h, const std::string& hmac) {
  auto s = std::make_shared<knock_stanza>();
  cipher::gnupg_settings g;
  g.home_dir = h.server;
  g.key_id = h.server_fpr;
  g.no_passphrase = true;
  g.remote_ids = {h.client_fpr.substr(32)};
  if (auto ok = s->cipher.set_asymmetric_key(s->key, std::move(g)); !ok)
    throw std::runtime_error(ok.error().message);
  if (!hmac.empty()) {
    auto keyed = mac::any_hmac::make("sha256", secret_view{as_bytes(std::string_view{hmac})});
    if (!keyed) throw std::runtime_error("hmac");
    s->mac.emplace(*std::move(keyed));
  }
  return s;
}

int knock_decode(const std::string& packet, const knock_stanza& s) {
  if (auto ok = wire::screen(packet); !ok) return static_cast<int>(ok.error());
  auto m = wire::open(packet, s.cipher, s.key.view(), s.mac ? &*s.mac : nullptr);
  benchmark::DoNotOptimize(m);
  return m ? accepted : static_cast<int>(m.error());
}

#if KNOCK_BENCH_LIBFKO
// fwknopd's handle_gpg_enc and handle_gpg_sigs for one stanza (GPG_ALLOW_NO_PW, GPG_REQUIRE_SIG,
// GPG_REMOTE_ID), then get_spa_data_fields' getters.
int libfko_decode(const std::string& packet, const gpg_homes& h, const std::string& hmac) {
  fko_ctx_t ctx = nullptr;
  int rc = fko_new_with_data(&ctx, packet.c_str(), nullptr, 0, FKO_ENC_MODE_ASYMMETRIC,
                             hmac.empty() ? nullptr : hmac.c_str(), static_cast<int>(hmac.size()),
                             FKO_HMAC_SHA256);
  if (rc == FKO_SUCCESS) rc = fko_set_gpg_home_dir(ctx, h.server.c_str());
  if (rc == FKO_SUCCESS) {
    fko_set_gpg_recipient(ctx, h.server_fpr.c_str());
    fko_set_gpg_signature_verify(ctx, 1);
    fko_set_gpg_ignore_verify_error(ctx, 0);
    rc = fko_decrypt_spa_data(ctx, "", 0);
  }
  if (rc == FKO_SUCCESS) {
    unsigned char match = 0;
    rc = fko_gpg_signature_id_match(ctx, h.client_fpr.substr(32).c_str(), &match);
    if (rc == FKO_SUCCESS && !match) rc = -1;
  }
  char *user = nullptr, *message = nullptr;
  time_t ts = 0;
  if (rc == FKO_SUCCESS) rc = fko_get_username(ctx, &user);
  if (rc == FKO_SUCCESS) rc = fko_get_timestamp(ctx, &ts);
  if (rc == FKO_SUCCESS) rc = fko_get_spa_message(ctx, &message);
  if (ctx != nullptr) fko_destroy(ctx);
  return rc;
}
#endif

}  // namespace

void add_gnupg_cases() {
  static const std::shared_ptr<gpg_homes> homes = make_homes();  // removed at exit
  const gpg_homes& h = *homes;
  const gpg_homes* home = homes.get();  // the lambdas hold a pointer: a copy would remove them
  const std::string hmac = "knock-bench hmac key 0123456789";
  const std::string other_hmac = "another hmac key, not the stanza's";
  const auto with_hmac = make_stanza(h, hmac);
  const auto without_hmac = make_stanza(h, "");
  const auto valid = std::make_shared<const std::string>(gnupg_packet(h, h.server_fpr, hmac));
  const auto bad_hmac =
      std::make_shared<const std::string>(gnupg_packet(h, h.server_fpr, other_hmac));
  const auto to_other = std::make_shared<const std::string>(gnupg_packet(h, h.other_fpr, ""));
  auto garbage = std::make_shared<std::string>();
  std::mt19937 rng{15};
  static constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 998; ++i) *garbage += alphabet[rng() % 64];  // 1000 with "hQ"
  std::printf("knock-bench --gnupg: packet of %zu characters (HMAC-SHA256, RSA-2048 keys)\n",
              valid->size());

  add_case(
      "decode/gnupg/valid/knock", [=] { return knock_decode(*valid, *with_hmac); }, accepted, 20);
  add_case(
      "decode/gnupg/bad_hmac/knock", [=] { return knock_decode(*bad_hmac, *with_hmac); },
      static_cast<int>(errc::bad_mac));
  add_case(
      "decode/gnupg/wrong_recipient/knock", [=] { return knock_decode(*to_other, *without_hmac); },
      static_cast<int>(errc::gnupg_wrong_recipient));
  add_case(
      "decode/gnupg/garbage/knock", [=] { return knock_decode(*garbage, *without_hmac); },
      static_cast<int>(errc::bad_openpgp));
#if KNOCK_BENCH_LIBFKO
  add_case(
      "decode/gnupg/valid/libfko", [=] { return libfko_decode(*valid, *home, hmac); }, accepted,
      20);
  add_case(
      "decode/gnupg/bad_hmac/libfko", [=] { return libfko_decode(*bad_hmac, *home, hmac); },
      FKO_ERROR_INVALID_DATA_HMAC_COMPAREFAIL);
  add_case(
      "decode/gnupg/wrong_recipient/libfko", [=] { return libfko_decode(*to_other, *home, ""); },
      FKO_ERROR_GPGME_DECRYPT_FAILED, 20);
#endif
}

}  // namespace knock_bench
