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
  prometheus python3-prometheus-client        # e2e_metrics scrapes knock-server; the text format's parser
  libhiredis-dev libssl-dev redis-server redis-tools redis-sentinel  # knock::redis (Redis replay store; OpenSSL: rediss://), its tests, e2e_redis_pair/_sentinel
  openssl                                     # the TLS tests make their certificates with it (redis_tls_test, e2e_redis_pair)
)
# Cross builds: Debian's cross compiler and the target's libraries, multiarch. Not gpgme (Debian's
# libgpgme-dev is not multiarch-installable: the cross presets build with KNOCK_WITH_GNUPG=OFF) and
# not libbenchmark / libfko (no benchmarks under emulation).
# armhf's libraries are unpacked into a sysroot instead (cmake/make-sysroot.sh says why).
sysroots=()
for arch in "${cross[@]}"; do
  case "$arch" in
    arm64) packages+=(crossbuild-essential-arm64 "libcrypto++-dev:$arch" "libpcap-dev:$arch"
                      "libboost-dev:$arch" "libgtest-dev:$arch" "libnftables-dev:$arch"
                      "libhiredis-dev:$arch" "libssl-dev:$arch") ;;
    armhf) packages+=(crossbuild-essential-armhf) sysroots+=("$arch") ;;
    *) echo "install-deps.sh: --cross $arch: knock's presets cross-build for arm64 and armhf" >&2; exit 2 ;;
  esac
  packages+=(qemu-user-static)
done
make_sysroots() {
  for arch in "${sysroots[@]}"; do
    bash "$(dirname "${BASH_SOURCE[0]}")/make-sysroot.sh" "$arch"
  done
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  make_sysroots
  exit 0
fi

echo "knock: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
for arch in "${cross[@]}"; do
  dpkg --print-foreign-architectures | grep -qx "$arch" || "${sudo[@]}" dpkg --add-architecture "$arch"
done
# A mirror caught mid-sync for one architecture's index fails the update; what the other indexes
# hold is still usable, and a package apt then cannot find fails the install below, by name.
"${sudo[@]}" apt-get update -qq || echo "knock: apt-get update reported errors (above); going on with the indexes it has" >&2
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
make_sysroots
