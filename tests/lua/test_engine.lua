-- test_engine.lua - the module table, engine creation and configuration,
-- and the engine's lifetime: close(), <close>, garbage collection.
local net = require "net"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

test("version_and_constants", function()
  local s, n = net.version()
  T.eq(type(s), "string", "version string")
  T.eq(n, (tonumber(s:match("^(%d+)")) << 16) | (tonumber(s:match("^%d+%.(%d+)")) << 8) | tonumber(s:match("(%d+)$")),
    "version number")
  T.eq(net._VERSION, s, "_VERSION")
  T.eq(net.ACCEPT, 1, "ACCEPT")
  T.eq(net.DATA, 3, "DATA")
  T.eq(net.USER, 8, "USER")
  T.eq(net.E_BADHANDLE, -1, "E_BADHANDLE")
  T.eq(net.E_UNREACHABLE, -18, "E_UNREACHABLE")
  T.eq(net.strerror(net.E_BADHANDLE), "invalid, closed or stale handle", "strerror")
  T.eq(type(net.strerror(12345)), "string", "strerror of an unknown code")
end)

test("backend_from_environment", function()
  local e = T.engine()
  local want = os.getenv("NET_BACKEND")
  if want and want ~= "" and want ~= "auto" then T.eq(e:backend(), want, "backend") end
  T.ok(({epoll = true, io_uring = true, iocp = true})[e:backend()], "known backend name")
  T.ok(tostring(e):find("^net%.engine %(" .. e:backend() .. "%)"), "__tostring")
end)

test("config_fields", function()
  local e = T.engine{max_connections = 10, max_message = 4096, send_cap = 1 << 20, send_highwater = 65536,
                     send_lowwater = 1024, recv_limit = 1 << 20, idle_timeout_ms = 0, close_timeout_ms = 1000,
                     event_batch = 64}
  T.ok(e, "engine with every field")
  T.raises("unknown field 'io_thread'", net.engine, {io_thread = 1})
  T.raises("bad argument #1 to .*field 'io_threads' must be an integer", net.engine, {io_threads = "x"})
  T.raises("field 'max_message' out of range", net.engine, {max_message = -1})
  T.raises("field 'backend' must be", net.engine, {backend = "kqueue"})
  T.raises("field names must be strings", net.engine, {1})
  T.raises("bad argument #1 to .*table expected", net.engine, 42)
  -- Values the library refuses are runtime failures: nil, message, code.
  T.fails_with(net.E_INVAL, "io_threads = 1000", net.engine{io_threads = 1000})
  T.fails_with(net.E_INVAL, "lowwater above highwater", net.engine{send_highwater = 100, send_lowwater = 200})
end)

test("close_method", function()
  local e = net.engine{io_threads = T.io_threads}
  local l = assert(e:listen("127.0.0.1", 0))
  T.eq(e:close(), true, "close")
  T.eq(e:close(), true, "close twice")
  T.raises("engine is closed", e.listen, e, "127.0.0.1", 0)
  T.raises("engine is closed", e.events, e, 0)
  T.raises("engine is closed", e.backend, e)
  T.ok(tostring(e):find("closed"), "__tostring of a closed engine")
  T.fails_with(net.E_BADHANDLE, "listener of a closed engine", net.close(l))
  T.fails_with(net.E_BADHANDLE, "local_addr after close", net.local_addr(l))
end)

test("to_be_closed", function()
  local l, keep
  do
    local e <close> = net.engine{io_threads = T.io_threads}
    keep = e
    l = assert(e:listen("127.0.0.1", 0))
    T.ok(net.local_addr(l), "listener alive inside the block")
  end
  T.fails_with(net.E_BADHANDLE, "listener after <close>", net.local_addr(l))
  T.raises("engine is closed", keep.poll, keep, 0)
end)

test("garbage_collection_destroys", function()
  local e = net.engine{io_threads = T.io_threads}
  local l = assert(e:listen("127.0.0.1", 0))
  local c = assert(e:connect("127.0.0.1", select(2, net.local_addr(l))))
  local weak = setmetatable({e}, {__mode = "v"})
  e = nil
  collectgarbage()
  collectgarbage()
  T.eq(weak[1], nil, "engine collected")
  T.fails_with(net.E_BADHANDLE, "listener of a collected engine", net.close(l))
  T.fails_with(net.E_BADHANDLE, "connection of a collected engine", net.send(c, "x"))
end)

test("many_engines", function()
  -- Engines come and go; handles of dead ones never name live objects.
  local stale = {}
  for _ = 1, 50 do
    local e = net.engine{io_threads = T.io_threads}
    stale[#stale + 1] = assert(e:timer(100000))
    e:close()
  end
  local e = T.engine()
  local t = assert(e:timer(100000))
  for _, h in ipairs(stale) do
    T.fails_with(net.E_BADHANDLE, "timer of a dead engine", net.close(h))
  end
  T.eq(net.close(t), true, "live timer closes")
end)

test("stats", function()
  local e = T.engine()
  local s = e:stats()
  for _, k in ipairs{"connections", "connections_total", "accepts_rejected", "bytes_in", "bytes_out",
                     "messages_in", "messages_out", "queue_depth", "send_queued", "recv_paused"} do
    T.eq(math.type(s[k]), "integer", "stats." .. k)
  end
  local reuse = {}
  T.eq(e:stats(reuse), reuse, "stats fills the table given")
  T.eq(reuse.connections, 0, "no connections yet")
  T.raises("bad argument #2", e.stats, e, 5)
end)

test("sys_module", function()
  local sys = require "net.sys"
  local t0, c0 = sys.now(), sys.thread_cpu()
  local x = 0
  for i = 1, 200000 do x = x + i end
  T.ok(sys.now() >= t0, "monotonic clock")
  T.ok(sys.thread_cpu() >= c0, "thread CPU time")
  T.eq(sys.caught(), nil, "no signal yet")
  T.eq(sys.catch("HUP"), true, "catch")
  local stat = io.open("/proc/self/stat")
  if not stat then T.skip("no /proc: signal part not checked") end
  os.execute("kill -HUP " .. stat:read("l"):match("^%d+"))
  stat:close()
  local deadline = sys.now() + 2
  while not sys.caught() and sys.now() < deadline do end
  T.eq(sys.caught(), "HUP", "the signal was noted")
end)

return tests
