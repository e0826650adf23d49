# Finds gpgme (Debian: libgpgme-dev) through pkg-config and defines Gpgme::Gpgme, for
# knock/cipher/gnupg.hpp.
include(FindPackageHandleStandardArgs)
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_GPGME QUIET gpgme)
endif()
find_path(GPGME_INCLUDE_DIR NAMES gpgme.h HINTS ${PC_GPGME_INCLUDE_DIRS})
find_library(GPGME_LIBRARY NAMES gpgme HINTS ${PC_GPGME_LIBRARY_DIRS})
set(GPGME_VERSION ${PC_GPGME_VERSION})
find_package_handle_standard_args(Gpgme
  REQUIRED_VARS GPGME_LIBRARY GPGME_INCLUDE_DIR
  VERSION_VAR GPGME_VERSION)
if(Gpgme_FOUND AND NOT TARGET Gpgme::Gpgme)
  add_library(Gpgme::Gpgme UNKNOWN IMPORTED)
  set_target_properties(Gpgme::Gpgme PROPERTIES
    IMPORTED_LOCATION "${GPGME_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${GPGME_INCLUDE_DIR}")
endif()
mark_as_advanced(GPGME_INCLUDE_DIR GPGME_LIBRARY)
