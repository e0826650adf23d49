#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_workers.sh KNOCK_SERVER KNOCK_CLIENT - issue #18: KNOCK_WORKERS 2. Two capture sockets in one
# PACKET_FANOUT group (by flow hash), two threads deciding packets, one replay store and one
# firewall writer shared. Checked: the threads exist and share the daemon's credentials; fresh
# packets from many source ports (many flows: both workers) are each accepted once; one packet
# sent again and again from 16 source ports (so it reaches both workers) is accepted exactly once
# and refused as replayed every other time, as fwknopd (one process) refuses a replay; both
# workers decided datagrams (the daemon's count per worker at exit); KNOCK_WORKERS with the UDP
# server falls back to one worker with a warning; a bad value is refused at its file:line.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
TIMEOUT=30

e2e_topology
e2e_listener "$PORT"
e2e_conf FIREWALL_TYPE nftables KNOCK_WORKERS 2
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"

note "KNOCK_WORKERS 2: two capture threads, one fanout group"
e2e_server_start
check "the start line says 2 workers" log_has "started: .*2 workers (PACKET_FANOUT by flow hash)"
# main thread (worker 0), the firewall writer, worker 1
check "three threads: main (worker 0), firewall writer, worker 1" \
    bash -c "n=\$(ls /proc/$SERVER_PID/task | wc -l); echo \"\$n threads\"; [ \"\$n\" -eq 3 ]"
check "each thread has the main thread's uids and capabilities" bash -c "
    for t in /proc/$SERVER_PID/task/*; do
        for f in Uid Gid CapPrm CapEff CapBnd CapAmb; do
            [ \"\$(grep \"^\$f:\" \$t/status)\" = \"\$(grep \"^\$f:\" /proc/$SERVER_PID/status)\" ] || exit 1
        done
    done"
check "two packet sockets in the server namespace's fanout group" \
    bash -c "n=\$(ip netns exec '$NS_SRV' ss -0 -H -p 2>/dev/null | grep -c 'pid=$SERVER_PID,'); echo \"\$n packet sockets\"; [ \"\$n\" -ge 2 ]"

note "fresh packets from many source ports: each accepted once"
log_mark
for i in $(seq 12); do
    fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP" >/dev/null 2>&1 || die "fwknop $i"
done
count_accepted() { log_since_mark | grep -c "packet from $CLI_IP: accepted"; }
check "12 of 12 accepted" wait_until 5 bash -c "[ \"\$(tail -n +$((LOG_MARK + 1)) '$TMP/server.log' | grep -c 'packet from $CLI_IP: accepted')\" -eq 12 ]"
check_not "none refused" log_has "packet from $CLI_IP: refused"
check "the client connects" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"

note "one packet replayed from 16 source ports (both workers): accepted once"
pkt="$TMP/packet.txt"
check "fwknop --test -B saves a packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP" --test -B "$pkt"
log_mark
for i in $(seq 16); do udp_send "$NS_CLI" "$SRV_IP" "$pkt" >/dev/null || die "send $i"; done
check "16 lines for it: 1 accepted, 15 refused as replayed" wait_until 5 bash -c "
    new=\$(tail -n +$((LOG_MARK + 1)) '$TMP/server.log')
    a=\$(grep -c 'packet from $CLI_IP: accepted' <<<\"\$new\"); r=\$(grep -c 'packet from $CLI_IP: refused: replayed' <<<\"\$new\")
    echo \"accepted \$a, replayed \$r\"; [ \"\$a\" -eq 1 ] && [ \"\$r\" -eq 15 ]"

note "at stop: each worker decided datagrams"
e2e_server_stop
counts=$(grep -o 'workers: datagrams decided by each: .*' "$TMP/server.log" | tail -n1)
check "the daemon logs its count per worker" test -n "$counts"
check "both workers decided some (the kernel spread the flows)" bash -c "
    echo '$counts'; set -- \$(echo '$counts' | sed 's/.*: //; s/,//g'); [ \$# -eq 2 ] && [ \$1 -gt 0 ] && [ \$2 -gt 0 ]"

note "the UDP server: one worker, with a warning"
e2e_conf FIREWALL_TYPE nftables KNOCK_WORKERS 2 ENABLE_UDP_SERVER Y
e2e_server_start
check "warns that it runs one worker" log_has "KNOCK_WORKERS 2: one worker only"
check_not "the start line names no workers" log_has "workers (PACKET_FANOUT"
log_mark
check "fwknop sends a packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
e2e_server_stop

note "a bad value: refused at its file:line"
e2e_conf FIREWALL_TYPE nftables KNOCK_WORKERS many
out=$(ip netns exec "$NS_SRV" "$KNOCK_SERVER" -f -c "$CONF" -a "$ACCESS" </dev/null 2>&1); rc=$?
check "exit status 1" test "$rc" -eq 1
check "the error names fwknopd.conf:line and KNOCK_WORKERS" bash -c "grep -q 'fwknopd.conf:[0-9]*.*KNOCK_WORKERS' <<<'$out' && echo '$out'"

e2e_finish
