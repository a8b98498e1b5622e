-- Builds the Lua binding, and the net library it needs, from this source
-- tree with CMake:  cd bindings/lua && luarocks --lua-version 5.4 make
-- (add --tree DIR for a private tree). net.so and libnet land in the
-- tree's C-module folder; net.so finds libnet there through its rpath.
rockspec_format = "3.0"
package = "net"
version = "0.1.0-1"
source = {
   -- `luarocks make` builds the checkout it runs in; a packed rock would
   -- point this at the project's repository.
   url = "git+file:///dev/null",
}
description = {
   summary = "Lua 5.4 binding of the net networking engine",
   detailed = [[
      require "net": engines, listen/connect, framed or raw TCP, gathered
      sends, shared-buffer broadcast, graceful/abortive/half close, options,
      user data, timers, posts and stats, with events read as multiple
      values (no table per event). Handles are plain integers.
   ]],
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
build = {
   type = "cmake",
   variables = {
      CMAKE_BUILD_TYPE = "Release",
      LUA_INCLUDE_DIR = "$(LUA_INCDIR)",
      NET_LUA_CMOD_DIR = "$(LIBDIR)",
   },
}
