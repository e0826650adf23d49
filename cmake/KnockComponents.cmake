# knock's library components: header-only INTERFACE targets, each with the link dependencies its
# headers need, so a user links (and installs -dev packages for) only what it includes.
#
#   knock_component(<name> [REQUIRES <component>...] [PACKAGES <"Package [version]">...]
#                   [LINK <target>...])
#
# defines the INTERFACE target knock_<name>, aliased and exported as knock::<name>, linking the
# components it REQUIRES and the LINK targets (which the caller's find_package calls define). When a
# LINK target or a REQUIRED component does not exist, the component is left out with a status message
# (an optional dependency that is not installed). PACKAGES are the find_package arguments that define
# the LINK targets again in a consumer: knockConfig.cmake calls them for the requested components
# only. Each component installs its own export file, knock-<name>-targets.cmake.
#
# Declare components in dependency order (a component after those it REQUIRES). Adding one (gpgme,
# hiredis, ...) is a find_package() and a knock_component() call in the top CMakeLists.txt.
set(KNOCK_INSTALL_CMAKEDIR ${CMAKE_INSTALL_DATADIR}/cmake/knock)

function(knock_component name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "REQUIRES;PACKAGES;LINK")
  foreach(component IN LISTS arg_REQUIRES)
    if(NOT TARGET knock_${component})
      message(STATUS "knock: component ${name} left out: it needs component ${component}")
      return()
    endif()
  endforeach()
  foreach(target IN LISTS arg_LINK)
    if(NOT TARGET ${target})
      message(STATUS "knock: component ${name} left out: ${target} was not found")
      return()
    endif()
  endforeach()

  add_library(knock_${name} INTERFACE)
  add_library(knock::${name} ALIAS knock_${name})
  set_target_properties(knock_${name} PROPERTIES EXPORT_NAME ${name})
  list(TRANSFORM arg_REQUIRES PREPEND knock_ OUTPUT_VARIABLE required)
  target_link_libraries(knock_${name} INTERFACE ${required} ${arg_LINK})
  install(TARGETS knock_${name} EXPORT knock-${name}-targets)
  install(EXPORT knock-${name}-targets NAMESPACE knock:: DESTINATION ${KNOCK_INSTALL_CMAKEDIR})

  # What knockConfig.cmake needs to know about it (see knock_component_table).
  set_property(GLOBAL APPEND PROPERTY KNOCK_COMPONENTS ${name})
  set(packages)
  foreach(package IN LISTS arg_PACKAGES)
    string(APPEND packages " \"${package}\"")
  endforeach()
  set_property(GLOBAL APPEND_STRING PROPERTY KNOCK_COMPONENT_TABLE
    "set(_knock_${name}_requires ${arg_REQUIRES})\nset(_knock_${name}_packages${packages})\n")
  message(STATUS "knock: component ${name}")
endfunction()

# knock_component_table(<var>): the components defined so far, as CMake code for knockConfig.cmake.in.
function(knock_component_table var)
  get_property(components GLOBAL PROPERTY KNOCK_COMPONENTS)
  get_property(table GLOBAL PROPERTY KNOCK_COMPONENT_TABLE)
  set(${var} "set(_knock_components ${components})\n${table}" PARENT_SCOPE)
endfunction()
