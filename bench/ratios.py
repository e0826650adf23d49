#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Markdown tables from knock-bench's JSON (--benchmark_format=json or --benchmark_out) and,
optionally, the callgrind summary bench/run.sh writes (TSV: case, packets, Ir/packet, allocs/packet).

    ratios.py decode.json [firewall.json ...] [--callgrind callgrind.tsv]

Several JSON files are merged (knock-bench --firewall writes the firewall rows separately).

Times are the medians of the repetitions (CPU time per packet: the machines are shared, and a
descheduled thread's wall time says nothing about the code). "libfko/knock" is libfko's time
divided by knock's: how many times faster knock is.
"""
import argparse
import json
import re
import sys

CASES = ["valid", "bad_hmac", "garbage_b64", "garbage_bin", "replay"]
# docs: /work/shared/PERFORMANCE.md, "What knock is aiming at"; valid and the two HMAC refusals as
# raised by issue #6.
TARGET = {"valid": ">= 5x", "bad_hmac": ">= 10x", "garbage_b64": ">= 10x", "garbage_bin": ">= 8x",
          "replay": "O(1)"}
# The floor table of /work/shared/PERFORMANCE.md (fastest primitive per step, this CPU).
FLOOR = {"primitive/base64_decode_171": 128, "primitive/base64_decode_43": 42,
         "primitive/hmac_sha256_precomputed": 229,
         "primitive/hmac_sha256_verify": 285,         # tag decode + HMAC + compare
         "primitive/rijndael_cbc_decrypt_128": 946,   # EVP_BytesToKey 575 + AES-256-CBC 371
         "primitive/sha256_64": 126}                  # "SHA-256 of the 67 B inner digest input"
MISS_STANZAS = [1, 10, 100, 1000]
LOOKUP_SIZES = ["1k", "100k", "1M"]
FWKNOPD_GRANTS_PER_S = 120  # shared/PERFORMANCE.md's anchor: fwknopd 2.6.10 with iptables
HMACS = ["md5", "sha1", "sha256", "sha384", "sha512", "sha3_256", "sha3_512"]


def load(path):
    with open(path) as f:
        data = json.load(f)
    runs = {}
    for b in data["benchmarks"]:
        # firewall/nftables/grant/min_time:2.000/real_time -> firewall/nftables/grant
        name = re.sub(r"(/min_time:[0-9.]+|/real_time)+$", "", b.get("run_name", b["name"]))
        if b.get("run_type") == "aggregate":
            runs.setdefault(name, {})[b["aggregate_name"]] = b
        else:
            runs.setdefault(name, {}).setdefault("iterations", []).append(b)
    out = {}
    for name, r in runs.items():
        if "median" in r:
            med = r["median"]
            cv = r.get("cv", {}).get("cpu_time")
        else:  # no repetitions: the median of the single runs
            its = sorted(r["iterations"], key=lambda b: b["cpu_time"])
            med, cv = its[len(its) // 2], None
        scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[med.get("time_unit", "ns")]
        out[name] = {"ns": med["cpu_time"] * scale, "real_ns": med["real_time"] * scale,
                     "per_s": med.get("items_per_second"), "cv": cv,
                     "allocs": med.get("allocs_per_packet"),
                     "bytes": med.get("alloc_bytes_per_packet"),
                     "allocs_per_grant": med.get("allocs_per_grant"),
                     "error": med.get("error_message") if med.get("error_occurred") else None}
    return data.get("context", {}), out


def load_callgrind(path):
    out = {}
    if path:
        with open(path) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                case, packets, ir, allocs = line.split("\t")[:4]
                out[case] = {"ir": float(ir), "allocs": float(allocs), "packets": int(packets)}
    return out


def ns(x):
    return "–" if x is None else (f"{x:,.0f}" if x >= 100 else f"{x:,.1f}")


def rate(x):
    if x is None:
        return "–"
    return f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.0f} k" if x >= 1e3 else f"{x:.0f}"


def ir(cg, name):
    return f"{cg[name]['ir']:,.0f}" if name in cg else "–"


def allocs(r):
    if r is None or r["allocs"] is None:
        return "–"
    b = f" ({r['bytes']:,.0f} B)" if r["bytes"] else ""
    return f"{r['allocs']:.0f}{b}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("json", nargs="+")
    ap.add_argument("--callgrind")
    a = ap.parse_args()
    ctx, runs = {}, {}
    for path in a.json:
        c, r = load(path)
        ctx = ctx or c
        runs.update(r)
    cg = load_callgrind(a.callgrind)
    p = print

    p(f"Machine: {ctx.get('cpu_model', '?')}, nproc {ctx.get('nproc', '?')}, "
      f"{ctx.get('mhz_per_cpu', '?')} MHz, AES-NI {ctx.get('cpu_aes', '?')}, "
      f"SHA-NI {ctx.get('cpu_sha_ni', '?')}, load average {ctx.get('load_avg', '?')}, "
      f"run {ctx.get('date', '?')}.\n")

    p("| case | knock ns/packet | knock packets/s | libfko ns/packet | libfko packets/s "
      "| **libfko/knock** | target | knock Ir/packet | libfko Ir/packet | Ir ratio "
      "| knock allocs | libfko allocs |")
    p("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for c in CASES:
        k, f = runs.get(f"decode/{c}/knock"), runs.get(f"decode/{c}/libfko")
        ratio = f"**{f['ns'] / k['ns']:,.1f}×**" if k and f else "–"
        kn, fn = f"decode/{c}/knock", f"decode/{c}/libfko"
        ir_ratio = f"{cg[fn]['ir'] / cg[kn]['ir']:,.1f}×" if kn in cg and fn in cg else "–"
        p(f"| {c} | {ns(k and k['ns'])} | {rate(k and k['per_s'])} | {ns(f and f['ns'])} "
          f"| {rate(f and f['per_s'])} | {ratio} | {TARGET[c]} | {ir(cg, kn)} | {ir(cg, fn)} "
          f"| {ir_ratio} | {allocs(k)} | {allocs(f)} |")

    p("\nknock, valid packet sealed by knock with each HMAC (CBC, same keys and salt):\n")
    p("| HMAC | ns/packet | packets/s | Ir/packet | allocs |")
    p("|---|---:|---:|---:|---:|")
    for h in HMACS:
        n = f"decode/valid/knock/{h}"
        r = runs.get(n)
        if r:
            p(f"| {h} | {ns(r['ns'])} | {rate(r['per_s'])} | {ir(cg, n)} | {allocs(r)} |")

    p("\nknock's steps one by one (primitive/*), against the floor of shared/PERFORMANCE.md:\n")
    p("| step | ns | floor ns | Ir | allocs |")
    p("|---|---:|---:|---:|---:|")
    for n, r in sorted(runs.items()):
        if n.startswith("primitive/"):
            p(f"| {n} | {ns(r['ns'])} | {ns(FLOOR.get(n))} | {ir(cg, n)} | {allocs(r)} |")

    server_tables(runs, cg, p)

    noisy = [(n, r["cv"]) for n, r in runs.items() if r["cv"] is not None and r["cv"] > 0.05]
    if noisy:
        p("\nNoisy rows (coefficient of variation of CPU time over the repetitions > 5 %): " +
          ", ".join(f"{n} {cv * 100:.0f} %" for n, cv in sorted(noisy)) + ".")


def server_tables(runs, cg, p):
    """server/*, replay/lookup/*, firewall/* (bench/server_cases.cpp)."""
    miss = [(n, runs.get(f"server/miss/{n}")) for n in MISS_STANZAS]
    if any(r for _, r in miss):
        p("\nknock::server::handle, the default packet against N stanzas of other keys (SOURCE ANY; "
          "every stanza's HMAC is tried and fails):\n")
        p("| stanzas | ns/packet | packets/s | ns per stanza | ns per added stanza (vs 1) | Ir/packet "
          "| allocs |")
        p("|---:|---:|---:|---:|---:|---:|---:|")
        one = miss[0][1]
        for n, r in miss:
            if not r:
                continue
            added = ns((r["ns"] - one["ns"]) / (n - 1)) if one and n > 1 else "–"
            p(f"| {n:,} | {ns(r['ns'])} | {rate(r['per_s'])} | {ns(r['ns'] / n)} | {added} "
              f"| {ir(cg, f'server/miss/{n}')} | {allocs(r)} |")
    rows = [(n, runs.get(n)) for n in ("server/valid/1", "server/replay")]
    if any(r for _, r in rows):
        p("\nknock::server::handle, one stanza:\n")
        p("| case | ns/packet | packets/s | Ir/packet | allocs |")
        p("|---|---:|---:|---:|---:|")
        for n, r in rows:
            if r:
                p(f"| {n} | {ns(r['ns'])} | {rate(r['per_s'])} | {ir(cg, n)} | {allocs(r)} |")
    look = [(n, runs.get(f"replay/lookup/{n}/hit"), runs.get(f"replay/lookup/{n}/miss"))
            for n in LOOKUP_SIZES]
    if any(h or m for _, h, m in look):
        p("\nreplay::memory_store::contains, N keys remembered, random keys in a random order:\n")
        p("| keys | hit ns | miss ns | hit Ir | miss Ir | allocs |")
        p("|---:|---:|---:|---:|---:|---:|")
        for n, h, m in look:
            p(f"| {n} | {ns(h and h['ns'])} | {ns(m and m['ns'])} "
              f"| {ir(cg, f'replay/lookup/{n}/hit')} | {ir(cg, f'replay/lookup/{n}/miss')} "
              f"| {allocs(h)} / {allocs(m)} |")
    fw = [(n, runs.get(f"firewall/{n}/grant")) for n in ("nftables", "iptables")]
    if any(r for _, r in fw):
        p("\nFirewall grants, a new source address each (network namespace of the benchmark's own; "
          "wall time):\n")
        p(f"| backend | µs/grant | grants/s | vs fwknopd ({FWKNOPD_GRANTS_PER_S}/s) | allocs/grant |")
        p("|---|---:|---:|---:|---:|")
        for n, r in fw:
            if not r:
                continue
            if r["error"]:
                p(f"| {n} | skipped: {r['error']} | | | |")
                continue
            per_s = 1e9 / r["real_ns"]
            a = r["allocs_per_grant"]
            p(f"| {n} | {r['real_ns'] / 1e3:,.1f} | {rate(per_s)} "
              f"| {per_s / FWKNOPD_GRANTS_PER_S:,.1f}× | {'–' if a is None else f'{a:.0f}'} |")


if __name__ == "__main__":
    sys.exit(main())
