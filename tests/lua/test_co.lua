-- test_co.lua - require "net.co": coroutines per connection over the event
-- iterator. Echo with many coroutines, read timeouts, write backpressure
-- against a slow reader, a failing handler that takes only its own
-- connection down, close reasons, sleeps, misuse, and nothing left behind.
local net = require "net"
local sys = require "net.sys"
local co = require "net.co"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

-- Steps e's scheduler until cond() holds; fails after timeout_ms.
local function step_until(e, cond, timeout_ms, what)
  local deadline = sys.now() + (timeout_ms or 5000) / 1000
  while not cond() do
    if sys.now() > deadline then error("timed out waiting for " .. (what or "a condition"), 2) end
    co.step(e, 10)
  end
end

-- Fails unless net.co holds nothing for e any more.
local function nothing_left(e)
  local st = co.stats(e)
  for _, k in ipairs{"tasks", "sockets", "listeners", "timers"} do
    T.eq(st[k], 0, "co.stats(e)." .. k .. " once everything ended")
  end
  return st
end

-- An echo handler that also records how each read loop ended.
local function echo_handler(ends)
  return function(sock)
    while true do
      local msg, why, code = sock:read()
      if not msg then
        ends[#ends + 1] = {why, code}
        return
      end
      assert(sock:write(msg))
    end
  end
end

test("echo_with_many_coroutines", function()
  local e = T.engine()
  local ends = {}
  local l = assert(co.listen(e, "127.0.0.1", 0, {framing = "u32le"}, echo_handler(ends)))
  local addr = net.local_addr(l)
  local clients, rounds, done, bad = 40, 25, 0, 0
  for i = 1, clients do
    co.spawn(e, function()
      local s = assert(co.connect(e, addr, {framing = "u32le"}))
      for j = 1, rounds do
        local msg = string.rep(string.char(65 + i % 26), i) .. ":" .. j
        assert(s:write(msg))
        if s:read(5) ~= msg then bad = bad + 1 end
      end
      s:close()
      done = done + 1
      if done == clients then net.close(l) end
    end)
  end
  T.eq(co.stats(e).tasks, clients, "one coroutine per client, each waiting on its connect")
  local why = co.run(e, 10)
  T.eq(why, "done", "co.run returns once nothing is left")
  T.eq(done, clients, "every client finished")
  T.eq(bad, 0, "every echo came back unchanged")
  T.eq(#ends, clients, "every server handler saw its connection end")
  for _, x in ipairs(ends) do
    T.eq(x[1], "closed", "orderly close reason")
    T.eq(x[2], net.OK, "orderly close code")
  end
  local st = nothing_left(e)
  T.eq(st.errors, 0, "no coroutine failed")
end)

test("read_timeout", function()
  local e = T.engine()
  local got = {}
  local l = assert(co.listen(e, "127.0.0.1:0", {framing = "u16le"}, function(sock)
    got.now = {sock:read(0)}                          -- nothing there: at once
    local t0 = sys.now()
    got.first = {sock:read(0.1)}                     -- nothing comes
    got.waited = sys.now() - t0
    got.second = {sock:read(5)}                       -- the client sends now
    got.done = true
  end))
  local c = assert(e:connect(net.local_addr(l), {framing = "u16le"}))
  step_until(e, function() return got.first end, 5000, "the timed-out read")
  T.eq(got.now[1], nil, "read(0) with nothing queued")
  T.eq(got.now[2], "timeout", "read(0) reason")
  T.eq(got.first[1], nil, "a read that timed out")
  T.eq(got.first[2], "timeout", "its reason")
  T.eq(got.first[3], net.E_TIMEDOUT, "its code")
  T.ok(got.waited >= 0.099, "it waited for its timeout", got.waited)
  T.eq(net.send(c, "after the timeout"), true, "send")
  step_until(e, function() return got.done end, 5000, "the second read")
  T.eq(got.second[1], "after the timeout", "the connection stays usable after a read timed out")
  net.close(c)
  net.close(l)
  step_until(e, function() return co.stats(e).sockets == 0 and co.stats(e).listeners == 0 end)
  nothing_left(e)
  T.raises("bad argument #1 to 'read' %(timeout in seconds", co.Sock.read, {}, -1)
  T.raises("bad argument #1 to 'read' %(timeout in seconds", co.Sock.read, {}, "1")
end)

-- The writer suspends while the send queue is over the high-water mark
-- (the peer does not read), so the queue stays bounded; it resumes once
-- the peer reads, and every byte arrives in order.
test("write_backpressure_slow_reader", function()
  local highwater, chunk_size, chunks = 65536, 16384, 64
  local e = T.engine{send_highwater = highwater, send_lowwater = 16384}
  local peer = T.engine{io_threads = 0} -- reads only when polled
  local written, max_queued, finished, server = 0, 0, false, nil
  local l = assert(co.listen(e, "127.0.0.1", 0, {framing = "u32le"}, function(sock)
    server = sock.handle
    net.set_option(server, "sndbuf", 32768)
    for i = 1, chunks do
      assert(sock:write(string.pack("<I4", i) .. string.rep("w", chunk_size - 4)))
      written = i
      max_queued = math.max(max_queued, net.send_queued(server))
    end
    finished = true
  end))
  local c = assert(peer:connect("127.0.0.1", select(2, net.local_addr(l)), {framing = "u32le"}))
  net.set_option(c, "rcvbuf", 32768)
  local up
  T.until_(peer, function(t) up = up or t == net.CONNECT return up end, 5000, "the peer's CONNECT")
  -- From now on the peer engine is not polled, so nothing reads: the queue
  -- passes the mark and the writer suspends; the kernel's buffers take a
  -- little more (each time the queue drains under the low-water mark, the
  -- writer goes on), then they are full and the writer stays suspended.
  -- Without backpressure all 64 writes would be queued at once.
  step_until(e, function() return server and net.send_queued(server) > highwater end, 5000, "a full queue")
  -- How much the kernel takes varies (an io_uring peer lends its socket
  -- the buffers of its ring too), and with an I/O thread the queue can be
  -- empty for a moment before the writer hears it drained: wait until the
  -- writer has stayed put for 5 steps with the queue held, where it ends.
  local last, still = -1, 0
  step_until(e, function()
    still = (written == last and net.send_queued(server) > 16384) and still + 1 or 0
    last = written
    return still >= 5
  end, 5000, "the writer to stay suspended with the queue held")
  T.ok(not finished and written < chunks, "the writer is suspended before the end", written)
  T.ok(net.send_queued(server) > 16384, "it waits for the queue to drain", net.send_queued(server))
  T.ok(max_queued <= highwater + chunk_size + 4,
    "the queue stays within the high-water mark plus the write that passed it", max_queued)
  -- Now the peer reads everything; the writer finishes.
  local got, order_ok = 0, true
  local deadline2 = sys.now() + 10
  while got < chunks do
    co.step(e, 0)
    for t, h, a in peer:events(5) do
      if t == net.DATA and h == c then
        got = got + 1
        if string.unpack("<I4", a) ~= got or #a ~= chunk_size then order_ok = false end
      end
    end
    T.ok(sys.now() < deadline2, "timed out reading the rest", got)
  end
  -- The writer's last wait ends with the SEND_DRAINED of the queue it left.
  step_until(e, function() return finished end, 5000, "the writer to finish once the peer read")
  T.ok(order_ok, "every chunk arrived whole and in order")
  net.close(l)
  net.close(c)
  step_until(e, function()
    for _ in peer:events(0) do end -- the peer's side of the close
    return co.stats(e).sockets == 0 and co.stats(e).listeners == 0
  end, 5000, "both closes")
  nothing_left(e)
end)

-- A send cap under the high-water mark: the queue never passes the mark,
-- so no SEND_DRAINED comes; a write the cap refuses is tried again until
-- the queue has room, and nothing is lost or reordered.
test("write_waits_for_the_send_cap", function()
  local msg_size, count = 16000, 16
  local e = T.engine{max_message = msg_size, send_cap = 40000}
  local peer = T.engine{io_threads = 0}
  local written, finished = 0, false
  local refused_meanwhile = 0
  local l = assert(co.listen(e, "127.0.0.1", 0, {framing = "u32le"}, function(sock)
    net.set_option(sock.handle, "sndbuf", 16384)
    for i = 1, count do
      assert(sock:write(string.pack("<I4", i) .. string.rep("c", msg_size - 4)))
      written = i
    end
    finished = true
  end))
  local c = assert(peer:connect("127.0.0.1", select(2, net.local_addr(l)), {framing = "u32le"}))
  net.set_option(c, "rcvbuf", 16384)
  local up
  T.until_(peer, function(t) up = up or t == net.CONNECT return up end, 5000, "the peer's CONNECT")
  for _ = 1, 5 do co.step(e, 10) end
  T.ok(not finished and written < count, "the writer waits while the cap is reached", written)
  local got, in_order = 0, true
  step_until(e, function()
    for t, h, a in peer:events(0) do
      if t == net.DATA and h == c then
        got = got + 1
        in_order = in_order and string.unpack("<I4", a) == got
      end
    end
    return got == count and finished
  end, 10000, "every message")
  T.ok(in_order, "in order")
  net.close(l)
  net.close(c)
  step_until(e, function()
    for _ in peer:events(0) do end
    return co.stats(e).sockets == 0 and co.stats(e).listeners == 0
  end, 5000, "both closes")
  nothing_left(e)
end)

-- half_open: the peer's FIN ends reading ("eof"), and the handler still
-- writes its answer.
test("eof_with_half_open", function()
  local e = T.engine()
  local seen
  local l = assert(co.listen(e, "127.0.0.1", 0, {framing = "u16le", half_open = true}, function(sock)
    local msgs = {}
    while true do
      local m, why, code = sock:read(5)
      if not m then
        seen = {why = why, code = code, msgs = msgs}
        break
      end
      msgs[#msgs + 1] = m
    end
    assert(sock:write("got " .. #msgs))
  end))
  local c = assert(e:connect(net.local_addr(l), {framing = "u16le"}))
  local answer, closed
  co.options(e, {on_event = function(t, h, a)
    if t == net.CONNECT and h == c then
      net.send(c, "one")
      net.send(c, "two")
      net.shutdown(c)
    elseif t == net.DATA and h == c then
      answer = a
    elseif t == net.CLOSE and h == c then
      closed = a
    end
  end})
  step_until(e, function() return answer and closed and co.stats(e).sockets == 0 end, 5000, "the answer and the close")
  T.eq(seen.why, "eof", "read after the peer's FIN: reason")
  T.eq(seen.code, net.OK, "read after the peer's FIN: code")
  T.eq(table.concat(seen.msgs, ","), "one,two", "what came before it")
  T.eq(answer, "got 2", "the handler still writes after eof")
  net.close(l)
  step_until(e, function() return co.stats(e).listeners == 0 end)
  nothing_left(e)
end)

test("handler_error_closes_only_its_connection", function()
  local e = T.engine()
  local reported = {}
  co.options(e, {on_error = function(err, sock) reported[#reported + 1] = {err = err, sock = sock} end})
  local ends = {}
  local handler = echo_handler(ends)
  local l = assert(co.listen(e, "127.0.0.1", 0, {framing = "u16le"}, function(sock)
    local first = sock:read()
    if first == "boom" then error("the handler fails on boom") end
    assert(sock:write(first))
    return handler(sock)
  end))
  local addr = net.local_addr(l)
  local results = {}
  for i = 1, 3 do
    co.spawn(e, function()
      local s = assert(co.connect(e, addr, {framing = "u16le"}))
      s:write(i == 2 and "boom" or ("hello " .. i))
      local first, why, code = s:read(5)
      local later = {}
      if first then
        -- The others keep working after connection 2 failed.
        for j = 1, 5 do
          s:write("again " .. j)
          later[#later + 1] = s:read(5)
        end
      end
      results[i] = {first = first, why = why, code = code, later = later}
    end)
  end
  step_until(e, function() return results[1] and results[2] and results[3] end, 5000, "three clients")
  T.eq(#reported, 1, "one failure reported")
  T.ok(reported[1].err:find("the handler fails on boom", 1, true), "the error's message", reported[1].err)
  T.ok(reported[1].err:find("stack traceback", 1, true), "with a traceback", reported[1].err)
  T.ok(reported[1].sock and reported[1].sock.handle, "on_error names the connection")
  T.eq(co.stats(e).errors, 1, "co.stats counts it")
  T.eq(results[2].first, nil, "the failed handler's client reads the end")
  T.ok(results[2].code ~= net.OK, "not an orderly close: its handler failed (aborted)", results[2].why)
  for _, i in ipairs{1, 3} do
    T.eq(results[i].first, "hello " .. i, "client " .. i .. " still served")
    T.eq(#results[i].later, 5, "client " .. i .. " kept its connection")
    T.eq(results[i].later[5], "again 5", "client " .. i .. "'s last echo")
  end
  net.close(l)
  step_until(e, function() return co.stats(e).sockets == 0 and co.stats(e).listeners == 0 end)
  nothing_left(e)
end)

test("close_reasons", function()
  local e = T.engine{idle_timeout_ms = 200}
  -- The clients live in an engine of their own, without the idle timeout.
  local peer = T.engine()
  local function both(cond)
    return function()
      for _ in peer:events(0) do end
      return cond()
    end
  end
  local seen, progress = {}, {}
  local l = assert(co.listen(e, "127.0.0.1", 0, {framing = "u16le"}, function(sock)
    local tag = assert(sock:read())
    local msgs = {}
    while true do
      progress[tag] = #msgs
      local m, why, code = sock:read()
      if not m then
        seen[tag] = {why = why, code = code, msgs = msgs}
        return
      end
      msgs[#msgs + 1] = m
      if m == "close yourself" then
        sock:close()
        -- Reads after closing here end at once.
        local m2, why2, code2 = sock:read()
        seen[tag] = {why = why2, code = code2, msgs = msgs, after = m2}
        return
      end
    end
  end))
  local addr = net.local_addr(l)
  local raw = {}
  local function client(tag, ...)
    local c = assert(peer:connect(addr, {framing = "u16le"}))
    assert(net.send(c, tag))
    for _, m in ipairs{...} do assert(net.send(c, m)) end
    raw[tag] = c
    return c
  end
  client("graceful", "one", "two")
  client("reset", "x")
  client("idle")
  client("server closes", "close yourself")
  step_until(e, both(function()
    return seen["server closes"] and progress.graceful == 2 and progress.reset == 1 and progress.idle == 0
  end), 5000, "the handlers to read what was sent")
  net.close(raw.graceful)
  net.abort(raw.reset)
  step_until(e, both(function() return seen.graceful and seen.reset and seen.idle end), 5000, "three ends")
  T.eq(seen.graceful.why, "closed", "peer closed: reason")
  T.eq(seen.graceful.code, net.OK, "peer closed: code")
  T.eq(table.concat(seen.graceful.msgs, ","), "one,two", "messages that came before the close are read first")
  T.eq(seen.reset.code, net.E_RESET, "peer reset: code")
  T.eq(seen.reset.why, net.strerror(net.E_RESET), "peer reset: reason")
  T.eq(seen.idle.code, net.E_TIMEDOUT, "idle timeout: code")
  T.eq(seen.idle.why, net.strerror(net.E_TIMEDOUT), "idle timeout: reason")
  T.eq(seen["server closes"].why, "closed", "closed here: reason")
  T.eq(seen["server closes"].after, nil, "closed here: no message after")
  -- A connection refused: the port of a listener closed just now.
  local l2 = assert(e:listen("127.0.0.1", 0))
  local port = select(2, net.local_addr(l2))
  local l2_closed
  co.options(e, {on_event = function(t, h) if t == net.CLOSE and h == l2 then l2_closed = true end end})
  net.close(l2)
  step_until(e, function() return l2_closed end, 5000, "the listener's CLOSE")
  local refused
  co.spawn(e, function() refused = {co.connect(e, "127.0.0.1", port)} end)
  step_until(e, function() return refused end, 5000, "the refused connect")
  T.eq(refused[1], nil, "co.connect to a closed port")
  T.eq(refused[3], net.E_REFUSED, "its code")
  net.close(l)
  step_until(e, both(function() return co.stats(e).sockets == 0 and co.stats(e).listeners == 0 end))
  nothing_left(e)
end)

-- A listener whose engine is never polled, with a backlog of 1: the
-- kernel completes two handshakes, then drops the SYNs of the others.
test("connect_timeout", function()
  local quiet = T.engine{io_threads = 0}
  local ql = assert(quiet:listen("127.0.0.1", 0, {backlog = 1}))
  local port = select(2, net.local_addr(ql))
  local e = T.engine()
  local results = {}
  for _ = 1, 5 do
    co.spawn(e, function()
      local t0 = sys.now()
      local s, why, code = co.connect(e, "127.0.0.1", port, {timeout = 0.1})
      results[#results + 1] = {s = s, why = why, code = code, waited = sys.now() - t0}
      if s then s:abort() end
    end)
  end
  step_until(e, function() return #results == 5 end, 5000, "five connects to end")
  local timed_out = 0
  for _, r in ipairs(results) do
    if not r.s then
      T.eq(r.why, "timeout", "a connect that timed out: reason")
      T.eq(r.code, net.E_TIMEDOUT, "its code")
      T.ok(r.waited >= 0.099, "it waited for its timeout", r.waited)
      timed_out = timed_out + 1
    end
  end
  T.ok(timed_out >= 1, "the connects past the backlog timed out", timed_out)
  step_until(e, function() return co.stats(e).sockets == 0 end, 5000, "the aborted sockets' CLOSE")
  nothing_left(e)
end)

test("sleep_spawn_and_run", function()
  local e = T.engine()
  local order = {}
  local slow_waited
  co.spawn(e, function()
    local t0 = sys.now()
    co.sleep(0.06)
    slow_waited = sys.now() - t0
    order[#order + 1] = "slow"
  end)
  local c = co.spawn(e, function(a, b)
    order[#order + 1] = "started " .. a .. b -- at once, before spawn returns
    co.sleep(0.02)
    order[#order + 1] = "fast"
    co.spawn(function() -- no engine needed inside a coroutine of net.co
      co.sleep(0)
      order[#order + 1] = "child"
    end)
  end, "x", "y")
  T.eq(type(c), "thread", "co.spawn returns the coroutine")
  T.eq(order[1], "started xy", "a spawned function runs at once until it waits")
  T.eq(co.stats(e).timers, 2, "two sleeps pending")
  local why = co.run(e, 5)
  T.eq(why, "done", "co.run returns when every coroutine ended")
  -- The child's sleep(0) starts after "fast"; a loaded machine may hand out
  -- its TIMER after the slow one's, when both came in one batch.
  T.eq(#order, 4, "every coroutine ran to its end")
  T.eq(table.concat(order, ",", 1, 2), "started xy,fast", "the shorter sleep ends first")
  T.ok(order[3] ~= order[4] and (order[3] == "child" or order[3] == "slow") and
    (order[4] == "child" or order[4] == "slow"), "the child's sleep and the long one end after it",
    table.concat(order, ","))
  T.ok(slow_waited >= 0.059, "the long sleep lasted its time", slow_waited)
  nothing_left(e)
end)

test("stop_and_close_leave_nothing", function()
  local e = T.engine()
  local closed_vars, ends = 0, {}
  local l = assert(co.listen(e, "127.0.0.1", 0, function(sock)
    local _ <close> = setmetatable({}, {__close = function() closed_vars = closed_vars + 1 end})
    local m, why = sock:read() -- never returns: co.close ends the coroutine
    ends[#ends + 1] = why
  end))
  local addr = net.local_addr(l)
  local connected = 0
  for _ = 1, 5 do
    co.spawn(e, function()
      local _ <close> = setmetatable({}, {__close = function() closed_vars = closed_vars + 1 end})
      local s = assert(co.connect(e, addr))
      connected = connected + 1
      s:read()
    end)
  end
  step_until(e, function() return connected == 5 and co.stats(e).tasks == 10 end, 5000, "ten waiting coroutines")
  co.spawn(e, function()
    co.sleep(0.01)
    co.stop(e)
  end)
  T.eq(co.run(e), "stopped", "co.stop ends co.run")
  local handles = {l}
  co.close(e)
  T.eq(closed_vars, 10, "co.close ran every coroutine's to-be-closed variables")
  T.eq(#ends, 0, "no read returned: the coroutines were closed, not resumed")
  for _, h in ipairs(handles) do T.fails_with(net.E_BADHANDLE, "listener after co.close", net.close(h)) end
  T.raises("engine is closed", e.poll, e, 0)
end)

test("max_inbox_bounds_unread_data", function()
  local e = T.engine()
  local reported = {}
  co.options(e, {max_inbox = 10000, on_error = function(err) reported[#reported + 1] = err end})
  local holding
  local l = assert(co.listen(e, "127.0.0.1", 0, {framing = "u16le"}, function(sock)
    holding = sock
    co.sleep(30) -- never reads
  end))
  local c = assert(e:connect(net.local_addr(l), {framing = "u16le"}))
  co.options(e, {on_event = function() end})
  for _ = 1, 20 do assert(net.send(c, string.rep("u", 1000))) end
  step_until(e, function() return holding and holding.closed end, 5000, "the overflowing connection's end")
  T.eq(#reported, 1, "reported once")
  T.ok(reported[1]:find("max_inbox", 1, true), "the report names max_inbox", reported[1])
  T.ok(holding.bytes <= 11000, "no more than the bound was kept", holding.bytes)
  co.close(e)
end)

-- From the main program (or a luv callback) a write cannot wait: it
-- queues like net.send; read(0) takes what is there.
test("write_and_read_outside_a_coroutine", function()
  local e = T.engine()
  local server
  local l = assert(co.listen(e, "127.0.0.1", 0, function(sock)
    server = sock
    co.sleep(30)
  end))
  local c = assert(e:connect(net.local_addr(l)))
  local got
  co.options(e, {on_event = function(t, h, a)
    if t == net.DATA and h == c then got = a end
  end})
  step_until(e, function() return server end, 5000, "the accept")
  T.eq(server:write("from main"), true, "write outside a coroutine")
  step_until(e, function() return got end, 5000, "the message")
  T.eq(got, "from main", "it arrived")
  T.eq(select(2, server:read(0)), "timeout", "read(0) outside a coroutine: nothing there")
  net.send(c, "to main")
  step_until(e, function() return server.tail > 0 end, 5000, "the message at the server")
  T.eq(server:read(0), "to main", "read(0) outside a coroutine takes what is there")
  T.raises("sock:read suspends, so it must run inside a coroutine of net.co", server.read, server)
  co.close(e)
end)

test("misuse_raises_clearly", function()
  local e = T.engine()
  T.raises("bad argument #1 to 'co.listen' %(net engine expected, got table%)", co.listen, {}, "127.0.0.1", 0,
    function() end)
  T.raises("bad argument #3 to 'co.listen' %(handler function expected", co.listen, e, "127.0.0.1", 0)
  T.raises("co.connect suspends, so it must run inside a coroutine of net.co", co.connect, e, "127.0.0.1", 1)
  T.raises("co.sleep suspends", co.sleep, 1)
  T.raises("bad argument #1 to 'co.sleep'", co.sleep, -1)
  T.raises("unknown option 'max_inbx'", co.options, e, {max_inbx = 1})
  T.raises("on_error: function expected, got number", co.options, e, {on_error = 1})
  -- A bare coroutine.yield reaching the scheduler ends that coroutine, reported.
  local reported = {}
  co.options(e, {on_error = function(err) reported[#reported + 1] = err end})
  local after = false
  co.spawn(e, function()
    coroutine.yield()
    after = true
  end)
  T.eq(#reported, 1, "the bare yield is reported")
  T.ok(reported[1]:find("yielded outside net.co", 1, true), reported[1])
  T.ok(not after, "and never resumed")
  T.eq(co.stats(e).tasks, 0, "nor kept")
  -- Two readers of one connection, and co.step from inside a coroutine.
  local errs = {}
  local l = assert(co.listen(e, "127.0.0.1", 0, function(sock)
    co.spawn(function() sock:read() end)
    local ok, err = pcall(sock.read, sock)
    errs.second_reader = err
    ok, err = pcall(co.step, e)
    errs.step = err
  end))
  local c = assert(e:connect(net.local_addr(l)))
  step_until(e, function() return errs.step end, 5000, "the handler")
  T.ok(errs.second_reader:find("read by two coroutines at once", 1, true), errs.second_reader)
  T.ok(errs.step:find("co.step or co.run called inside a coroutine", 1, true), errs.step)
  net.close(c)
  co.close(e)
end)

return tests
