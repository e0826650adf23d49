#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_ipv6.sh KNOCK_SERVER KNOCK_CLIENT - issue #4, scenario 5: IPv6. A "use the packet's source"
# packet (allow IP 0.0.0.0: `fwknop -s`, `knock-client -s`) saved with --test -B and sent over
# IPv6 by python from the client namespace to the server's IPv6 address gives an IPv6 grant: the
# client's IPv6 address in `inet knock allowed_v6`, a TCP connection over IPv6, nothing for IPv4.
# Twice: pcap capture with an fwknop packet, then the UDP server (-U) with a knock-client packet.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
TIMEOUT=3

e2e_topology
e2e_listener "$PORT"
e2e_conf FIREWALL_TYPE nftables
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"

e2e_listener "$OPEN_PORT"
check "client reaches unprotected [$SRV_IP6]:$OPEN_PORT over IPv6 (control)" tcp_ok "$NS_CLI" "$SRV_IP6" "$OPEN_PORT"

run_case() { # label, sender: fwknop|knock-client
    local label=$1 sender=$2 pkt="$TMP/packet-$2.txt"
    note "$label"
    check "client cannot connect to [$SRV_IP6]:$PORT before the knock" tcp_blocked "$NS_CLI" "$SRV_IP6" "$PORT"
    if [ "$sender" = fwknop ]; then
        check "fwknop -s --test -B builds the packet (allow IP 0.0.0.0)" \
            fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -s --test -B "$pkt"
    else
        check "knock-client -s --test -B builds the packet (allow IP 0.0.0.0)" \
            knock_client_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -s --test -B "$pkt"
    fi
    log_mark
    check "python sends it over IPv6 from $CLI_IP6 to [$SRV_IP6]:$SPA_PORT" udp_send "$NS_CLI" "$SRV_IP6" "$pkt"
    expect_accept "$CLI_IP6"
    check "the grant is for the packet's IPv6 source: open $CLI_IP6 tcp/$PORT" \
        log_has "packet from $CLI_IP6: accepted by stanza 1: open $CLI_IP6 tcp/$PORT for $TIMEOUT s"
    check "nft set allowed_v6 holds $CLI_IP6 . tcp . $PORT" nft_set_has allowed_v6 "$CLI_IP6"
    check "nft set allowed_v4 holds nothing (no IPv4 grant)" nft_set_lacks allowed_v4 "$CLI_IP"
    check "client connects to [$SRV_IP6]:$PORT over IPv6" tcp_ok "$NS_CLI" "$SRV_IP6" "$PORT"
    check "client still cannot connect over IPv4 ($SRV_IP:$PORT)" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
    check "stranger cannot connect to [$SRV_IP6]:$PORT" tcp_blocked "$NS_STR" "$SRV_IP6" "$PORT"
    sleep_until_after_grant $((TIMEOUT + 1))
    check "nft set allowed_v6 no longer holds $CLI_IP6 after $((TIMEOUT + 1)) s" nft_set_lacks allowed_v6 "$CLI_IP6"
    check "client cannot open a new IPv6 connection after the grant expired" tcp_blocked "$NS_CLI" "$SRV_IP6" "$PORT"
}

e2e_server_start
run_case "pcap on $IF_SRV_CLI, fwknop -s packet" fwknop
e2e_server_stop
e2e_server_start -U
run_case "UDP server (-U, dual stack), knock-client -s packet" knock-client

e2e_finish
