#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer (the `asan` presets of
# CMakePresets.json; -Werror, KNOCK_WERROR=ON): installs what is missing (Debian packages), configures
# build-asan/, builds with two jobs, runs the tests and exits with ctest's status. Any ASan report,
# leak or UB aborts its test.
# Extra arguments go to ctest, e.g. `cmake/sanitize.sh -L e2e` or `cmake/sanitize.sh -R wire`.
# `--build-only` configures and builds, `--no-build` runs the tests of the build that is there
# (cmake/test.sh builds while the native suite runs, and tests afterwards).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=1 test=1
case "${1:-}" in
  --build-only) test=0; shift ;;
  --no-build) build=0; shift ;;
esac
start=$SECONDS
if [ "$build" = 1 ]; then
  bash cmake/install-deps.sh
  cmake --preset asan >/dev/null
  cmake --build --preset asan
  echo "knock: sanitized build took $((SECONDS - start)) s" >&2
fi
[ "$test" = 1 ] || exit 0
status=0
ctest --preset asan "$@" || status=$?
echo "knock: sanitized run took $((SECONDS - start)) s; ctest exited $status" >&2
exit "$status"
