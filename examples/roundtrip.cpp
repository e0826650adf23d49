// SPDX-License-Identifier: MIT
// Makes one SPA packet the way `fwknop -A tcp/22 -a 10.0.0.5` does, then opens it as fwknopd would.
#include <knock/cipher/any_of.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/wire/packet.hpp>

#include <cryptopp/osrng.h>

#include <chrono>
#include <cstdio>
#include <string>

int main() {
  using namespace knock;
  CryptoPP::AutoSeededRandomPool rng;  // the OS CSPRNG, for the salt and the random field
  std::array<byte, 32> aes_key, hmac_key;
  rng.GenerateBlock(aes_key.data(), aes_key.size());
  rng.GenerateBlock(hmac_key.data(), hmac_key.size());

  spa_message request;
  std::string digits(16, '0');
  for (char& d : digits) d = static_cast<char>('0' + rng.GenerateWord32(0, 9));
  request.rand_value.assign(digits);
  request.username.assign("alice");
  request.timestamp = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  request.message.assign("10.0.0.5,tcp/22");

  const auto cipher = *cipher::any_rijndael::make("cbc");
  const auto mac = *mac::any_hmac::make("sha256", hmac_key);  // pads absorbed once, here
  std::array<byte, 8> salt;
  rng.GenerateBlock(salt.data(), salt.size());

  auto packet = wire::seal(request, cipher, aes_key, &mac, salt);
  if (!packet) return std::fprintf(stderr, "seal: %s\n", error_name(packet.error()).c_str()), 1;
  std::printf("packet (%zu chars): %s\n", packet->size(), packet->c_str());

  if (auto ok = wire::screen(*packet); !ok) return std::fprintf(stderr, "screen refused it\n"), 1;
  auto opened = wire::open(*packet, cipher, aes_key, &mac);
  if (!opened) return std::fprintf(stderr, "open: %s\n", error_name(opened.error()).c_str()), 1;
  std::printf("opened: user=%s time=%lld type=%d message=%s digest=%s\n",
              std::string{opened->username.view()}.c_str(),
              static_cast<long long>(opened->timestamp), static_cast<int>(opened->type),
              std::string{opened->message.view()}.c_str(),
              std::string{to_string(opened->digest_type)}.c_str());

  std::string tampered = *packet;
  tampered[20] = tampered[20] == 'A' ? 'B' : 'A';
  auto refused = wire::open(tampered, cipher, aes_key, &mac);
  std::printf("one character changed: %s\n",
              refused ? "accepted (BUG)" : error_name(refused.error()).c_str());
  return refused ? 1 : 0;
}
