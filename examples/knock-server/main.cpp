// SPDX-License-Identifier: MIT
// knock-server: a drop-in for fwknopd. See options.hpp for the flags, daemon.hpp for the daemon and
// decode.hpp for --decode (offline checks, JSON verdicts).
#include "daemon.hpp"
#include "decode.hpp"
#include "options.hpp"

int main(int argc, char** argv) {
  knock_server::options o;
  if (const auto stop = knock_server::parse_args(argc, argv, o)) return *stop;
  return o.decode ? knock_server::decode_main(o) : knock_server::daemon_main(o);
}
