-- test_waitable.lua - e:waitable() drives an engine from luv's loop: a
-- uv poll handle on the descriptor, e:poll(0, MAX) until fewer than MAX
-- events, never a poll that waits. A post, a timer, ACCEPT, CONNECT and an
-- echo each way all arrive that way.
local net = require "net"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

local MAX = 4 -- small, so draining takes several polls

-- luv from the system: ctest's LUA_CPATH names the build tree only, which
-- leaves out Lua's default search path (Debian's lua-luv, LuaRocks').
local function require_luv()
  local ok, uv = pcall(require, "luv")
  if ok then return uv end
  local dirs = {"/usr/local/lib/lua/5.4", "/usr/lib/x86_64-linux-gnu/lua/5.4", "/usr/lib/aarch64-linux-gnu/lua/5.4",
    "/usr/lib64/lua/5.4", "/usr/lib/lua/5.4"}
  for _, d in ipairs(dirs) do package.cpath = package.cpath .. ";" .. d .. "/?.so" end
  ok, uv = pcall(require, "luv")
  return ok and uv or nil
end

test("waitable_in_luv", function()
  local uv = require_luv()
  if not uv then T.skip("lua-luv is not installed") end
  if package.config:sub(1, 1) == "\\" then T.skip("a HANDLE: luv polls sockets only on Windows") end
  local e = T.engine()
  local fd = assert(e:waitable())
  T.eq(e:waitable(), fd, "the same descriptor twice")
  T.ok(math.type(fd) == "integer" and fd >= 0, "a descriptor", fd)

  local l = assert(e:listen("127.0.0.1", 0, {framing = "u16le"}))
  local _, port = net.local_addr(l)
  local c = assert(e:connect("127.0.0.1", port, {framing = "u16le"}))
  assert(e:post(7))
  assert(e:timer(20, 0, 99))
  local seen, s, reply = {}, nil, nil
  local function handle(t, h, a, u)
    seen[t] = (seen[t] or 0) + 1
    if t == net.ACCEPT then s = h end
    if t == net.CONNECT then T.eq(a, 0, "CONNECT status"); assert(net.send(c, "ping")) end
    if t == net.USER then T.eq(a, 7, "posted value") end
    if t == net.TIMER then T.eq(u, 99, "timer user") end
    if t == net.DATA and h == s then T.eq(a, "ping", "to the server"); assert(net.send(s, "pong")) end
    if t == net.DATA and h == c then reply = a end
  end

  local poll, guard = uv.new_poll(fd), uv.new_timer()
  local polls = 0
  poll:start("r", function(err)
    T.ok(not err, "poll error", err)
    repeat
      local n = assert(e:poll(0, MAX))
      polls = polls + 1
      for _ = 1, n do handle(e:next()) end
    until n < MAX
    if reply and seen[net.USER] and seen[net.TIMER] then
      poll:stop()
      guard:stop()
    end
  end)
  guard:start(5000, 0, function() poll:stop() end)
  uv.run()
  poll:close()
  guard:close()
  uv.run()
  T.eq(reply, "pong", "the echo came back through the waitable alone")
  T.eq(seen[net.ACCEPT], 1, "one ACCEPT")
  T.eq(seen[net.CONNECT], 1, "one CONNECT")
  T.ok(polls > 1, "drained on readiness", polls)
  T.raises("bad argument #1", e.waitable, nil)
  e:close()
  T.raises("engine is closed", e.waitable, e)
end)

return tests
