#!/usr/bin/env bash
# The main job, for now: build knock and run an example that makes an SPA packet and opens it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash cmake/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target roundtrip
echo "== knock makes an SPA packet for 'alice' asking tcp/22 for 10.0.0.5, then opens it as fwknopd would"
./build/examples/roundtrip
