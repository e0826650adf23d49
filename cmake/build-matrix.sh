#!/usr/bin/env bash
# The build matrix: builds the whole tree (tests, examples, benchmarks, and the header self-containment
# TUs) with KNOCK_WERROR=ON in the configurations the ordinary suite does not build - the `release`
# (g++ -O3) and `clang` (clang++ 14 with libstdc++, -O3) presets of CMakePresets.json - and runs no
# tests: a new warning from a newer optimiser or from the other compiler fails it. Two jobs, one
# configuration after the other; prints the time of each. cmake/test.sh (CI) runs it after the suites.
#   cmake/build-matrix.sh                  both
#   cmake/build-matrix.sh clang            only the named presets (also: debug)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash cmake/install-deps.sh
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(release clang)
status=0
for preset in "${presets[@]}"; do
  start=$SECONDS
  result=ok
  if ! cmake --preset "$preset" >/dev/null; then
    result="configure FAILED"
  elif ! cmake --build --preset "$preset" --target all header_test; then
    result="build FAILED"
  fi
  [ "$result" = ok ] || status=1
  echo "knock: build matrix: $preset: $result in $((SECONDS - start)) s" >&2
done
exit "$status"
