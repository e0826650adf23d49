#!/usr/bin/env bash
# The main job: knock-server protecting a TCP port, end to end, narrated.
#
# As root: two network namespaces joined by a veth pair (a "server" and a "client" without any
# default route, so nothing leaves this machine); knock-server in the server namespace with its
# nftables backend protecting tcp/2222; a connection attempt that fails; an SPA packet from
# knock-client; the connection that now succeeds; the grant expiring in the kernel; the port closed
# again. Everything it made is removed at the end, also on failure.
# Without root: the same packet flow over loopback in UDP-server mode with the firewall 'none'.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash cmake/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target knock-server knock-client >/dev/null
server_bin=$PWD/build/examples/knock-server/knock-server
client_bin=$PWD/build/examples/knock-client/knock-client
export PATH="$PATH:/usr/sbin:/sbin"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
tmp=$(mktemp -d); chmod 711 "$tmp"  # knock-server runs as nobody after start-up, in $tmp/run
srv=knock-demo-srv-$$ cli=knock-demo-cli-$$ server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  if [ "$(id -u)" -eq 0 ]; then
    ip netns pids "$srv" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$srv" 2>/dev/null || true
    ip netns del "$cli" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

say "Keys, made like 'fwknop --key-gen' makes them"
"$client_bin" --key-gen | tee "$tmp/keys"
key=$(sed -n 's/^KEY_BASE64: //p' "$tmp/keys")
hmac=$(sed -n 's/^HMAC_KEY_BASE64: //p' "$tmp/keys")
cat > "$tmp/access.conf" <<CONF
SOURCE              ANY
KEY_BASE64          $key
HMAC_KEY_BASE64     $hmac
OPEN_PORTS          tcp/2222
FW_ACCESS_TIMEOUT   5
CONF

if [ "$(id -u)" -ne 0 ]; then
  say "Not root: no namespaces or kernel firewall. Running over loopback in UDP-server mode with the firewall 'none' instead"
  cat > "$tmp/fwknopd.conf" <<CONF
ENABLE_UDP_SERVER Y;
UDPSERV_PORT 62299;
FWKNOP_RUN_DIR $tmp/run;
FIREWALL_TYPE none;
CONF
  "$server_bin" -f -c "$tmp/fwknopd.conf" -a "$tmp/access.conf" 2> "$tmp/server.log" &
  server_pid=$!
  sleep 1
  say "knock-client sends one SPA packet asking tcp/2222 for 127.0.0.1 (saved, to replay it)"
  "$client_bin" --no-rc-file -A tcp/2222 -a 127.0.0.1 -D 127.0.0.1 -p 62299 --use-hmac \
    --key-base64-rijndael "$key" --key-base64-hmac "$hmac" -B "$tmp/packet"
  sleep 0.5
  say "The same bytes again: a replay"
  python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(open(sys.argv[1],"rb").read().strip(), ("127.0.0.1", 62299))' "$tmp/packet"
  sleep 0.5
  say "What knock-server logged"
  cat "$tmp/server.log"
  exit 0
fi

say "Two network namespaces: $srv (10.77.0.1) and $cli (10.77.0.2, no default route)"
ip netns add "$srv"
ip netns add "$cli"
ip link add kd-s$$ netns "$srv" type veth peer name kd-c$$ netns "$cli"
ip -n "$srv" addr add 10.77.0.1/30 dev kd-s$$
ip -n "$cli" addr add 10.77.0.2/30 dev kd-c$$
for ns in "$srv" "$cli"; do ip -n "$ns" link set lo up; done
ip -n "$srv" link set kd-s$$ up
ip -n "$cli" link set kd-c$$ up

say "A service on tcp/2222 in the server namespace"
ip netns exec "$srv" socat TCP-LISTEN:2222,fork,reuseaddr SYSTEM:'echo hello from the protected service' &
cat > "$tmp/fwknopd.conf" <<CONF
PCAP_INTF kd-s$$;
FWKNOP_RUN_DIR $tmp/run;
FIREWALL_TYPE nftables;
CONF

say "knock-server starts, capturing on kd-s$$, protecting tcp/2222 with nftables"
ip netns exec "$srv" "$server_bin" -f -c "$tmp/fwknopd.conf" -a "$tmp/access.conf" 2> "$tmp/server.log" &
server_pid=$!
for _ in $(seq 50); do ip netns exec "$srv" nft list table inet knock >/dev/null 2>&1 && break; sleep 0.1; done
sleep 0.5
cat "$tmp/server.log"

try() {
  if out=$(ip netns exec "$cli" timeout 3 socat -T2 - TCP:10.77.0.1:2222,connect-timeout=2 </dev/null 2>&1); then
    echo "connected: $out"
  else
    echo "no connection (the port is closed to us)"
  fi
}
say "The client connects to 10.77.0.1:2222 without knocking"
try

say "The client sends one SPA packet with knock-client (-A tcp/2222 -a 10.77.0.2 -D 10.77.0.1)"
ip netns exec "$cli" "$client_bin" --no-rc-file -A tcp/2222 -a 10.77.0.2 -D 10.77.0.1 --use-hmac \
  --key-base64-rijndael "$key" --key-base64-hmac "$hmac"
sleep 0.5
tail -n 1 "$tmp/server.log"

say "The grant, a set element the kernel itself will expire"
ip netns exec "$srv" nft list set inet knock allowed_v4 | grep -E 'elements|timeout' || true

say "The client connects again"
try

say "Waiting 6 s for the 5 s grant to expire (in the kernel: no daemon involved)"
sleep 6
try

say "Stopping knock-server: the table stays, so the port stays protected"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
try
say "Done; removing the namespaces"
