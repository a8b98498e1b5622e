-- lt.lua - the little test kit of the Lua tests: assertions, engines set
-- up for the backend and thread mode under test, event loops with a
-- deadline, and child processes.
--
-- The backend comes from NET_BACKEND (the library honours it when the
-- config says auto), the thread mode from NET_TEST_IO_THREADS (0 or 1).
local net = require "net"
local sys = require "net.sys"

local T = {}

T.io_threads = math.tointeger(tonumber(os.getenv("NET_TEST_IO_THREADS") or "0")) or 0
T.lua = os.getenv("LUA_INTERPRETER") or "lua5.4"
T.here = (debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./")
T.root = T.here .. "../../"
T.build = os.getenv("NET_BUILD_DIR") -- for the samples' binaries, when given

-- ---------------------------------------------------------------- assertions

local function fmt(v)
  if type(v) == "string" then return string.format("%q", #v > 80 and v:sub(1, 80) .. "..." or v) end
  return tostring(v)
end

-- Ends the test as skipped (the runner counts it apart).
T.SKIP = "\0skip\0"
function T.skip(why)
  error(T.SKIP .. why, 0)
end

function T.fail(msg, level)
  error(msg, (level or 1) + 1)
end

function T.ok(v, msg, ...)
  if not v then error((msg or "expected a true value") .. (select("#", ...) > 0 and (": " .. tostring((...))) or ""), 2) end
  return v
end

function T.eq(got, want, msg)
  if got ~= want then
    error(string.format("%s: got %s, want %s", msg or "values differ", fmt(got), fmt(want)), 2)
  end
end

-- Asserts the nil, message, code shape of a runtime failure.
function T.fails_with(code, msg, ...)
  local n = select("#", ...)
  local v, m, c = ...
  if v ~= nil or type(m) ~= "string" or c ~= code then
    error(string.format("%s: want nil, message, %d; got %s, %s, %s (%d values)", msg or "call",
      code, fmt(v), fmt(m), fmt(c), n), 2)
  end
end

-- Asserts fn(...) raises an error whose message matches pattern.
function T.raises(pattern, fn, ...)
  local ok, err = pcall(fn, ...)
  if ok then error("expected an error matching '" .. pattern .. "'", 2) end
  if not tostring(err):find(pattern) then
    error(string.format("error %s does not match '%s'", fmt(tostring(err)), pattern), 2)
  end
end

-- ---------------------------------------------------------------- engines

local engines = {}

-- An engine for the backend and thread mode under test, destroyed after
-- the test whatever happens.
function T.engine(cfg)
  cfg = cfg or {}
  if cfg.io_threads == nil then cfg.io_threads = T.io_threads end
  local e, err, code = net.engine(cfg)
  if not e then error(string.format("net.engine: %s (%s)", err, code), 2) end
  engines[#engines + 1] = e
  return e
end

function T.cleanup()
  for i = #engines, 1, -1 do
    engines[i]:close()
    engines[i] = nil
  end
end

-- Runs events of e through fn(type, handle, arg, user, extra) until fn
-- returns true; fails after timeout_ms (default 5000).
function T.until_(e, fn, timeout_ms, what)
  local deadline = sys.now() + (timeout_ms or 5000) / 1000
  while true do
    for t, h, a, u, x in e:events(20) do
      if fn(t, h, a, u, x) then return end
    end
    if sys.now() > deadline then error("timed out waiting for " .. (what or "events"), 2) end
  end
end

-- Runs events of e through fn for `seconds`, however many come.
function T.for_a_while(e, seconds, fn)
  local deadline = sys.now() + seconds
  while sys.now() < deadline do
    for t, h, a, u, x in e:events(5) do fn(t, h, a, u, x) end
  end
end

-- Polls several engines in turn (tests with a client engine and a server
-- engine): handlers[i] gets engine i's events; stops when one returns true.
function T.until_many(list, timeout_ms, what)
  local deadline = sys.now() + (timeout_ms or 5000) / 1000
  while true do
    for _, pair in ipairs(list) do
      for t, h, a, u, x in pair[1]:events(5) do
        if pair[2](t, h, a, u, x) then return end
      end
    end
    if sys.now() > deadline then error("timed out waiting for " .. (what or "events"), 2) end
  end
end

-- A listener and a connected pair inside e: returns listener, client
-- handle, server handle. opts go to both listen and connect; copts, when
-- given, to connect instead.
function T.pair(e, opts, copts)
  local l = assert(e:listen("127.0.0.1", 0, opts))
  local _, port = net.local_addr(l)
  local c = assert(e:connect("127.0.0.1", port, copts or opts))
  local s, connected
  T.until_(e, function(t, h, a)
    if t == net.ACCEPT then s = h end
    if t == net.CONNECT then
      T.eq(h, c, "CONNECT handle")
      T.eq(a, 0, "CONNECT status")
      connected = true
    end
    return s and connected
  end, 5000, "a connected pair")
  return l, c, s
end

-- ---------------------------------------------------------------- processes

-- Starts `cmd` through sh; returns an object whose :line() reads its stdout
-- a line at a time (nil at the end), :kill(sig) signals it and :wait()
-- returns its exit code. The shell prints its pid, then becomes cmd (exec),
-- so the pid is the command's and comes before any of its output.
function T.spawn(cmd)
  local f = assert(io.popen("sh -c 'echo PID $$; exec " .. cmd:gsub("'", "'\\''") .. "'", "r"))
  local pid = assert((f:read("l") or ""):match("^PID (%d+)$"), "spawn: no pid")
  local p = {pid = pid, lines = {}}
  function p:line()
    local l = f:read("l")
    if l then self.lines[#self.lines + 1] = l end
    return l
  end
  function p:kill(sig)
    os.execute("kill -" .. (sig or "TERM") .. " " .. pid .. " 2>/dev/null")
  end
  function p:wait()
    if self.code then return self.code end
    while self:line() do end
    local _, how, code = f:close()
    self.code = how == "exit" and code or 128 + code
    return self.code
  end
  return p
end

-- Runs cmd to completion; returns exit code and its stdout.
function T.run(cmd)
  local f = assert(io.popen(cmd, "r"))
  local out = f:read("a")
  local _, how, code = f:close()
  return how == "exit" and code or 128 + code, out
end

-- Shell-quoted LUA_CPATH and LUA_PATH to hand to child Lua processes
-- (LUA_PATH: require "net.co" from the build tree, as run.lua set it).
function T.env_prefix()
  return "env LUA_CPATH='" .. (package.cpath:gsub("'", "")) .. "' LUA_PATH='" .. (package.path:gsub("'", "")) .. "' "
end

return T
