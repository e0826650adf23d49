#!/usr/bin/env bash
# bench/redis_workers.sh [--runs N] [--delay-ms D]... - KNOCK_WORKERS 1 and 2 with the Redis replay
# store, Redis near and far: what a connection per worker (per_worker_store.hpp) gives when each
# round trip takes time. A measurement, not a test: it prints, asserts nothing, writes nothing
# under bench/results. Needs root (bench/load.sh's network namespaces) and redis-server.
#
# A redis-server of its own on a Unix socket, and for each delay D (default 0 and 0.5 ms) in front
# of it bench/delay_proxy.py, which holds every chunk D ms each way (this kernel has no netem):
# a round trip 2 × D longer, as to a Redis across a network. Then, for each, bench/load.sh's phase 5
# (a backlog of valid packets queued while the daemon is stopped, decided with nothing else
# running; 1 worker, then 2) with KNOCK_REPLAY_REDIS pointing at the proxy. One round trip per
# worker per batch (pipelining): with one connection per worker, two workers wait for theirs at
# the same time.
#
#   bench/redis_workers.sh --runs 3 --delay-ms 0 --delay-ms 0.5
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
runs=3
delays=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --delay-ms) delays+=("$2"); shift 2 ;;
        -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "redis_workers.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ ${#delays[@]} -gt 0 ] || delays=(0 0.5)
[ "$(id -u)" -eq 0 ] || { echo "redis_workers.sh: needs root (network namespaces)" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "redis_workers.sh: redis-server not found" >&2; exit 2; }

tmp=$(mktemp -d /tmp/knock-redis-workers.XXXXXX)
chmod 755 "$tmp"  # knock-server runs as nobody and connects to the proxy's socket here
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

redis-server --port 0 --unixsocket "$tmp/redis.sock" --unixsocketperm 777 --save '' \
    --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$tmp/redis.sock" ] && break; sleep 0.1; done
[ -S "$tmp/redis.sock" ] || { cat "$tmp/redis.log" >&2; exit 1; }

for d in "${delays[@]}"; do
    python3 "$here/delay_proxy.py" "$tmp/proxy-$d.sock" "$tmp/redis.sock" "$d" &
    pids+=($!)
    for _ in $(seq 50); do [ -S "$tmp/proxy-$d.sock" ] && break; sleep 0.1; done
    "$here/load.sh" --phases 5 --knock-only --runs "$runs" --out "$tmp/out-$d" \
        --knock-conf "KNOCK_REPLAY_REDIS unix://$tmp/proxy-$d.sock" >"$tmp/load-$d.log" 2>&1 ||
        { cat "$tmp/load-$d.log" >&2; exit 1; }
    echo "Redis round trip + $(python3 -c "print(2 * $d)") ms (bench/delay_proxy.py, $d ms each way):"
    sed -n '/^5\. /,/^$/p' "$tmp/out-$d/load.txt"
done
