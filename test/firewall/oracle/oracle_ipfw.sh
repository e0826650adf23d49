#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2034  # functions run via check/wait_until
# oracle_ipfw.sh KNOCK_SERVER KNOCK_CLIENT TARBALL CACHE_DIR - issue #16: FIREWALL_TYPE ipfw
# against fwknopd.
#
# fwknopd 2.6.11 built for ipfw (build_fwknopd.sh: once, cached in CACHE_DIR by the tarball's
# hash) and knock-server run side by side in one server namespace, each with its own copy of the
# recording ipfw stub (fwstub.py), both capturing the same SPA packets from the real fwknop client.
# After each grant, expiry (the rule moved to the disabled expire set), --fw-list, --fw-flush and
# exit, the two stubs hold the same rules in the same sets (the _exp_ times within 2 s). Both run
# with IPFW_EXPIRE_PURGE_INTERVAL at its maximum: fwknopd 2.6.11 never purges, knock does
# (firewall_stub_test covers it). Then the refusals: a full rule range (both refuse the grant), bad
# IPFW_* values (file:line), ipfw failing under the running daemon.
source "$(dirname "$0")/../../e2e/lib.sh"
TARBALL=${3:?usage: $0 KNOCK_SERVER KNOCK_CLIENT TARBALL CACHE_DIR} CACHE=${4:?no CACHE_DIR}
[ -r "$TARBALL" ] || { echo "SKIP: no fwknop reference tarball at $TARBALL"; exit 77; }
e2e_init "$1" "$2"
STUB="$(dirname "$0")/fwstub.py"
"$(dirname "$0")/build_fwknopd.sh" "$TARBALL" "$CACHE"; rc=$?
[ $rc = 77 ] && skip "cannot build the oracle fwknopd"
[ $rc = 0 ] || die "building the oracle fwknopd failed"
FWKNOPD="$CACHE/current/fwknopd-ipfw"
TIMEOUT=30  # long enough for the slowest machine to look at both rule sets during a grant

e2e_topology
"$PYTHON" "$STUB" init "$TMP/fw-oracle" ipfw || die "stub"
"$PYTHON" "$STUB" init "$TMP/fw-knock" ipfw || die "stub"
e2e_conf FIREWALL_TYPE ipfw FIREWALL_EXE "$TMP/fw-knock/ipfw" IPFW_EXPIRE_PURGE_INTERVAL 131071
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"

mkdir -m 700 "$TMP/orun"
ORACLE_CONF="$TMP/oracle.conf"
cat >"$ORACLE_CONF" <<EOF
PCAP_INTF                   $IF_SRV_CLI
FIREWALL_EXE                $TMP/fw-oracle/ipfw
FWKNOP_RUN_DIR              $TMP/orun
IPFW_EXPIRE_PURGE_INTERVAL  131071
EOF
chmod 600 "$ORACLE_CONF"
ORACLE_PID=""
oracle_start() {
    : >"$TMP/oracle.log"
    ip netns exec "$NS_SRV" "$FWKNOPD" -f -c "$ORACLE_CONF" -a "$ACCESS" -d "$TMP/orun/digest" \
        -p "$TMP/orun/fwknopd.pid" -i "$IF_SRV_CLI" "$@" </dev/null >>"$TMP/oracle.log" 2>&1 &
    ORACLE_PID=$!
    BG_PIDS+=("$ORACLE_PID")
    # after its firewall set-up and the capture: "main event loop"
    wait_until 30 grep -q "main event loop" "$TMP/oracle.log" || { cat "$TMP/oracle.log"; die "fwknopd did not start"; }
}
oracle_stop() { kill_pid "$ORACLE_PID"; ORACLE_PID=""; }
same_state() { "$PYTHON" "$STUB" compare "$TMP/fw-oracle" "$TMP/fw-knock"; }
rules_in() { grep -qF -- "$2" "$TMP/$1/state.json"; }  # stub, text (cheap: no python)
both_have() { rules_in fw-oracle "$1" && rules_in fw-knock "$1"; }
neither_has() { ! rules_in fw-oracle "$1" && ! rules_in fw-knock "$1"; }
active_grant() { echo "\"set\": 1, \"body\": \"allow tcp from $CLI_IP"; }
expired_grant() { echo "\"set\": 2, \"body\": \"allow tcp from $CLI_IP"; }
fw_list_shows() { in_ns "$NS_SRV" "$@" --fw-list 2>&1 | grep -F "from $CLI_IP to me dst-port $PORT"; }
knock_calls_ok() {
    local bad; bad=$(tail -n +"${1:-1}" "$TMP/fw-knock/calls.log" | grep -v '"rc": 0}')
    [ -z "$bad" ] || { echo "$bad"; return 1; }
    echo "$(tail -n +"${1:-1}" "$TMP/fw-knock/calls.log" | wc -l) calls, all accepted"
}

note "start-up: both empty the active set and disable the expire set"
oracle_start
e2e_server_start
check "both disabled set 2" both_have '"disabled": [2]'
check "same rules and sets" same_state

note "grant: fwknop -A tcp/$PORT"
log_mark
check "fwknop sends" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "both added rule 10000 to set 1" wait_until 20 both_have '"num": 10000, "set": 1'
check "same rules after the grant" same_state
check "knock-server --fw-list prints the rule" fw_list_shows "$KNOCK_SERVER" -c "$CONF"
check "fwknopd --fw-list prints it too" fw_list_shows "$FWKNOPD" -c "$ORACLE_CONF" -a "$ACCESS"
check "same rules after --fw-list" same_state

note "a second grant takes the next number; expiry moves both to the disabled set"
log_mark
check "fwknop sends" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "both added rule 10001" wait_until 20 both_have '"num": 10001, "set": 1'
check "same rules with two grants" same_state
check "both moved the grants to set 2 after the expiry" wait_until $((TIMEOUT + 20)) neither_has "$(active_grant)"
check "same rules after the expiry" same_state
check "the expired rules are in the disabled set 2" both_have "$(expired_grant)"

note "--fw-flush during a grant"
log_mark
check "fwknop sends" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "both hold the grant" wait_until 20 both_have "$(active_grant)"
in_ns "$NS_SRV" "$KNOCK_SERVER" -c "$CONF" --fw-flush >/dev/null 2>&1
in_ns "$NS_SRV" "$FWKNOPD" -c "$ORACLE_CONF" -a "$ACCESS" --fw-flush >/dev/null 2>&1
check "neither holds an active grant after --fw-flush" neither_has "$(active_grant)"
check "same rules after --fw-flush (the expire set stays)" same_state
check "every ipfw call knock made was accepted (ipfw's grammar)" knock_calls_ok 1

note "ipfw failing under the running daemon: the grant is refused with its reason"
"$PYTHON" "$STUB" set "$TMP/fw-knock" broken '"fail"'
log_mark
check "fwknop sends" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
check "knock-server logs the refusal with ipfw's message" wait_until 10 log_has "broken (test hook)"
check "knock-server still runs" kill -0 "$SERVER_PID"
"$PYTHON" "$STUB" set "$TMP/fw-knock" broken null

note "exit: both empty the active set"
e2e_server_stop
oracle_stop
check "neither holds an active grant after both stopped" neither_has '"set": 1,'
check "same rules after both stopped" same_state

note "a full rule range: both refuse the grant"
for d in fw-oracle fw-knock; do "$PYTHON" "$STUB" init "$TMP/$d" ipfw; done
e2e_conf FIREWALL_TYPE ipfw FIREWALL_EXE "$TMP/fw-knock/ipfw" IPFW_START_RULE_NUM 65534 IPFW_MAX_RULES 1 \
    IPFW_EXPIRE_PURGE_INTERVAL 131071
e2e_access FW_ACCESS_TIMEOUT 300  # no expiry during this part
echo "IPFW_START_RULE_NUM 65534" >>"$ORACLE_CONF"
echo "IPFW_MAX_RULES 1" >>"$ORACLE_CONF"
oracle_start
e2e_server_start
log_mark
check "fwknop sends" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "both took 65534" wait_until 20 both_have '"num": 65534, "set": 1'
sleep 1
log_mark
check "fwknop sends a second request" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
check "knock-server refuses it: no free rule number" wait_until 10 log_has "no free rule number in 65534..65534"
check "fwknopd refuses it too" wait_until 10 grep -q "Maximum allowed number of rules" "$TMP/oracle.log"
check "same rules: one grant each" same_state
e2e_server_stop
oracle_stop

note "refusals at start-up (-D)"
for bad in "IPFW_START_RULE_NUM 0" "IPFW_START_RULE_NUM 65535" "IPFW_MAX_RULES 131072" \
    "IPFW_ACTIVE_SET_NUM 3|IPFW_EXPIRE_SET_NUM 3" "IPFW_EXPIRE_SET_NUM 32" \
    "IPFW_EXPIRE_PURGE_INTERVAL 0" "IPFW_ADD_CHECK_STATE maybe" "FLUSH_IPFW_AT_EXIT x"; do
    grep -v "^IPFW_\|^FLUSH_IPFW" "$CONF" >"$TMP/bad.conf"
    tr '|' '\n' <<<"$bad" >>"$TMP/bad.conf"
    last=${bad##*|}
    reply=$(in_ns "$NS_SRV" "$KNOCK_SERVER" -D -c "$TMP/bad.conf" -a "$ACCESS" 2>&1); rc=$?
    refused_with() { [ "$rc" -ne 0 ] && grep -- "$1" <<<"$reply"; }
    check "knock-server -D refuses '$bad' with file:line (exit $rc)" refused_with "bad.conf:[0-9]*: ${last%% *}"
done
grep -v "^IPFW_\|^FLUSH_IPFW" "$CONF" >"$TMP/good.conf"
printf 'IPFW_ACTIVE_SET_NUM 0\nIPFW_EXPIRE_SET_NUM 0\nIPFW_ADD_CHECK_STATE Y\nFLUSH_IPFW_AT_INIT N\n' >>"$TMP/good.conf"
check "knock-server -D accepts sets 0/0, IPFW_ADD_CHECK_STATE Y, FLUSH_IPFW_AT_INIT N" \
    in_ns "$NS_SRV" "$KNOCK_SERVER" -D -c "$TMP/good.conf" -a "$ACCESS"

if [ "$FAILED" -gt 0 ]; then  # what each side ran, for the failure report
    for d in fw-oracle fw-knock; do echo "---- $d calls ----"; tail -n 40 "$TMP/$d/calls.log"; done
    echo "---- fwknopd log ----"; tail -n 40 "$TMP/oracle.log"
fi
e2e_finish
