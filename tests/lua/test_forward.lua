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
  -- An echo may come back before the last DATA reaches the server (with an
  -- I/O thread it goes out at once): counted whenever it comes.
  local results, closed, echoes = {}, nil, 0
  T.until_(e, function(t, h)
    if t == net.DATA and not srv[h] then echoes = echoes + 1 end
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
  if echoes < 2 then
    T.until_(e, function(t, h)
      if t == net.DATA and not srv[h] then echoes = echoes + 1 end
      return echoes == 2
    end, 5000, "two echoes")
  end
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

-- A client engine and a server engine: n connections, accepted on se.
local function pairs_across(ce, se, n)
  local l = assert(se:listen("127.0.0.1", 0, {framing = "u16le"}))
  local _, port = net.local_addr(l)
  local cli, srv, connected = {}, {}, 0
  for i = 1, n do cli[i] = assert(ce:connect("127.0.0.1", port, {framing = "u16le"})) end
  -- Either engine's event may be the last one needed: both handlers ask.
  local function all() return #srv == n and connected == n end
  T.until_many({{ce, function(t) if t == net.CONNECT then connected = connected + 1 end return all() end},
                {se, function(t, h) if t == net.ACCEPT then srv[#srv + 1] = h end return all() end}},
               5000, "connections")
  return cli, srv
end

-- Polls both engines (io_threads 0: each does its I/O only when polled)
-- until done(st): se's batches go through se:forward_data(h), what else se
-- hands out is checked (no DATA) and its USER values kept; ce's DATA
-- payloads are collected as {handle, payload}, in order.
local function run(ce, se, h, done)
  local st = {sent = 0, failures = {}, users = {}, got = {}}
  local deadline = os.time() + 10
  while not done(st) do
    T.ok(os.time() <= deadline, "done within 10 s", st.sent)
    if se:poll(5, nil, true) > 0 then
      local n, failed = se:forward_data(h)
      st.sent = st.sent + n
      for _, v in ipairs(failed or {}) do st.failures[#st.failures + 1] = v end
      for t, _, a in se.next, se do
        T.ok(t ~= net.DATA, "no DATA left after forward_data")
        if t == net.USER then st.users[#st.users + 1] = a end
      end
    end
    if ce:poll(5, nil, true) > 0 then
      for t, ch in ce.next, ce do
        if t == net.DATA then st.got[#st.got + 1] = {ch, ce:payload()} end
      end
    end
  end
  return st
end

-- forward_data: every DATA of a batch back in one call, byte-exact and in
-- order per connection; the other events stay, in order.
test("forward_data_echoes_a_batch", function()
  local ce, se = T.engine(), T.engine()
  local cli = pairs_across(ce, se, 2)
  local sent_to = {[cli[1]] = {}, [cli[2]] = {}}
  for i = 1, 40 do
    local c = cli[i % 2 + 1]
    local m = bytes(i * 11, i)
    sent_to[c][#sent_to[c] + 1] = m
    T.eq(net.send(c, m), true, "send")
    if i % 10 == 0 then T.eq(se:post(i), true, "post") end
  end
  local st = run(ce, se, nil, function(st) return #st.got == 40 and #st.users == 4 end)
  T.eq(st.sent, 40, "all forwarded")
  T.eq(#st.failures, 0, "no failure")
  for i = 1, 4 do T.eq(st.users[i], i * 10, "USER " .. i .. " in order") end
  local seen = {[cli[1]] = 0, [cli[2]] = 0}
  for _, g in ipairs(st.got) do
    seen[g[1]] = seen[g[1]] + 1
    T.eq(g[2], sent_to[g[1]][seen[g[1]]], "echo " .. seen[g[1]] .. " in order, byte-exact")
  end
end)

-- To another connection; to a closed one: one failure per payload, none
-- lost; bad arguments named; an empty batch; a closed engine.
test("forward_data_target_and_failures", function()
  local ce, se = T.engine(), T.engine()
  local cli, srv = pairs_across(ce, se, 2)
  local peer_of_srv2
  -- whose peer srv[2] is: send from srv[2] and see which client gets it
  T.eq(net.send(srv[2], "who"), true, "send")
  local st = run(ce, se, nil, function(st) return #st.got == 1 end)
  peer_of_srv2 = st.got[1][1]
  local from = peer_of_srv2 == cli[1] and cli[2] or cli[1]
  T.eq(net.send(from, "one"), true, "send")
  T.eq(net.send(from, "two"), true, "send")
  st = run(ce, se, srv[2], function(st) return #st.got == 2 end)
  T.eq(st.sent, 2, "both forwarded to srv[2]")
  T.eq(st.got[1][1], peer_of_srv2, "to srv[2]'s peer")
  T.eq(st.got[1][2] .. st.got[2][2], "onetwo", "in order")
  -- the target closed: each payload fails (E_CLOSED, or E_BADHANDLE once
  -- its CLOSE was polled), in order, none lost
  T.eq(net.close(srv[2]), true, "close the target")
  T.eq(net.send(from, "three"), true, "send")
  T.eq(net.send(from, "four"), true, "send")
  st = run(ce, se, srv[2], function(st) return #st.failures == 4 end)
  T.eq(st.sent, 0, "nothing forwarded")
  for i = 1, 3, 2 do
    T.eq(st.failures[i], srv[2], "the target named")
    local code = st.failures[i + 1]
    T.ok(code == net.E_CLOSED or code == net.E_BADHANDLE, "closed or stale", code)
  end
  -- 0 is a handle asked for, which no connection has: not "back to each
  -- sender" (what 0 means to net_forward_data in C)
  T.eq(net.send(from, "five"), true, "send")
  st = run(ce, se, 0, function(st) return #st.failures == 2 end)
  T.eq(st.sent, 0, "nothing forwarded to handle 0")
  T.eq(#st.got, 0, "nothing echoed")
  T.eq(st.failures[1], 0, "handle 0 named")
  T.eq(st.failures[2], net.E_BADHANDLE, "E_BADHANDLE")
  T.raises("bad argument #1 to 'forward_data'", function() return se:forward_data("x") end)
  T.eq(se:forward_data(), 0, "an empty batch forwards nothing")
  se:close()
  T.raises("engine is closed", se.forward_data, se)
end)

return tests
