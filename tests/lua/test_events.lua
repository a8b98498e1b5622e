-- test_events.lua - timers, posts, wake-ups, and the ways of reading events:
-- the iterator, poll + next, poll_into; no event is lost between them.
local net = require "net"
local sys = require "net.sys"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

test("one_shot_timer", function()
  local e = T.engine()
  local t0 = sys.now()
  local tm = assert(e:timer(30, 0, 1234))
  local fired, at = 0, nil
  T.for_a_while(e, 0.15, function(t, h, a, u)
    if t == net.TIMER then
      T.eq(h, tm, "timer handle")
      T.eq(u, 1234, "timer user")
      fired, at = fired + 1, sys.now()
    end
  end)
  T.eq(fired, 1, "fires once")
  T.ok(at - t0 >= 0.025, "not early", at - t0)
  T.fails_with(net.E_BADHANDLE, "a one-shot timer's handle ends with its event", net.close(tm))
end)

test("repeating_timer", function()
  local e = T.engine()
  local tm = assert(e:timer(10, 10, 5))
  T.eq(net.get_user(tm), 5, "timer user data")
  T.eq(net.set_user(tm, 6), true, "set timer user data")
  local n = 0
  T.until_(e, function(t, h, _, u)
    if t == net.TIMER then
      T.eq(u, 6, "new user data")
      n = n + 1
    end
    return n == 5
  end)
  T.eq(net.close(tm), true, "stop")
  T.for_a_while(e, 0.05, function(t) T.ok(t ~= net.TIMER, "no TIMER after close") end)
end)

test("post_and_wakeup", function()
  local e = T.engine()
  T.eq(e:post(42), true, "post")
  T.eq(e:post(-7), true, "post a negative value (all 64 bits travel)")
  local vals = {}
  T.until_(e, function(t, h, a, u)
    if t == net.USER then
      T.eq(h, 0, "USER handle")
      T.eq(a, u, "value in arg and user")
      vals[#vals + 1] = a
    end
    return #vals == 2
  end)
  T.eq(vals[1], 42, "first value")
  T.eq(vals[2], -7, "second value")
  -- A wake-up makes a waiting poll return, with nothing to read.
  T.eq(e:wakeup(), true, "wakeup")
  local t0 = sys.now()
  local n = e:poll(2000)
  T.ok(sys.now() - t0 < 1, "poll returned early")
  T.eq(n, 0, "no events")
end)

test("poll_timeout", function()
  local e = T.engine()
  local t0 = sys.now()
  T.eq(e:poll(50), 0, "nothing happens")
  local dt = sys.now() - t0
  T.ok(dt >= 0.04 and dt < 1, "waited about the timeout", dt)
  T.eq(e:poll(0), 0, "zero timeout")
end)

test("leftovers_are_not_lost", function()
  local e = T.engine()
  for i = 1, 10 do e:post(i) end
  T.eq(e:poll(1000, 4), 4, "a batch of 4")
  local t, h, a = e:next()
  T.eq(t, net.USER, "type")
  T.eq(a, 1, "first")
  T.eq(select(3, e:next()), 2, "second")
  -- Two of the batch are unread: poll hands those out instead of polling.
  T.eq(e:poll(0), 2, "the unread rest")
  local seen = {}
  for _, _, v in e:events(0) do seen[#seen + 1] = v end
  T.eq(table.concat(seen, ","), "3,4", "the iterator finishes the batch")
  -- Breaking out of a loop keeps the rest for the next one.
  for _, _, v in e:events(1000, 256) do
    seen[#seen + 1] = v
    if v == 6 then break end
  end
  for _, _, v in e:events(0) do seen[#seen + 1] = v end
  T.eq(table.concat(seen, ","), "3,4,5,6,7,8,9,10", "every event once, in order")
  T.eq(e:next(), nil, "next at the end of a batch")
end)

-- e:events(t) is a loop over everything within t, batch after batch (the
-- loop a server writes), not one batch: the stumble was a UDP echo loop
-- that returned after its first poll.
test("events_loop_spans_batches", function()
  local e = T.engine()
  local tm = assert(e:timer(10, 10))
  local t0, ticks = sys.now(), 0
  for t, h in e:events(300, 1) do
    if t == net.TIMER and h == tm then ticks = ticks + 1 end
  end
  local dt = sys.now() - t0
  T.ok(ticks >= 5, "many batches of one TIMER each in one loop", ticks)
  T.ok(dt >= 0.29 and dt < 2, "the loop lasts its timeout", dt)
  net.close(tm)
  -- events(0): what is ready now, then the loop ends.
  for i = 1, 3 do e:post(i) end
  local seen = {}
  for _, _, v in e:events(0) do seen[#seen + 1] = v end
  T.eq(table.concat(seen, ","), "1,2,3", "events(0) hands out what is ready")
  -- events() has no end of its own: break, a wakeup or close ends it.
  e:post(1)
  local n = 0
  for t in e:events() do
    n = n + 1
    if t == net.USER then e:wakeup() end
  end
  T.eq(n, 1, "a wakeup ends an endless loop")
end)

test("poll_into_arrays", function()
  local e = T.engine()
  local _, c = T.pair(e, {framing = "u16le"})
  net.send(c, "payload")
  e:post(99)
  local T_, H, A, U = {}, {}, {}, {}
  local seen = {}
  local deadline = sys.now() + 5
  while not (seen.data and seen.user) and sys.now() < deadline do
    local n = e:poll_into(T_, H, A, U, 20)
    for i = 1, n do
      if T_[i] == net.DATA then
        T.eq(A[i], "payload", "DATA arg")
        T.ok(H[i] ~= c, "server side")
        seen.data = true
      elseif T_[i] == net.USER then
        T.eq(A[i], 99, "USER arg")
        T.eq(U[i], 99, "USER user")
        seen.user = true
      end
    end
  end
  T.ok(seen.data and seen.user, "both events")
  T.raises("bad argument #3 .*table expected", e.poll_into, e, {}, nil, {}, {})
end)

test("closed_engine_iteration", function()
  local e = net.engine{io_threads = T.io_threads}
  for i = 1, 3 do e:post(i) end
  local n = 0
  for _ in e:events(1000, 1) do
    n = n + 1
    e:close() -- ends the loop: no payload outlives its engine
  end
  T.eq(n, 1, "the loop ends when the engine closes")
  T.raises("engine is closed: 'events' called after close%(%)", e.events, e, 0)
  T.raises("engine is closed: 'next' called after close%(%)", e.next, e)
end)

return tests
