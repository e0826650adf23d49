# cmake -DKNOCK_BINARY_DIR=<knock build tree> -DWORK_DIR=<scratch dir> -DCONSUMER_DIR=<consumer source>
#       -DGENERATOR=<generator> -DCXX=<compiler> -DCTEST=<ctest> -DINCLUDEDIR=<relative include dir>
#       -DDATADIR=<relative data dir> -P package_test.cmake
#
# 1. installs knock from its build tree into WORK_DIR/prefix (a header-only INTERFACE target installs
#    without being built), 2. configures, builds and runs the consumer project against that prefix only,
#    with ctest --build-and-test, 3. checks the consumer printed "knock consumer: OK".
foreach(var KNOCK_BINARY_DIR WORK_DIR CONSUMER_DIR GENERATOR CXX CTEST INCLUDEDIR DATADIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "package_test.cmake: -D${var}=... is required")
  endif()
endforeach()

# Start from nothing, so a file the install no longer provides cannot linger from a previous run.
set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)
file(REMOVE_RECURSE ${prefix} ${consumer_build})

execute_process(COMMAND ${CMAKE_COMMAND} --install ${KNOCK_BINARY_DIR} --prefix ${prefix}
                RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "cmake --install ${KNOCK_BINARY_DIR} --prefix ${prefix} failed:\n${output}")
endif()
foreach(file ${INCLUDEDIR}/knock/wire/packet.hpp ${DATADIR}/cmake/knock/knockConfig.cmake
             ${DATADIR}/cmake/knock/knockConfigVersion.cmake ${DATADIR}/cmake/knock/knockTargets.cmake)
  if(NOT EXISTS ${prefix}/${file})
    message(FATAL_ERROR "the install did not provide ${file}:\n${output}")
  endif()
endforeach()

# The consumer sees only the prefix: no package registry, no knock source or build tree.
execute_process(
  COMMAND ${CTEST} --build-and-test ${CONSUMER_DIR} ${consumer_build}
          --build-generator ${GENERATOR}
          --build-options -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${prefix}
                          -DKNOCK_EXPECTED_PREFIX=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
          --test-command ${consumer_build}/consumer
  RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the consumer failed to configure, build or run against ${prefix}:\n${output}")
endif()
if(NOT output MATCHES "(^|\n)knock consumer: OK\r?\n")
  message(FATAL_ERROR "the consumer ran, but did not print 'knock consumer: OK':\n${output}")
endif()
message(STATUS "installed to ${prefix}; the consumer found, built and ran against it:\n${output}")
