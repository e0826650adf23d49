#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_nftables.sh KNOCK_SERVER KNOCK_CLIENT - issue #4, scenario 1: nftables firewall, pcap
# capture, the real fwknop client. Before the knock tcp/2222 is closed to the client and to the
# stranger; after it, open to the client only; FW_ACCESS_TIMEOUT (3 s) later closed to new
# connections while a connection opened during the grant keeps working. Then: SIGTERM leaves
# the table (fail closed), --fw-list / --fw-flush work on it.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
TIMEOUT=3

e2e_topology
e2e_listener "$PORT"
e2e_listener "$OPEN_PORT"
e2e_conf FIREWALL_TYPE nftables KNOCK_NFT_TABLE knock
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"
e2e_server_start

note "controls: the network works, only tcp/$PORT is protected"
check "client reaches unprotected tcp/$OPEN_PORT" tcp_ok "$NS_CLI" "$SRV_IP" "$OPEN_PORT"
check "stranger reaches unprotected tcp/$OPEN_PORT" tcp_ok "$NS_STR" "$SRV_IP" "$OPEN_PORT"
check "nft table inet knock protects tcp . $PORT" \
    bash -c "ip netns exec '$NS_SRV' nft list set inet knock protected | grep -E 'tcp \\. $PORT'"

note "before the knock"
check "client cannot connect to tcp/$PORT before the knock" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
check "stranger cannot connect to tcp/$PORT before the knock" tcp_blocked "$NS_STR" "$SRV_IP" "$PORT"

note "knock: fwknop -A tcp/$PORT -a $CLI_IP -D $SRV_IP"
log_mark
check "fwknop sends the SPA packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
# a connection opened during the grant, held across its expiry (second line at grant + 5 s)
hold_out="$TMP/hold.out"
bg_in_ns "$NS_CLI" "$PYTHON" "$E2E_NET" hold "$SRV_IP" "$PORT" 4.5 >"$hold_out" 2>&1
hold_pid=$BG_PID
check "log line names the grant: open $CLI_IP tcp/$PORT for $TIMEOUT s" \
    log_has "packet from $CLI_IP: accepted by stanza 1: open $CLI_IP tcp/$PORT for $TIMEOUT s"
check "nft set allowed_v4 holds $CLI_IP . tcp . $PORT" nft_set_has allowed_v4 "$CLI_IP"
check "knock-server --fw-list shows the grant" \
    bash -c "ip netns exec '$NS_SRV' '$KNOCK_SERVER' -c '$CONF' --fw-list | grep -F '$CLI_IP tcp/$PORT'"
check "client connects to tcp/$PORT after the knock" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"
check "stranger still cannot connect to tcp/$PORT during the client's grant" \
    tcp_blocked "$NS_STR" "$SRV_IP" "$PORT"
check "held connection was established during the grant" \
    wait_until 3 grep -q connected "$hold_out"

note "after FW_ACCESS_TIMEOUT ($TIMEOUT s) + 1 s"
sleep_until_after_grant $((TIMEOUT + 1))
check "nft set allowed_v4 no longer holds $CLI_IP" nft_set_lacks allowed_v4 "$CLI_IP"
check "client cannot open a new connection after the grant expired" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
wait "$hold_pid"; hold_rc=$?
check "connection established during the grant survives the expiry ($(tail -n1 "$hold_out"))" \
    test "$hold_rc" -eq 0

note "SIGTERM: the table stays (fail closed); --fw-flush removes it"
e2e_server_stop
check "nft table inet knock still there after SIGTERM" in_ns "$NS_SRV" nft list table inet knock
check "client still cannot connect while knock-server is stopped" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
check "knock-server --fw-flush succeeds" in_ns "$NS_SRV" "$KNOCK_SERVER" -c "$CONF" --fw-flush
check_not "nft table inet knock gone after --fw-flush" in_ns "$NS_SRV" nft list table inet knock
check "client connects once the protection is flushed" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"

e2e_finish
