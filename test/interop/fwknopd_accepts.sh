#!/usr/bin/env bash
# fwknopd_accepts.sh - ask the REAL fwknopd whether it accepts SPA packets.
#
# Usage:
#   fwknopd_accepts.sh --mode <cbc|ctr|cfb|ofb|ecb|legacy>
#                      --hmac <none|md5|sha1|sha256|sha384|sha512|sha3_256|sha3_512>
#                      --key-b64 KEY [--hmac-key-b64 HKEY]
#                      [--access-extra 'VAR value']... [--conf-extra 'VAR value;']...
#                      [--show-log] [--timeout SECONDS]
#                      PACKET_FILE
#
# PACKET_FILE holds one wire packet per line (empty lines are skipped; the
# line ending is not part of the packet).  Packets must be made with the
# current time: fwknopd checks the timestamp (+-120 s).
#
# What it does (root only):
#   * creates two network namespaces knock-it-srv-$$ and knock-it-cli-$$
#     joined by a veth pair (10.199.X.1/30 <-> 10.199.X.2/30, created
#     directly inside the namespaces; no default route anywhere);
#   * runs the real fwknopd inside the server namespace in the foreground,
#     UDP-server mode (-U), test mode (-t: no firewall changes; FIREWALL_EXE
#     additionally points at a logging stub), verbose, with its own
#     fwknopd.conf / access.conf / run dir / pid file / fresh digest cache
#     in a temp dir;
#   * sends every packet as one UDP datagram from the client namespace to
#     UDP 62201, each followed by a short marker datagram so the log lines
#     belonging to each packet can be cut out exactly;
#   * prints one line per packet on stdout:
#         accepted
#         rejected: <fwknopd's reason>
#
# Verdict: for a packet that passed every check (HMAC, decryption, decoding,
# age, policy) fwknopd -t logs "--test mode enabled, skipping firewall
# manipulation." (access / NAT requests) or "--test mode enabled, skipping
# command execution." (command messages); anything else is a rejection, the
# reason being fwknopd's last diagnostic line for that packet.
# Note: fwknopd -t never writes digest.cache, so a replayed packet is
# accepted again within one run (the cache is fresh per run anyway).
#
# fwknopd.conf enables ENABLE_IPT_FORWARDING and ENABLE_IPT_LOCAL_NAT so NAT
# requests can be accepted; command messages (type 0) are rejected ("SPA
# Command messages are not allowed ...") unless --access-extra
# 'ENABLE_CMD_EXEC Y' is given (in -t mode the command is not executed).
#
# Exit: 0 all accepted, 1 some rejected, 2 usage error,
#       77 skipped (not root / missing tools / no netns support),
#       99 infrastructure error (fwknopd did not start etc.).
# Namespaces, fwknopd and temp files are always removed (trap EXIT).
set -uo pipefail

PORT=62201
export PATH="$PATH:/usr/sbin:/sbin"   # fwknopd and ip live in sbin

usage() {
    sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
full_help() {
    sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
}
die() { echo "fwknopd_accepts: $*" >&2; exit 99; }
skip() { echo "SKIP: $*"; exit 77; }

mode=""
hmac=""
key_b64=""
hmac_key_b64=""
packet_file=""
show_log=0
per_packet_timeout=10
access_extra=()
conf_extra=()

while [ $# -gt 0 ]; do
    case "$1" in
        --mode) [ $# -ge 2 ] || usage; mode=$2; shift ;;
        --hmac) [ $# -ge 2 ] || usage; hmac=$2; shift ;;
        --key-b64) [ $# -ge 2 ] || usage; key_b64=$2; shift ;;
        --hmac-key-b64) [ $# -ge 2 ] || usage; hmac_key_b64=$2; shift ;;
        --access-extra) [ $# -ge 2 ] || usage; access_extra+=("$2"); shift ;;
        --conf-extra) [ $# -ge 2 ] || usage; conf_extra+=("$2"); shift ;;
        --show-log) show_log=1 ;;
        --timeout) [ $# -ge 2 ] || usage; per_packet_timeout=$2; shift ;;
        -h|--help) full_help ;;
        --) shift; break ;;
        -*) echo "unknown option: $1" >&2; usage ;;
        *) [ -z "$packet_file" ] || usage; packet_file=$1 ;;
    esac
    shift
done
if [ $# -gt 0 ]; then
    [ -z "$packet_file" ] && [ $# -eq 1 ] || usage
    packet_file=$1
fi

# ---- argument validation -------------------------------------------------
[ -n "$mode" ] && [ -n "$hmac" ] && [ -n "$key_b64" ] && [ -n "$packet_file" ] || usage
case "$mode" in
    cbc) enc_mode=CBC ;; ctr) enc_mode=CTR ;; cfb) enc_mode=CFB ;;
    ofb) enc_mode=OFB ;; ecb) enc_mode=ECB ;; legacy) enc_mode=legacy ;;
    *) echo "bad --mode: $mode" >&2; usage ;;
esac
case "$hmac" in
    none)
        [ -z "$hmac_key_b64" ] || { echo "--hmac none conflicts with --hmac-key-b64" >&2; usage; } ;;
    md5|sha1|sha256|sha384|sha512|sha3_256|sha3_512)
        [ -n "$hmac_key_b64" ] || { echo "--hmac $hmac needs --hmac-key-b64" >&2; usage; } ;;
    *) echo "bad --hmac: $hmac" >&2; usage ;;
esac
b64re='^[A-Za-z0-9+/]+={0,2}$'
[[ "$key_b64" =~ $b64re ]] || { echo "--key-b64 is not base64" >&2; usage; }
[ -z "$hmac_key_b64" ] || [[ "$hmac_key_b64" =~ $b64re ]] ||
    { echo "--hmac-key-b64 is not base64" >&2; usage; }
[[ "$per_packet_timeout" =~ ^[0-9]+$ ]] || usage
[ -r "$packet_file" ] || { echo "cannot read $packet_file" >&2; exit 2; }
for l in "${access_extra[@]}" "${conf_extra[@]}"; do
    case "$l" in *$'\n'*) echo "extra config lines must be single lines" >&2; exit 2 ;; esac
done

# ---- environment checks --------------------------------------------------
[ "$(id -u)" -eq 0 ] || skip "needs root (creates network namespaces and runs fwknopd)"
for t in fwknopd ip python3 ss; do
    command -v "$t" >/dev/null 2>&1 || skip "$t not found"
done
FWKNOPD=$(command -v fwknopd)
PYTHON=$(command -v python3)

# ---- state + cleanup -----------------------------------------------------
srv_ns="knock-it-srv-$$"
cli_ns="knock-it-cli-$$"
srv_if="kis$$"
cli_if="kic$$"
net_x=$(( ($$ % 250) + 1 ))
srv_ip="10.199.$net_x.1"
cli_ip="10.199.$net_x.2"
fwknopd_pid=""
sender_pid=""
ns_made=()
tmp=""

kill_pid() { # pid: TERM, wait up to 3 s, then KILL
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

cleanup() {
    local rc=$? ns p
    trap - EXIT INT TERM HUP
    [ -n "$sender_pid" ] && kill_pid "$sender_pid"
    [ -n "$fwknopd_pid" ] && kill_pid "$fwknopd_pid"
    for ns in "${ns_made[@]}"; do
        # anything still running in our own namespaces was started by us
        for p in $(ip netns pids "$ns" 2>/dev/null); do
            kill_pid "$p"
        done
        ip netns del "$ns" 2>/dev/null ||
            echo "fwknopd_accepts: WARNING: could not delete netns $ns" >&2
    done
    [ -n "$tmp" ] && rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

tmp=$(mktemp -d "${TMPDIR:-/tmp}/knock-fwknopd.XXXXXX") || die "mktemp failed"
chmod 700 "$tmp"
mkdir -m 700 "$tmp/run"

# ---- configuration files -------------------------------------------------
cat >"$tmp/fw-stub.sh" <<EOF
#!/bin/sh
# FIREWALL_EXE stub: fwknopd -t should never call it; record it if it does.
echo "\$*" >>"$tmp/fw-calls.log"
exit 0
EOF
chmod 700 "$tmp/fw-stub.sh"

{
    echo "# generated by fwknopd_accepts.sh"
    echo "ENABLE_UDP_SERVER           Y;"
    echo "UDPSERV_PORT                $PORT;"
    echo "PCAP_INTF                   $srv_if;"
    echo "FIREWALL_EXE                $tmp/fw-stub.sh;"
    echo "ENABLE_IPT_FORWARDING       Y;"
    echo "ENABLE_IPT_LOCAL_NAT        Y;"
    echo "ENABLE_SPA_PACKET_AGING     Y;"
    echo "MAX_SPA_PACKET_AGE          120;"
    echo "ENABLE_DIGEST_PERSISTENCE   Y;"
    echo "FWKNOP_RUN_DIR              $tmp/run;"
    echo "FWKNOP_PID_FILE             $tmp/run/fwknopd.pid;"
    echo "DIGEST_FILE                 $tmp/run/digest.cache;"
    echo "ACCESS_FILE                 $tmp/access.conf;"
    echo "GPG_HOME_DIR                $tmp/gnupg;"
    for l in "${conf_extra[@]}"; do echo "$l"; done
} >"$tmp/fwknopd.conf"

{
    echo "SOURCE              ANY"
    echo "KEY_BASE64          $key_b64"
    if [ "$hmac" != none ]; then
        echo "HMAC_KEY_BASE64     $hmac_key_b64"
        echo "HMAC_DIGEST_TYPE    $hmac"
    fi
    echo "ENCRYPTION_MODE     $enc_mode"
    echo "FW_ACCESS_TIMEOUT   30"
    for l in "${access_extra[@]}"; do echo "$l"; done
} >"$tmp/access.conf"
chmod 600 "$tmp/fwknopd.conf" "$tmp/access.conf"

# ---- namespaces ----------------------------------------------------------
ip netns add "$srv_ns" 2>"$tmp/ns.err" || {
    cat "$tmp/ns.err" >&2
    skip "cannot create network namespaces here"
}
ns_made+=("$srv_ns")
ip netns add "$cli_ns" || die "ip netns add $cli_ns failed"
ns_made+=("$cli_ns")
# both veth ends are created directly inside the namespaces
ip link add "$srv_if" netns "$srv_ns" type veth peer name "$cli_if" netns "$cli_ns" ||
    die "creating the veth pair failed"
ip -n "$srv_ns" link set lo up &&
    ip -n "$cli_ns" link set lo up &&
    ip -n "$srv_ns" addr add "$srv_ip/30" dev "$srv_if" &&
    ip -n "$cli_ns" addr add "$cli_ip/30" dev "$cli_if" &&
    ip -n "$srv_ns" link set "$srv_if" up &&
    ip -n "$cli_ns" link set "$cli_if" up || die "configuring the veth pair failed"
if ip -n "$cli_ns" route show default | grep -q .; then
    die "client namespace unexpectedly has a default route"
fi

# ---- fwknopd -------------------------------------------------------------
log="$tmp/fwknopd.log"
stdbuf_cmd=()
command -v stdbuf >/dev/null 2>&1 && stdbuf_cmd=(stdbuf -oL -eL)
ip netns exec "$srv_ns" "${stdbuf_cmd[@]}" "$FWKNOPD" \
    --foreground --test --udp-server --verbose \
    --config-file "$tmp/fwknopd.conf" \
    --access-file "$tmp/access.conf" \
    --digest-file "$tmp/run/digest.cache" \
    --pid-file "$tmp/run/fwknopd.pid" \
    --run-dir "$tmp/run" \
    --interface "$srv_if" \
    </dev/null >"$log" 2>&1 &
fwknopd_pid=$!

listening=0
for _ in $(seq 100); do
    kill -0 "$fwknopd_pid" 2>/dev/null || break
    if ip netns exec "$srv_ns" ss -Hlun "sport = :$PORT" 2>/dev/null | grep -q .; then
        listening=1
        break
    fi
    sleep 0.1
done
if [ "$listening" -ne 1 ]; then
    echo "---- fwknopd log ----" >&2
    cat "$log" >&2
    die "fwknopd did not start listening on UDP $PORT"
fi

# ---- send packets, read verdicts ----------------------------------------
verdicts="$tmp/verdicts"
# (run in the background and wait, so INT/TERM traps fire immediately)
ip netns exec "$cli_ns" "$PYTHON" - "$packet_file" "$log" "$srv_ip" "$PORT" \
    "$per_packet_timeout" "$fwknopd_pid" >"$verdicts" <<'PY' &
import os
import re
import socket
import sys
import time

packet_file, log_path, srv_ip, port, timeout, fpid = sys.argv[1:7]
port, timeout, fpid = int(port), float(timeout), int(fpid)

MARKER = b"knock-fwknopd-accepts-marker"   # < 140 bytes: fwknopd rejects it fast
DGRAM = re.compile(r"udp_server: Got UDP datagram \((\d+) bytes\)")
# fwknopd -t, after every check passed: "... skipping firewall manipulation."
# (access/NAT requests) or "... skipping command execution." (type 0)
ACCEPT = "--test mode enabled, skipping "
NOISE = (
    re.compile(r"^SPA Packet: '"),
    re.compile(r"received with access source match"),
    re.compile(r"SPA Decode \(res=0\):"),
    re.compile(r"^SPA Field Values:"),
    re.compile(r"^=+$"),
    re.compile(r"^\s*(Random Value|Username|Timestamp|FKO Version|Message Type|"
               r"Message String|Nat Access|Server Auth|Client Timeout|Digest Type|"
               r"HMAC Type|Encryption Type|Encryption Mode|Encoded Data|"
               r"SPA Data Digest|HMAC|Final SPA Data): "),   # field dump lines
)
PREFIX = re.compile(r"^(\[[0-9.]+\] )?(\(stanza #\d+\) )?")

with open(packet_file, "rb") as f:
    packets = [l.rstrip(b"\n") for l in f.read().split(b"\n")]
packets = [p for p in packets if p != b""]

def log_lines():
    with open(log_path, "rb") as f:
        return f.read().decode("latin-1").splitlines()

def dgram_indices(lines):
    return [i for i, l in enumerate(lines) if DGRAM.search(l)]

def alive():
    try:
        os.kill(fpid, 0)
        return True
    except OSError:
        return False

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = 0   # datagrams sent so far
for pkt in packets:
    before = len(dgram_indices(log_lines()))
    if before != sent:   # should not happen; resynchronise on the log
        print(f"warning: {before} datagrams logged, {sent} sent", file=sys.stderr)
        sent = before
    sock.sendto(pkt, (srv_ip, port))
    time.sleep(0.05)
    sock.sendto(MARKER, (srv_ip, port))
    sent += 2
    deadline = time.time() + timeout
    verdict = None
    while time.time() < deadline:
        lines = log_lines()
        idx = dgram_indices(lines)
        # done once the marker (datagram #sent) has been logged and answered
        if len(idx) >= sent and any("preprocess_spa_data" in l or "Data is not" in l
                                    for l in lines[idx[sent - 1] + 1:]):
            seg = lines[idx[sent - 2]:idx[sent - 1]]
            if any(ACCEPT in l for l in seg):
                verdict = "accepted"
            else:
                cand = [l for l in seg[1:]
                        if l.strip() and not any(r.search(l) for r in NOISE)]
                reason = PREFIX.sub("", cand[-1]).strip() if cand else \
                    "no diagnostic from fwknopd (packet ignored)"
                verdict = "rejected: " + reason
            break
        if not alive():
            verdict = "rejected: fwknopd exited"
            break
        time.sleep(0.05)
    if verdict is None:
        verdict = f"rejected: no verdict from fwknopd within {timeout:g} s"
    print(verdict)
    sys.stdout.flush()
    if verdict == "rejected: fwknopd exited":
        break
PY
sender_pid=$!
wait "$sender_pid"
py_rc=$?
sender_pid=""

if [ "$show_log" -eq 1 ]; then
    echo "---- fwknopd log ----" >&2
    cat "$log" >&2
fi
if [ -s "$tmp/fw-calls.log" ]; then
    echo "fwknopd_accepts: note: fwknopd called FIREWALL_EXE (stub):" >&2
    sed 's/^/  /' "$tmp/fw-calls.log" >&2
fi

[ "$py_rc" -eq 0 ] || { cat "$verdicts"; die "packet sender failed (rc=$py_rc)"; }
cat "$verdicts"
n_total=$(grep -c '' "$verdicts")
n_ok=$(grep -cx 'accepted' "$verdicts")
n_expected=$(grep -c . "$packet_file")
if [ "$n_total" -ne "$n_expected" ]; then
    echo "fwknopd_accepts: only $n_total of $n_expected packets got a verdict" >&2
    exit 1
fi
if [ "$n_total" -gt 0 ] && [ "$n_ok" -eq "$n_total" ]; then
    exit 0
fi
[ "$n_total" -eq 0 ] && echo "fwknopd_accepts: no packets in $packet_file" >&2
exit 1
