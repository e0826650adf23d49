#!/usr/bin/env bash
# CMD_CYCLE_OPEN / CMD_CYCLE_CLOSE / CMD_CYCLE_TIMER end to end on loopback: knock-server in
# UDP-server mode runs the open command for each requested port with fwknop's substitutions, and
# the close command after the timer; a stanza without a cycle still goes to the firewall ('none').
# Started as root, the daemon runs as nobody: the commands run as nobody too (with cap_net_admin
# for firewall tools), so they write into a world-writable (sticky) directory.
set -uo pipefail
server=${1:?knock-server} seal=${2:?knock_seal}
tmp=$(mktemp -d); chmod 1777 "$tmp"
port=$((20000 + ($$ * 7) % 20000))
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
K=4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU= H=aG1hYy1rZXktZm9yLXRoZS1leGFtcGxl
printf 'ENABLE_UDP_SERVER Y;\nUDPSERV_PORT %s;\nFWKNOP_RUN_DIR %s/run;\nFIREWALL_TYPE none;\n' "$port" "$tmp" > "$tmp/fwknopd.conf"
cat > "$tmp/access.conf" <<CONF
SOURCE ANY
KEY_BASE64 $K
HMAC_KEY_BASE64 $H
CMD_CYCLE_OPEN /usr/bin/touch $tmp/open-\$IP-\$PROTO-\$PORT
CMD_CYCLE_CLOSE /usr/bin/touch $tmp/close-\$IP-\$PORT
CMD_CYCLE_TIMER 2
CONF
"$server" -f -c "$tmp/fwknopd.conf" -a "$tmp/access.conf" 2> "$tmp/log" & pid=$!
sleep 0.7
python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.argv[1].encode(), ("127.0.0.1", int(sys.argv[2])))' \
  "$("$seal" --key-b64 $K --hmac-key-b64 $H --message 10.0.0.5,tcp/22,udp/53)" "$port"
sleep 0.8
opened_early=$(ls "$tmp" | grep -c '^close-' || true)
sleep 2.5
kill "$pid"; wait "$pid" 2>/dev/null; pid=
cat "$tmp/log"
passed=0 failed=0
ok() { if eval "$2"; then echo "ok: $1"; passed=$((passed+1)); else echo "FAILED: $1"; failed=$((failed+1)); fi; }
ok "the open command ran for every port, with \$IP \$PROTO \$PORT substituted" "[ -e '$tmp/open-10.0.0.5-6-22' ] && [ -e '$tmp/open-10.0.0.5-17-53' ]"
ok "the close commands waited for CMD_CYCLE_TIMER" "[ -e '$tmp/open-10.0.0.5-6-22' ] && [ '$opened_early' -eq 0 ]"
ok "then the close commands ran for every port" "[ -e '$tmp/close-10.0.0.5-22' ] && [ -e '$tmp/close-10.0.0.5-53' ]"
if [ "$(id -u)" -eq 0 ]; then
  ok "started as root, the commands ran as nobody (the daemon's user after start-up)" "[ \"\$(stat -c %U '$tmp/open-10.0.0.5-6-22')\" = nobody ]"
fi
ok "the grant was logged with the timer as its length" "grep -q 'open 10.0.0.5 tcp/22 udp/53 for 2 s' '$tmp/log'"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
