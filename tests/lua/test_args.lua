-- test_args.lua - bad arguments raise naming the argument; stale, closed,
-- zero and made-up handles come back as nil, message, E_BADHANDLE and never
-- crash.
local net = require "net"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

test("bad_arguments_raise", function()
  local e = T.engine()
  T.raises("bad argument #1 to '[%w%.]*send' %(number expected, got string%)", net.send, "x", "y")
  T.raises("bad argument #2 to '[%w%.]*send' %(string expected, got no value%)", net.send, 1)
  T.raises("bad argument #4 to '[%w%.]*send' %(string expected, got table%)", net.send, 1, "a", "b", {})
  T.raises("bad argument #1 .*number has no integer representation", net.close, 1.5)
  T.raises("bad argument #1", net.abort, nil)
  T.raises("bad argument #1", net.shutdown, {})
  T.raises("bad argument #2 .*invalid option 'nodelayy'", net.set_option, 1, "nodelayy", 1)
  T.raises("bad argument #3", net.set_option, 1, "nodelay", "yes")
  T.raises("bad argument #2 .*invalid option", net.get_option, 1, 7)
  T.raises("bad argument #2", net.set_user, 1, "x")
  T.raises("bad argument #1 .*table expected", net.broadcast, 1, "x")
  T.raises("bad argument #1 .*handles%[2%] is not an integer", net.broadcast, {1, "two", 3}, "x")
  T.raises("bad argument #1 .*handles%[3%] is not an integer", net.broadcast, {1, 2}, "x", 3)
  T.raises("bad argument #3 .*count out of range", net.broadcast, {}, "x", -1)
  T.raises("bad argument #4 .*table expected", net.broadcast, {}, "x", 0, 5)
  T.raises("bad argument #3 .*port out of range", e.listen, e, "127.0.0.1", 70000)
  T.raises("bad argument #3 .*port out of range", e.connect, e, "127.0.0.1", -1)
  T.raises("bad argument #2 .*string expected", e.connect, e, nil, 80)
  T.raises("bad argument #4 .*unknown field 'framming'", e.listen, e, nil, 0, {framming = "raw"})
  T.raises("bad argument #4 .*field 'framing' must be", e.listen, e, nil, 0, {framing = "u24le"})
  T.raises("bad argument #4 .*field 'nodelay' must be a boolean", e.listen, e, nil, 0, {nodelay = 1})
  T.raises("bad argument #4 .*field 'backlog' out of range", e.listen, e, nil, 0, {backlog = -5})
  T.raises("bad argument #2 .*out of range", e.timer, e, -1)
  T.raises("bad argument #2 .*number expected", e.timer, e)
  T.raises("bad argument #3 .*out of range", e.timer, e, 10, 1 << 40)
  T.raises("bad argument #2 .*number expected", e.post, e, "x")
  T.raises("bad argument #2 .*timeout out of range", e.poll, e, -2)
  T.raises("bad argument #3 .*max out of range", e.poll, e, 0, 0)
  T.raises("bad argument #3 .*max out of range", e.events, e, 0, 1 << 20)
  T.raises("bad argument #1 .*net%.engine expected", e.poll, {}, 0)
  T.raises("bad argument #1 .*net%.engine expected", e.next, 42)
  T.raises("bad argument #1 .*net%.engine expected", e.next, io.stdout)
  T.raises("bad argument #1 .*unknown signal 'KILL'", require("net.sys").catch, "KILL")
end)

test("stale_handles", function()
  local e = T.engine()
  local l, c, s = T.pair(e, {framing = "u16le"})
  -- A connection closed: its handle is stale once its CLOSE is read.
  T.eq(net.abort(s), true, "abort")
  local closed = 0
  T.until_(e, function(t, h)
    if t == net.CLOSE and (h == s or h == c) then closed = closed + 1 end
    return closed == 2
  end)
  local timer = assert(e:timer(1))
  T.until_(e, function(t, h) return t == net.TIMER and h == timer end)
  local bad = {0, 1, -1, 12345, math.maxinteger, math.mininteger, s, c, s + 1, timer, l + (1 << 32)}
  for _, h in ipairs(bad) do
    local what = "handle " .. h
    T.fails_with(net.E_BADHANDLE, "send " .. what, net.send(h, "x"))
    T.fails_with(net.E_BADHANDLE, "sendv " .. what, net.send(h, "x", "y"))
    T.fails_with(net.E_BADHANDLE, "close " .. what, net.close(h))
    T.fails_with(net.E_BADHANDLE, "abort " .. what, net.abort(h))
    T.fails_with(net.E_BADHANDLE, "shutdown " .. what, net.shutdown(h))
    T.fails_with(net.E_BADHANDLE, "set_user " .. what, net.set_user(h, 1))
    T.fails_with(net.E_BADHANDLE, "get_user " .. what, net.get_user(h))
    T.fails_with(net.E_BADHANDLE, "set_option " .. what, net.set_option(h, "nodelay", true))
    T.fails_with(net.E_BADHANDLE, "get_option " .. what, net.get_option(h, "sndbuf"))
    T.fails_with(net.E_BADHANDLE, "local_addr " .. what, net.local_addr(h))
    T.fails_with(net.E_BADHANDLE, "peer_addr " .. what, net.peer_addr(h))
    T.fails_with(net.E_BADHANDLE, "send_queued " .. what, net.send_queued(h))
  end
  -- broadcast reports them per connection and queues to none.
  local results = {}
  T.eq(net.broadcast(bad, "x", #bad, results), 0, "broadcast to stale handles")
  for i = 1, #bad do T.eq(results[i], net.E_BADHANDLE, "broadcast result " .. i) end
  -- The listener is of the wrong type for connection calls.
  T.fails_with(net.E_BADHANDLE, "send to a listener", net.send(l, "x"))
  T.fails_with(net.E_BADHANDLE, "peer_addr of a listener", net.peer_addr(l))
  T.ok(net.local_addr(l), "the listener itself is fine")
end)

test("send_after_close", function()
  local e = T.engine()
  local _, c, s = T.pair(e, {framing = "u32le"})
  T.eq(net.close(s), true, "graceful close")
  -- Closing, not closed yet: the handle is live but refuses sends.
  T.fails_with(net.E_CLOSED, "send while closing", net.send(s, "late"))
  T.fails_with(net.E_CLOSED, "shutdown while closing", net.shutdown(s))
  local n = 0
  T.until_(e, function(t, h)
    if t == net.CLOSE and (h == s or h == c) then n = n + 1 end
    return n == 2
  end)
  T.fails_with(net.E_BADHANDLE, "send after CLOSE", net.send(s, "later"))
end)

return tests
