// SPDX-License-Identifier: MIT
// Seals a packet and opens it again through knock::core alone (no libpcap, no libnftables); prints
// "knock core consumer: OK". It also includes the client and the iptables firewall, which core
// covers.
#include <knock/cipher/any_of.hpp>
#include <knock/client.hpp>
#include <knock/firewall/iptables.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/wire/packet.hpp>

#include <array>
#include <cstdio>
#include <string_view>

int main() {
  using namespace knock;
  const secret_bytes enc_key{std::string_view{"core consumer encryption key"}};
  const secret_bytes hmac_key{std::string_view{"core consumer hmac key"}};
  const std::array<byte, 8> salt{1, 2, 3, 4, 5, 6, 7, 8};

  const auto cipher = cipher::any_rijndael::make("cbc");
  const auto mac = mac::any_hmac::make("sha256", hmac_key.view());
  if (!cipher || !mac) return std::puts("knock core consumer: cannot build the policies"), 1;

  spa_message m;
  m.rand_value.assign("6543210987654321");
  m.username.assign("core");
  m.timestamp = 1700000000;
  m.message.assign("198.51.100.7,udp/53");

  const auto packet = wire::seal(m, *cipher, enc_key.view(), &*mac, salt);
  if (!packet)
    return std::printf("knock core consumer: seal: %s\n", error_name(packet.error()).c_str()), 1;
  const auto opened = wire::open(*packet, *cipher, enc_key.view(), &*mac);
  if (!opened)
    return std::printf("knock core consumer: open: %s\n", error_name(opened.error()).c_str()), 1;
  if (opened->message.view() != "198.51.100.7,udp/53" || opened->username.view() != "core")
    return std::puts("knock core consumer: opened a different message"), 1;
  std::puts("knock core consumer: OK");
  return 0;
}
