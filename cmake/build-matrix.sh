#!/usr/bin/env bash
# The build matrix: builds the whole tree (tests, examples, benchmarks, and the header self-containment
# TUs) with KNOCK_WERROR=ON in configurations the ordinary suite does not build - by default the
# `clang` preset (clang++ 14 with libstdc++, -O0: its warnings come from the front end; the suite
# itself builds g++ -O3 and the sanitizers g++ -O1) - and runs no tests: a new warning from the other compiler fails it. `release`, `debug`
# name the g++ ones for a local check. Two jobs, one
# configuration after the other; prints the time of each. cmake/test.sh (CI) runs it after the suites.
#   cmake/build-matrix.sh                  clang
#   cmake/build-matrix.sh release debug    the named presets
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash cmake/install-deps.sh
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(clang)
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
