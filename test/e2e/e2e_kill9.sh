#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_kill9.sh KNOCK_SERVER KNOCK_CLIENT - issue #4, scenario 7: `kill -9` of knock-server right
# after a grant (nftables). The kernel still expires the grant: no port stays open past its
# timeout (connect fails at timeout + 1 s), and the protection stays while the daemon is down
# (the stranger cannot connect, before and after the expiry). A restart over the stale pid file
# works and serves knocks again (with --json-log: one JSON object per packet), and the packet
# accepted just before the kill, replayed, is refused (its digest was synced before the grant).
# Then FIREWALL_TYPE iptables: there expiry is the daemon's job (documented in iptables.hpp and
# fwknopd's behaviour too), so a rule outlives a kill -9 - reported as NOTE lines, not checked -
# and the restart's FLUSH_IPT_AT_INIT must remove it (checked).
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
TIMEOUT=3

e2e_topology
e2e_listener "$PORT"
e2e_conf FIREWALL_TYPE nftables
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"
e2e_server_start

note "knock, then kill -9"
log_mark
check "fwknop sends the SPA packet (and saves it, to replay it later)" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP" -B "$TMP/first.spa"
expect_accept "$CLI_IP"
check "nft set allowed_v4 holds $CLI_IP" nft_set_has allowed_v4 "$CLI_IP"
victim=$SERVER_PID
kill -KILL "$victim"
wait "$victim" 2>/dev/null
SERVER_PID=""
check_not "knock-server (pid $victim) is gone after kill -9" kill -0 "$victim"
check "client connects during the grant, with the daemon dead" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"
check "stranger cannot connect while the daemon is down" tcp_blocked "$NS_STR" "$SRV_IP" "$PORT"

note "grant timeout ($TIMEOUT s) + 1 s after the knock, daemon still dead"
sleep_until_after_grant $((TIMEOUT + 1))
check "nft table inet knock still there (fail closed)" in_ns "$NS_SRV" nft list table inet knock
check "nft set allowed_v4 no longer holds $CLI_IP" nft_set_lacks allowed_v4 "$CLI_IP"
check "client cannot connect after the grant's timeout" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
check "stranger still cannot connect" tcp_blocked "$NS_STR" "$SRV_IP" "$PORT"

note "restart over the stale pid file"
check "stale pid file left by kill -9" test -s "$TMP/run/knock-server.pid"
e2e_server_start --json-log
check "knock-server -S reports it running" in_ns "$NS_SRV" "$KNOCK_SERVER" -c "$CONF" -S
log_mark
check "fwknop sends a new packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
check "knock-server logs a JSON acceptance" wait_until 3 log_has "\"source\":\"$CLI_IP\",\"accepted\":true"
# Right away: the grant lasts TIMEOUT (3) s, and the checks below take seconds under load.
check "client connects after the new knock" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"
json_ok() {
    log_since_mark | grep -F "\"source\":\"$CLI_IP\"" | tail -n1 | "$PYTHON" -c '
import json, sys
line = sys.stdin.read()
o = json.loads(line)
assert o["accepted"] is True and o["stanza"] == 1 and o["timeout"] == int(sys.argv[1]), o
print(line.strip())' "$TIMEOUT"
}
check "the JSON line parses: accepted, stanza 1, timeout $TIMEOUT" json_ok
check "the packet accepted before the kill -9, replayed, is refused (its digest was on disk)" \
    bash -c "ip netns exec '$NS_CLI' '$PYTHON' '$E2E_NET' send '$SRV_IP' '$SPA_PORT' '$TMP/first.spa' 1 >/dev/null &&
             sleep 1 && grep -q '\"source\":\"$CLI_IP\",\"accepted\":false,\"reason\":\"replayed\"' '$TMP/server.log'"
check "knock-server -K stops it" in_ns "$NS_SRV" "$KNOCK_SERVER" -c "$CONF" -K
exited() { [ ! -e "/proc/$1" ] || grep -q '^[0-9]* (.*) Z' "/proc/$1/stat"; }  # gone or a zombie
check "knock-server exits after -K" wait_until 3 exited "$SERVER_PID"
wait "$SERVER_PID"; k_rc=$?
SERVER_PID=""
check "knock-server's exit status after -K is 0 (got $k_rc)" test "$k_rc" -eq 0
check_not "pid file removed at exit" test -e "$TMP/run/knock-server.pid"

if command -v iptables >/dev/null 2>&1; then
    note "FIREWALL_TYPE iptables: kill -9 after a grant, then a restart"
    check "knock-server --fw-flush removes the nftables table" in_ns "$NS_SRV" "$KNOCK_SERVER" -c "$CONF" --fw-flush
    in_ns "$NS_SRV" iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT || die "iptables rule"
    in_ns "$NS_SRV" iptables -A INPUT -p tcp --dport "$PORT" -j DROP || die "iptables DROP rule"
    e2e_conf FIREWALL_TYPE iptables
    e2e_server_start
    log_mark
    check "fwknop sends the SPA packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
    expect_accept "$CLI_IP"
    check "client connects during the grant" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"
    kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""
    check "stranger cannot connect while the daemon is down" tcp_blocked "$NS_STR" "$SRV_IP" "$PORT"
    sleep_until_after_grant $((TIMEOUT + 1))
    if in_ns "$NS_SRV" iptables -S FWKNOP_INPUT | grep -- "-s $CLI_IP/32" >/dev/null; then
        note "NOTE: iptables rule for $CLI_IP still there $((TIMEOUT + 1)) s after the knock, daemon dead (expected: expiry needs the daemon)"
    fi
    if tcp_ok "$NS_CLI" "$SRV_IP" "$PORT" >/dev/null; then
        note "NOTE: client can still connect $((TIMEOUT + 1)) s after the knock while the daemon is dead"
    fi
    e2e_server_start
    check "restart (FLUSH_IPT_AT_INIT) removed the stale rule" \
        bash -c "! ip netns exec '$NS_SRV' iptables -S FWKNOP_INPUT | grep -- '-s $CLI_IP/32'"
    check "client cannot connect after the restart" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
fi

e2e_finish
