#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2034  # functions run via check/wait_until
# oracle_pf.sh KNOCK_SERVER KNOCK_CLIENT TARBALL CACHE_DIR - issue #16: FIREWALL_TYPE pf against
# fwknopd.
#
# fwknopd 2.6.11 built for PF (build_fwknopd.sh: once, cached in CACHE_DIR by the tarball's hash) and knock-server run side by side
# in one server namespace, each with its own copy of the recording pfctl stub (fwstub.py), both
# capturing the same SPA packets from the real fwknop client. After each grant, expiry,
# --fw-list, --fw-flush and exit, the two stubs' anchors must hold the same rules (the _exp_ times
# within 2 s: the daemons see a packet a moment apart), and every pfctl call knock made must be
# one pfctl's grammar accepts. Then the refusals: an anchor pf.conf does not refer to, a bad
# PF_ANCHOR_NAME / PF_EXPIRE_INTERVAL, and pfctl failing or hanging under a running daemon.
source "$(dirname "$0")/../../e2e/lib.sh"
TARBALL=${3:?usage: $0 KNOCK_SERVER KNOCK_CLIENT TARBALL CACHE_DIR} CACHE=${4:?no CACHE_DIR}
[ -r "$TARBALL" ] || { echo "SKIP: no fwknop reference tarball at $TARBALL"; exit 77; }
e2e_init "$1" "$2"
STUB="$(dirname "$0")/fwstub.py"
"$(dirname "$0")/build_fwknopd.sh" "$TARBALL" "$CACHE"; rc=$?
[ $rc = 77 ] && skip "cannot build the oracle fwknopd"
[ $rc = 0 ] || die "building the oracle fwknopd failed"
FWKNOPD="$CACHE/current/fwknopd-pf"
TIMEOUT=30  # long enough for the slowest machine to look at both anchors during a grant

e2e_topology
"$PYTHON" "$STUB" init "$TMP/fw-oracle" pfctl '{"referenced": ["fwknop"]}' || die "stub"
"$PYTHON" "$STUB" init "$TMP/fw-knock" pfctl '{"referenced": ["fwknop"]}' || die "stub"
e2e_conf FIREWALL_TYPE pf FIREWALL_EXE "$TMP/fw-knock/pfctl"
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"
sed -i "s|^OPEN_PORTS .*|OPEN_PORTS          tcp/$PORT,udp/$OPEN_PORT|" "$ACCESS"

# fwknopd's own files: the same access.conf, its own run dir and digest cache
mkdir -m 700 "$TMP/orun"
ORACLE_CONF="$TMP/oracle.conf"
cat >"$ORACLE_CONF" <<EOF
PCAP_INTF                 $IF_SRV_CLI
FIREWALL_EXE              $TMP/fw-oracle/pfctl
FWKNOP_RUN_DIR            $TMP/orun
ENABLE_SPA_PACKET_AGING   Y
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
state() { "$PYTHON" "$STUB" state "$TMP/$1"; }
# same_state: the anchors agree (rules without times; times within 2 s)
same_state() { "$PYTHON" "$STUB" compare "$TMP/fw-oracle" "$TMP/fw-knock"; }
rules_in() { grep -qF -- "$2" "$TMP/$1/state.json"; }  # stub, text in a rule (cheap: no python)
anchor_empty() { ! grep -q '"pass ' "$TMP/$1/state.json"; }
both_have() { rules_in fw-oracle "$1" && rules_in fw-knock "$1"; }
both_empty() { anchor_empty fw-oracle && anchor_empty fw-knock; }
# fw_list_shows PROGRAM...: its --fw-list output has the client's rule
fw_list_shows() { in_ns "$NS_SRV" "$@" --fw-list 2>&1 | grep -F "from $CLI_IP to any port = $PORT"; }
# every call knock made exited 0 (pfctl's grammar accepted it), since line $1 of its log
knock_calls_ok() {
    local bad; bad=$(tail -n +"${1:-1}" "$TMP/fw-knock/calls.log" | grep -v '"rc": 0}')
    [ -z "$bad" ] || { echo "$bad"; return 1; }
    echo "$(tail -n +"${1:-1}" "$TMP/fw-knock/calls.log" | wc -l) calls, all accepted"
}
knock_calls_have() { grep -qF -- "$1" "$TMP/fw-knock/calls.log"; }

note "start-up: both check the anchor is referenced and empty it"
oracle_start
e2e_server_start
check "knock asked pfctl -s Anchors" knock_calls_have '"argv": ["-s", "Anchors"]'
check "knock emptied the anchor without killing states (-F rules)" knock_calls_have '["-a", "fwknop", "-F", "rules"]'
check "both anchors empty" same_state

note "grant: fwknop -A tcp/$PORT"
log_mark
check "fwknop sends" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "fwknopd added its rule" wait_until 10 rules_in fw-oracle "from $CLI_IP"
check "knock added its rule" wait_until 10 rules_in fw-knock "from $CLI_IP"
check "same anchor after the grant" same_state
check "knock-server --fw-list prints the rule" fw_list_shows "$KNOCK_SERVER" -c "$CONF"
check "fwknopd --fw-list prints it too" fw_list_shows "$FWKNOPD" -c "$ORACLE_CONF" -a "$ACCESS"
check "same anchor after --fw-list" same_state

note "grant of two ports (one rule set load for knock), then expiry"
log_mark
check "fwknop sends" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT,udp/$OPEN_PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "fwknopd added the udp rule" wait_until 20 rules_in fw-oracle "udp from $CLI_IP"
check "knock added the udp rule" wait_until 20 rules_in fw-knock "udp from $CLI_IP"
check "same anchor with three grant rules" same_state
check "both anchors empty after the expiry" wait_until $((TIMEOUT + 10)) both_empty
check "same anchor after the expiry" same_state

note "--fw-flush during a grant"
log_mark
check "fwknop sends" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "both hold the grant" wait_until 10 both_have "from $CLI_IP"
in_ns "$NS_SRV" "$KNOCK_SERVER" -c "$CONF" --fw-flush >/dev/null 2>&1
in_ns "$NS_SRV" "$FWKNOPD" -c "$ORACLE_CONF" -a "$ACCESS" --fw-flush >/dev/null 2>&1
check "both anchors empty after --fw-flush" anchor_empty fw-knock
check "same anchor after --fw-flush" same_state
check "knock never flushed the host's states (fwknopd's -F all does)" \
    bash -c "! grep -q states_flushed '$TMP/fw-knock/state.json'"

note "the tool failing under the running daemon: the grant is refused with its reason"
check "every pfctl call knock made so far was accepted (pfctl's grammar)" knock_calls_ok 1
"$PYTHON" "$STUB" set "$TMP/fw-knock" broken '"fail"'
log_mark
check "fwknop sends" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
check "knock-server logs the refusal with pfctl's message" wait_until 10 log_has "broken (test hook)"
check "knock-server still runs" kill -0 "$SERVER_PID"
"$PYTHON" "$STUB" set "$TMP/fw-knock" broken null
mark=$(($(wc -l <"$TMP/fw-knock/calls.log") + 1))
log_mark
sleep 1  # a new timestamp: fwknop's random field makes it a new packet anyway
check "fwknop sends again" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "the next grant works once pfctl does" wait_until 10 rules_in fw-knock "from $CLI_IP"
check "every pfctl call knock made since was accepted" knock_calls_ok "$mark"

note "exit: both empty the anchor"
e2e_server_stop
oracle_stop
check "same (empty) anchor after both stopped" same_state
check "knock's anchor is empty" anchor_empty fw-knock
check "every pfctl call knock made after the broken phase was accepted" knock_calls_ok "$mark"

note "refusals at start-up"
"$PYTHON" "$STUB" set "$TMP/fw-knock" referenced '[]'
"$PYTHON" "$STUB" set "$TMP/fw-oracle" referenced '[]'
reply=$(in_ns "$NS_SRV" "$KNOCK_SERVER" -f -c "$CONF" -a "$ACCESS" 2>&1 </dev/null); rc=$?
refused_with() { [ "$rc" -ne 0 ] && grep -- "$1" <<<"$reply"; }
check "knock-server refuses an anchor pf.conf does not refer to (exit $rc)" \
    refused_with "anchor 'fwknop' is not referenced"
oout=$(timeout 10 ip netns exec "$NS_SRV" "$FWKNOPD" -f -c "$ORACLE_CONF" -a "$ACCESS" \
    -d "$TMP/orun/digest" -p "$TMP/orun/fwknopd.pid" 2>&1 </dev/null); orc=$?
check "fwknopd refuses it too (exit $orc)" bash -c "[ $orc -ne 0 ] && [ $orc -ne 124 ]"
for bad in "PF_ANCHOR_NAME _fwknop" "PF_ANCHOR_NAME a b" "PF_EXPIRE_INTERVAL 0" \
    "PF_EXPIRE_INTERVAL 131072" "FIREWALL_EXE relative/pfctl"; do
    cp "$CONF" "$TMP/bad.conf"
    grep -v "^${bad%% *} " "$CONF" >"$TMP/bad.conf"
    echo "$bad" >>"$TMP/bad.conf"
    reply=$(in_ns "$NS_SRV" "$KNOCK_SERVER" -D -c "$TMP/bad.conf" -a "$ACCESS" 2>&1); rc=$?
    check "knock-server -D refuses '$bad' with file:line (exit $rc)" \
        refused_with "bad.conf:[0-9]*: ${bad%% *}"
done
cp "$CONF" "$TMP/good.conf"
echo "PF_ANCHOR_NAME knock/grants" >>"$TMP/good.conf"
echo "PF_EXPIRE_INTERVAL 131071" >>"$TMP/good.conf"
check "knock-server -D accepts PF_ANCHOR_NAME knock/grants, PF_EXPIRE_INTERVAL 131071" \
    in_ns "$NS_SRV" "$KNOCK_SERVER" -D -c "$TMP/good.conf" -a "$ACCESS"

note "pfctl hanging: the grant is refused after the timeout, the daemon keeps running"
"$PYTHON" "$STUB" set "$TMP/fw-knock" referenced '["fwknop"]'
e2e_server_start
"$PYTHON" "$STUB" set "$TMP/fw-knock" broken '"hang"'
log_mark
check "fwknop sends" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
check "knock-server logs the timed-out pfctl" wait_until 20 log_has "timed out"
check "knock-server still runs" kill -0 "$SERVER_PID"
"$PYTHON" "$STUB" set "$TMP/fw-knock" broken null
e2e_server_stop

if [ "$FAILED" -gt 0 ]; then  # what each side ran, for the failure report
    for d in fw-oracle fw-knock; do echo "---- $d calls ----"; tail -n 40 "$TMP/$d/calls.log"; done
    echo "---- fwknopd log ----"; tail -n 40 "$TMP/oracle.log"
fi
e2e_finish
