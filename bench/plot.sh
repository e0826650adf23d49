#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# PNG plots of knock-bench's JSON for docs/PERFORMANCE.md (gnuplot; Debian: gnuplot-nox):
#   docs/perf-decode-ratios.png   libfko/knock time ratio per decode case (log scale)
#   docs/perf-stanza-miss.png     server/miss/<N>: ns per packet against N stanzas (log-log)
#   docs/perf-replay-lookup.png   replay/lookup/<N>: memory_store hit and miss ns against N
#
#   bench/plot.sh [decode.json] [out_dir]     defaults: bench/results/decode.json, docs/
# Medians of the repetitions, CPU time (as bench/ratios.py).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
json=${1:-$here/results/decode.json}
out=${2:-$root/docs}
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 - "$json" "$tmp" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))
med = {}
for b in data["benchmarks"]:
    if b.get("run_type") == "aggregate" and b["aggregate_name"] != "median":
        continue
    name = b.get("run_name", b["name"])
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
    med.setdefault(name, b["cpu_time"] * scale)  # the median, or the first single run
out = sys.argv[2]
with open(f"{out}/ratios.dat", "w") as f:
    for c in ["valid", "bad_hmac", "garbage_b64", "garbage_bin", "replay"]:
        k, l = med.get(f"decode/{c}/knock"), med.get(f"decode/{c}/libfko")
        if k and l:
            f.write(f"{c} {l / k:.2f}\n")
with open(f"{out}/miss.dat", "w") as f:
    for n in [1, 10, 100, 1000]:
        if f"server/miss/{n}" in med:
            f.write(f"{n} {med[f'server/miss/{n}']:.1f}\n")
with open(f"{out}/lookup.dat", "w") as f:
    for label, n in [("1k", 1e3), ("100k", 1e5), ("1M", 1e6)]:
        h, m = med.get(f"replay/lookup/{label}/hit"), med.get(f"replay/lookup/{label}/miss")
        if h and m:
            f.write(f"{label} {h:.2f} {m:.2f}\n")
EOF

mkdir -p "$out"
common='set terminal pngcairo noenhanced size 800,480 font "DejaVu Sans,11"; set grid ytics; set key top left'

if [[ -s $tmp/ratios.dat ]]; then
  gnuplot <<EOF
$common
set output "$out/perf-decode-ratios.png"
set title "Decode: libfko time / knock time (higher = knock faster), one stanza"
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.7
set logscale y
set yrange [1:*]
set ylabel "libfko / knock (log scale)"
unset key
plot "$tmp/ratios.dat" using 2:xtic(1) lc rgb "#3a7bd5", \
     "" using 0:(\$2*1.25):(sprintf("%.1fx", \$2)) with labels
EOF
  echo "wrote $out/perf-decode-ratios.png"
fi

if [[ -s $tmp/miss.dat ]]; then
  gnuplot <<EOF
$common
set output "$out/perf-stanza-miss.png"
set title "knock::server::handle, packet matching none of N stanzas (every HMAC tried)"
set logscale xy
set xlabel "stanzas (SOURCE ANY)"
set ylabel "ns per packet (CPU, log)"
set xrange [0.7:1500]
set fit quiet
set fit logfile "/dev/null"
f(x) = a + b*x
a = 400; b = 270
fit f(x) "$tmp/miss.dat" using 1:2 via a, b
plot "$tmp/miss.dat" using 1:2 with linespoints pt 7 ps 1.3 lw 2 title "measured (median)", \
     "" using 1:(\$2*1.5):(sprintf("%.0f ns", \$2)) with labels notitle, \
     f(x) with lines dt 2 title sprintf("fit: %.0f ns + %.0f ns x N", a, b)
EOF
  echo "wrote $out/perf-stanza-miss.png"
fi

if [[ -s $tmp/lookup.dat ]]; then
  gnuplot <<EOF
$common
set output "$out/perf-replay-lookup.png"
set title "replay::memory_store::contains, random keys, N remembered"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:*]
set ylabel "ns per lookup (CPU)"
set xlabel "keys remembered"
plot "$tmp/lookup.dat" using 2:xtic(1) title "hit" lc rgb "#3a7bd5", \
     "" using 3 title "miss" lc rgb "#e8a33d"
EOF
  echo "wrote $out/perf-replay-lookup.png"
fi

# docs/perf-load.png, from bench/load.sh's bench/results/load.json (when it exists; LOAD_JSON=…
# for another file): phase 1, offered rate against the share of it each daemon accepted (test mode, pcap,
# medians over the runs of each step's best try; a daemon's line ends at its first failed step).
load_json=${LOAD_JSON:-$here/results/load.json}
if [[ -s $load_json ]]; then
  python3 - "$load_json" "$tmp" <<'EOF'
import json, statistics, sys
rows = [r for r in json.load(open(sys.argv[1]))["raw"] if r["phase"] == 1 and r["kind"] == "paced"]
for d in ("knock", "fwknopd", "fwknopd-tuned"):
    best = {}
    for r in rows:
        if r["daemon"] != d: continue
        got = r["accepted"] / r["sender"]["sent"]
        k = (r["run"], r["rate"])
        best[k] = max(best.get(k, 0), got)
    with open(f"{sys.argv[2]}/load-{d}.dat", "w") as f:
        for rate in sorted({k[1] for k in best}):
            f.write(f"{rate} {statistics.median(v for k, v in best.items() if k[1] == rate):.4f}\n")
EOF
  gnuplot <<EOF
$common
set output "$out/perf-load.png"
set title "bench/load.sh: valid packets, test mode, pcap on a veth (2 shared cores)"
set logscale x
set xlabel "offered rate (packets/s, paced, 2 s or 60,000 packets a step)"
set ylabel "share of the packets accepted"
set yrange [0:1.1]
set key bottom left
plot "$tmp/load-knock.dat" using 1:2 with linespoints pt 7 lw 2 lc rgb "#3a7bd5" title "knock-server", \
     "$tmp/load-fwknopd.dat" using 1:2 with linespoints pt 5 lw 2 lc rgb "#e8a33d" title "fwknopd (default PCAP_LOOP_SLEEP)", \
     "$tmp/load-fwknopd-tuned.dat" using 1:2 with linespoints pt 9 lw 2 lc rgb "#7a7a7a" title "fwknopd, PCAP_LOOP_SLEEP 1 ms"
EOF
  echo "wrote $out/perf-load.png"
fi
