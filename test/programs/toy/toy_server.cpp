// SPDX-License-Identifier: MIT
// knock-server with a toy firewall and a toy capture source added: each is its header and one
// entry in a list; nothing else in the program changes (test/programs/toy_backends_test.sh).
#include "program.hpp"
#include "toy_capture.hpp"
#include "toy_firewall.hpp"

#include <knock/capture/any_of.hpp>
#include <knock/capture/pcap.hpp>
#include <knock/capture/udp_socket.hpp>
#include <knock/firewall/any_of.hpp>
#include <knock/firewall/iptables.hpp>
#include <knock/firewall/nftables.hpp>
#include <knock/firewall/recording.hpp>

using firewalls = knock::firewall::any_of<knock::firewall::nftables, knock::firewall::iptables,
                                          knock::firewall::recording, toy::firewall>;
using captures =
    knock::capture::any_of<knock::capture::pcap, knock::capture::udp_socket, toy::lines>;

int main(int argc, char** argv) { return knock_server::main<firewalls, captures>(argc, argv); }
