#!/usr/bin/env bash
# ARM builds: for each architecture (default aarch64), installs the cross compiler and the target's
# libraries (cmake/install-deps.sh --cross), builds the `<arch>` preset (library, programs, unit tests;
# -Werror) and runs its unit tests under qemu-user-static (ctest --preset <arch>), then prints the
# stripped sizes of knock-server and knock-client. Exits non-zero if a build or a test fails.
#   cmake/cross.sh                 aarch64
#   cmake/cross.sh aarch64 armhf   both
#   cmake/cross.sh --build-only    configure and build, no tests (cmake/test.sh builds while the
#   cmake/cross.sh --no-build      native suite runs, and runs the qemu tests afterwards)
# cmake/test.sh (CI) runs it after the native suites.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=1 test=1
case "${1:-}" in
  --build-only) test=0; shift ;;
  --no-build) build=0; shift ;;
esac
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(aarch64)
status=0
for preset in "${presets[@]}"; do
  case "$preset" in
    aarch64) arch=arm64 strip=aarch64-linux-gnu-strip ;;
    armhf) arch=armhf strip=arm-linux-gnueabihf-strip ;;
    *) echo "cross.sh: unknown preset '$preset' (aarch64, armhf)" >&2; exit 2 ;;
  esac
  start=$SECONDS
  result=ok
  if [ "$build" = 1 ]; then
    bash cmake/install-deps.sh --cross "$arch"
    if ! cmake --preset "$preset" >/dev/null; then
      result="configure FAILED"
    elif ! cmake --build --preset "$preset"; then
      result="build FAILED"
    fi
  fi
  if [ "$result" = ok ] && [ "$test" = 1 ] && ! ctest --preset "$preset"; then
    result="unit tests under qemu FAILED"
  fi
  [ "$result" = ok ] || status=1
  for program in knock-server knock-client; do
    binary=build-$preset/examples/$program/$program
    [ -x "$binary" ] || continue
    "$strip" -o "$binary.stripped" "$binary"
    echo "knock: $preset: $program stripped: $(stat -c %s "$binary.stripped") bytes" >&2
  done
  echo "knock: cross build: $preset: $result in $((SECONDS - start)) s" >&2
done
exit "$status"
