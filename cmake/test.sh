#!/usr/bin/env bash
# The whole test suite: installs what is missing (Debian packages), builds with -Werror (KNOCK_WERROR),
# runs every test. Root-only tests (network namespaces, real fwknopd, kernel firewalls) skip with a
# message otherwise. The suite's own build is Release (g++ -O3: the optimiser that finds the most
# warnings). Then the same suite again under AddressSanitizer + UndefinedBehaviorSanitizer
# (cmake/sanitize.sh, -O1 debug build; KNOCK_SKIP_SANITIZERS=1 leaves that out for a quick local run),
# then the build matrix (cmake/build-matrix.sh: the whole tree with clang++, -Werror, no tests;
# KNOCK_SKIP_BUILD_MATRIX=1 leaves it out), then the ARM build (cmake/cross.sh: aarch64 with Debian's
# cross compiler, its unit tests under qemu-user-static; KNOCK_SKIP_CROSS=1 leaves it out). They run
# one after the other: the suite's timing checks (e2e grants, the flood) must not share the two cores
# with a compiler.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash cmake/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKNOCK_WERROR=ON >/dev/null
cmake --build build -j2
ctest --test-dir build --output-on-failure -j2 --timeout 1200
if [ "${KNOCK_SKIP_SANITIZERS:-0}" != 1 ]; then
  bash cmake/sanitize.sh
else
  echo "knock: KNOCK_SKIP_SANITIZERS=1: the sanitizer run was skipped" >&2
fi
if [ "${KNOCK_SKIP_BUILD_MATRIX:-0}" != 1 ]; then
  bash cmake/build-matrix.sh
else
  echo "knock: KNOCK_SKIP_BUILD_MATRIX=1: the build matrix was skipped" >&2
fi
if [ "${KNOCK_SKIP_CROSS:-0}" != 1 ]; then
  bash cmake/cross.sh
else
  echo "knock: KNOCK_SKIP_CROSS=1: the aarch64 build was skipped" >&2
fi
