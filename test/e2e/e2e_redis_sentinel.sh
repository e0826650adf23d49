#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_redis_sentinel.sh KNOCK_SERVER KNOCK_CLIENT - issue #18: the Redis replay store found through
# Redis Sentinel (KNOCK_REPLAY_REDIS redis-sentinel://host:26379/MASTER), across a failover.
# A gateway (NS_SRV, nftables) and, in a namespace of their own (NS_R, one veth to the gateway), a
# primary redis-server, its replica and one redis-sentinel (Debian's redis-sentinel: quorum 1,
# down-after-milliseconds 1000), all with a password:
#   1. knock-server asks the sentinel where the primary is and logs it; the real fwknop client's
#      packet opens the gateway; the replica holds its 2 keys
#   2. the primary is killed (-9): the sentinel promotes the replica; the next fresh valid packet
#      is accepted, its keys written to the new primary (knock-server asked the sentinel again)
#   3. the first packet replayed is still refused as replayed: by the daemon, and by a
#      `knock-server --decode` run (no local memory: the new primary has the key)
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
for t in redis-server redis-cli; do command -v "$t" >/dev/null 2>&1 || skip "$t not found (redis-server, redis-tools)"; done
command -v redis-sentinel >/dev/null 2>&1 || skip "redis-sentinel not found (apt-get install redis-sentinel)"
TIMEOUT=30

e2e_topology
n=$(( ($$ % 200) + 20 ))
NS_R="knock-e2e-$$-rds"
ns_add "$NS_R"
R_IP="10.$n.5.2"
veth_link "$NS_SRV" "ka$$r" "10.$n.5.1" "fd4b:$n:5::1" "$NS_R" "kr$$a" "$R_IP" "fd4b:$n:5::2"
note "redis namespace $NS_R: primary $R_IP:6379, replica $R_IP:6380, sentinel $R_IP:26379"

PASSWORD="knock-e2e-$RANDOM$RANDOM"
printf '%s\n' "$PASSWORD" >"$TMP/redis.password"
chmod 600 "$TMP/redis.password"
mkdir -m 700 "$TMP/r1" "$TMP/r2" "$TMP/sentinel"
rcli() { local port=$1; shift; in_ns "$NS_R" env REDISCLI_AUTH="$PASSWORD" redis-cli -h "$R_IP" -p "$port" "$@"; }
scli() { in_ns "$NS_R" redis-cli -h "$R_IP" -p 26379 "$@"; }
redis_common=(--bind "$R_IP" --save '' --appendonly no --requirepass "$PASSWORD" --masterauth "$PASSWORD")
bg_in_ns "$NS_R" redis-server --port 6379 --dir "$TMP/r1" --logfile "$TMP/r1.log" "${redis_common[@]}"
PRIMARY_PID=$BG_PID
bg_in_ns "$NS_R" redis-server --port 6380 --dir "$TMP/r2" --logfile "$TMP/r2.log" "${redis_common[@]}" \
    --replicaof "$R_IP" 6379
wait_until 5 rcli 6379 PING || die "the primary did not answer"
replica_linked() { rcli 6380 INFO replication | grep 'master_link_status:up' >/dev/null; }
wait_until 10 replica_linked || die "the replica did not link to the primary: $(cat "$TMP/r2.log")"
cat >"$TMP/sentinel/sentinel.conf" <<CONF
port 26379
bind $R_IP
dir $TMP/sentinel
logfile $TMP/sentinel.log
sentinel monitor gw $R_IP 6379 1
sentinel auth-pass gw $PASSWORD
sentinel down-after-milliseconds gw 1000
sentinel failover-timeout gw 5000
CONF
chmod 600 "$TMP/sentinel/sentinel.conf"
bg_in_ns "$NS_R" redis-sentinel "$TMP/sentinel/sentinel.conf"
sentinel_sees_replica() { scli SENTINEL replicas gw | grep -x 6380 >/dev/null; }
wait_until 10 sentinel_sees_replica || die "the sentinel does not see the replica: $(cat "$TMP/sentinel.log")"
primary_port() { scli SENTINEL get-master-addr-by-name gw | sed -n 2p; }
check "the sentinel names the primary $R_IP:6379" test "$(primary_port)" = 6379

e2e_listener "$PORT"
e2e_conf FIREWALL_TYPE nftables KNOCK_REPLAY_REDIS "redis-sentinel://10.$n.5.9,$R_IP:26379/gw" \
    KNOCK_REPLAY_REDIS_PASSWORD_FILE "$TMP/redis.password" KNOCK_REPLAY_REDIS_TIMEOUT 100
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"
e2e_server_start
check "knock-server logs its replay store: the primary the sentinel named ($R_IP:6379)" log_has "replay store: Redis at $R_IP:6379"

note "1. a packet through the sentinel's primary"
pkt="$TMP/packet.txt"
check "fwknop --test -B saves a packet for $CLI_IP" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP" --test -B "$pkt"
log_mark
check "python sends it to the gateway" udp_send "$NS_CLI" "$SRV_IP" "$pkt"
expect_accept "$CLI_IP"
check "nft set allowed_v4 holds $CLI_IP" nft_set_has allowed_v4 "$CLI_IP"
check "the primary holds the packet's 2 keys" test "$(rcli 6379 DBSIZE)" = 2
replica_has() { [ "$(rcli 6380 DBSIZE)" = "$1" ]; }
check "the replica has them too" wait_until 5 replica_has 2

note "2. the primary killed: the sentinel fails over to the replica"
kill -KILL "$PRIMARY_PID" 2>/dev/null; wait "$PRIMARY_PID" 2>/dev/null
t_kill=$(date +%s%3N)
check_not "the primary is gone" rcli 6379 PING
promoted() { [ "$(primary_port)" = 6380 ] && rcli 6380 ROLE | head -1 | grep -x master >/dev/null; }
check "the sentinel promotes the replica ($R_IP:6380) within 15 s" wait_until 15 promoted
note "failover took $(( $(date +%s%3N) - t_kill )) ms after the kill"
log_mark
check "fwknop sends a fresh packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "10.$n.9.9"
check "the gateway accepts it" wait_until 5 log_has "packet from $CLI_IP: accepted by stanza 1: open 10.$n.9.9"
check "nft set allowed_v4 holds 10.$n.9.9" nft_set_has allowed_v4 "10.$n.9.9"
check "the new primary holds 4 keys (2 of each packet)" test "$(rcli 6380 DBSIZE)" = 4
check_not "no packet was refused for the store" log_has "replay_store_unavailable"

note "3. the first packet replayed after the failover"
log_mark
check "python sends the first packet again" udp_send "$NS_CLI" "$SRV_IP" "$pkt"
check "the gateway refuses it: replayed" wait_until 3 log_has "packet from $CLI_IP: refused: replayed"
out=$(in_ns "$NS_SRV" "$KNOCK_SERVER" -c "$CONF" -a "$ACCESS" --decode <"$pkt" 2>&1)
check "knock-server --decode (no memory of its own) refuses it too: replayed, from the new primary" \
    grep '"reason":"replayed"' <<<"$out"
check "knock-server is still running" kill -0 "$SERVER_PID"
check_not "the password is in no log" grep -qF -- "$PASSWORD" "$TMP/server.log"

[ "$FAILED" -gt 0 ] && { for f in sentinel r1 r2; do echo "---- $f.log ----"; sed 's/^/  /' "$TMP/$f.log"; done; echo "---- decode ----"; echo "$out"; }
e2e_finish
