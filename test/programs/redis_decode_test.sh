#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shellcheck disable=SC2119,SC2120,SC2015  # decode takes optional flags; pass/fail never fails
# knock-server --decode with KNOCK_REPLAY_REDIS (issue #18): two runs against one redis-server (started
# here, on a unix socket in a temp dir, with a password) act as two gateways: the packet the real
# fwknop client made is accepted by the first and refused as replayed by the second (fwknopd keeps
# its digest cache per process: a second fwknopd would accept it). Garbage and a forged HMAC never
# reach Redis (INFO commandstats); a valid packet costs one SET per key, each with a TTL of the
# replay window. Redis down: replay_store_unavailable, with the detail, never accepted. Over TLS
# (rediss://, a TLS redis-server with a certificate made here): the signing CA accepts, another CA
# stores nothing. Bad settings are refused naming file:line and the variable; the password never
# appears anywhere.
#
# usage: redis_decode_test.sh KNOCK_SERVER
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: $0 KNOCK_SERVER" >&2; exit 2; }
server=$1
for t in redis-server redis-cli fwknop python3; do
  command -v "$t" >/dev/null || { echo "SKIP: $t not found"; exit 77; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/knock-redis-decode.XXXXXX")
redis_pid=""
cleanup() {
  for pid in "$redis_pid" "${tls_redis_pid:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null; done
  wait 2>/dev/null; rm -rf "$tmp"
}
trap cleanup EXIT
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/    | /'; }
expect() { # what, pattern, text
  if grep -q -- "$2" <<<"$3"; then pass "$1"; else fail "$1 (no '$2')" "$3"; fi
}

password="pw-$RANDOM$RANDOM-secret"
sock=$tmp/redis.sock
start_redis() {
  redis-server --port 0 --unixsocket "$sock" --dir "$tmp" --save '' --appendonly no \
    --requirepass "$password" --logfile "$tmp/redis.log" </dev/null &
  redis_pid=$!
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
}
cli() { REDISCLI_AUTH=$password redis-cli -s "$sock" "$@"; }
sets() { cli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_set:calls=\([0-9]*\).*/\1/p' | grep . || echo 0; }

key=$(python3 -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')
hmac=$(python3 -c 'import base64,os;print(base64.b64encode(os.urandom(64)).decode())')
printf 'SOURCE ANY\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\nHMAC_DIGEST_TYPE sha256\nOPEN_PORTS tcp/22\n' \
  "$key" "$hmac" >"$tmp/access.conf"
printf '%s\n' "$password" >"$tmp/password"
chmod 600 "$tmp/password"
printf 'KNOCK_REPLAY_REDIS unix://%s\nKNOCK_REPLAY_REDIS_PASSWORD_FILE %s\n' "$sock" "$tmp/password" \
  >"$tmp/fwknopd.conf"
make_packet() { # file
  HOME=$tmp fwknop --no-rc-file --no-save-args -D 127.0.0.1 -A tcp/22 -a 10.0.0.5 --use-hmac \
    --hmac-digest-type sha256 --key-base64-rijndael "$key" --key-base64-hmac "$hmac" --test -B "$1" \
    >/dev/null 2>&1
}
decode() { "$server" -c "$tmp/fwknopd.conf" -a "$tmp/access.conf" --decode "$@" 2>&1; }
all_output=""

start_redis
make_packet "$tmp/p1" || { echo "FAIL: fwknop --test -B made no packet"; exit 1; }
python3 -c 'import os,base64;print(base64.b64encode(os.urandom(180)).decode().rstrip("="))' >"$tmp/garbage"
python3 - "$tmp/p1" "$tmp/forged" <<'PY'
import sys
p = open(sys.argv[1]).read().strip()
open(sys.argv[2], "w").write(p[:-1] + ("A" if p[-1] != "A" else "B") + "\n")
PY
out=$(decode <"$tmp/garbage"); all_output+=$out
expect "garbage is refused (bad_mac)" '"reason":"bad_mac"' "$out"
out=$(decode <"$tmp/forged"); all_output+=$out
expect "a forged HMAC is refused (bad_mac)" '"reason":"bad_mac"' "$out"
n=$(sets)
[ "$n" = 0 ] && pass "garbage and the forgery sent no SET to Redis" || fail "garbage reached Redis: $n SET(s)"

out=$(decode <"$tmp/p1"); all_output+=$out
expect "gateway A (first --decode run) accepts the fwknop packet" '"accepted":true' "$out"
n=$(sets)
[ "$n" = 2 ] && pass "one SET per key: 2 for a valid packet" || fail "expected 2 SETs, Redis ran $n"
out=$(decode <"$tmp/p1"); all_output+=$out
expect "gateway B (second --decode run) refuses the same bytes as replayed" '"reason":"replayed"' "$out"
keys=$(cli --scan --pattern 'knock:replay:*' | sort)
[ "$(wc -l <<<"$keys")" = 2 ] && pass "Redis holds 2 keys under knock:replay:" || fail "keys in Redis" "$keys"
ttl=$(cli TTL "$(head -1 <<<"$keys")")
[ "$ttl" -ge 230 ] && [ "$ttl" -le 241 ] && pass "the key's TTL is the replay window (2 x 120 + 1 s): $ttl" ||
  fail "TTL $ttl is not about 241"

kill "$redis_pid"; wait "$redis_pid" 2>/dev/null; redis_pid=""
make_packet "$tmp/p2"
out=$(decode <"$tmp/p2"); all_output+=$out
expect "Redis down: a fresh valid packet is refused (replay_store_unavailable)" \
  '"reason":"replay_store_unavailable"' "$out"
expect "... with the socket and why in the detail" "\"detail\":\"redis: no endpoint answered ($sock" "$out"
start_redis
out=$(decode <"$tmp/p2"); all_output+=$out
expect "Redis back: the same packet is accepted (it was never accepted before)" '"accepted":true' "$out"

# KNOCK_REPLAY_REDIS_WAIT: with no replica to acknowledge, a fresh valid packet is refused (its
# keys stay on the primary); the reason says how many replicas had them.
{ cat "$tmp/fwknopd.conf"; printf 'KNOCK_REPLAY_REDIS_WAIT 1\n'; } >"$tmp/wait.conf"
make_packet "$tmp/p4"
out=$("$server" -c "$tmp/wait.conf" -a "$tmp/access.conf" --decode <"$tmp/p4" 2>&1); all_output+=$out
expect "KNOCK_REPLAY_REDIS_WAIT 1 without a replica: replay_store_unavailable" \
  '"reason":"replay_store_unavailable"' "$out"
expect "... saying the keys reached 0 of 1 replica(s)" 'WAIT: the keys reached 0 of 1 replica(s) within 37 ms' "$out"

# Wrong password: a clear error, the password in no output.
printf 'not-the-password\n' >"$tmp/wrong"; chmod 600 "$tmp/wrong"
sed "s|$tmp/password|$tmp/wrong|" "$tmp/fwknopd.conf" >"$tmp/wrong.conf"
make_packet "$tmp/p3"
out=$("$server" -c "$tmp/wrong.conf" -a "$tmp/access.conf" --decode <"$tmp/p3" 2>&1); all_output+=$out
expect "a wrong password: replay_store_unavailable, AUTH refused: WRONGPASS" 'AUTH refused: WRONGPASS' "$out"

# Over TLS (rediss://): a redis-server with a TLS port and a password, its certificate made here
# by openssl for 127.0.0.1. The CA that signed it: accepted, then replayed; another CA: refused
# (replay_store_unavailable, certificate verify failed), nothing stored; the CA's CRL revoking
# Redis's certificate (KNOCK_REPLAY_REDIS_TLS_CRL): refused, nothing stored.
tls_redis_pid=""
if command -v openssl >/dev/null; then
  mk() { openssl "$@" >/dev/null 2>&1; }
  for ca in ca other; do
    mk req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=knock test $ca" \
      -keyout "$tmp/$ca.key" -out "$tmp/$ca.pem"
  done
  mk req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
    -keyout "$tmp/server.key" -out "$tmp/server.csr"
  printf 'subjectAltName=IP:127.0.0.1\n' >"$tmp/san.ext"
  mk x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial -days 2 \
    -extfile "$tmp/san.ext" -out "$tmp/server.pem"
  tls_port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  redis-server --port 0 --tls-port "$tls_port" --bind 127.0.0.1 --tls-cert-file "$tmp/server.pem" \
    --tls-key-file "$tmp/server.key" --tls-ca-cert-file "$tmp/ca.pem" --tls-auth-clients no \
    --unixsocket "$tmp/tls.sock" --dir "$tmp" --save '' --appendonly no --requirepass "$password" \
    --logfile "$tmp/redis-tls.log" </dev/null &
  tls_redis_pid=$!
  for _ in $(seq 100); do [ -S "$tmp/tls.sock" ] && break; sleep 0.05; done
  tls_conf() { # CA file [CRL file]
    printf 'KNOCK_REPLAY_REDIS rediss://127.0.0.1:%s\nKNOCK_REPLAY_REDIS_PASSWORD_FILE %s\nKNOCK_REPLAY_REDIS_TLS_CA %s\nKNOCK_REPLAY_REDIS_TIMEOUT 500\n' \
      "$tls_port" "$tmp/password" "$1" >"$tmp/tls.conf"
    [ -n "${2:-}" ] && printf 'KNOCK_REPLAY_REDIS_TLS_CRL %s\n' "$2" >>"$tmp/tls.conf"
    return 0
  }
  tls_decode() { "$server" -c "$tmp/tls.conf" -a "$tmp/access.conf" --decode 2>&1; }
  tls_sets() { REDISCLI_AUTH=$password redis-cli -s "$tmp/tls.sock" INFO commandstats | tr -d '\r' |
    sed -n 's/^cmdstat_set:calls=\([0-9]*\).*/\1/p' | grep . || echo 0; }
  # OpenSSL is loaded for rediss:// only (it is not linked: 1.7 MiB resident for nothing).
  loads_ssl() { # conf, packet: whether the run's dynamic loader opened libssl
    local trace
    trace=$(LD_DEBUG=files "$server" -c "$1" -a "$tmp/access.conf" --decode <"$2" 2>&1)
    grep -q 'file=libssl' <<<"$trace"
  }
  make_packet "$tmp/p6"
  if loads_ssl "$tmp/fwknopd.conf" "$tmp/p6"; then fail "a unix:// store loaded libssl"
  else pass "a unix:// store round trip does not load libssl"; fi
  make_packet "$tmp/p5"
  tls_conf "$tmp/other.pem"
  out=$(tls_decode <"$tmp/p5"); all_output+=$out
  expect "rediss:// with another CA: refused (replay_store_unavailable)" \
    '"reason":"replay_store_unavailable"' "$out"
  expect "... because the certificate did not verify" 'TLS handshake: certificate verify failed' "$out"
  n=$(tls_sets)
  [ "$n" = 0 ] && pass "nothing reached Redis over an unverified connection" || fail "$n SET(s) over TLS"
  tls_conf "$tmp/ca.pem"
  out=$(tls_decode <"$tmp/p5"); all_output+=$out
  expect "rediss:// with the CA that signed Redis's certificate: accepted" '"accepted":true' "$out"
  out=$(tls_decode <"$tmp/p5"); all_output+=$out
  expect "... and the same packet again, over TLS: replayed" '"reason":"replayed"' "$out"
  n=$(tls_sets)
  [ "$n" = 4 ] && pass "Redis ran the SETs it got over TLS (2 per run)" ||
    fail "expected 4 SETs over TLS, Redis ran $n"
  loads_ssl "$tmp/tls.conf" "$tmp/p5" && pass "a rediss:// store loads libssl" ||
    fail "a rediss:// store did not load libssl (LD_DEBUG=files)"
  # KNOCK_REPLAY_REDIS_TLS_CRL: the CA revokes Redis's certificate (openssl ca's own database).
  : >"$tmp/index.txt"; echo 01 >"$tmp/crlnumber"
  printf '[ca]\ndefault_ca = k\n[k]\ndatabase = %s\ncrlnumber = %s\ndefault_md = sha256\ndefault_crl_days = 2\n' \
    "$tmp/index.txt" "$tmp/crlnumber" >"$tmp/ca.cnf"
  mk ca -config "$tmp/ca.cnf" -keyfile "$tmp/ca.key" -cert "$tmp/ca.pem" -revoke "$tmp/server.pem"
  mk ca -config "$tmp/ca.cnf" -keyfile "$tmp/ca.key" -cert "$tmp/ca.pem" -gencrl -out "$tmp/ca.crl"
  make_packet "$tmp/p7"
  tls_conf "$tmp/ca.pem" "$tmp/ca.crl"
  before=$(tls_sets)
  out=$(tls_decode <"$tmp/p7"); all_output+=$out
  expect "rediss:// with a CRL that revokes Redis's certificate: refused" \
    '"reason":"replay_store_unavailable"' "$out"
  expect "... because the certificate is revoked" 'certificate revoked' "$out"
  n=$(tls_sets)
  [ "$n" = "$before" ] && pass "nothing more reached Redis" ||
    fail "expected still $before SETs, Redis ran $n"
  kill "$tls_redis_pid"; wait "$tls_redis_pid" 2>/dev/null; tls_redis_pid=""
else
  echo "SKIP: openssl not found: the rediss:// checks did not run"
fi

# Settings refused with file:line: VARIABLE: why.
refused() { # what, conf text, pattern
  printf '%b' "$2" >"$tmp/bad.conf"
  local o
  o=$(decode <"$tmp/p3"); all_output+=$o
  expect "$1" "$3" "$o"
}
decode() { "$server" -c "$tmp/bad.conf" -a "$tmp/access.conf" --decode "$@" 2>&1; }
refused "a TLS setting without rediss:// is refused" \
  'KNOCK_REPLAY_REDIS redis://h\nKNOCK_REPLAY_REDIS_TLS_CA /etc/ssl/certs/ca-certificates.crt\n' \
  'bad.conf:2: KNOCK_REPLAY_REDIS_TLS_CA: set, but KNOCK_REPLAY_REDIS is not a rediss:// URL'
refused "a missing CA file names its line and the file" \
  "KNOCK_REPLAY_REDIS rediss://h\nKNOCK_REPLAY_REDIS_TLS_CA $tmp/none.pem\n" \
  "bad.conf:2: KNOCK_REPLAY_REDIS_TLS_CA: TLS: $tmp/none.pem: "
refused "a file without a CRL names its line and the file" \
  "KNOCK_REPLAY_REDIS rediss://h\nKNOCK_REPLAY_REDIS_TLS_CRL $tmp/access.conf\n" \
  "bad.conf:2: KNOCK_REPLAY_REDIS_TLS_CRL: TLS: $tmp/access.conf: "
refused "a CRL without rediss:// is refused" \
  "KNOCK_REPLAY_REDIS redis://h\nKNOCK_REPLAY_REDIS_TLS_CRL $tmp/none.crl\n" \
  'bad.conf:2: KNOCK_REPLAY_REDIS_TLS_CRL: set, but KNOCK_REPLAY_REDIS is not a rediss:// URL'
refused "a client certificate without its key is refused" \
  "KNOCK_REPLAY_REDIS rediss://h\nKNOCK_REPLAY_REDIS_TLS_CERT $tmp/none.pem\n" \
  'bad.conf:2: KNOCK_REPLAY_REDIS_TLS_CERT: a client certificate needs both'
refused "a password in the URL is refused, and not repeated" 'KNOCK_REPLAY_REDIS redis://:hunter2@h\n' \
  'bad.conf:1: KNOCK_REPLAY_REDIS: a user or password in the URL is refused'
refused "a bad port names file:line" '# x\nKNOCK_REPLAY_REDIS redis://h:99999\n' \
  "bad.conf:2: KNOCK_REPLAY_REDIS: 'h:99999': the port is not a number in 1..65535"
refused "a timeout of 0 is refused" 'KNOCK_REPLAY_REDIS redis://h\nKNOCK_REPLAY_REDIS_TIMEOUT 0\n' \
  'bad.conf:2: KNOCK_REPLAY_REDIS_TIMEOUT'
refused "a WAIT for more than 64 replicas is refused" \
  'KNOCK_REPLAY_REDIS redis://h\nKNOCK_REPLAY_REDIS_WAIT 65\n' 'bad.conf:2: KNOCK_REPLAY_REDIS_WAIT'
refused "KNOCK_REPLAY_REDIS_WAIT without KNOCK_REPLAY_REDIS is refused" \
  'KNOCK_REPLAY_REDIS_WAIT 1\n' 'bad.conf:1: KNOCK_REPLAY_REDIS_WAIT: set without KNOCK_REPLAY_REDIS'
refused "a password file without KNOCK_REPLAY_REDIS is refused" \
  "KNOCK_REPLAY_REDIS_PASSWORD_FILE $tmp/password\n" 'set without KNOCK_REPLAY_REDIS'
chmod 644 "$tmp/wrong"
refused "a password file every user can read is refused" \
  "KNOCK_REPLAY_REDIS redis://h\nKNOCK_REPLAY_REDIS_PASSWORD_FILE $tmp/wrong\n" \
  'bad.conf:2: KNOCK_REPLAY_REDIS_PASSWORD_FILE: .* is readable by every user'
printf 'not a key\n' >"$tmp/open.key"; chmod 644 "$tmp/open.key"
refused "a client key every user can read is refused" \
  "KNOCK_REPLAY_REDIS rediss://h\nKNOCK_REPLAY_REDIS_TLS_CERT $tmp/none.pem\nKNOCK_REPLAY_REDIS_TLS_KEY $tmp/open.key\n" \
  'bad.conf:3: KNOCK_REPLAY_REDIS_TLS_KEY: .* is readable by every user'
refused "a missing password file is refused" \
  "KNOCK_REPLAY_REDIS redis://h\nKNOCK_REPLAY_REDIS_PASSWORD_FILE $tmp/none\n" \
  'bad.conf:2: KNOCK_REPLAY_REDIS_PASSWORD_FILE: .* No such file or directory'
if grep -qF -- "$password" <<<"$all_output" || grep -qF hunter2 <<<"$all_output"; then
  fail "a password appeared in knock-server's output"
else
  pass "no password in any output"
fi

echo "redis_decode_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
