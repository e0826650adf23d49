// SPDX-License-Identifier: MIT
#pragma once
// knock-server as a template over its backend lists: `knock_server::main<Firewalls, Captures>`
// is the whole program. knock-server's main.cpp names the lists it ships; a build for another
// system (or a test) names others. See options.hpp for the flags, daemon.hpp for the daemon and
// decode.hpp for --decode (offline checks, JSON verdicts).

#include "daemon.hpp"
#include "decode.hpp"
#include "options.hpp"

namespace knock_server {

template <class Firewalls, class Captures>
int main(int argc, char** argv) {
  options o;
  if (const auto stop = parse_args(argc, argv, o)) return *stop;
  return o.decode ? decode_main<Firewalls, Captures>(o) : daemon_main<Firewalls, Captures>(o);
}

}  // namespace knock_server
