#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034,SC2016  # functions run via check/wait_until; optional args; sh -c scripts
# e2e_fault_digest.sh KNOCK_SERVER KNOCK_CLIENT - issue #7, faults: the replay log (DIGEST_FILE).
#
#  corrupt   garbage lines, binary junk and a torn last line around the good lines of a real log:
#            knock-server starts, logs how many lines it skipped, and still refuses replays of
#            the packets in the good lines (after their grants are over: nothing reopens).
#  at start  the log's directory read-only (a read-only bind mount in the daemon's own mount
#            namespace - root ignores file modes, not read-only mounts), or the log a directory:
#            a clear error naming the file and the reason (strerror), and a non-zero exit.
#  running   the log's file system fills up under the running daemon (a 64 KiB tmpfs of its own,
#            filled from inside its mount namespace): the packet is refused (io_failed) with the
#            reason in the log, nothing is granted, the daemon keeps running; once there is room
#            again knocks work, and the log holds whole lines only.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
for t in unshare nsenter mount timeout dd; do
    command -v "$t" >/dev/null 2>&1 || skip "$t not found"
done
TIMEOUT=4
REAL_SERVER=$KNOCK_SERVER

e2e_topology
e2e_listener "$PORT"
e2e_conf FIREWALL_TYPE nftables
e2e_access FW_ACCESS_TIMEOUT "$TIMEOUT"
DIGEST="$TMP/run/digest.cache"  # e2e_conf's DIGEST_FILE

START_OUT="" START_RC=""
run_to_exit() { # CMD...: knock-server's start-up, 10 s to exit; $START_OUT, $START_RC
    START_OUT=$(timeout 10 ip netns exec "$NS_SRV" "$@" </dev/null 2>&1)
    START_RC=$?
    printf '%s\n' "$START_OUT" | sed 's/^/    (start) /' >>"$TMP/server.log"
}
exited_nonzero() {
    echo "exit status $START_RC: $(tail -n1 <<<"$START_OUT")"
    [ "$START_RC" -ne 0 ] && [ "$START_RC" -ne 124 ]
}
out_has() { grep -q -- "$1" <<<"$START_OUT" && grep -F -- "$1" <<<"$START_OUT" | head -n1; }
alive() { kill -0 "$SERVER_PID" 2>/dev/null && echo "pid $SERVER_PID alive"; }
no_accept() { ! log_has "packet from $CLI_IP: accepted"; }
replay_refused() { log_has "packet from $CLI_IP: refused: replayed"; }
# whole_lines FILE...: every line is a replay-log line: 64 hex digits, expiry, 16 hex digits
whole_lines() {
    local n bad
    n=$(cat "$@" | grep -c '')
    bad=$(cat "$@" | grep -cvE '^[0-9a-f]{64} [0-9]+ [0-9a-f]{16}$')
    echo "$n line(s), $bad malformed"
    [ "$n" -gt 0 ] && [ "$bad" -eq 0 ]
}

# ---------------------------------------------------------------------------------------------
note "a corrupt replay log: garbage, binary junk, a torn last line around good lines"
e2e_server_start
p1="$TMP/p1.txt" p2="$TMP/p2.txt"
check "fwknop --test -B saves packet 1" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP" --test -B "$p1"
check "fwknop --test -B saves packet 2" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP" --test -B "$p2"
for p in "$p1" "$p2"; do
    log_mark
    check "python sends $(basename "$p")" udp_send "$NS_CLI" "$SRV_IP" "$p"
    expect_accept "$CLI_IP"
done
e2e_server_stop
check "the replay log holds 4 good lines (2 keys per packet)" bash -c "whole_lines() { $(declare -f whole_lines | tail -n +2); }; whole_lines '$DIGEST' && [ \$(grep -c '' '$DIGEST') -eq 4 ]"
mapfile -t good <"$DIGEST"
{
    echo "this is not a replay-log line"
    printf '%s\n%s\n' "${good[0]}" "${good[1]}"
    printf 'binary\000junk\001\377\376\033[31m\x7f\n'
    printf '%s\n' "${good[2]}"
    printf '%s %s\n' "${good[3]:0:64}" "9999999999 deadbeef"  # checksum does not match
    printf '%s\n' "${good[3]}"
    printf '%s' "${good[3]:0:50}"  # torn: a crash mid-write
} >"$DIGEST.new"
cat "$DIGEST.new" >"$DIGEST" && rm -f "$DIGEST.new"  # same inode, owner and mode
e2e_server_start
check "knock-server started over the corrupt log and logs 4 skipped lines" \
    log_has "$DIGEST: skipped 4 corrupt line(s) of the replay log"
sleep_until_after_grant $((TIMEOUT + 1))  # the grants of packets 1 and 2 are over
for p in "$p1" "$p2"; do
    log_mark
    check "python replays $(basename "$p")" udp_send "$NS_CLI" "$SRV_IP" "$p"
    check "the replay of $(basename "$p") is refused: replayed" wait_until 3 replay_refused
    check "no acceptance logged for it" no_accept
done
check "nft set allowed_v4 has no element for $CLI_IP" nft_set_lacks allowed_v4 "$CLI_IP"
check "client cannot connect" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
log_mark
check "fwknop sends a new packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "the log was rewritten with whole lines only" whole_lines "$DIGEST"
e2e_server_stop

# ---------------------------------------------------------------------------------------------
note "unwritable at start: the log's directory is a read-only bind mount"
RO="$TMP/ro"
mkdir -m 700 "$RO" && chown nobody "$RO"
cp -p "$DIGEST" "$RO/replay.log"  # a real log with live entries: it is read, then append fails
ro_start() { # knock-server args...
    run_to_exit unshare -m --propagation private sh -c 'mount --bind -o ro "$0" "$0" && exec "$@"' \
        "$RO" "$REAL_SERVER" -f -c "$CONF" -a "$ACCESS" -d "$RO/replay.log" "$@"
}
ro_start --user root
check "knock-server (--user root) exits non-zero" exited_nonzero
check "its error names the file and the reason" \
    out_has "knock-server: cannot open the replay log (DIGEST_FILE): $RO/replay.log: cannot open for appending: Read-only file system"
check_not "it never says started" out_has "started:"
rm -f "$RO/replay.log"
ro_start --user root
check "without a log yet: exits non-zero too" exited_nonzero
check "...naming the file and the reason" \
    out_has "$RO/replay.log: cannot open for appending: Read-only file system"
ro_start
check "as the default user (dropping root after start-up): exits non-zero" exited_nonzero
check "...naming the file" out_has "$RO/replay.log"
check_not "...and never says started" out_has "started:"
check "the bind mount stayed in knock-server's own mount namespace" \
    bash -c "! grep -F ' $RO ' /proc/self/mountinfo"

note "unusable at start: the log is a directory"
mkdir -m 700 "$TMP/run/adir" && chown nobody "$TMP/run/adir"
run_to_exit "$REAL_SERVER" -f -c "$CONF" -a "$ACCESS" -d "$TMP/run/adir"
check "knock-server exits non-zero" exited_nonzero
check "its error names the file and the reason" \
    out_has "cannot open the replay log (DIGEST_FILE): $TMP/run/adir: cannot read: Is a directory"

# ---------------------------------------------------------------------------------------------
note "the log's file system fills up under the running daemon"
SMALL="$TMP/small"
mkdir -m 700 "$SMALL"
SMALL_WRAPPER="$TMP/knock-server-small-disk"
cat >"$SMALL_WRAPPER" <<EOF
#!/bin/sh
# knock-server in a mount namespace of its own, with a 64 KiB tmpfs (its owner: nobody) on $SMALL
exec unshare -m --propagation private sh -c 'mount -t tmpfs -o size=64k,mode=0700,uid=$(id -u nobody),gid=$(id -g nobody) knock-e2e-small "\$0" && exec "\$@"' "$SMALL" "$REAL_SERVER" "\$@"
EOF
chmod 755 "$SMALL_WRAPPER"
sleep_until_after_grant $((TIMEOUT + 1))  # the last grant above is over
KNOCK_SERVER=$SMALL_WRAPPER e2e_server_start -d "$SMALL/replay.log"
in_daemon() { nsenter -t "$SERVER_PID" -m "$@"; }
check "the replay log is on the daemon's small tmpfs" \
    in_daemon sh -c "grep -F ' $SMALL ' /proc/self/mountinfo && test -e '$SMALL/replay.log'"
in_daemon dd if=/dev/zero of="$SMALL/fill" bs=4096 2>/dev/null  # until ENOSPC
check "the tmpfs is full" in_daemon sh -c "! dd if=/dev/zero of='$SMALL/more' bs=4096 count=1 2>&1"
log_mark
check "fwknop sends a valid packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
check "knock-server refuses it: refused: io_failed" \
    wait_until 3 log_has "packet from $CLI_IP: refused: io_failed"
check "the log names the replay log and the reason" \
    log_has "packet from $CLI_IP: refused: io_failed ($SMALL/replay.log: cannot append: No space left on device)"
check "no acceptance logged for it" no_accept
check "nft set allowed_v4 has no element for $CLI_IP" nft_set_lacks allowed_v4 "$CLI_IP"
check "client cannot connect" tcp_blocked "$NS_CLI" "$SRV_IP" "$PORT"
check "knock-server is still running" alive
check "room again: the filler removed" in_daemon rm -f "$SMALL/fill" "$SMALL/more"
log_mark
check "fwknop sends a new packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "client connects" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"
check "the replay log holds whole lines only" in_daemon bash -c "$(declare -f whole_lines); whole_lines '$SMALL/replay.log'"
e2e_server_stop
check "the tmpfs went with knock-server's mount namespace" bash -c "! grep -F ' $SMALL ' /proc/self/mountinfo"

e2e_finish
