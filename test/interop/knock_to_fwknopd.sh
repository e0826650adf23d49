#!/usr/bin/env bash
# knock_to_fwknopd.sh KNOCK_SEAL - packets made by knock are accepted by the REAL fwknopd.
# For every encryption mode x HMAC type (and legacy/no-HMAC), every message type and every inner digest,
# knock_seal makes a packet with the current time; fwknopd_accepts.sh runs fwknopd -U -t in a network
# namespace and reports its verdict per packet. Exit 0 only when fwknopd accepted all of them;
# 77 (skip) without root.
set -uo pipefail
seal=${1:?usage: knock_to_fwknopd.sh path/to/knock_seal}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (network namespaces, fwknopd)"; exit 77; }

K256=4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU=
H256=I/w0dzxn5CtMqsrQ5zOYFqszPYoDXv7BE1VNFRLNWr2bfcf2mwWQk0uX9Z0BYja47gw1/pYoFH8n1rHmDVThyg==
H512=Cxw4EuL8of22BPy6x1f+IU0RRaiBWPdxb3nBaKuNB86D1yo9c5WSZImd8dDDlVeu8AR2JC8gIbXec1UMzGXeS9OjWggtfxE5pvqAR8HFghoN8eI5o8XdFvNNE3cCbJYnFxZMfPLZuEe/6koTmNTc8VmOt6j2EbF/GYgrAxo1C8o=
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0 total=0

# check MODE HMAC HMAC_KEY [knock_seal options…]: one group of packets, one fwknopd run.
check() {
  local mode=$1 hmac=$2 hkey=$3; shift 3
  local file=$tmp/$mode-$hmac.txt
  : > "$file"
  local args=(--mode "$mode" --hmac "$hmac" --key-b64 "$K256")
  [ "$hmac" != none ] && args+=(--hmac-key-b64 "$hkey")
  "$seal" "${args[@]}" >> "$file" || return 1
  "$seal" "${args[@]}" --type 2 --nat 192.168.1.10,22 >> "$file"
  "$seal" "${args[@]}" --type 3 --timeout 45 >> "$file"
  "$seal" "${args[@]}" --type 4 --nat 192.168.1.10,22 --timeout 45 >> "$file"
  "$seal" "${args[@]}" --type 5 --nat 127.0.0.1,22 >> "$file"
  "$seal" "${args[@]}" --type 6 --nat 127.0.0.1,22 --timeout 45 >> "$file"
  "$seal" "${args[@]}" --type 0 --message "10.0.0.5,echo hello" >> "$file"
  "$seal" "${args[@]}" --message "10.0.0.5,tcp/22,udp/53" >> "$file"
  "$seal" "${args[@]}" --message "0.0.0.0,tcp/22" >> "$file"
  for d in md5 sha1 sha384 sha512 sha3_256 sha3_512; do "$seal" "${args[@]}" --digest $d >> "$file"; done
  local fw_args=(--mode "$mode" --hmac "$hmac" --key-b64 "$K256" --access-extra 'ENABLE_CMD_EXEC Y')
  [ "$hmac" != none ] && fw_args+=(--hmac-key-b64 "$hkey")
  local out rc
  out=$("$here/fwknopd_accepts.sh" "${fw_args[@]}" "$file")
  rc=$?
  local n ok
  n=$(wc -l < "$file"); ok=$(grep -c '^accepted' <<<"$out")
  total=$((total + n))
  printf '%-7s %-9s fwknopd accepted %2d of %2d knock packets\n' "$mode" "$hmac" "$ok" "$n"
  if [ $rc -eq 77 ]; then echo "$out"; exit 77; fi
  if [ $rc -ne 0 ] || [ "$ok" -ne "$n" ]; then
    failed=$((failed + n - ok)); paste "$file" <(echo "$out") | grep -v $'\taccepted' | cut -c1-40,400-
  fi
}

for mode in cbc ctr cfb ofb ecb; do
  for hmac in md5 sha1 sha256 sha3_256; do check $mode $hmac "$H256"; done
  for hmac in sha384 sha512 sha3_512; do check $mode $hmac "$H512"; done
  check $mode none ""
done
check legacy none ""
echo "$((total - failed)) passed, $failed failed"
[ $failed -eq 0 ]
