#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_nat.sh KNOCK_SERVER KNOCK_CLIENT iptables|nftables - issue #14: a gateway that forwards.
#
#   NS_CLI (client) --- NS_SRV (gateway, ip_forward=1) --- NS_INT (internal host, INT_IP)
#   NS_STR (stranger) --/
# The client and the stranger have no route to the internal network: the gateway's DNAT is the
# only way in. Scenarios, each with the real fwknop client (and knock-client once):
#   forward   -A tcp/55000 -N INT_IP:2222   the client reaches the internal echo service through
#             gateway:55000, the stranger does not, the path closes after the timeout while a
#             connection made during the grant lives on; the internal host sees the client
#   local     -A tcp/2222 --nat-local --nat-port 55001   gateway:55001 -> the gateway's own 2222
#   force     FORCE_NAT INT_IP 2222: a plain -A tcp/55000 is forwarded
#   masq      ENABLE_IPT_SNAT Y: the internal host sees the gateway's internal address
#   snat      FORCE_SNAT SNAT_IP (with ENABLE_IPT_SNAT Y: without it fwknopd 2.6.10 runs an SNAT
#             command with an empty chain, which fails): the internal host sees SNAT_IP
#   refused   NAT switched off / a host name with ENABLE_NAT_DNS N: refused, nothing opened
# iptables: each scenario runs against the real fwknopd first, then knock-server (FIREWALL_TYPE
# iptables); the rules both make (-S of FWKNOP_FORWARD, FWKNOP_PREROUTING, FWKNOP_POSTROUTING,
# FWKNOP_MASQUERADE, FWKNOP_INPUT, _exp_ normalised) must be identical, and so must the outcome.
# nftables: knock-server only, plus kill -9 of the daemon: the path still closes at expiry.
# NAT_SERVERS="knock" runs the iptables scenarios against knock-server only (the sanitized run:
# fwknopd's half exercises none of knock's code) and leaves the comparison out.
source "$(dirname "$0")/lib.sh"
MODE=${3:-iptables}
e2e_init "$@"
case "$MODE" in
iptables)
    command -v iptables >/dev/null 2>&1 || skip "iptables not found"
    FWKNOPD=$(command -v fwknopd) || skip "fwknopd not found (Debian fwknop-server)"
    SERVERS="fwknopd knock"
    ;;
nftables) SERVERS="knock" ;;
*) die "mode must be iptables or nftables" ;;
esac
TIMEOUT=12
EXT_PORT=55000 LOCAL_EXT_PORT=55001 INT_PORT=2222

e2e_topology
n=$(( ($$ % 200) + 20 ))
NS_INT="knock-e2e-$$-int"; IF_SRV_INT="ks$$i"; IF_INT="kc$$i"
SRV_INT_IP="10.$n.4.1" INT_IP="10.$n.4.2" SNAT_IP="10.$n.4.3"
ns_add "$NS_INT"
ip link add "$IF_SRV_INT" netns "$NS_SRV" type veth peer name "$IF_INT" netns "$NS_INT" || die "veth int"
ip -n "$NS_SRV" addr add "$SRV_INT_IP/24" dev "$IF_SRV_INT" && ip -n "$NS_SRV" addr add "$SNAT_IP/24" dev "$IF_SRV_INT" &&
    ip -n "$NS_INT" addr add "$INT_IP/24" dev "$IF_INT" && ip -n "$NS_SRV" link set "$IF_SRV_INT" up &&
    ip -n "$NS_INT" link set "$IF_INT" up && ip -n "$NS_INT" route add default via "$SRV_INT_IP" ||
    die "internal link"
in_ns "$NS_SRV" sysctl -qw net.ipv4.ip_forward=1 || die "ip_forward in the gateway namespace"
check_not "client has no route to the internal host" in_ns "$NS_CLI" ip route get "$INT_IP"
check_not "stranger has no route to the internal host" in_ns "$NS_STR" ip route get "$INT_IP"
bg_in_ns "$NS_INT" socat "TCP-LISTEN:$INT_PORT,fork,reuseaddr" EXEC:cat
wait_until 5 bash -c "ip netns exec '$NS_INT' ss -Hltn 'sport = :$INT_PORT' | grep -q ." || die "internal listener"
e2e_listener "$INT_PORT"  # the gateway's own service, for --nat-local

if [ "$MODE" = iptables ]; then
    ipt() { in_ns "$NS_SRV" iptables "$@"; }
    # The gateway as an fwknopd admin has it: forwarding dropped unless a rule lets it through.
    ipt -P FORWARD DROP && ipt -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT &&
        ipt -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT &&
        ipt -A INPUT -p tcp --dport "$INT_PORT" -j DROP || die "the gateway's iptables rules"
fi
# Each scenario runs twice through the same gateway (fwknopd, then knock) with the same ports. A
# MASQUERADE --to-ports 55000 grant maps every connection to gateway:55000, so the closed
# connection of fwknopd's run, still in conntrack (TIME_WAIT lasts 120 s), would take the one
# tuple knock's run needs and its connection would be dropped: seen in CI when the two runs came
# less than two minutes apart. Closed connections leave conntrack within a second here.
for state in time_wait fin_wait close_wait last_ack close; do
    in_ns "$NS_SRV" sysctl -qw "net.netfilter.nf_conntrack_tcp_timeout_$state=1" ||
        die "nf_conntrack_tcp_timeout_$state in the gateway namespace"
done

# fwknopd.conf / access.conf for one scenario (fwknopd and knock read the same files)
nat_conf() { # extra fwknopd.conf lines as VAR value pairs
    if [ "$MODE" = iptables ]; then
        e2e_conf FIREWALL_TYPE iptables ENABLE_IPT_FORWARDING Y ENABLE_IPT_LOCAL_NAT Y "$@"
    else
        e2e_conf FIREWALL_TYPE nftables ENABLE_IPT_FORWARDING Y ENABLE_IPT_LOCAL_NAT Y \
            KNOCK_PROTECTED_PORTS "tcp/$INT_PORT,tcp/$EXT_PORT,tcp/$LOCAL_EXT_PORT" "$@"
    fi
}
PORT="$EXT_PORT,tcp/$LOCAL_EXT_PORT"  # e2e_access's OPEN_PORTS tcp/$PORT
nat_access() { e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT" "$@"; }

# server_start fwknopd|knock; server_stop
server_start() {
    CURRENT=$1
    rm -f "$TMP/run/"*  # the other server's pid file and digest cache
    if [ "$1" = knock ]; then e2e_server_start; return; fi
    log_mark
    chmod 600 "$ACCESS"
    ip netns exec "$NS_SRV" "$FWKNOPD" -f -c "$CONF" -a "$ACCESS" -i "$IF_SRV_CLI" \
        </dev/null >>"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    wait_until 10 bash -c "ip netns exec '$NS_SRV' iptables -S FWKNOP_INPUT" ||
        die "fwknopd did not start: $(log_since_mark)"
    sleep 0.5
    note "fwknopd running (pid $SERVER_PID)"
}
server_stop() { e2e_server_stop; }

# The NAT rules or elements now, normalised (no expiry times), one per line.
state() {
    if [ "$MODE" = iptables ]; then
        { ipt -S FWKNOP_INPUT; ipt -S FWKNOP_FORWARD; ipt -t nat -S FWKNOP_PREROUTING
          ipt -t nat -S FWKNOP_POSTROUTING; ipt -t nat -S FWKNOP_MASQUERADE; } 2>/dev/null |
            grep -- '^-A' | sed -E 's/_exp_[0-9]+/_exp_T/'
        true  # a NAT chain that is not there has nothing to show
    else
        in_ns "$NS_SRV" nft list table inet knock | tr ',{}' '\n\n\n' | grep -E ' timeout [0-9]+s' |
            sed -E 's/^[[:space:]]+//; s/ expires [0-9hms]+//'
        true
    fi
}
granted() { state | grep -- "$1" >/dev/null; }
closed() { ! state | grep -- "$CLI_IP" >/dev/null; }
# the peer address the internal host sees on its service port
peer_seen() { in_ns "$NS_INT" ss -Htn state established "( sport = :$INT_PORT )" | awk '{print $4}' | cut -d: -f1 | sort -u | tr '\n' ' '; }
refused_conn() { ! tcp_ok "$@" >/dev/null 2>&1; }

declare -A SEEN  # scenario -> normalised state, per server, to compare fwknopd with knock

# knock_with SENDER args...: SENDER fwknop|knock-client
knock_with() {
    local sender=$1; shift
    if [ "$sender" = fwknop ]; then fwknop_knock "$NS_CLI" "$SRV_IP" -a "$CLI_IP" "$@"
    else knock_client_knock "$NS_CLI" "$SRV_IP" -a "$CLI_IP" "$@"; fi
}

# scenario_forward SERVER SENDER NAME [fwknop args...]: -N to the internal host
scenario_forward() {
    local server=$1 sender=$2 name=$3; shift 3
    note "[$server] $name: $sender -A tcp/$EXT_PORT $*"
    check "[$server] client cannot reach gateway:$EXT_PORT before the knock" refused_conn "$NS_CLI" "$SRV_IP" "$EXT_PORT"
    check "[$server] $sender sends the SPA packet" knock_with "$sender" -A "tcp/$EXT_PORT" "$@"
    check "[$server] the NAT grant is in place" wait_until 5 granted "$CLI_IP"
    # A connection made at once, held past the grant (the machine may be slow: it starts first).
    local hold_out="$TMP/hold.$name.$server"
    bg_in_ns "$NS_CLI" "$PYTHON" "$E2E_NET" hold "$SRV_IP" "$EXT_PORT" $((TIMEOUT + 4)) >"$hold_out" 2>&1
    local hold_pid=$BG_PID
    check "[$server] a connection through gateway:$EXT_PORT reaches the internal service" \
        wait_until 10 grep -q connected "$hold_out"
    SEEN[$name.$server.peer]=$(peer_seen)
    SEEN[$name.$server]=$(state)
    note "$(state | tr '\n' ';')"
    check "[$server] stranger does not reach it" refused_conn "$NS_STR" "$SRV_IP" "$EXT_PORT"
    [ "$server" = knock ] && check "[knock] --fw-list shows where the NAT grant leads" \
        bash -c "ip netns exec '$NS_SRV' '$KNOCK_SERVER' -c '$CONF' --fw-list | grep -F -- '$INT_IP'"
    if [ "${KILL9:-}" = 1 ]; then
        kill -KILL "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""
        note "[$server] daemon killed with SIGKILL"
    fi
    check "[$server] the grant is gone after the timeout" wait_until $((TIMEOUT + 10)) closed
    check "[$server] client cannot open a new connection after the timeout" refused_conn "$NS_CLI" "$SRV_IP" "$EXT_PORT"
    wait "$hold_pid"; local rc=$?
    check "[$server] the connection made during the grant lives on ($(tail -n1 "$hold_out"))" test "$rc" -eq 0
}

run_server() {
    local server=$1
    note "======== $server ========"
    # forward, with the real client (and with knock-client to fwknopd / knock)
    nat_conf; nat_access
    server_start "$server"
    scenario_forward "$server" fwknop forward -N "$INT_IP:$INT_PORT"
    check "[$server] the internal host sees the client ($CLI_IP)" test "${SEEN[forward.$server.peer]}" = "$CLI_IP "
    scenario_forward "$server" knock-client forward-kc -N "$INT_IP:$INT_PORT"
    check "[$server] knock-client's packet opens the same path as fwknop's" \
        test "${SEEN[forward-kc.$server]}" = "${SEEN[forward.$server]}"

    # --nat-local: gateway:55001 -> the gateway's own tcp/2222
    note "[$server] local: fwknop -A tcp/$INT_PORT --nat-local --nat-port $LOCAL_EXT_PORT"
    check "[$server] client cannot reach gateway:$LOCAL_EXT_PORT before" refused_conn "$NS_CLI" "$SRV_IP" "$LOCAL_EXT_PORT"
    check "[$server] fwknop --nat-local sends" knock_with fwknop -A "tcp/$INT_PORT" --nat-local --nat-port "$LOCAL_EXT_PORT"
    check "[$server] the local NAT grant is in place" wait_until 5 granted "$CLI_IP"
    check "[$server] client reaches the gateway's own tcp/$INT_PORT through gateway:$LOCAL_EXT_PORT" \
        tcp_ok "$NS_CLI" "$SRV_IP" "$LOCAL_EXT_PORT"
    # read once the path works: the grant's rules go in one at a time (knock: the DNAT first)
    SEEN[local.$server]=$(state)
    check "[$server] stranger does not" refused_conn "$NS_STR" "$SRV_IP" "$LOCAL_EXT_PORT"
    check "[$server] the local grant is gone after the timeout" wait_until $((TIMEOUT + 4)) closed

    server_stop

    # NAT switched off: refused, nothing opened
    e2e_conf FIREWALL_TYPE "$MODE" ENABLE_IPT_FORWARDING N KNOCK_PROTECTED_PORTS "tcp/$EXT_PORT"
    [ "$server" = fwknopd ] && sed -i '/KNOCK_PROTECTED_PORTS/d' "$CONF"
    nat_access
    server_start "$server"
    check "[$server] NAT request with forwarding off: sent" knock_with fwknop -A "tcp/$EXT_PORT" -N "$INT_IP:$INT_PORT"
    sleep 1.5
    check "[$server] NAT request with forwarding off: nothing opened" closed
    check "[$server] NAT request with forwarding off: no path" refused_conn "$NS_CLI" "$SRV_IP" "$EXT_PORT"
    [ "$server" = knock ] && check "[knock] the log line names the reason (nat_disabled)" log_has "nat_disabled"
    server_stop

    # ENABLE_NAT_DNS N: a host name is refused
    nat_conf ENABLE_NAT_DNS N; nat_access
    server_start "$server"
    check "[$server] -N localhost:$INT_PORT sent" knock_with fwknop -A "tcp/$EXT_PORT" -N "localhost:$INT_PORT"
    sleep 1.5
    check "[$server] a host name with ENABLE_NAT_DNS N opens nothing" closed
    [ "$server" = knock ] && check "[knock] the log line names the reason (nat_name_refused)" log_has "nat_name_refused"
    server_stop

    # FORCE_NAT: a plain access request is forwarded
    nat_conf; nat_access FORCE_NAT "$INT_IP $INT_PORT"
    server_start "$server"
    scenario_forward "$server" fwknop force
    server_stop

    # MASQUERADE: ENABLE_IPT_SNAT Y without SNAT_TRANSLATE_IP
    nat_conf ENABLE_IPT_SNAT Y; nat_access
    server_start "$server"
    scenario_forward "$server" fwknop masq -N "$INT_IP:$INT_PORT"
    check "[$server] masquerade: the internal host sees the gateway ($SRV_INT_IP)" test "${SEEN[masq.$server.peer]}" = "$SRV_INT_IP "
    server_stop

    # SNAT: FORCE_NAT + FORCE_SNAT (fwknopd makes the SNAT rule only with ENABLE_IPT_SNAT Y)
    nat_conf ENABLE_IPT_SNAT Y; nat_access FORCE_NAT "$INT_IP $INT_PORT" FORCE_SNAT "$SNAT_IP"
    server_start "$server"
    scenario_forward "$server" fwknop snat
    check "[$server] SNAT: the internal host sees $SNAT_IP" test "${SEEN[snat.$server.peer]}" = "$SNAT_IP "
    server_stop
    if [ "$MODE" = iptables ]; then  # FLUSH_IPT_AT_EXIT (default Y): the NAT chains go too
        check_not "[$server] no FWKNOP_PREROUTING chain after the daemon stopped" ipt -t nat -S FWKNOP_PREROUTING
        check_not "[$server] no FWKNOP_FORWARD chain after the daemon stopped" ipt -S FWKNOP_FORWARD
    fi
}

for s in ${NAT_SERVERS:-$SERVERS}; do run_server "$s"; done

if [ "$MODE" = iptables ] && [[ " ${NAT_SERVERS:-$SERVERS} " != *" fwknopd "* ]]; then
    note "fwknopd not run (NAT_SERVERS=${NAT_SERVERS}): the comparison with it is left to a run with both"
elif [ "$MODE" = iptables ]; then
    note "fwknopd and knock agree"
    for k in forward forward-kc local force masq snat; do
        check "$k: knock's rules are fwknopd's" test "${SEEN[$k.knock]}" = "${SEEN[$k.fwknopd]}" ||
            { echo "fwknopd:"; echo "${SEEN[$k.fwknopd]}"; echo "knock:"; echo "${SEEN[$k.knock]}"; }
    done
    check "masq: the internal host sees the same peer" test "${SEEN[masq.knock.peer]}" = "${SEEN[masq.fwknopd.peer]}"
else
    note "kill -9: the kernel closes the NAT path at its expiry"
    nat_conf; nat_access
    server_start knock
    KILL9=1 scenario_forward knock fwknop kill9 -N "$INT_IP:$INT_PORT"
fi
e2e_finish
