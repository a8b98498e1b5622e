-- test_interrupt.lua - a blocking wait ends when the user interrupts it.
-- lua5.4 turns SIGINT into a hook that raises "interrupted!" at the next Lua
-- instruction; a poll blocked in C would never reach one, so the binding
-- waits in slices and returns when a hook appears. net.sys.catch'd signals
-- end a wait the same way. Meaningless timeouts raise instead of blocking.
local net = require "net"
local sys = require "net.sys"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

-- Runs `body` in a child lua5.4 (bounded by `timeout`, so a hang fails the
-- test instead of the run). The child prints its pid, then "waiting", then
-- runs body; the test sends SIGINT once it read "waiting". Returns the exit
-- code, the child's output and the seconds from the signal to the exit.
local function interrupt_child(body)
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(string.format([[
local net = require "net"
local sys = require "net.sys"
local e = net.engine{io_threads = %d}
io.write(io.open("/proc/self/stat"):read("l"):match("^(%%d+)"), "\n", "waiting\n")
io.flush()
%s
]], T.io_threads, body))
  f:close()
  local p = T.spawn(T.env_prefix() .. "timeout -s KILL 20 " .. T.lua .. " " .. script .. " 2>&1")
  local pid = assert(p:line(), "child pid")
  T.eq(p:line(), "waiting", "child is about to wait")
  -- Signal it once it sleeps in the wait, so the signal comes while C code
  -- blocks (before, the hook would fire at the next Lua instruction anyway).
  local deadline = sys.now() + 5
  while sys.now() < deadline do
    local stat = io.open("/proc/" .. pid .. "/stat")
    local state = stat and stat:read("l"):match("^%d+ %b() (%a)")
    if stat then stat:close() end
    if state == "S" then break end
  end
  local t0 = sys.now()
  os.execute("kill -INT " .. pid)
  local code = p:wait()
  local dt = sys.now() - t0
  os.remove(script)
  return code, table.concat(p.lines, "\n"), dt
end

test("sigint_ends_poll_forever", function()
  local code, out, dt = interrupt_child("e:poll(-1) print('poll returned')")
  T.ok(out:find("interrupted!"), "lua5.4's interrupt error", out)
  T.ok(not out:find("poll returned"), "the error, not a return", out)
  T.eq(code, 1, "lua5.4 exits 1 on an uncaught error")
  T.ok(dt < 3, "ends within a few slices", dt)
end)

test("sigint_ends_an_events_loop", function()
  local code, out, dt = interrupt_child("for _ in e:events() do end print('loop ended')")
  T.ok(out:find("interrupted!"), "lua5.4's interrupt error", out)
  T.eq(code, 1, "exit code")
  T.ok(dt < 3, "ends within a few slices", dt)
end)

test("caught_signal_ends_the_wait", function()
  local code, out = interrupt_child([[
sys.catch("INT")
local n = e:poll(-1)
for _ in e:events() do end
print("returned " .. n .. " " .. tostring(sys.caught()))
]])
  T.ok(out:find("returned 0 INT"), "poll and the loop return once the signal is noted", out)
  T.eq(code, 0, "exit code")
end)

test("meaningless_timeouts_raise", function()
  local e = T.engine()
  for _, call in ipairs{"poll", "events"} do
    T.raises("bad argument #2 to '" .. call .. "' %(timeout out of range", e[call], e, -5)
    T.raises("bad argument #2 to '" .. call .. "' %(timeout out of range", e[call], e, math.mininteger)
    T.raises("bad argument #2 to '" .. call .. "' %(number has no integer representation", e[call], e, 1.5)
    T.raises("bad argument #2 to '" .. call .. "' %(number has no integer representation", e[call], e, 0 / 0)
    T.raises("bad argument #2 to '" .. call .. "' %(number expected, got string", e[call], e, "soon")
  end
  T.raises("bad argument #6 to 'poll_into' %(timeout out of range", e.poll_into, e, {}, {}, {}, {}, -2)
  -- -1 and 0 stay meaningful: wait forever (bounded here by a post), or not at all.
  e:post(1)
  T.eq(e:poll(-1), 1, "poll(-1) returns the posted event")
  T.eq(select(3, e:next()), 1, "its value")
  T.eq(e:poll(0), 0, "poll(0)")
end)

test("wakeup_ends_a_wait", function()
  local e = T.engine()
  e:wakeup()
  local t0 = sys.now()
  T.eq(e:poll(5000), 0, "poll returns")
  T.ok(sys.now() - t0 < 1, "at once", sys.now() - t0)
end)

return tests
