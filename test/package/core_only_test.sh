#!/usr/bin/env bash
# core_only_test.sh <knock build dir> <knock source dir> <scratch dir> <cmake> <ctest> <c++> <generator>
#
# A user of knock::core alone needs neither libpcap nor libnftables. Installs knock (every component)
# into <scratch>/prefix-full, then, in a private mount namespace where libpcap's and libnftables'
# headers, libraries and pkg-config files are hidden (bind mounts of an empty file or directory over
# each; the host's files are never touched), checks that
#   1. they really are hidden (a compile or link against them fails), so the rest means something;
#   2. find_package(knock COMPONENTS pcap), COMPONENTS nftables and no COMPONENTS (= all) fail to
#      configure, naming the missing component;
#   3. core_consumer/ (find_package(knock COMPONENTS core), knock::core) configures, builds and runs,
#      and neither its generated build files nor its binary name libpcap or libnftables (a control
#      outside the namespace proves the same check sees them in a knock::knock consumer);
#   4. knock itself configures there with tests, examples and benchmarks OFF, installs knock::core
#      without the pcap and nftables components, and find_package(knock) against that install works.
# Needs root (mount namespaces); exits 77 (CTest: skipped) otherwise.
set -euo pipefail
inside=0
if [ "${1:-}" = --inside ]; then
  inside=1
  shift
fi
if [ $# -ne 7 ]; then
  echo "usage: $0 <build dir> <source dir> <scratch dir> <cmake> <ctest> <c++> <generator>" >&2
  exit 2
fi
build=$1 source=$2 work=$3 cmake=$4 ctest=$5 cxx=$6 generator=$7
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
full=$work/prefix-full

fail() { echo "FAIL: $*" >&2; exit 1; }
# The files of a build tree that hold compile and link lines (Makefiles or Ninja).
build_lines() {
  find "$1" -type f \( -name link.txt -o -name flags.make -o -name build.ninja -o -name '*.rsp' \)
}
names_pcap_or_nft() { grep -Eil -- '-lpcap|libpcap|-lnftables|libnftables|hiredis' $(build_lines "$1"); }

if [ "$inside" -eq 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root (hides libpcap and libnftables with bind mounts in a private mount namespace)"
    exit 77
  fi
  command -v unshare >/dev/null || { echo "SKIP: unshare (util-linux) not found"; exit 77; }
  rm -rf "$work"
  mkdir -p "$work"
  "$cmake" --install "$build" --prefix "$full" >"$work/install.log" 2>&1 ||
    fail "cmake --install $build --prefix $full: $(cat "$work/install.log")"
  config=$(find "$full" -name knockConfig.cmake)
  [ -n "$config" ] || fail "the install has no knockConfig.cmake"
  config_dir=$(dirname "$config")
  for component in core pcap nftables; do
    [ -f "$config_dir/knock-$component-targets.cmake" ] ||
      fail "the install has no knock-$component-targets.cmake (is $build configured with every component?)"
  done
  if grep -Eiq 'pcap|nftables' "$config_dir/knock-core-targets.cmake"; then
    fail "knock::core's export names pcap or nftables:
$(grep -Ei 'pcap|nftables' "$config_dir/knock-core-targets.cmake")"
  fi

  # Control for check 3: here, where libpcap is visible, a knock::knock consumer's build files name it.
  "$cmake" -S "$here/consumer" -B "$work/full-consumer" -G "$generator" -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_PREFIX_PATH="$full" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$work/full-consumer.log" 2>&1 ||
    fail "control: the knock::knock consumer does not configure: $(cat "$work/full-consumer.log")"
  names_pcap_or_nft "$work/full-consumer" >/dev/null ||
    fail "control: the knock::knock consumer's build files do not name libpcap, so check 3 could not see it"
  echo "control: the knock::knock consumer links $(grep -Eoh '[^ ]*lib(pcap|nftables)[^ ]*' \
    $(build_lines "$work/full-consumer") | sort -u | tr '\n' ' ')"

  exec unshare --mount --propagation private bash "${BASH_SOURCE[0]}" --inside "$@"
fi

# --- inside the private mount namespace -----------------------------------------------------------
shopt -s nullglob
empty_file=$work/empty-file
empty_dir=$work/empty-dir
: >"$empty_file"
mkdir -p "$empty_dir"
hidden=()
for path in /usr/include/pcap.h /usr/include/pcap-*.h /usr/include/pcap /usr/include/nftables \
            /usr/local/include/pcap.h /usr/local/include/pcap /usr/local/include/nftables \
            /usr/lib/*/libpcap.* /usr/lib/*/libnftables.* /usr/lib/libpcap.* /usr/lib/libnftables.* \
            /usr/local/lib/libpcap.* /usr/local/lib/libnftables.* \
            /usr/lib/*/pkgconfig/libpcap.pc /usr/lib/*/pkgconfig/libnftables.pc \
            /usr/lib/pkgconfig/libpcap.pc /usr/lib/pkgconfig/libnftables.pc /usr/share/pkgconfig/libpcap.pc \
            /usr/local/lib/pkgconfig/libpcap.pc /usr/local/lib/pkgconfig/libnftables.pc \
            /usr/include/hiredis /usr/lib/*/libhiredis.* /usr/lib/*/pkgconfig/hiredis.pc; do
  [ -e "$path" ] || continue      # nullglob drops unmatched patterns, not absent literal paths
  target=$(readlink -f "$path")  # a bind mount over a symlink covers the file it points to
  if [ -d "$target" ]; then
    mount --bind "$empty_dir" "$target"
  else
    mount --bind "$empty_file" "$target"
  fi
  hidden+=("$path")
done
echo "hidden in this mount namespace (${#hidden[@]}): ${hidden[*]}"

# 1. Hidden for real: empty, and neither the compiler nor the linker finds them.
for path in "${hidden[@]}"; do
  if [ -d "$path" ]; then
    [ -z "$(ls -A "$path")" ] || fail "$path is still populated"
  else
    [ ! -s "$path" ] || fail "$path still has content"
  fi
done
[ ! -e /usr/include/pcap/pcap.h ] || fail "/usr/include/pcap/pcap.h still exists"
[ ! -e /usr/include/nftables/libnftables.h ] || fail "/usr/include/nftables/libnftables.h still exists"
for probe in pcap.h:pcap_t pcap/pcap.h:pcap_t nftables/libnftables.h:nft_ctx; do
  header=${probe%:*} type=${probe#*:}
  if printf '#include <%s>\n%s* p = nullptr;\nint main() {}\n' "$header" "$type" |
       "$cxx" -x c++ -fsyntax-only - 2>/dev/null; then
    fail "<$header> still declares $type"
  fi
done
# (ld reads an empty lib*.so as an empty linker script, so -lpcap alone still "links": the probe calls
# a function from each library.)
for probe in pcap:pcap_lib_version nftables:nft_ctx_new; do
  library=${probe%:*} function=${probe#*:}
  if printf 'extern "C" int %s();\nint main() { return %s(); }\n' "$function" "$function" |
       "$cxx" -x c++ - -o "$work/probe" -l"$library" 2>/dev/null; then
    fail "-l$library still provides $function"
  fi
done
if command -v pkg-config >/dev/null && pkg-config --exists libpcap libnftables 2>/dev/null; then
  fail "pkg-config still finds libpcap or libnftables"
fi
echo "check 1: pcap_t (<pcap.h>, <pcap/pcap.h>), nft_ctx (<nftables/libnftables.h>), pcap_lib_version"
echo "         (-lpcap) and nft_ctx_new (-lnftables) are gone"

# 2. A component that needs them must not be found; the message names it.
expect_configure_failure() {  # <name> <find_package arguments> <text the output must contain>
  local dir=$work/$1
  mkdir -p "$dir"
  printf 'cmake_minimum_required(VERSION 3.21)\nproject(%s LANGUAGES CXX)\nfind_package(%s)\n' \
    "$1" "$2" >"$dir/CMakeLists.txt"
  if "$cmake" -S "$dir" -B "$dir/build" -G "$generator" -DCMAKE_CXX_COMPILER="$cxx" \
       -DCMAKE_PREFIX_PATH="$3" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$dir/log" 2>&1; then
    fail "find_package($2) configured against $3 without libpcap/libnftables:
$(cat "$dir/log")"
  fi
  grep -Fq -- "$4" "$dir/log" || fail "find_package($2) failed, but not naming '$4':
$(cat "$dir/log")"
  echo "check: find_package($2) fails as it must: $(grep -F -m1 -- "$4" "$dir/log" | sed 's/^ *//')"
}
expect_configure_failure wants_pcap "knock 0.1 REQUIRED COMPONENTS pcap" "$full" 'component "pcap"'
expect_configure_failure wants_nftables "knock 0.1 REQUIRED COMPONENTS nftables" "$full" \
  'component "nftables"'
expect_configure_failure wants_all "knock 0.1 REQUIRED" "$full" 'component "pcap"'
if [ -n "$(find "$full" -name knock-redis-targets.cmake)" ]; then  # hiredis is hidden too
  expect_configure_failure wants_redis "knock 0.1 REQUIRED COMPONENTS redis" "$full" 'component "redis"'
fi

# 3. The knock::core consumer configures, builds and runs, and links neither library.
"$ctest" --build-and-test "$here/core_consumer" "$work/core-consumer" --build-generator "$generator" \
  --build-options -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$full" \
                  -DKNOCK_EXPECTED_PREFIX="$full" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  --test-command "$work/core-consumer/core_consumer" >"$work/core-consumer.log" 2>&1 ||
  fail "the knock::core consumer failed to configure, build or run without libpcap/libnftables:
$(cat "$work/core-consumer.log")"
grep -q '^knock core consumer: OK' "$work/core-consumer.log" ||
  fail "the knock::core consumer did not print 'knock core consumer: OK': $(cat "$work/core-consumer.log")"
if names_pcap_or_nft "$work/core-consumer" >/dev/null; then
  fail "the knock::core consumer's compile/link lines name libpcap or libnftables:
$(grep -Ei -- '-lpcap|libpcap|-lnftables|libnftables' $(build_lines "$work/core-consumer"))"
fi
if readelf -d "$work/core-consumer/core_consumer" | grep -Ei 'NEEDED.*(pcap|nftables|hiredis)'; then
  fail "the knock::core consumer's binary needs libpcap or libnftables"
fi
echo "check 3: the knock::core consumer built and ran ($(grep '^knock core consumer' \
  "$work/core-consumer.log")); no -lpcap/-lnftables in its build lines, none NEEDED"

# 4. knock configures here with tests, examples and benchmarks OFF: only knock::core.
"$cmake" -S "$source" -B "$work/knock-core-only" -G "$generator" -DCMAKE_CXX_COMPILER="$cxx" \
  -DKNOCK_BUILD_TESTS=OFF -DKNOCK_BUILD_EXAMPLES=OFF -DKNOCK_BUILD_BENCH=OFF \
  >"$work/knock-core-only.log" 2>&1 ||
  fail "knock does not configure without libpcap/libnftables: $(cat "$work/knock-core-only.log")"
grep -q 'component pcap left out' "$work/knock-core-only.log" ||
  fail "knock configured, but did not leave out the pcap component: $(cat "$work/knock-core-only.log")"
"$cmake" --install "$work/knock-core-only" --prefix "$work/prefix-core" >/dev/null
core_config_dir=$(dirname "$(find "$work/prefix-core" -name knockConfig.cmake)")
[ -f "$core_config_dir/knock-core-targets.cmake" ] || fail "the core-only install lacks knock::core"
[ ! -e "$core_config_dir/knock-pcap-targets.cmake" ] || fail "the core-only install has knock::pcap"
"$cmake" -S "$here/core_consumer" -B "$work/core-consumer-core-only" -G "$generator" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$work/prefix-core" \
  -DKNOCK_EXPECTED_PREFIX="$work/prefix-core" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  >"$work/core-consumer-core-only.log" 2>&1 ||
  fail "the knock::core consumer does not configure against the core-only install:
$(cat "$work/core-consumer-core-only.log")"
expect_configure_failure core_only_wants_pcap "knock 0.1 REQUIRED COMPONENTS pcap" "$work/prefix-core" \
  'component "pcap" is not in this install'
echo "check 4: knock configured without libpcap/libnftables (tests/examples/bench OFF); its install"
echo "         has knock::core only, and find_package(knock COMPONENTS core) works against it"
echo "knock core-only package test: OK"
