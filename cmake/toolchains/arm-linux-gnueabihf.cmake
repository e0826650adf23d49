# 32-bit ARM, hard float (Debian armhf): cmake --preset armhf. See debian-cross.cmake.
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(knock_cross_triple arm-linux-gnueabihf)
set(knock_cross_qemu arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
