#!/usr/bin/env bash
# fwknop_flags_test.sh KNOCK_CLIENT - the client flags and rc variables issue #13 added, run through
# the real fwknop client (Debian's fwknop-client) and knock-client with the same HOME, files and
# command line: both must accept or both refuse, and where fwknop prints something a script reads
# (--stanza-list, --show-last, the args file, --nat-rand-port's line) knock-client prints the same.
# Every command line has --test (nothing is sent) or only reads files. With root, each runs in a
# fresh network namespace (fwknop's -R then fails as it does offline); without, -R is left out.
# Exit: 0 all agree, 1 some differ, 77 skipped (no fwknop).
set -uo pipefail
kc=${1:?usage: fwknop_flags_test.sh path/to/knock-client}
command -v fwknop >/dev/null || { echo "SKIP: fwknop (Debian fwknop-client) is not installed"; exit 77; }
kc=$(realpath "$kc")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/knock-client-flags.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
export HOME="$tmp/home" SPOOF_USER=tester
mkdir -m 700 "$HOME"
cd "$tmp" || exit 99
isolate=()
[ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null && isolate=(unshare -n)

failed=0 passed=0
pass() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
# same NAME ARGS...: fwknop and knock-client both accept or both refuse ARGS.
same() {
  local name=$1 f k
  shift
  "${isolate[@]}" fwknop "$@" >"$tmp/f.out" 2>&1 </dev/null
  f=$?
  "${isolate[@]}" "$kc" "$@" >"$tmp/k.out" 2>&1 </dev/null
  k=$?
  if [ $((f == 0)) -eq $((k == 0)) ]; then pass; else
    bad "$name: fwknop exit $f ($(grep -v '^ ' "$tmp/f.out" | head -1)), knock-client exit $k ($(head -1 "$tmp/k.out"))"
  fi
}
rc() { printf '[default]\n%s\n' "$@" >"$tmp/rc"; chmod 600 "$tmp/rc"; }

b=(-A tcp/22 -a 127.0.0.2 -D 127.0.0.1 --no-save-args --key-rijndael testtest --key-hmac hmachmac)
t=("${b[@]}" --test)
same udpraw_spoof "${t[@]}" -P udpraw -Q 1.2.3.4
same tcpraw_spoof "${t[@]}" -P tcpraw --spoof-source 1.2.3.4
same icmp_type_code "${t[@]}" -P icmp --icmp-type 8 --icmp-code 0 -Q 1.2.3.4
same icmp_type_41 "${t[@]}" -P icmp --icmp-type 41
same icmp_code_16 "${t[@]}" -P icmp --icmp-code 16
same spoof_needs_raw "${t[@]}" -Q 1.2.3.4
same spoof_not_ipv4 "${t[@]}" -P udpraw -Q 1.2.3
same http "${t[@]}" -P http
same http_proxy "${t[@]}" -H http://www.cipherdyne.org:80/cgi-bin/myip
same http_proxy_bad_port "${t[@]}" -H http://www.cipherdyne.org:99999/cgi-bin/myip
same http_proxy_not_http "${t[@]}" -H http://proxy:3128 -P udp
same rand_port "${t[@]}" -r
same nat_rand_port "${t[@]}" -N 192.168.1.2:40001 --nat-rand-port
same nat_local_rand_port "${t[@]}" --nat-local --nat-rand-port
same nat_invalid_host "${t[@]}" -N .168.10.1
same resolve_with_a "${t[@]}" -R
[ ${#isolate[@]} -gt 0 ] && same resolve_offline -A tcp/22 -D 127.0.0.1 --no-save-args \
  --key-rijndael testtest --test -R
same get_key_unused "${t[@]}" --get-key "$tmp/none"
same get_key_missing -A tcp/22 -a 127.0.0.2 -D 127.0.0.1 --no-save-args --test --get-key "$tmp/none"
same no_home_dir "${t[@]}" --no-home-dir
same no_home_dir_rc "${t[@]}" --no-home-dir --no-rc-file
same no_home_dir_rc_e "${t[@]}" --no-home-dir --no-rc-file -E "$tmp/nh.save"
rc "TIME_OFFSET +1H"; same rc_time_offset_hours "${t[@]}" --rc-file "$tmp/rc"
rc "TIME_OFFSET abc"; same rc_time_offset_bad "${t[@]}" --rc-file "$tmp/rc"
rc "VERBOSE 100"; same rc_verbose_100 "${t[@]}" --rc-file "$tmp/rc"
rc "VERBOSE 4"; same rc_verbose_4 "${t[@]}" --rc-file "$tmp/rc"
rc "RAND_PORT Y" "NAT_RAND_PORT Y"; same rc_rand_ports "${t[@]}" --rc-file "$tmp/rc"
rc "SPOOF_SOURCE_IP 1.2.3.4" "SPA_SERVER_PROTO udpraw"; same rc_spoof "${t[@]}" --rc-file "$tmp/rc"
rc "SPOOF_SOURCE_IP 1.2.3.4"; same rc_spoof_udp "${t[@]}" --rc-file "$tmp/rc"
rc "SPA_SERVER_PROTO ICMP"; same rc_proto_icmp "${t[@]}" --rc-file "$tmp/rc"
rc "HTTP_PROXY http://1.2.3.4"; same rc_http_proxy "${t[@]}" --rc-file "$tmp/rc"
rc "KEY testtest" "HMAC_KEY_FILE $tmp/none" "DIGEST_TYPE SHA1"
same rc_hmac_key_file_unused -A tcp/22 -a 127.0.0.2 -D 127.0.0.1 --no-save-args --test --rc-file "$tmp/rc"
rc "SPOOF_USER $(printf 'A%.0s' $(seq 74))"; same rc_spoof_user_long "${t[@]}" --rc-file "$tmp/rc"
SPOOF_USER=$(printf 'A%.0s' $(seq 64)) same env_spoof_user_64 "${t[@]}"
SPOOF_USER=$(printf 'A%.0s' $(seq 48)) same env_spoof_user_48 "${t[@]}"
printf 'A%.0s' $(seq 1500) >"$tmp/long"
same hmac_key_line_1500 "${b[@]/hmachmac/}" --test --use-hmac --fd 3 3<"$tmp/long"

# NAT forms: the same plaintext as fwknop's (Encoded Data, without its random value and time).
plain() { sed -n 's/^ *Encoded Data: //p' | cut -d: -f2,4-; }
for nat in "-N 192.168.10.1" "-N 192.168.10.1:12345" "-N 192.168.10.1,12345" "--nat-local" \
  "--nat-local --nat-port 22211" "-N 192.168.10.1 --nat-port 22211" "-f 45 -N inside.example:2222" \
  "-f 45 --nat-local"; do
  # shellcheck disable=SC2086
  fp=$(fwknop "${t[@]}" $nat 2>&1 | plain)
  # shellcheck disable=SC2086
  kp=$("$kc" "${t[@]}" $nat 2>&1 | plain)
  [ -n "$fp" ] && [ "$fp" = "$kp" ] && pass || bad "NAT '$nat': fwknop '$fp', knock-client '$kp'"
done

# --stanza-list: the same lines.
printf '[default]\nKEY testkey\n\n[stanza_1]\nKEY k1\n\n[Stanza_2]\nKEY k2\n' >"$tmp/rc"
chmod 600 "$tmp/rc"
fwknop --stanza-list --rc-file "$tmp/rc" >"$tmp/f.out" 2>&1
"$kc" --stanza-list --rc-file "$tmp/rc" >"$tmp/k.out" 2>&1
diff "$tmp/f.out" "$tmp/k.out" >"$tmp/diff" && pass || bad "--stanza-list differs: $(cat "$tmp/diff")"

# -E saves the command line; --show-last prints it; -l runs it. Each program reads the other's.
e=("${t[@]/--no-save-args/-v}")
fwknop "${e[@]}" -E "$tmp/f.save" >/dev/null 2>&1
"$kc" "${e[@]}" -E "$tmp/k.save" >/dev/null 2>&1
[ "$(stat -c %a "$tmp/k.save" 2>/dev/null)" = 600 ] && pass || bad "-E: the args file is not 0600"
[ "$(cut -d' ' -f2- "$tmp/k.save" | sed 's/k.save/f.save/')" = "$(cut -d' ' -f2- "$tmp/f.save")" ] &&
  pass || bad "-E: '$(cat "$tmp/k.save")' is not fwknop's '$(cat "$tmp/f.save")'"
fwknop --show-last -E "$tmp/k.save" >"$tmp/f.out" 2>&1
"$kc" --show-last -E "$tmp/k.save" >"$tmp/k.out" 2>&1
diff "$tmp/f.out" "$tmp/k.out" >"$tmp/diff" && pass || bad "--show-last differs: $(cat "$tmp/diff")"
for file in f.save k.save; do
  "$kc" -l -E "$tmp/$file" >"$tmp/k.out" 2>&1 && grep -q 'Message String: 127.0.0.2,tcp/22' "$tmp/k.out" &&
    pass || bad "-l -E $file: $(head -3 "$tmp/k.out")"
done
same show_last_missing --show-last -E "$tmp/none"
same last_cmd_missing -l -E "$tmp/none"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
