// SPDX-License-Identifier: MIT
// knock's side: what a server does per packet for one access.conf stanza, with everything that
// depends only on the configuration (cipher, key, keyed HMAC state) built once, outside the loop.
//   decode/<case>/knock        wire::screen + wire::open (HMAC, decrypt, parse), default packet
//   decode/valid/knock/<hmac>  the same for a packet sealed by knock with each of the seven HMACs
//   decode/replay/knock        wire::screen, SHA-256 of the wire string, lookup among 100 k seen
//                              packets (std::unordered_set of 32-byte digests); refused there
#include "cases.hpp"
#include "corpus.hpp"

#include <knock/crypto/hash.hpp>
#include <knock/wire/packet.hpp>

#include "support/vectors.hpp"

#include <array>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <unordered_set>

namespace knock_bench {
namespace {

using namespace knock;

/// The stanza of the default vector, as a server would hold it.
struct stanza {
  cipher::any_rijndael cipher;
  secret_bytes key;
  mac::any_hmac::keyed mac;
};

int decode(std::string_view packet, const stanza& s) {
  if (auto ok = wire::screen(packet); !ok) return static_cast<int>(ok.error());
  auto m = wire::open(packet, s.cipher, s.key.view(), &s.mac);
  benchmark::DoNotOptimize(m);
  return m ? accepted : static_cast<int>(m.error());
}

using digest = std::array<byte, 32>;
struct digest_hash {  // a SHA-256 digest is already uniform: its first 8 bytes are a fine hash
  std::size_t operator()(const digest& d) const noexcept {
    std::size_t h;
    std::memcpy(&h, d.data(), sizeof h);
    return h;
  }
};
using seen_set = std::unordered_set<digest, digest_hash>;

int replay_check(std::string_view packet, const seen_set& seen) {
  if (auto ok = wire::screen(packet); !ok) return static_cast<int>(ok.error());
  digest d;
  knock::hash(hash_id::sha256, as_bytes(packet), d.data());
  if (seen.contains(d)) return replayed;
  return accepted;  // a server would go on to wire::open
}

std::string b64(const digest& d) {
  std::string s(codec::base64::encoded_size(d.size()), '\0');
  codec::base64::encode(d, s.data());
  return s;
}

}  // namespace

void add_knock_cases(const corpus& c) {
  const test::vector_keys keys{c.vector};
  auto s = std::make_shared<const stanza>(stanza{keys.cipher, keys.key.clone(), *keys.mac});

  const std::pair<const char*, const std::string*> packets[] = {{"valid", &c.valid},
                                                                {"bad_hmac", &c.bad_hmac},
                                                                {"garbage_b64", &c.garbage_b64},
                                                                {"garbage_bin", &c.garbage_bin}};
  const int expected[] = {accepted, make_error_code(errc::bad_mac).value(),
                          make_error_code(errc::bad_mac).value(),
                          make_error_code(errc::not_base64).value()};
  for (std::size_t i = 0; i < std::size(packets); ++i) {
    const std::string_view p = *packets[i].second;
    add_case(
        std::string{"decode/"} + packets[i].first + "/knock", [s, p] { return decode(p, *s); },
        expected[i]);
  }

  // The replay cache: the valid packet's digest among 100 k others.
  auto seen = std::make_shared<seen_set>();
  seen->reserve(replay_entries);
  digest d;
  knock::hash(hash_id::sha256, as_bytes(c.valid), d.data());
  if (b64(d) != c.replay_digest_b64)
    throw std::runtime_error{"knock's replay digest differs from fwknopd's"};
  seen->insert(d);
  std::mt19937_64 rng{7};
  while (seen->size() < replay_entries) {
    for (std::size_t i = 0; i < d.size(); i += 8) {
      const auto r = rng();
      std::memcpy(d.data() + i, &r, 8);
    }
    seen->insert(d);
  }
  const std::string_view valid = c.valid;
  add_case(
      "decode/replay/knock",
      [seen = std::shared_ptr<const seen_set>{seen}, valid] { return replay_check(valid, *seen); },
      replayed);

  // The valid message re-sealed by knock under each HMAC (same keys, same salt, CBC).
  auto message = wire::open(c.valid, s->cipher, s->key.view(), &s->mac);
  if (!message) throw std::runtime_error{"the default vector does not open"};
  const auto salt = test::salt_of(c.valid);
  const auto hmac_key = test::key_from_b64(c.vector.at("hmac_key_b64").get<std::string>());
  for (hash_id h : all_hash_ids) {
    auto mac = mac::any_hmac::make(to_string(h), hmac_key.view());
    if (!mac) throw std::runtime_error{"no HMAC " + std::string{to_string(h)}};
    auto st = std::make_shared<const stanza>(stanza{s->cipher, s->key.clone(), *mac});
    auto packet = wire::seal(*message, st->cipher, st->key.view(), &st->mac, salt);
    if (!packet) throw std::runtime_error{"cannot seal with " + std::string{to_string(h)}};
    if (h == hash_id::sha256 && *packet != c.valid)
      throw std::runtime_error{"knock's re-sealed default packet differs from fwknop's"};
    add_case(
        "decode/valid/knock/" + std::string{to_string(h)},
        [st, p = std::make_shared<const std::string>(*packet)] { return decode(*p, *st); },
        accepted);
  }
}

}  // namespace knock_bench
