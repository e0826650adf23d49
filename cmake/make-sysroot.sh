#!/usr/bin/env bash
# A target root for a cross build, made of Debian's own packages for that architecture, unpacked
# (not installed) into /opt/knock-sysroots/<arch>: libc, libstdc++ and the libraries knock links
# (Crypto++, libpcap, libnftables, hiredis, OpenSSL, Boost's headers, GoogleTest) with everything
# they depend on.
#
# Why not multiarch (dpkg --add-architecture, as the arm64 build does): a package marked
# "Multi-Arch: same" (linux-libc-dev, libssl3, libsystemd0, ...) must have the same version for
# every architecture installed, and a mirror that carries bookworm-security for amd64 but not yet
# for armhf leaves the armhf side one point release behind: apt then cannot install
# libpcap-dev:armhf at all. Unpacked into a directory of its own, the target's packages never
# meet the build machine's, so their versions need not match. The compiler is still Debian's
# (crossbuild-essential-<arch>); the toolchain file passes this directory as CMAKE_SYSROOT, and
# qemu-user-static runs the tests with it as the target's root (-L).
#   cmake/make-sysroot.sh armhf        (cmake/install-deps.sh --cross armhf calls it)
# Idempotent: does nothing when the sysroot holds the package set this script names.
set -euo pipefail
arch=${1:?usage: make-sysroot.sh ARCH (armhf)}
root=${KNOCK_SYSROOT_BASE:-/opt/knock-sysroots}/$arch
wanted=(libc6-dev libstdc++-12-dev libcrypto++-dev libpcap-dev libnftables-dev libboost-dev libgtest-dev
        libhiredis-dev libssl-dev)
wanted_all=(nlohmann-json3-dev)  # architecture "all": the same files for every target
stamp="$root/.knock-sysroot"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${wanted[*]} ${wanted_all[*]}" ]; then
  exit 0
fi

dpkg --print-foreign-architectures | grep -qx "$arch" || { dpkg --add-architecture "$arch" && apt-get update -qq; }
# The closure of what the wanted packages depend on, for this architecture only. The build
# machine's own packages (pkg-config, dpkg) and the alternatives that pull in a second init
# system are not part of a target root.
mapfile -t packages < <(
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "${wanted[@]/%/:$arch}" 2>/dev/null |
    grep -E "^[a-z0-9].*:$arch\$" |
    grep -vE '^(dpkg|libc-dev-bin|pkgconf|libpkgconf3|libelogind0|lib(asan|ubsan|lsan|tsan|hwasan|gomp|itm|atomic)[0-9]*):' |
    sort -u)
packages+=("${wanted_all[@]}")
[ ${#packages[@]} -gt 0 ] || { echo "make-sysroot.sh: apt knows no $arch packages (is the architecture added and apt updated?)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # apt's download user must be able to write here
echo "knock: unpacking ${#packages[@]} $arch packages into $root" >&2
(cd "$work" && apt-get download -qq "${packages[@]}" 2>/dev/null) ||
  { echo "make-sysroot.sh: apt-get download failed for $arch" >&2; exit 1; }
rm -rf "$root.new"
mkdir -p "$root.new"
for deb in "$work"/*.deb; do
  dpkg-deb -x "$deb" "$root.new"
done
# Absolute symbolic links inside the root (e.g. lib -> /usr/lib, libfoo.so -> /lib/...) must
# point into the root, not at the build machine's files.
find "$root.new" -type l -lname '/*' | while read -r link; do
  target="$root.new$(readlink "$link")"
  ln -sfn "$(realpath -ms --relative-to="$(dirname "$link")" "$target")" "$link"
done
echo "${wanted[*]} ${wanted_all[*]}" >"$root.new/.knock-sysroot"
rm -rf "$root"
mv "$root.new" "$root"
