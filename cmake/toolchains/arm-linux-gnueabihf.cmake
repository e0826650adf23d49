# 32-bit ARM, hard float (Debian armhf): cmake --preset armhf. See debian-cross.cmake.
# The target's libraries come from a sysroot of Debian armhf packages unpacked by
# cmake/make-sysroot.sh (cmake/install-deps.sh --cross armhf makes it), not from multiarch: see
# that script for why. KNOCK_SYSROOT_BASE moves it (default /opt/knock-sysroots).
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(knock_cross_triple arm-linux-gnueabihf)
set(knock_cross_qemu arm)
set(knock_cross_arch armhf)
if(DEFINED ENV{KNOCK_SYSROOT_BASE})
  set(knock_cross_sysroot $ENV{KNOCK_SYSROOT_BASE}/armhf)
else()
  set(knock_cross_sysroot /opt/knock-sysroots/armhf)
endif()
set(knock_cross_loader ld-linux-armhf.so.3)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
# g++ notes, for every std::vector of a large struct, that 32-bit ARM passes it as GCC 7.1 began to
# (-Wpsabi): about linking with code built by GCC 6, which no Debian 12 library is.
set(CMAKE_CXX_FLAGS_INIT -Wno-psabi)
