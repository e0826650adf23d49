#!/usr/bin/env bash
# The backend sets are open: toy_server is knock-server plus a toy firewall and a toy capture
# source (test/programs/toy/: one header and one list entry each). Through them, a sealed packet
# is granted, --fw-list shows the grant and --fw-flush removes it; the names and the variables
# the program knows follow from its lists (knock-server, without the toys, refuses them).
set -uo pipefail
toy=${1:?toy_server} server=${2:?knock-server} seal=${3:?knock_seal}
tmp=$(mktemp -d); chmod 1777 "$tmp"
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
K=4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU= H=aG1hYy1rZXktZm9yLXRoZS1leGFtcGxl
mkfifo -m 666 "$tmp/input"
: > "$tmp/grants"; chmod 666 "$tmp/grants"
cat > "$tmp/fwknopd.conf" <<CONF
FIREWALL_TYPE toy;
TOY_GRANTS $tmp/grants;
KNOCK_CAPTURE lines;
TOY_INPUT $tmp/input;
TOY_SOURCE 192.0.2.7;
FWKNOP_RUN_DIR $tmp/run;
ENABLE_DIGEST_PERSISTENCE N;
CONF
printf 'SOURCE ANY\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\nOPEN_PORTS tcp/22\n' $K $H > "$tmp/access.conf"

passed=0 failed=0
ok() { if eval "$2"; then echo "ok: $1"; passed=$((passed+1)); else echo "FAILED: $1"; failed=$((failed+1)); fi; }

"$toy" -f -c "$tmp/fwknopd.conf" -a "$tmp/access.conf" 2> "$tmp/log" & pid=$!
packet=$("$seal" --key-b64 $K --hmac-key-b64 $H --message 10.0.0.5,tcp/22)
sleep 0.5
printf '%s\n' "$packet" > "$tmp/input"
for _ in $(seq 50); do [ -s "$tmp/grants" ] && break; sleep 0.1; done
printf '%s\n' "$packet" > "$tmp/input"  # the same bytes again: a replay
sleep 0.5
ok "the toy capture delivered the packet and the toy firewall got the grant" \
   "grep -qx 'open 10.0.0.5 tcp/22 for 30 s' '$tmp/grants'"
ok "the replay through the toy capture was refused, nothing more granted" \
   "grep -q 'packet from 192.0.2.7: refused: replayed' '$tmp/log' && [ \$(wc -l < '$tmp/grants') -eq 1 ]"
ok "the daemon said which backends it runs" "grep -q 'firewall toy, capture lines' '$tmp/log'"
kill "$pid"; wait "$pid" 2>/dev/null; pid=

out=$("$toy" -c "$tmp/fwknopd.conf" --fw-list 2>&1)
ok "--fw-list goes through the toy firewall" "[ \"\$out\" = 'toy: open 10.0.0.5 tcp/22 for 30 s' ]"
"$toy" -c "$tmp/fwknopd.conf" --fw-flush; rc=$?
ok "--fw-flush goes through the toy firewall" "[ $rc -eq 0 ] && [ ! -s '$tmp/grants' ] && [ -z \"\$('$toy' -c '$tmp/fwknopd.conf' --fw-list)\" ]"

sed -i 's/^FIREWALL_TYPE toy;/FIREWALL_TYPE bogus;/' "$tmp/fwknopd.conf"
err=$("$toy" -c "$tmp/fwknopd.conf" -a "$tmp/access.conf" -D 2>&1 >/dev/null)
ok "an unknown FIREWALL_TYPE is refused at its line, naming the list's backends ($err)" \
   "[[ \"\$err\" == *'fwknopd.conf:1: FIREWALL_TYPE: unknown value '\\''bogus'\\'' (known: nftables, iptables, none, toy)'* ]]"
sed -i 's/^FIREWALL_TYPE bogus;/FIREWALL_TYPE toy;/' "$tmp/fwknopd.conf"
err=$("$server" -c "$tmp/fwknopd.conf" -a "$tmp/access.conf" -D 2>&1 >/dev/null)
ok "knock-server, built without the toys, does not know their variables ($err)" \
   "[[ \"\$err\" == *'fwknopd.conf:2: TOY_GRANTS: unknown variable'* ]]"
sed -i '/^TOY_/d; /^KNOCK_CAPTURE/d' "$tmp/fwknopd.conf"
err=$("$server" -c "$tmp/fwknopd.conf" -a "$tmp/access.conf" -D 2>&1 >/dev/null)
ok "knock-server refuses FIREWALL_TYPE toy ($err)" \
   "[[ \"\$err\" == *'FIREWALL_TYPE: unknown value '\\''toy'\\'' (known: nftables, iptables, pf, ipfw, firewalld, none)'* ]]"
[ "$failed" -eq 0 ] || cat "$tmp/log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
