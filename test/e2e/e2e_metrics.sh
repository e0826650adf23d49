#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2119,SC2034  # functions run via check/wait_until; optional args
# e2e_metrics.sh KNOCK_SERVER KNOCK_CLIENT KNOCK_SEAL - issue #18: knock-server's Prometheus
# metrics, read by a real Prometheus (Debian's `prometheus`). In the server namespace: knock-server
# (pcap on its veth, nftables) with KNOCK_METRICS_LISTEN 127.0.0.1:9466 and KNOCK_METRICS_FILE, and
# prometheus (its own config and TSDB under $TMP, web on 127.0.0.1:9090 there, scrape_interval 1s).
# The client namespace sends N valid packets (knock_seal, each for its own address), one of them a
# second time (replayed), and garbage of three known kinds: base64 of SPA length (bad_mac), binary
# junk (not_base64) and short payloads (packet_too_short). Prometheus's query API must then return
# exactly those counts (knock_packets_total by verdict and reason, knock_grants_total, the stanza's
# acceptances, the decode histogram's count, the replay store's entries), and the textfile
# (KNOCK_METRICS_FILE) must say the same when read by python3-prometheus-client's parser. The
# listener answers 404 off /metrics. Kernel drops on the capture (knock_capture_dropped_total)
# would make the counts short: they are read from the same scrape and must be 0.
#
# Knobs (environment): VALID (20), GARBAGE (1000 of each kind).
source "$(dirname "$0")/lib.sh"
KNOCK_SEAL=${3:-}
e2e_init "$@"
[ -x "$KNOCK_SEAL" ] || die "knock_seal not executable: ${KNOCK_SEAL:-(not given)}"
command -v prometheus >/dev/null 2>&1 || skip "prometheus not found (Debian package prometheus)"
SYS_PY=/usr/bin/python3  # Debian's python3, with python3-prometheus-client
"$SYS_PY" -c 'import prometheus_client.parser' 2>/dev/null ||
    skip "python3-prometheus-client not installed (Debian package python3-prometheus-client)"
CHECK_EXPOSITION="$(cd "$E2E_DIR/../observe" && pwd)/check_exposition.py"
VALID=${VALID:-20}
GARBAGE=${GARBAGE:-1000}
METRICS=127.0.0.1:9466
PROM=127.0.0.1:9090

e2e_topology
e2e_conf FIREWALL_TYPE nftables KNOCK_NFT_TABLE knock \
    KNOCK_METRICS_LISTEN "$METRICS" KNOCK_METRICS_FILE "$TMP/run/knock.prom"
e2e_access FW_ACCESS_TIMEOUT 60
e2e_server_start
check "the start-up line names the metrics listener" log_has "started: .*, metrics on $METRICS"

# ---- the listener, by hand --------------------------------------------------
http_get() { # path -> "STATUS content-type" and the body's first line
    in_ns "$NS_SRV" "$SYS_PY" - "$METRICS" "$1" <<'EOF'
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(f"http://{sys.argv[1]}{sys.argv[2]}", timeout=3)
    print(r.status, r.headers.get("Content-Type"))
    print(r.read().decode().splitlines()[0])
except urllib.error.HTTPError as e:
    print(e.code, e.headers.get("Content-Type"))
EOF
}
get_is() { # path, expected first line
    local out
    out=$(http_get "$1")
    echo "$out"
    [ "$(head -n1 <<<"$out")" = "$2" ]
}
check "GET /metrics: 200, Prometheus's text format 0.0.4" \
    get_is /metrics "200 text/plain; version=0.0.4; charset=utf-8"
check "GET /: 404" get_is / "404 text/plain; charset=utf-8"

# ---- prometheus ---------------------------------------------------------------
mkdir -p "$TMP/prom"
cat >"$TMP/prom/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: knock
    static_configs:
      - targets: ['$METRICS']
EOF
bg_in_ns "$NS_SRV" prometheus --config.file="$TMP/prom/prometheus.yml" \
    --storage.tsdb.path="$TMP/prom/data" --web.listen-address="$PROM" \
    --log.level=warn >"$TMP/prometheus.log" 2>&1
PROM_PID=$BG_PID

prom_query() { # PromQL -> the first result's value, or "none"
    in_ns "$NS_SRV" "$SYS_PY" - "$PROM" "$1" <<'EOF'
import json, sys, urllib.parse, urllib.request
url = f"http://{sys.argv[1]}/api/v1/query?query=" + urllib.parse.quote(sys.argv[2])
r = json.load(urllib.request.urlopen(url, timeout=3))
res = r["data"]["result"]
print(res[0]["value"][1] if res else "none")
EOF
}
prom_is() { # PromQL, value
    local got
    got=$(prom_query "$1" 2>&1)
    echo "$1 = $got (want $2)"
    [ "$got" = "$2" ]
}
prom_ready() { in_ns "$NS_SRV" "$SYS_PY" -c "import urllib.request; urllib.request.urlopen('http://$PROM/-/ready', timeout=1)"; }
wait_until 30 prom_ready || { cat "$TMP/prometheus.log"; die "prometheus did not start"; }
check "prometheus scrapes knock-server (up == 1)" wait_until 15 prom_is 'up{job="knock"}' 1
check "before any packet: no packet counted" prom_is 'sum(knock_packets_total)' 0

# ---- the packets ------------------------------------------------------------------
for i in $(seq "$VALID"); do
    "$KNOCK_SEAL" --key-b64 "$KEY_B64" --hmac-key-b64 "$HMAC_B64" --message "10.99.0.$i,tcp/$PORT" ||
        die "knock_seal"
done >"$TMP/valid"
[ "$(grep -c . "$TMP/valid")" -eq "$VALID" ] || die "knock_seal made too few packets"
note "sending $VALID valid packets (the first one twice) and $GARBAGE garbage datagrams of each of 3 kinds"
send_out=$(in_ns "$NS_CLI" "$SYS_PY" - "$SRV_IP" "$SPA_PORT" "$TMP/valid" "$GARBAGE" <<'EOF'
import os, random, socket, sys, time
host, port, valid, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rng = random.Random(18)
b64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
packets = [line.strip().encode() for line in open(valid) if line.strip()]
garbage = []
for _ in range(n):
    garbage.append(bytes(rng.choice(b64) for _ in range(rng.randrange(180, 390))))  # bad_mac
    garbage.append(b"\x01" + os.urandom(rng.randrange(150, 900)))                    # not_base64
    garbage.append(bytes(rng.choice(b64) for _ in range(rng.randrange(1, 139))))      # too short
rng.shuffle(garbage)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
every = max(1, len(garbage) // len(packets))
sent = 0
for i, g in enumerate(garbage):
    s.sendto(g, (host, port))
    sent += 1
    if i % every == 0 and i // every < len(packets):
        s.sendto(packets[i // every], (host, port))
    if i % 200 == 0:
        time.sleep(0.002)  # a brisk flood, not one that overruns the capture ring
time.sleep(0.2)
s.sendto(packets[0], (host, port))  # a replay
# Datagrams whose frame (IPv4 + UDP + payload) fits a slot of the capture's ring: 432 bytes.
fit = sum(len(d) + 28 <= 432 for d in garbage + packets + [packets[0]])
print(f"sent {sent} garbage, {len(packets)} valid, 1 replay; {fit} fit a ring slot")
EOF
) || die "the sender failed: $send_out"
pass "the client sent its datagrams" "$send_out"
TOTAL=$((VALID + 1 + 3 * GARBAGE))

check "prometheus: every datagram counted (sum(knock_packets_total) = $TOTAL)" \
    wait_until 20 prom_is 'sum(knock_packets_total)' "$TOTAL"
check "prometheus: no capture drops (the counts below are exact)" \
    prom_is 'sum(knock_capture_dropped_total)' 0
check "prometheus: accepted = $VALID" \
    prom_is 'knock_packets_total{verdict="accepted",reason="none"}' "$VALID"
check "prometheus: refused as bad_mac = $GARBAGE" \
    prom_is 'knock_packets_total{verdict="refused",reason="bad_mac"}' "$GARBAGE"
check "prometheus: refused as not_base64 = $GARBAGE" \
    prom_is 'knock_packets_total{verdict="refused",reason="not_base64"}' "$GARBAGE"
check "prometheus: refused as packet_too_short = $GARBAGE" \
    prom_is 'knock_packets_total{verdict="refused",reason="packet_too_short"}' "$GARBAGE"
check "prometheus: refused as replayed = 1" \
    prom_is 'knock_packets_total{verdict="refused",reason="replayed"}' 1
check "prometheus: knock_grants_total = $VALID" prom_is 'knock_grants_total' "$VALID"
check "prometheus: stanza 1 accepted $VALID" \
    prom_is 'knock_stanza_accepted_total{stanza="1"}' "$VALID"
check "prometheus: the decode histogram counted every datagram" \
    prom_is 'knock_decode_seconds_count' "$TOTAL"
check "prometheus: the +Inf bucket is the count" \
    prom_is 'knock_decode_seconds_bucket{le="+Inf"}' "$TOTAL"
check "prometheus: the replay store holds 2 keys per accepted packet" \
    prom_is 'knock_replay_entries' $((2 * VALID))
check "prometheus: no replay store errors" prom_is 'knock_replay_errors_total' 0
check "prometheus: the capture read every datagram" \
    prom_is 'knock_capture_received_total' "$TOTAL"
FIT=$(echo "$send_out" | sed -n 's/.*; \([0-9]*\) fit a ring slot$/\1/p')
check "prometheus: those that fit a ring slot read in place, from the ring (a brisk flood leaves it room; the longer ones through the socket)" \
    prom_is 'knock_capture_read_in_place_total' "$FIT"
check "prometheus: build info" prom_is 'knock_build_info{version="0.1.0"}' 1
check "the grants are in the nft set" nft_set_has allowed_v4 "10.99.0.$VALID"

# ---- the textfile -------------------------------------------------------------------
textfile_says() {
    "$SYS_PY" "$CHECK_EXPOSITION" "$TMP/run/knock.prom" \
        "knock_packets_total{verdict=\"accepted\",reason=\"none\"}=$VALID" \
        "knock_packets_total{verdict=\"refused\",reason=\"bad_mac\"}=$GARBAGE" \
        "knock_packets_total{verdict=\"refused\",reason=\"replayed\"}=1" \
        "sum:knock_packets_total{}=$TOTAL" "knock_grants_total=$VALID" \
        "knock_decode_seconds_count=$TOTAL" "knock_replay_entries=$((2 * VALID))" \
        "process_start_time_seconds=>0"
}
check "KNOCK_METRICS_FILE: parsed by python3-prometheus-client, the same counts" \
    wait_until 5 textfile_says
check "KNOCK_METRICS_FILE: no temporary file left" test ! -e "$TMP/run/knock.prom.tmp"
check "KNOCK_METRICS_FILE: written by the unprivileged account" \
    test "$(stat -c %U "$TMP/run/knock.prom")" = nobody
check "knock-server is still running" kill -0 "$SERVER_PID"
kill_pid "$PROM_PID"
e2e_finish
