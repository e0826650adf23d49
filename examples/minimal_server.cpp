// SPDX-License-Identifier: MIT
// A knock server in a few lines: policies chosen at compile time, fwknop's access.conf loaded at
// run time, datagrams (here: one packet per line of stdin) in, verdicts out.
#include <knock/cipher/any_of.hpp>
#include <knock/config/access_conf.hpp>
#include <knock/firewall/recording.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/server.hpp>

#include <cstdio>
#include <iostream>
#include <string>

using spa_server =
    knock::server<knock::cipher::any_rijndael, knock::mac::any_hmac, knock::firewall::recording>;

int main(int argc, char** argv) {
  if (argc != 2) return std::fputs("usage: minimal_server ACCESS_CONF < packets\n", stderr), 2;
  auto stanzas = knock::config::load_access_conf(argv[1]);
  if (!stanzas) return std::fprintf(stderr, "%s\n", to_string(stanzas.error()).c_str()), 1;
  spa_server server{{*std::move(stanzas), knock::server_options{}}};
  const auto sender = *knock::ip_address::parse("192.0.2.10");
  for (std::string packet; std::getline(std::cin, packet);) {
    const knock::verdict v = server.handle({packet, sender, knock::ip_address{}});
    if (v.accepted)
      std::printf("accepted: open %s for %u s\n", to_string(v.granted.source).c_str(),
                  v.granted.timeout);
    else
      std::printf("refused: %s\n", std::string{knock::to_string(v.reason)}.c_str());
  }
}
