#!/usr/bin/env python3
"""Writes the seed corpus of one fuzzer into a directory, from test/data's vectors (packets and
their decrypted plaintexts) and a few hand-written access.conf / fwknopd.conf / .fwknoprc texts.

    make_seeds.py NAME DATA_DIR OUT_DIR
"""
import hashlib
import json
import os
import struct
import sys

name, data_dir, out_dir = sys.argv[1:4]
os.makedirs(out_dir, exist_ok=True)

vectors = []
for f in ("fwknop-2.6.10-vectors.json", "fwknop-client-vectors.json"):
    with open(os.path.join(data_dir, f)) as fh:
        vectors += json.load(fh)["vectors"]
packets = [v for v in vectors if isinstance(v.get("packet"), str) and v["packet"]]


def put(blob):
    if isinstance(blob, str):
        blob = blob.encode()
    with open(os.path.join(out_dir, hashlib.sha1(blob).hexdigest()), "wb") as fh:
        fh.write(blob)


TAG_CHARS = {"md5": 22, "sha1": 27, "sha256": 43, "sha3_256": 43, "sha384": 64, "sha512": 86,
             "sha3_512": 86}
# fuzz_decrypt_parse's first byte: index into {cbc, ecb, cfb, ofb, ctr, legacy}, by libfko mode.
MODE_BYTE = {2: 0, 1: 1, 3: 2, 5: 3, 6: 4, 8: 5}

ACCESS_CONFS = [
    "SOURCE ANY\nKEY_BASE64 4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU=\n"
    "HMAC_KEY_BASE64 I/w0dzxn5CtMqsrQ5zOYFqszPYoDXv7BE1VNFRLNWr2bfcf2mwWQk0uX9Z0BYja47gw1/pYoFH8n1rHmDVThyg==\n"
    "HMAC_DIGEST_TYPE sha256\nENCRYPTION_MODE cbc\nFW_ACCESS_TIMEOUT 30\n",
    "# comment\nSOURCE 10.0.0.0/8, 192.168.1.1\nOPEN_PORTS tcp/22, udp/53\n"
    "RESTRICT_PORTS tcp/23\nREQUIRE_USERNAME alice\nREQUIRE_SOURCE_ADDRESS Y\n"
    "KEY secretpassword\nHMAC_KEY hmacsecretpassword\nHMAC_DIGEST_TYPE sha512\n"
    "ACCESS_EXPIRE 12/31/2030\nENABLE_CMD_EXEC Y\nCMD_EXEC_USER nobody\n\n"
    "SOURCE ANY;\nKEY: pw\nENCRYPTION_MODE legacy\nMAX_FW_TIMEOUT 300\nACCESS_EXPIRE_EPOCH 1900000000\n",
    "SOURCE ANY\nKEY_BASE64 4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU=\n"
    "HMAC_KEY_BASE64 I/w0dzxn5CtMqsrQ5zOYFqszPYoDXv7BE1VNFRLNWr2bfcf2mwWQk0uX9Z0BYja47gw1/pYoFH8n1rHmDVThyg==\n"
    "HMAC_DIGEST_TYPE sha3_256\nFORCE_NAT 192.168.10.2 22\nFORCE_SNAT 10.0.0.1\nDISABLE_DNAT N\n"
    "%include_keys /etc/fwknop/keys.conf\n",
    "%include /etc/fwknop/other.conf\n%include_folder /etc/fwknop/access.d\nSOURCE ::1/128\nKEY x\n",
]
FWKNOPD_CONFS = [
    "PCAP_INTF eth0;\nENABLE_PCAP_PROMISC N;\nPCAP_FILTER udp port 62201;\nMAX_SPA_PACKET_AGE 120;\n"
    "ENABLE_DIGEST_PERSISTENCE Y;\nFIREWALL_TYPE iptables;\nENABLE_SPA_PACKET_AGING Y;\n",
    "# fwknopd.conf\nUDPSERV_PORT 62201\nENABLE_UDP_SERVER Y\nLOCALE C\nSNIFF_TARGET_NAME any\n"
    "ENABLE_SPA_OVER_HTTP N\nIPT_INPUT_ACCESS ACCEPT, filter, INPUT, 1, FWKNOP_INPUT, 1;\n",
]
RCS = [
    "[default]\nSPA_SERVER_PORT     62201\nHMAC_DIGEST_TYPE    sha256\n\n[myssh]\n"
    "SPA_SERVER          192.0.2.1\nACCESS:             tcp/22\n"
    "KEY_BASE64          4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU=\n# comment\n; other\n",
    "# only comments\n[MySSH]\nALLOW_IP 10.0.0.5 # trailing\nbad line without value\n[default]\n",
    "\n[a]\r\nX y\r\n[b\nZ w",
]


def udp_ipv4(payload, proto=17):
    udp = struct.pack("!HHHH", 40000, 62201, 8 + len(payload), 0) + payload
    if proto == 6:
        udp = struct.pack("!HHIIBBHHH", 40000, 62201, 1, 0, 5 << 4, 0x18, 1024, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, proto, 0,
                     bytes([10, 0, 0, 5]), bytes([10, 0, 0, 1]))
    return ip + udp


def udp_ipv6(payload):
    udp = struct.pack("!HHHH", 40000, 62201, 8 + len(payload), 0) + payload
    return struct.pack("!IHBB16s16s", 0x60000000, len(udp), 17, 64, b"\x20\x01" + b"\0" * 13 + b"\x05",
                       b"\0" * 15 + b"\x01") + udp


# fuzz_frame's first byte: index into {null, ethernet, raw, loop, linux_sll, ipv4, ipv6,
# linux_sll2, unknown}.
def frames(payload):
    v4, v6 = udp_ipv4(payload), udp_ipv6(payload)
    eth = b"\x02" * 6 + b"\x04" * 6
    yield bytes([0]) + struct.pack("<I", 2) + v4
    yield bytes([0]) + struct.pack("<I", 30) + v6
    yield bytes([1]) + eth + b"\x08\x00" + v4
    yield bytes([1]) + eth + b"\x81\x00\x00\x05\x86\xdd" + v6
    yield bytes([1]) + eth + b"\x88\xa8\x00\x05\x81\x00\x00\x06\x08\x00" + udp_ipv4(payload, 6)
    yield bytes([2]) + v4
    yield bytes([2]) + v6
    yield bytes([3]) + struct.pack("!I", 2) + v4
    yield bytes([4]) + b"\x00\x00\x00\x01\x00\x06" + b"\x02" * 8 + b"\x08\x00" + v4
    yield bytes([5]) + v4
    yield bytes([6]) + v6
    yield bytes([7]) + b"\x86\xdd\x00\x00" + b"\x00\x00\x00\x02\x00\x01\x00\x06" + b"\x02" * 8 + v6


if name == "fuzz_packet":
    for v in packets:
        put(v["packet"])
elif name == "fuzz_decrypt_parse":
    for v in packets:
        body = v["packet"]
        tag = TAG_CHARS.get(v.get("hmac_type_name") or "", 0)
        if tag and len(body) > tag:
            body = body[:-tag]
        put(bytes([MODE_BYTE.get(v.get("enc_mode"), 0)]) + body.encode())
        e = v.get("expected") or {}
        if e.get("encoded_data") and e.get("digest"):
            put(e["encoded_data"] + ":" + e["digest"])
elif name == "fuzz_access_conf":
    for t in ACCESS_CONFS + FWKNOPD_CONFS:
        put(t)
elif name == "fuzz_fwknoprc":
    for t in RCS:
        put(t)
elif name == "fuzz_frame":
    for v in packets[:6]:
        for f in frames(v["packet"].encode()):
            put(f)
elif name == "fuzz_openpgp":
    # Session key packets as GnuPG writes them (old format, two-byte length: "hQ"), in the new
    # format, one to several recipients, a hidden one, each followed by a little encrypted data.
    def pkesk(key_id, n, new=False):
        body = bytes([3]) + key_id + bytes([1]) + bytes([0x5A]) * n
        if new:
            head = bytes([0xC1]) + (bytes([len(body)]) if len(body) < 192 else
                                    bytes([((len(body) - 192) >> 8) + 192, (len(body) - 192) & 0xFF]))
        else:
            head = bytes([0x85]) + struct.pack(">H", len(body))
        return head + body
    data = bytes([0xD2, 0x0F]) + bytes(15)
    put(pkesk(bytes(range(1, 9)), 258) + data)
    put(pkesk(bytes(range(1, 9)), 40, True) + pkesk(bytes(range(9, 17)), 300, True) + data)
    put(pkesk(bytes(8), 20) + data)
    put(bytes([0x84, 20]) + pkesk(bytes(range(1, 9)), 9)[3:] + data)
else:
    sys.exit("unknown fuzzer " + name)
