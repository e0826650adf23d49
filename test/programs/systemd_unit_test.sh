#!/bin/sh
# The systemd unit (examples/knock-server/knock-server.service) passes `systemd-analyze verify`
# with its ExecStart pointed at the built knock-server: every directive known, every path absolute,
# the binary executable. Skips (77) without systemd-analyze. Its confinement is exercised by
# test/e2e/e2e_privileges.sh (the daemon under the unit's bounding set and no_new_privs).
set -eu
server=${1:?knock-server} unit=${2:?knock-server.service}
command -v systemd-analyze >/dev/null 2>&1 || { echo "SKIP: systemd-analyze not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|^ExecStart=/usr/sbin/knock-server|ExecStart=$server|" "$unit" > "$tmp/knock-server.service"
grep -q "^ExecStart=$server " "$tmp/knock-server.service" || { echo "FAILED: no ExecStart=/usr/sbin/knock-server line"; exit 1; }
if out=$(systemd-analyze verify --man=no "$tmp/knock-server.service" 2>&1) && [ -z "$out" ]; then
  echo "ok: systemd-analyze verify accepts the unit, without a warning"
else
  echo "FAILED: systemd-analyze verify:"; echo "$out"; exit 1
fi
