#!/usr/bin/env bash
# KNOCK_REPLAY_CAPACITY end to end on loopback: knock-server (UDP-server mode, firewall 'none')
# with room for 2 packets accepts 2 fresh valid packets, then refuses a third with
# replay_store_full (it fails closed rather than forget a packet that could be replayed), for the
# replay log (DIGEST_FILE) and for memory alone (ENABLE_DIGEST_PERSISTENCE N).
set -uo pipefail
server=${1:?knock-server} seal=${2:?knock_seal}
tmp=$(mktemp -d); chmod 711 "$tmp"  # started as root, the daemon runs as nobody in $tmp/run
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
K=4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU= H=aG1hYy1rZXktZm9yLXRoZS1leGFtcGxl
printf 'SOURCE ANY\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\n' "$K" "$H" > "$tmp/access.conf"
passed=0 failed=0
ok() { if eval "$2"; then echo "ok: $1"; passed=$((passed+1)); else echo "FAILED: $1"; failed=$((failed+1)); fi; }
for persistence in Y N; do
  port=$((20000 + ($$ * 11 + ${#persistence} * 7 + RANDOM) % 20000))
  printf 'ENABLE_UDP_SERVER Y;\nUDPSERV_PORT %s;\nFWKNOP_RUN_DIR %s/run-%s;\nFIREWALL_TYPE none;\nENABLE_DIGEST_PERSISTENCE %s;\nKNOCK_REPLAY_CAPACITY 2;\n' \
    "$port" "$tmp" "$persistence" "$persistence" > "$tmp/fwknopd.conf"
  "$server" -f -c "$tmp/fwknopd.conf" -a "$tmp/access.conf" 2> "$tmp/log-$persistence" & pid=$!
  for _ in $(seq 50); do grep -q "started:" "$tmp/log-$persistence" && break; sleep 0.1; done
  for i in 1 2 3; do
    python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.argv[1].encode(), ("127.0.0.1", int(sys.argv[2])))' \
      "$("$seal" --key-b64 $K --hmac-key-b64 $H --message "10.0.0.$i,tcp/22")" "$port"
    sleep 0.2
  done
  sleep 0.3
  kill "$pid"; wait "$pid" 2>/dev/null; pid=
  log="$tmp/log-$persistence"
  cat "$log"
  ok "persistence $persistence: the first two packets are accepted" "[ \$(grep -c ': accepted by stanza' '$log') -eq 2 ]"
  ok "persistence $persistence: the third is refused, replay_store_full" "grep -q 'packet from 127.0.0.1: refused: replay_store_full' '$log'"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
