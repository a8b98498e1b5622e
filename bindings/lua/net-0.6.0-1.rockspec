-- Builds the Lua binding, and the net library it needs, from this source
-- tree with CMake:
--
--     cd bindings/lua && luarocks --lua-version 5.4 make --tree DIR net-0.6.0-1.rockspec
--
-- net.so and libnet.so.0 land in the tree's C-module folder (DIR/lib/lua/5.4),
-- net/co.lua (require "net.co") in its Lua-module folder (DIR/share/lua/5.4);
-- net.so finds libnet there through its rpath ($ORIGIN), so `require "net"`
-- needs no LD_LIBRARY_PATH. `luarocks pack net 0.6.0-1 --tree DIR` then makes
-- a binary rock of what was built.
--
-- The version is the project's (project(net VERSION ...) in the top
-- CMakeLists.txt); this file's name must carry it as a literal, so
-- tests/lua/test_version.lua fails when they differ.
rockspec_format = "3.0"
package = "net"
version = "0.6.0-1"
source = {
   -- The repository this rockspec lies in, two folders up. `luarocks make`
   -- builds the checkout it runs in and fetches nothing; net has no
   -- published repository to name instead.
   url = "git+file://../..",
}
description = {
   summary = "Lua 5.4 binding of the net networking engine",
   detailed = [[
      require "net": engines, listen/connect, framed or raw TCP, UDP,
      gathered sends, shared-buffer broadcast, graceful/abortive/half close,
      options, user data, timers, posts and stats, with events read as
      multiple values (no table per event). Handles are plain integers.
      require "net.co": coroutines over it, one per connection, so a
      handler reads like blocking code (sock:read(), sock:write()), run
      standalone or inside a luv loop.
   ]],
   license = "MIT",
   labels = {"networking", "tcp", "udp", "epoll", "io_uring"},
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
build = {
   type = "cmake",
   variables = {
      CMAKE_BUILD_TYPE = "Release",
      CMAKE_INSTALL_PREFIX = "$(PREFIX)",
      LUA_INCLUDE_DIR = "$(LUA_INCDIR)",
      NET_LUA_CMOD_DIR = "$(LIBDIR)",
      NET_LUA_LMOD_DIR = "$(LUADIR)",
   },
}
