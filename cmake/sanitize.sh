#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer (the `asan` presets of
# CMakePresets.json): installs what is missing (Debian packages), configures build-asan/, builds with
# two jobs, runs the tests and exits with ctest's status. Any ASan report, leak or UB aborts its test.
# Extra arguments go to ctest, e.g. `cmake/sanitize.sh -L e2e` or `cmake/sanitize.sh -R wire`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash cmake/install-deps.sh
start=$SECONDS
cmake --preset asan >/dev/null
cmake --build --preset asan
# test/alloc/alloc_test.cpp replaces malloc, which crashes the ASan runtime as it starts: remove the
# executable, so that ctest (tests are discovered at test time in this preset) registers only
# alloc_test_NOT_BUILT, which the asan test preset excludes. The next build relinks it.
rm -f build-asan/test/alloc_test
status=0
ctest --preset asan "$@" || status=$?
echo "knock: sanitized build and tests took $((SECONDS - start)) s; ctest exited $status" >&2
exit "$status"
