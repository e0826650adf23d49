#!/usr/bin/env bash
# fwknop_client_live.sh WIRE_TEST - the installed fwknop client's packets, made now with its real clock
# and randomness for every mode x HMAC x message type, are decoded by knock field for field (as libfko
# decodes them) and re-encoded byte for byte.
set -uo pipefail
wire_test=${1:?usage: fwknop_client_live.sh path/to/wire_test}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$here/../tools/regen_client_vectors.sh" --live --out "$tmp/live.json" || exit $?
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["vectors"]))' "$tmp/live.json")
echo "fwknop client made $n packets"
out=$(KNOCK_LIVE_VECTORS="$tmp/live.json" "$wire_test" --gtest_filter='live/*' 2>&1)
rc=$?
echo "$out" | grep -E '^\[ +(FAILED|PASSED) +\]|Failure' | head -40
# Two tests per packet must have run: a filter that matched nothing would otherwise pass.
grep -q "^\[  PASSED  \] $((2 * n)) tests" <<<"$out" || { echo "expected $((2 * n)) passing tests"; exit 1; }
exit $rc
