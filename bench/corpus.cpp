// SPDX-License-Identifier: MIT
#include "corpus.hpp"

#include <knock/codec/base64.hpp>

#include "support/vectors.hpp"

#include <random>
#include <stdexcept>

namespace knock_bench {

corpus load_corpus() {
  corpus c;
  const auto file = knock::test::load_json(KNOCK_BENCH_DATA "/fwknop-2.6.10-vectors.json");
  for (const auto& v : file.at("vectors"))
    if (v.at("name") == "access_cbc_hmac_sha256") c.vector = v;
  if (c.vector.is_null()) throw std::runtime_error{"access_cbc_hmac_sha256 not in the vectors"};
  c.valid = c.vector.at("packet").get<std::string>();
  c.replay_digest_b64 = c.vector.at("intermediate").at("replay_digest_sha256_b64");
  if (c.valid.size() != 204) throw std::runtime_error{"the default packet is not 204 chars"};

  // One character in the middle of the 43-character tag, replaced by its alphabet neighbour.
  c.bad_hmac = c.valid;
  char& t = c.bad_hmac[c.valid.size() - 43 + 20];
  const auto pos = knock::codec::base64::alphabet.find(t);
  t = knock::codec::base64::alphabet[(pos + 1) % 64];

  std::mt19937_64 rng{20261126};
  std::uniform_int_distribution<int> b64(0, 63), bin(1, 255);
  for (std::size_t i = 0; i < c.valid.size(); ++i)
    c.garbage_b64 += knock::codec::base64::alphabet[static_cast<std::size_t>(b64(rng))];
  for (std::size_t i = 0; i < c.valid.size(); ++i) c.garbage_bin += static_cast<char>(bin(rng));
  if (knock::codec::base64::is_alphabet(c.garbage_bin))
    throw std::runtime_error{"binary garbage happens to be base64"};
  return c;
}

}  // namespace knock_bench
