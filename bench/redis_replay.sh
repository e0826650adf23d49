#!/usr/bin/env bash
# bench/redis_replay.sh KNOCK_SERVER KNOCK_SEAL [PACKETS] - issue #18's numbers for the Redis replay
# store (a benchmark, not a test: it prints, it asserts nothing). knock-server --decode reads PACKETS
# distinct valid packets (knock_seal, HMAC-SHA256) one per line, each run 5 times; the median wall
# time per packet is reported for each replay store, with the run's VmHWM (GNU time's max RSS) and
# its voluntary context switches per packet (GNU time's %w: each round trip to Redis blocks once,
# so this counts round trips where the wall time is at the mercy of the machine's load):
#   memory      no persistence (the floor)
#   file        -d replay.log (the daemon's default store: a write per key, an fsync per accept)
#   redis-unix  KNOCK_REPLAY_REDIS unix:///... (Redis on the same host, unix socket)
#   redis-tcp   redis://127.0.0.1 (same host, TCP loopback)
#   redis-tls   rediss://127.0.0.1 (same host, TCP loopback, TLS; certificates made here by openssl)
#   redis-veth  redis://10.x (Redis in a network namespace of its own, across a veth; root only)
# Added latency per valid packet = redis-* minus memory. Then garbage (PACKETS random base64 lines,
# refused as bad_mac) with Redis down against the memory store: the refusal floor, which must not
# move (nothing the HMAC refused waits on Redis). Everything runs on this machine; the namespaces
# made here are removed on exit.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 KNOCK_SERVER KNOCK_SEAL [PACKETS]" >&2; exit 2; }
server=$(realpath "$1") seal=$(realpath "$2") count=${3:-3000}
runs=5
for t in redis-server redis-cli python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "$0: $t not found" >&2; exit 2; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/knock-redis-bench.XXXXXX")
pids=() ns=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for n in "${ns[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

key=$(python3 -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')
hmac=$(python3 -c 'import base64,os;print(base64.b64encode(os.urandom(64)).decode())')
printf 'SOURCE ANY\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\nHMAC_DIGEST_TYPE sha256\nOPEN_PORTS tcp/22\n' \
  "$key" "$hmac" >"$tmp/access.conf"
echo "making $count packets with knock_seal ..." >&2
for _ in $(seq "$count"); do
  "$seal" --mode cbc --hmac sha256 --key-b64 "$key" --hmac-key-b64 "$hmac" --digest sha256
done >"$tmp/valid"
python3 -c "
import base64,os
for _ in range($count): print(base64.b64encode(os.urandom(180)).decode().rstrip('='))" >"$tmp/garbage"

start_redis() { # [netns] args...
  local prefix=()
  if [ "$1" = --ns ]; then prefix=(ip netns exec "$2"); shift 2; fi
  "${prefix[@]}" redis-server --save '' --appendonly no --dir "$tmp" --logfile "$tmp/redis.log" "$@" &
  pids+=($!)
  sleep 0.3
}
start_redis --port 6390 --bind 127.0.0.1 --unixsocket "$tmp/redis.sock"
flush() { redis-cli -p 6390 FLUSHALL >/dev/null; }
# TLS: a CA and a certificate for 127.0.0.1, and a second redis-server on a TLS port.
tls=0
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj "/CN=knock bench CA" -keyout "$tmp/ca.key" -out "$tmp/ca.pem" >/dev/null 2>&1 &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
      -keyout "$tmp/tls.key" -out "$tmp/tls.csr" >/dev/null 2>&1 &&
    printf 'subjectAltName=IP:127.0.0.1\n' >"$tmp/san.ext" &&
    openssl x509 -req -in "$tmp/tls.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
      -days 1 -extfile "$tmp/san.ext" -out "$tmp/tls.pem" >/dev/null 2>&1 && tls=1
fi
if [ "$tls" = 1 ]; then
  start_redis --port 0 --tls-port 6392 --bind 127.0.0.1 --tls-cert-file "$tmp/tls.pem" \
    --tls-key-file "$tmp/tls.key" --tls-ca-cert-file "$tmp/ca.pem" --tls-auth-clients no \
    --unixsocket "$tmp/redis-tls.sock"
fi

# run NAME INPUT [prefix command...] -- knock-server args: median s/packet and max VmHWM (kB)
run() {
  local name=$1 input=$2; shift 2
  local prefix=()
  while [ "$1" != -- ]; do prefix+=("$1"); shift; done
  shift
  local times=() hwm=0 waits=()
  for _ in $(seq "$runs"); do
    flush 2>/dev/null || true
    rm -f "$tmp/replay.log"
    local t0 t1 kb w
    t0=$(date +%s%N)
    "${prefix[@]}" /usr/bin/time -f '%M %w' -o "$tmp/time" "$server" -a "$tmp/access.conf" --decode "$@" \
      <"$input" >"$tmp/out"
    t1=$(date +%s%N)
    read -r kb w < <(tail -1 "$tmp/time")
    [ "$kb" -gt "$hwm" ] && hwm=$kb
    waits+=("$w")
    times+=($(( (t1 - t0) / 1000 )))
  done
  local median switches
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  switches=$(printf '%s\n' "${waits[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  local verdicts
  verdicts=$(grep -o '"reason":"[a-z_]*"\|"accepted":true' "$tmp/out" | sort | uniq -c | tr -s ' ' | tr '\n' ',')
  awk -v n="$name" -v us="$median" -v c="$count" -v kb="$hwm" -v w="$switches" -v v="$verdicts" 'BEGIN {
    printf "%-22s %8.2f us/packet %9.0f packets/s  %5.2f waits/packet  VmHWM %6.1f MiB  [%s]\n", n, us / c, c / (us / 1e6), w / c, kb / 1024, v }'
}
conf() { printf 'ENABLE_SPA_PACKET_AGING Y\n%s\n' "$1" >"$tmp/$2.conf"; echo "$tmp/$2.conf"; }

echo "knock-server --decode, $count packets a run, median of $runs runs ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
run "valid, memory" "$tmp/valid" -- -c "$(conf '' memory)"
run "valid, file (-d)" "$tmp/valid" -- -c "$(conf '' file)" -d "$tmp/replay.log"
run "valid, redis unix" "$tmp/valid" -- -c "$(conf "KNOCK_REPLAY_REDIS unix://$tmp/redis.sock" unix)"
run "valid, redis tcp lo" "$tmp/valid" -- -c "$(conf 'KNOCK_REPLAY_REDIS redis://127.0.0.1:6390' tcp)"
if [ "$tls" = 1 ]; then
  flush() { redis-cli -s "$tmp/redis-tls.sock" FLUSHALL >/dev/null; }
  run "valid, redis tls lo" "$tmp/valid" -- -c "$(conf "KNOCK_REPLAY_REDIS rediss://127.0.0.1:6392
KNOCK_REPLAY_REDIS_TLS_CA $tmp/ca.pem" tls)"
  flush() { redis-cli -p 6390 FLUSHALL >/dev/null; }
else
  echo "valid, redis tls lo     (skipped: no openssl to make a certificate)"
fi
if [ "$(id -u)" -eq 0 ]; then
  a="knock-bench-$$-gw" r="knock-bench-$$-rds"
  ip netns add "$a" && ns+=("$a") && ip netns add "$r" && ns+=("$r")
  ip link add "kbg$$" netns "$a" type veth peer name "kbr$$" netns "$r"
  ip -n "$a" addr add 10.251.0.1/30 dev "kbg$$" && ip -n "$r" addr add 10.251.0.2/30 dev "kbr$$"
  for n in "$a" "$r"; do ip -n "$n" link set lo up; done
  ip -n "$a" link set "kbg$$" up && ip -n "$r" link set "kbr$$" up
  start_redis --ns "$r" --port 6391 --bind 10.251.0.2 --protected-mode no
  flush() { ip netns exec "$r" redis-cli -h 10.251.0.2 -p 6391 FLUSHALL >/dev/null; }
  run "valid, redis veth" "$tmp/valid" ip netns exec "$a" -- \
    -c "$(conf 'KNOCK_REPLAY_REDIS redis://10.251.0.2:6391' veth)"
  flush() { redis-cli -p 6390 FLUSHALL >/dev/null; }
else
  echo "valid, redis veth       (skipped: needs root for the network namespaces)"
fi
run "garbage, memory" "$tmp/garbage" -- -c "$(conf '' gmemory)"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
flush() { :; }
run "garbage, redis down" "$tmp/garbage" -- -c "$(conf "KNOCK_REPLAY_REDIS unix://$tmp/redis.sock" gdown)"
run "valid, redis down" "$tmp/valid" -- -c "$(conf "KNOCK_REPLAY_REDIS unix://$tmp/redis.sock" vdown)"
