-- test_co_luv.lua - net.co inside a luv loop (Debian's lua-luv): the
-- scheduler steps when the engine's waitable descriptor is readable, so a
-- luv program serves net connections, talks to them with luv's own TCP,
-- and keeps its own timers, all in uv.run with no thread.
local net = require "net"
local sys = require "net.sys"
local co = require "net.co"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

local function need_luv()
  local ok, uv = pcall(require, "luv")
  if not ok then T.skip("no luv module (Debian: lua-luv; scripts/install-deps.sh installs it)") end
  return uv
end

-- Runs uv's loop until it has no active handle left; a guard timer stops
-- it after timeout_ms (a failure). Returns nothing; checks every handle
-- got closed.
local function run_loop(uv, timeout_ms)
  local timed_out = false
  local guard = uv.new_timer()
  guard:start(timeout_ms, 0, function()
    timed_out = true
    uv.stop()
  end)
  guard:unref() -- the guard alone does not keep the loop running
  uv.run("default")
  guard:close()
  uv.run("nowait") -- its close callback
  T.ok(not timed_out, "the luv loop ended by itself within " .. timeout_ms .. " ms")
  local left = {}
  uv.walk(function(h) left[#left + 1] = tostring(h) end)
  T.eq(#left, 0, "luv handles left: " .. table.concat(left, ", "))
end

-- A luv TCP client of a u16be-framed server: sends each message of msgs
-- in turn, one after the echo of the previous one; calls done(list of
-- replies) once all came back or the connection failed.
local function luv_client(uv, port, msgs, done)
  local tcp = uv.new_tcp()
  local replies, buf = {}, ""
  local function finish()
    if not tcp:is_closing() then tcp:close() end
    done(replies)
  end
  tcp:connect("127.0.0.1", port, function(err)
    if err then return finish() end
    tcp:read_start(function(rerr, chunk)
      if rerr or not chunk then return finish() end
      buf = buf .. chunk
      while #buf >= 2 do
        local len = string.unpack(">I2", buf)
        if #buf < 2 + len then break end
        replies[#replies + 1] = buf:sub(3, 2 + len)
        buf = buf:sub(3 + len)
        if #replies == #msgs then return finish() end
        tcp:write(string.pack(">s2", msgs[#replies + 1]))
      end
    end)
    tcp:write(string.pack(">s2", msgs[1]))
  end)
end

test("luv_loop_echo_with_a_luv_timer", function()
  local uv = need_luv()
  local e = T.engine()
  local reported = {}
  co.options(e, {on_error = function(err) reported[#reported + 1] = err end})
  local att = co.luv(e, uv)
  local l = assert(co.listen(e, "127.0.0.1", 0, {framing = "u16be"}, function(sock)
    while true do
      local m = sock:read()
      if not m then return end
      if m == "boom" then error("a handler fails inside luv") end
      assert(sock:write(m))
    end
  end))
  local port = select(2, net.local_addr(l))

  -- luv's own timer, ticking while net serves.
  local ticks, ticks_during = 0, nil
  local ticker = uv.new_timer()
  ticker:start(2, 2, function() ticks = ticks + 1 end)

  local clients, rounds, pending, bad = 8, 20, 0, 0
  local luv_replies, boom_end, slept
  local function one_done()
    pending = pending - 1
    if pending > 0 then return end
    ticks_during = ticks
    ticker:close()
    net.close(l)
    att:close_when_done()
  end
  -- net.co clients, in coroutines.
  for i = 1, clients do
    pending = pending + 1
    co.spawn(e, function()
      local s = assert(co.connect(e, "127.0.0.1", port, {framing = "u16be"}))
      for j = 1, rounds do
        local msg = ("client %d message %d "):format(i, j) .. string.rep("x", i * j)
        assert(s:write(msg))
        if s:read(5) ~= msg then bad = bad + 1 end
      end
      s:close()
      one_done()
    end)
  end
  -- A net.co client whose server handler fails: only its connection ends.
  pending = pending + 1
  co.spawn(e, function()
    local s = assert(co.connect(e, "127.0.0.1", port, {framing = "u16be"}))
    s:write("boom")
    boom_end = {s:read(5)}
    one_done()
  end)
  -- A net.co sleep: only the engine's descriptor can wake luv for it.
  pending = pending + 1
  co.spawn(e, function()
    local t0 = sys.now()
    co.sleep(0.05)
    slept = sys.now() - t0
    one_done()
  end)
  -- luv's own TCP client of the same server.
  pending = pending + 1
  local luv_msgs = {}
  for j = 1, rounds do luv_msgs[j] = "from luv " .. j end
  luv_client(uv, port, luv_msgs, function(replies)
    luv_replies = replies
    one_done()
  end)

  run_loop(uv, 10000)
  T.eq(pending, 0, "every client finished")
  T.eq(bad, 0, "every net.co echo came back unchanged")
  T.eq(table.concat(luv_replies, ","), table.concat(luv_msgs, ","), "luv's TCP client got its echoes")
  T.ok(ticks_during and ticks_during > 0, "luv's timer ticked while net served", ticks_during)
  T.ok(slept >= 0.049, "co.sleep inside luv lasted its time", slept)
  T.eq(boom_end[1], nil, "the failing handler's connection ended")
  T.eq(#reported, 1, "the handler's error was reported")
  T.ok(reported[1]:find("a handler fails inside luv", 1, true), reported[1])
  local st = co.stats(e)
  for _, k in ipairs{"tasks", "sockets", "listeners", "timers"} do T.eq(st[k], 0, "co.stats(e)." .. k) end
end)

-- Nothing but a net.co sleep keeps the loop alive: the descriptor alone
-- must wake luv when the timer is due (io_threads 0: the engine's next
-- timer deadline is part of what makes it readable), and an idle engine
-- must not keep it busy (a descriptor always readable would be served
-- thousands of times in the sleep; the io_threads 0 loop's housekeeping
-- tick wakes it about ten times a second).
test("luv_wakes_for_a_net_timer_alone", function()
  local uv = need_luv()
  local e = T.engine()
  local att = co.luv(e, uv)
  local woke
  co.spawn(e, function()
    local t0 = sys.now()
    co.sleep(0.1)
    woke = sys.now() - t0
    att:close_when_done()
  end)
  run_loop(uv, 5000)
  T.ok(woke and woke >= 0.099, "the sleep ended after its time", woke)
  T.ok(att.steps >= 1 and att.steps < 40, "luv woke for the timer, not in a busy loop", att.steps)
end)

test("luv_detach", function()
  local uv = need_luv()
  local e = T.engine()
  local att = co.luv(e, uv)
  T.eq(att:close(), true, "close")
  T.eq(att:close(), true, "close again does nothing")
  run_loop(uv, 5000)
  T.raises("bad argument #1 to 'co.luv' %(net engine expected", co.luv, {}, uv)
end)

return tests
