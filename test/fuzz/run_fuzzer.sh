#!/usr/bin/env bash
# Builds one libFuzzer harness of test/fuzz with clang (cached by the hash of its sources, the
# library's headers and the flags) and runs it for SECONDS over a seed corpus made from test/data,
# after replaying test/fuzz/regressions/NAME/*. Prints libFuzzer's executions count. Exits 1 on any
# crash, leak, timeout or OOM; 77 when clang or libFuzzer is missing.
#
#     run_fuzzer.sh NAME SECONDS        (KNOCK_FUZZ_DIR: where binaries and corpora go)
set -euo pipefail

name=${1:?usage: run_fuzzer.sh NAME SECONDS}
seconds=${2:-20}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${KNOCK_FUZZ_DIR:-${TMPDIR:-/tmp}/knock-fuzz}
src=$here/$name.cpp
[ -f "$src" ] || { echo "no harness $src" >&2; exit 2; }
mkdir -p "$out"

skip() { echo "SKIP: clang/libFuzzer not installed${1:+ ($1)}"; exit 77; }
command -v clang++ >/dev/null || skip "no clang++"
command -v python3 >/dev/null || { echo "python3 needed for the seed corpus" >&2; exit 2; }
command -v pkg-config >/dev/null || skip "no pkg-config"

# Can clang link a libFuzzer + ASan + UBSan binary at all? (Debian: libclang-rt-14-dev.)
probe=$out/.probe-ok
if [ ! -f "$probe" ]; then
  printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
    >"$out/probe.cpp"
  clang++ -fsanitize=fuzzer,address,undefined "$out/probe.cpp" -o "$out/probe" 2>/dev/null ||
    skip "clang++ cannot link -fsanitize=fuzzer"
  touch "$probe"
fi

deps=$(pkg-config --cflags --libs libcrypto++ libpcap libnftables)
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$repo/include")
# The binary is reused while the harness, its helpers, the headers and the flags are unchanged.
hash=$( { clang++ --version; echo "${flags[*]} $deps";
          cd "$repo" && find include test/fuzz -type f \( -name '*.hpp' -o -name '*.cpp' \) -print0 |
            LC_ALL=C sort -z | xargs -0 sha256sum; } | sha256sum | cut -c1-16)
mkdir -p "$out/bin"
bin=$out/bin/$name-$hash
if [ ! -x "$bin" ]; then
  echo "building $name ($hash)"
  # shellcheck disable=SC2086  # pkg-config output is word-split on purpose
  clang++ "${flags[@]}" "$src" -o "$bin.tmp.$$" $deps
  mv -f "$bin.tmp.$$" "$bin"
  find "$out/bin" -maxdepth 1 -type f -name "$name-*" ! -name "$name-$hash" ! -name '*.tmp.*' -delete
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
common=(-rss_limit_mb=2048 -timeout=10 -error_exitcode=1 -timeout_exitcode=1
        -artifact_prefix="$out/$name-crash-")

# Known crashers first: each file of regressions/NAME is run once.
regress=$here/regressions/$name
if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
  echo "replaying $(ls "$regress" | wc -l) regression input(s)"
  "$bin" "${common[@]}" "$regress"/* >"$out/$name-regress.log" 2>&1 || {
    cat "$out/$name-regress.log"; echo "FAIL: $name crashes on a regression input"; exit 1; }
fi

seeds=$out/$name-seeds
work=$out/$name-corpus
rm -rf "$seeds" "$work"
mkdir -p "$work"
python3 "$here/make_seeds.py" "$name" "$repo/test/data" "$seeds"
log=$out/$name.log
rc=0
"$bin" "${common[@]}" -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 \
  "$work" "$seeds" >"$log" 2>&1 || rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
echo "$name: ${execs:-?} executions in ${seconds}s, $(ls "$seeds" | wc -l) seeds, corpus $(ls "$work" | wc -l)"
echo "stat::number_of_executed_units: ${execs:-?}"
if [ "$rc" -ne 0 ]; then
  tail -n 80 "$log"
  echo "FAIL: $name exited $rc; crashing input: $(ls "$out/$name-crash-"* 2>/dev/null | tail -1)"
  exit 1
fi
