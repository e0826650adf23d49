#!/usr/bin/env bash
# Installs what building and testing knock needs, from Debian 12's packages only. Idempotent and quiet
# when everything is already there. Needs root (or sudo) only when something is missing.
#   cmake/install-deps.sh                  the native build and every test
#   cmake/install-deps.sh --cross arm64    also the aarch64 cross build (cmake --preset aarch64) and
#                                          qemu-user-static for its tests; --cross armhf: 32-bit ARM
set -euo pipefail

cross=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cross) cross+=("$2"); shift 2 ;;
    *) echo "install-deps.sh: unknown argument '$1' (usage: install-deps.sh [--cross arm64|armhf]...)" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake pkg-config            # toolchain
  libcrypto++-dev libpcap-dev libboost-dev    # what the library's headers use
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev  # tests and benchmarks
  fwknop-client fwknop-server libfko3-dev     # the real fwknop peers the tests talk to
  iproute2 iptables nftables libnftables-dev socat python3       # namespaces, firewalls, senders
  libcap2-bin                                 # capsh: e2e_fault_firewall starts the daemon without CAP_NET_ADMIN
  systemd                                     # systemd-analyze verify: the knock-server unit
  sudo                                        # ENABLE_CMD_SUDO_EXEC runs commands through it
  valgrind gnuplot-nox                        # bench/run.sh: instruction counts and plots
  clang libclang-rt-14-dev                    # test/fuzz: libFuzzer harnesses
  firewalld autoconf automake libtool dbus     # test/firewall/oracle: real firewalld in a netns, the fwknopd oracle build
  libgpgme-dev gnupg gpg-agent                # knock::gpg (GnuPG cipher) and test/gnupg keyrings
  libhiredis-dev redis-server redis-tools     # knock::redis (Redis replay store), its tests and e2e_redis_pair
)
# Cross builds: Debian's cross compiler and the target's libraries, multiarch. Not gpgme (Debian's
# libgpgme-dev is not multiarch-installable: the cross presets build with KNOCK_WITH_GNUPG=OFF) and
# not libbenchmark / libfko (no benchmarks under emulation).
for arch in "${cross[@]}"; do
  case "$arch" in
    arm64) packages+=(crossbuild-essential-arm64) ;;
    armhf) packages+=(crossbuild-essential-armhf) ;;
    *) echo "install-deps.sh: --cross $arch: knock's presets cross-build for arm64 and armhf" >&2; exit 2 ;;
  esac
  packages+=(qemu-user-static "libcrypto++-dev:$arch" "libpcap-dev:$arch" "libboost-dev:$arch"
             "libgtest-dev:$arch" "libnftables-dev:$arch" "libhiredis-dev:$arch")
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "knock: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
for arch in "${cross[@]}"; do
  dpkg --print-foreign-architectures | grep -qx "$arch" || "${sudo[@]}" dpkg --add-architecture "$arch"
done
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
