# cmake -DBUILD_DIR=<build tree> -DTARGET=<object target> -DSOURCE=<its .cpp> -P check_compile.cmake
#
# Builds TARGET and compares the outcome with the expectation on SOURCE's first lines:
#   // expect-error: <text>  the build must fail and the first "error:" line must contain <text>
#                            (a failure for any other reason, e.g. a typo in the case, does not count)
#   // expect-also: <text>   (any number, with expect-error) <text> appears somewhere in the output,
#                            e.g. the requirement g++ names under -fconcepts-diagnostics-depth=2
#   // expect-success        the build must succeed
foreach(var BUILD_DIR TARGET SOURCE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_compile.cmake: -D${var}=... is required")
  endif()
endforeach()

file(STRINGS ${SOURCE} expectation LIMIT_COUNT 1 REGEX "^// expect-(error: .+|success)$")
if(NOT expectation)
  message(FATAL_ERROR "${SOURCE}: no '// expect-error: <text>' or '// expect-success' line")
endif()

execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${TARGET}
                RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)

if(expectation STREQUAL "// expect-success")
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${SOURCE} must compile, but the build failed (${status}):\n${output}")
  endif()
  message(STATUS "${SOURCE} compiles, as expected")
  return()
endif()

string(REGEX REPLACE "^// expect-error: " "" expected "${expectation}")
if(status EQUAL 0)
  message(FATAL_ERROR "${SOURCE} must not compile, but it did. Expected the error:\n  ${expected}")
endif()
string(REGEX MATCH "[^\n]*error:[^\n]*" first_error "${output}")
if(NOT first_error)
  message(FATAL_ERROR "${SOURCE}: the build failed (${status}) without a compiler error:\n${output}")
endif()
string(FIND "${first_error}" "${expected}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${SOURCE} failed to compile, but its first error is not the expected one.\n"
                      "expected: ${expected}\nfirst error: ${first_error}\nfull output:\n${output}")
endif()
file(STRINGS ${SOURCE} also REGEX "^// expect-also: .+$")
foreach(line IN LISTS also)
  string(REGEX REPLACE "^// expect-also: " "" text "${line}")
  string(FIND "${output}" "${text}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${SOURCE} fails with the expected error, but the output never mentions\n"
                        "  ${text}\nfull output:\n${output}")
  endif()
endforeach()
message(STATUS "${SOURCE} fails as expected:\n  ${first_error}")
