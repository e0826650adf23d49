#!/usr/bin/env bash
# bench/side_by_side.sh [--rounds N] [--burst N] [--build DIR] KNOCK_SERVER... - CPU per packet of
# knock-server builds compared in one run: every daemon sniffs the same veth at the same time (test
# mode, each with its own run directory and replay log), so each round's burst of valid packets
# (bench/load_sender, unpaced) reaches all of them under the same conditions. A measurement, not a
# test: it prints, asserts nothing, writes nothing under bench/results.
#
# Why: on a shared VM the same binary's CPU per packet, run after run, moves by ±25 % (the host's
# load); two builds measured one after the other differ by as much. Side by side, the machine's
# state is the same for both within a round, so the per-round ratio is what to read. The daemons
# share the two cores with each other and with the sender, so their absolute figures are higher
# than bench/load.sh's (one daemon alone); compare them with each other only.
#
# Per round, fresh daemons (started in a rotating order), one burst, then each daemon's CPU (the
# sum of its threads' run time, /proc/PID/task/*/schedstat, in ns) over the packets it accepted.
# Prints each build's median [min-max] µs per packet and the median of its per-round ratio to the
# first build. Needs root (network namespaces, made here and always removed).
#
#   bench/side_by_side.sh --rounds 10 /tmp/knock-server.before build/examples/knock-server/knock-server
set -uo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$here/../build
rounds=8
burst=20000
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --burst) burst=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --*) echo "side_by_side.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || { echo "usage: $0 [--rounds N] [--burst N] [--build DIR] KNOCK_SERVER..." >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "side_by_side.sh: needs root (network namespaces)" >&2; exit 2; }
servers=()
for s in "$@"; do
    [ -x "$s" ] || { echo "side_by_side.sh: not executable: $s" >&2; exit 2; }
    servers+=("$(realpath "$s")")
done
sender=$build/bench/load_sender
[ -x "$sender" ] || { echo "side_by_side.sh: not built: $sender (cmake --build BUILD --target load_sender)" >&2; exit 2; }

tmp=$(mktemp -d /dev/shm/knock-sbs.XXXXXX)
chmod 711 "$tmp"  # knock-server drops to nobody and keeps its run directory below
ns_srv=knock-sbs-$$-srv ns_cli=knock-sbs-$$-cli
pids=()
cleanup() {
    local p ns
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    for ns in "$ns_srv" "$ns_cli"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# NS srv <-veth-> NS cli, a /30, static neighbours (no ARP queueing the first datagrams).
ip netns add "$ns_srv" && ip netns add "$ns_cli" || exit 1
ip link add sbs-srv netns "$ns_srv" type veth peer name sbs-cli netns "$ns_cli" || exit 1
ip -n "$ns_srv" addr add 10.251.0.1/30 dev sbs-srv && ip -n "$ns_cli" addr add 10.251.0.2/30 dev sbs-cli &&
    ip -n "$ns_srv" link set sbs-srv up && ip -n "$ns_cli" link set sbs-cli up &&
    ip -n "$ns_srv" link set lo up || exit 1
mac() { ip -n "$1" -br link show dev "$2" | awk '{print $3}'; }
ip -n "$ns_cli" neigh replace 10.251.0.1 lladdr "$(mac "$ns_srv" sbs-srv)" dev sbs-cli nud permanent &&
    ip -n "$ns_srv" neigh replace 10.251.0.2 lladdr "$(mac "$ns_cli" sbs-cli)" dev sbs-srv nud permanent || exit 1

key=$(python3 -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')
hmac=$(python3 -c 'import base64,os;print(base64.b64encode(os.urandom(64)).decode())')
cpu_s() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ns += $1} END {printf "%.6f\n", ns / 1e9}'; }
accepted() { grep -c ': accepted by stanza' "$1"; }

n=${#servers[@]}
declare -a results  # per build: its µs per packet, one per round
for ((r = 0; r < rounds; r++)); do
    pids=() logs=() cpu0=()
    for ((k = 0; k < n; k++)); do
        i=$(( (k + r) % n )) d=$tmp/r$r-$i
        mkdir -m 711 "$d"
        printf 'PCAP_INTF sbs-srv;\nFWKNOP_RUN_DIR %s/run;\nDIGEST_FILE %s/run/digest.cache;\nFWKNOP_PID_FILE %s/run/daemon.pid;\nMAX_SPA_PACKET_AGE 120;\n%s\n' \
            "$d" "$d" "$d" "${SBS_CONF:-}" >"$d/fwknopd.conf"
        printf 'SOURCE ANY\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\nHMAC_DIGEST_TYPE sha256\nOPEN_PORTS tcp/22\nFW_ACCESS_TIMEOUT 300\n' \
            "$key" "$hmac" >"$d/access.conf"
        chmod 600 "$d/fwknopd.conf" "$d/access.conf"
        ip netns exec "$ns_srv" "${servers[$i]}" -f -t -c "$d/fwknopd.conf" -a "$d/access.conf" \
            </dev/null >"$d/log" 2>&1 &
        pids[i]=$! logs[i]=$d/log
    done
    for ((i = 0; i < n; i++)); do
        for _ in $(seq 100); do grep -q 'started:' "${logs[$i]}" && break; sleep 0.1; done
        grep -q 'started:' "${logs[$i]}" || { cat "${logs[$i]}" >&2; echo "side_by_side.sh: ${servers[$i]} did not start" >&2; exit 1; }
    done
    sleep 0.5
    for ((i = 0; i < n; i++)); do cpu0[i]=$(cpu_s "${pids[$i]}"); done
    ip netns exec "$ns_cli" "$sender" --dest 10.251.0.1 --key-b64 "$key" --hmac-key-b64 "$hmac" \
        --valid "$burst" --rate 0 --max-seconds 30 >/dev/null
    for _ in $(seq 300); do  # until every daemon has logged the burst (30 s at most)
        all=1
        for ((i = 0; i < n; i++)); do [ "$(accepted "${logs[$i]}")" -ge "$burst" ] || all=0; done
        [ "$all" = 1 ] && break
        sleep 0.1
    done
    for ((i = 0; i < n; i++)); do
        a=$(accepted "${logs[$i]}") c=$(cpu_s "${pids[$i]}")
        [ "$a" -ge "$burst" ] || echo "round $((r + 1)): ${servers[$i]} accepted $a of $burst" >&2
        results[i]+=" $(python3 -c "print(f'{($c - ${cpu0[$i]}) * 1e6 / max(1, $a):.2f}')")"
        kill "${pids[$i]}" 2>/dev/null
    done
    wait 2>/dev/null
    pids=()
done

python3 - "$rounds" "${servers[@]}" -- "${results[@]}" <<'PY'
import statistics, sys
args = sys.argv[1:]
rounds = int(args[0]); cut = args.index("--")
servers, rows = args[1:cut], [list(map(float, r.split())) for r in args[cut + 1:]]
print(f"CPU µs per accepted packet, side by side, {rounds} round(s) (median [min-max]; ratio: "
      "median of the per-round ratios to the first)")
for s, row in zip(servers, rows):
    ratio = statistics.median(v / b for v, b in zip(row, rows[0]))
    print(f"  {statistics.median(row):6.2f} [{min(row):.2f}-{max(row):.2f}]  ×{ratio:.3f}  {s}")
PY
