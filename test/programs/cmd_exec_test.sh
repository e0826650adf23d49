#!/usr/bin/env bash
# ENABLE_CMD_EXEC end to end on loopback: knock-server in UDP-server mode (firewall none) runs an
# accepted command message as CMD_EXEC_USER, without a shell; a stanza without ENABLE_CMD_EXEC
# refuses it. Needs root (to switch user); skips (77) otherwise.
set -uo pipefail
server=${1:?knock-server} seal=${2:?knock_seal}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (CMD_EXEC_USER switches user)"; exit 77; }
tmp=$(mktemp -d); chmod 1777 "$tmp"
port=$((20000 + $$ % 20000))
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
K=4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU= H=aG1hYy1rZXktZm9yLXRoZS1leGFtcGxl
printf 'ENABLE_UDP_SERVER Y;\nUDPSERV_PORT %s;\nFWKNOP_RUN_DIR %s/run;\nFIREWALL_TYPE none;\n' "$port" "$tmp" > "$tmp/fwknopd.conf"
printf 'SOURCE 127.0.0.2\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\n\nSOURCE 127.0.0.1\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\nENABLE_CMD_EXEC Y\nCMD_EXEC_USER nobody\n' "$K" "$H" "$K" "$H" > "$tmp/access.conf"
"$server" -f -c "$tmp/fwknopd.conf" -a "$tmp/access.conf" 2> "$tmp/log" & pid=$!
sleep 0.7
send() { python3 -c 'import socket,sys; socket.socket().__class__; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[2], 0)); s.sendto(sys.argv[1].encode(), ("127.0.0.1", int(sys.argv[3])))' "$1" "$2" "$port"; }
send "$("$seal" --key-b64 $K --hmac-key-b64 $H --type 0 --message "10.0.0.5,/usr/bin/touch $tmp/from-127.0.0.2")" 127.0.0.2
send "$("$seal" --key-b64 $K --hmac-key-b64 $H --type 0 --message "10.0.0.5,touch $tmp/made;by;a $tmp/shell?")" 127.0.0.1
sleep 1.5
kill "$pid"; wait "$pid" 2>/dev/null; pid=
cat "$tmp/log"
passed=0 failed=0
ok() { if eval "$2"; then echo "ok: $1"; passed=$((passed+1)); else echo "FAILED: $1"; failed=$((failed+1)); fi; }
ok "a stanza without ENABLE_CMD_EXEC refuses commands" "grep -q 'packet from 127.0.0.2: refused: commands_disabled' '$tmp/log' && [ ! -e '$tmp/from-127.0.0.2' ]"
ok "the command ran as CMD_EXEC_USER nobody" "[ \"\$(stat -c %U '$tmp/made;by;a')\" = nobody ]"
ok "no shell: ';' and '?' stayed in one argument" "[ -e '$tmp/made;by;a' ] && [ -e '$tmp/shell?' ] && [ ! -e '$tmp/made' ]"
ok "the command's end is logged" "grep -q 'command ended (exit 0)' '$tmp/log'"

# ENABLE_CMD_SUDO_EXEC (fwknopd's): the command runs as `SUDO_EXE -u CMD_SUDO_EXEC_USER COMMAND`,
# with the real sudo; it needs a daemon that kept root (KNOCK_USER root), and one that drops root
# refuses to start, naming the stanza.
if command -v sudo >/dev/null 2>&1; then
  printf 'SOURCE 127.0.0.1\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\nENABLE_CMD_EXEC Y\nENABLE_CMD_SUDO_EXEC Y\nCMD_SUDO_EXEC_USER nobody\n' "$K" "$H" > "$tmp/sudo-access.conf"
  "$server" -f -c "$tmp/fwknopd.conf" -a "$tmp/sudo-access.conf" --user nobody 2> "$tmp/sudo-refused.log"; rc=$?
  ok "a daemon that drops root refuses ENABLE_CMD_SUDO_EXEC at start-up, naming file:line" \
     "[ $rc -ne 0 ] && grep -q 'sudo-access.conf:1: ENABLE_CMD_SUDO_EXEC: sudo cannot work' '$tmp/sudo-refused.log'"
  printf 'KNOCK_USER root;\nSUDO_EXE %s;\n' "$(command -v sudo)" >> "$tmp/fwknopd.conf"
  "$server" -f -c "$tmp/fwknopd.conf" -a "$tmp/sudo-access.conf" 2> "$tmp/sudo.log" & pid=$!
  sleep 0.7
  send "$("$seal" --key-b64 $K --hmac-key-b64 $H --type 0 --message "10.0.0.5,touch $tmp/by-sudo")" 127.0.0.1
  for _ in $(seq 30); do [ -e "$tmp/by-sudo" ] && break; sleep 0.1; done
  kill "$pid"; wait "$pid" 2>/dev/null; pid=
  cat "$tmp/sudo.log"
  ok "ENABLE_CMD_SUDO_EXEC: sudo ran the command as CMD_SUDO_EXEC_USER nobody" "[ \"\$(stat -c %U '$tmp/by-sudo' 2>/dev/null)\" = nobody ]"
else
  echo "SKIPPED (not counted): ENABLE_CMD_SUDO_EXEC cases: sudo is not installed (cmake/install-deps.sh installs it)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
