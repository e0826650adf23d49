#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2034  # functions run via check/wait_until
# oracle_firewalld.sh KNOCK_SERVER KNOCK_CLIENT TARBALL CACHE_DIR - issue #16: FIREWALL_TYPE
# firewalld against fwknopd, on a real firewalld.
#
# Debian's firewalld runs inside the server namespace on a private system D-Bus (its socket bind-
# mounted over /run/dbus for each process of the test only), so no stub is needed. Part 1, direct
# rules: fwknopd 2.6.11 built for firewalld (chain FWKNOP_INPUT) and knock-server (chain
# KNOCK_INPUT, through FIREWD_INPUT_ACCESS) side by side on the same packets; after each grant,
# expiry, --fw-list, --fw-flush and exit, `iptables -S` of the two chains agree (chain name aside,
# _exp_ times within 2 s). Part 1b, the same with ENABLE_FIREWD_OUTPUT and the NAT switches
# (ENABLE_FIREWD_FORWARDING, _LOCAL_NAT, _SNAT with and without SNAT_TRANSLATE_IP): plain, NAT and
# local NAT packets; every chain (input, output, forward, DNAT, SNAT, MASQUERADE) and its jump
# compared after each grant, the expiry and the exit. Part 2, knock's rich rules (KNOCK_FIREWD_RICH_RULES Y): the grant opens
# the port in the zone, and firewalld closes it at the timeout even with knock-server killed -9.
# Part 3, refusals: a zone that does not exist, firewalld not running.
source "$(dirname "$0")/../../e2e/lib.sh"
TARBALL=${3:?usage: $0 KNOCK_SERVER KNOCK_CLIENT TARBALL CACHE_DIR} CACHE=${4:?no CACHE_DIR}
[ -r "$TARBALL" ] || { echo "SKIP: no fwknop reference tarball at $TARBALL"; exit 77; }
e2e_init "$1" "$2"
for t in firewalld firewall-cmd dbus-daemon iptables; do
    command -v "$t" >/dev/null 2>&1 || skip "$t not found (Debian: firewalld)"
done
[ -d /run/dbus ] || skip "no /run/dbus to mount a private bus over"
"$(dirname "$0")/build_fwknopd.sh" "$TARBALL" "$CACHE"; rc=$?
[ $rc = 77 ] && skip "cannot build the oracle fwknopd"
[ $rc = 0 ] || die "building the oracle fwknopd failed"
FWKNOPD="$CACHE/current/fwknopd-firewalld"
TIMEOUT=40  # firewall-cmd takes a second or more per call on a loaded machine

e2e_topology
e2e_listener "$PORT"
BUS="$TMP/dbus"
mkdir -m 755 "$BUS"
# in_fwd CMD...: CMD in the server namespace, seeing the private bus at /run/dbus (a mount of its
# own mount namespace: ip netns exec makes one per call). BUS_SH is the same, for `... &` (a
# function run in the background would give the pid of a subshell, not of CMD).
BUS_SH='mount --bind "$0" /run/dbus && exec "$@"'
in_fwd() { ip netns exec "$NS_SRV" sh -c "$BUS_SH" "$BUS" "$@"; }
dbus-daemon --system --fork --nopidfile --address="unix:path=$BUS/system_bus_socket" \
    --print-pid >"$TMP/dbus.pid" || skip "cannot start a private system D-Bus"
BG_PIDS+=("$(cat "$TMP/dbus.pid")")
FWD_PID=""
firewalld_start() {
    ip netns exec "$NS_SRV" sh -c "$BUS_SH" "$BUS" firewalld --nofork --nopid \
        >"$TMP/firewalld.log" 2>&1 </dev/null &
    FWD_PID=$!
    BG_PIDS+=("$FWD_PID")
    wait_until 60 in_fwd firewall-cmd --state || { cat "$TMP/firewalld.log"; skip "firewalld does not start in a network namespace here"; }
}
firewalld_start
note "firewalld runs in $NS_SRV: $(in_fwd firewall-cmd --get-default-zone) zone"

e2e_conf FIREWALL_TYPE firewalld KNOCK_USER root \
    FIREWD_INPUT_ACCESS "ACCEPT, filter, INPUT, 1, KNOCK_INPUT, 1"
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"
chmod 600 "$ACCESS"
mkdir -m 700 "$TMP/orun"
ORACLE_CONF="$TMP/oracle.conf"
printf 'PCAP_INTF %s\nFIREWALL_EXE %s\nFWKNOP_RUN_DIR %s\n' "$IF_SRV_CLI" \
    "$(command -v firewall-cmd)" "$TMP/orun" >"$ORACLE_CONF"
chmod 600 "$ORACLE_CONF"
# wait_started PID CHECK...: until CHECK holds, for as long as PID lives (up to 300 s). Both
# daemons set up every chain through firewall-cmd before they say they started, seconds a call
# when the machine is loaded: six chains with their jumps took more than 90 s in CI beside the
# other tests. How long it took goes in the log.
wait_started() {
    local pid=$1 t0=$SECONDS; shift
    while ! "$@" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || return 1
        [ $((SECONDS - t0)) -lt 300 ] || return 1
        sleep 0.2
    done
    note "started in $((SECONDS - t0)) s"
}
ORACLE_PID=""
oracle_start() {
    : >"$TMP/oracle.log"
    ip netns exec "$NS_SRV" sh -c "$BUS_SH" "$BUS" "$FWKNOPD" -f -c "$ORACLE_CONF" -a "$ACCESS" \
        -d "$TMP/orun/digest" -p "$TMP/orun/fwknopd.pid" -i "$IF_SRV_CLI" </dev/null \
        >>"$TMP/oracle.log" 2>&1 &
    ORACLE_PID=$!
    BG_PIDS+=("$ORACLE_PID")
    wait_started "$ORACLE_PID" grep -q "main event loop" "$TMP/oracle.log" ||
        { cat "$TMP/oracle.log"; die "fwknopd did not start"; }
}
knock_start() {  # e2e_server_start, through the private bus
    log_mark
    ip netns exec "$NS_SRV" sh -c "$BUS_SH" "$BUS" "$KNOCK_SERVER" -f -c "$CONF" -a "$ACCESS" "$@" \
        </dev/null >>"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    wait_started "$SERVER_PID" log_has "started:" || die "knock-server did not start: $(log_since_mark)"
}
# chain_rules CHAIN: its rules, the chain named X, _exp_ times as T (times on stderr... kept apart)
chain_rules() { in_ns "$NS_SRV" iptables -S "$1" 2>&1 | sed "s/$1/X/g; s/_exp_[0-9]*/_exp_T/"; }
chain_times() { in_ns "$NS_SRV" iptables -S "$1" 2>/dev/null | grep -o '_exp_[0-9]*' | cut -c6-; }
same_chains() {
    local a b; a=$(chain_rules FWKNOP_INPUT); b=$(chain_rules KNOCK_INPUT)
    [ "$a" = "$b" ] || { printf 'fwknopd:\n%s\nknock:\n%s\n' "$a" "$b"; return 1; }
    paste <(chain_times FWKNOP_INPUT) <(chain_times KNOCK_INPUT) |
        awk '{ d = $1 - $2; if (d < -10 || d > 10) bad = 1 } END { exit bad }' || {
        echo "times differ: $(chain_times FWKNOP_INPUT | tr '\n' ' ')/ $(chain_times KNOCK_INPUT | tr '\n' ' ')"
        return 1
    }
    echo "same: $(tr '\n' ' ' <<<"$b")"
}
has_grant() { in_ns "$NS_SRV" iptables -S "$1" 2>/dev/null | grep -q -- "-s $CLI_IP/32 .*--dport $PORT"; }
both_grant() { has_grant FWKNOP_INPUT && has_grant KNOCK_INPUT; }
neither_grant() { ! has_grant FWKNOP_INPUT && ! has_grant KNOCK_INPUT; }
no_chain() { ! in_ns "$NS_SRV" iptables -S "$1" >/dev/null 2>&1; }

note "part 1: direct rules, fwknopd and knock-server side by side"
oracle_start
knock_start
check "INPUT jumps to both chains" bash -c "ip netns exec '$NS_SRV' iptables -S INPUT | grep -q -- '-j KNOCK_INPUT' && ip netns exec '$NS_SRV' iptables -S INPUT | grep -q -- '-j FWKNOP_INPUT'"
check "same (empty) chains" same_chains
log_mark
check "fwknop sends" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP" 60
check "both chains hold the grant" wait_until 30 both_grant
check "same chains after the grant" same_chains
fw_list_shows() { in_fwd "$@" --fw-list 2>&1 | grep -F "$CLI_IP"; }
check "knock-server --fw-list prints it" fw_list_shows "$KNOCK_SERVER" -c "$CONF"
check "both removed it after the expiry" wait_until $((TIMEOUT + 30)) neither_grant
check "same chains after the expiry" same_chains
log_mark
check "fwknop sends" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP" 60
check "both chains hold the grant" wait_until 30 both_grant
in_fwd "$KNOCK_SERVER" -c "$CONF" --fw-flush >/dev/null 2>&1
in_fwd "$FWKNOPD" -c "$ORACLE_CONF" -a "$ACCESS" --fw-flush >/dev/null 2>&1
check "--fw-flush removed knock's chain" no_chain KNOCK_INPUT
check "--fw-flush removed fwknopd's chain" no_chain FWKNOP_INPUT
check "same (no) chains after --fw-flush" same_chains
stop_all() {  # TERM, and time for the FLUSH_*_AT_EXIT calls of a slow firewall-cmd
    local p
    for p in "$SERVER_PID" "$ORACLE_PID"; do kill -TERM "$p" 2>/dev/null; done
    wait_until 300 bash -c "! kill -0 $SERVER_PID 2>/dev/null && ! kill -0 $ORACLE_PID 2>/dev/null"
    kill_pid "$SERVER_PID"; kill_pid "$ORACLE_PID"; SERVER_PID=""; ORACLE_PID=""
}
stop_all
check "exit left no chain of either" bash -c "! ip netns exec '$NS_SRV' iptables -S | grep -q '_INPUT'"

note "part 1b: ENABLE_FIREWD_OUTPUT and the NAT switches (forwarding, local NAT, SNAT / MASQUERADE)"
# Each chain of both: table, kind (fwknopd's FWKNOP_<kind>, knock's KNOCK_<kind>), the chain
# that jumps to it.
TABLE_CHAINS="filter:INPUT:INPUT filter:OUTPUT:OUTPUT filter:FORWARD:FORWARD nat:PREROUTING:PREROUTING nat:POSTROUTING:POSTROUTING nat:MASQUERADE:POSTROUTING"
# chain_lines PREFIX SWITCH VALUE...: the FIREWD_*_ACCESS lines for chains PREFIX_*, then the
# switches, one "NAME VALUE" line each
chain_lines() {
    local p=$1; shift
    printf '%s %s\n' \
        FIREWD_INPUT_ACCESS "ACCEPT, filter, INPUT, 1, ${p}_INPUT, 1" \
        FIREWD_OUTPUT_ACCESS "ACCEPT, filter, OUTPUT, 1, ${p}_OUTPUT, 1" \
        FIREWD_FORWARD_ACCESS "ACCEPT, filter, FORWARD, 1, ${p}_FORWARD, 1" \
        FIREWD_DNAT_ACCESS "DNAT, nat, PREROUTING, 1, ${p}_PREROUTING, 1" \
        FIREWD_SNAT_ACCESS "SNAT, nat, POSTROUTING, 1, ${p}_POSTROUTING, 1" \
        FIREWD_MASQUERADE_ACCESS "MASQUERADE, nat, POSTROUTING, 1, ${p}_MASQUERADE, 1" "$@"
}
# all_rules PREFIX: each chain PREFIX_<kind> (as X_<kind>) and the jumps to it, _exp_ times as T
all_rules() {
    local tc table kind from
    for tc in $TABLE_CHAINS; do
        IFS=: read -r table kind from <<<"$tc"
        echo "[$table $kind]"
        in_ns "$NS_SRV" iptables -t "$table" -S "${1}_$kind" 2>/dev/null | sed "s/${1}_/X_/g; s/_exp_[0-9]*/_exp_T/"
        in_ns "$NS_SRV" iptables -t "$table" -S "$from" 2>/dev/null | grep -- "-j ${1}_$kind\$" | sed "s/${1}_/X_/g"
    done
}
all_times() {
    local tc table kind from
    for tc in $TABLE_CHAINS; do
        IFS=: read -r table kind from <<<"$tc"
        in_ns "$NS_SRV" iptables -t "$table" -S "${1}_$kind" 2>/dev/null | grep -o '_exp_[0-9]*' | cut -c6-
    done
}
same_all() {
    local a b; a=$(all_rules FWKNOP); b=$(all_rules KNOCK)
    [ "$a" = "$b" ] || { diff <(echo "$a") <(echo "$b") | sed 's/^</fwknopd:/; s/^>/knock:/'; return 1; }
    paste <(all_times FWKNOP) <(all_times KNOCK) |
        awk '{ d = $1 - $2; if (d < -10 || d > 10) bad = 1 } END { exit bad }' || {
        echo "times differ: $(all_times FWKNOP | tr '\n' ' ')/ $(all_times KNOCK | tr '\n' ' ')"
        return 1
    }
    echo "same: $(grep -c -- '_exp_T' <<<"$b") rules: $(grep -- '_exp_T' <<<"$b" | tr '\n' '|')"
}
count_rules() { all_rules "$1" | grep -c -- '_exp_T'; }
both_count() { [ "$(count_rules FWKNOP)" = "$1" ] && [ "$(count_rules KNOCK)" = "$1" ]; }
# nat_round NAME SWITCH VALUE...: both daemons with these switches (and the chain lines); a plain
# packet, a NAT packet and a local NAT packet; the same chains after each and after the expiry;
# the same (no) chains after both exit.
# The grants last NAT_TIMEOUT s: long enough for all three packets to be checked before the first
# expires (firewall-cmd takes seconds per call).
NAT_TO=192.168.77.5 NAT_TIMEOUT=60  # the three packets took 20 s at most here, on a loaded machine
nat_round() {
    local name=$1; shift
    note "$name"
    e2e_conf FIREWALL_TYPE firewalld KNOCK_USER root
    chain_lines KNOCK "$@" >>"$CONF"
    e2e_access FW_ACCESS_TIMEOUT "$NAT_TIMEOUT"
    chmod 600 "$ACCESS"
    printf 'PCAP_INTF %s\nFIREWALL_EXE %s\nFWKNOP_RUN_DIR %s\n' "$IF_SRV_CLI" \
        "$(command -v firewall-cmd)" "$TMP/orun" >"$ORACLE_CONF"
    chain_lines FWKNOP "$@" >>"$ORACLE_CONF"
    oracle_start
    knock_start
    check "$name: the same chains and jumps at start" same_all
    local n=0 expected
    for packet in "plain:-A tcp/$PORT -a $CLI_IP" "NAT:-A tcp/$PORT -a $CLI_IP -N $NAT_TO:22" \
                  "local NAT:-A tcp/$PORT -a $CLI_IP --nat-local --nat-port $PORT"; do
        expected=${packet%%:*}
        [ "$expected" = NAT ] && [ "$NAT_FORWARD" != Y ] && continue
        [ "$expected" = "local NAT" ] && [ "$NAT_LOCAL" != Y ] && continue
        log_mark
        # shellcheck disable=SC2086  # the client's arguments
        check "$name: fwknop sends a $expected packet" fwknop_knock "$NS_CLI" "$SRV_IP" ${packet#*:}
        expect_accept "$CLI_IP" 60
        n=$((n + $(eval "echo \$RULES_${expected// /_}")))
        check "$name: both hold the $expected grant's $n rules so far" wait_until 60 both_count "$n"
        check "$name: the same chains after the $expected grant" same_all
    done
    check "$name: both removed every rule after the expiry" wait_until $((NAT_TIMEOUT + 40)) both_count 0
    check "$name: the same chains after the expiry" same_all
    stop_all
    check "$name: exit left no chain of either" bash -c "! ip netns exec '$NS_SRV' iptables-save | grep -qE ':(FWKNOP|KNOCK)_'"
}
# Rules per packet: plain (input + output), NAT (forward, DNAT, SNAT or MASQUERADE), local NAT
# (input, DNAT, SNAT or MASQUERADE).
NAT_FORWARD=Y NAT_LOCAL=Y RULES_plain=2 RULES_NAT=3 RULES_local_NAT=3
nat_round "output, forwarding, local NAT, SNAT to SNAT_TRANSLATE_IP" \
    ENABLE_FIREWD_OUTPUT Y ENABLE_FIREWD_FORWARDING Y ENABLE_FIREWD_LOCAL_NAT Y \
    ENABLE_FIREWD_SNAT Y SNAT_TRANSLATE_IP 10.1.2.3
NAT_FORWARD=Y NAT_LOCAL=N RULES_plain=1 RULES_NAT=3
nat_round "forwarding, SNAT without SNAT_TRANSLATE_IP (MASQUERADE)" \
    ENABLE_FIREWD_FORWARDING Y ENABLE_FIREWD_SNAT Y
NAT_FORWARD=N NAT_LOCAL=Y RULES_plain=1 RULES_local_NAT=2
nat_round "local NAT alone" ENABLE_FIREWD_LOCAL_NAT Y

note "part 2: knock's rich rules with --timeout: firewalld closes the grant itself"
RICH_TIMEOUT=15
e2e_conf FIREWALL_TYPE firewalld KNOCK_USER root KNOCK_FIREWD_RICH_RULES Y
e2e_access FW_ACCESS_TIMEOUT "$RICH_TIMEOUT"
chmod 600 "$ACCESS"
rich_has() { in_fwd firewall-cmd --list-rich-rules 2>&1 | grep -F "source address=\"$CLI_IP\" port port=\"$PORT\" protocol=\"tcp\" accept"; }
rich_lacks() { ! rich_has; }
# tcp_closed NS HOST PORT: the connect fails on the firewall: firewalld's zone rejects (ICMP
# host-prohibited: "No route to host"), a drop times out (a refused connect would mean no listener)
tcp_closed() {
    local out rc
    out=$(tcp_ok "$@"); rc=$?
    echo "$out"
    [ "$rc" -ne 0 ] && grep -qE "timed out|No route to host" <<<"$out"
}
knock_start
check "client cannot connect to tcp/$PORT before the knock (firewalld's zone)" tcp_closed "$NS_CLI" "$SRV_IP" "$PORT"
log_mark
check "fwknop sends" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP" 60
check "the zone holds the rich rule" wait_until 20 rich_has
check "client connects to tcp/$PORT" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""
check "with knock-server killed -9, firewalld removes the rule at its timeout" wait_until $((RICH_TIMEOUT + 15)) rich_lacks
check "client cannot connect to tcp/$PORT after it" tcp_closed "$NS_CLI" "$SRV_IP" "$PORT"

note "part 3: refusals"
e2e_conf FIREWALL_TYPE firewalld KNOCK_USER root KNOCK_FIREWD_RICH_RULES Y KNOCK_FIREWD_ZONE nozone
reply=$(in_fwd "$KNOCK_SERVER" -f -c "$CONF" -a "$ACCESS" 2>&1 </dev/null); rc=$?
refused_with() { [ "$rc" -ne 0 ] && grep -- "$1" <<<"$reply"; }
check "knock-server refuses a zone that does not exist (exit $rc)" refused_with "zone 'nozone' does not exist"
kill_pid "$FWD_PID"
e2e_conf FIREWALL_TYPE firewalld KNOCK_USER root
reply=$(in_fwd "$KNOCK_SERVER" -f -c "$CONF" -a "$ACCESS" 2>&1 </dev/null); rc=$?
check "knock-server refuses to start without a running firewalld (exit $rc)" refused_with "firewalld is not running"

e2e_finish
