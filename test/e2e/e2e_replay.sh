#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_replay.sh KNOCK_SERVER KNOCK_CLIENT - issue #4, scenario 6: replay. One packet, made by
# `fwknop --test -B`, sent by python as the same bytes again and again: the first send grants; a
# replay during the grant does not extend it; a replay after it expired gives no new grant
# ("refused: replayed"); the same after a restart of knock-server with the same replay log.
# Control: a fresh packet after the restart is accepted. The daemon runs with -d / -p (the
# replay log and pid file named on the command line, not fwknopd.conf's).
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
TIMEOUT=3

e2e_topology
e2e_listener "$PORT"
e2e_conf FIREWALL_TYPE nftables
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"
digest_file="$TMP/run/replay-flag.log"
pid_file="$TMP/run/flag.pid"
e2e_server_start -d "$digest_file" -p "$pid_file"
check "pid file from -p holds the daemon's pid" bash -c "[ \"\$(cat '$pid_file')\" = '$SERVER_PID' ]"
pkt="$TMP/packet.txt"

expect_replay_refused() { # when
    check "knock-server refuses the replay ($1): refused: replayed" \
        wait_until 3 log_has "packet from $CLI_IP: refused: replayed"
    check_not "no acceptance logged for the replay ($1)" log_has "packet from $CLI_IP: accepted"
}

check "fwknop --test -B saves a packet for $CLI_IP" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP" --test -B "$pkt"

note "first send: grants"
log_mark
check "python sends the packet" udp_send "$NS_CLI" "$SRV_IP" "$pkt"
expect_accept "$CLI_IP"
check "nft set allowed_v4 holds $CLI_IP" nft_set_has allowed_v4 "$CLI_IP"
check "client connects to tcp/$PORT" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"

note "the same bytes during the grant: refused, the grant is not extended"
log_mark
check "python sends the same packet again" udp_send "$NS_CLI" "$SRV_IP" "$pkt"
expect_replay_refused "during the grant"
sleep_until_after_grant $((TIMEOUT + 1))
check "nft set allowed_v4 no longer holds $CLI_IP at first grant + $((TIMEOUT + 1)) s" nft_set_lacks allowed_v4 "$CLI_IP"

note "the same bytes after the grant expired"
log_mark
check "python sends the same packet a third time" udp_send "$NS_CLI" "$SRV_IP" "$pkt"
expect_replay_refused "after expiry"
check "nft set allowed_v4 has no new element for $CLI_IP" nft_set_lacks allowed_v4 "$CLI_IP"
check "client cannot connect to tcp/$PORT" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
check "replay log $digest_file (-d) exists and is not empty" test -s "$digest_file"
check_not "fwknopd.conf's DIGEST_FILE was not used" test -e "$TMP/run/digest.cache"
check "replay log is mode 600" bash -c "[ \"\$(stat -c %a '$digest_file')\" = 600 ] && stat -c '%a %s bytes' '$digest_file'"

note "restart knock-server (same replay log), send the same bytes"
e2e_server_stop
e2e_server_start -d "$digest_file" -p "$pid_file"
log_mark
check "python sends the same packet to the restarted daemon" udp_send "$NS_CLI" "$SRV_IP" "$pkt"
expect_replay_refused "after the restart"
check "nft set allowed_v4 has no new element for $CLI_IP" nft_set_lacks allowed_v4 "$CLI_IP"
check "client cannot connect to tcp/$PORT" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"

note "control: a fresh packet is accepted by the restarted daemon"
log_mark
check "fwknop sends a new packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "nft set allowed_v4 holds $CLI_IP again" nft_set_has allowed_v4 "$CLI_IP"
check "client connects to tcp/$PORT" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"

e2e_finish
