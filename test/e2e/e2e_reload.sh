#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2034  # functions run via check; variables for lib.sh
# e2e_reload.sh KNOCK_SERVER KNOCK_CLIENT - issue #13: a reload after the privilege drop. fwknopd
# re-reads a root-only (0600) access.conf on `fwknopd -R` / SIGHUP, being root throughout;
# knock-server runs as nobody by then, and a configuration reader forked before the drop reads
# access.conf and the files it includes for it (examples/knock-server/config_reader.hpp):
#   access.conf and its %include_keys file root's alone (0600); the daemon runs as nobody; the
#   reader keeps only what reading needs (plain root: nobody + cap_dac_read_search; under the
#   systemd unit's bounding set: uid 0 with no capability at all), an empty bounding set and
#   no_new_privs; a stanza is replaced (new keys, from an %include_keys file): after `-R` the
#   new stanza's packet is granted and the removed one's refused, and back again after SIGHUP;
#   a broken include is refused with its own file:line, the old rules kept; the reader killed:
#   the daemon logs it, keeps granting, refuses reloads with the reason; the daemon stopped
#   (TERM, and kill -9): the reader goes too.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
command -v setpriv >/dev/null 2>&1 || skip "setpriv not found"

NOBODY=$(id -u nobody)
CAP_DAC_READ_SEARCH=0000000000000004
CAP_NET_ADMIN=0000000000001000
NONE=0000000000000000

status_field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
field_is() { # pid field value
    local v; v=$(status_field "$1" "$2")
    echo "$2: $v"
    [ "$v" = "$3" ]
}
uids_are() { # pid uid: real, effective, saved and filesystem uid
    local line; line=$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$1/status")
    echo "Uid: $line"
    [ "$line" = "$2 $2 $2 $2" ]
}
reader_pid() { # the daemon's one child
    local kids; kids=$(cat "/proc/$SERVER_PID/task/$SERVER_PID/children" 2>/dev/null | xargs)
    [ -n "$kids" ] && [ "$(wc -w <<<"$kids")" -eq 1 ] && echo "$kids"
}
gone() { ! kill -0 "$1" 2>/dev/null; }

# A second key pair, for the stanza that replaces the first.
keys=$("$KNOCK_SERVER" --key-gen) || die "knock-server --key-gen failed"
KEY2=$(sed -n 's/^KEY_BASE64: //p' <<<"$keys")
HMAC2=$(sed -n 's/^HMAC_KEY_BASE64: //p' <<<"$keys")
knock_a() { fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"; }
knock_b() {
    in_ns "$NS_CLI" env HOME="$TMP/home" "$FWKNOP" --no-rc-file --no-save-args -D "$SRV_IP" \
        --use-hmac --hmac-digest-type sha256 --key-base64-rijndael "$KEY2" \
        --key-base64-hmac "$HMAC2" -A "tcp/$PORT" -a "$CLI_IP"
}
# access_a / access_b: access.conf with stanza A (keys inline) or B (keys in an %include_keys
# file), root:root 0600 - as fwknopd's own packages install it
KEYS_B="$TMP/keys-b.conf"
access_a() {
    printf 'SOURCE ANY\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\nOPEN_PORTS tcp/%s\nFW_ACCESS_TIMEOUT 30\n' \
        "$KEY_B64" "$HMAC_B64" "$PORT" >"$ACCESS.new"
    chown root:root "$ACCESS.new" && chmod 600 "$ACCESS.new" && mv "$ACCESS.new" "$ACCESS"
}
access_b() {
    printf 'KEY_BASE64 %s\nHMAC_KEY_BASE64 %s\n' "$KEY2" "$HMAC2" >"$KEYS_B"
    chown root:root "$KEYS_B" && chmod 600 "$KEYS_B"
    printf 'SOURCE ANY\n%%include_keys %s\nOPEN_PORTS tcp/%s\nFW_ACCESS_TIMEOUT 30\n' \
        "$KEYS_B" "$PORT" >"$ACCESS.new"
    chown root:root "$ACCESS.new" && chmod 600 "$ACCESS.new" && mv "$ACCESS.new" "$ACCESS"
}
granted() { # what: a new acceptance line since log_mark
    wait_until 5 log_has "packet from $CLI_IP: accepted" || { log_since_mark; return 1; }
}
refused() { # what: a new refusal line, and no acceptance
    wait_until 5 log_has "packet from $CLI_IP: refused" || { log_since_mark; return 1; }
    ! log_has "packet from $CLI_IP: accepted"
}
reloaded() { wait_until 5 log_has "reloaded $ACCESS: 1 stanza" || { log_since_mark; return 1; }; }

e2e_topology
e2e_listener "$PORT"
e2e_conf FIREWALL_TYPE nftables
e2e_access

# run_scenario LABEL READER_UID READER_CAPS: the reload cycle, with the daemon already started
run_scenario() {
    local label=$1 reader_uid=$2 reader_caps=$3
    local rp; rp=$(reader_pid)
    check "$label: the daemon has one child, the configuration reader" test -n "$rp"
    [ -n "$rp" ] || return
    check "$label: the daemon logs the reader's pid" log_has "configuration reader: pid $rp reads $ACCESS"
    check "$label: the daemon (worker) runs as nobody" uids_are "$SERVER_PID" "$NOBODY"
    check "$label: the worker cannot read access.conf itself" \
        in_ns "$NS_SRV" setpriv --reuid nobody --regid "$(id -g nobody)" --clear-groups -- sh -c "! cat '$ACCESS' 2>/dev/null"
    check "$label: the reader's uid is $reader_uid" uids_are "$rp" "$reader_uid"
    check "$label: the reader's effective capabilities: $reader_caps" field_is "$rp" CapEff "$reader_caps"
    check "$label: its permitted capabilities: the same" field_is "$rp" CapPrm "$reader_caps"
    check "$label: its bounding set: the same (nothing can be regained)" field_is "$rp" CapBnd "$reader_caps"
    check "$label: no ambient capabilities" field_is "$rp" CapAmb "$NONE"
    check "$label: no_new_privs" field_is "$rp" NoNewPrivs 1
    check "$label: the reader holds no socket but its own (no capture, no netlink, no listener)" \
        bash -c "[ \$(ls -l /proc/$rp/fd | grep -c 'socket:') -eq 1 ]"

    log_mark
    check "$label: stanza A's packet is sent" knock_a
    check "$label: stanza A's packet is granted" granted
    access_b
    log_mark
    check "$label: knock-server -R signals the daemon" in_ns "$NS_SRV" "$KNOCK_SERVER" -c "$CONF" -R
    check "$label: the root-only access.conf and %include_keys file are reloaded" reloaded
    log_mark
    check "$label: stanza B's packet (new keys) is sent" knock_b
    check "$label: after -R, the new stanza's packet is granted" granted
    log_mark
    check "$label: stanza A's packet is sent" knock_a
    check "$label: after -R, the removed stanza's packet is refused" refused

    access_a
    log_mark
    check "$label: SIGHUP to the daemon" kill -HUP "$SERVER_PID"
    check "$label: reloaded" reloaded
    log_mark
    check "$label: stanza A's packet is sent" knock_a
    check "$label: after SIGHUP, stanza A's packet is granted again" granted
    log_mark
    check "$label: stanza B's packet is sent" knock_b
    check "$label: after SIGHUP, the removed stanza B's packet is refused" refused

    access_b
    printf 'KEY_BASE64 %s\nNO_SUCH_VARIABLE x\n' "$KEY2" >"$KEYS_B"
    log_mark
    check "$label: SIGHUP with a broken %include_keys file" kill -HUP "$SERVER_PID"
    check "$label: the error names the included file and its line, as if read from disk" \
        wait_until 5 log_has "reload refused, keeping the old rules: .*$KEYS_B:2: NO_SUCH_VARIABLE"
    check "$label: the reader is still there" kill -0 "$rp"
    log_mark
    check "$label: stanza A's packet is sent" knock_a
    check "$label: the old rules are kept (stanza A still granted)" granted
}

note "plain root: the reader becomes nobody with cap_dac_read_search only"
access_a
e2e_server_start
run_scenario "root" "$NOBODY" "$CAP_DAC_READ_SEARCH"
rp=$(reader_pid)

note "the reader killed: the daemon serves on and refuses reloads, saying why"
log_mark
kill -KILL "$rp"
check "the daemon logs that the reader is gone" \
    wait_until 5 log_has "configuration reader (pid $rp) exited (signal Killed): serving on with the current configuration"
check "the daemon keeps running" kill -0 "$SERVER_PID"
access_a
log_mark
check "knock-server -R" in_ns "$NS_SRV" "$KNOCK_SERVER" -c "$CONF" -R
check "the reload is refused with the reason" \
    wait_until 5 log_has "reload refused, keeping the old rules: configuration reader (pid $rp) exited (signal Killed): reloads are refused until knock-server restarts"
log_mark
check "stanza A's packet (the rules in force) is sent" knock_a
check "and still granted" granted
e2e_server_stop

note "the daemon stopped (TERM): its reader goes too"
e2e_server_start
rp=$(reader_pid)
check "a reader is running" test -n "$rp"
e2e_server_stop
check "the reader exits with the daemon" wait_until 3 gone "${rp:-0}"

note "the daemon killed (kill -9): its reader goes too"
e2e_server_start
rp=$(reader_pid)
kill -KILL "$SERVER_PID"
SERVER_PID=""
check "the reader exits when the daemon dies" wait_until 3 gone "${rp:-0}"
in_ns "$NS_SRV" nft delete table inet knock 2>/dev/null

note "the systemd unit's capability set (CapabilityBoundingSet, NoNewPrivileges)"
unit="$E2E_DIR/../../examples/knock-server/knock-server.service"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ /,+/g')
check "the unit names a bounding set" test -n "$caps"
check "without cap_dac_read_search or cap_dac_override" bash -c "! grep -q 'dac_' <<<'$caps'"
printf '#!/bin/sh\nexec setpriv --bounding-set -all,+%s --no-new-privs -- %s "$@"\n' "$caps" "$KNOCK_SERVER" >"$TMP/as-unit.sh"
chmod 755 "$TMP/as-unit.sh"
real_server=$KNOCK_SERVER
KNOCK_SERVER="$TMP/as-unit.sh"
access_a
e2e_server_start
KNOCK_SERVER=$real_server
check "the worker keeps cap_net_admin only" field_is "$SERVER_PID" CapEff "$CAP_NET_ADMIN"
run_scenario "unit" 0 "$NONE"
e2e_server_stop

e2e_finish
