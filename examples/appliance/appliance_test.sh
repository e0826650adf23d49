#!/usr/bin/env bash
# example_appliance_server: a packet opens through the callback firewall (the API is called with the
# grant), the same packet again is refused as a replay, a packet with a wrong HMAC is refused, the
# grant is revoked when it expires (FW_ACCESS_TIMEOUT 2), and the replay log grew by what one grant
# writes. Usage: appliance_test.sh APPLIANCE_SERVER KNOCK_SEAL
set -euo pipefail
server=$1 seal=$2
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
key=4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU= hmac=aG1hYy1rZXktZm9yLXRoZS1leGFtcGxl
printf 'SOURCE ANY\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\nFW_ACCESS_TIMEOUT 2\n' "$key" "$hmac" >"$dir/access.conf"
"$server" "$dir/access.conf" "$dir/replay.log" 0 --count 3 >"$dir/out" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q 'listening on UDP port' "$dir/out" && break; sleep 0.1; done
port=$(sed -n 's/^listening on UDP port \([0-9]*\)$/\1/p' "$dir/out")
[ -n "$port" ] || { cat "$dir/out"; echo "FAIL: no port"; exit 1; }
packet=$("$seal" --key-b64 "$key" --hmac-key-b64 "$hmac")
bad=$("$seal" --key-b64 "$key" --hmac-key-b64 "d3JvbmctaG1hYy1rZXk=")
for p in "$packet" "$packet" "$bad"; do printf '%s' "$p" >"/dev/udp/127.0.0.1/$port"; sleep 0.2; done
sleep 3  # the grant (2 s) expires; the server revokes it on its next 1 s tick
for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
wait "$pid"
cat "$dir/out"
expect() { grep -q "$1" "$dir/out" || { echo "FAIL: expected '$1'"; exit 1; }; }
expect '^api: allow 10.0.0.5 tcp/22 for 2 s$'
expect '^refused 127.0.0.1: replayed$'
expect '^refused 127.0.0.1: bad_mac$'
expect '^api: revoke 10.0.0.5 tcp/22$'
expect '^replay log: [1-9][0-9]* bytes appended for 1 grants'
echo PASS
