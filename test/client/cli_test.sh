#!/usr/bin/env bash
# cli_test.sh KNOCK_CLIENT - knock-client as a program, without privileges: fwknop's options and
# their errors (one line on stderr, non-zero exit, nothing sent), --test / -v / -B output,
# --key-gen, .fwknoprc stanzas (read, precedence, --save-rc-stanza), key sources, and sending over
# loopback: UDP and TCP, IPv4 and IPv6, a fixed source port, a name to resolve.
# Exit 0 when every check passes; 77 (skip) without python3 (the loopback listener).
set -uo pipefail
kc=${1:?usage: cli_test.sh path/to/knock-client}
command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }

K=4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU=
H=I/w0dzxn5CtMqsrQ5zOYFqszPYoDXv7BE1VNFRLNWr2bfcf2mwWQk0uX9Z0BYja47gw1/pYoFH8n1rHmDVThyg==
tmp=$(mktemp -d "${TMPDIR:-/tmp}/knock-client-cli.XXXXXX")
listener_pid=""
cleanup() {
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null && wait "$listener_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
export HOME=$tmp/home LC_ALL=C
mkdir -p "$HOME"
unset SPOOF_USER
failed=0 passed=0
pass() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
keys=(--key-base64-rijndael "$K" --key-base64-hmac "$H")

# refuses NAME EXPECTED_TEXT ARGS...: exit non-zero, exactly one line on stderr containing
# EXPECTED_TEXT, nothing on stdout, and no key quoted.
refuses() {
  local name=$1 want=$2; shift 2
  "$kc" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$? lines
  lines=$(wc -l <"$tmp/err")
  if [ $rc -eq 0 ]; then bad "$name: exit 0"; return; fi
  if [ "$lines" -ne 1 ]; then bad "$name: $lines lines on stderr:"; cat "$tmp/err"; return; fi
  if [ -s "$tmp/out" ]; then bad "$name: wrote to stdout"; return; fi
  if ! grep -qF -- "$want" "$tmp/err"; then bad "$name: stderr lacks '$want': $(cat "$tmp/err")"; return; fi
  if grep -qF -e "$K" -e "$H" -e "SeCrEtKeY" "$tmp/err"; then bad "$name: a key on stderr"; return; fi
  pass
}

# ---- bad input -----------------------------------------------------------------------------------
base=(--no-rc-file -a 10.0.0.5 -D 127.0.0.1)
refuses unknown_flag "unknown option '--frobnicate'" --frobnicate
refuses unknown_short "unknown option '-Z'" -Z
refuses missing_value "-A needs a value" -A
refuses bad_port "'tcp/99999' is not a list of tcp/PORT or udp/PORT" "${base[@]}" "${keys[@]}" -A tcp/99999
refuses bad_proto "'icmp/8' is not a list" "${base[@]}" "${keys[@]}" -A icmp/8
refuses bad_server_port "'0' is not a port" "${base[@]}" "${keys[@]}" -A tcp/22 -p 0
refuses bad_allow_ip "'1.2.3' is not an IPv4 address" --no-rc-file -a 1.2.3 -A tcp/22 "${keys[@]}" --test
refuses no_allow_ip "say which address to open" --no-rc-file -A tcp/22 "${keys[@]}" --test
refuses no_access "-A is required" --no-rc-file -s "${keys[@]}" --test
refuses no_destination "-D is required" --no-rc-file -s -A tcp/22 "${keys[@]}"
refuses bad_mode "unknown encryption mode 'xyz'" "${base[@]}" -A tcp/22 "${keys[@]}" -M xyz
refuses gpg_mode "GnuPG mode needs the server's key: --gpg-recipient-key" "${base[@]}" -A tcp/22 "${keys[@]}" -M asymmetric
refuses bad_server_proto "unknown protocol 'sctp'" "${base[@]}" -A tcp/22 "${keys[@]}" -P sctp
refuses bad_digest "unknown digest 'sha999'" "${base[@]}" -A tcp/22 "${keys[@]}" -m sha999
refuses bad_key_b64 "--key-base64-rijndael: is not base64" "${base[@]}" -A tcp/22 --key-base64-rijndael 'SeCrEtKeY!!'
refuses long_key "the encryption key is 33 bytes; fwknop takes at most 32" "${base[@]}" -A tcp/22 \
  --key-rijndael SeCrEtKeY012345678901234567890123
refuses equal_keys "the encryption key and the HMAC key must differ" "${base[@]}" -A tcp/22 \
  --key-rijndael SeCrEtKeY --key-hmac SeCrEtKeY
refuses legacy_hmac "legacy encryption mode cannot be used with an HMAC" "${base[@]}" -A tcp/22 "${keys[@]}" -M legacy
refuses bad_user "has a character fwknop refuses" "${base[@]}" -A tcp/22 "${keys[@]}" -U 'a:b'
refuses bad_offset "is not a time offset" "${base[@]}" -A tcp/22 "${keys[@]}" --time-offset-plus w
refuses too_long "400 characters or more" "${base[@]}" "${keys[@]}" --test -C "$(printf 'x%.0s' $(seq 150))"
rcbase=(-a 10.0.0.5 -D 127.0.0.1 --test)
refuses missing_rc "rc file '$tmp/nope' does not exist" --rc-file "$tmp/nope" "${rcbase[@]}" -A tcp/22 "${keys[@]}"
mkdir "$tmp/rcdir"
refuses rc_is_dir "is not a regular file" --rc-file "$tmp/rcdir" "${rcbase[@]}" -A tcp/22 "${keys[@]}"
printf '[default]\nFW_TIMEOUT abc\n' >"$tmp/badrc"; chmod 600 "$tmp/badrc"
refuses rc_bad_value "$tmp/badrc:2: FW_TIMEOUT: 'abc' is not a number of seconds" --rc-file "$tmp/badrc" "${rcbase[@]}" -A tcp/22 "${keys[@]}"
printf '[default]\nKEY_BASE64 SeCrEtKeY!!\n' >"$tmp/badkeyrc"; chmod 600 "$tmp/badkeyrc"
refuses rc_bad_key "$tmp/badkeyrc:2: KEY_BASE64: is not base64" --rc-file "$tmp/badkeyrc" "${rcbase[@]}" -A tcp/22
printf '[default]\n[other]\nACCESS tcp/22\n' >"$tmp/okrc"; chmod 600 "$tmp/okrc"
refuses rc_unknown_stanza "named configuration stanza [nope] was not found in $tmp/okrc" --rc-file "$tmp/okrc" -n nope
refuses no_rc_with_n "-n cannot be used with --no-rc-file" --no-rc-file -n x
refuses unresolvable "cannot resolve 'no-such-host.invalid'" --no-rc-file -a 10.0.0.5 -A tcp/22 "${keys[@]}" \
  -D no-such-host.invalid -B "$tmp/unresolved"
[ -e "$tmp/unresolved" ] && bad "a packet was saved for a name that does not resolve" || pass
refuses sha3_keygen "--key-gen for sha3_256 needs --hmac-key-len" --no-rc-file --key-gen --hmac-digest-type sha3_256
refuses keygen_len "--key-len: '33' is not a key length (1..32)" --key-gen --key-len 33

# ---- --help, --key-gen ---------------------------------------------------------------------------
"$kc" --help | grep -q -- '--save-rc-stanza' && pass || bad "--help"
out=$("$kc" --no-rc-file --key-gen) || bad "--key-gen failed"
if [[ "$out" =~ ^KEY_BASE64:\ ([A-Za-z0-9+/]{43}=)$'\n'HMAC_KEY_BASE64:\ ([A-Za-z0-9+/]{86}==)$ ]]; then
  [ "$(printf %s "${BASH_REMATCH[1]}" | base64 -d | wc -c)" -eq 32 ] &&
    [ "$(printf %s "${BASH_REMATCH[2]}" | base64 -d | wc -c)" -eq 64 ] && pass || bad "--key-gen lengths"
else
  bad "--key-gen output: $out"
fi
out=$("$kc" --no-rc-file --key-gen --hmac-digest-type sha3_512 --hmac-key-len 40 --key-len 16)
[[ "$out" =~ ^KEY_BASE64:\ [A-Za-z0-9+/]{22}==$'\n'HMAC_KEY_BASE64:\ [A-Za-z0-9+/]{54}==?$ ]] && pass || bad "--key-gen sha3: $out"
"$kc" --no-rc-file -K "$tmp/keys.txt" >"$tmp/out" && grep -q "Wrote Rijndael and HMAC keys to: $tmp/keys.txt" "$tmp/out" &&
  [ "$(stat -c %a "$tmp/keys.txt")" = 600 ] && grep -q '^HMAC_KEY_BASE64: ' "$tmp/keys.txt" && pass || bad "-K"

# ---- --test, -v, -B ------------------------------------------------------------------------------
"$kc" --no-rc-file --test -A tcp/22 -a 10.0.0.5 "${keys[@]}" -f 45 -N 192.168.1.10:2222 -U bob \
  -m sha384 -M ofb --hmac-digest-type sha512 -B "$tmp/pkt" >"$tmp/out" 2>"$tmp/err" || bad "--test failed: $(cat "$tmp/err")"
grep -qx 'test mode enabled, SPA packet not actually sent.' "$tmp/out" && pass || bad "--test trailer"
grep -qx '   Message Type: 4 (Client timeout NAT access msg)' "$tmp/out" && pass || bad "type 4"
grep -qx '     Nat Access: 192.168.1.10,2222' "$tmp/out" && pass || bad "NAT field"
grep -qx ' Client Timeout: 45' "$tmp/out" && pass || bad "timeout field"
grep -qx '       Username: bob' "$tmp/out" && pass || bad "username"
grep -qx '    Digest Type: 4 (SHA384)' "$tmp/out" && pass || bad "digest type"
grep -qx '      HMAC Type: 5 (SHA512)' "$tmp/out" && pass || bad "hmac type"
grep -qx 'Encryption Mode: 5 (OFB)' "$tmp/out" && pass || bad "mode"
pkt=$(sed -n 's/^ Final SPA Data: //p' "$tmp/out")
[ "$(cat "$tmp/pkt")" = "$pkt" ] && [ "$(tail -c1 "$tmp/pkt" | od -An -c | tr -d ' ')" = '\n' ] && pass || bad "-B content"
grep -qF -e "$K" -e "$H" "$tmp/out" && bad "a key in --test output" || pass
"$kc" --no-rc-file --test -A tcp/22 -s "${keys[@]}" -B "$tmp/pkt" -b >/dev/null && [ "$(wc -l <"$tmp/pkt")" -eq 2 ] && pass || bad "-b"
grep -qx ' Message String: 0.0.0.0,tcp/22' <("$kc" --no-rc-file --test -A tcp/22 -s "${keys[@]}") && pass || bad "-s"
grep -qx '   Message Type: 0 (Command msg)' <("$kc" --no-rc-file --test -s -C 'echo hi' -f 30 "${keys[@]}") && pass || bad "-C"
grep -qx '   Message Type: 6 (Client timeout local NAT access msg)' \
  <("$kc" --no-rc-file --test -s -A tcp/22 --nat-local -D 10.9.9.9 -f 5 "${keys[@]}") && pass || bad "--nat-local"
now=$(date +%s)
ts=$("$kc" --no-rc-file --test -s -A tcp/22 "${keys[@]}" --time-offset-minus 1h | sed -n 's/^      Timestamp: //p')
[ $((now - 3600 - ts)) -le 2 ] && [ $((now - 3600 - ts)) -ge -2 ] && pass || bad "--time-offset-minus 1h: $ts vs $now"
# The username: SPOOF_USER, then LOGNAME; -U is cut to 29 characters.
grep -qx '       Username: spoofy' <(SPOOF_USER=spoofy LOGNAME=lg "$kc" --no-rc-file --test -s -A tcp/22 "${keys[@]}") && pass || bad SPOOF_USER
grep -qx '       Username: lg' <(LOGNAME=lg "$kc" --no-rc-file --test -s -A tcp/22 "${keys[@]}") && pass || bad LOGNAME
grep -qx '       Username: abcdefghijabcdefghijabcdefghi' \
  <("$kc" --no-rc-file --test -s -A tcp/22 "${keys[@]}" -U abcdefghijabcdefghijabcdefghijabcdef) && pass || bad "-U 29"

# ---- key sources ---------------------------------------------------------------------------------
printf 'enc-from-stdin\nhmac-from-stdin\n' | "$kc" --no-rc-file --test -s -A tcp/22 --stdin --use-hmac >"$tmp/out" 2>&1 &&
  grep -q '      HMAC Type: 3 (SHA256)' "$tmp/out" && pass || bad "--stdin: $(cat "$tmp/out")"
grep -q 'stdin' "$tmp/out" && bad "--stdin key echoed" || pass
printf '# keys\n127.0.0.1: file-key-1\n' >"$tmp/keyfile"
"$kc" --no-rc-file --test -s -A tcp/22 -D 127.0.0.1 -G "$tmp/keyfile" >/dev/null 2>"$tmp/err" && pass || bad "-G: $(cat "$tmp/err")"
refuses keyfile_no_entry "has no key for '10.0.0.1'" --no-rc-file --test -s -A tcp/22 -D 10.0.0.1 -G "$tmp/keyfile"
exec 7<<<"fd-key"
"$kc" --no-rc-file --test -s -A tcp/22 --fd 7 >/dev/null 2>"$tmp/err" && pass || bad "--fd: $(cat "$tmp/err")"
exec 7<&-
refuses no_key_no_tty "no encryption key given" --no-rc-file --test -s -A tcp/22 </dev/null

# ---- .fwknoprc -----------------------------------------------------------------------------------
rc=$HOME/.fwknoprc
printf '[default]\nDIGEST_TYPE sha1\nSPA_SERVER_PORT 1111\n\n[web]\nACCESS tcp/443\nALLOW_IP 10.1.1.1\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\nFW_TIMEOUT 60\n' "$K" "$H" >"$rc"
chmod 600 "$rc"
"$kc" -n web --test >"$tmp/out" 2>"$tmp/err" || bad "-n web: $(cat "$tmp/err")"
grep -qx ' Message String: 10.1.1.1,tcp/443' "$tmp/out" && grep -qx '    Digest Type: 2 (SHA1)' "$tmp/out" &&
  grep -qx ' Client Timeout: 60' "$tmp/out" && pass || bad "[default] + [web]"
"$kc" -n WEB --test -f 0 -A udp/53 -m sha256 >"$tmp/out" 2>&1
grep -qx ' Message String: 10.1.1.1,udp/53' "$tmp/out" && grep -qx '    Digest Type: 3 (SHA256)' "$tmp/out" &&
  grep -qx '   Message Type: 1 (Access msg)' "$tmp/out" && pass || bad "command line over the stanza"
chmod 644 "$rc"
"$kc" -n web --test 2>"$tmp/err" >/dev/null; grep -q 'accessible to others' "$tmp/err" && pass || bad "0644 warning"
chmod 600 "$rc"
# --save-rc-stanza: fwknop's layout, mode 0600, and what it saved is what a later -n uses.
"$kc" -n saved --save-rc-stanza --test -A tcp/2222 -a 10.2.2.2 -D 127.0.0.1 -p 40000 -P tcp -m sha512 \
  -M ctr "${keys[@]}" --hmac-digest-type sha384 --time-offset-plus 5m -f 30 >/dev/null 2>"$tmp/err" || bad "save: $(cat "$tmp/err")"
[ "$(stat -c %a "$rc")" = 600 ] && pass || bad "rc mode after save"
grep -qx 'SPA_SERVER_PROTO            tcp' "$rc" && grep -qx 'DIGEST_TYPE                 SHA512' "$rc" &&
  grep -qx 'TIME_OFFSET                 300' "$rc" && grep -qx 'ENCRYPTION_MODE             CTR' "$rc" &&
  grep -qx "KEY_BASE64                  $K" "$rc" && grep -qx 'USE_HMAC                    Y' "$rc" && pass || bad "saved stanza: $(cat "$rc")"
grep -qx '\[web\]' "$rc" && grep -qx 'FW_TIMEOUT 60' "$rc" && pass || bad "other stanzas kept"
"$kc" -n saved --test >"$tmp/out" 2>&1 && grep -qx ' Message String: 10.2.2.2,tcp/2222' "$tmp/out" &&
  grep -qx 'Encryption Mode: 6 (CTR)' "$tmp/out" && grep -qx '      HMAC Type: 4 (SHA384)' "$tmp/out" && pass || bad "-n saved"
refuses save_no_rc "--save-rc-stanza cannot be used with --no-rc-file" --no-rc-file --save-rc-stanza -D x
"$kc" --key-gen --save-rc-stanza -n fresh --hmac-digest-type sha1 >"$tmp/out" && grep -q "Wrote Rijndael and HMAC keys to rc file: $rc" "$tmp/out" &&
  "$kc" -n fresh --test -s -A tcp/22 >"$tmp/out" 2>&1 && grep -q '      HMAC Type: 2 (SHA1)' "$tmp/out" && pass || bad "--key-gen --save-rc-stanza: $(cat "$tmp/out")"

# ---- sending over loopback ------------------------------------------------------------------------
# listen PROTO HOST: receives one datagram / connection on a port the system picks, and writes
# "SOURCE_PORT PAYLOAD" to $tmp/got; $tmp/ready holds the port once it listens.
listen() {
  rm -f "$tmp/got" "$tmp/ready" "$tmp/ready.tmp"
  python3 - "$@" "$tmp/got" "$tmp/ready" <<'PY' &
import os, socket, sys
proto, host, out, ready = sys.argv[1:5]
af = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(af, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
s.bind((host, 0))
s.settimeout(5)
if proto == "tcp":
    s.listen(1)
with open(ready + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(ready + ".tmp", ready)
try:
    if proto == "udp":
        data, peer = s.recvfrom(65536)
    else:
        c, peer = s.accept()
        c.settimeout(5)
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
except socket.timeout:
    sys.exit(0)
with open(out, "w") as f:
    f.write(f"{peer[1]} {data.decode('latin-1')}\n")
PY
  listener_pid=$!
  for _ in $(seq 50); do [ -s "$tmp/ready" ] && return 0; sleep 0.1; done
  return 1
}
# free_port: a port nothing uses right now (for -S).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# sends NAME PROTO LISTEN_HOST ARGS...: knock-client sends; the listener got exactly the -B packet.
sends() {
  local name=$1 proto=$2 host=$3; shift 3
  listen "$proto" "$host" || { bad "$name: listener did not start"; return; }
  local port; port=$(cat "$tmp/ready")
  "$kc" --no-rc-file -A tcp/22 -a 10.0.0.5 "${keys[@]}" -p "$port" -B "$tmp/sent" "$@" 2>"$tmp/err" ||
    bad "$name: knock-client failed: $(cat "$tmp/err")"
  wait "$listener_pid" 2>/dev/null  # here, not in a $(...) subshell, which cannot wait for it
  listener_pid=""
  local got; got=$(cat "$tmp/got" 2>/dev/null)
  if [ "${got#* }" = "$(cat "$tmp/sent")" ]; then pass; else bad "$name: received '${got#* }'"; fi
  last_source_port=${got%% *}
}
sends udp4 udp 127.0.0.1 -D 127.0.0.1
sends udp4_name udp 127.0.0.1 -D localhost -4
sends tcp4 tcp 127.0.0.1 -D 127.0.0.1 -P tcp
sport=$(free_port)
sends udp4_sport udp 127.0.0.1 -D 127.0.0.1 -S "$sport"
[ "$last_source_port" = "$sport" ] && pass || bad "-S $sport: came from $last_source_port"
sport=$(free_port)
sends tcp4_sport tcp 127.0.0.1 -D 127.0.0.1 -P tcp -S "$sport"
[ "$last_source_port" = "$sport" ] && pass || bad "-P tcp -S $sport: came from $last_source_port"
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
  sends udp6 udp ::1 -D ::1 -6
  sends tcp6 tcp ::1 -D ::1 -6 -P tcp
else
  echo "note: no IPv6 loopback here; IPv6 sending not checked"
fi
refuses family_mismatch "cannot resolve '127.0.0.1'" --no-rc-file -A tcp/22 -a 10.0.0.5 "${keys[@]}" -D 127.0.0.1 -6
port=$(free_port)  # nothing listens there
refuses tcp_refused "sending to '127.0.0.1' failed" --no-rc-file -A tcp/22 -a 10.0.0.5 "${keys[@]}" -D 127.0.0.1 -P tcp -p "$port"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
