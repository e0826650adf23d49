# Shared part of knock's cross toolchain files: Debian's cross compilers (crossbuild-essential-<arch>)
# and the target's libraries, either installed multiarch (libcrypto++-dev:<arch>, libpcap-dev:<arch>,
# ...) or unpacked into a sysroot (cmake/make-sysroot.sh); cmake/install-deps.sh --cross <arch> makes
# either. The including file sets knock_cross_triple (aarch64-linux-gnu), knock_cross_qemu (aarch64),
# knock_cross_arch (Debian's name: arm64) and, for a sysroot, knock_cross_sysroot. Programs built for the target run under
# qemu-user-static: CTest and gtest_discover_tests go through CMAKE_CROSSCOMPILING_EMULATOR.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${knock_cross_triple}-gcc)
set(CMAKE_CXX_COMPILER ${knock_cross_triple}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${knock_cross_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_PATH} "")
if(knock_cross_sysroot)
  # The target's packages unpacked into a root of their own (cmake/make-sysroot.sh): the compiler,
  # find_* and pkg-config look only there.
  if(NOT EXISTS ${knock_cross_sysroot}/.knock-sysroot)
    message(FATAL_ERROR "no ${knock_cross_triple} sysroot at ${knock_cross_sysroot}: "
                        "run cmake/install-deps.sh --cross ${knock_cross_arch} (it runs cmake/make-sysroot.sh)")
  endif()
  set(CMAKE_SYSROOT ${knock_cross_sysroot})
  set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
  set(ENV{PKG_CONFIG_SYSROOT_DIR} ${knock_cross_sysroot})
  set(ENV{PKG_CONFIG_LIBDIR}
      ${knock_cross_sysroot}/usr/lib/${knock_cross_triple}/pkgconfig:${knock_cross_sysroot}/usr/share/pkgconfig)
  set(knock_cross_target_root ${knock_cross_sysroot})
else()
  # Multiarch: find_library looks in /usr/lib/<triple>; headers are shared with the build machine's.
  # pkg-config must describe the target's libraries, never the build machine's.
  set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${knock_cross_triple}/pkgconfig:/usr/share/pkgconfig)
  set(knock_cross_target_root /usr/${knock_cross_triple})
endif()
find_program(knock_cross_emulator qemu-${knock_cross_qemu}-static)
if(knock_cross_emulator)
  # -L: the target's root, for the paths the program opens. The program is started through the
  # target's dynamic loader (knock_cross_loader, set by the including file) rather than loaded by
  # qemu itself: with Debian 12's qemu-user 7.2 on a recent host kernel (seen on 6.18), a
  # dynamically linked program that qemu loads spins for ever in its first pthread_create
  # (a five-line C program does it; a static one, or the same one started through ld.so, does
  # not).
  set(knock_cross_libraries
      ${knock_cross_target_root}/lib:${knock_cross_target_root}/lib/${knock_cross_triple}:${knock_cross_target_root}/usr/lib/${knock_cross_triple})
  if(NOT knock_cross_sysroot)
    string(APPEND knock_cross_libraries :/usr/lib/${knock_cross_triple}:/lib/${knock_cross_triple})
  endif()
  set(CMAKE_CROSSCOMPILING_EMULATOR ${knock_cross_emulator} -L ${knock_cross_target_root}
      ${knock_cross_target_root}/lib/${knock_cross_loader} --library-path ${knock_cross_libraries})
endif()
