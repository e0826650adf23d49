// SPDX-License-Identifier: MIT
// Seals a packet and opens it again through an installed knock; prints "knock consumer: OK".
#include <knock/cipher/any_of.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/wire/packet.hpp>

#include <array>
#include <cstdio>
#include <string_view>

int main() {
  using namespace knock;
  const secret_bytes enc_key{std::string_view{"consumer encryption key"}};
  const secret_bytes hmac_key{std::string_view{"consumer hmac key"}};
  const std::array<byte, 8> salt{8, 7, 6, 5, 4, 3, 2, 1};

  const auto cipher = cipher::any_rijndael::make("ctr");
  const auto mac = mac::any_hmac::make("sha512", hmac_key.view());
  if (!cipher || !mac) return std::puts("knock consumer: cannot build the policies"), 1;

  spa_message m;
  m.rand_value.assign("1234567890123456");
  m.username.assign("consumer");
  m.timestamp = 1700000000;
  m.message.assign("192.0.2.1,tcp/22");

  const auto packet = wire::seal(m, *cipher, enc_key.view(), &*mac, salt);
  if (!packet)
    return std::printf("knock consumer: seal: %s\n", error_name(packet.error()).c_str()), 1;
  if (!wire::screen(*packet)) return std::puts("knock consumer: screen refused the packet"), 1;
  const auto opened = wire::open(*packet, *cipher, enc_key.view(), &*mac);
  if (!opened)
    return std::printf("knock consumer: open: %s\n", error_name(opened.error()).c_str()), 1;
  if (opened->message.view() != "192.0.2.1,tcp/22" || opened->username.view() != "consumer")
    return std::puts("knock consumer: opened a different message"), 1;
  std::puts("knock consumer: OK");
  return 0;
}
