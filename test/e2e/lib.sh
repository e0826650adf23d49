# shellcheck shell=bash disable=SC2034,SC2015  # variables for the scripts; "a && b || die"
# lib.sh - shared setup for knock's end-to-end tests (issue #4), sourced by test/e2e/e2e_*.sh.
#
#   source "$(dirname "$0")/lib.sh"
#   e2e_init "$@"                  # args: KNOCK_SERVER KNOCK_CLIENT; exits 77 unless root
#   e2e_topology [cli2]            # namespaces + veth pairs (below)
#   e2e_listener 2222; e2e_listener 2223
#   e2e_conf FIREWALL_TYPE nftables ...; e2e_access FW_ACCESS_TIMEOUT 3 ...
#   e2e_server_start [knock-server flags]
#   check "what" cmd...  /  check_not "what" cmd...
#   e2e_finish                     # prints "N passed, M failed", exit status
#
# Topology (all of it inside namespaces created here, removed on exit, names unique by $$):
#
#   NS_CLI  (CLI_IP,  CLI_IP6)  --veth--  NS_SRV (SRV_IP,  SRV_IP6)   client: no default route
#   NS_STR  (STR_IP,  STR_IP6)  --veth--  NS_SRV (SRV_STR_IP, ...)    the stranger, with a route
#                                                                     to the client link only, so
#                                                                     it reaches SRV_IP too
#   NS_CL2  (CL2_IP,  CL2_IP6)  --veth--  NS_SRV (SRV2_IP, ...)       second client (e2e_topology cli2)
#
# The server namespace's firewall is the only one touched (always with `ip netns exec`); the
# host's network and firewall are never changed. knock-server runs in NS_SRV in the foreground
# with its own fwknopd.conf / access.conf / run dir / pid file / digest file under $TMP.
# Every process started here is killed on exit by its pid, and then whatever still runs in our
# own namespaces (all of it started by this script).

set -uo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_NET="$E2E_DIR/e2e_net.py"
E2E_SCRIPT=$(basename "$0" .sh)
PASSED=0
FAILED=0
NS_MADE=()
BG_PIDS=()
TMP=""
SERVER_PID=""
PORT=2222          # the protected port
OPEN_PORT=2223     # an unprotected port: a positive control for routing
SPA_PORT=62201

# ---- reporting ------------------------------------------------------------

e2e_t0=$(date +%s%3N)
stamp() { local ms=$(( $(date +%s%3N) - e2e_t0 )); printf '[%3d.%03d]' $((ms / 1000)) $((ms % 1000)); }
note() { echo "$(stamp) ---- $*"; }
pass() { PASSED=$((PASSED + 1)); echo "$(stamp) PASS: $1${2:+  [$2]}"; }
fail() {
    FAILED=$((FAILED + 1))
    echo "$(stamp) FAIL: $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/        | /'
    return 0
}
# check WHAT CMD...: CMD must succeed. check_not WHAT CMD...: CMD must fail.
check() {
    local what=$1 out; shift
    if out=$("$@" 2>&1); then pass "$what" "$(tail -n1 <<<"$out")"; else fail "$what" "$out"; fi
}
check_not() {
    local what=$1 out; shift
    if out=$("$@" 2>&1); then fail "$what (it succeeded)" "$out"; else pass "$what" "$(tail -n1 <<<"$out")"; fi
}
die() { echo "$(stamp) ERROR: $*" >&2; FAILED=$((FAILED + 1)); e2e_dump_logs; exit 99; }
skip() { echo "SKIP: $*"; exit 77; }

e2e_dump_logs() {
    [ -n "$TMP" ] && [ -s "$TMP/server.log" ] || return 0
    echo "---- knock-server log ($E2E_SCRIPT) ----"
    sed 's/^/  /' "$TMP/server.log"
}

e2e_finish() {
    [ "$FAILED" -gt 0 ] && e2e_dump_logs
    echo "$E2E_SCRIPT: $PASSED passed, $FAILED failed ($(stamp | tr -d '[] ') s)"
    [ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
    exit $?
}

# ---- setup / cleanup ------------------------------------------------------

e2e_init() {
    [ $# -ge 2 ] || { echo "usage: $0 KNOCK_SERVER KNOCK_CLIENT" >&2; exit 2; }
    KNOCK_SERVER=$1
    KNOCK_CLIENT=$2
    [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, nftables/iptables)"
    local t
    for t in ip nft python3 socat fwknop ss; do
        command -v "$t" >/dev/null 2>&1 || skip "$t not found"
    done
    reap_stale_namespaces
    [ -x "$KNOCK_SERVER" ] || die "knock-server not executable: $KNOCK_SERVER"
    [ -x "$KNOCK_CLIENT" ] || die "knock-client not executable: $KNOCK_CLIENT"
    PYTHON=$(command -v python3)
    FWKNOP=$(command -v fwknop)
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/knock-e2e.XXXXXX") || die "mktemp failed"
    # knock-server starts as root and runs as nobody (its default KNOCK_USER here, where there is
    # no 'knock' account): like a real deployment, its run dir is its own and access.conf is
    # readable by its group (for reloads); the rest of $TMP stays root's.
    chmod 711 "$TMP"
    mkdir -m 700 "$TMP/run" "$TMP/home"
    chown nobody "$TMP/run"
    : >"$TMP/server.log"
    trap e2e_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    # fwknop --key-gen sizes: 32-byte AES key, 64-byte HMAC-SHA256 key
    KEY_B64=$("$PYTHON" -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')
    HMAC_B64=$("$PYTHON" -c 'import base64,os;print(base64.b64encode(os.urandom(64)).decode())')
}

# The namespaces of a test that was killed outright (SIGKILL: ctest's timeout) and so could not
# clean up: knock-e2e-PID-* whose PID is gone. Their processes are killed, the namespaces deleted.
reap_stale_namespaces() {
    local ns pid p
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^knock-e2e-[0-9]+-' || true); do
        pid=${ns#knock-e2e-}; pid=${pid%%-*}
        kill -0 "$pid" 2>/dev/null && continue
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null && echo "---- removed the namespace $ns of an earlier run that was killed" >&2
    done
    return 0
}

kill_pid() { # pid: TERM, up to 3 s, then KILL
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

e2e_cleanup() {
    local rc=$? ns p
    trap - EXIT INT TERM HUP
    [ -n "$SERVER_PID" ] && kill_pid "$SERVER_PID"
    for p in "${BG_PIDS[@]}"; do kill_pid "$p"; done
    for ns in "${NS_MADE[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill_pid "$p"; done  # ours: our namespace
        ip netns del "$ns" 2>/dev/null || echo "WARNING: could not delete netns $ns" >&2
    done
    [ -n "$TMP" ] && rm -rf "$TMP"
    exit "$rc"
}

ns_add() { # name -> creates it, remembers it for cleanup
    ip netns add "$1" 2>"$TMP/ns.err" || { cat "$TMP/ns.err" >&2; skip "cannot create network namespaces here"; }
    NS_MADE+=("$1")
    ip -n "$1" link set lo up || die "lo up in $1"
}

# veth_link NS_A IF_A IP_A IP6_A NS_B IF_B IP_B IP6_B: a veth pair created directly in the namespaces
veth_link() {
    ip link add "$2" netns "$1" type veth peer name "$6" netns "$5" || die "veth $2/$6"
    ip -n "$1" addr add "$3/30" dev "$2" && ip -n "$1" addr add "$4/64" dev "$2" nodad &&
        ip -n "$5" addr add "$7/30" dev "$6" && ip -n "$5" addr add "$8/64" dev "$6" nodad &&
        ip -n "$1" link set "$2" up && ip -n "$5" link set "$6" up || die "configuring veth $2/$6"
}

e2e_topology() {
    local n=$(( ($$ % 200) + 20 ))
    NS_SRV="knock-e2e-$$-srv"; NS_CLI="knock-e2e-$$-cli"; NS_STR="knock-e2e-$$-str"
    IF_SRV_CLI="ks$$c"; IF_CLI="kc$$c"; IF_SRV_STR="ks$$s"; IF_STR="kc$$s"
    SRV_IP="10.$n.1.1";      CLI_IP="10.$n.1.2"
    SRV_STR_IP="10.$n.2.1";  STR_IP="10.$n.2.2"
    SRV_IP6="fd4b:$n:1::1";  CLI_IP6="fd4b:$n:1::2"
    SRV_STR_IP6="fd4b:$n:2::1"; STR_IP6="fd4b:$n:2::2"
    ns_add "$NS_SRV"; ns_add "$NS_CLI"; ns_add "$NS_STR"
    veth_link "$NS_SRV" "$IF_SRV_CLI" "$SRV_IP" "$SRV_IP6" "$NS_CLI" "$IF_CLI" "$CLI_IP" "$CLI_IP6"
    veth_link "$NS_SRV" "$IF_SRV_STR" "$SRV_STR_IP" "$SRV_STR_IP6" "$NS_STR" "$IF_STR" "$STR_IP" "$STR_IP6"
    # the stranger reaches the server's client-side address (never the client: no forwarding)
    ip -n "$NS_STR" route add "10.$n.1.0/30" via "$SRV_STR_IP" || die "stranger route"
    ip -n "$NS_STR" -6 route add "fd4b:$n:1::/64" via "$SRV_STR_IP6" || die "stranger route v6"
    if [ "${1:-}" = cli2 ]; then
        NS_CL2="knock-e2e-$$-cl2"; IF_SRV_CL2="ks$$d"; IF_CL2="kc$$d"
        SRV2_IP="10.$n.3.1"; CL2_IP="10.$n.3.2"; SRV2_IP6="fd4b:$n:3::1"; CL2_IP6="fd4b:$n:3::2"
        ns_add "$NS_CL2"
        veth_link "$NS_SRV" "$IF_SRV_CL2" "$SRV2_IP" "$SRV2_IP6" "$NS_CL2" "$IF_CL2" "$CL2_IP" "$CL2_IP6"
    fi
    if ip -n "$NS_CLI" route show default | grep . >/dev/null || ip -n "$NS_CLI" -6 route show default | grep . >/dev/null; then
        die "client namespace has a default route"
    fi
    note "namespaces: $NS_SRV $NS_CLI $NS_STR ${NS_CL2:-} (client $CLI_IP -> server $SRV_IP; stranger $STR_IP)"
}

# ---- processes in the namespaces ------------------------------------------

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
bg_in_ns() { # ns cmd... : background, remembered for cleanup; pid in $BG_PID
    local ns=$1; shift
    ip netns exec "$ns" "$@" </dev/null &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}

wait_until() { # whole seconds, cmd...: poll every 0.1 s until cmd succeeds
    local deadline=$(( $(date +%s%3N) + ${1%.*} * 1000 )); shift
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ "$(date +%s%3N)" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

listening_tcp() { in_ns "$NS_SRV" ss -Hltn "sport = :$1" | grep . >/dev/null; }
# e2e_listener PORT: an echo server (dual stack) in the server namespace
e2e_listener() {
    bg_in_ns "$NS_SRV" socat "TCP6-LISTEN:$1,fork,reuseaddr,ipv6only=0" EXEC:cat
    wait_until 5 listening_tcp "$1" || die "socat did not listen on tcp/$1"
}

# tcp_ok NS HOST PORT: a connection that echoes a line (1.5 s timeout)
tcp_ok() { in_ns "$1" "$PYTHON" "$E2E_NET" probe "$2" "$3" 1.5; }
# tcp_blocked NS HOST PORT: the connect times out (SYN dropped by a firewall; not refused, which
# would mean the listener is gone)
tcp_blocked() {
    local out
    out=$(tcp_ok "$@")
    local rc=$?
    echo "$out"
    [ "$rc" -ne 0 ] && grep -q "timed out" <<<"$out"
}

# ---- knock-server ---------------------------------------------------------

CONF="" ACCESS=""
# e2e_conf [VAR value]... : fwknopd.conf with the test's files, plus these lines
e2e_conf() {
    CONF="$TMP/fwknopd.conf"
    {
        echo "# knock e2e ($E2E_SCRIPT)"
        echo "PCAP_INTF                 $IF_SRV_CLI"
        echo "FWKNOP_RUN_DIR            $TMP/run"
        echo "DIGEST_FILE               $TMP/run/digest.cache"
        echo "FWKNOP_PID_FILE           $TMP/run/knock-server.pid"
        echo "ENABLE_SPA_PACKET_AGING   Y"
        echo "MAX_SPA_PACKET_AGE        120"
        while [ $# -ge 2 ]; do printf '%-25s %s\n' "$1" "$2"; shift 2; done
    } >"$CONF"
    chmod 600 "$CONF"
}
# e2e_access [VAR value]... : one stanza for everyone with the test's keys
e2e_access() {
    ACCESS="$TMP/access.conf"
    {
        echo "SOURCE              ANY"
        echo "KEY_BASE64          $KEY_B64"
        echo "HMAC_KEY_BASE64     $HMAC_B64"
        echo "HMAC_DIGEST_TYPE    sha256"
        echo "OPEN_PORTS          tcp/$PORT"
        while [ $# -ge 2 ]; do printf '%-19s %s\n' "$1" "$2"; shift 2; done
    } >"$ACCESS"
    chmod 640 "$ACCESS"
    chgrp "$(id -gn nobody)" "$ACCESS"
}

log_lines() { grep -c '' "$TMP/server.log"; }
log_mark() { LOG_MARK=$(log_lines); }
log_since_mark() { tail -n +"$((LOG_MARK + 1))" "$TMP/server.log"; }
# (grep without -q reads all its input: with pipefail, `producer | grep -q` fails when grep exits
# on the first match and the producer, still writing, dies of SIGPIPE)
log_has() { log_since_mark | grep -- "$1" >/dev/null; }  # pattern, since log_mark

# e2e_server_start [flags]: knock-server -f in NS_SRV, waits for its "started:" line
e2e_server_start() {
    log_mark
    ip netns exec "$NS_SRV" "$KNOCK_SERVER" -f -c "$CONF" -a "$ACCESS" "$@" </dev/null >>"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    local i
    for i in $(seq 100); do
        log_has "started:" && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if ! log_has "started:"; then
        die "knock-server did not start: $(log_since_mark)"
    fi
    note "knock-server running (pid $SERVER_PID): $(log_since_mark | grep started: | tail -1)"
}
e2e_server_stop() {
    [ -n "$SERVER_PID" ] || return 0
    kill_pid "$SERVER_PID"
    SERVER_PID=""
}

# ---- knocking -------------------------------------------------------------

# fwknop_knock NS SERVER [fwknop args]: the real fwknop client, HMAC-SHA256, our keys
fwknop_knock() {
    local ns=$1 server=$2; shift 2
    in_ns "$ns" env HOME="$TMP/home" "$FWKNOP" --no-rc-file --no-save-args -D "$server" \
        --use-hmac --hmac-digest-type sha256 \
        --key-base64-rijndael "$KEY_B64" --key-base64-hmac "$HMAC_B64" "$@"
}
# knock_client_knock NS SERVER [knock-client args]
knock_client_knock() {
    local ns=$1 server=$2; shift 2
    in_ns "$ns" env HOME="$TMP/home" "$KNOCK_CLIENT" --no-rc-file -D "$server" \
        --use-hmac --hmac-digest-type sha256 \
        --key-base64-rijndael "$KEY_B64" --key-base64-hmac "$HMAC_B64" "$@"
}
# udp_send NS HOST FILE [COUNT]: the packet saved in FILE as one datagram (python)
udp_send() { in_ns "$1" "$PYTHON" "$E2E_NET" send "$2" "$SPA_PORT" "$3" "${4:-1}"; }

# wait_accept SOURCE [SECONDS]: a new "packet from SOURCE: accepted" line since log_mark;
# sets GRANT_MS (ms since the epoch) when it appeared
wait_accept() {
    if wait_until "${2:-5}" log_has "packet from $1: accepted"; then
        GRANT_MS=$(date +%s%3N)
        return 0
    fi
    echo "no 'packet from $1: accepted' line in the log; new lines:"
    log_since_mark
    return 1
}

# expect_accept SOURCE [SECONDS]: wait_accept as a check (in this shell, so GRANT_MS is kept)
expect_accept() {
    local out
    GRANT_MS=""
    if out=$(wait_accept "$@"); then
        GRANT_MS=$(date +%s%3N)
        pass "knock-server logs the acceptance of a packet from $1" "$(log_since_mark | grep "packet from $1: accepted" | tail -n1)"
    else
        fail "knock-server logs the acceptance of a packet from $1" "$out"
    fi
}

# sleep_until_after_grant SECONDS: until GRANT_MS + SECONDS
sleep_until_after_grant() {
    [ -n "${GRANT_MS:-}" ] || GRANT_MS=$(date +%s%3N)  # no grant seen: from now
    local left=$(( GRANT_MS + $(awk "BEGIN{print int($1 * 1000)}") - $(date +%s%3N) ))
    [ "$left" -gt 0 ] && sleep "$(awk "BEGIN{print $left / 1000}")"
    return 0
}

# nft_set_has SET ADDRESS: the address is an element of inet knock SET in the server namespace
nft_set_has() {
    local out
    out=$(in_ns "$NS_SRV" nft list set inet "${NFT_TABLE:-knock}" "$1") || return 1
    grep -o -- "[^0-9a-f:.]$2 \\. [^,}]*" <<<"$out" | sed 's/^.//' | tr -s ' \t\n' ' ' | grep .
}
# nft_set_lacks SET ADDRESS: the set can be listed and has no element for the address
nft_set_lacks() {
    local out
    out=$(in_ns "$NS_SRV" nft list set inet "${NFT_TABLE:-knock}" "$1") || { echo "cannot list set $1"; return 1; }
    if grep -q -- "[^0-9a-f:.]$2 \\. " <<<"$out"; then echo "$out"; return 1; fi
    local elements
    elements=$(tr -s ' \t\n' ' ' <<<"$out" | grep -o 'elements = {[^}]*}')
    echo "set $1: ${elements:-no elements}"
}
