#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_tcp_server_intf_down.sh KNOCK_SERVER KNOCK_CLIENT - fwknopd.conf switches (issue #13):
# - ENABLE_TCP_SERVER Y / TCPSERV_PORT: the real fwknop client sends its packet over TCP
#   (-P tcp); the handshake completes against knock-server's listener, the packet is read by
#   pcap (PCAP_FILTER covers the port) and granted; the listener closes each connection about a
#   second later without a byte either way (fwknopd's dummy TCP server).
# - ENABLE_SPA_OVER_HTTP Y: fwknop -P http's request to the TCP server is decoded and granted.
# - EXIT_AT_INTF_DOWN: with Y (the default) knock-server exits when its capture interface
#   disappears; with N it logs the failure, keeps running, opens the capture again once the
#   interface is back, and grants a knock.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
TCP_PORT=62311

e2e_topology
e2e_listener "$PORT"

note "ENABLE_TCP_SERVER Y, TCPSERV_PORT $TCP_PORT"
e2e_conf FIREWALL_TYPE nftables ENABLE_TCP_SERVER Y TCPSERV_PORT "$TCP_PORT" \
    PCAP_FILTER "tcp port $TCP_PORT or udp port 62201"
e2e_access FW_ACCESS_TIMEOUT 30
e2e_server_start
check "the start-up line names the TCP server" log_has "TCP server on port $TCP_PORT"
check "knock-server listens on tcp/$TCP_PORT" \
    bash -c "ip netns exec '$NS_SRV' ss -Hltnp 'sport = :$TCP_PORT' | grep -q knock-server"
check "client cannot connect to tcp/$PORT before the knock" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
log_mark
check "fwknop -P tcp sends the SPA packet over a TCP connection" \
    fwknop_knock "$NS_CLI" "$SRV_IP" -P tcp -p "$TCP_PORT" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "client connects to tcp/$PORT after the knock" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"
closes() {  # connect, send nothing, expect EOF (the server's close) within 3 s, and no data
    in_ns "$NS_CLI" "$PYTHON" -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
t = time.time(); data = s.recv(100)
print(f"closed after {time.time() - t:.1f} s, {len(data)} byte(s)")
sys.exit(0 if data == b"" and time.time() - t >= 0.5 else 1)' "$SRV_IP" "$TCP_PORT"
}
check "the listener closes an idle connection after about a second, sending nothing" closes
e2e_server_stop
check "knock-server --fw-flush" in_ns "$NS_SRV" "$KNOCK_SERVER" -c "$CONF" --fw-flush

note "ENABLE_SPA_OVER_HTTP Y: fwknop -P http sends GET /<packet> to the TCP server's port"
HTTP_PORT=62312
e2e_conf FIREWALL_TYPE nftables ENABLE_TCP_SERVER Y TCPSERV_PORT "$HTTP_PORT" \
    ENABLE_SPA_OVER_HTTP Y PCAP_FILTER "tcp port $HTTP_PORT"
e2e_server_start
log_mark
check "fwknop -P http sends the SPA packet in an HTTP request" \
    fwknop_knock "$NS_CLI" "$SRV_IP" -P http -p "$HTTP_PORT" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "client connects to tcp/$PORT after the HTTP knock" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"
e2e_server_stop
check "knock-server --fw-flush" in_ns "$NS_SRV" "$KNOCK_SERVER" -c "$CONF" --fw-flush

note "EXIT_AT_INTF_DOWN Y (the default): the capture interface disappears"
# libpcap reports an interface that is removed; one merely set down is read again once it is up.
e2e_conf FIREWALL_TYPE nftables
e2e_server_start
victim=$SERVER_PID
log_mark
remake_link() {
    ip -n "$NS_SRV" link del "$IF_SRV_CLI" 2>/dev/null
    veth_link "$NS_SRV" "$IF_SRV_CLI" "$SRV_IP" "$SRV_IP6" "$NS_CLI" "$IF_CLI" "$CLI_IP" "$CLI_IP6"
}
in_ns "$NS_SRV" ip link del "$IF_SRV_CLI" || die "link del"
exited() { [ ! -e "/proc/$1" ] || grep -q '^[0-9]* (.*) Z' "/proc/$1/stat"; }
# The daemon sees the removal at its next capture read or 1 s tick: seconds under ASan on a loaded machine.
check "knock-server exits when $IF_SRV_CLI disappears" wait_until 15 exited "$victim"
exited "$victim" || kill_pid "$victim"  # that check has failed; never block in `wait` on a live daemon
wait "$victim"; rc=$?
SERVER_PID=""
check "its exit status is not 0 (got $rc)" test "$rc" -ne 0
check "it logs why" log_has "EXIT_AT_INTF_DOWN Y: exiting"
remake_link
check "knock-server --fw-flush" in_ns "$NS_SRV" "$KNOCK_SERVER" -c "$CONF" --fw-flush

note "EXIT_AT_INTF_DOWN N: the interface disappears, is made again, then a knock"
e2e_conf FIREWALL_TYPE nftables EXIT_AT_INTF_DOWN N
e2e_server_start
log_mark
in_ns "$NS_SRV" ip link del "$IF_SRV_CLI" || die "link del"
sleep 3
check "knock-server still runs 3 s after $IF_SRV_CLI disappeared" kill -0 "$SERVER_PID"
check "it logged the failure and that it tries again" log_has "EXIT_AT_INTF_DOWN N: trying it every second"
remake_link
check "knock-server opens the capture again" wait_until 5 log_has "capture: open again"
log_mark
check "fwknop sends the SPA packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "client connects to tcp/$PORT after the knock" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"

e2e_finish
