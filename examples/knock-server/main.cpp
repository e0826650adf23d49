// SPDX-License-Identifier: MIT
// knock-server: a drop-in for fwknopd, built from the firewall backends and capture sources
// below. Adding one is its header and an entry here (program.hpp has the rest).
#include "program.hpp"

#include <knock/capture/any_of.hpp>
#include <knock/capture/packet_socket.hpp>
#include <knock/capture/pcap.hpp>
#include <knock/capture/udp_socket.hpp>
#include <knock/firewall/any_of.hpp>
#include <knock/firewall/firewalld.hpp>
#include <knock/firewall/ipfw.hpp>
#include <knock/firewall/iptables.hpp>
#include <knock/firewall/nftables.hpp>
#include <knock/firewall/pf.hpp>
#include <knock/firewall/recording.hpp>

using firewalls = knock::firewall::any_of<knock::firewall::nftables,    // FIREWALL_TYPE nftables
                                          knock::firewall::iptables,    // FIREWALL_TYPE iptables
                                          knock::firewall::pf,          // FIREWALL_TYPE pf
                                          knock::firewall::ipfw,        // FIREWALL_TYPE ipfw
                                          knock::firewall::firewalld,   // FIREWALL_TYPE firewalld
                                          knock::firewall::recording>;  // none (and -t)
using captures =
    knock::capture::any_of<knock::capture::packet_socket,  // PCAP_INTF (the default)
                           knock::capture::pcap,           // KNOCK_CAPTURE pcap, PCAP_FILE
                           knock::capture::udp_socket>;    // ENABLE_UDP_SERVER, -U

int main(int argc, char** argv) { return knock_server::main<firewalls, captures>(argc, argv); }
