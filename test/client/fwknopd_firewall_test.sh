#!/usr/bin/env bash
# fwknopd_firewall_test.sh KNOCK_CLIENT - knock-client opens ports through the REAL fwknopd and its
# REAL iptables firewall (no -t), in two network namespaces this script creates and always removes:
#
#   kc-fw-cli-PID (10.203.X.2, no default route) --veth-- kc-fw-srv-PID (10.203.X.1, fwknopd)
#
#  * every encryption mode x HMAC (cbc ctr cfb ofb ecb x md5 sha1 sha256 sha384 sha512 sha3_256
#    sha3_512) plus legacy without HMAC: one access.conf stanza each, its keys made by
#    `knock-client --key-gen` and pasted in as KEY_BASE64 / HMAC_KEY_BASE64 (SHA-3 needs
#    --hmac-key-len, as with fwknop); knock-client knocks for a port of its own per combination
#    (some over -P tcp, one with -s, one with -S), and the rule must appear in
#    `iptables -L FWKNOP_INPUT -n` in the server namespace, for the client's address;
#  * the server namespace's INPUT policy is DROP: a TCP connect to two listeners there fails
#    before knocking and succeeds after;
#  * a packet under a wrong key opens nothing.
# fwknopd runs in pcap mode on the veth (so UDP and TCP knocks are both seen), with its own
# fwknopd.conf, access.conf, run dir, pid file and digest cache in a temp dir. The host's firewall
# is never touched: every iptables command runs inside the server namespace.
# Exit: 0 all passed, 1 some failed, 77 skipped (not root, tools missing, no netns), 99 setup error.
set -uo pipefail
kc=${1:?usage: fwknopd_firewall_test.sh path/to/knock-client}
export PATH="$PATH:/usr/sbin:/sbin"
skip() { echo "SKIP: $*"; exit 77; }
die() { echo "fwknopd_firewall_test: $*" >&2; exit 99; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, fwknopd, iptables)"
for t in fwknopd ip iptables timeout socat; do command -v "$t" >/dev/null || skip "$t not found"; done
kc=$(realpath "$kc")

srv="kc-fw-srv-$$" cli="kc-fw-cli-$$" srv_if="kcfs$$" cli_if="kcfc$$"
x=$(( $$ % 250 + 1 ))
srv_ip="10.203.$x.1" cli_ip="10.203.$x.2"
tmp="" fwknopd_pid="" made=()
cleanup() {
  local rc=$? ns p
  trap - EXIT INT TERM
  [ -n "$fwknopd_pid" ] && kill "$fwknopd_pid" 2>/dev/null && wait "$fwknopd_pid" 2>/dev/null
  for ns in "${made[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done  # ours: fwknopd's TCP child, socat
    sleep 0.2
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null || echo "WARNING: could not delete netns $ns" >&2
  done
  [ -n "$tmp" ] && rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
tmp=$(mktemp -d "${TMPDIR:-/tmp}/knock-client-fw.XXXXXX") || die "mktemp"
chmod 700 "$tmp"
mkdir -m 700 "$tmp/run"

in_srv() { ip netns exec "$srv" "$@"; }
in_cli() { ip netns exec "$cli" "$@"; }

# ---- namespaces: the server drops all input but fwknopd's TCP port ------------------------------
ip netns add "$srv" 2>"$tmp/err" || skip "cannot create network namespaces: $(cat "$tmp/err")"
made+=("$srv")
ip netns add "$cli" || die "ip netns add $cli"
made+=("$cli")
ip link add "$srv_if" netns "$srv" type veth peer name "$cli_if" netns "$cli" || die "veth"
ip -n "$srv" link set lo up && ip -n "$cli" link set lo up &&
  ip -n "$srv" addr add "$srv_ip/30" dev "$srv_if" && ip -n "$cli" addr add "$cli_ip/30" dev "$cli_if" &&
  ip -n "$srv" link set "$srv_if" up && ip -n "$cli" link set "$cli_if" up || die "addresses"
ip -n "$cli" route show default | grep -q . && die "client namespace has a default route"
in_srv iptables -P INPUT DROP && in_srv iptables -A INPUT -i lo -j ACCEPT &&
  in_srv iptables -A INPUT -p tcp --dport 62201 -j ACCEPT || skip "iptables does not work in a namespace here"

# ---- keys from knock-client --key-gen, one stanza per combination ---------------------------------
combos=()
for m in cbc ctr cfb ofb ecb; do
  for h in md5 sha1 sha256 sha384 sha512 sha3_256 sha3_512; do combos+=("$m $h"); done
done
combos+=("legacy none")
declare -A key hkey port
: >"$tmp/access.conf"
i=0
for c in "${combos[@]}"; do
  read -r m h <<<"$c"
  args=(--no-rc-file --key-gen)
  [ "$h" != none ] && args+=(--hmac-digest-type "$h")
  case "$h" in sha3_*) args+=(--hmac-key-len 64) ;; esac
  out=$("$kc" "${args[@]}") || die "knock-client ${args[*]} failed"
  key[$c]=$(sed -n 's/^KEY_BASE64: //p' <<<"$out")
  hkey[$c]=$(sed -n 's/^HMAC_KEY_BASE64: //p' <<<"$out")
  port[$c]=$((10000 + i))
  {
    echo "SOURCE              ANY"
    echo "KEY_BASE64          ${key[$c]}"
    if [ "$h" != none ]; then
      echo "HMAC_KEY_BASE64     ${hkey[$c]}"
      echo "HMAC_DIGEST_TYPE    $h"
    fi
    echo "ENCRYPTION_MODE     $m"
    echo "FW_ACCESS_TIMEOUT   120"
    echo
  } >>"$tmp/access.conf"
  i=$((i + 1))
done
port["cbc sha256"]=2222     # connect checks: a listener sits behind these two
port["ofb sha3_512"]=2223

cat >"$tmp/fwknopd.conf" <<EOF
PCAP_INTF                   $srv_if;
PCAP_FILTER                 udp port 62201 or tcp port 62201;
ENABLE_TCP_SERVER           Y;
TCPSERV_PORT                62201;
ENABLE_SPA_PACKET_AGING     Y;
FWKNOP_RUN_DIR              $tmp/run;
FWKNOP_PID_FILE             $tmp/run/fwknopd.pid;
DIGEST_FILE                 $tmp/run/digest.cache;
ACCESS_FILE                 $tmp/access.conf;
GPG_HOME_DIR                $tmp/gnupg;
EOF
chmod 600 "$tmp/fwknopd.conf" "$tmp/access.conf"

# ---- fwknopd, for real -----------------------------------------------------------------------------
in_srv fwknopd --foreground --verbose --config-file "$tmp/fwknopd.conf" --access-file "$tmp/access.conf" \
  --pid-file "$tmp/run/fwknopd.pid" --run-dir "$tmp/run" --digest-file "$tmp/run/digest.cache" \
  </dev/null >"$tmp/fwknopd.log" 2>&1 &
fwknopd_pid=$!
for _ in $(seq 100); do
  grep -q 'Starting fwknopd main event loop' "$tmp/fwknopd.log" && break
  kill -0 "$fwknopd_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q 'Starting fwknopd main event loop' "$tmp/fwknopd.log" || { tail -20 "$tmp/fwknopd.log" >&2; die "fwknopd did not start"; }

failed=0 passed=0
pass() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

# connects PORT: a TCP connection from the client to the server's PORT within 1 s.
connects() { in_cli timeout 1 bash -c "exec 3<>/dev/tcp/$srv_ip/$1" 2>/dev/null; }
for p in 2222 2223; do
  in_srv socat -u TCP-LISTEN:$p,fork,reuseaddr OPEN:/dev/null </dev/null >/dev/null 2>&1 &
done
for _ in $(seq 50); do
  [ "$(in_srv ss -Hltn 'sport = :2222 or sport = :2223' | wc -l)" -eq 2 ] && break
  sleep 0.1
done
for p in 2222 2223; do
  connects $p && bad "port $p reachable before knocking" || pass
done

# ---- knock for every combination -------------------------------------------------------------------
for c in "${combos[@]}"; do
  read -r m h <<<"$c"
  args=(--no-rc-file -D "$srv_ip" -A "tcp/${port[$c]}" -a "$cli_ip" -U tester -M "$m"
        --key-base64-rijndael "${key[$c]}")
  [ "$h" != none ] && args+=(--key-base64-hmac "${hkey[$c]}" --hmac-digest-type "$h")
  case "$c" in
    "ofb sha3_512" | "cbc sha1" | "ecb sha512") args+=(-P tcp) ;;
    "ctr sha384") args=("${args[@]/#$cli_ip/0.0.0.0}") ;;  # -s: fwknopd uses the packet's source
    "cfb md5") args+=(-S 40404) ;;
  esac
  in_cli "$kc" "${args[@]}" 2>"$tmp/err" >/dev/null || bad "knock-client failed for $c: $(cat "$tmp/err")"
  sleep 0.05
done
# A wrong key opens nothing (its stanza's HMAC fails; so do all the others).
in_cli "$kc" --no-rc-file -D "$srv_ip" -A tcp/9999 -a "$cli_ip" --key-base64-rijndael "${key[cbc sha256]}" \
  --key-base64-hmac "${hkey[cbc md5]}" --hmac-digest-type sha256 || bad "wrong-key knock not sent"

rules() { in_srv iptables -L FWKNOP_INPUT -n 2>/dev/null; }
has_rule() { grep -Eq "^ACCEPT +6 +-- +$cli_ip +0\.0\.0\.0/0 +tcp dpt:$1 /\* _exp_[0-9]+ \*/" <<<"$2"; }
for _ in $(seq 150); do
  r=$(rules); missing=0
  for c in "${combos[@]}"; do has_rule "${port[$c]}" "$r" || missing=$((missing + 1)); done
  [ $missing -eq 0 ] && break
  sleep 0.1
done
sleep 0.5  # the wrong-key packet went last: give fwknopd time to (not) act on it
r=$(rules)
for c in "${combos[@]}"; do
  if has_rule "${port[$c]}" "$r"; then pass; else bad "no FWKNOP_INPUT rule for $c (tcp/${port[$c]})"; fi
done
grep -q 'dpt:9999' <<<"$r" && bad "a packet under a wrong key opened tcp/9999" || pass
for p in 2222 2223; do
  connects $p && pass || bad "port $p not reachable after knocking"
done

echo "FWKNOP_INPUT in the server namespace:"
sed 's/^/  /' <<<"$r" | head -8
echo "  ... ($(grep -c '^ACCEPT' <<<"$r") rules)"
if [ $failed -ne 0 ]; then
  echo "---- fwknopd log (errors) ----"
  grep -Ei 'error|denied|fail|not |expected' "$tmp/fwknopd.log" | grep -v 'res: 0' | tail -30
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
