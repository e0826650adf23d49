# Finds libnftables (Debian: libnftables-dev) through pkg-config and defines Nftables::Nftables,
# for knock/firewall/nftables.hpp.
include(FindPackageHandleStandardArgs)
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_NFTABLES QUIET libnftables)
endif()
find_path(NFTABLES_INCLUDE_DIR NAMES nftables/libnftables.h HINTS ${PC_NFTABLES_INCLUDE_DIRS})
find_library(NFTABLES_LIBRARY NAMES nftables HINTS ${PC_NFTABLES_LIBRARY_DIRS})
set(NFTABLES_VERSION ${PC_NFTABLES_VERSION})
find_package_handle_standard_args(Nftables
  REQUIRED_VARS NFTABLES_LIBRARY NFTABLES_INCLUDE_DIR
  VERSION_VAR NFTABLES_VERSION)
if(Nftables_FOUND AND NOT TARGET Nftables::Nftables)
  add_library(Nftables::Nftables UNKNOWN IMPORTED)
  set_target_properties(Nftables::Nftables PROPERTIES
    IMPORTED_LOCATION "${NFTABLES_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${NFTABLES_INCLUDE_DIR}")
endif()
mark_as_advanced(NFTABLES_INCLUDE_DIR NFTABLES_LIBRARY)
