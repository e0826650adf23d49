#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_two_interfaces.sh KNOCK_SERVER KNOCK_CLIENT - issue #4, scenario 4: pcap capture on two
# interfaces at once (-i A,B), two client namespaces on two veth pairs. A knock on each interface
# opens access for the client behind it (fwknop on the first, knock-client on the second), and
# only for it; a valid knock arriving on a third, uncaptured interface (the stranger's) is never
# seen. The table is named with --nft-table, the ports with --protect (tcp/2223 too: it stays
# closed, no stanza may open it).
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
TIMEOUT=4

e2e_topology cli2
e2e_listener "$PORT"
e2e_conf FIREWALL_TYPE nftables
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"
NFT_TABLE=knock_two_e2e
e2e_server_start -i "$IF_SRV_CLI,$IF_SRV_CL2" --nft-table "$NFT_TABLE" --protect "tcp/$PORT,tcp/$OPEN_PORT"
e2e_listener "$OPEN_PORT"
check "nft table $NFT_TABLE protects tcp/$PORT and tcp/$OPEN_PORT" \
    bash -c "ip netns exec '$NS_SRV' nft list set inet '$NFT_TABLE' protected | tr -s ' \t\n' ' ' | grep -E 'tcp \. $PORT, tcp \. $OPEN_PORT|tcp \. $OPEN_PORT, tcp \. $PORT'"

note "before any knock (client A $CLI_IP on $IF_SRV_CLI, client B $CL2_IP on $IF_SRV_CL2)"
check "client A cannot connect to tcp/$PORT" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
check "client B cannot connect to tcp/$PORT" tcp_blocked "$NS_CL2" "$SRV2_IP" "$PORT"

note "client A knocks (fwknop) on $IF_SRV_CLI"
log_mark
check "fwknop sends from client A" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "nft set allowed_v4 holds client A ($CLI_IP)" nft_set_has allowed_v4 "$CLI_IP"
check "nft set allowed_v4 has nothing for client B yet" nft_set_lacks allowed_v4 "$CL2_IP"
check "client A connects to tcp/$PORT" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"
check "client B still cannot connect to tcp/$PORT" tcp_blocked "$NS_CL2" "$SRV2_IP" "$PORT"

note "client B knocks (knock-client) on $IF_SRV_CL2"
log_mark
check "knock-client sends from client B" knock_client_knock "$NS_CL2" "$SRV2_IP" -A "tcp/$PORT" -a "$CL2_IP"
expect_accept "$CL2_IP"
check "nft set allowed_v4 holds client B ($CL2_IP)" nft_set_has allowed_v4 "$CL2_IP"
check "client B connects to tcp/$PORT" tcp_ok "$NS_CL2" "$SRV2_IP" "$PORT"
check "client B still cannot connect to tcp/$OPEN_PORT (protected, not granted)" tcp_blocked "$NS_CL2" "$SRV2_IP" "$OPEN_PORT"

note "a valid knock on the uncaptured stranger interface ($IF_SRV_STR) is not seen"
log_mark
check "fwknop sends from the stranger (valid keys)" fwknop_knock "$NS_STR" "$SRV_STR_IP" -A "tcp/$PORT" -a "$STR_IP"
sleep 1
check_not "knock-server logged nothing for $STR_IP" log_has "packet from $STR_IP"
check "nft set allowed_v4 has nothing for the stranger" nft_set_lacks allowed_v4 "$STR_IP"
check "stranger cannot connect to tcp/$PORT" tcp_blocked "$NS_STR" "$SRV_STR_IP" "$PORT"

e2e_finish
