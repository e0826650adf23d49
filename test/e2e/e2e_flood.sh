#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_flood.sh KNOCK_SERVER KNOCK_CLIENT KNOCK_SEAL - issue #7: a garbage flood with valid packets
# interleaved; every valid one is granted. knock-server captures with pcap on its veth in the
# server namespace (nftables there); the client namespace (no default route) sends, unpaced, a
# bounded flood (FLOOD_COUNT datagrams, at most FLOOD_SECONDS) of base64 and binary garbage to
# the SPA port with VALID unique valid packets (knock_seal) spread through it. Then: every valid
# packet has its "accepted" line and its element in the nft set, nothing else was accepted, the
# refusals were logged within the budget (the rest summed up in "suppressed" lines), the daemon
# still runs and still takes a knock from the real fwknop client. Phase 2 repeats the flood with
# a CPU hog (a bounded busy loop) competing for the cores. Prints the flood rates and how many
# datagrams the daemon saw of those sent, and where else datagrams could have been lost.
#
# Knobs (environment): FLOOD_COUNT (150000), FLOOD_SECONDS (20), VALID (30), FLOOD_CONF (more
# fwknopd.conf "VAR value" pairs, e.g. "ENABLE_DIGEST_PERSISTENCE N").
source "$(dirname "$0")/lib.sh"
KNOCK_SEAL=${3:-}
e2e_init "$@"
[ -x "$KNOCK_SEAL" ] || die "knock_seal not executable: ${KNOCK_SEAL:-(not given)}"
SENDER="$(cd "$E2E_DIR/../tools" && pwd)/flood_sender.py"
[ -r "$SENDER" ] || die "no $SENDER"
FLOOD_COUNT=${FLOOD_COUNT:-150000}
FLOOD_SECONDS=${FLOOD_SECONDS:-20}
VALID=${VALID:-30}
BUDGET=20  # refusal lines per second (knock::observe::refusal_budget's default)

e2e_topology
# shellcheck disable=SC2086  # FLOOD_CONF: "VAR value" pairs, split on purpose
e2e_conf FIREWALL_TYPE nftables KNOCK_NFT_TABLE knock ${FLOOD_CONF:-}
e2e_access FW_ACCESS_TIMEOUT 120
e2e_server_start

# The valid packets of a phase: one grant each, for 10.99.PHASE.1..VALID (not the sender's own
# address: the stanza allows any, and distinct addresses make distinct nft elements).
make_valid() {
    local phase=$1 i
    for i in $(seq "$VALID"); do
        "$KNOCK_SEAL" --key-b64 "$KEY_B64" --hmac-key-b64 "$HMAC_B64" \
            --message "10.99.$phase.$i,tcp/$PORT" || return 1
    done >"$TMP/valid.$phase"
    [ "$(grep -c . "$TMP/valid.$phase")" -eq "$VALID" ]
}

granted_lines() { # phase: accepted lines of this phase's grants
    log_since_mark | grep -c "packet from $CLI_IP: accepted by stanza 1: open 10\\.99\\.$1\\.[0-9]* tcp/$PORT for 120 s"
}
all_granted() { [ "$(granted_lines "$1")" -ge "$VALID" ]; }
granted_exactly() { # phase
    local n
    n=$(granted_lines "$1")
    echo "granted $n of $VALID"
    [ "$n" -eq "$VALID" ]
}
every_element() { # phase: every grant of the phase is an element of allowed_v4
    local set i missing=""
    set=$(in_ns "$NS_SRV" nft list set inet knock allowed_v4) || return 1
    for i in $(seq "$VALID"); do
        grep -q -- "[^0-9.]10\\.99\\.$1\\.$i \\. tcp \\. $PORT" <<<"$set" || missing+=" 10.99.$1.$i"
    done
    [ -z "$missing" ] || { echo "missing:$missing"; return 1; }
    echo "$VALID elements 10.99.$1.* . tcp . $PORT"
}
nothing_else_accepted() { # phase: the phase's accepted lines are exactly its valid packets
    local accepted
    accepted=$(log_since_mark | grep -c ': accepted by stanza')
    echo "$accepted accepted lines"
    [ "$accepted" -eq "$VALID" ] && [ "$(granted_lines "$1")" -eq "$VALID" ]
}
# refusal accounting since log_mark: lines written, and the sum of the "suppressed" summaries
refused_lines() { log_since_mark | grep -c ': refused: '; }
suppressed_sum() {
    log_since_mark | sed -n 's/^suppressed \([0-9]*\) refusal(s) in the last \([0-9]*\) s:.*/\1/p' |
        awk '{s += $1} END {print s + 0}'
}
summaries() { log_since_mark | grep -c '^suppressed [0-9]* refusal(s) in the last [0-9]* s: '; }
within_budget() { # seconds the flood took: refusal lines <= budget x (its seconds + the waits)
    local lines most
    lines=$(refused_lines)
    most=$(awk "BEGIN{print int($BUDGET * ($1 + 16))}")
    echo "$lines refusal lines (at most $most), $(summaries) summaries"
    [ "$lines" -gt 0 ] && [ "$lines" -le "$most" ] && [ "$(summaries)" -gt 0 ]
}

# Where datagrams could be lost besides the daemon's capture ring: the kernel's per-CPU backlog
# (softnet_stat, column 2, all CPUs) and the server's veth; and the daemon's CPU time (ticks).
softnet_drops() {
    local _ d s=0
    while read -r _ d _; do s=$((s + 16#$d)); done </proc/net/softnet_stat
    echo "$s"
}
veth_drops() { in_ns "$NS_SRV" cat "/sys/class/net/$IF_SRV_CLI/statistics/rx_dropped"; }
daemon_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat" 2>/dev/null || echo 0; }

flood_phase() { # phase, title
    local phase=$1 out secs lines seen
    note "phase $phase: $2"
    check "knock_seal makes $VALID valid packets" make_valid "$phase"
    log_mark
    local drops0 veth0 ticks0 t0
    drops0=$(softnet_drops) veth0=$(veth_drops) ticks0=$(daemon_ticks) t0=$(date +%s%3N)
    out=$(in_ns "$NS_CLI" "$PYTHON" "$SENDER" "$SRV_IP" "$SPA_PORT" "$TMP/valid.$phase" \
        "$FLOOD_COUNT" "$FLOOD_SECONDS" "$phase" 2>&1)
    local rc=$?
    if [ "$rc" -eq 0 ]; then pass "the flood was sent" "$out"; else fail "the flood was sent" "$out"; fi
    FLOOD_LINE=$out
    SENT=$(sed -n 's/^sent \([0-9]*\) garbage + \([0-9]*\) valid.*/\1 \2/p' <<<"$out" | awk '{print $1 + $2}')
    secs=$(sed -n 's/.* in \([0-9.]*\) s .*/\1/p' <<<"$out")
    # The daemon works through its backlog; the last summary comes with the next line it logs.
    wait_until 15 all_granted "$phase"
    note "phase $phase: all granted or given up $(( $(date +%s%3N) - t0 )) ms after the flood began; daemon CPU $(( ($(daemon_ticks) - ticks0) * 1000 / $(getconf CLK_TCK) )) ms; kernel backlog drops $(( $(softnet_drops) - drops0 )), veth rx drops $(( $(veth_drops) - veth0 ))"
    check "knock-server is still running after the flood" kill -0 "$SERVER_PID"
    check "every valid packet sent during the flood was granted ($VALID 'accepted' lines)" \
        granted_exactly "$phase"
    check "every grant is an element of nft set allowed_v4" every_element "$phase"
    check "no garbage was accepted" nothing_else_accepted "$phase"
    note "after the flood: the real fwknop client still gets in (and flushes the last summary)"
    check "fwknop sends a packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "10.98.$phase.1"
    check "knock-server grants it" wait_until 10 log_has "packet from $CLI_IP: accepted by stanza 1: open 10.98.$phase.1 tcp/$PORT"
    check "refusals were logged within the budget ($BUDGET/s, the rest summed up)" \
        within_budget "${secs:-0}"
    lines=$(refused_lines)
    seen=$(( $(suppressed_sum) + lines + $(log_since_mark | grep -c ': accepted by stanza') ))
    note "phase $phase: $FLOOD_LINE; the daemon handled $seen of $((SENT + 1)) datagrams ($lines refusal lines, $(suppressed_sum) suppressed in $(summaries) summaries)"
    [ "$seen" -lt $((SENT + 1)) ] &&
        note "phase $phase: $((SENT + 1 - seen)) datagrams lost; not in the backlog or the veth (above): the capture ring was full"
    return 0
}

flood_phase 1 "unpaced flood, nothing else running"

# A CPU hog (bounded: it stops by itself) competing with the sender and the daemon.
bg_in_ns "$NS_SRV" timeout 40 sh -c 'while :; do :; done'
hog_pid=$BG_PID
flood_phase 2 "the same flood with a CPU hog"
kill_pid "$hog_pid"

e2e_finish
