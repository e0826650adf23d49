#!/usr/bin/env bash
# regen_client_vectors.sh - produce SPA test vectors with the REAL fwknop
# client, decoded by the real libfko (the oracle).
#
# Usage:
#   test/tools/regen_client_vectors.sh [--out PATH]
#       Deterministic set: the client runs under test/tools/fixed_env.c
#       (LD_PRELOAD) with time() pinned to 1700000000 and /dev/urandom
#       replaced by a fixed per-vector byte string.  Default output:
#       test/data/fwknop-client-vectors.json.  Running it twice gives
#       byte-identical output.
#   test/tools/regen_client_vectors.sh --live --out PATH
#       Same set of client invocations WITHOUT the shim (real clock, real
#       randomness), for tests that check the installed client against the
#       decoder at test time.  --out is mandatory here so the committed
#       deterministic file is never overwritten by accident.
#
# Other options: --fwknop PATH (client binary, default: fwknop from PATH),
#                --keep-tmp (leave the temp dir and print its path).
# Exit status: 0 ok, 1 failure, 2 usage, 77 skipped (tool/library missing).
#
# Needs: fwknop client, cc, libfko headers + library (-lfko), python3.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)

live=0
out=""
fwknop_bin=""
keep_tmp=0

usage() {
    sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        --live) live=1 ;;
        --out) [ $# -ge 2 ] || usage; out=$2; shift ;;
        --out=*) out=${1#--out=} ;;
        --fwknop) [ $# -ge 2 ] || usage; fwknop_bin=$2; shift ;;
        --keep-tmp) keep_tmp=1 ;;
        -h|--help) usage ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
    shift
done

if [ -z "$out" ]; then
    if [ "$live" -eq 1 ]; then
        echo "error: --live requires --out PATH" >&2
        exit 2
    fi
    out="$repo_root/test/data/fwknop-client-vectors.json"
fi

skip() { echo "SKIP: $*" >&2; exit 77; }

[ -n "$fwknop_bin" ] || fwknop_bin=$(command -v fwknop || true)
[ -n "$fwknop_bin" ] && [ -x "$fwknop_bin" ] || skip "fwknop client not found"
command -v cc >/dev/null || skip "no C compiler (cc)"
command -v python3 >/dev/null || skip "python3 not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/knock-regen.XXXXXX")
cleanup() {
    if [ "$keep_tmp" -eq 1 ]; then
        echo "temp dir kept: $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

cc -O2 -Wall -shared -fPIC -o "$tmp/fixed_env.so" "$script_dir/fixed_env.c" -ldl ||
    { echo "error: building fixed_env.so failed" >&2; exit 1; }
if ! cc -O2 -Wall -o "$tmp/fko_dump" "$script_dir/fko_dump.c" -lfko 2>"$tmp/cc.err"; then
    if grep -qE 'fko\.h|-lfko|cannot find' "$tmp/cc.err"; then
        cat "$tmp/cc.err" >&2
        skip "libfko development files (fko.h, libfko.so) not available"
    fi
    cat "$tmp/cc.err" >&2
    echo "error: building fko_dump failed" >&2
    exit 1
fi

mkdir -p "$tmp/home" "$(dirname "$out")"
chmod 700 "$tmp/home"

KNOCK_TMP="$tmp" KNOCK_OUT="$out" KNOCK_LIVE="$live" KNOCK_FWKNOP="$fwknop_bin" \
    python3 - <<'PY'
import hashlib
import json
import os
import subprocess
import sys
import time

TMP = os.environ["KNOCK_TMP"]
OUT = os.environ["KNOCK_OUT"]
LIVE = os.environ["KNOCK_LIVE"] == "1"
FWKNOP = os.environ["KNOCK_FWKNOP"]
SHIM = os.path.join(TMP, "fixed_env.so")
DUMP = os.path.join(TMP, "fko_dump")
HOME = os.path.join(TMP, "home")
PKT = os.path.join(TMP, "spa.pkt")

FIXED_TIME = 1700000000

KEY_SETS = {
    "K256": {
        "enc_key_b64": "4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU=",
        "hmac_key_b64": "I/w0dzxn5CtMqsrQ5zOYFqszPYoDXv7BE1VNFRLNWr2bfcf2mwWQk0uX9Z0BYja47gw1/pYoFH8n1rHmDVThyg==",
        "origin": "fwknop --key-gen (32-byte AES key, 64-byte HMAC key); same as fwknop-2.6.10-vectors.json",
    },
    "K512": {
        "enc_key_b64": "LPXJ/LXo3fA6eVHDzPbYFAaI0Rcw/pEa7fgfeF8Aht0=",
        "hmac_key_b64": "Cxw4EuL8of22BPy6x1f+IU0RRaiBWPdxb3nBaKuNB86D1yo9c5WSZImd8dDDlVeu8AR2JC8gIbXec1UMzGXeS9OjWggtfxE5pvqAR8HFghoN8eI5o8XdFvNNE3cCbJYnFxZMfPLZuEe/6koTmNTc8VmOt6j2EbF/GYgrAxo1C8o=",
        "origin": "fwknop --key-gen --hmac-digest-type sha512 (32-byte AES key, 128-byte HMAC key); same as fwknop-2.6.10-vectors.json",
    },
    "PASS": {
        "enc_key": "fwknoptest",
        "hmac_key": "hmacsecret_xyz",
        "origin": "ASCII passphrases (--key-rijndael / --key-hmac; server KEY / HMAC_KEY)",
    },
}

HMAC_TYPES = ["md5", "sha1", "sha256", "sha384", "sha512", "sha3_256", "sha3_512"]
HMAC_NUM = {n: i + 1 for i, n in enumerate(HMAC_TYPES)}          # FKO enum
DIGEST_NUM = HMAC_NUM                                            # same numbering
HMAC_KEYSET = {"md5": "K256", "sha1": "K256", "sha256": "K256", "sha3_256": "K256",
               "sha384": "K512", "sha512": "K512", "sha3_512": "K512"}
MODES = ["cbc", "ctr", "cfb", "ofb", "ecb"]
MODE_NUM = {"ecb": 1, "cbc": 2, "cfb": 3, "ofb": 5, "ctr": 6, "legacy": 8}
MODE_STR = {"ecb": "ECB", "cbc": "CBC", "cfb": "CFB", "ofb": "OFB", "ctr": "CTR",
            "legacy": "legacy"}

ALLOW = ["-a", "10.0.0.5"]
USER = ["-U", "alice"]
DEST = ["-D", "127.0.0.1"]
ACCESS = ["-A", "tcp/22"]


def b64(s):
    import base64
    return base64.b64encode(s.encode()).decode()


def key_args(key_set, hmac):
    """Client key options, plus (enc_key_b64, hmac_key_b64) for the vector."""
    ks = KEY_SETS[key_set]
    if key_set == "PASS":
        args = ["--key-rijndael", ks["enc_key"]]
        enc, hk = b64(ks["enc_key"]), None
        if hmac:
            args += ["--key-hmac", ks["hmac_key"]]
            hk = b64(ks["hmac_key"])
    else:
        args = ["--key-base64-rijndael", ks["enc_key_b64"]]
        enc, hk = ks["enc_key_b64"], None
        if hmac:
            args += ["--key-base64-hmac", ks["hmac_key_b64"]]
            hk = ks["hmac_key_b64"]
    return args, enc, hk


def spec(name, desc, key_set, hmac, mode, extra, explicit_hmac_type=False,
         explicit_mode=False, access=ACCESS, allow=ALLOW):
    """hmac: None or HMAC type name; mode: key of MODE_NUM."""
    kargs, enc, hk = key_args(key_set, hmac is not None)
    args = list(kargs)
    if hmac is not None and explicit_hmac_type:
        args += ["--hmac-digest-type", hmac]
    if explicit_mode:
        args += ["-M", mode]
    args += list(access) + list(allow) + USER + DEST + list(extra)
    return {
        "name": name, "description": desc, "key_set": key_set,
        "client_args": args, "enc_key_b64": enc, "hmac_key_b64": hk,
        "hmac_type": HMAC_NUM[hmac] if hmac else None,
        "hmac_type_name": hmac, "enc_mode": MODE_NUM[mode],
        "enc_mode_str": MODE_STR[mode],
    }


def build_specs():
    v = []
    # every AES mode x every HMAC type
    for m in MODES:
        for h in HMAC_TYPES:
            v.append(spec(f"{m}_hmac_{h}",
                          f"AES-256-{MODE_STR[m]} + HMAC-{h.upper()} (key set {HMAC_KEYSET[h]}), access msg",
                          HMAC_KEYSET[h], h, m, [], explicit_hmac_type=True,
                          explicit_mode=True))
    # every mode without HMAC
    for m in MODES:
        v.append(spec(f"{m}_no_hmac",
                      f"AES-256-{MODE_STR[m]} without HMAC (inner digest is the only integrity check)",
                      "K256", None, m, [], explicit_mode=True))
    # legacy (the client refuses legacy together with an HMAC)
    v.append(spec("legacy_no_hmac_k256",
                  "legacy IV mode (CBC_LEGACY_IV), no HMAC, 32-byte key: the client warns "
                  "and uses only the first 16 key bytes (fwknopd truncates the configured "
                  "key the same way; libfko itself does not)",
                  "K256", None, "legacy", [], explicit_mode=True))
    v.append(spec("legacy_no_hmac_passphrase",
                  "legacy IV mode (CBC_LEGACY_IV), no HMAC, 10-byte ASCII passphrase "
                  "(right-padded with '0' to 16 bytes before the KDF)",
                  "PASS", None, "legacy", [], explicit_mode=True))
    # inner digest types, default CBC + HMAC-SHA256
    for d in HMAC_TYPES:
        v.append(spec(f"digest_{d}_hmac_sha256",
                      f"inner digest {d} (-m {d}), AES-256-CBC + HMAC-SHA256",
                      "K256", "sha256", "cbc", ["-m", d]))
    # message types / options (default CBC + HMAC-SHA256)
    v.append(spec("nat_access", "NAT access msg (type 2); -N host:port becomes \"host,port\"",
                  "K256", "sha256", "cbc", ["-N", "192.168.1.10:22"]))
    v.append(spec("nat_local", "local NAT access msg (type 5); NAT host is the -D server",
                  "K256", "sha256", "cbc", ["--nat-local"]))
    v.append(spec("client_timeout_45", "client timeout access msg (type 3), trailing :45",
                  "K256", "sha256", "cbc", ["-f", "45"]))
    v.append(spec("nat_access_timeout_45", "NAT access with client timeout (type 4)",
                  "K256", "sha256", "cbc", ["-N", "192.168.1.10:22", "-f", "45"]))
    v.append(spec("nat_local_timeout_45", "local NAT access with client timeout (type 6)",
                  "K256", "sha256", "cbc", ["--nat-local", "-f", "45"]))
    v.append(spec("command_msg", "command msg (type 0) via -C/--server-cmd, no -A",
                  "K256", "sha256", "cbc", ["-C", "echo hi"], access=[]))
    v.append(spec("multi_port_access", "access msg with several proto/port entries",
                  "K256", "sha256", "cbc", [], access=["-A", "tcp/22,udp/53,tcp/8080"]))
    v.append(spec("source_ip_0000", "-s: allow IP 0.0.0.0 (server uses the packet source)",
                  "K256", "sha256", "cbc", [], allow=["-s"]))
    v.append(spec("passphrase_keys", "ASCII passphrase keys (--key-rijndael / --key-hmac), HMAC-SHA256",
                  "PASS", "sha256", "cbc", []))
    v.append(spec("passphrase_no_hmac", "ASCII passphrase AES key, no HMAC",
                  "PASS", None, "cbc", []))
    names = [s["name"] for s in v]
    assert len(names) == len(set(names)), "duplicate vector names"
    return v


def rand_for(name):
    """Distinct, stable pinned /dev/urandom bytes per vector."""
    return hashlib.sha256(("knock-client-vector:" + name).encode()).hexdigest()[:16]


def base_env():
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": HOME,
        "LC_ALL": "C",
        "TZ": "UTC",
    }
    return env


def run_client(client_args, det_rand):
    if os.path.exists(PKT):
        os.unlink(PKT)
    argv = [FWKNOP, "--test", "-B", PKT, "--no-rc-file", "--no-save-args"] + client_args
    env = base_env()
    if det_rand is not None:
        env["LD_PRELOAD"] = SHIM
        env["FKO_FIXED_TIME"] = str(FIXED_TIME)
        env["FKO_FIXED_RAND"] = det_rand
    r = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, text=True)
    if r.returncode != 0 or not os.path.exists(PKT):
        sys.exit(f"fwknop failed (rc={r.returncode}) for {argv}:\n{r.stdout}")
    with open(PKT) as f:
        data = f.read()
    if not data.endswith("\n") or data.count("\n") != 1:
        sys.exit(f"unexpected -B file content: {data!r}")
    pkt = data[:-1]
    # cross-check with what the client printed
    printed = [l.split(":", 1)[1].strip() for l in r.stdout.splitlines()
               if l.strip().startswith("Final SPA Data:")]
    if printed and printed[0] != pkt:
        sys.exit(f"-B file and printed SPA data differ for {argv}")
    recorded = ["fwknop", "--test", "-B", "<file>", "--no-rc-file", "--no-save-args"] + client_args
    return pkt, recorded, r.stdout


def fko_dump(pkt, enc_b64, hmac_b64, hmac_type, enc_mode):
    r = subprocess.run([DUMP, pkt, enc_b64, hmac_b64 or "", str(hmac_type or 0), str(enc_mode)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        obj = json.loads(r.stdout)
    except ValueError:
        sys.exit(f"fko_dump produced no JSON (rc={r.returncode}): {r.stdout!r} {r.stderr!r}")
    return r.returncode, obj


def version_info():
    info = {}
    r = subprocess.run([FWKNOP, "--no-rc-file", "--version"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, env=base_env())
    lines = [l.strip() for l in r.stdout.splitlines() if "fwknop client" in l]
    info["fwknop_version"] = lines[-1] if lines else r.stdout.strip()
    pk = {}
    for p in ("fwknop-client", "libfko3", "libfko3-dev"):
        try:
            q = subprocess.run(["dpkg-query", "-W", "-f=${Version}", p],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            if q.returncode == 0 and q.stdout:
                pk[p] = q.stdout
        except FileNotFoundError:
            pass
    if pk:
        info["debian_packages"] = pk
    return info


# Known-answer check for the shim: vector access_cbc_hmac_sha256 of
# fwknop-2.6.10-vectors.json, reproduced from its args and det_env.
SELFCHECK = {
    "rand": "9a9c068423ac135d",
    "args": ["--key-base64-rijndael", KEY_SETS["K256"]["enc_key_b64"],
             "--key-base64-hmac", KEY_SETS["K256"]["hmac_key_b64"],
             "-A", "tcp/22", "-a", "10.0.0.5", "-U", "alice"],
    "packet": "+anAaEI6wTXYlMMvZisG4xDPqhtnCGof7aeN3CY3Y+vCDKa8bePuRZAwiUL+8/Dla9L/"
              "67cOsToCgPh/lHUgLB4CLUXIlEfVIwMRH0e5YfsWvD3aHWJFnm8kOUsU4IpzKACiW9rE"
              "XKWwiQYp39t+I2EOwrFDqXuOQ0FndSl0kk81Z+GtCIA//GmNPRgtA7/pGubpvZHeLQ7g",
}


def main():
    selfcheck = None
    if not LIVE:
        pkt, _, _ = run_client(SELFCHECK["args"], SELFCHECK["rand"])
        if pkt != SELFCHECK["packet"]:
            sys.exit("shim self-check FAILED: the installed client under fixed_env.so does not "
                     "reproduce access_cbc_hmac_sha256 of fwknop-2.6.10-vectors.json\n"
                     f"got {pkt}")
        selfcheck = ("ok: reproduced vector access_cbc_hmac_sha256 of fwknop-2.6.10-vectors.json "
                     "byte-for-byte (FKO_FIXED_RAND=9a9c068423ac135d)")

    vectors = []
    for s in build_specs():
        det_rand = None if LIVE else rand_for(s["name"])
        pkt, recorded, _ = run_client(s["client_args"], det_rand)
        rc, exp = fko_dump(pkt, s["enc_key_b64"], s["hmac_key_b64"], s["hmac_type"], s["enc_mode"])
        if rc != 0 or "error" in exp:
            sys.exit(f"libfko failed to decode vector {s['name']}: {exp}")
        if not LIVE and exp["timestamp"] != FIXED_TIME:
            sys.exit(f"vector {s['name']}: timestamp {exp['timestamp']} is not pinned; shim not active?")
        vec = {
            "name": s["name"],
            "category": "valid",
            "description": s["description"],
            "deterministic": not LIVE,
            "args": recorded,
            "det_env": None if LIVE else {
                "FKO_FIXED_TIME": FIXED_TIME,
                "FKO_FIXED_RAND": det_rand,
                "note": "LD_PRELOAD test/tools/fixed_env.c: time() fixed; every open of "
                        "/dev/urandom yields these bytes from the start, repeated "
                        "(srand seed = first 4 bytes LE, salt = first 8 bytes)",
            },
            "key_set": s["key_set"],
            "enc_key_b64": s["enc_key_b64"],
            "hmac_key_b64": s["hmac_key_b64"],
            "hmac_type": s["hmac_type"],
            "hmac_type_name": s["hmac_type_name"],
            "enc_mode": s["enc_mode"],
            "enc_mode_str": s["enc_mode_str"],
            "packet": pkt,
            "packet_len": len(pkt),
            "expected": exp,
        }
        vectors.append(vec)

    meta = {
        "title": "fwknop SPA vectors generated from the real fwknop client"
                 + (" (live: real clock and randomness)" if LIVE else " (deterministic)"),
        "generator": "test/tools/regen_client_vectors.sh" + (" --live" if LIVE else ""),
        "produced_with": version_info(),
        "method": (
            "Each packet is the output of the real client: `fwknop --test -B <file> "
            "--no-rc-file --no-save-args <args>` with HOME pointing at an empty temp dir. "
            + ("No shim: the client used the real clock and /dev/urandom, so packets "
               "differ on every run and timestamps are the generation time. "
               if LIVE else
               "The client ran under the LD_PRELOAD shim test/tools/fixed_env.c with "
               f"FKO_FIXED_TIME={FIXED_TIME} and a per-vector FKO_FIXED_RAND "
               "(first 8 bytes of SHA-256(\"knock-client-vector:\" + name)); the output "
               "is byte-identical across runs. ")
            + "`expected` is what libfko 2.6.10 decodes from the packet "
              "(test/tools/fko_dump.c: fko_new_with_data, fko_verify_hmac when an HMAC key "
              "is set, fko_decrypt_spa_data, then the fko_get_* getters)."),
        "categories": {"valid": "packets produced by the real fwknop client; must decode and be accepted"},
        "field_notes": {
            "args": "client argv; <file> is the -B output file (the wire string plus LF)",
            "enc_key_b64": "base64 of the raw AES passphrase bytes as configured on both sides "
                           "(for key_set PASS the ASCII passphrase; in legacy mode only the "
                           "first 16 bytes are used by client and server)",
            "hmac_key_b64": "base64 of the raw HMAC key bytes; null = no HMAC",
            "hmac_type": "FKO HMAC enum: 1 md5, 2 sha1, 3 sha256, 4 sha384, 5 sha512, 6 sha3_256, 7 sha3_512",
            "enc_mode": "FKO enc-mode enum: 1 ECB, 2 CBC, 3 CFB, 5 OFB, 6 CTR, 8 CBC_LEGACY_IV",
            "expected.digest_type": "FKO digest enum (same numbering as HMAC types)",
            "expected.encoded_data": "plaintext before encryption, without the trailing ':<digest>'",
            "deterministic": "true = client run under fixed_env.so (det_env); the packet is "
                             "nonetheless the genuine output of the real client",
        },
        "key_sets": KEY_SETS,
        "key_choice": "HMAC md5/sha1/sha256/sha3_256 use K256 (64-byte HMAC key); "
                      "sha384/sha512/sha3_512 use K512 (128-byte HMAC key); "
                      "all other vectors use K256 or PASS as given by key_set",
        "counts": {"valid": len(vectors)},
    }
    if selfcheck:
        meta["shim_selfcheck"] = selfcheck
    if LIVE:
        meta["generated_at"] = int(time.time())

    doc = {"meta": meta, "vectors": vectors}
    tmp_out = OUT + ".tmp"
    with open(tmp_out, "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=True)
        f.write("\n")
    os.replace(tmp_out, OUT)
    print(f"wrote {len(vectors)} vectors to {OUT}")


main()
PY
