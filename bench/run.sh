#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds knock-bench and regenerates its results: the Google Benchmark JSON (medians of $REPS
# repetitions), callgrind instruction counts per packet for every case, and the Markdown tables of
# docs/PERFORMANCE.md (bench/results/tables.md); as root, the firewall grants (knock-bench --firewall,
# each backend in a network namespace of its own) in firewall.json; with gnuplot, docs/perf-*.png.
#
#   bench/run.sh                  everything (about 10 minutes on 2 vCPUs)
#   REPS=3 bench/run.sh           fewer repetitions
#   CALLGRIND=0 bench/run.sh      skip valgrind
#   FILTER='decode/' bench/run.sh only the matching benchmarks (regex) and callgrind cases
#   FIREWALL=0 bench/run.sh       skip the firewall grants
#   PLOT=0 bench/run.sh           skip bench/plot.sh
# Environment: BUILD_DIR (default build-bench), OUT_DIR (default bench/results), JOBS (default 2).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD_DIR:-$root/build-bench}
out=${OUT_DIR:-$here/results}
reps=${REPS:-5}
filter=${FILTER:-.}

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target knock-bench -j"${JOBS:-2}"
bin=$build/bench/knock-bench
mkdir -p "$out"

echo "== knock-bench, $reps repetitions (medians) -> $out/decode.json"
"$bin" --benchmark_filter="$filter" --benchmark_repetitions="$reps" \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$out/decode.json" --benchmark_out_format=json

json=("$out/decode.json")
if [[ ${FIREWALL:-1} != 0 && $(id -u) == 0 ]]; then
  echo "== firewall grants (nftables, iptables), $reps repetitions -> $out/firewall.json"
  "$bin" --firewall --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/firewall.json" --benchmark_out_format=json
  json+=("$out/firewall.json")
fi

cg_args=()
if [[ ${CALLGRIND:-1} != 0 ]] && command -v valgrind >/dev/null; then
  echo "== callgrind: instructions per packet -> $out/callgrind.tsv"
  mkdir -p "$out/callgrind"
  tsv=$out/callgrind.tsv
  printf '# case\tpackets\tIr_per_packet\tallocs_per_packet\n' >"$tsv"
  for c in $("$bin" --list | grep -E -- "$filter"); do
    f=$out/callgrind/${c//\//_}
    # Only knock_bench_region() is collected: N packets, after 3 warm-up packets.
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=knock_bench_region \
      --callgrind-out-file="$f.out" "$bin" --callgrind="$c" >"$f.log" 2>&1
    ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$f.log")
    n=$(sed -n 's/^packets \([0-9]*\)/\1/p' "$f.log")
    a=$(sed -n 's/^allocs_per_packet \(.*\)/\1/p' "$f.log")
    per=$(python3 -c "print(f'{$ir / $n:.1f}')")
    printf '%s\t%s\t%s\t%s\n' "$c" "$n" "$per" "$a" | tee -a "$tsv"
  done
  cg_args=(--callgrind "$tsv")
fi

python3 "$here/ratios.py" "${json[@]}" "${cg_args[@]}" | tee "$out/tables.md"

if [[ ${PLOT:-1} != 0 ]] && command -v gnuplot >/dev/null; then
  "$here/plot.sh" "$out/decode.json" "$root/docs"
fi
