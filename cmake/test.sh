#!/usr/bin/env bash
# The whole test suite: installs what is missing (Debian packages), builds with -Werror (KNOCK_WERROR),
# runs every test. Root-only tests (network namespaces, real fwknopd, kernel firewalls) skip with a
# message otherwise. The suite's own build is Release (g++ -O3: the optimiser that finds the most
# warnings). Then the same suite again under AddressSanitizer + UndefinedBehaviorSanitizer
# (cmake/sanitize.sh, -O1 debug build; KNOCK_SKIP_SANITIZERS=1 leaves that out for a quick local run),
# the build matrix (cmake/build-matrix.sh: the whole tree with clang++, -Werror, no tests;
# KNOCK_SKIP_BUILD_MATRIX=1 leaves it out) and the ARM build (cmake/cross.sh: aarch64 with Debian's
# cross compiler, its unit tests under qemu-user-static; KNOCK_SKIP_CROSS=1 leaves it out).
#
# Time: most of the native suite's time is spent waiting (daemons in namespaces, grants running
# out), so the other three builds run meanwhile, at the lowest CPU priority (nice 19: a test that
# wants a core gets it). The tests labelled 'alone' (the flood, which measures whether the daemon
# keeps up while it fills both cores) wait until the builds are done. The sanitized and the cross
# tests run after the native suite, one after the other. Their build output goes to
# build/side-builds.log, printed when a build fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
sanitize=$([ "${KNOCK_SKIP_SANITIZERS:-0}" = 1 ] && echo 0 || echo 1)
matrix=$([ "${KNOCK_SKIP_BUILD_MATRIX:-0}" = 1 ] && echo 0 || echo 1)
cross=$([ "${KNOCK_SKIP_CROSS:-0}" = 1 ] && echo 0 || echo 1)
if [ "$cross" = 1 ]; then bash cmake/install-deps.sh --cross arm64; else bash cmake/install-deps.sh; fi
start=$SECONDS
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKNOCK_WERROR=ON >/dev/null
cmake --build build -j2

side_builds() {
  local status=0
  if [ "$sanitize" = 1 ]; then bash cmake/sanitize.sh --build-only || status=1; fi
  if [ "$matrix" = 1 ]; then bash cmake/build-matrix.sh || status=1; fi
  if [ "$cross" = 1 ]; then bash cmake/cross.sh --build-only aarch64 || status=1; fi
  return "$status"
}
side_log=build/side-builds.log
setsid nice -n 19 bash -c "$(declare -f side_builds); sanitize=$sanitize matrix=$matrix cross=$cross side_builds" \
  >"$side_log" 2>&1 &
side_pid=$!
trap 'kill -- "-$side_pid" 2>/dev/null || true' EXIT  # its own process group (setsid)

status=0
ctest --test-dir build --output-on-failure -j2 --timeout 1200 -LE '^alone$' || status=1
echo "knock: native suite done at $((SECONDS - start)) s but for label 'alone'; waiting for the side builds" >&2
side=0
wait "$side_pid" || side=$?
trap - EXIT
grep -E '^knock: ' "$side_log" >&2 || true
if [ "$side" != 0 ]; then
  echo "knock: a side build failed (exit $side); its log, last 200 lines:" >&2
  tail -n 200 "$side_log" >&2
  exit 1
fi
echo "knock: side builds done at $((SECONDS - start)) s" >&2
# Label 'alone' (e2e_flood: a flood that fills both cores, then the same with a CPU hog, and every
# valid packet must be granted): with nothing else running, as its users' machines would be.
ctest --test-dir build --output-on-failure --timeout 1200 -L '^alone$' || status=1
[ "$status" = 0 ] || exit 1

if [ "$sanitize" = 1 ]; then
  bash cmake/sanitize.sh --no-build
else
  echo "knock: KNOCK_SKIP_SANITIZERS=1: the sanitizer run was skipped" >&2
fi
[ "$matrix" = 1 ] || echo "knock: KNOCK_SKIP_BUILD_MATRIX=1: the build matrix was skipped" >&2
if [ "$cross" = 1 ]; then
  bash cmake/cross.sh --no-build aarch64
else
  echo "knock: KNOCK_SKIP_CROSS=1: the aarch64 build was skipped" >&2
fi
echo "knock: the whole run took $((SECONDS - start)) s after installing" >&2
