# Finds Crypto++ (Debian: libcrypto++-dev) through pkg-config and defines CryptoPP::CryptoPP.
include(FindPackageHandleStandardArgs)
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_CryptoPP QUIET libcrypto++)
endif()
find_path(CryptoPP_INCLUDE_DIR NAMES cryptopp/cryptlib.h HINTS ${PC_CryptoPP_INCLUDE_DIRS})
find_library(CryptoPP_LIBRARY NAMES crypto++ cryptopp HINTS ${PC_CryptoPP_LIBRARY_DIRS})
set(CryptoPP_VERSION ${PC_CryptoPP_VERSION})
find_package_handle_standard_args(CryptoPP
  REQUIRED_VARS CryptoPP_LIBRARY CryptoPP_INCLUDE_DIR
  VERSION_VAR CryptoPP_VERSION)
if(CryptoPP_FOUND AND NOT TARGET CryptoPP::CryptoPP)
  add_library(CryptoPP::CryptoPP UNKNOWN IMPORTED)
  set_target_properties(CryptoPP::CryptoPP PROPERTIES
    IMPORTED_LOCATION "${CryptoPP_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CryptoPP_INCLUDE_DIR}")
endif()
mark_as_advanced(CryptoPP_INCLUDE_DIR CryptoPP_LIBRARY)
