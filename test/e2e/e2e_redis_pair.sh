#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_redis_pair.sh KNOCK_SERVER KNOCK_CLIENT - issue #18: an HA pair sharing replay state in Redis.
# Gateway A (NS_SRV) and gateway B (NS_B), each knock-server with nftables in its own namespace,
# both reached by the client; redis-server (with a password) in a third namespace NS_R, linked to
# each gateway by its own veth. fwknopd keeps its digest cache per process, so a pair of fwknopds
# accepts at B what was accepted at A; knock with KNOCK_REPLAY_REDIS must not:
#   1. the real fwknop client's packet opens A; the same bytes replayed to B open nothing (B logs
#      "refused: replayed"); garbage and a forged HMAC sent to A never reach Redis (commandstats);
#      the valid packet costs one round trip: its 2 SETs arrive pipelined, in one read (Redis's
#      INFO stats total_reads_processed, against an idle baseline); the keys' TTL is the replay
#      window (2 x MAX_SPA_PACKET_AGE + 1 s)
#      a fresh packet sent 8 times back to back to A is accepted once, 7 times refused as replayed
#   2. redis killed: both refuse a fresh valid packet with replay_store_unavailable, open nothing,
#      and each logs the store as unavailable
#   3. redis restarted: the next valid packet opens (A and B), and each logs it answers again
#   4. gateway A killed: a packet A accepted just before is refused at B (its keys are in Redis),
#      and B opens for a fresh packet
# Gateway A reaches Redis in clear (redis://, port 6379), gateway B over TLS (rediss://, port
# 6380, tls-auth-clients yes): the server's certificate verified against a CA made here, B's own
# client certificate, its key readable by root only while B runs as nobody (the TLS files are
# loaded before the daemon drops privileges; a Redis restart is a new handshake with them).
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
for t in redis-server redis-cli; do command -v "$t" >/dev/null 2>&1 || skip "$t not found (redis-server, redis-tools)"; done
TIMEOUT=30

e2e_topology
n=$(( ($$ % 200) + 20 ))
NS_B="knock-e2e-$$-gwb"; NS_R="knock-e2e-$$-rds"
ns_add "$NS_B"; ns_add "$NS_R"
IF_B_CLI="kb$$c"; IF_CLI_B="kc$$b"; B_IP="10.$n.4.1"; CLI_B_IP="10.$n.4.2"
veth_link "$NS_B" "$IF_B_CLI" "$B_IP" "fd4b:$n:4::1" "$NS_CLI" "$IF_CLI_B" "$CLI_B_IP" "fd4b:$n:4::2"
REDIS_A_IP="10.$n.5.2"; REDIS_B_IP="10.$n.6.2"
veth_link "$NS_SRV" "ka$$r" "10.$n.5.1" "fd4b:$n:5::1" "$NS_R" "kr$$a" "$REDIS_A_IP" "fd4b:$n:5::2"
veth_link "$NS_B" "kb$$r" "10.$n.6.1" "fd4b:$n:6::1" "$NS_R" "kr$$b" "$REDIS_B_IP" "fd4b:$n:6::2"
note "gateway B $NS_B ($B_IP, client $CLI_B_IP); redis $NS_R ($REDIS_A_IP for A, $REDIS_B_IP for B)"

PASSWORD="knock-e2e-$RANDOM$RANDOM"
command -v openssl >/dev/null 2>&1 || skip "openssl not found (gateway B's certificates)"
tls_make() { # what, openssl args...
    local what=$1; shift
    openssl "$@" >"$TMP/openssl.log" 2>&1 || die "openssl: $what: $(cat "$TMP/openssl.log")"
}
EC=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
tls_make "a CA" req -x509 "${EC[@]}" -days 2 -subj "/CN=knock e2e CA" -keyout "$TMP/ca.key" -out "$TMP/ca.pem"
tls_sign() { # name, subjectAltName: a key and a certificate signed by the CA
    tls_make "$1's key" req "${EC[@]}" -subj "/CN=$1" -keyout "$TMP/$1.key" -out "$TMP/$1.csr"
    printf 'subjectAltName=%s\n' "$2" >"$TMP/$1.ext"
    tls_make "$1's certificate" x509 -req -in "$TMP/$1.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
        -CAcreateserial -days 2 -extfile "$TMP/$1.ext" -out "$TMP/$1.pem"
}
tls_sign redis "IP:$REDIS_A_IP,IP:$REDIS_B_IP"
tls_sign gateway-b "DNS:gateway-b"
chown root:root "$TMP/gateway-b.key"; chmod 600 "$TMP/gateway-b.key"
printf '%s\n' "$PASSWORD" >"$TMP/redis.password"
chmod 600 "$TMP/redis.password"
mkdir -m 700 "$TMP/redis"
REDIS_PID=""
redis_start() {
    bg_in_ns "$NS_R" redis-server --bind "$REDIS_A_IP" "$REDIS_B_IP" --port 6379 --dir "$TMP/redis" \
        --tls-port 6380 --tls-cert-file "$TMP/redis.pem" --tls-key-file "$TMP/redis.key" \
        --tls-ca-cert-file "$TMP/ca.pem" --tls-auth-clients yes \
        --save '' --appendonly no --requirepass "$PASSWORD" --logfile "$TMP/redis.log"
    REDIS_PID=$BG_PID
    wait_until 5 rcli PING || die "redis-server did not answer in $NS_R"
}
rcli() { in_ns "$NS_R" env REDISCLI_AUTH="$PASSWORD" redis-cli -h "$REDIS_A_IP" "$@"; }
redis_sets() { rcli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_set:calls=\([0-9]*\).*/\1/p' | grep . || echo 0; }
# read events Redis processed (each redis-cli run adds its own: measured idle first)
redis_reads() { rcli INFO stats | tr -d '\r' | sed -n 's/^total_reads_processed:\([0-9]*\).*/\1/p' | grep . || echo 0; }
redis_start

e2e_listener "$PORT"
bg_in_ns "$NS_B" socat "TCP6-LISTEN:$PORT,fork,reuseaddr,ipv6only=0" EXEC:cat
e2e_conf FIREWALL_TYPE nftables KNOCK_REPLAY_REDIS "redis://$REDIS_A_IP:6379" \
    KNOCK_REPLAY_REDIS_PASSWORD_FILE "$TMP/redis.password" KNOCK_REPLAY_REDIS_TIMEOUT 50
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"
# Gateway B: the same settings but its own interface, run dir, pid file and Redis address.
mkdir -m 700 "$TMP/run-b"; chown nobody "$TMP/run-b"
CONF_B="$TMP/fwknopd-b.conf"
sed -e "s|^PCAP_INTF .*|PCAP_INTF                 $IF_B_CLI|" -e "s|$TMP/run/|$TMP/run-b/|" \
    -e "s|^FWKNOP_RUN_DIR .*|FWKNOP_RUN_DIR            $TMP/run-b|" \
    -e "s|redis://$REDIS_A_IP:6379|rediss://$REDIS_B_IP:6380|" "$CONF" >"$CONF_B"
printf 'KNOCK_REPLAY_REDIS_TLS_CA %s\nKNOCK_REPLAY_REDIS_TLS_CERT %s\nKNOCK_REPLAY_REDIS_TLS_KEY %s\n' \
    "$TMP/ca.pem" "$TMP/gateway-b.pem" "$TMP/gateway-b.key" >>"$CONF_B"
chmod 600 "$CONF_B"
: >"$TMP/b.log"
e2e_server_start
check "gateway A logs its replay store: Redis at $REDIS_A_IP:6379" log_has "replay store: Redis at $REDIS_A_IP:6379"
ip netns exec "$NS_B" "$KNOCK_SERVER" -f -c "$CONF_B" -a "$ACCESS" </dev/null >>"$TMP/b.log" 2>&1 &
B_PID=$!
BG_PIDS+=("$B_PID")
b_has() { grep -q -- "$1" "$TMP/b.log"; }
b_count() { grep -c -- "$1" "$TMP/b.log"; }
wait_until 10 b_has "started:" || die "gateway B did not start: $(cat "$TMP/b.log")"
check "gateway B logs its replay store: Redis at $REDIS_B_IP:6380 (TLS)" b_has "replay store: Redis at $REDIS_B_IP:6380"
check "gateway B runs as nobody (its client key is root's, mode 600)" \
    test "$(awk '/^Uid:/ {print $2}' "/proc/$B_PID/status")" = "$(id -u nobody)"
check "Redis counts B's TLS connection" test "$(rcli INFO clients | tr -d '\r' | sed -n 's/^connected_clients:\([0-9]*\).*/\1/p')" -ge 3
b_nft_has() { in_ns "$NS_B" nft list set inet knock allowed_v4 | grep -- "$1 \\. " >/dev/null; }
b_nft_lacks() { in_ns "$NS_B" nft list set inet knock allowed_v4 >/dev/null && ! b_nft_has "$1"; }

note "1. garbage and a forged HMAC at A: refused, no SET reaches Redis"
pkt="$TMP/packet.txt"
check "fwknop --test -B saves a packet for $CLI_IP" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP" --test -B "$pkt"
"$PYTHON" -c 'import os,base64;print(base64.b64encode(os.urandom(180)).decode().rstrip("="))' >"$TMP/garbage"
"$PYTHON" - "$pkt" "$TMP/forged" <<'PY'
import sys
p = open(sys.argv[1]).read().strip()
open(sys.argv[2], "w").write(p[:-1] + ("A" if p[-1] != "A" else "B"))
PY
sets_before=$(redis_sets)
log_mark
check "python sends garbage to A" udp_send "$NS_CLI" "$SRV_IP" "$TMP/garbage"
check "python sends the forgery (one HMAC character changed) to A" udp_send "$NS_CLI" "$SRV_IP" "$TMP/forged"
check "A refuses them (bad_mac)" wait_until 3 bash -c "[ \$(tail -n +$((LOG_MARK + 1)) $TMP/server.log | grep -c 'refused: bad_mac') -ge 2 ]"
sets_after=$(redis_sets)
check "no SET reached Redis for them (cmdstat_set calls $sets_before -> $sets_after)" test "$sets_after" = "$sets_before"

note "the fwknop packet opens A"
r0=$(redis_reads); r1=$(redis_reads); idle=$((r1 - r0))
log_mark
check "python sends the packet to A" udp_send "$NS_CLI" "$SRV_IP" "$pkt"
expect_accept "$CLI_IP"
r2=$(redis_reads)
check "one round trip: Redis read the packet's SETs in $((r2 - r1 - idle)) read event(s), want 1 (reads $r1 -> $r2, $idle per INFO)" test "$((r2 - r1 - idle))" = 1
check "A's nft set allowed_v4 holds $CLI_IP" nft_set_has allowed_v4 "$CLI_IP"
check "client connects to A tcp/$PORT" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"
check "Redis ran one SET per key (2) for it" test "$(redis_sets)" = "$((sets_before + 2))"
keys=$(rcli --scan --pattern 'knock:replay:*')
check "Redis holds the packet's 2 keys under knock:replay:" test "$(grep -c . <<<"$keys")" = 2
ttl=$(rcli TTL "$(head -1 <<<"$keys")")
check "the key's TTL is the replay window, 2 x 120 + 1 = 241 s (TTL $ttl)" test "$ttl" -ge 230 -a "$ttl" -le 241

note "the same bytes replayed to B open nothing"
check "python sends the same bytes to B" udp_send "$NS_CLI" "$B_IP" "$pkt"
check "B logs: refused: replayed" wait_until 3 b_has "packet from $CLI_B_IP: refused: replayed"
check_not "B logs no acceptance" b_has "accepted"
check "B's nft set allowed_v4 has no element for the client" b_nft_lacks "$CLI_B_IP"
check "client cannot connect to B tcp/$PORT" tcp_blocked "$NS_CLI" "$B_IP" "$PORT"

note "a burst: a fresh packet sent 8 times back to back to A (copies in one capture batch share a round trip): it opens once"
pkt_burst="$TMP/packet-burst.txt"
check "fwknop --test -B saves a packet for 10.$n.9.3" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "10.$n.9.3" --test -B "$pkt_burst"
log_mark
r0=$(redis_reads)
check "python sends it 8 times to A" udp_send "$NS_CLI" "$SRV_IP" "$pkt_burst" 8
since_mark() { tail -n +$((LOG_MARK + 1)) "$TMP/server.log"; }
check "A decides all 8: 7 refused as replayed" wait_until 5 bash -c "[ \$(tail -n +$((LOG_MARK + 1)) $TMP/server.log | grep -c 'refused: replayed') -ge 7 ]"
check "exactly 7 replayed" test "$(since_mark | grep -c 'refused: replayed')" = 7
check "A accepts it (its grant is logged when nftables has it)" wait_until 5 log_has "accepted by stanza 1: open 10.$n.9.3"
accepted_n=$(since_mark | grep -c "accepted by stanza 1: open 10.$n.9.3")
check "exactly 1 accepted (got $accepted_n)" test "$accepted_n" = 1
r1=$(redis_reads)
note "Redis read the copies' SETs in $((r1 - r0 - idle)) read event(s) (1 when they shared a capture batch)"
check "A's nft set holds 10.$n.9.3" nft_set_has allowed_v4 "10.$n.9.3"

note "2. redis killed: both gateways refuse a fresh valid packet, open nothing"
kill_pid "$REDIS_PID"
check_not "redis is down" rcli PING
log_mark
b_mark=$(b_count "replay_store_unavailable")
check "fwknop sends a fresh packet to A" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "10.$n.9.9"
check "fwknop sends a fresh packet to B" fwknop_knock "$NS_CLI" "$B_IP" -A "tcp/$PORT" -a "10.$n.9.8"
check "A refuses it: replay_store_unavailable" wait_until 3 log_has "refused: replay_store_unavailable"
check "B refuses it: replay_store_unavailable" wait_until 3 bash -c "[ \$(grep -c 'refused: replay_store_unavailable' $TMP/b.log) -gt $b_mark ]"
check "A logs the store as unavailable (once a second at most)" wait_until 3 log_has "replay store unavailable: "
check "B logs the store as unavailable" wait_until 3 b_has "replay store unavailable: "
check_not "A logs no acceptance" log_has "accepted"
check "A's nft set has no element for 10.$n.9.9" nft_set_lacks allowed_v4 "10.$n.9.9"
check "B's nft set has no element for 10.$n.9.8" b_nft_lacks "10.$n.9.8"
check "A is still running" kill -0 "$SERVER_PID"
check "B is still running" kill -0 "$B_PID"

note "3. redis restarted: the next valid packet opens"
redis_start
sleep 1.2  # the gateways' back-off (1 s) since their last try
log_mark
check "fwknop sends a fresh packet to A" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "10.$n.9.7"
check "A accepts it" wait_until 5 log_has "packet from $CLI_IP: accepted by stanza 1: open 10.$n.9.7"
check "A's nft set holds 10.$n.9.7" nft_set_has allowed_v4 "10.$n.9.7"
check "fwknop sends a fresh packet to B" fwknop_knock "$NS_CLI" "$B_IP" -A "tcp/$PORT" -a "10.$n.9.6"
check "B accepts it" wait_until 5 b_has "packet from $CLI_B_IP: accepted"
check "B's nft set holds 10.$n.9.6" b_nft_has "10.$n.9.6"
check "A logs that Redis answers again" wait_until 3 log_has "replay store: Redis answers again"
check "B logs that Redis answers again" wait_until 3 b_has "replay store: Redis answers again"

note "4. gateway A dies (kill -9, as when keepalived moves the address): B keeps serving, and what A accepted stays refused at B"
pkt4="$TMP/packet4.txt"
check "fwknop --test -B saves a packet for 10.$n.9.5" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "10.$n.9.5" --test -B "$pkt4"
check "python sends it to A" udp_send "$NS_CLI" "$SRV_IP" "$pkt4"
check "A accepts it" wait_until 5 log_has "accepted by stanza 1: open 10.$n.9.5"
kill -KILL "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null
check_not "A is gone" kill -0 "$SERVER_PID"
b_mark=$(b_count "refused: replayed")
check "python sends the same bytes to B" udp_send "$NS_CLI" "$B_IP" "$pkt4"
check "B refuses them: replayed (B never saw them: Redis told it)" wait_until 3 bash -c "[ \$(grep -c 'refused: replayed' $TMP/b.log) -gt $b_mark ]"
check "B's nft set has no element for 10.$n.9.5" b_nft_lacks "10.$n.9.5"
check "fwknop sends a fresh packet to B" fwknop_knock "$NS_CLI" "$B_IP" -A "tcp/$PORT" -a "10.$n.9.4"
check "B accepts it" wait_until 5 b_has "accepted by stanza 1: open 10.$n.9.4"
check "B's nft set holds 10.$n.9.4" b_nft_has "10.$n.9.4"
check "B is still running" kill -0 "$B_PID"

check_not "the password is in no log" grep -qF -- "$PASSWORD" "$TMP/server.log" "$TMP/b.log"

[ "$FAILED" -gt 0 ] && { echo "---- gateway B log ----"; sed 's/^/  /' "$TMP/b.log"; }
e2e_finish
