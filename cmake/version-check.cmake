# net_check_header_version(<net.h>): stops the configure step when the
# NET_VERSION_MAJOR/MINOR/PATCH macros of the public header disagree with
# project(net VERSION ...). net.h stays a plain checked-in header (users and
# bindings read it without a build), so the one version is kept in step here
# rather than generated into it.
function(net_check_header_version header)
  file(READ "${header}" text)
  set(found "")
  foreach(part MAJOR MINOR PATCH)
    if(NOT text MATCHES "#define[ \t]+NET_VERSION_${part}[ \t]+([0-9]+)")
      message(FATAL_ERROR "${header}: no '#define NET_VERSION_${part} <number>' found; "
                          "it must say the project version ${PROJECT_VERSION}")
    endif()
    list(APPEND found ${CMAKE_MATCH_1})
  endforeach()
  list(JOIN found "." header_version)
  if(NOT header_version STREQUAL PROJECT_VERSION)
    message(FATAL_ERROR "Version mismatch: ${header} says ${header_version} "
                        "(NET_VERSION_MAJOR/MINOR/PATCH) but the top CMakeLists.txt says "
                        "project(net VERSION ${PROJECT_VERSION}). Change both together.")
  endif()
endfunction()
