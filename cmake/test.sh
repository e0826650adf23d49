#!/usr/bin/env bash
# The whole test suite: installs what is missing (Debian packages), builds, runs every test.
# Root-only tests (network namespaces, real fwknopd, kernel firewalls) skip with a message otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash cmake/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2
ctest --test-dir build --output-on-failure -j2 --timeout 1200
