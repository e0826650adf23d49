#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_udp_server.sh KNOCK_SERVER KNOCK_CLIENT - issue #4, scenario 3: UDP-server mode (-U, a UDP
# socket on UDPSERV_PORT instead of pcap), nftables, the real fwknop client (-p to the port).
# Also: a packet with the wrong keys is refused and opens nothing; KNOCK_NFT_TABLE names the
# table; `-R` (SIGHUP) reloads access.conf with new keys; `-t` opens nothing.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
TIMEOUT=3
UDP_PORT=62301   # not the default: UDPSERV_PORT is honoured

e2e_topology
e2e_listener "$PORT"
NFT_TABLE=knock_udp_e2e
e2e_conf FIREWALL_TYPE nftables UDPSERV_PORT "$UDP_PORT" KNOCK_NFT_TABLE "$NFT_TABLE"
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"
e2e_server_start -U

check "knock-server announces UDP port $UDP_PORT" log_has "UDP port $UDP_PORT"
check "knock-server owns a UDP socket on port $UDP_PORT in the server namespace" \
    bash -c "ip netns exec '$NS_SRV' ss -Hlunp 'sport = :$UDP_PORT' | grep knock-server"

note "before the knock"
check "client cannot connect to tcp/$PORT before the knock" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"

note "a knock with the wrong keys (from the stranger, which can reach the socket)"
log_mark
wrong_key=$("$PYTHON" -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')
wrong_hmac=$("$PYTHON" -c 'import base64,os;print(base64.b64encode(os.urandom(64)).decode())')
check "fwknop (wrong keys) sends from the stranger" in_ns "$NS_STR" env HOME="$TMP/home" "$FWKNOP" \
    --no-rc-file --no-save-args -D "$SRV_IP" -p "$UDP_PORT" -A "tcp/$PORT" -a "$STR_IP" --use-hmac \
    --key-base64-rijndael "$wrong_key" --key-base64-hmac "$wrong_hmac"
check "knock-server refuses it: bad_mac" wait_until 3 log_has "packet from $STR_IP: refused: bad_mac"
check "nft set allowed_v4 has no element for the stranger" nft_set_lacks allowed_v4 "$STR_IP"

note "knock: fwknop -A tcp/$PORT -a $CLI_IP -D $SRV_IP -p $UDP_PORT"
log_mark
check "fwknop sends the SPA packet to UDP $UDP_PORT" fwknop_knock "$NS_CLI" "$SRV_IP" -p "$UDP_PORT" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "nft set allowed_v4 holds $CLI_IP . tcp . $PORT" nft_set_has allowed_v4 "$CLI_IP"
check "client connects to tcp/$PORT after the knock" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"
check "stranger still cannot connect to tcp/$PORT" tcp_blocked "$NS_STR" "$SRV_IP" "$PORT"

note "after FW_ACCESS_TIMEOUT ($TIMEOUT s) + 1 s"
sleep_until_after_grant $((TIMEOUT + 1))
check "nft set allowed_v4 no longer holds $CLI_IP" nft_set_lacks allowed_v4 "$CLI_IP"
check "client cannot open a new connection after the grant expired" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"

note "-R: access.conf with new keys, reloaded by SIGHUP"
old_key=$KEY_B64 old_hmac=$HMAC_B64
KEY_B64=$("$PYTHON" -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')
HMAC_B64=$("$PYTHON" -c 'import base64,os;print(base64.b64encode(os.urandom(64)).decode())')
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"
log_mark
check "knock-server -R signals the daemon" in_ns "$NS_SRV" "$KNOCK_SERVER" -c "$CONF" -R
check "knock-server logs the reload" wait_until 3 log_has "reloaded $ACCESS: 1 stanza(s)"
new_key=$KEY_B64 new_hmac=$HMAC_B64
KEY_B64=$old_key HMAC_B64=$old_hmac
log_mark
check "fwknop sends with the old keys" fwknop_knock "$NS_CLI" "$SRV_IP" -p "$UDP_PORT" -A "tcp/$PORT" -a "$CLI_IP"
check "old keys refused after the reload: bad_mac" wait_until 3 log_has "packet from $CLI_IP: refused: bad_mac"
check "nft set allowed_v4 has no element for $CLI_IP" nft_set_lacks allowed_v4 "$CLI_IP"
KEY_B64=$new_key HMAC_B64=$new_hmac
log_mark
check "fwknop sends with the new keys" fwknop_knock "$NS_CLI" "$SRV_IP" -p "$UDP_PORT" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "nft set allowed_v4 holds $CLI_IP" nft_set_has allowed_v4 "$CLI_IP"

note "-t: decide packets, open nothing"
e2e_server_stop
check "knock-server --fw-flush removes table $NFT_TABLE" in_ns "$NS_SRV" "$KNOCK_SERVER" -c "$CONF" --fw-flush
e2e_server_start -U -t
check "knock-server -t runs with firewall none" log_has "firewall none"
log_mark
check "fwknop sends the SPA packet" fwknop_knock "$NS_CLI" "$SRV_IP" -p "$UDP_PORT" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check_not "no nft table $NFT_TABLE created in test mode" in_ns "$NS_SRV" nft list table inet "$NFT_TABLE"
check "the server namespace's ruleset is empty" bash -c "[ -z \"\$(ip netns exec '$NS_SRV' nft list ruleset)\" ]"

e2e_finish
