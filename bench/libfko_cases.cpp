// SPDX-License-Identifier: MIT
// libfko's side: what fwknopd 2.6.10 (server/incoming_spa.c) does per packet for one stanza.
//   decode/<case>/libfko  fko_new_with_data(ctx, packet, key, keylen, FKO_ENC_MODE_CBC, hmac_key,
//                         hmac_keylen, FKO_HMAC_SHA256): libfko verifies the HMAC, then (the key
//                         being given, as fwknopd gives it) decrypts and decodes in the same call,
//                         so fwknopd never calls fko_decrypt_spa_data itself for Rijndael. Then
//                         get_spa_data_fields' eight getters when it succeeded, and fko_destroy.
//   decode/replay/libfko  fwknopd's replay check, before any HMAC: preprocess_spa_data (length,
//                         prefixes, is_base64), get_raw_digest (a keyless fko_new_with_data,
//                         fko_set_raw_spa_digest_type(SHA-256), fko_set_raw_spa_digest,
//                         fko_get_raw_spa_digest, strdup, fko_destroy), then is_replay: the
//                         USE_FILE_CACHE linked list of 100 k digests, each compared with fwknop's
//                         constant_runtime_cmp (all 43 characters, no early exit: that is what
//                         Debian's /usr/sbin/fwknopd 2.6.10 calls in that loop, per its
//                         disassembly; older fwknop sources show strncmp). The packet's own digest
//                         is the oldest entry (the tail: fwknopd prepends), so the whole list is
//                         scanned, as it is for every packet never seen. The nodes are allocated
//                         back to back here (fwknopd's lie wherever its heap put them over time),
//                         which favours libfko.
#include "cases.hpp"
#include "corpus.hpp"
#include "libfko_steps.hpp"

#include <fko.h>

#include "support/vectors.hpp"

#include <array>
#include <cstring>
#include <ctime>
#include <memory>
#include <random>
#include <stdexcept>

namespace knock_bench {
namespace {

using fwknopd::get_raw_digest;
using fwknopd::get_spa_data_fields;
using fwknopd::preprocess;

/// What fwknopd's access stanza holds: KEY_BASE64 and HMAC_KEY_BASE64, decoded.
struct fko_stanza {
  std::string key, hmac_key;
};

int decode(const char* packet, const fko_stanza& s) {
  fko_ctx_t ctx = nullptr;
  int rc = fko_new_with_data(&ctx, packet, s.key.data(), static_cast<int>(s.key.size()),
                             FKO_ENC_MODE_CBC, s.hmac_key.data(),
                             static_cast<int>(s.hmac_key.size()), FKO_HMAC_SHA256);
  if (rc == FKO_SUCCESS) rc = get_spa_data_fields(ctx);
  if (ctx != nullptr) fko_destroy(ctx);
  return rc;
}

// server/replay_cache.h with USE_FILE_CACHE (Debian's build keeps no DBM cache).
struct digest_cache_info_t {
  unsigned int src_ip, dst_ip;
  unsigned short src_port, dst_port;
  unsigned char proto;
  time_t created;
  char* digest;
};
struct digest_cache_list {
  digest_cache_info_t cache_info;
  digest_cache_list* next;
};

/// add_replay_file_cache, minus the file: calloc a node and the digest, prepend.
void add_replay(digest_cache_list*& head, const char* digest) {
  const std::size_t len = std::strlen(digest);
  auto* elm = static_cast<digest_cache_list*>(std::calloc(1, sizeof(digest_cache_list)));
  elm->cache_info.digest = static_cast<char*>(std::calloc(1, len + 1));
  std::memcpy(elm->cache_info.digest, digest, len);
  elm->cache_info.proto = 17;
  elm->cache_info.created = 1700000005;
  elm->next = head;
  head = elm;
}

/// fwknop's lib/fko_util.c constant_runtime_cmp, kept a scalar byte loop as in Debian's build
/// (g++: optimize("no-tree-vectorize"); clang++ has no such attribute, a loop pragma instead).
#if defined(__clang__)
#define KNOCK_BENCH_SCALAR __attribute__((noinline))
#define KNOCK_BENCH_SCALAR_LOOP _Pragma("clang loop vectorize(disable) interleave(disable)")
#else
#define KNOCK_BENCH_SCALAR __attribute__((noinline, optimize("no-tree-vectorize")))
#define KNOCK_BENCH_SCALAR_LOOP
#endif
KNOCK_BENCH_SCALAR int constant_runtime_cmp(const char* a, const char* b, int len) {
  int good = 0, bad = 0;
  KNOCK_BENCH_SCALAR_LOOP
  for (int i = 0; i < len; ++i) {
    if (a[i] == b[i])
      ++good;
    else
      ++bad;
  }
  return good == len ? 0 : -bad;
}

/// is_replay_file_cache.
bool is_replay(const digest_cache_list* head, const char* digest) {
  const int len = static_cast<int>(std::strlen(digest));
  for (const digest_cache_list* p = head; p != nullptr; p = p->next)
    if (constant_runtime_cmp(p->cache_info.digest, digest, len) == 0) return true;
  return false;
}

int replay_check(const std::string& packet, const digest_cache_list* cache) {
  if (!preprocess(packet.c_str(), packet.size())) return FKO_ERROR_INVALID_DATA;
  char* digest = nullptr;
  if (const int rc = get_raw_digest(&digest, packet.c_str()); rc != FKO_SUCCESS) return rc;
  const bool seen = is_replay(cache, digest);
  std::free(digest);
  return seen ? replayed : accepted;
}

}  // namespace

void libfko_alloc_probe() {
  fko_ctx_t ctx = nullptr;
  if (fko_new(&ctx) == FKO_SUCCESS) fko_destroy(ctx);
}

void add_libfko_cases(const corpus& c) {
  auto raw = [](const std::string& b64) {
    const auto k = knock::test::key_from_b64(b64);
    return std::string{knock::as_chars(k.view())};
  };
  auto s = std::make_shared<const fko_stanza>(
      fko_stanza{raw(c.vector.at("enc_key_b64")), raw(c.vector.at("hmac_key_b64"))});

  const std::pair<const char*, const std::string*> packets[] = {{"valid", &c.valid},
                                                                {"bad_hmac", &c.bad_hmac},
                                                                {"garbage_b64", &c.garbage_b64},
                                                                {"garbage_bin", &c.garbage_bin}};
  for (const auto& [name, packet] : packets) {
    // libfko's refusal codes are whatever it says now; knock's side checks the stage.
    const char* p = packet->c_str();
    const int outcome = decode(p, *s);
    if ((packet == &c.valid) != (outcome == FKO_SUCCESS))
      throw std::runtime_error{std::string{"libfko: unexpected outcome for "} + name + ": " +
                               fko_errstr(outcome)};
    add_case(
        std::string{"decode/"} + name + "/libfko", [s, p] { return decode(p, *s); }, outcome);
  }

  // The replay cache: the valid packet's digest first (so last in the list), then 99 999 others.
  char* digest = nullptr;
  if (get_raw_digest(&digest, c.valid.c_str()) != FKO_SUCCESS || digest != c.replay_digest_b64)
    throw std::runtime_error{"libfko's replay digest differs from the vector's"};
  digest_cache_list* cache = nullptr;
  add_replay(cache, digest);
  std::free(digest);
  std::mt19937_64 rng{7};
  std::array<unsigned char, 32> d;
  std::array<char, 48> b64;
  for (std::size_t i = 1; i < replay_entries; ++i) {
    for (std::size_t j = 0; j < d.size(); j += 8) {
      const auto r = rng();
      std::memcpy(d.data() + j, &r, 8);
    }
    auto n = static_cast<std::size_t>(
        fko_base64_encode(d.data(), b64.data(), static_cast<int>(d.size())));
    while (n > 0 && b64[n - 1] == '=') --n;  // libfko stores its digests unpadded
    b64[n] = '\0';
    add_replay(cache, b64.data());
  }
  // The list lives as long as the program, as fwknopd's does.
  add_case(
      "decode/replay/libfko", [packet = &c.valid, cache] { return replay_check(*packet, cache); },
      replayed, 20);
}

}  // namespace knock_bench
