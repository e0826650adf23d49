#!/usr/bin/env bash
# knock-server reading a savefile (--pcap-file), firewall 'none' (-t): 5,000 valid packets, more
# than the firewall writer's queue holds (4,096), are all accepted — the file is read a batch at a
# time, not in one batch whose grants overflowed the queue (then: 4,096 accepted, the rest refused
# with firewall_failed) — and -C N decides exactly N and logs each before exiting (then: a whole
# batch past N was decided, and none of the last batch's acceptances was logged).
set -uo pipefail
server=${1:?knock-server} seal=${2:?knock_seal}
tmp=$(mktemp -d); chmod 711 "$tmp"  # started as root, the daemon runs as nobody in $tmp/run
trap 'rm -rf "$tmp"' EXIT
K=4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU= H=aG1hYy1rZXktZm9yLXRoZS1leGFtcGxl
printf 'SOURCE ANY\nKEY_BASE64 %s\nHMAC_KEY_BASE64 %s\n' "$K" "$H" > "$tmp/access.conf"
passed=0 failed=0
ok() { if eval "$2"; then echo "ok: $1"; passed=$((passed+1)); else echo "FAILED: $1"; failed=$((failed+1)); fi; }

"$seal" --key-b64 "$K" --hmac-key-b64 "$H" --count 5000 > "$tmp/packets" || exit 1
# A classic savefile (Ethernet), one UDP datagram to port 62201 a packet.
python3 - "$tmp/packets" "$tmp/spa.pcap" <<'PY' || exit 1
import struct, sys
def checksum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    return ~(s + (s >> 16)) & 0xFFFF
with open(sys.argv[2], "wb") as out:
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i, line in enumerate(open(sys.argv[1])):
        payload = line.strip().encode()
        udp = struct.pack("!HHHH", 40000 + i % 1000, 62201, 8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                         bytes([192, 0, 2, 7]), bytes([192, 0, 2, 1]))
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp
        out.write(struct.pack("<IIII", 1700000000, i, len(frame), len(frame)) + frame)
PY

run() {  # run NAME [ARGS...]: knock-server -t on the savefile, until -C or 20 s; its log in $tmp/NAME
    local name=$1; shift
    mkdir -p "$tmp/$name"
    printf 'FWKNOP_RUN_DIR %s/%s/run;\nPCAP_INTF lo;\n' "$tmp" "$name" > "$tmp/$name/fwknopd.conf"
    timeout -s INT 20 "$server" -f -t -c "$tmp/$name/fwknopd.conf" -a "$tmp/access.conf" \
        --pcap-file "$tmp/spa.pcap" "$@" > "$tmp/$name/log" 2>&1
    echo $? > "$tmp/$name/rc"
}
accepted() { grep -c ': accepted by stanza 1' "$tmp/$1/log"; }

run whole -C 5000
ok "all 5,000 accepted and logged (got $(accepted whole))" "[ $(accepted whole) -eq 5000 ]"
ok "none refused" "! grep -q 'refused' '$tmp/whole/log'"
ok "-C 5000: exit status 0, 'packet limit reached'" \
   "[ \$(cat '$tmp/whole/rc') -eq 0 ] && grep -q 'packet limit reached (-C 5000)' '$tmp/whole/log'"

run hundred -C 100
ok "-C 100: exactly 100 decided, each logged (got $(accepted hundred))" "[ $(accepted hundred) -eq 100 ]"
ok "-C 100: exit status 0" "[ \$(cat '$tmp/hundred/rc') -eq 0 ]"

for n in whole hundred; do [ "$failed" -eq 0 ] || tail -5 "$tmp/$n/log"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
