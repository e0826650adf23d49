#!/usr/bin/env bash
# fwknoprc_interop_test.sh KNOCK_CLIENT FWKNOPD_ACCEPTS - ~/.fwknoprc both ways between the REAL
# fwknop client and knock-client (HOME points at temp dirs):
#  1. stanzas written by `fwknop --save-rc-stanza` (plus a [default] setting) are read by
#     `knock-client -n`: the same fields as `fwknop -n` prints, and packets the real fwknopd takes;
#  2. stanzas written by `knock-client --save-rc-stanza` (also with --key-gen, and with -s) are read
#     by `fwknop -n ... --test`: the same fields again, and fwknop's packets are valid for the keys
#     in the stanza (the real fwknopd takes them), as are knock-client's.
# Validity is checked with test/interop/fwknopd_accepts.sh (fwknopd -U -t in network namespaces).
# Exit: 0 all passed, 1 some failed, 77 skipped (not root, or fwknop / fwknopd missing).
set -uo pipefail
kc=${1:?usage: fwknoprc_interop_test.sh path/to/knock-client path/to/fwknopd_accepts.sh}
accepts=${2:?usage: fwknoprc_interop_test.sh path/to/knock-client path/to/fwknopd_accepts.sh}
export PATH="$PATH:/usr/sbin:/sbin"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (fwknopd_accepts.sh uses network namespaces)"; exit 77; }
command -v fwknop >/dev/null || { echo "SKIP: fwknop (client) not found"; exit 77; }
command -v fwknopd >/dev/null || { echo "SKIP: fwknopd not found"; exit 77; }

K1=4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU=
H1=Cxw4EuL8of22BPy6x1f+IU0RRaiBWPdxb3nBaKuNB86D1yo9c5WSZImd8dDDlVeu8AR2JC8gIbXec1UMzGXeS9OjWggtfxE5pvqAR8HFghoN8eI5o8XdFvNNE3cCbJYnFxZMfPLZuEe/6koTmNTc8VmOt6j2EbF/GYgrAxo1C8o=
K2=uJ0BHrQhOf0lLH2cZ7D9kWbq3a1l1PQq6Nk0vF2mS8E=
H2=I/w0dzxn5CtMqsrQ5zOYFqszPYoDXv7BE1VNFRLNWr2bfcf2mwWQk0uX9Z0BYja47gw1/pYoFH8n1rHmDVThyg==
tmp=$(mktemp -d "${TMPDIR:-/tmp}/knock-client-rc.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0 passed=0
pass() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

# The lines of a --test dump that depend only on the settings (not on time or randomness).
fields() {
  grep -E '^ *(Username|FKO Version|Message Type|Message String|Nat Access|Server Auth|Client Timeout|Digest Type|HMAC Type|Encryption Type|Encryption Mode):' "$1"
}
# same_fields NAME FWKNOP_OUT KNOCK_OUT: identical settings, timestamps within 3 s.
same_fields() {
  if ! diff <(fields "$2") <(fields "$3") >"$tmp/diff"; then
    bad "$1: fwknop and knock-client differ:"; sed 's/^/    /' "$tmp/diff"; return
  fi
  [ "$(fields "$2" | wc -l)" -eq 11 ] || { bad "$1: fields missing"; return; }
  local a b
  a=$(sed -n 's/^ *Timestamp: //p' "$2"); b=$(sed -n 's/^ *Timestamp: //p' "$3")
  [ $((a - b)) -le 3 ] && [ $((b - a)) -le 3 ] && pass || bad "$1: timestamps $a and $b"
}
# accepted NAME MODE HMAC KEY HKEY FILE: the real fwknopd takes every packet of FILE.
accepted() {
  local out rc
  out=$("$accepts" --mode "$2" --hmac "$3" --key-b64 "$4" --hmac-key-b64 "$5" "$6" 2>&1)
  rc=$?
  [ $rc -eq 77 ] && { echo "$out"; exit 77; }
  if [ $rc -eq 0 ] && ! grep -qv '^accepted$' <<<"$out"; then pass; else bad "$1: fwknopd says: $out"; fi
  echo "  $1: $(grep -c '^accepted$' <<<"$out") of $(grep -c . "$6") packets accepted by fwknopd"
}

# ---- 1. fwknop writes, knock-client reads ---------------------------------------------------------
export HOME=$tmp/h1
mkdir -p "$HOME"
fwknop -n srvA --save-rc-stanza --test --no-save-args -A tcp/22,udp/53 -a 10.0.0.5 -D 10.9.9.9 -M ctr \
  -m sha384 --key-base64-rijndael "$K1" --key-base64-hmac "$H1" --hmac-digest-type sha512 -U bob -f 60 \
  --time-offset-minus 30s >/dev/null 2>&1 || bad "fwknop --save-rc-stanza srvA"
fwknop -n srvA2 --save-rc-stanza --test --no-save-args -A tcp/8080 -a 10.0.0.5 -D 10.9.9.9 -M ctr \
  --key-base64-rijndael "$K1" --key-base64-hmac "$H1" --hmac-digest-type sha512 -U bob \
  -N 192.168.1.10:22 >/dev/null 2>&1 || bad "fwknop --save-rc-stanza srvA2"
sed -i 's/^\[default\]$/[default]\nDIGEST_TYPE         sha1/' "$HOME/.fwknoprc"  # srvA2 takes it
echo "fwknop wrote:"; sed -n '/^\[default\]/,$p' "$HOME/.fwknoprc" | grep -v '^#' | sed 's/^/    /'
: >"$tmp/k1.pkt"
for s in srvA srvA2; do
  fwknop -n "$s" --test --no-save-args >"$tmp/fwknop.$s" 2>&1 || bad "fwknop -n $s"
  "$kc" -n "$s" --test -B "$tmp/k1.pkt" -b >"$tmp/knock.$s" 2>"$tmp/err" || bad "knock-client -n $s: $(cat "$tmp/err")"
  same_fields "fwknop-written [$s]" "$tmp/fwknop.$s" "$tmp/knock.$s"
done
grep -qx '    Digest Type: 2 (SHA1)' "$tmp/knock.srvA2" && pass || bad "[default] DIGEST_TYPE not used for srvA2"
accepted "knock-client packets from fwknop's stanzas" ctr sha512 "$K1" "$H1" "$tmp/k1.pkt"

# ---- 2. knock-client writes, fwknop reads ---------------------------------------------------------
export HOME=$tmp/h2
mkdir -p "$HOME"
"$kc" -n srvB --save-rc-stanza --test -A tcp/2222 -a 10.0.0.7 -D 10.9.9.9 -M cfb -m sha1 \
  --key-base64-rijndael "$K2" --key-base64-hmac "$H2" --hmac-digest-type sha3_256 -U carol -f 90 \
  -N 192.168.1.20:80 -P tcp -p 40000 --time-offset-minus 1m >/dev/null 2>"$tmp/err" || bad "knock-client save srvB: $(cat "$tmp/err")"
"$kc" -n srvD --save-rc-stanza --test -s -A udp/53 -D 10.9.9.9 -M cfb --key-base64-rijndael "$K2" \
  --key-base64-hmac "$H2" --hmac-digest-type sha3_256 >/dev/null 2>"$tmp/err" || bad "knock-client save srvD: $(cat "$tmp/err")"
"$kc" --key-gen --save-rc-stanza -n srvC --hmac-digest-type sha384 -A tcp/22 -a 10.0.0.8 -D 10.9.9.9 \
  >"$tmp/out" 2>"$tmp/err" || bad "knock-client --key-gen --save-rc-stanza: $(cat "$tmp/err")"
[ "$(stat -c %a "$HOME/.fwknoprc")" = 600 ] && pass || bad "rc file mode"
echo "knock-client wrote:"; sed 's/^/    /' "$HOME/.fwknoprc"
: >"$tmp/f2.pkt"; : >"$tmp/f3.pkt"
for s in srvB srvD srvC; do
  file=$tmp/f2.pkt
  [ $s = srvC ] && file=$tmp/f3.pkt
  fwknop -n "$s" --test --no-save-args -B "$tmp/one.pkt" >"$tmp/fwknop.$s" 2>&1 || bad "fwknop -n $s: $(tail -2 "$tmp/fwknop.$s")"
  cat "$tmp/one.pkt" >>"$file"
  "$kc" -n "$s" --test -B "$file" -b >"$tmp/knock.$s" 2>"$tmp/err" || bad "knock-client -n $s: $(cat "$tmp/err")"
  same_fields "knock-written [$s]" "$tmp/fwknop.$s" "$tmp/knock.$s"
done
grep -qx ' Message String: 0.0.0.0,udp/53' "$tmp/fwknop.srvD" && pass || bad "fwknop did not read ALLOW_IP source"
accepted "packets of both clients from knock's stanzas" cfb sha3_256 "$K2" "$H2" "$tmp/f2.pkt"
K3=$(sed -n '/^\[srvC\]/,$ s/^KEY_BASE64 *//p' "$HOME/.fwknoprc")
H3=$(sed -n '/^\[srvC\]/,$ s/^HMAC_KEY_BASE64 *//p' "$HOME/.fwknoprc")
[ -n "$K3" ] && [ -n "$H3" ] && pass || bad "--key-gen keys not in the stanza"
accepted "packets of both clients with --key-gen keys from the stanza" cbc sha384 "$K3" "$H3" "$tmp/f3.pkt"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
