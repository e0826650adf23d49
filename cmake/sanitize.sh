#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer (the `asan` presets of
# CMakePresets.json; -Werror, KNOCK_WERROR=ON): installs what is missing (Debian packages), configures
# build-asan/, builds with two jobs, runs the tests and exits with ctest's status. Any ASan report,
# leak or UB aborts its test.
# Extra arguments go to ctest, e.g. `cmake/sanitize.sh -L e2e` or `cmake/sanitize.sh -R wire`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash cmake/install-deps.sh
start=$SECONDS
cmake --preset asan >/dev/null
cmake --build --preset asan
status=0
ctest --preset asan "$@" || status=$?
echo "knock: sanitized build and tests took $((SECONDS - start)) s; ctest exited $status" >&2
exit "$status"
