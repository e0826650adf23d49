# Shared part of knock's cross toolchain files: Debian's cross compilers (crossbuild-essential-<arch>)
# and the target's libraries installed multiarch (libcrypto++-dev:<arch>, libpcap-dev:<arch>, ...;
# cmake/install-deps.sh --cross <arch> installs them). The including file sets knock_cross_triple
# (aarch64-linux-gnu) and knock_cross_qemu (aarch64). Programs built for the target run under
# qemu-user-static: CTest and gtest_discover_tests go through CMAKE_CROSSCOMPILING_EMULATOR.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${knock_cross_triple}-gcc)
set(CMAKE_CXX_COMPILER ${knock_cross_triple}-g++)
# find_library looks in /usr/lib/<triple> (multiarch); headers are shared with the build machine's.
set(CMAKE_LIBRARY_ARCHITECTURE ${knock_cross_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# pkg-config must describe the target's libraries, never the build machine's.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${knock_cross_triple}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
find_program(knock_cross_emulator qemu-${knock_cross_qemu}-static)
if(knock_cross_emulator)
  # -L: the target's dynamic loader and libraries (libc6:<arch>, multiarch, is also found without).
  set(CMAKE_CROSSCOMPILING_EMULATOR ${knock_cross_emulator} -L /usr/${knock_cross_triple})
endif()
