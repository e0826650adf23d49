#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2034  # functions run via check; variables for lib.sh
# e2e_privileges.sh KNOCK_SERVER KNOCK_CLIENT - issue #7, least privilege: started as root,
# knock-server opens its capture and firewall, then runs as KNOCK_USER (here: nobody) with only
# the capabilities its configuration needs. The kernel's own view (/proc/PID/status) is checked,
# and so is the daemon still doing its work afterwards:
#   nftables          uid nobody, CapEff = CapPrm = CapBnd = cap_net_admin, no ambient,
#                     NoNewPrivs; a knock is still granted (a netlink message as nobody)
#   iptables          cap_net_admin + cap_net_raw, also ambient (iptables runs as nobody)
#   CMD_EXEC_USER     + cap_setuid, cap_setgid (not ambient)
#   --user root       stays root, and says so
#   --user nosuchuser, or a replay log nobody could write: refused at start-up, before the
#                     firewall is touched
#   a reload while access.conf is root's alone: read by the configuration reader, reloaded
#   the systemd unit's CapabilityBoundingSet + NoNewPrivileges (setpriv): enough to start, drop,
#                     reopen its own replay log (no CAP_DAC_OVERRIDE) and grant
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
command -v iptables >/dev/null 2>&1 || skip "iptables not found"

# Capability numbers (linux/capability.h): setgid 6, setuid 7, net_admin 12, net_raw 13.
CAP_NET_ADMIN=0000000000001000
CAP_NET_ADMIN_RAW=0000000000003000
CAP_EXEC=00000000000010c0  # net_admin, setuid, setgid
NOBODY=$(id -u nobody)

status_field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
uids_are() { # pid uid: real, effective, saved and filesystem uid
    local line; line=$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$1/status")
    echo "Uid: $line"
    [ "$line" = "$2 $2 $2 $2" ]
}
field_is() { # pid field value
    local v; v=$(status_field "$1" "$2")
    echo "$2: $v"
    [ "$v" = "$3" ]
}
# Capabilities and uids belong to each thread on Linux: the firewall writer (a thread of its own,
# firewall/async.hpp) must have exactly the main thread's, in every field named.
threads_alike() { # pid field...
    local pid=$1 t f n=0 main v; shift
    for t in /proc/"$pid"/task/*; do
        n=$((n + 1))
        for f in "$@"; do
            main=$(awk -v f="$f:" '$1 == f { $1 = ""; print }' "/proc/$pid/status")
            v=$(awk -v f="$f:" '$1 == f { $1 = ""; print }' "$t/status")
            [ "$v" = "$main" ] || { echo "thread ${t##*/}: $f$v, main thread: $f$main"; return 1; }
        done
    done
    echo "$n thread(s), each with the main thread's $*"
    [ "$n" -ge 2 ]
}

e2e_topology
e2e_listener "$PORT"

note "nftables: the daemon's credentials after start-up"
e2e_conf FIREWALL_TYPE nftables
e2e_access FW_ACCESS_TIMEOUT 30
e2e_server_start
check "it logs who it runs as" log_has "running as nobody (uid $NOBODY), capabilities cap_net_admin$"
check "uid nobody (real, effective, saved, filesystem)" uids_are "$SERVER_PID" "$NOBODY"
check "gid nobody's group" bash -c "awk '\$1 == \"Gid:\" { exit !(\$2 == $(id -g nobody) && \$3 == \$2 && \$4 == \$2) }' /proc/$SERVER_PID/status"
check "no supplementary groups but its own" bash -c "[ \"\$(awk '\$1 == \"Groups:\" { \$1 = \"\"; print }' /proc/$SERVER_PID/status | xargs)\" = \"$(id -g nobody)\" ]"
check "effective capabilities: cap_net_admin only" field_is "$SERVER_PID" CapEff "$CAP_NET_ADMIN"
check "permitted capabilities: cap_net_admin only" field_is "$SERVER_PID" CapPrm "$CAP_NET_ADMIN"
check "bounding set: cap_net_admin only (nothing can be regained)" field_is "$SERVER_PID" CapBnd "$CAP_NET_ADMIN"
check "no ambient capabilities (it runs no programs)" field_is "$SERVER_PID" CapAmb 0000000000000000
check "no_new_privs set" field_is "$SERVER_PID" NoNewPrivs 1
check "the firewall writer thread has the same uids and capabilities" \
    threads_alike "$SERVER_PID" Uid Gid Groups CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs
check "the replay log is still being written (its fd is open for append)" \
    bash -c "ls -l /proc/$SERVER_PID/fd | grep -q '$TMP/run/digest.cache'"
log_mark
check "fwknop sends an SPA packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "as nobody, the grant is in the kernel's set" nft_set_has allowed_v4 "$CLI_IP"
check "and the client connects" tcp_ok "$NS_CLI" "$SRV_IP" "$PORT"

note "reload (SIGHUP) while access.conf is readable by root only: the configuration reader reads it"
chmod 600 "$ACCESS"
chown root:root "$ACCESS"
log_mark
check "knock-server -R signals the daemon" in_ns "$NS_SRV" "$KNOCK_SERVER" -c "$CONF" -R
check "the reload succeeds (the reader, forked before the drop, read it; e2e_reload.sh has more)" \
    wait_until 3 log_has "reloaded $ACCESS: 1 stanza"
check "and the daemon keeps running" kill -0 "$SERVER_PID"
e2e_server_stop

note "iptables: programs the daemon runs get cap_net_admin and cap_net_raw (ambient)"
e2e_conf FIREWALL_TYPE iptables
e2e_server_start
check "effective: cap_net_admin, cap_net_raw" field_is "$SERVER_PID" CapEff "$CAP_NET_ADMIN_RAW"
check "ambient: cap_net_admin, cap_net_raw" field_is "$SERVER_PID" CapAmb "$CAP_NET_ADMIN_RAW"
check "bounding set: the same two" field_is "$SERVER_PID" CapBnd "$CAP_NET_ADMIN_RAW"
check "uid nobody" uids_are "$SERVER_PID" "$NOBODY"
check "the firewall writer thread (it runs iptables) has the same uids and capabilities" \
    threads_alike "$SERVER_PID" Uid Gid Groups CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs
log_mark
check "fwknop sends an SPA packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
check "iptables, run by nobody, added the grant rule" bash -c \
    "ip netns exec '$NS_SRV' iptables -S FWKNOP_INPUT | grep -q -- '-s $CLI_IP/32 .*--dport $PORT'"
e2e_server_stop
in_ns "$NS_SRV" iptables -F FWKNOP_INPUT 2>/dev/null
in_ns "$NS_SRV" iptables -D INPUT -j FWKNOP_INPUT 2>/dev/null

note "ENABLE_CMD_EXEC with CMD_EXEC_USER keeps cap_setuid and cap_setgid, not ambient"
e2e_conf FIREWALL_TYPE nftables
e2e_access FW_ACCESS_TIMEOUT 30 ENABLE_CMD_EXEC Y CMD_EXEC_USER nobody
e2e_server_start
check "effective: cap_net_admin, cap_setuid, cap_setgid" field_is "$SERVER_PID" CapEff "$CAP_EXEC"
check "no ambient capabilities" field_is "$SERVER_PID" CapAmb 0000000000000000
e2e_server_stop

note "the systemd unit's CapabilityBoundingSet and NoNewPrivileges are enough to start, drop and grant"
e2e_access FW_ACCESS_TIMEOUT 30
unit="$E2E_DIR/../../examples/knock-server/knock-server.service"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ /,+/g')
check "the unit names a bounding set" test -n "$caps"
printf '#!/bin/sh\nexec setpriv --bounding-set -all,+%s --no-new-privs -- %s "$@"\n' "$caps" "$KNOCK_SERVER" >"$TMP/as-unit.sh"
chmod 755 "$TMP/as-unit.sh"
real_server=$KNOCK_SERVER
KNOCK_SERVER="$TMP/as-unit.sh"
e2e_server_start
KNOCK_SERVER=$real_server
check "started within the unit's bounding set ($caps), it still drops to nobody" uids_are "$SERVER_PID" "$NOBODY"
check "with cap_net_admin only" field_is "$SERVER_PID" CapEff "$CAP_NET_ADMIN"
log_mark
check "fwknop sends an SPA packet" fwknop_knock "$NS_CLI" "$SRV_IP" -A "tcp/$PORT" -a "$CLI_IP"
expect_accept "$CLI_IP"
e2e_server_stop

note "--user root keeps root, and says so"
e2e_server_start --user root
check "it warns that it keeps root" log_has "KNOCK_USER is root: the daemon keeps running as root"
check "uid 0" uids_are "$SERVER_PID" 0
e2e_server_stop

note "refused at start-up, before the firewall is touched"
in_ns "$NS_SRV" nft delete table inet knock 2>/dev/null
out=$(in_ns "$NS_SRV" "$KNOCK_SERVER" -f -c "$CONF" -a "$ACCESS" --user no-such-user-knock 2>&1); rc=$?
check "an unknown --user: exit status 1" test "$rc" -eq 1
check "the error names it" grep -q "KNOCK_USER: no user 'no-such-user-knock'" <<<"$out"
mkdir -m 700 "$TMP/rootonly"
out=$(in_ns "$NS_SRV" "$KNOCK_SERVER" -f -c "$CONF" -a "$ACCESS" -d "$TMP/rootonly/digest.cache" 2>&1); rc=$?
check "a replay log nobody could not write: exit status 1" test "$rc" -eq 1
check "the error names the file, the user and the directory" \
    grep -q "DIGEST_FILE $TMP/rootonly/digest.cache: user nobody, which the daemon runs as after start-up, cannot write in $TMP/rootonly" <<<"$out"
check_not "no nftables table was made" in_ns "$NS_SRV" nft list table inet knock

e2e_finish
