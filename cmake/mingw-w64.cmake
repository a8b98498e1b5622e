# Cross-compiles for 64-bit Windows with MinGW-w64 (Debian: gcc-mingw-w64-x86-64)
# and runs what it builds under Wine (Debian: wine, wine64), so ctest in the
# build tree runs the Windows tests here:
#
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake
#   cmake --build build-win -j2 && (cd build-win && ctest --output-on-failure)
#
# The Wine prefix lives inside the build tree (created on first use, which
# takes a few seconds); WINEDEBUG=-all keeps Wine's own chatter out of the
# test output. NET_WINE overrides which wine program is used.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(NET_MINGW_PREFIX x86_64-w64-mingw32 CACHE STRING "MinGW-w64 target triple (tool prefix)")
find_program(NET_MINGW_CC NAMES ${NET_MINGW_PREFIX}-gcc ${NET_MINGW_PREFIX}-gcc-win32 REQUIRED)
set(CMAKE_C_COMPILER ${NET_MINGW_CC})
find_program(CMAKE_RC_COMPILER NAMES ${NET_MINGW_PREFIX}-windres)
find_program(CMAKE_OBJDUMP NAMES ${NET_MINGW_PREFIX}-objdump)

set(CMAKE_FIND_ROOT_PATH /usr/${NET_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# The emulator: `env WINEPREFIX=... WINEDEBUG=-all wine`. CMAKE_BINARY_DIR is
# the top of the build tree while the toolchain file is read.
if(DEFINED ENV{NET_WINE})
  set(NET_WINE_PROGRAM $ENV{NET_WINE})
else()
  find_program(NET_WINE_PROGRAM NAMES wine wine64)
endif()
if(NET_WINE_PROGRAM)
  set(CMAKE_CROSSCOMPILING_EMULATOR
      env WINEPREFIX=${CMAKE_BINARY_DIR}/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES=mscoree,mshtml=
          ${NET_WINE_PROGRAM})
else()
  message(WARNING "mingw-w64.cmake: no wine found: tests are built but cannot run here")
endif()
