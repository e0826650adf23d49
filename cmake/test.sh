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
# wants a core gets it). The sanitized tests start when both the native suite and their build are
# done, beside the builds still running. The tests labelled 'alone' (the flood, which measures
# whether the daemon keeps up while it fills both cores) wait until all of that is done; the cross
# tests (qemu) come last. The side builds' output goes to build/side-builds.log, printed when a
# build fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
sanitize=$([ "${KNOCK_SKIP_SANITIZERS:-0}" = 1 ] && echo 0 || echo 1)
matrix=$([ "${KNOCK_SKIP_BUILD_MATRIX:-0}" = 1 ] && echo 0 || echo 1)
cross=$([ "${KNOCK_SKIP_CROSS:-0}" = 1 ] && echo 0 || echo 1)
if [ "$cross" = 1 ]; then bash cmake/install-deps.sh --cross arm64; else bash cmake/install-deps.sh; fi
start=$SECONDS
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKNOCK_WERROR=ON >/dev/null
cmake --build build -j2

# The side builds, one after the other at nice 19: fwknopd 2.6.11 for the oracle tests (so that
# their first one does not build it beside the e2e tests), the sanitized tree (its status in
# $asan_status as soon as it is built: its tests start when the native suite is done), the clang
# build matrix, the aarch64 tree.
asan_status=build/side-asan.status
rm -f "$asan_status"
side_builds() {
  local status=0 rc=0 tarball
  tarball=$(sed -n 's/^KNOCK_FWKNOP_TARBALL:FILEPATH=//p' build/CMakeCache.txt)
  if [ -n "$tarball" ]; then
    bash test/firewall/oracle/build_fwknopd.sh "$tarball" build/fwknopd-oracle || rc=$?
    case $rc in 0) echo "knock: oracle fwknopd built" ;; 77) ;; *) status=1 ;; esac
  fi
  if [ "$sanitize" = 1 ]; then
    rc=0
    bash cmake/sanitize.sh --build-only || { rc=1; status=1; }
    echo "$rc" >"$asan_status"
  fi
  if [ "$matrix" = 1 ]; then bash cmake/build-matrix.sh || status=1; fi
  if [ "$cross" = 1 ]; then bash cmake/cross.sh --build-only aarch64 || status=1; fi
  return "$status"
}
side_log=build/side-builds.log
setsid nice -n 19 bash -c "$(declare -f side_builds); sanitize=$sanitize matrix=$matrix cross=$cross \
  asan_status=$asan_status side_builds" >"$side_log" 2>&1 &
side_pid=$!
trap 'kill -- "-$side_pid" 2>/dev/null || true' EXIT  # its own process group (setsid)
side_failed() {
  echo "knock: a side build failed; its log, last 200 lines:" >&2
  tail -n 200 "$side_log" >&2
  exit 1
}

status=0
ctest --test-dir build --output-on-failure -j2 --timeout 1200 -LE '^alone$' || status=1
echo "knock: native suite done at $((SECONDS - start)) s but for label 'alone'" >&2
[ "$status" = 0 ] || exit 1

# The sanitized tests, as soon as their build is there, beside the other side builds (at nice 19,
# they take a core only when a test does not want it).
if [ "$sanitize" = 1 ]; then
  while [ ! -e "$asan_status" ] && kill -0 "$side_pid" 2>/dev/null; do sleep 5; done
  [ "$(cat "$asan_status" 2>/dev/null)" = 0 ] || side_failed
  echo "knock: sanitized build there at $((SECONDS - start)) s" >&2
  bash cmake/sanitize.sh --no-build || status=1
else
  echo "knock: KNOCK_SKIP_SANITIZERS=1: the sanitizer run was skipped" >&2
fi
side=0
wait "$side_pid" || side=$?
trap - EXIT
grep -E '^knock: ' "$side_log" >&2 || true
[ "$side" = 0 ] || side_failed
echo "knock: side builds done at $((SECONDS - start)) s" >&2
# Label 'alone' (e2e_flood: a flood that fills both cores, then the same with a CPU hog, and every
# valid packet must be granted): with nothing else running, as its users' machines would be.
ctest --test-dir build --output-on-failure --timeout 1200 -L '^alone$' || status=1
[ "$status" = 0 ] || exit 1

[ "$matrix" = 1 ] || echo "knock: KNOCK_SKIP_BUILD_MATRIX=1: the build matrix was skipped" >&2
if [ "$cross" = 1 ]; then
  bash cmake/cross.sh --no-build aarch64
else
  echo "knock: KNOCK_SKIP_CROSS=1: the aarch64 build was skipped" >&2
fi
echo "knock: the whole run took $((SECONDS - start)) s after installing" >&2
