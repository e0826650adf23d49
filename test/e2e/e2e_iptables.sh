#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_iptables.sh KNOCK_SERVER KNOCK_CLIENT - issue #4, scenario 2: FIREWALL_TYPE iptables
# (fwknop's FWKNOP_INPUT chain), pcap capture, knock-client as the sender.
#
# The server namespace's own rule set, as an fwknopd admin would have it (set here, inside the
# namespace only):   -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
#                    -A INPUT -p tcp --dport 2222 -j DROP
# knock-server inserts `-I INPUT 1 -j FWKNOP_INPUT` and one ACCEPT rule per grant, with
# `_exp_<epoch>` comments that its 1 s timer removes (fwknopd's 1 s granularity: a grant ends
# between TIMEOUT-1 and TIMEOUT+1 s after the knock).
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
command -v iptables >/dev/null 2>&1 || skip "iptables not found"
TIMEOUT=3

e2e_topology
e2e_listener "$PORT"
e2e_listener "$OPEN_PORT"
ipt() { in_ns "$NS_SRV" iptables "$@"; }
ipt -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT || die "iptables conntrack rule"
ipt -A INPUT -p tcp --dport "$PORT" -j DROP || die "iptables DROP rule"
have_ip6tables=0
if command -v ip6tables >/dev/null 2>&1; then
    have_ip6tables=1
    ip6t() { in_ns "$NS_SRV" ip6tables "$@"; }
    ip6t -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT || die "ip6tables conntrack rule"
    ip6t -A INPUT -p tcp --dport "$PORT" -j DROP || die "ip6tables DROP rule"
fi
e2e_conf FIREWALL_TYPE iptables
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"
e2e_server_start

grant_rule() { ipt -S FWKNOP_INPUT | grep -E -- "-s $1/32 .*--dport $PORT .*_exp_[0-9]+.* -j ACCEPT"; }
no_grant_rule() {
    local out; out=$(ipt -S FWKNOP_INPUT) || { echo "cannot list FWKNOP_INPUT"; return 1; }
    ! grep -q -- "-s $1/32" <<<"$out" && echo "$out" | tr '\n' ' '
}

note "start-up: fwknop's chain layout"
check "INPUT jumps to FWKNOP_INPUT first" bash -c "ip netns exec '$NS_SRV' iptables -S INPUT | sed -n 2p | grep -x -- '-A INPUT -j FWKNOP_INPUT'"
check "FWKNOP_INPUT exists and is empty" bash -c "[ \"\$(ip netns exec '$NS_SRV' iptables -S FWKNOP_INPUT)\" = '-N FWKNOP_INPUT' ]"
check_not "no nftables table inet knock (FIREWALL_TYPE iptables)" in_ns "$NS_SRV" nft list table inet knock
check "client reaches unprotected tcp/$OPEN_PORT" tcp_ok "$NS_CLI" "$SRV_IP" "$OPEN_PORT"

note "before the knock"
check "client cannot connect to tcp/$PORT before the knock" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
check "stranger cannot connect to tcp/$PORT before the knock" tcp_blocked "$NS_STR" "$SRV_IP" "$PORT"

note "knock: knock-client -A tcp/$PORT -a $CLI_IP -D $SRV_IP"
log_mark
check "knock-client sends the SPA packet" knock_client_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
hold_out="$TMP/hold.out"
bg_in_ns "$NS_CLI" "$PYTHON" "$E2E_NET" hold "$SRV_IP" "$PORT" 5.5 >"$hold_out" 2>&1
hold_pid=$BG_PID
check "FWKNOP_INPUT holds the grant rule for $CLI_IP (fwknop's shape)" grant_rule "$CLI_IP"
exp=$(ipt -S FWKNOP_INPUT | grep -o '_exp_[0-9]*' | head -1 | cut -c6-)
now=$(date +%s)
check "the rule's _exp_ ($exp) is knock time + $TIMEOUT s (now $now)" \
    test "${exp:-0}" -ge $((now + TIMEOUT - 1)) -a "${exp:-0}" -le $((now + TIMEOUT))
check "knock-server --fw-list shows the rule" \
    bash -c "ip netns exec '$NS_SRV' '$KNOCK_SERVER' -c '$CONF' --fw-list | grep -F -- '$CLI_IP'"
check "client connects to tcp/$PORT after the knock" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"
check "stranger still cannot connect to tcp/$PORT during the client's grant" \
    tcp_blocked "$NS_STR" "$SRV_IP" "$PORT"
check "held connection was established during the grant" wait_until 3 grep -q connected "$hold_out"

note "expiry (knock-server's 1 s timer deletes the rule)"
if wait_until $((TIMEOUT + 3)) no_grant_rule "$CLI_IP"; then
    gone_ms=$(( $(date +%s%3N) - GRANT_MS ))
    check "grant rule removed ${gone_ms} ms after the knock (<= TIMEOUT + 1.5 s)" test "$gone_ms" -le $((TIMEOUT * 1000 + 1500))
else
    fail "grant rule removed after FW_ACCESS_TIMEOUT" "$(ipt -S FWKNOP_INPUT 2>&1)"
fi
check "client cannot open a new connection after the grant expired" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
wait "$hold_pid"; hold_rc=$?
check "connection established during the grant survives the expiry ($(tail -n1 "$hold_out"))" \
    test "$hold_rc" -eq 0

if [ "$have_ip6tables" = 1 ]; then
    note "IPv6: a knock-client -s packet sent over IPv6 by python gives an ip6tables grant"
    pkt="$TMP/packet6.txt"
    check "client cannot connect to [$SRV_IP6]:$PORT before the knock" tcp_blocked "$NS_CLI" "$SRV_IP6" "$PORT"
    check "knock-client -s --test -B builds the packet" \
        knock_client_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -s --test -B "$pkt"
    log_mark
    check "python sends it over IPv6 to [$SRV_IP6]:$SPA_PORT" udp_send "$NS_CLI" "$SRV_IP6" "$pkt"
    expect_accept "$CLI_IP6"
    check "ip6tables FWKNOP_INPUT holds the grant rule for $CLI_IP6" \
        bash -c "ip netns exec '$NS_SRV' ip6tables -S FWKNOP_INPUT | grep -E -- '-s $CLI_IP6/128 .*--dport $PORT .*_exp_[0-9]+.* -j ACCEPT'"
    check "iptables (IPv4) FWKNOP_INPUT has no rule for the client" no_grant_rule "$CLI_IP"
    check "client connects to [$SRV_IP6]:$PORT over IPv6" tcp_ok "$NS_CLI" "$SRV_IP6" "$PORT"
    no_grant_rule6() {
        local out; out=$(in_ns "$NS_SRV" ip6tables -S FWKNOP_INPUT) || return 1
        ! grep -q -- "-s $1/128" <<<"$out"
    }
    if wait_until $((TIMEOUT + 3)) no_grant_rule6 "$CLI_IP6"; then
        gone_ms=$(( $(date +%s%3N) - GRANT_MS ))
        check "ip6tables grant rule removed ${gone_ms} ms after the knock (<= TIMEOUT + 1.5 s)" test "$gone_ms" -le $((TIMEOUT * 1000 + 1500))
    else
        fail "ip6tables grant rule removed after FW_ACCESS_TIMEOUT" "$(in_ns "$NS_SRV" ip6tables -S FWKNOP_INPUT 2>&1)"
    fi
    check "client cannot open a new IPv6 connection after the grant expired" tcp_blocked "$NS_CLI" "$SRV_IP6" "$PORT"
fi

note "SIGTERM: FLUSH_IPT_AT_EXIT removes knock's chain, the admin's DROP stays"
e2e_server_stop
no_fwknop_chain() { # iptables -S (whole filter table) mentions no FWKNOP_INPUT, for $1 = iptables|ip6tables
    local out; out=$(in_ns "$NS_SRV" "$1" -S) || return 1
    ! grep -q FWKNOP_INPUT <<<"$out" && tr '\n' ' ' <<<"$out"
}
check "no FWKNOP_INPUT chain or jump left in iptables -S" no_fwknop_chain iptables
if command -v ip6tables >/dev/null 2>&1; then
    check "no FWKNOP_INPUT chain or jump left in ip6tables -S" no_fwknop_chain ip6tables
fi
check "client still cannot connect to tcp/$PORT (admin's DROP)" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
check "exit logged: stopping on Terminated" log_has "stopping on"

e2e_finish
