#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_workers.sh KNOCK_SERVER KNOCK_CLIENT - issue #18: KNOCK_WORKERS 2, both ways the kernel
# spreads flows over workers: two packet sockets in one PACKET_FANOUT group (by flow hash), and
# two UDP server sockets sharing the port (SO_REUSEPORT). Each way: two threads deciding packets,
# one replay store and one firewall writer shared. Checked: the threads exist and share the
# daemon's credentials; the kernel holds two sockets of the daemon; fresh packets from many
# source ports (many flows: both workers) are each accepted once; one packet sent again and again
# from 16 source ports (so it reaches both workers) is accepted exactly once and refused as
# replayed every other time, as fwknopd (one process) refuses a replay; both workers decided
# datagrams (the daemon's count per worker at exit). The PACKET_FANOUT way once more with the
# replay store in Redis (a connection per worker, one pipeline per worker's batch; the replay from
# 16 flows still accepted once: Redis's SET NX decides between the workers). A bad value is
# refused at its file:line.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
TIMEOUT=30

e2e_topology
e2e_listener "$PORT"
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"
# two_sockets KIND: the daemon holds two sockets of KIND in the server namespace (packet: ss -0;
# udp: bound to the SPA port)
two_sockets() {
    local list n
    case $1 in
        packet) list=$(ip netns exec "$NS_SRV" ss -0 -H -p 2>/dev/null) ;;
        udp) list=$(ip netns exec "$NS_SRV" ss -u -l -n -H -p "sport = :$SPA_PORT" 2>/dev/null) ;;
    esac
    n=$(grep -c "pid=$SERVER_PID," <<<"$list")
    echo "$n $1 sockets"
    [ "$n" -eq 2 ]
}

# two_workers HOW KIND CONF...: the daemon with KNOCK_WORKERS 2 and CONF; its start line names
# HOW; KIND of socket (packet or udp) it holds two of.
two_workers() {
    local how=$1 kind=$2; shift 2
    note "KNOCK_WORKERS 2: two capture threads, $how"
    e2e_conf FIREWALL_TYPE nftables KNOCK_WORKERS 2 "$@"
    e2e_server_start
    check "the start line says 2 workers ($how)" log_has "started: .*2 workers ($how by flow hash)"
    # main thread (worker 0), the firewall writer, worker 1
    check "three threads: main (worker 0), firewall writer, worker 1" \
        bash -c "n=\$(ls /proc/$SERVER_PID/task | wc -l); echo \"\$n threads\"; [ \"\$n\" -eq 3 ]"
    check "each thread has the main thread's uids and capabilities" bash -c "
        for t in /proc/$SERVER_PID/task/*; do
            for f in Uid Gid CapPrm CapEff CapBnd CapAmb; do
                [ \"\$(grep \"^\$f:\" \$t/status)\" = \"\$(grep \"^\$f:\" /proc/$SERVER_PID/status)\" ] || exit 1
            done
        done"
    check "two $kind sockets of the daemon in the server namespace" two_sockets "$kind"
    [ -n "${ON_START:-}" ] && "$ON_START"

    note "fresh packets from many source ports: each accepted once"
    log_mark
    for i in $(seq 12); do
        fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP" >/dev/null 2>&1 || die "fwknop $i"
    done
    check "12 of 12 accepted" wait_until 5 bash -c "[ \"\$(tail -n +$((LOG_MARK + 1)) '$TMP/server.log' | grep -c 'packet from $CLI_IP: accepted')\" -eq 12 ]"
    check_not "none refused" log_has "packet from $CLI_IP: refused"
    check "the client connects" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"

    note "one packet replayed from 16 source ports (both workers): accepted once"
    local pkt="$TMP/packet-$kind.txt"
    check "fwknop --test -B saves a packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP" --test -B "$pkt"
    log_mark
    for i in $(seq 16); do udp_send "$NS_CLI" "$SRV_IP" "$pkt" >/dev/null || die "send $i"; done
    check "16 lines for it: 1 accepted, 15 refused as replayed" wait_until 5 bash -c "
        new=\$(tail -n +$((LOG_MARK + 1)) '$TMP/server.log')
        a=\$(grep -c 'packet from $CLI_IP: accepted' <<<\"\$new\"); r=\$(grep -c 'packet from $CLI_IP: refused: replayed' <<<\"\$new\")
        echo \"accepted \$a, replayed \$r\"; [ \"\$a\" -eq 1 ] && [ \"\$r\" -eq 15 ]"

    note "at stop: each worker decided datagrams"
    log_mark
    e2e_server_stop
    local counts
    counts=$(log_since_mark | grep -o 'workers: datagrams decided by each: .*' | tail -n1)
    check "the daemon logs its count per worker" test -n "$counts"
    check "both workers decided some (the kernel spread the flows)" bash -c "
        echo '$counts'; set -- \$(echo '$counts' | sed 's/.*: //; s/,//g'); [ \$# -eq 2 ] && [ \$1 -gt 0 ] && [ \$2 -gt 0 ]"
}

two_workers PACKET_FANOUT packet
two_workers SO_REUSEPORT udp ENABLE_UDP_SERVER Y

# The replay store in Redis (KNOCK_REPLAY_REDIS): each worker's capture batch is a pipeline of its
# own on the shared store, its grants held back until Redis answered; the replay from 16 flows is
# still accepted once.
if command -v redis-server >/dev/null 2>&1; then
    mkdir -m 700 "$TMP/redis"
    bg_in_ns "$NS_SRV" redis-server --port 6390 --bind 127.0.0.1 --dir "$TMP/redis" --save '' \
        --appendonly no --logfile "$TMP/redis.log"
    wait_until 5 in_ns "$NS_SRV" redis-cli -p 6390 PING || die "redis-server did not answer"
    # A connection per worker: a worker's round trip holds up no other (per_worker_store.hpp).
    redis_connections() {
        check "Redis holds a connection for each worker (2)" bash -c "
            n=\$(ip netns exec '$NS_SRV' redis-cli -p 6390 CLIENT LIST | grep -vc 'cmd=client')
            echo \"\$n connection(s) besides redis-cli's\"; [ \"\$n\" -eq 2 ]"
    }
    ON_START=redis_connections two_workers PACKET_FANOUT packet KNOCK_REPLAY_REDIS redis://127.0.0.1:6390
    check "that daemon's replay store was Redis" grep -q "replay store: Redis at 127.0.0.1:6390" "$TMP/server.log"
    keys=$(in_ns "$NS_SRV" redis-cli -p 6390 --scan --pattern 'knock:replay:*' | grep -c .)
    check "Redis holds the keys of the 13 packets accepted (2 each): $keys" test "$keys" -eq 26
else
    note "SKIP part: redis-server not installed: the workers with Redis are not checked"
fi

note "a bad value: refused at its file:line"
e2e_conf FIREWALL_TYPE nftables KNOCK_WORKERS many
out=$(ip netns exec "$NS_SRV" "$KNOCK_SERVER" -f -c "$CONF" -a "$ACCESS" </dev/null 2>&1); rc=$?
check "exit status 1" test "$rc" -eq 1
check "the error names fwknopd.conf:line and KNOCK_WORKERS" bash -c "grep -q 'fwknopd.conf:[0-9]*.*KNOCK_WORKERS' <<<'$out' && echo '$out'"

e2e_finish
