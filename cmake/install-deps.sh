#!/usr/bin/env bash
# Installs what building and testing knock needs, from Debian 12's packages only. Idempotent and quiet
# when everything is already there. Needs root (or sudo) only when something is missing.
set -euo pipefail

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
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "knock: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
