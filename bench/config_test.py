#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""knock-bench --access-file: runs it (quickly) on access.conf files like test/'s and on fwknop's
own test configurations, and checks the report: one row per stanza with its file:line (the line
holding that stanza's SOURCE), the valid packets accepted (a refused one must fail the run, not
report a fast number), replays refused as replays, libfko beside knock where it can take the
stanza, GnuPG-only stanzas left out with the reason, load errors with file:line and exit 2.

    config_test.py KNOCK_BENCH TEST_DATA_DIR [--reference fwknop-2.6.11.tar.xz]
"""
import argparse
import base64
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
failures = []


def check(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what + ("" if ok else "\n     " + detail))
    if not ok:
        failures.append(what)


def count_stanzas(path, cwd):
    """SOURCE lines of the file and of what it %includes (as fwknop reads them), in order."""
    out = []
    for n, line in enumerate(Path(cwd, path).read_text().splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "%include":
            out += count_stanzas(words[1], cwd)
        elif words[0] == "SOURCE":
            out.append((Path(cwd, path).name, n))
    return out


def bench(binary, args, cwd):
    cmd = [binary, "--json", "--benchmark_min_time=0.01", "--pool", "256"] + args
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


def check_config(binary, name, access, cwd, extra=(), gnupg_rows=()):
    r = bench(binary, ["--access-file", access] + list(extra), cwd)
    check(r.returncode == 0, f"{name}: knock-bench exits 0", r.stderr[-2000:])
    if r.returncode != 0:
        return
    doc = json.loads(r.stdout)
    rows = doc["stanzas"]
    want = count_stanzas(access, cwd)
    check([(Path(x["file"]).name, x["line"]) for x in rows] == want,
          f"{name}: a row per stanza, each at its SOURCE line ({len(want)})",
          f"rows {[x['where'] for x in rows]}, SOURCE lines {want}")
    check(all(x["where"] == f"{Path(x['file']).name}:{x['line']}" for x in rows),
          f"{name}: rows name file:line")
    check(isinstance(doc["vm_hwm_kib"], int) and doc["vm_hwm_kib"] > 0, f"{name}: VmHWM reported")
    check(doc["failures"] == [], f"{name}: no case failed", str(doc["failures"]))
    for x in rows:
        label = f"{name}: stanza {x['stanza']} ({x['where']})"
        if x["stanza"] in gnupg_rows:
            check(x["left_out"] is not None and "GnuPG" in x["left_out"],
                  f"{label}: GnuPG only, left out with the reason", str(x["left_out"]))
            continue
        check(x["left_out"] is None, f"{label}: measured", str(x["left_out"]))
        if x["left_out"] is not None:
            continue
        c = x["cases"]
        check(c["valid"]["outcome"] == "accepted" and c["valid"]["error"] is None
              and (c["valid"]["knock_ns"] or 0) > 0,
              f"{label}: valid packets accepted ({c['valid']['knock_ns']} ns)", json.dumps(c["valid"]))
        check(c["replay"]["outcome"] == "replayed", f"{label}: the replay refused as one")
        for k in ("garbage", "miss") + (("bad_hmac",) if x["mac"] != "none" else ()):
            check(k in c and c[k]["outcome"] not in ("accepted", "replayed", None)
                  and (c[k]["knock_ns"] or 0) > 0, f"{label}: {k} refused ({c.get(k, {}).get('outcome')})")
        check(("bad_hmac" in c) == (x["mac"] != "none"), f"{label}: bad_hmac only with an HMAC")
        if doc["libfko"]:
            check(x["libfko_left_out"] is None and (c["valid"]["libfko_ns"] or 0) > 0
                  and c["valid"]["ratio"] is not None,
                  f"{label}: libfko beside knock (ratio {c['valid']['ratio']})", str(x["libfko_left_out"]))
    return doc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("data")
    ap.add_argument("--reference", default=str(ROOT.parent / "shared" / "reference" / "fwknop-2.6.11.tar.xz"))
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    vectors = json.loads(Path(args.data, "fwknop-2.6.10-vectors.json").read_text())["vectors"]
    by_name = {v["name"]: v for v in vectors}
    key, hmac = by_name["access_cbc_hmac_sha256"]["enc_key_b64"], by_name["access_cbc_hmac_sha256"]["hmac_key_b64"]

    with tempfile.TemporaryDirectory(prefix="knock-bench-config.") as tmp:
        tmp = Path(tmp)
        # As test/'s configurations: e2e_access (test/e2e/lib.sh), decode_test.sh's two stanzas by
        # SOURCE, cmd_exec_test.sh's pair; and the vectors' own stanzas (test/data) in one file.
        files = {
            "e2e.conf": f"SOURCE              ANY\nKEY_BASE64          {key}\nHMAC_KEY_BASE64     {hmac}\n"
                        "HMAC_DIGEST_TYPE    sha256\nOPEN_PORTS          tcp/8022\n",
            "two_sources.conf": f"SOURCE 192.168.0.0/16\nKEY_BASE64 {key}\nHMAC_KEY_BASE64 {hmac}\n\n"
                                "SOURCE 10.0.0.0/8, 2001:db8::/32\nKEY fwknoptest\nHMAC_KEY hmacsecret_xyz\n"
                                "HMAC_DIGEST_TYPE sha512\nENCRYPTION_MODE CTR\nOPEN_PORTS tcp/80, udp/53\n",
            "cmd_exec.conf": f"SOURCE 127.0.0.2\nKEY_BASE64 {key}\nHMAC_KEY_BASE64 {hmac}\n\n"
                             f"SOURCE 127.0.0.1\nKEY_BASE64 {key}\nHMAC_KEY_BASE64 {hmac}\nENABLE_CMD_EXEC Y\n",
            "vectors.conf": "\n".join(by_name[n]["verification"]["fwknopd"]["access_conf"]
                                      for n in ("access_cbc_hmac_sha256", "mode_ctr", "hmac_sha384",
                                                "passphrase_keys", "legacy_iv_no_hmac")),
        }
        for f, text in files.items():
            (tmp / f).write_text(text)
        for f in files:
            check_config(binary, f, f, tmp, ["--allow-no-hmac"] if f == "vectors.conf" else [])

        # A valid packet the server refuses (stamped outside the time window) fails the run.
        r = bench(binary, ["--access-file", "e2e.conf", "--clock-skew", "100000"], tmp)
        check(r.returncode == 1 and "stale_timestamp" in r.stderr and "refusing to run" in r.stderr,
              "a refused valid packet fails the run (exit 1)", f"rc {r.returncode}: {r.stderr}")
        # Load errors: file:line, exit 2.
        (tmp / "bad.conf").write_text(f"SOURCE ANY\nKEY_BASE64 {key}\nHMAC_KEY_BASE64 {hmac}\nOPEN_PORTS tcp/99999\n")
        r = bench(binary, ["--access-file", "bad.conf"], tmp)
        check(r.returncode == 2 and "bad.conf:4: OPEN_PORTS" in r.stderr,
              "an access.conf error: file:line, exit 2", f"rc {r.returncode}: {r.stderr}")
        (tmp / "bad_fwknopd.conf").write_text("ENABLE_SPA_PACKET_AGING Y\nMAX_SPA_PACKET_AGE 0\n")
        r = bench(binary, ["--access-file", "e2e.conf", "--fwknopd-conf", "bad_fwknopd.conf"], tmp)
        check(r.returncode == 2 and "bad_fwknopd.conf:2: MAX_SPA_PACKET_AGE" in r.stderr,
              "a fwknopd.conf error: file:line, exit 2", f"rc {r.returncode}: {r.stderr}")

        # fwknop's own test configurations, read where its suite reads them (test/conf/, from
        # test/), as test/conformance/run.py extracts them.
        if not Path(args.reference).exists():
            print(f"SKIP fwknop's configurations: no fwknop reference source at {args.reference} "
                  "(see ../shared/reference/README.md)")
        else:
            with tarfile.open(args.reference) as tar:
                members = [m for m in tar.getmembers() if "/test/conf/" in m.name]
                tar.extractall(tmp / "ref", members=members)
            test_dir = next((tmp / "ref").iterdir()) / "test"
            conf = test_dir / "conf"
            for f in conf.iterdir():
                f.chmod(0o600)
            for name in ("gpg_dirs.tar.gz", "access-include.tar.gz"):
                with tarfile.open(conf / name) as tar:
                    tar.extractall(conf)
            fwknopd = ["--fwknopd-conf", "conf/default_fwknopd.conf"]
            check_config(binary, "fwknop multi_stanzas_access.conf", "conf/multi_stanzas_access.conf",
                         test_dir, fwknopd + ["--allow-no-hmac"])
            check_config(binary, "fwknop dual_key_usage_access.conf", "conf/dual_key_usage_access.conf",
                         test_dir, fwknopd + ["--allow-no-hmac"])
            check_config(binary, "fwknop hmac_sha512_access.conf", "conf/hmac_sha512_access.conf",
                         test_dir, fwknopd)
            doc = check_config(binary, "fwknop include1_hmac_access.conf", "conf/include1_hmac_access.conf",
                               test_dir, fwknopd)
            if doc:  # SOURCE ANY with the same keys comes first: it takes the later stanzas' packets
                shadowed = [x["stanza"] for x in doc["stanzas"] if x["accepted_by"] != x["stanza"]]
                check(shadowed and all(x["accepted_by"] == 1 for x in doc["stanzas"] if x["stanza"] in shadowed)
                      and all(any(f"stanza {n} (" in note and "accepted by stanza 1" in note
                                  for note in doc["notes"]) for n in shadowed),
                      f"fwknop include1_hmac_access.conf: stanzas shadowed by stanza 1 noted ({shadowed})",
                      str(doc["notes"]))
            check_config(binary, "fwknop gpg_hmac_access.conf", "conf/gpg_hmac_access.conf",
                         test_dir, fwknopd, gnupg_rows=(1,))

    print(f"{len(failures)} failure(s)" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
