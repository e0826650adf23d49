#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions called through the trap
# bench/load.sh — end-to-end load benchmark: knock-server against the real fwknopd, same
# fwknopd.conf + access.conf, pcap on a veth, inside network namespaces created (and always
# removed) here. A measurement, not a test: it is not registered with CTest. Results:
# bench/results/load.json (raw) and bench/results/load.txt (the printed report); method and
# numbers in docs/PERFORMANCE.md ("End to end: knock-server against fwknopd").
#
#   bench/load.sh [--build DIR] [--runs N] [--phases 1,2,3] [--only LIST] [--quick] [--out DIR]
#
#   --build DIR   where knock-server and load_sender are built (default: ./build):
#                 DIR/examples/knock-server/knock-server, DIR/bench/load_sender
#                 (cmake --build DIR --target knock-server load_sender)
#   --runs N      repeat every phase N times (default 3); the report gives medians
#   --phases L    which phases (default 1,2,3; memory is read in each)
#   --only LIST   which daemons (default all): a comma list of knock, fwknopd, fwknopd-tuned
#                 (phase 1) and knock:nftables, knock:iptables, fwknopd:iptables (phases 2, 3);
#                 e.g. --phases 3 --only knock:nftables for knock-server's floods alone
#   --knock-conf T  lines added to knock-server's fwknopd.conf only (e.g. 'KNOCK_CAPTURE_BUFFER 1M;')
#   --quick       small counts, to try the script (results not written to bench/results)
#   --out DIR     where load.json / load.txt go (default: bench/results)
#   --knock-only  knock-server alone (no fwknopd runs)
#   --burst-only  phase 1 without the paced ladder (the unpaced burst only)
#
# Environment: LOAD_CONF adds lines to both daemons' fwknopd.conf (e.g. 'KNOCK_WORKERS 2;' —
# fwknopd only warns about a variable it does not know); LOAD_SOCKETS=K makes the sender use K
# source ports (K flows, for KNOCK_WORKERS' fanout by flow hash); LOAD_PERF='-g' (perf record
# options) profiles the daemon while each sender runs, into LOAD_PERF_DIR (default /tmp)/perf.N.data.
#
# Phases (every sender has a count and a wall-clock cap; packets are sealed before timing):
#   1  test mode (-t, no firewall): unique valid packets paced at increasing rates until one is
#      lost, and one unpaced burst; per daemon: the highest lossless rate, the burst's
#      processing rate, CPU µs per packet (the daemon's threads' run time, /proc/PID/task/*/schedstat).
#   2  grants with the real firewall: knock-server nftables, knock-server iptables, fwknopd
#      iptables; unique packets each asking for a different address (fwknop -a), grants/s end to
#      end (first packet sent -> last grant logged), checked by listing the firewall.
#   3  garbage floods (binary, then base64-alphabet), unpaced, with N valid packets spread
#      evenly through them, real firewall: how many of the N were granted (listed firewall).
#   4  peak memory (VmHWM) of each daemon when it is up and idle (before the first packet) and
#      at the end of every run above.
#   5  (not in the default list) KNOCK_WORKERS 1 and 2, knock-server alone, test mode: DRAIN valid
#      packets from 16 source ports queued in the capture rings while the daemon is stopped
#      (SIGSTOP), then decided with nothing else sending (SIGCONT): packets/s and CPU µs per
#      packet of the daemon alone, per worker count.
#
# Topology per run (names unique by $$ and a counter): NS srv <-veth-> NS cli, a /30, static
# neighbours, the client namespace without a default route. Only the server namespace's
# firewall is touched (ip netns exec); never the host's. Daemons and namespaces are removed on
# exit, failure or Ctrl-C (trap). Run files (digest cache, pid) live in /dev/shm (tmpfs, as
# Debian's /run/fwknop), so replay-log fsyncs do not measure the disk.
set -uo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$here/../build
runs=3
phases=1,2,3
only=""
knock_conf=""
quick=0
knock_only=0
burst_only=0
out=$here/results
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=$2; shift ;;
        --runs) runs=$2; shift ;;
        --phases) phases=$2; shift ;;
        --only) only=$2; shift ;;
        --knock-conf) knock_conf=$2; shift ;;
        --quick) quick=1 ;;
        --out) out=$2; shift ;;
        --knock-only) knock_only=1 ;;
        --burst-only) burst_only=1 ;;
        -h|--help) sed -n '3,44p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "load.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
KNOCK_SERVER=${KNOCK_SERVER:-$build/examples/knock-server/knock-server}
LOAD_SENDER=${LOAD_SENDER:-$build/bench/load_sender}

die() { echo "load.sh: $*" >&2; exit 1; }
wanted() { [ -z "$only" ] || case ",$only," in *",$1,"*) true ;; *) false ;; esac; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, nftables, iptables)"
for t in ip nft iptables fwknopd python3; do command -v "$t" >/dev/null || die "$t not found"; done
[ -x "$KNOCK_SERVER" ] || die "not executable: $KNOCK_SERVER (cmake --build BUILD --target knock-server)"
[ -x "$LOAD_SENDER" ] || die "not executable: $LOAD_SENDER (cmake --build BUILD --target load_sender)"
FWKNOPD=$(command -v fwknopd)

# ---- state and cleanup ------------------------------------------------------------------
TMP=$(mktemp -d /dev/shm/knock-load.XXXXXX) || die "mktemp"
chmod 711 "$TMP"   # traversable: knock-server drops root (KNOCK_USER) and keeps its run dir below
NS_MADE=()
DAEMON_PID=""
SENDER_PID=""
kill_pid() { # TERM, up to 5 s, then KILL
    local pid=$1 _
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}
cleanup() {
    local rc=$? ns p
    trap - EXIT INT TERM HUP
    [ -n "$SENDER_PID" ] && kill_pid "$SENDER_PID"
    [ -n "$DAEMON_PID" ] && kill_pid "$DAEMON_PID"
    for ns in "${NS_MADE[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill_pid "$p"; done  # ours: our namespace
        ip netns del "$ns" 2>/dev/null || echo "load.sh: WARNING: could not delete netns $ns" >&2
    done
    [ -n "${LOAD_KEEP:-}" ] && cp -r "$TMP" "$LOAD_KEEP"   # LOAD_KEEP=DIR: keep logs to look at
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

now() { date +%s.%N; }
log() { echo "[$(date +%T)] $*" >&2; }

KEY_B64=$(python3 -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')
HMAC_B64=$(python3 -c 'import base64,os;print(base64.b64encode(os.urandom(64)).decode())')
RESULTS=$TMP/results.jsonl   # one JSON object per measurement
: >"$RESULTS"

# ---- topology ---------------------------------------------------------------------------
topo_n=0
# topo_up: a fresh pair of namespaces; sets NS_SRV NS_CLI IF_SRV SRV_IP CLI_IP
topo_up() {
    topo_n=$((topo_n + 1))
    local x=$(( ($$ + topo_n) % 250 + 1 )) y=$(( topo_n % 60 * 4 ))
    NS_SRV="knock-load-$$-$topo_n-srv"; NS_CLI="knock-load-$$-$topo_n-cli"
    IF_SRV="kls$$n$topo_n"; local if_cli="klc$$n$topo_n"
    IF_SRV=${IF_SRV:0:15}; if_cli=${if_cli:0:15}
    SRV_IP="10.250.$x.$((y + 1))"; CLI_IP="10.250.$x.$((y + 2))"
    ip netns add "$NS_SRV" || die "ip netns add"; NS_MADE+=("$NS_SRV")
    ip netns add "$NS_CLI" || die "ip netns add"; NS_MADE+=("$NS_CLI")
    ip link add "$IF_SRV" netns "$NS_SRV" type veth peer name "$if_cli" netns "$NS_CLI" || die "veth"
    ip -n "$NS_SRV" link set lo up && ip -n "$NS_CLI" link set lo up &&
        ip -n "$NS_SRV" addr add "$SRV_IP/30" dev "$IF_SRV" &&
        ip -n "$NS_CLI" addr add "$CLI_IP/30" dev "$if_cli" &&
        ip -n "$NS_SRV" link set "$IF_SRV" up && ip -n "$NS_CLI" link set "$if_cli" up ||
        die "configuring the veth pair"
    # static neighbours: no ARP resolution queueing (and dropping) the first datagrams
    local mac_srv mac_cli
    mac_srv=$(ip -n "$NS_SRV" -br link show dev "$IF_SRV" | awk '{print $3}')
    mac_cli=$(ip -n "$NS_CLI" -br link show dev "$if_cli" | awk '{print $3}')
    ip -n "$NS_CLI" neigh replace "$SRV_IP" lladdr "$mac_srv" dev "$if_cli" nud permanent &&
        ip -n "$NS_SRV" neigh replace "$CLI_IP" lladdr "$mac_cli" dev "$IF_SRV" nud permanent ||
        die "static neighbours"
    if ip -n "$NS_CLI" route show default | grep -q .; then die "client namespace has a default route"; fi
}
topo_down() {
    local ns p keep=()
    for ns in "$NS_SRV" "$NS_CLI"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill_pid "$p"; done
        ip netns del "$ns" 2>/dev/null || echo "load.sh: WARNING: could not delete netns $ns" >&2
    done
    for ns in "${NS_MADE[@]}"; do [ "$ns" = "$NS_SRV" ] || [ "$ns" = "$NS_CLI" ] || keep+=("$ns"); done
    NS_MADE=("${keep[@]}")
}

# ---- configuration: one fwknopd.conf + access.conf, the same for both daemons ------------
# conf_write DIR: DIR/fwknopd.conf, DIR/access.conf (only the paths differ per run); the run dir
# DIR/run is left for the daemon to make (knock-server gives it to the user it drops to)
conf_write() {
    local d=$1
    mkdir -m 711 "$d"
    cat >"$d/fwknopd.conf" <<CONF
# bench/load.sh: the same file for knock-server and fwknopd (fwknopd's defaults otherwise:
# PCAP_FILTER udp port 62201, PCAP_DISPATCH_COUNT 100, PCAP_LOOP_SLEEP 100000, digest cache on)
PCAP_INTF                 $IF_SRV;
FWKNOP_RUN_DIR            $d/run;
DIGEST_FILE               $d/run/digest.cache;
FWKNOP_PID_FILE           $d/run/daemon.pid;
ENABLE_SPA_PACKET_AGING   Y;
MAX_SPA_PACKET_AGE        120;
${CONF_EXTRA:-}
${LOAD_CONF:-}
CONF
    cat >"$d/access.conf" <<CONF
SOURCE              ANY
KEY_BASE64          $KEY_B64
HMAC_KEY_BASE64     $HMAC_B64
HMAC_DIGEST_TYPE    sha256
OPEN_PORTS          tcp/22
FW_ACCESS_TIMEOUT   300
CONF
    chmod 600 "$d/fwknopd.conf" "$d/access.conf"
}

# ---- daemons ----------------------------------------------------------------------------
# The log line each daemon writes per accepted packet (counted with grep -c / the watcher):
#   knock-server: "packet from 10.250.1.2: accepted by stanza 1[: open 10.128.0.1 tcp/22 for 300 s]"
#                 (refusals: "packet from 10.250.1.2: refused: bad_mac")
#   fwknopd -t:   "[10.250.1.2] (stanza #1) --test mode enabled, skipping firewall manipulation."
#   fwknopd:      "Added access rule to FWKNOP_INPUT for 10.128.0.1 -> 0.0.0.0/0 tcp/22, expires at …"
# (fwknopd -f logs to stderr; binary garbage gets no line from it, base64 garbage two.)
accept_pattern() {
    case "$1" in
        knock) echo ': accepted by stanza' ;;
        fwknopd) if [ "$2" = test ]; then echo 'skipping firewall manipulation'; else echo 'Added access rule to FWKNOP_INPUT'; fi ;;
    esac
}
run_n=0
# daemon_start DAEMON MODE: DAEMON knock|fwknopd, MODE test|nftables|iptables; in NS_SRV.
# Sets DAEMON_PID, DLOG, RUN_DIR.
daemon_start() {
    local which=$1 mode=$2 args=() ready
    run_n=$((run_n + 1))
    RUN_DIR=$TMP/run$run_n
    conf_write "$RUN_DIR"
    DLOG=$RUN_DIR/daemon.log
    [ "$mode" = test ] && args+=(-t)
    if [ "$which" = knock ]; then
        [ -n "$knock_conf" ] && printf '%s\n' "$knock_conf" >>"$RUN_DIR/fwknopd.conf"
        [ "$mode" != test ] && args+=(--firewall "$mode")
        ip netns exec "$NS_SRV" "$KNOCK_SERVER" -f -c "$RUN_DIR/fwknopd.conf" -a "$RUN_DIR/access.conf" \
            "${args[@]}" </dev/null >"$DLOG" 2>&1 &
        ready='started:'
    else
        [ "$mode" = nftables ] && die "fwknopd has no nftables backend"
        mkdir -m 700 "$RUN_DIR/run"
        ip netns exec "$NS_SRV" "$FWKNOPD" -f -c "$RUN_DIR/fwknopd.conf" -a "$RUN_DIR/access.conf" \
            "${args[@]}" </dev/null >"$DLOG" 2>&1 &
        ready='Starting fwknopd main event loop'
    fi
    DAEMON_PID=$!
    local _
    for _ in $(seq 100); do
        grep -q "$ready" "$DLOG" 2>/dev/null && break
        kill -0 "$DAEMON_PID" 2>/dev/null || break
        sleep 0.1
    done
    grep -q "$ready" "$DLOG" || { cat "$DLOG" >&2; die "$which did not start"; }
    sleep 0.5   # the capture is open before the line; give the loop a moment anyway
    IDLE_HWM=$(vm_hwm_kb)  # up, before any packet
}
daemon_stop() { [ -n "$DAEMON_PID" ] && kill_pid "$DAEMON_PID"; DAEMON_PID=""; }
# CPU seconds DAEMON_PID's threads have run: the sum of their schedstat run times (nanoseconds;
# /proc/PID/stat counts in clock ticks, 10 ms, half a microsecond per packet over a burst of
# 20,000), else utime + stime from /proc/PID/stat. Its threads live as long as it does.
cpu_seconds() {
    local f=(/proc/"$DAEMON_PID"/task/*/schedstat)
    if [ -r "${f[0]}" ]; then
        cat "${f[@]}" 2>/dev/null | awk '{ns += $1} END {printf "%.6f\n", ns / 1e9}'
        return
    fi
    awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$DAEMON_PID/stat" 2>/dev/null || echo 0
}
vm_hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$DAEMON_PID/status" 2>/dev/null || echo 0; }
vm_rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$DAEMON_PID/status" 2>/dev/null || echo 0; }

# The watcher: counts new lines matching a pattern in a log as they appear (reading only what is
# new, from the byte offset the log had before the sender started, every 20 ms, so it costs the
# measured daemon little), until EXPECTED were seen, or -- once
# the sender is done (DONE file exists) -- nothing new came for IDLE seconds, or CAP seconds.
# Prints {"count", "t_first", "t_last"} (epoch seconds of the first/last increase).
cat >"$TMP/watch.py" <<'PY'
import json, os, sys, time
log, pattern, expected, done, idle, cap, offset = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), sys.argv[4], float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
f = open(log, "rb")
f.seek(offset)  # the log's size before the sender started
buf = b""
count = 0
t_first = t_last = None
start = last_change = time.time()
while True:
    chunk = f.read()
    if chunk:
        buf += chunk
        lines = buf.split(b"\n")
        buf = lines.pop()
        n = sum(1 for l in lines if pattern in l)
        if n:
            t = time.time()
            count += n
            t_last = last_change = t
            if t_first is None:
                t_first = t
    t = time.time()
    if count >= expected or t - start > cap:
        break
    if os.path.exists(done) and t - max(last_change, os.path.getmtime(done)) > idle:
        break
    time.sleep(0.02)
print(json.dumps({"count": count, "t_first": t_first, "t_last": t_last}))
PY

# LOAD_PERF: perf_start .. perf_stop profile the daemon (perf record $LOAD_PERF -p DAEMON_PID)
perf_pid=""
perf_start() {
    [ -n "${LOAD_PERF:-}" ] || return 0
    perf_n=$(( ${perf_n:-0} + 1 ))
    # shellcheck disable=SC2086  # LOAD_PERF is a list of perf record options
    perf record $LOAD_PERF -p "$DAEMON_PID" -o "$TMP/perf.$perf_n.data" 2>"$TMP/perf.$perf_n.log" &
    perf_pid=$!
    sleep 0.5
}
perf_stop() {
    [ -n "$perf_pid" ] || return 0
    kill -INT "$perf_pid"; wait "$perf_pid"; perf_pid=""
    mkdir -p "${LOAD_PERF_DIR:-/tmp}"
    cp "$TMP/perf.$perf_n.data" "${LOAD_PERF_DIR:-/tmp}/perf.$perf_n.data"
    log "  perf profile: ${LOAD_PERF_DIR:-/tmp}/perf.$perf_n.data"
}

# measure LABEL EXPECTED IDLE CAP -- SENDER ARGS...: runs load_sender in NS_CLI against the daemon
# while watching its log; appends one JSON object to RESULTS (with the daemon's CPU seconds).
# Sets M_COUNT M_JSON.
measure() {
    local label=$1 expected=$2 idle=$3 cap=$4; shift 5
    local done=$TMP/sender.done cpu0 cpu1 wout sout
    rm -f "$done"
    python3 "$TMP/watch.py" "$DLOG" "$PATTERN" "$expected" "$done" "$idle" "$cap" \
        "$(stat -c %s "$DLOG")" >"$TMP/watch.out" &
    local wpid=$!
    cpu0=$(cpu_seconds)
    perf_start
    ip netns exec "$NS_CLI" "$LOAD_SENDER" --dest "$SRV_IP" --key-b64 "$KEY_B64" \
        --hmac-key-b64 "$HMAC_B64" "$@" ${LOAD_SOCKETS:+--sockets "$LOAD_SOCKETS"} >"$TMP/sender.out" &
    SENDER_PID=$!
    wait "$SENDER_PID"; SENDER_PID=""
    touch "$done"
    wait "$wpid"
    cpu1=$(cpu_seconds)
    perf_stop
    wout=$(cat "$TMP/watch.out"); sout=$(cat "$TMP/sender.out")
    [ -n "$sout" ] || sout='{}'
    M_JSON=$(python3 - "$label" "$wout" "$sout" "$cpu0" "$cpu1" "$(vm_hwm_kb)" "$(vm_rss_kb)" "${IDLE_HWM:-0}" <<'PY'
import json, sys
label, w, s, c0, c1, hwm, rss, idle = sys.argv[1:9]
w, s = json.loads(w), json.loads(s)
r = dict(json.loads(label))
r.update(sender=s, accepted=w["count"], cpu_s=round(float(c1) - float(c0), 6),
         vm_hwm_kb=int(hwm), vm_rss_kb=int(rss), vm_hwm_idle_kb=int(idle))
if w["t_last"] is not None and s.get("t_start"):
    r["span_s"] = round(w["t_last"] - s["t_start"], 4)           # first send -> last accepted line
    r["lag_s"] = round(w["t_last"] - s["t_start"] - s["seconds"], 4)  # after the last send
print(json.dumps(r))
PY
)
    M_COUNT=$(python3 -c 'import json,sys;print(json.loads(sys.argv[1])["accepted"])' "$M_JSON")
    echo "$M_JSON" >>"$RESULTS"
}

# amend KEY JSON_VALUE: adds a field to the last record in RESULTS
amend() {
    python3 - "$RESULTS" "$1" "$2" <<'PY'
import json, sys
path, key, value = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
lines = open(path).read().splitlines()
r = json.loads(lines[-1]); r[key] = value; lines[-1] = json.dumps(r)
open(path, "w").write("\n".join(lines) + "\n")
PY
}
# fw_listed MODE: how many grants the server namespace's firewall holds now
fw_listed() {
    case "$1" in
        nftables) ip netns exec "$NS_SRV" nft list set inet knock allowed_v4 2>/dev/null |
                      grep -oE '[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+ \. tcp \. 22' | wc -l ;;
        iptables) ip netns exec "$NS_SRV" iptables -S FWKNOP_INPUT 2>/dev/null |
                      grep -c -- '--dport 22 .*-j ACCEPT' ;;
        *) echo 0 ;;
    esac
}

# ---- parameters ---------------------------------------------------------------------------
STEP_S=2                                    # phase 1: seconds per paced step
LADDER=(500 1000 2000 4000 8000 12000 16000 24000 32000 48000 64000 96000)
BURST=20000                                 # phase 1: unpaced burst
GRANTS_NFT=10000 GRANTS_NFT_RATE=20000      # phase 2: count, offered rate
GRANTS_IPT=1000 GRANTS_IPT_RATE=2000
FLOOD_GARBAGE=200000 FLOOD_VALID=100        # phase 3
if [ "$quick" = 1 ]; then
    STEP_S=1; LADDER=(500 2000 8000 32000); BURST=5000
    GRANTS_NFT=2000 GRANTS_IPT=200 FLOOD_GARBAGE=20000 FLOOD_VALID=20
fi

# fwknopd's pcap loop sleeps PCAP_LOOP_SLEEP (100 ms) after each pcap_dispatch of at most
# PCAP_DISPATCH_COUNT (100) packets: at most ~1,000 packets/s by configuration. Phase 1 also runs
# "fwknopd-tuned" with these lines (knock-server reads neither: it waits in epoll, no sleep):
TUNED_CONF='PCAP_DISPATCH_COUNT       10000;
PCAP_LOOP_SLEEP           1000;'
# Each paced step and the burst get a freshly started daemon (new run dir, empty replay cache), and
# a step sends at most STEP_MAX packets: knock-server's replay store holds 2^17 keys, two per
# accepted packet, each kept 2 x MAX_SPA_PACKET_AGE + 1 = 241 s, so one daemon accepts at most
# 65,536 packets in 241 s and then refuses every valid packet (replay_store_full, fail closed).
STEP_MAX=60000
phase1() { # test mode: lossless paced rate, unpaced burst, CPU per packet
    local run=$1 v d rate n ok try
    local daemons=(knock fwknopd fwknopd-tuned) ladder=("${LADDER[@]}")
    [ "$knock_only" = 1 ] && daemons=(knock)
    [ "$burst_only" = 1 ] && ladder=()
    for v in "${daemons[@]}"; do
        wanted "$v" || continue
        d=${v%-tuned}
        CONF_EXTRA=""; [ "$v" != "$d" ] && CONF_EXTRA=$TUNED_CONF
        topo_up; PATTERN=$(accept_pattern "$d" test)
        log "phase 1 run $run: $v -t"
        for rate in "${ladder[@]}"; do
            n=$(( rate * STEP_S )); [ "$n" -lt 500 ] && n=500; [ "$n" -gt "$STEP_MAX" ] && n=$STEP_MAX
            for try in 1 2; do  # a failed step is tried once more (the machine is shared)
                daemon_start "$d" test
                measure "{\"phase\":1,\"run\":$run,\"daemon\":\"$v\",\"kind\":\"paced\",\"rate\":$rate,\"try\":$try}" \
                    "$n" 2 $((STEP_S + 60)) -- --valid "$n" --rate "$rate" --max-seconds $((STEP_S * 4))
                daemon_stop
                ok=$(python3 -c '
import json,sys; r=json.loads(sys.argv[1]); s=r["sender"]
lag=r.get("lag_s", 99); print(1 if r["accepted"]==s.get("sent",-1) and lag <= max(0.5, 0.1*s["seconds"]) else 0)' "$M_JSON")
                amend lossless "$([ "$ok" = 1 ] && echo true || echo false)"
                log "  paced $rate/s (try $try): sent $n, accepted $M_COUNT, lag $(python3 -c 'import json,sys;print(json.loads(sys.argv[1]).get("lag_s"))' "$M_JSON") s, $([ "$ok" = 1 ] && echo lossless || echo LOSS/LAG)"
                [ "$ok" = 1 ] && break
            done
            [ "$ok" = 1 ] || break
        done
        daemon_start "$d" test
        measure "{\"phase\":1,\"run\":$run,\"daemon\":\"$v\",\"kind\":\"burst\",\"rate\":0}" \
            "$BURST" 3 90 -- --valid "$BURST" --rate 0 --max-seconds 20
        log "  burst: sent $BURST unpaced, accepted $M_COUNT"
        daemon_stop; topo_down
    done
    CONF_EXTRA=""
}

phase2() { # grants with the real firewall
    local run=$1 combo d fw n rate listed
    for combo in knock:nftables knock:iptables fwknopd:iptables; do
        wanted "$combo" || continue
        d=${combo%%:*} fw=${combo#*:}
        [ "$knock_only" = 1 ] && [ "$d" != knock ] && continue
        if [ "$fw" = nftables ]; then n=$GRANTS_NFT rate=$GRANTS_NFT_RATE; else n=$GRANTS_IPT rate=$GRANTS_IPT_RATE; fi
        topo_up; daemon_start "$d" "$fw"; PATTERN=$(accept_pattern "$d" "$fw")
        measure "{\"phase\":2,\"run\":$run,\"daemon\":\"$d\",\"firewall\":\"$fw\",\"kind\":\"grants\",\"rate\":$rate}" \
            "$n" 5 180 -- --valid "$n" --rate "$rate" --max-seconds 30 --allow-base 10.128.0.1
        listed=$(fw_listed "$fw"); amend firewall_listed "$listed"
        log "phase 2 run $run: $d/$fw: sent $n at $rate/s, accepted $M_COUNT, firewall lists $listed"
        daemon_stop; topo_down
    done
}

phase3() { # garbage floods with valid packets interleaved, real firewall
    local run=$1 combo d fw g listed seen
    for combo in knock:nftables knock:iptables fwknopd:iptables; do
        wanted "$combo" || continue
        for g in bin b64; do
            d=${combo%%:*} fw=${combo#*:}
            [ "$knock_only" = 1 ] && [ "$d" != knock ] && continue
            topo_up; daemon_start "$d" "$fw"; PATTERN=$(accept_pattern "$d" "$fw")
            measure "{\"phase\":3,\"run\":$run,\"daemon\":\"$d\",\"firewall\":\"$fw\",\"kind\":\"flood\",\"garbage\":\"$g\"}" \
                "$FLOOD_VALID" 5 180 -- --valid "$FLOOD_VALID" --garbage "$g" \
                --garbage-count "$FLOOD_GARBAGE" --rate 0 --max-seconds 30 --allow-base 10.129.0.1
            listed=$(fw_listed "$fw"); amend firewall_listed "$listed"
            # datagrams the daemon logged at all (knock: every one; fwknopd: not binary garbage)
            if [ "$d" = knock ]; then  # + the refusals summed up in "suppressed N refusal(s) …" lines
                seen=$(( $(grep -c '^packet from' "$DLOG") + $(sed -n 's/^suppressed \([0-9]*\) refusal.*/\1/p' "$DLOG" | awk '{s += $1} END {print s + 0}') )); else seen=$(grep -c 'SPA Packet from IP' "$DLOG"); fi
            amend logged_datagrams "$seen"
            log "phase 3 run $run: $d/$fw $g: $FLOOD_GARBAGE garbage + $FLOOD_VALID valid, granted $listed (accepted lines $M_COUNT), datagrams logged $seen, VmHWM idle $IDLE_HWM / end $(python3 -c 'import json,sys;print(json.loads(sys.argv[1])["vm_hwm_kb"])' "$M_JSON") KiB"
            daemon_stop; topo_down
        done
    done
}

DRAIN=16000   # fits a 32 MiB capture ring (≈18,000 of these frames): no loss while stopped
[ "$quick" = 1 ] && DRAIN=5000
phase5() { # KNOCK_WORKERS 1 vs 2: a queued backlog decided with no sender running
    local run=$1 w off t0 cpu0 cpu1 wout
    for w in 1 2; do
        LOAD_CONF="KNOCK_WORKERS $w;
KNOCK_CAPTURE_BUFFER 32M;"
        topo_up; daemon_start knock test; PATTERN=$(accept_pattern knock test)
        off=$(stat -c %s "$DLOG")
        kill -STOP "$DAEMON_PID"
        ip netns exec "$NS_CLI" "$LOAD_SENDER" --dest "$SRV_IP" --key-b64 "$KEY_B64" \
            --hmac-key-b64 "$HMAC_B64" --valid "$DRAIN" --rate 0 --max-seconds 20 --sockets 16 \
            >"$TMP/sender.out"
        sleep 0.3
        touch "$TMP/sender.done"
        perf_start
        cpu0=$(cpu_seconds); t0=$(now)
        kill -CONT "$DAEMON_PID"
        wout=$(python3 "$TMP/watch.py" "$DLOG" "$PATTERN" "$DRAIN" "$TMP/sender.done" 2 60 "$off")
        cpu1=$(cpu_seconds)
        perf_stop
        python3 - "$run" "$w" "$wout" "$t0" "$cpu0" "$cpu1" "$(vm_hwm_kb)" "$DRAIN" >>"$RESULTS" <<'PY'
import json, sys
run, w, wout, t0, c0, c1, hwm, n = sys.argv[1:9]
o = json.loads(wout)
span = (o["t_last"] - float(t0)) if o["t_last"] else None
print(json.dumps({"phase": 5, "run": int(run), "daemon": "knock", "workers": int(w), "sent": int(n),
                  "accepted": o["count"], "drain_s": span, "cpu_s": round(float(c1) - float(c0), 6),
                  "vm_hwm_kb": int(hwm)}))
PY
        log "phase 5 run $run: KNOCK_WORKERS $w: $(tail -n1 "$RESULTS")"
        daemon_stop; topo_down
    done
    LOAD_CONF=""
}

# ---- run ------------------------------------------------------------------------------------
HOST_INFO=$(python3 - "$KNOCK_SERVER" "$FWKNOPD" <<'PY'
import json, os, platform, subprocess, sys
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(json.dumps({"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
                  "loadavg_start": open("/proc/loadavg").read().split()[:3],
                  "knock_server": sys.argv[1], "fwknopd": sys.argv[2],
                  "fwknopd_version": subprocess.run([sys.argv[2], "--version"], capture_output=True,
                                                    text=True).stdout.strip()}))
PY
)
log "knock-server $KNOCK_SERVER, fwknopd $FWKNOPD; runs $runs, phases $phases$([ "$quick" = 1 ] && echo ', QUICK')"
started=$(date +%s)
for run in $(seq "$runs"); do
    case ",$phases," in *,1,*) phase1 "$run" ;; esac
    case ",$phases," in *,2,*) phase2 "$run" ;; esac
    case ",$phases," in *,3,*) phase3 "$run" ;; esac
    case ",$phases," in *,5,*) phase5 "$run" ;; esac
done
elapsed=$(( $(date +%s) - started ))

# ---- report ---------------------------------------------------------------------------------
[ "$quick" = 1 ] && out=$TMP/out
mkdir -p "$out"
python3 - "$RESULTS" "$out/load.json" "$HOST_INFO" "$elapsed" "$quick" \
    "$FLOOD_GARBAGE" "$FLOOD_VALID" >"$out/load.txt" <<'PY'
import json, statistics, sys, time
res_path, json_path, host, elapsed, quick, flood_g, flood_v = sys.argv[1:8]
rows = [json.loads(l) for l in open(res_path) if l.strip()]
host = json.loads(host)
host["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
runs = sorted({r["run"] for r in rows})

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def spread(xs):
    xs = [x for x in xs if x is not None]
    return (min(xs), max(xs)) if xs else (None, None)
def sel(**kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]
def fmt(x, nd=0):
    if x is None: return "–"
    return f"{x:,.{nd}f}"
def ratio(a, b, inverse=False):
    if a is None or b is None or a == 0 or b == 0: return None
    return b / a if inverse else a / b

summary = {"phase1": {}, "phase2": {}, "phase3": {}, "memory": {}}
out = []
p = out.append
p(f"knock-server vs fwknopd, end to end (bench/load.sh), {time.strftime('%Y-%m-%d %H:%M')}")
p(f"host: {host['nproc']} CPUs, {host['cpu']}, kernel {host['kernel']}; load average "
  f"{' '.join(host['loadavg_start'])} at start, {' '.join(host['loadavg_end'])} at end; "
  f"{len(runs)} run(s), {elapsed} s{'; QUICK (small counts)' if quick == '1' else ''}")
p("medians over the runs; [min–max] where the runs differ")

# phase 1
if sel(phase=1):
    p("")
    p("1. valid packets, test mode (-t), pcap on a veth, same fwknopd.conf/access.conf")
    per = {}
    for d in ("knock", "fwknopd", "fwknopd-tuned"):
        if not sel(phase=1, daemon=d): continue
        lossless = []
        for run in runs:
            ok = [r["rate"] for r in sel(phase=1, daemon=d, run=run, kind="paced") if r.get("lossless")]
            lossless.append(max(ok) if ok else 0)
        bursts = sel(phase=1, daemon=d, kind="burst")
        brate = [r["accepted"] / r["span_s"] if r.get("span_s") else None for r in bursts]
        bfrac = [r["accepted"] / max(1, r["sender"].get("sent", 1)) for r in bursts]
        cpu = [r["cpu_s"] / r["accepted"] * 1e6 if r["accepted"] else None for r in bursts]
        per[d] = {"lossless_pps": med(lossless), "lossless_pps_runs": lossless,
                  "burst_processed_pps": med(brate), "burst_processed_pps_runs": brate,
                  "burst_accepted_fraction": med(bfrac), "burst_accepted_fraction_runs": bfrac,
                  "cpu_us_per_packet": med(cpu), "cpu_us_per_packet_runs": cpu,
                  "burst_sent": med([r["sender"].get("sent") for r in bursts]),
                  "burst_send_pps": med([r["sender"].get("rate") for r in bursts])}
    summary["phase1"] = per
    cols = [d for d in ("knock", "fwknopd", "fwknopd-tuned") if d in per]
    names = {"knock": "knock-server", "fwknopd": "fwknopd", "fwknopd-tuned": "fwknopd tuned*"}
    p(f"   {'':36}" + "".join(f"{names[d]:>24}" for d in cols) +
      "".join(f"{'knock/' + names[d].rstrip('*'):>22}" for d in cols[1:]))
    def cell(v, key, nd):
        lo, hi = spread(v.get(key + "_runs", []))
        c = fmt(v[key], nd)
        if lo is not None and lo != hi: c += f" [{fmt(lo, nd)}–{fmt(hi, nd)}]"
        return c
    def line(name, key, nd=0, inverse=False):
        row = f"   {name:36}" + "".join(f"{cell(per[d], key, nd):>24}" for d in cols)
        for d in cols[1:]:
            rr = ratio(per["knock"][key], per[d][key], inverse)
            row += f"{(fmt(rr, 1) + '×') if rr else '–':>22}"
        p(row)
    line("highest lossless paced rate (pkt/s)", "lossless_pps")
    line("unpaced burst: accepted/s", "burst_processed_pps")
    line("unpaced burst: accepted fraction", "burst_accepted_fraction", 3)
    line("CPU µs per accepted packet (burst)", "cpu_us_per_packet", 2, inverse=True)
    k = per["knock"]
    p(f"   burst: {fmt(k['burst_sent'])} unpaced datagrams sent at ≈{fmt(k['burst_send_pps'])}/s. A paced step")
    p(f"   ({'/'.join(str(x) for x in sorted({r['rate'] for r in sel(phase=1, kind='paced')}))} pkt/s) is lossless when every packet")
    p("   was accepted and the last within max(0.5 s, 10 %) of the last send; a failed step is tried")
    p("   once more, then the ladder stops.  * fwknopd tuned: PCAP_DISPATCH_COUNT 10000,")
    p("   PCAP_LOOP_SLEEP 1000 (defaults 100 and 100000 µs); knock-server reads neither.")

# phase 2
if sel(phase=2):
    p("")
    p("2. grants per second with the real firewall (unique packets, one address each)")
    p(f"   {'daemon / firewall':24} {'sent':>7} {'accepted':>9} {'listed':>7} {'grants/s':>22} {'vs fwknopd':>11}")
    per = {}
    for d, fw in (("knock", "nftables"), ("knock", "iptables"), ("fwknopd", "iptables")):
        rs = sel(phase=2, daemon=d, firewall=fw)
        if not rs: continue
        gps = [r["firewall_listed"] / r["span_s"] if r.get("span_s") else None for r in rs]
        per[f"{d}/{fw}"] = {"grants_per_s": med(gps), "grants_per_s_runs": gps,
                            "sent": med([r["sender"].get("sent") for r in rs]),
                            "accepted": med([r["accepted"] for r in rs]),
                            "listed": med([r["firewall_listed"] for r in rs]),
                            "offered_rate": rs[0]["rate"]}
    summary["phase2"] = per
    base = per.get("fwknopd/iptables", {}).get("grants_per_s")
    for key, v in per.items():
        lo, hi = spread(v["grants_per_s_runs"])
        cell = fmt(v["grants_per_s"]) + (f" [{fmt(lo)}–{fmt(hi)}]" if lo != hi else "")
        rr = ratio(v["grants_per_s"], base)
        p(f"   {key:24} {fmt(v['sent']):>7} {fmt(v['accepted']):>9} {fmt(v['listed']):>7} {cell:>22} {(fmt(rr, 1) + '×') if rr else '–':>11}")
    p("   (grants/s = grants listed in the firewall afterwards ÷ (last grant logged − first packet sent))")

# phase 3
if sel(phase=3):
    p("")
    p(f"3. garbage floods: {int(flood_g):,} datagrams, unpaced, with {flood_v} valid packets spread through them")
    p(f"   {'daemon / firewall':24} {'garbage':>7} {'send pkt/s':>11} {'valid granted':>22} {'datagrams logged':>17}")
    per = {}
    for d, fw in (("knock", "nftables"), ("knock", "iptables"), ("fwknopd", "iptables")):
        for g in ("bin", "b64"):
            rs = sel(phase=3, daemon=d, firewall=fw, garbage=g)
            if not rs: continue
            gr = [r["firewall_listed"] for r in rs]
            per[f"{d}/{fw}/{g}"] = {"granted": med(gr), "granted_runs": gr,
                                    "valid_sent": med([r["sender"].get("valid_sent") for r in rs]),
                                    "send_pps": med([r["sender"].get("rate") for r in rs]),
                                    "logged_datagrams": med([r.get("logged_datagrams") for r in rs])}
            v = per[f"{d}/{fw}/{g}"]
            lo, hi = spread(gr)
            cell = f"{fmt(v['granted'])} of {fmt(v['valid_sent'])}" + (f" [{fmt(lo)}–{fmt(hi)}]" if lo != hi else "")
            p(f"   {d + '/' + fw:24} {g:>7} {fmt(v['send_pps']):>11} {cell:>22} {fmt(v['logged_datagrams']):>17}")
    summary["phase3"] = per
    p("   (granted = the valid packets' addresses listed in the firewall afterwards; fwknopd logs no")
    p("    line for binary garbage, two for base64 garbage, so its 'logged' column counts b64 only)")

# phase 5
if sel(phase=5):
    p("")
    p("5. KNOCK_WORKERS: a backlog of valid packets (16 flows) queued while the daemon was stopped, then")
    p("   decided with no sender running (test mode); medians, [min–max]")
    p(f"   {'workers':>8} {'accepted':>9} {'packets/s':>24} {'CPU µs/packet':>20}")
    per = {}
    for w in (1, 2):
        rs = sel(phase=5, workers=w)
        if not rs: continue
        pps = [r["accepted"] / r["drain_s"] if r.get("drain_s") else None for r in rs]
        cpu = [r["cpu_s"] / r["accepted"] * 1e6 if r["accepted"] else None for r in rs]
        per[w] = {"pps": med(pps), "pps_runs": pps, "cpu_us": med(cpu), "cpu_us_runs": cpu,
                  "accepted": med([r["accepted"] for r in rs]), "sent": rs[0]["sent"]}
        lo, hi = spread(pps); clo, chi = spread(cpu)
        p(f"   {w:>8} {fmt(per[w]['accepted']) + '/' + fmt(per[w]['sent']):>9} "
          f"{fmt(per[w]['pps']) + (f' [{fmt(lo)}–{fmt(hi)}]' if lo != hi else ''):>24} "
          f"{fmt(per[w]['cpu_us'], 2) + (f' [{fmt(clo, 2)}–{fmt(chi, 2)}]' if clo != chi else ''):>20}")
    if 1 in per and 2 in per and per[1]["pps"]:
        p(f"   scaling, 2 workers / 1: {per[2]['pps'] / per[1]['pps']:.2f}×")
    summary["phase5"] = {str(k): v for k, v in per.items()}

# memory
p("")
p("4. peak memory, VmHWM when up and idle (before the first packet) and at the end of each run")
p("   (KiB; median, [min–max])")
mem = {}
for d in ("knock", "fwknopd"):
    idle = [r["vm_hwm_idle_kb"] for r in sel(daemon=d) if r.get("vm_hwm_idle_kb")]
    if idle:
        lo, hi = spread(idle)
        mem[f"{d}/idle"] = {"vm_hwm_kb": med(idle), "runs": idle}
        p(f"   {d:8} {'idle (every daemon)':22} {fmt(med(idle)):>8} [{fmt(lo)}–{fmt(hi)}]")
    for ph, name in ((1, "test mode (phase 1)"), (2, "grants (phase 2)"), (3, "floods (phase 3)")):
        rs = sel(phase=ph, daemon=d)
        if not rs: continue
        last = {}
        for r in rs:  # the largest peak of the run's daemons (phase 1: one daemon per step)
            key = (r["run"], r.get("firewall"), r.get("garbage"))
            last[key] = max(last.get(key, 0), r["vm_hwm_kb"])
        vals = list(last.values())
        mem[f"{d}/phase{ph}"] = {"vm_hwm_kb": med(vals), "runs": vals}
        lo, hi = spread(vals)
        p(f"   {d:8} {name:22} {fmt(med(vals)):>8} [{fmt(lo)}–{fmt(hi)}]")
summary["memory"] = mem
print("\n".join(out))
json.dump({"host": host, "elapsed_s": int(elapsed), "quick": quick == "1", "summary": summary,
           "raw": rows}, open(json_path, "w"), indent=1)
PY
cat "$out/load.txt"
log "raw numbers: $out/load.json, report: $out/load.txt"
