-- test_forward.lua - events by reference: DATA and DATAGRAM hand out their
-- payload's length, e:payload() makes the string on demand and e:forward()
-- sends the payload on (an echo by default) without a Lua string; every
-- failure is reported at once, bad arguments and misuse raise naming the call.
local net = require "net"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

-- T.until_, reading events by reference.
local function until_ref(e, fn, what)
  local deadline = os.time() + 10
  while true do
    for t, h, a, u, x in e:events(20, nil, true) do
      if fn(t, h, a, u, x) then return end
    end
    if os.time() > deadline then error("timed out waiting for " .. what, 2) end
  end
end

local function bytes(n, k)
  local t = {}
  for i = 1, n do t[i] = string.char((i * 13 + k * 7) % 256) end
  return table.concat(t)
end

-- Sends msgs from c; the server side echoes each with e:forward() (checking
-- the length handed out, and e:payload() on every other one); returns what
-- c got back.
local function forward_echo(e, c, msgs)
  for _, m in ipairs(msgs) do T.eq(net.send(c, m), true, "send") end
  local got, seen = {}, 0
  local deadline = os.time() + 10
  while #got < #msgs do
    for t, h, a in e:events(20, nil, true) do
      if t == net.DATA and h ~= c then
        seen = seen + 1
        T.eq(math.type(a), "integer", "a DATA by reference carries the length")
        T.eq(a, #msgs[seen], "length of message " .. seen)
        if seen % 2 == 0 then T.eq(e:payload(), msgs[seen], "payload " .. seen) end
        T.eq(e:forward(), true, "forward " .. seen)
      elseif t == net.DATA then
        got[#got + 1] = e:payload()
      elseif t == net.CLOSE then
        T.fail("unexpected CLOSE: " .. net.strerror(a))
      end
    end
    T.ok(os.time() <= deadline, "echoes within 10 s", #got)
  end
  return got
end

test("echo_by_reference", function()
  local e = T.engine()
  local _, c = T.pair(e, {framing = "u16le"})
  local msgs = {}
  for i = 1, 300 do msgs[i] = bytes((i * 97) % 2000 + (i % 7 == 0 and 0 or 1), i) end
  local got = forward_echo(e, c, msgs)
  for i = 1, #msgs do T.eq(got[i], msgs[i], "echo " .. i) end
end)

test("forward_to_another_connection", function()
  local e = T.engine()
  local l, c1, s1 = T.pair(e, {framing = "u32be"})
  local _, port = net.local_addr(l)
  local c2 = assert(e:connect("127.0.0.1", port, {framing = "u32be"}))
  local s2
  T.until_(e, function(t, h) if t == net.ACCEPT and h ~= s1 then s2 = h end return s2 end)
  T.eq(net.send(c1, "from one to two"), true, "send")
  local got
  until_ref(e, function(t, h, a)
    if t == net.DATA and h == s1 then
      T.eq(a, 15, "length")
      T.eq(e:forward(s2), true, "forward to s2")
    elseif t == net.DATA and h == c2 then
      got = e:payload()
    end
    return got
  end, "the forwarded message")
  T.eq(got, "from one to two", "forwarded bytes")
end)

test("datagram_answered_to_its_sender", function()
  local e = T.engine()
  local u1 = assert(e:udp_open("127.0.0.1", 0))
  local u2 = assert(e:udp_open("127.0.0.1", 0))
  local a2 = net.local_addr(u2)
  local a1 = net.local_addr(u1)
  T.eq(net.sendto(u1, a2, "ping"), true, "sendto")
  local back
  until_ref(e, function(t, h, a, _, x)
    if t == net.DATAGRAM and h == u2 then
      T.eq(a, 4, "length")
      T.eq(x, a1, "sender")
      T.eq(e:forward(), true, "answer")
    elseif t == net.DATAGRAM and h == u1 then
      back = e:payload()
      T.eq(x, a2, "answered from u2")
    end
    return back
  end, "the answer")
  T.eq(back, "ping", "answer bytes")
end)

-- A connection closed in the middle of a batch: its forward fails alone
-- with E_CLOSED, a made-up handle with E_BADHANDLE, the others go out.
test("closed_handle_in_the_middle", function()
  local e = T.engine()
  local l, c1, s1 = T.pair(e, {framing = "u16be"})
  local _, port = net.local_addr(l)
  local c = {c1, assert(e:connect("127.0.0.1", port, {framing = "u16be"})),
             assert(e:connect("127.0.0.1", port, {framing = "u16be"}))}
  local srv, accepted = {[s1] = true}, 1
  T.until_(e, function(t, h) if t == net.ACCEPT then srv[h] = true accepted = accepted + 1 end return accepted == 3 end)
  for i = 1, 3 do T.eq(net.send(c[i], "m" .. i), true, "send " .. i) end
  local results, closed = {}, nil
  T.until_(e, function(t, h)
    if t == net.DATA and srv[h] then
      if not closed and #results == 1 then
        closed = h
        T.eq(net.close(h), true, "close in the middle")
      end
      results[#results + 1] = {h, e:forward()}
      if #results == 2 then
        T.fails_with(net.E_BADHANDLE, "forward to a made-up handle", e:forward(0x12345))
      end
    end
    return #results == 3
  end, 5000, "three DATA")
  for _, r in ipairs(results) do
    if r[1] == closed then
      T.eq(r[2], nil, "forward on the closing connection fails")
      T.eq(r[4], net.E_CLOSED, "with E_CLOSED")
    else
      T.eq(r[2], true, "the others go out")
    end
  end
  local echoes = 0
  T.until_(e, function(t, h, a)
    if t == net.DATA and not srv[h] then echoes = echoes + 1 end
    return echoes == 2
  end, 5000, "two echoes")
end)

test("misuse_raises_naming_the_call", function()
  local e = T.engine()
  T.raises("'forward'.*no DATA", e.forward, e)
  T.raises("'payload'.*no DATA", e.payload, e)
  T.raises("bad argument #3 to 'events'", function() for _ in e:events(0, 16, "yes") do end end)
  T.raises("bad argument #3 to 'poll'", function() return e:poll(0, 16, 1) end)
  T.raises("bad argument #2 to 'events'", function() for _ in e:events(0, 65537, true) do end end)
  local tm = assert(e:timer(1))
  T.until_(e, function(t) return t == net.TIMER end)
  T.raises("'forward'.*no DATA", e.forward, e) -- the current event is a TIMER
  local _, c, s = T.pair(e, {framing = "u16le"})
  T.eq(net.send(c, "x"), true, "send")
  local n
  until_ref(e, function(t, h, a) if t == net.DATA and h == s then n = a return true end end, "DATA")
  T.eq(n, 1, "the length")
  T.raises("bad argument #1 to 'forward'", function() return e:forward("not a handle") end)
  -- another poll recycles the payload: it is no longer reachable
  T.eq(e:poll(0), 0, "poll")
  T.raises("'payload'.*poll came since", e.payload, e)
  e:close()
  T.raises("engine is closed", e.forward, e)
  T.raises("bad argument #1 to 'forward'", e.forward, "not an engine")
  T.eq(tm > 0, true, "the timer was a handle")
end)

-- The per-event functions remember the engine they checked last: another
-- userdata, a second engine and one made after a collected one are still
-- told apart.
test("engines_told_apart", function()
  local e1, e2 = T.engine(), T.engine()
  local function data_on(e)
    local _, c, s = T.pair(e, {framing = "u16le"})
    T.eq(net.send(c, "hi"), true, "send")
    until_ref(e, function(t, h) return t == net.DATA and h == s end, "DATA")
  end
  data_on(e1)
  T.eq(e1:payload(), "hi", "e1's payload")
  T.raises("bad argument #1 to 'payload'", e1.payload, io.stdout)
  T.raises("'payload'.*no DATA", e2.payload, e2) -- e2 handed nothing out
  data_on(e2)
  T.eq(e2:payload(), "hi", "e2's payload")
  T.eq(e1:payload(), "hi", "e1's still")
  local e3 = net.engine{io_threads = T.io_threads}
  T.eq(e3:next(), nil, "nothing polled on e3") -- e3 is now the one remembered
  e3 = nil
  collectgarbage()
  collectgarbage()
  local e4 = assert(net.engine{io_threads = T.io_threads})
  T.eq(e4:next(), nil, "a new engine is checked anew")
  T.raises("bad argument #1 to 'forward'", e4.forward, io.stdout)
  T.raises("'forward'.*no DATA", e4.forward, e4)
  e4:close()
  T.eq(e3, nil, "collected")
end)

return tests
