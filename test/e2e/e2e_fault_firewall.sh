#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_fault_firewall.sh KNOCK_SERVER KNOCK_CLIENT - issue #7, faults: the firewall fails under a
# running knock-server. The daemon must keep running, log one clear line per failure naming the
# backend's reason, never log a grant that did not happen, and repair what was deleted under it.
#
#  nftables  the table deleted under the daemon (`nft delete table`): protection is gone, so the
#            daemon remakes it - at the next grant (which then goes through) or at its periodic
#            check (every 5 s) when no packet comes; a table it cannot remake (someone else's
#            `inet knock` with an incompatible set) refuses the packet as firewall_failed, names
#            libnftables' error, and opens nothing; a restart remakes the table too.
#  iptables  the program missing at start (hidden in a private mount namespace): a clear error
#            and a non-zero exit; FWKNOP_INPUT and its jump deleted under the daemon: re-created
#            at the next grant, as fwknopd does; the program made unrunnable under the running
#            daemon: refused as firewall_failed with the reason, then works again once it is back.
#  EPERM     knock-server started without CAP_NET_ADMIN (capsh --drop): a clear start-up error
#            naming the permission problem and a non-zero exit, for both backends.
# Everything happens inside the test's network namespaces and the daemon's own mount namespace.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
for t in unshare nsenter mount umount capsh timeout; do
    command -v "$t" >/dev/null 2>&1 || skip "$t not found"
done
TIMEOUT=6
REAL_SERVER=$KNOCK_SERVER

e2e_topology
e2e_listener "$PORT"
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"

# A knock-server that runs in a mount namespace of its own (same pid: everything execs), so a
# test can hide a program from it with a bind mount (nsenter -t PID -m) without touching the host.
MNT_WRAPPER="$TMP/knock-server-own-mounts"
printf '#!/bin/sh\nexec unshare -m --propagation private %q "$@"\n' "$REAL_SERVER" >"$MNT_WRAPPER"
chmod 755 "$MNT_WRAPPER"

# run_to_exit CMD...: knock-server's start-up (CMD ends with the knock-server binary), given 10 s
# to exit; its output in $START_OUT, its exit status in $START_RC (124: still running: killed).
START_OUT="" START_RC=""
run_to_exit() {
    START_OUT=$(timeout 10 ip netns exec "$NS_SRV" "$@" -f -c "$CONF" -a "$ACCESS" </dev/null 2>&1)
    START_RC=$?
    printf '%s\n' "$START_OUT" | sed 's/^/    (start) /' >>"$TMP/server.log"
}
exited_nonzero() {
    echo "exit status $START_RC: $(tail -n1 <<<"$START_OUT")"
    [ "$START_RC" -ne 0 ] && [ "$START_RC" -ne 124 ]
}
out_has() { grep -q -- "$1" <<<"$START_OUT" && grep -- "$1" <<<"$START_OUT" | head -n1; }

knock_new() { # a fresh packet from the client (never a replay)
    fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
}
alive() { kill -0 "$SERVER_PID" 2>/dev/null && echo "pid $SERVER_PID alive"; }
refused_fw() { log_has "packet from $CLI_IP: refused: firewall_failed"; }
no_accept() { ! log_has "packet from $CLI_IP: accepted"; }

# ---------------------------------------------------------------------------------------------
note "nftables: the table deleted under the running daemon, then a knock"
e2e_conf FIREWALL_TYPE nftables
e2e_server_start
check "stranger cannot connect (protected)" tcp_blocked "$NS_STR" "$SRV_IP" "$PORT"
log_mark
check "nft delete table inet knock (under the daemon)" in_ns "$NS_SRV" nft delete table inet knock
check "the fault is real: with the table gone the stranger connects" tcp_ok "$NS_STR" "$SRV_IP" "$PORT"
check "fwknop sends a valid packet" knock_new
expect_accept "$CLI_IP"
check "the daemon logs that it remade its rules" \
    wait_until 3 log_has "firewall nftables: its rules were missing or damaged.*remade them"
check "table inet knock is back, with the grant for $CLI_IP" nft_set_has allowed_v4 "$CLI_IP"
check "client connects during the grant" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"
check "stranger is blocked again" tcp_blocked "$NS_STR" "$SRV_IP" "$PORT"
check "knock-server is still running" alive

note "nftables: the table deleted again, no packet: the periodic check remakes it"
log_mark
check "nft delete table inet knock" in_ns "$NS_SRV" nft delete table inet knock
check "within 7 s the daemon logs that it remade its rules" \
    wait_until 7 log_has "firewall nftables: its rules were missing or damaged.*remade them"
check "table inet knock is back" in_ns "$NS_SRV" nft list chain inet knock input
check "stranger is blocked again without any knock" tcp_blocked "$NS_STR" "$SRV_IP" "$PORT"
check_not "no packet was logged meanwhile" log_has "packet from"

note "nftables: a table inet knock the daemon cannot remake (an impostor), then a knock"
sleep_until_after_grant $((TIMEOUT + 1))  # the first grant is over
log_mark
in_ns "$NS_SRV" nft -f - <<EOF || die "impostor table"
delete table inet knock
table inet knock {
    set allowed_v4 { type ipv4_addr; }
    chain input { type filter hook input priority -10; policy accept; tcp dport $PORT drop; }
}
EOF
check "fwknop sends a valid packet" knock_new
check "knock-server refuses it: refused: firewall_failed" wait_until 3 refused_fw
check "the log names libnftables' reason" \
    log_has "packet from $CLI_IP: refused: firewall_failed (nftables: table inet knock: Error: .*remaking table inet knock failed too: Error: "
check "no acceptance is logged for it" no_accept
check "the impostor's set holds no element for $CLI_IP" \
    bash -c "! ip netns exec '$NS_SRV' nft list set inet knock allowed_v4 | grep -F '$CLI_IP'"
check "client cannot connect (nothing was opened)" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
check "the periodic check reports it too, with the reason" \
    wait_until 7 log_has "firewall: expiry or check failed: nftables: table inet knock is missing or damaged, and remaking it failed: Error: "
check "knock-server is still running" alive

note "nftables: the impostor removed: the next knock goes through"
log_mark
check "nft delete table inet knock (the impostor)" in_ns "$NS_SRV" nft delete table inet knock
check "fwknop sends a new packet" knock_new
expect_accept "$CLI_IP"
check "client connects" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"
check "stranger cannot connect" tcp_blocked "$NS_STR" "$SRV_IP" "$PORT"

note "nftables: table deleted while the daemon is down: a restart remakes it"
e2e_server_stop
check "nft delete table inet knock (daemon stopped)" in_ns "$NS_SRV" nft delete table inet knock
e2e_server_start
check "table inet knock exists after the restart" in_ns "$NS_SRV" nft list chain inet knock input
check "stranger cannot connect" tcp_blocked "$NS_STR" "$SRV_IP" "$PORT"

note "EPERM: knock-server started without CAP_NET_ADMIN (nftables)"
e2e_server_stop
run_to_exit capsh --drop=cap_net_admin -- -c 'exec "$@"' knock-server "$REAL_SERVER"
check "knock-server exits non-zero at start" exited_nonzero
check "its error names nftables and the permission problem" out_has "^knock-server: nftables: .*Operation not permitted"
check_not "it never says started" out_has "started:"
check "table inet knock (from before) is still there and untouched" in_ns "$NS_SRV" nft list chain inet knock input

# ---------------------------------------------------------------------------------------------
if command -v iptables >/dev/null 2>&1; then
    check "knock-server --fw-flush removes the nftables table" in_ns "$NS_SRV" "$REAL_SERVER" -c "$CONF" --fw-flush
    in_ns "$NS_SRV" iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT || die "iptables rule"
    in_ns "$NS_SRV" iptables -A INPUT -p tcp --dport "$PORT" -j DROP || die "iptables DROP rule"
    e2e_conf FIREWALL_TYPE iptables

    # Every place knock's iptables backend looks for the program, resolved (a bind mount over a
    # symlink lands on its target): /dev/null over them hides iptables from that mount namespace.
    IPT_TARGETS=()
    for d in /usr/sbin /usr/bin /sbin /bin; do
        [ -e "$d/iptables" ] && IPT_TARGETS+=("$(readlink -f "$d/iptables")")
    done
    hide_args=""
    for f in $(printf '%s\n' "${IPT_TARGETS[@]}" | sort -u); do hide_args+=" mount --bind /dev/null $f &&"; done

    note "iptables: the program missing at start"
    run_to_exit unshare -m --propagation private sh -c "$hide_args exec \"\$@\"" knock-server "$REAL_SERVER"
    check "knock-server exits non-zero at start" exited_nonzero
    check "its error says iptables was not found" out_has "iptables: iptables: not found or not executable"
    check_not "it never says started" out_has "started:"
    check "the host's iptables is untouched (still runs here)" bash -c "iptables --version"

    note "iptables: FWKNOP_INPUT and its jump deleted under the running daemon"
    KNOCK_SERVER=$MNT_WRAPPER e2e_server_start
    check "FWKNOP_INPUT exists" in_ns "$NS_SRV" iptables -n -L FWKNOP_INPUT
    log_mark
    check "iptables -D INPUT -j FWKNOP_INPUT" in_ns "$NS_SRV" iptables -D INPUT -j FWKNOP_INPUT
    check "iptables -X FWKNOP_INPUT" in_ns "$NS_SRV" iptables -X FWKNOP_INPUT
    check "fwknop sends a valid packet" knock_new
    expect_accept "$CLI_IP"
    check "the daemon logs that it re-created its rules" \
        wait_until 3 log_has "firewall iptables: its rules were missing or damaged.*remade them"
    check "the jump to FWKNOP_INPUT is back" in_ns "$NS_SRV" iptables -C INPUT -j FWKNOP_INPUT
    check "FWKNOP_INPUT holds the rule for $CLI_IP" \
        bash -c "ip netns exec '$NS_SRV' iptables -S FWKNOP_INPUT | grep -- '-s $CLI_IP/32'"
    check "client connects during the grant" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"
    check "stranger cannot connect" tcp_blocked "$NS_STR" "$SRV_IP" "$PORT"

    note "iptables: the program made unrunnable under the running daemon"
    sleep_until_after_grant $((TIMEOUT + 1))
    check "the grant for $CLI_IP is over" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
    log_mark
    hidden=0
    for f in $(printf '%s\n' "${IPT_TARGETS[@]}" | sort -u); do
        nsenter -t "$SERVER_PID" -m mount --bind /dev/null "$f" && hidden=$((hidden + 1))
    done
    check "iptables hidden in the daemon's mount namespace ($hidden bind mount(s))" test "$hidden" -gt 0
    check "the host's iptables still runs" bash -c "iptables --version"
    check "fwknop sends a valid packet" knock_new
    check "knock-server refuses it: refused: firewall_failed" wait_until 3 refused_fw
    check "the log names the command and why it could not run" \
        log_has "packet from $CLI_IP: refused: firewall_failed (iptables: \`.*iptables .*\`: cannot start: Permission denied"
    check "no acceptance is logged for it" no_accept
    check "client cannot connect (nothing was opened)" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
    check "knock-server is still running" alive
    for f in $(printf '%s\n' "${IPT_TARGETS[@]}" | sort -u); do
        nsenter -t "$SERVER_PID" -m umount "$f"
    done
    log_mark
    check "iptables back: fwknop sends a new packet" knock_new
    expect_accept "$CLI_IP"
    check "client connects" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"
    e2e_server_stop

    note "EPERM: knock-server started without CAP_NET_ADMIN (iptables)"
    run_to_exit capsh --drop=cap_net_admin -- -c 'exec "$@"' knock-server "$REAL_SERVER"
    check "knock-server exits non-zero at start" exited_nonzero
    check "its error names iptables and the permission problem" \
        out_has "knock-server: iptables: .*\(Permission denied\|Operation not permitted\)"
    check_not "it never says started" out_has "started:"
else
    note "NOTE: iptables not installed: its faults not tested"
fi

e2e_finish
