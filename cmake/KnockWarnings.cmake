# knock_strict(target): the warnings knock's own tests, examples and benchmarks build with.
# Never applied to the library's INTERFACE targets, so consumers keep their own flags.
# -Werror only with KNOCK_WERROR=ON (cmake/test.sh, cmake/sanitize.sh, cmake/build-matrix.sh and the
# CI turn it on; a user building with another compiler is not stopped by a new warning).
function(knock_strict target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
    $<$<BOOL:${KNOCK_WERROR}>:-Werror>
    $<$<CXX_COMPILER_ID:GNU>:-fconcepts-diagnostics-depth=2>)
endfunction()

# knock_gcc12_no_restrict(<source>...): -Wno-restrict for these files, with g++ 12 only. At -O2/-O3 g++
# 12 reports -Wrestrict inside libstdc++'s basic_string::_M_replace for "'" + std::string, a false
# positive (GCC PR 105329). knock's headers build messages that way (knock/config/values.hpp,
# knock/detail/process.hpp), and the warning shows where a test file happens to inline one. Name the
# files, never a whole target.
function(knock_gcc12_no_restrict)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    set_property(SOURCE ${ARGN} APPEND PROPERTY COMPILE_OPTIONS -Wno-restrict)
  endif()
endfunction()

# g++ 12 with -fsanitize=address at -O1 warns -Wmaybe-uninitialized inside libstdc++'s std::regex
# (std::function members of its NFA states, GCC PR 105562); for the test files that use std::regex.
function(knock_gcc12_no_maybe_uninitialized)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    set_property(SOURCE ${ARGN} APPEND PROPERTY COMPILE_OPTIONS -Wno-maybe-uninitialized)
  endif()
endfunction()
