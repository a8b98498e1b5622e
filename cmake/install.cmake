# Install rules of the C library: what `cmake --install <build> --prefix P`
# puts under P, the same for every build type.
#
#   Runtime      lib/libnet.so.0.6.0 and its SONAME link libnet.so.0
#                (Windows: bin/net.dll), share/doc/net/LICENSE
#   Development  lib/libnet.so (the link the linker reads), include/net.h,
#                lib/cmake/net/ (find_package(net CONFIG): target net::net),
#                lib/pkgconfig/net.pc (Windows: also lib/libnet.dll.a)
#
# A packager splits them with `cmake --install <build> --component Runtime`.
# The Lua module installs itself (bindings/lua/CMakeLists.txt).
include(CMakePackageConfigHelpers)

set(NET_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/net CACHE STRING
    "Where the CMake package (netConfig.cmake) installs, relative to the prefix")
set(NET_INSTALL_PKGCONFIGDIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig CACHE STRING
    "Where net.pc installs, relative to the prefix")

install(TARGETS net EXPORT netTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Runtime NAMELINK_COMPONENT Development
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development)
install(FILES ${PROJECT_SOURCE_DIR}/include/net.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT Development)
# MIT asks for the notice with every copy, the library's included.
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT Runtime)

# The CMake package: net::net with its include directory, and a version file.
# SameMajorVersion because the SONAME says the same: every 0.x library is
# libnet.so.0 and loads where an older 0.x did (additions only, sized config
# structs), so find_package(net 0.6) accepts what the loader would accept.
install(EXPORT netTargets NAMESPACE net:: DESTINATION ${NET_INSTALL_CMAKEDIR} COMPONENT Development)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/netConfig.cmake.in
  ${PROJECT_BINARY_DIR}/netConfig.cmake INSTALL_DESTINATION ${NET_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/netConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/netConfig.cmake ${PROJECT_BINARY_DIR}/netConfigVersion.cmake
  DESTINATION ${NET_INSTALL_CMAKEDIR} COMPONENT Development)

# net.pc finds the prefix from where it lies (${pcfiledir}), so an installed
# tree still works once moved; absolute install dirs are written as they are.
if(IS_ABSOLUTE "${NET_INSTALL_PKGCONFIGDIR}")
  set(NET_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH NET_PC_UP "/root/${NET_INSTALL_PKGCONFIGDIR}" "/root")
  string(REGEX REPLACE "/$" "" NET_PC_UP "${NET_PC_UP}")
  set(NET_PC_PREFIX "\${pcfiledir}/${NET_PC_UP}")
endif()
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(NET_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(NET_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/net.pc.in ${PROJECT_BINARY_DIR}/net.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/net.pc DESTINATION ${NET_INSTALL_PKGCONFIGDIR} COMPONENT Development)
