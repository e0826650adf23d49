#!/usr/bin/env bash
# fwknopd_transports_test.sh KNOCK_CLIENT - knock-client's other ways to send (issue #13), each
# received and accepted by the REAL fwknopd (Debian's fwknop-server) with its real iptables, in two
# network namespaces this script creates and always removes:
#
#   kc-tr-cli-PID (10.204.X.2, no default route) --veth-- kc-tr-srv-PID (10.204.X.1, fwknopd)
#
#  * -P udpraw, -P tcpraw, -P icmp (fwknop's default type 0 / code 0, and --icmp-type 8
#    --icmp-code 0), each with -Q SPOOFED: fwknopd must log the packet as coming from the spoofed
#    address (fwknop's raw packets) and open the asked port for the -a address;
#  * -P udpraw without -Q (the client's own address), -r (a random destination port: fwknopd's
#    pcap filter takes any UDP), -P http (the GET request over fwknopd's TCP server, with
#    ENABLE_SPA_OVER_HTTP), and --nat-rand-port's random port in the packet;
#  * -H PROXY: the request goes to the proxy (a socat listener in the server namespace) and names
#    the whole URL (GET http://SERVER/PACKET), as fwknop's;
#  * a raw packet under a wrong key opens nothing.
# Nothing leaves the namespaces; the host's firewall is never touched.
# Exit: 0 all passed, 1 some failed, 77 skipped (not root, tools missing, no netns), 99 setup error.
set -uo pipefail
kc=${1:?usage: fwknopd_transports_test.sh path/to/knock-client}
export PATH="$PATH:/usr/sbin:/sbin"
skip() { echo "SKIP: $*"; exit 77; }
die() { echo "fwknopd_transports_test: $*" >&2; exit 99; }
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, raw sockets, fwknopd, iptables)"
for t in fwknopd ip iptables timeout socat; do command -v "$t" >/dev/null || skip "$t not found"; done
kc=$(realpath "$kc")

srv="kc-tr-srv-$$" cli="kc-tr-cli-$$" srv_if="kcts$$" cli_if="kctc$$"
x=$(( $$ % 250 + 1 ))
srv_ip="10.204.$x.1" cli_ip="10.204.$x.2"
tmp="" fwknopd_pid="" made=()
cleanup() {
  local rc=$? ns p
  trap - EXIT INT TERM
  [ -n "$fwknopd_pid" ] && kill "$fwknopd_pid" 2>/dev/null && wait "$fwknopd_pid" 2>/dev/null
  for ns in "${made[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done  # ours: fwknopd's child, socat
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
tmp=$(mktemp -d "${TMPDIR:-/tmp}/knock-client-tr.XXXXXX") || die "mktemp"
chmod 700 "$tmp"
mkdir -m 700 "$tmp/run"

in_srv() { ip netns exec "$srv" "$@"; }
in_cli() { ip netns exec "$cli" "$@"; }

ip netns add "$srv" 2>"$tmp/err" || skip "cannot create network namespaces: $(cat "$tmp/err")"
made+=("$srv")
ip netns add "$cli" || die "ip netns add $cli"
made+=("$cli")
ip link add "$srv_if" netns "$srv" type veth peer name "$cli_if" netns "$cli" || die "veth"
ip -n "$srv" link set lo up && ip -n "$cli" link set lo up &&
  ip -n "$srv" addr add "$srv_ip/30" dev "$srv_if" && ip -n "$cli" addr add "$cli_ip/30" dev "$cli_if" &&
  ip -n "$srv" link set "$srv_if" up && ip -n "$cli" link set "$cli_if" up || die "addresses"
ip -n "$cli" route show default | grep -q . && die "client namespace has a default route"
in_srv iptables -L -n >/dev/null 2>&1 || skip "iptables does not work in a namespace here"

keys=$("$kc" --no-rc-file --key-gen) || die "knock-client --key-gen failed"
key=$(sed -n 's/^KEY_BASE64: //p' <<<"$keys")
hkey=$(sed -n 's/^HMAC_KEY_BASE64: //p' <<<"$keys")
other=$("$kc" --no-rc-file --key-gen | sed -n 's/^KEY_BASE64: //p')
cat >"$tmp/access.conf" <<EOF
SOURCE              ANY
KEY_BASE64          $key
HMAC_KEY_BASE64     $hkey
FW_ACCESS_TIMEOUT   120
EOF
cat >"$tmp/fwknopd.conf" <<EOF
PCAP_INTF                   $srv_if;
PCAP_FILTER                 udp or tcp or icmp;
ENABLE_TCP_SERVER           Y;
TCPSERV_PORT                62201;
ENABLE_SPA_OVER_HTTP        Y;
ENABLE_SPA_PACKET_AGING     Y;
FWKNOP_RUN_DIR              $tmp/run;
FWKNOP_PID_FILE             $tmp/run/fwknopd.pid;
DIGEST_FILE                 $tmp/run/digest.cache;
ACCESS_FILE                 $tmp/access.conf;
GPG_HOME_DIR                $tmp/gnupg;
EOF
chmod 600 "$tmp/fwknopd.conf" "$tmp/access.conf"

in_srv fwknopd --foreground --verbose --verbose --config-file "$tmp/fwknopd.conf" \
  --access-file "$tmp/access.conf" --pid-file "$tmp/run/fwknopd.pid" --run-dir "$tmp/run" \
  --digest-file "$tmp/run/digest.cache" </dev/null >"$tmp/fwknopd.log" 2>&1 &
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

base=(--no-rc-file -D "$srv_ip" -a "$cli_ip" -U tester --key-base64-rijndael "$key"
      --key-base64-hmac "$hkey")
# knock NAME PORT ARGS...: knock-client asks for tcp/PORT with ARGS.
knock() {
  local name=$1 port=$2
  shift 2
  in_cli "$kc" "${base[@]}" -A "tcp/$port" "$@" >"$tmp/$name.out" 2>&1 ||
    bad "$name: knock-client failed: $(tail -1 "$tmp/$name.out")"
  sleep 0.1
}
knock udpraw 11001 -P udpraw -Q 192.0.2.11
knock tcpraw 11002 -P tcpraw -Q 192.0.2.12
knock icmp 11003 -P icmp -Q 192.0.2.13
knock icmp_echo 11004 -P icmp --icmp-type 8 --icmp-code 0 -Q 192.0.2.14
knock udpraw_own 11005 -P udpraw -S 40405
knock rand_port 11006 -r
knock http 11007 -P http
in_cli "$kc" --no-rc-file -D "$srv_ip" -a "$cli_ip" -A tcp/11099 --key-base64-rijndael "$other" \
  --key-base64-hmac "$hkey" -P udpraw -Q 192.0.2.99 >/dev/null 2>&1 || bad "wrong-key knock not sent"

# -H: the request goes to the proxy and names the whole URL.
in_srv socat -u TCP-LISTEN:8080,reuseaddr OPEN:"$tmp/proxy.req",creat </dev/null >/dev/null 2>&1 &
for _ in $(seq 50); do in_srv ss -Hltn 'sport = :8080' | grep -q . && break; sleep 0.1; done
in_cli "$kc" "${base[@]}" -A tcp/11008 -H "http://$srv_ip:8080/cgi-bin/myip" -v >"$tmp/proxy.out" 2>&1 ||
  bad "-H: knock-client failed: $(tail -1 "$tmp/proxy.out")"
for _ in $(seq 30); do [ -s "$tmp/proxy.req" ] && break; sleep 0.1; done
packet=$(sed -n 's/^ *Final SPA Data: //p' "$tmp/proxy.out" | tr '+/' '-_')
if head -1 "$tmp/proxy.req" | grep -qxF "GET http://$srv_ip/$packet HTTP/1.1"$'\r'; then pass; else
  bad "-H: the proxy got '$(head -1 "$tmp/proxy.req" | cut -c1-80)...', not GET http://$srv_ip/<packet>"
fi
grep -q $'^User-Agent: Fwknop/' "$tmp/proxy.req" && pass || bad "-H: no Fwknop User-Agent"

# --nat-rand-port: the port in the packet is the random one it prints (fwknop's message).
in_cli "$kc" "${base[@]}" -A tcp/22 -N 10.9.9.9 --nat-rand-port --test >"$tmp/natrand.out" 2>&1 ||
  bad "--nat-rand-port failed: $(tail -1 "$tmp/natrand.out")"
rport=$(sed -n "s/^\[+\] Randomly assigned port '\([0-9]*\)'.*/\1/p" "$tmp/natrand.out")
if [ -n "$rport" ] && [ "$rport" -ge 10000 ] && grep -q "on: '$cli_ip,tcp/$rport'" "$tmp/natrand.out" &&
  grep -q "Message String: *$cli_ip,tcp/$rport" "$tmp/natrand.out" &&
  grep -q "Nat Access: *10.9.9.9,22" "$tmp/natrand.out"; then pass; else
  bad "--nat-rand-port: port '$rport' not in the packet: $(grep -i 'access' "$tmp/natrand.out" | tr '\n' ' ')"
fi

rules() { in_srv iptables -L FWKNOP_INPUT -n 2>/dev/null; }
has_rule() { grep -Eq "^ACCEPT +6 +-- +$cli_ip +0\.0\.0\.0/0 +tcp dpt:$1 /\* _exp_[0-9]+ \*/" <<<"$2"; }
ports="11001 11002 11003 11004 11005 11006 11007"
for _ in $(seq 100); do
  r=$(rules) missing=0
  for p in $ports; do has_rule "$p" "$r" || missing=$((missing + 1)); done
  [ $missing -eq 0 ] && break
  sleep 0.1
done
sleep 0.5
r=$(rules)
for p in $ports; do has_rule "$p" "$r" && pass || bad "no FWKNOP_INPUT rule for tcp/$p"; done
grep -q 'dpt:11099' <<<"$r" && bad "a raw packet under a wrong key opened tcp/11099" || pass
# fwknopd saw the spoofed sources (the packet's IP source, not the client's address).
for s in 192.0.2.11 192.0.2.12 192.0.2.13 192.0.2.14; do
  grep -q "SPA Packet from IP: $s " "$tmp/fwknopd.log" && pass || bad "fwknopd never saw a packet from $s"
done
grep -q "SPA Packet from IP: $cli_ip " "$tmp/fwknopd.log" && pass || bad "no packet from $cli_ip"

echo "FWKNOP_INPUT in the server namespace:"
grep '^ACCEPT' <<<"$r" | sed 's/^/  /'
if [ $failed -ne 0 ]; then
  echo "---- fwknopd log ----"
  grep -Ei 'SPA Packet|error|denied|fail|not |expected|http' "$tmp/fwknopd.log" | tail -40
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
