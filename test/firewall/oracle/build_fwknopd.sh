#!/bin/bash
# Builds fwknopd 2.6.11 (the GPL reference, a test oracle only) for PF, ipfw and firewalld, each
# configured with a placeholder tool path (the tests set FIREWALL_EXE to their recording stub).
# Usage: build_fwknopd.sh TARBALL CACHE_DIR
# Leaves CACHE_DIR/<sha256 of the tarball>/fwknopd-{pf,ipfw,firewalld} and CACHE_DIR/current
# pointing there; a second run with the same tarball does nothing (exit 77 without the tarball).
# The three configure + make runs go in parallel from one autogen; fwknopd is linked statically.
set -euo pipefail
tarball=$1 cache=$(realpath -m "$2")  # absolute: configure runs from each build directory
[ -r "$tarball" ] || { echo "no reference tarball at $tarball"; exit 77; }
for t in autoreconf libtoolize make cc; do
  command -v "$t" >/dev/null || { echo "needs $t (autoconf automake libtool)"; exit 77; }
done
hash=$(sha256sum "$tarball" | cut -c1-16)
out=$cache/$hash
built() {
  [ -x "$out/fwknopd-pf" ] && [ -x "$out/fwknopd-ipfw" ] && [ -x "$out/fwknopd-firewalld" ] &&
    ln -sfn "$hash" "$cache/current"
}
built && exit 0
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9  # CTest may start several oracle tests at once: one builds, the others wait
built && exit 0
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xf "$tarball"
src=$(echo "$work"/fwknop-*)
(cd "$src" && ./autogen.sh) >"$work/autogen.log" 2>&1 || { tail -20 "$work/autogen.log"; exit 1; }
build() {  # $1: pf|ipfw|firewalld
  local b=$work/build-$1
  mkdir -p "$b"
  (cd "$b" && "$src/configure" --with-"$1"=/usr/sbin/knock-oracle-stub-$1 --disable-client \
      --without-gpgme --disable-nfq-capture --disable-shared --prefix=/nonexistent &&
    make -C common && make -C lib && make -C server fwknopd) >"$b/build.log" 2>&1 ||
    { tail -30 "$b/build.log"; return 1; }
}
pids=()
for fw in pf ipfw firewalld; do build "$fw" & pids+=($!); done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
[ $rc = 0 ] || exit 1
mkdir -p "$out.tmp"
for fw in pf ipfw firewalld; do cp "$work/build-$fw/server/fwknopd" "$out.tmp/fwknopd-$fw"; done
rm -rf "$out"
mv "$out.tmp" "$out"
built
