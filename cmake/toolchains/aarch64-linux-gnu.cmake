# 64-bit ARM (Debian arm64): cmake --preset aarch64. See debian-cross.cmake.
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(knock_cross_triple aarch64-linux-gnu)
set(knock_cross_qemu aarch64)
set(knock_cross_arch arm64)
set(knock_cross_loader ld-linux-aarch64.so.1)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
