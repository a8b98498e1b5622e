-- net/co.lua - require "net.co": coroutines over the event iterator, so a
-- connection's handler reads like blocking code (skynet's socket API,
-- copas):
--
--     co.listen(e, "127.0.0.1", 7000, {framing = "u32le"}, function(sock)
--       while true do
--         local msg = sock:read()     -- suspends this coroutine only
--         if not msg then return end  -- closed: nil, reason, code
--         sock:write(msg)             -- suspends while over the high-water mark
--       end
--     end)
--     co.run(e)
--
-- One scheduler per engine, kept beside it. Events are dispatched as they
-- are handed out, and the coroutine waiting on one is resumed at once (no
-- run queue): a wait is the only place a coroutine stops, so nothing is ever
-- left to run between two polls, and a loop that owns the waiting (co.run,
-- or luv through the engine's waitable descriptor, see co.luv) only has to
-- step the scheduler when the engine has events.
--
-- Timeouts and sleeps are net timers, so they come through the same event
-- queue (and the same waitable descriptor) as the network.
-- The reference, with examples: docs/api-lua.md, "Coroutines".
local net = require "net"
local sys = require "net.sys"

local co = {}

local create, resume, yield = coroutine.create, coroutine.resume, coroutine.yield
local running, costatus, coclose = coroutine.running, coroutine.status, coroutine.close
local send, close, abort, send_queued, get_option = net.send, net.close, net.abort, net.send_queued, net.get_option
local strerror, traceback = net.strerror, debug.traceback
local ACCEPT, CONNECT, DATA, CLOSE, TIMER = net.ACCEPT, net.CONNECT, net.DATA, net.CLOSE, net.TIMER
local HIGHWATER, DRAINED, EOF = net.SEND_HIGHWATER, net.SEND_DRAINED, net.EOF
local E_TIMEDOUT, E_WOULDBLOCK = net.E_TIMEDOUT, net.E_WOULDBLOCK

-- Events read per poll; a full batch means more may be ready, so a step
-- polls again without waiting (the waitable descriptor's rule).
local BATCH = 256
-- What a timer wakes its coroutine with, told apart from every other wake.
local TIMEOUT = setmetatable({}, {__name = "net.co timeout"})
-- The longest timer net takes (delay_ms is a uint32_t); longer waits are cut.
local MAX_DELAY_MS = 0xffffffff

-- engine -> its scheduler. Weak keys: a forgotten engine and its scheduler
-- (which refers to it: an ephemeron) are collected together.
local schedulers = setmetatable({}, {__mode = "k"})
-- coroutine -> its task ({S = scheduler, sock = the handler's socket or nil,
-- owned = {sock = true}}), for every coroutine net.co runs.
local task_of = setmetatable({}, {__mode = "k"})

local Sock = {}
Sock.__index = Sock
Sock.__name = "net.co socket"

-- ---------------------------------------------------------------- errors

local function default_on_error(err, sock)
  local who = sock and string.format("connection %d (%s)", sock.handle, sock.peer or "?") or "coroutine"
  io.stderr:write(string.format("net.co: %s failed: %s\n", who, tostring(err)))
end

-- Tells the program about a failure in a coroutine (through on_error); a
-- failing on_error is told on stderr, never raised into the scheduler.
local function report(S, err, sock)
  S.errors = S.errors + 1
  local ok, err2 = pcall(S.on_error, err, sock)
  if not ok then
    io.stderr:write("net.co: on_error raised: " .. tostring(err2) .. "\n")
  end
end

local function argerror(n, fname, msg, level)
  error(string.format("bad argument #%d to '%s' (%s)", n, fname, msg), (level or 1) + 1)
end

-- ---------------------------------------------------------------- the scheduler

local function scheduler(e, fname)
  local S = schedulers[e]
  if S then return S end
  if not (type(e) == "userdata" and tostring(e):find("^net%.engine")) then
    argerror(1, fname, "net engine expected, got " .. (type(e) == "userdata" and "userdata" or type(e)), 3)
  end
  S = {
    e = e,
    socks = {}, nsocks = 0,         -- handle -> sock, until its CLOSE
    listeners = {}, nlisteners = 0, -- handle -> handler, until its CLOSE
    timers = {}, ntimers = 0,       -- handle -> the coroutine it will wake
    tasks = {}, ntasks = 0,         -- coroutine -> task, until it ends
    waiting = {},                   -- coroutine -> true while suspended in a wait
    errors = 0, unclaimed = 0,
    on_error = default_on_error,
    on_event = nil,
    max_inbox = 4 << 20,
    stepping = false, stopped = false,
  }
  schedulers[e] = S
  return S
end

-- The task of the running coroutine, which must be one of S's.
local function current_task(S, fname)
  local me = running()
  local task = task_of[me]
  if not task then
    error(string.format("net.co: %s suspends, so it must run inside a coroutine of net.co " ..
      "(a co.listen handler or co.spawn), not %s", fname,
      select(2, running()) and "the main program" or "a coroutine of the program's own"), 3)
  end
  if S and task.S ~= S then
    error(string.format("net.co: %s was given another engine than the one its coroutine runs on", fname), 3)
  end
  return task, me
end

local finish

-- Resumes c and checks how it stopped: in a wait of net.co (waiting[c]),
-- finished (the task's wrapper cleaned up), or suspended by a bare
-- coroutine.yield, which nothing would ever resume: that task is ended and
-- reported.
local function step_task(S, c, ...)
  local ok, err = resume(c, ...)
  if not ok then
    -- Only the wrapper's own cleanup can fail here (handlers run in xpcall).
    local task = task_of[c]
    if task and S.tasks[c] then finish(task, false, err) end
  elseif not S.waiting[c] and costatus(c) == "suspended" then
    local task = task_of[c]
    coclose(c)
    finish(task, false, "yielded outside net.co (a bare coroutine.yield reached the scheduler; " ..
      "a handler waits only through net.co)")
  end
end

-- Resumes c with v if it still waits: the first wake wins (data and the
-- timeout of the same read may come in one batch).
local function wake(S, c, v)
  if S.waiting[c] then
    S.waiting[c] = nil
    step_task(S, c, v)
  end
end

local function start_timer(S, c, seconds)
  local ms = math.ceil(seconds * 1000)
  if ms > MAX_DELAY_MS then ms = MAX_DELAY_MS end
  local t, msg = S.e:timer(ms)
  if not t then error("net.co: cannot start a timer: " .. tostring(msg), 3) end
  S.timers[t] = c
  S.ntimers = S.ntimers + 1
  return t
end

local function drop_timer(S, t)
  if S.timers[t] then
    S.timers[t] = nil
    S.ntimers = S.ntimers - 1
    close(t)
  end
end

-- Suspends the running task until something wakes it; with seconds, a
-- timer wakes it with TIMEOUT at the latest. Returns what woke it.
local function suspend(S, me, seconds)
  local t = seconds and start_timer(S, me, seconds)
  S.waiting[me] = true
  local v = yield()
  if t then drop_timer(S, t) end
  return v
end

local function check_timeout(v, n, fname)
  if v ~= nil and (type(v) ~= "number" or v < 0 or v ~= v) then
    argerror(n, fname, "timeout in seconds (a number >= 0) expected, got " ..
      (type(v) == "number" and tostring(v) or type(v)), 3)
  end
  return v
end

-- ---------------------------------------------------------------- tasks

-- Ends a task: its sockets still open are closed (gracefully when the
-- function returned, at once when it failed), and a failure is reported.
function finish(task, ok, err)
  local S = task.S
  if not S.tasks[task.co] then return end
  S.tasks[task.co] = nil
  S.ntasks = S.ntasks - 1
  S.waiting[task.co] = nil
  for s in pairs(task.owned) do
    if not s.closing then
      s.closing = true
      if ok then close(s.handle) else abort(s.handle) end
    end
  end
  task.owned = {}
  if not ok then report(S, err, task.sock) end
end

local function new_task(S, f, sock)
  local task = {S = S, sock = sock, owned = {}}
  if sock then
    task.owned[sock] = true
    sock.task = task
  end
  task.co = create(function(...)
    local ok, err = xpcall(f, traceback, ...)
    finish(task, ok, err)
  end)
  task_of[task.co] = task
  S.tasks[task.co] = task
  S.ntasks = S.ntasks + 1
  return task
end

-- ---------------------------------------------------------------- sockets

local function new_sock(S, h, peer)
  local s = setmetatable({S = S, handle = h, peer = peer, inbox = {}, head = 1, tail = 0, bytes = 0,
    writers = {}}, Sock)
  S.socks[h] = s
  S.nsocks = S.nsocks + 1
  return s
end

local function pop(s)
  local i = s.head
  if i > s.tail then return nil end
  local m = s.inbox[i]
  s.inbox[i] = nil
  s.bytes = s.bytes - #m
  if i == s.tail then s.head, s.tail = 1, 0 else s.head = i + 1 end
  return m
end

local function wake_writers(s)
  local list = s.writers
  if #list == 0 then return end
  s.writers = {}
  for i = 1, #list do wake(s.S, list[i]) end
end

-- Why reads end: nil, reason, code.
local function ended(s)
  if s.closed then return nil, s.reason, s.code end
  if s.closing then return nil, "closed", net.OK end
  return nil, "eof", net.OK -- s.eof: the peer finished sending (half_open)
end

-- sock:read([timeout]) -> message | nil, reason, code
-- One whole message (or a raw chunk). Suspends until one comes; returns
-- nil, "timeout", net.E_TIMEDOUT after timeout seconds (the socket stays
-- usable). Once it closed: nil, "closed", net.OK (orderly, or closed here)
-- or nil, net.strerror(code), code; messages that came before go first.
function Sock:read(timeout)
  check_timeout(timeout, 1, "read")
  while true do
    local m = pop(self)
    if m then return m end
    if self.closed or self.closing or self.eof then return ended(self) end
    if timeout == 0 then return nil, "timeout", E_TIMEDOUT end
    local S = self.S
    local _, me = current_task(S, "sock:read")
    if self.reader then
      error(string.format("net.co: connection %d is read by two coroutines at once", self.handle), 2)
    end
    self.reader = me
    local v = suspend(S, me, timeout)
    self.reader = nil
    if v == TIMEOUT then
      -- A message may have come in the same batch as the timer: take it.
      m = pop(self)
      if m then return m end
      return nil, "timeout", E_TIMEDOUT
    end
  end
end

-- Waits for SEND_DRAINED (or the CLOSE): the queue is over the high-water
-- mark, so net reports SEND_HIGHWATER, then SEND_DRAINED once it fell
-- under the low-water mark. With seconds, a timer ends the wait too, and
-- the writer leaves the list (nothing else may wake it later).
local function wait_drained(s, me, seconds)
  local w = s.writers
  w[#w + 1] = me
  if suspend(s.S, me, seconds) == TIMEOUT then
    w = s.writers
    for i = #w, 1, -1 do
      if w[i] == me then table.remove(w, i) end
    end
  end
end

-- A send the cap refused is tried again after SEND_DRAINED, or after this
-- long: when the cap lies under the high-water mark the queue never passes
-- the mark, so no SEND_DRAINED would come.
local CAP_RETRY_SECONDS = 0.01

-- The connection's high-water mark, read again when the queue seems over
-- it (the program may have raised it with net.set_option since).
local function over_highwater(s)
  local queued = send_queued(s.handle)
  if not queued or queued <= (s.highwater or -1) then return false end
  s.highwater = get_option(s.handle, "highwater")
  return s.highwater ~= nil and queued > s.highwater
end

-- sock:write(s [, s2, ...]) -> true | nil, message, code
-- One message (pieces gathered, as net.send). Suspends while the send
-- queue is over the high-water mark, before queuing (SEND_HIGHWATER seen)
-- and after (this message took it over), until SEND_DRAINED; when the send
-- cap refuses the message, waits for SEND_DRAINED and tries again.
-- Outside a coroutine of net.co (a luv callback, the main program) it
-- cannot wait: it queues or fails at once, as net.send does.
function Sock:write(...)
  local S, h = self.S, self.handle
  local task = task_of[running()]
  if not task or task.S ~= S then return send(h, ...) end
  local me = task.co
  while self.above and not (self.closed or self.closing) do
    wait_drained(self, me)
  end
  while true do
    local ok, msg, code = send(h, ...)
    if ok then break end
    if code ~= E_WOULDBLOCK or self.closed then return nil, msg, code end
    wait_drained(self, me, CAP_RETRY_SECONDS)
  end
  while not (self.closed or self.closing) and over_highwater(self) do
    wait_drained(self, me)
  end
  return true
end

-- sock:close(): graceful (what is queued still goes). sock:abort(): at once.
-- Later reads return nil, "closed"; the handle goes when its CLOSE comes.
function Sock:close()
  if not (self.closing or self.closed) then
    self.closing = true
    close(self.handle)
    wake_writers(self)
    if self.reader then wake(self.S, self.reader) end
  end
  return true
end

function Sock:abort()
  if not (self.closing or self.closed) then
    self.closing = true
    abort(self.handle)
    wake_writers(self)
    if self.reader then wake(self.S, self.reader) end
  end
  return true
end

Sock.__close = Sock.close

function Sock:__tostring()
  return string.format("net.co socket %d (%s)%s", self.handle, self.peer or "?",
    self.closed and " closed" or self.closing and " closing" or "")
end

-- ---------------------------------------------------------------- events

local function on_data(S, s, msg)
  if s.closing then return end -- closed here: nobody will read it
  local n = s.tail + 1
  s.inbox[n] = msg
  s.tail = n
  s.bytes = s.bytes + #msg
  if s.reader then
    wake(S, s.reader)
  elseif s.bytes > S.max_inbox then
    -- Nobody reads: net stops reading a socket whose events are not
    -- polled (recv_limit), but the scheduler polls for every socket, so
    -- the bound is here.
    report(S, string.format("%d bytes came unread (more than max_inbox, %d): connection aborted",
      s.bytes, S.max_inbox), s)
    s.closing = true
    abort(s.handle)
  end
end

local function on_close(S, s, status)
  S.socks[s.handle] = nil
  S.nsocks = S.nsocks - 1
  s.closed = true
  s.code = status
  s.reason = status == 0 and "closed" or strerror(status)
  if s.task then s.task.owned[s] = nil end
  wake_writers(s)
  if s.connector then wake(S, s.connector) end
  if s.reader then wake(S, s.reader) end
end

local function on_accept(S, h, handler, peer)
  local s = new_sock(S, h, peer)
  local task = new_task(S, handler, s)
  step_task(S, task.co, s)
end

-- Runs an event net.co does not own through on_event, if the program set
-- one; else counts it.
local function unclaimed(S, t, h, a, u, x)
  local f = S.on_event
  if not f then
    S.unclaimed = S.unclaimed + 1
    return
  end
  local ok, err = xpcall(f, traceback, t, h, a, u, x)
  if not ok then report(S, "on_event: " .. tostring(err)) end
end

-- What each event type means to net.co: each handler returns true when
-- the event concerned a handle of its own (else on_event gets it).
local on = {}

on[DATA] = function(S, h, a)
  local s = S.socks[h]
  if s then on_data(S, s, a) return true end
end

on[TIMER] = function(S, h)
  local c = S.timers[h]
  if not c then return end
  -- A one-shot timer's handle ends with its event: nothing to close.
  S.timers[h] = nil
  S.ntimers = S.ntimers - 1
  wake(S, c, TIMEOUT)
  return true
end

on[ACCEPT] = function(S, h, listener, peer)
  local handler = S.listeners[listener]
  if handler then on_accept(S, h, handler, peer) return true end
end

on[CLOSE] = function(S, h, status)
  local s = S.socks[h]
  if s then on_close(S, s, status) return true end
  if S.listeners[h] then
    S.listeners[h] = nil
    S.nlisteners = S.nlisteners - 1
    return true
  end
end

on[HIGHWATER] = function(S, h)
  local s = S.socks[h]
  if s then s.above = true return true end
end

on[DRAINED] = function(S, h)
  local s = S.socks[h]
  if not s then return end
  s.above = false
  wake_writers(s)
  return true
end

on[CONNECT] = function(S, h, status, extra)
  local s = S.socks[h]
  if not s then return end
  s.connect_status = status
  if status == 0 then s.peer = extra else s.connect_os_error = extra end
  if s.connector then wake(S, s.connector) end
  return true
end

on[EOF] = function(S, h)
  local s = S.socks[h]
  if not s then return end
  s.eof = true
  if s.reader then wake(S, s.reader) end
  return true
end

local function dispatch(S, t, h, a, u, x)
  local f = on[t]
  if not (f and f(S, h, a, x)) then unclaimed(S, t, h, a, u, x) end
end

-- ---------------------------------------------------------------- the module

-- co.listen(e, addr... , handler) -> listener | nil, message, code, os_error
-- addr... is what e:listen takes (addr [, tcp] or host, port [, tcp]).
-- Every accepted connection runs handler(sock) in a coroutine of its own;
-- when it returns, the connection is closed (gracefully) if still open;
-- when it raises, the connection is aborted and the error reported.
-- Stop accepting with net.close(listener).
function co.listen(e, ...)
  local S = scheduler(e, "co.listen")
  local n = select("#", ...)
  local handler = n > 0 and select(n, ...) or nil
  if type(handler) ~= "function" then
    argerror(n + 1, "co.listen", "handler function expected as the last argument, got " .. type(handler), 2)
  end
  local args = table.pack(...)
  local l, msg, code, os_error = e:listen(table.unpack(args, 1, n - 1))
  if not l then return nil, msg, code, os_error end
  S.listeners[l] = handler
  S.nlisteners = S.nlisteners + 1
  return l
end

-- co.connect(e, addr... ) -> sock | nil, message, code [, os_error]
-- Inside a coroutine of net.co: connects (e:connect's arguments) and
-- suspends until the outcome. A `timeout` field (seconds) in the tcp
-- table bounds the wait (nil, "timeout", net.E_TIMEDOUT). The socket
-- belongs to the calling coroutine: closed when it ends, if still open.
function co.connect(e, ...)
  local S = scheduler(e, "co.connect")
  local task, me = current_task(S, "co.connect")
  local args = table.pack(...)
  local timeout
  local last = args[args.n]
  if type(last) == "table" and last.timeout ~= nil then
    timeout = check_timeout(last.timeout, args.n + 1, "co.connect")
    local copy = {}
    for k, v in pairs(last) do if k ~= "timeout" then copy[k] = v end end
    args[args.n] = copy
  end
  local h, msg, code, os_error = e:connect(table.unpack(args, 1, args.n))
  if not h then return nil, msg, code, os_error end
  local s = new_sock(S, h, nil)
  s.task = task
  task.owned[s] = true
  s.connector = me
  local v = suspend(S, me, timeout)
  s.connector = nil
  local status = s.connect_status
  if status == 0 then return s end
  -- A failed connect ends with its CLOSE; a timed-out one is ended here.
  task.owned[s] = nil
  if status ~= nil then return nil, strerror(status), status, s.connect_os_error end
  if not (s.closing or s.closed) then
    s.closing = true
    abort(h)
  end
  if v == TIMEOUT then return nil, "timeout", E_TIMEDOUT end
  return nil, s.reason or "closed", s.code or net.E_CLOSED
end

-- co.spawn([e,] f, ...) -> coroutine
-- Runs f(...) in a new coroutine at once, until it first waits, then
-- returns. Inside a coroutine of net.co, e may be left out.
function co.spawn(e, f, ...)
  local S
  if type(e) == "function" then
    local task = current_task(nil, "co.spawn without an engine")
    S = task.S
    local task2 = new_task(S, e)
    step_task(S, task2.co, f, ...)
    return task2.co
  end
  S = scheduler(e, "co.spawn")
  if type(f) ~= "function" then argerror(2, "co.spawn", "function expected, got " .. type(f), 2) end
  local task = new_task(S, f)
  step_task(S, task.co, ...)
  return task.co
end

-- co.sleep(seconds): suspends the running coroutine of net.co.
function co.sleep(seconds)
  check_timeout(seconds, 1, "co.sleep")
  if seconds == nil then argerror(1, "co.sleep", "number expected, got no value", 2) end
  local task, me = current_task(nil, "co.sleep")
  suspend(task.S, me, seconds)
end

-- Polls once (waiting up to timeout_ms) and dispatches the batch, then
-- polls again without waiting while batches come full.
local function drain(S, timeout_ms)
  local e = S.e
  local next_event = e.next
  local total = 0
  local n = e:poll(timeout_ms, BATCH)
  while true do
    total = total + n
    for t, h, a, u, x in next_event, e do dispatch(S, t, h, a, u, x) end
    if n < BATCH then return total end
    n = e:poll(0, BATCH)
  end
end

local function engine_closed(e)
  return not pcall(e.backend, e)
end

-- co.step(e [, timeout_ms]) -> events handled
-- One turn: what is ready (or comes within timeout_ms, default 0) is
-- dispatched and the coroutines it wakes run until they wait again.
-- For a program with a loop of its own; co.run is the loop otherwise.
function co.step(e, timeout_ms)
  local S = scheduler(e, "co.step")
  if S.stepping or task_of[running()] then
    error("net.co: co.step or co.run called inside a coroutine of net.co or one of its callbacks", 2)
  end
  if timeout_ms ~= nil and math.type(timeout_ms) ~= "integer" then
    argerror(2, "co.step", "timeout_ms (an integer) expected, got " .. type(timeout_ms), 2)
  end
  S.stepping = true
  local ok, n = pcall(drain, S, timeout_ms or 0)
  S.stepping = false
  if ok then return n end
  if engine_closed(e) then return 0 end -- closed by a handler: nothing more to step
  error(n, 0)
end

local function has_work(S)
  return S.ntasks > 0 or S.nlisteners > 0 or S.nsocks > 0
end

-- co.run(e [, seconds]) -> "done" | "stopped" | "timeout" | "closed" | signal name
-- Steps the scheduler until net.co has nothing left (no coroutine,
-- listener or socket of its own: "done"), co.stop(e) ("stopped"), seconds
-- passed ("timeout"), the engine was closed ("closed"), or a signal
-- net.sys.catch watches came (its name).
function co.run(e, seconds)
  local S = scheduler(e, "co.run")
  check_timeout(seconds, 2, "co.run")
  local deadline = seconds and sys.now() + seconds
  S.stopped = false
  while true do
    if S.stopped then return "stopped" end
    if engine_closed(e) then return "closed" end
    local sig = sys.caught()
    if sig then return sig end
    if not has_work(S) then return "done" end
    local wait = -1
    if deadline then
      local left = deadline - sys.now()
      if left <= 0 then return "timeout" end
      wait = math.min(math.ceil(left * 1000), 0x7fffffff)
    end
    co.step(e, wait)
  end
end

-- co.stop(e): ends co.run (from a coroutine or a callback); safe anywhere.
function co.stop(e)
  local S = scheduler(e, "co.stop")
  S.stopped = true
  if not engine_closed(e) then e:wakeup() end
  return true
end

local option_names = {on_error = "function", on_event = "function", max_inbox = "number"}

-- co.options(e, {on_error = f, on_event = f, max_inbox = bytes})
-- on_error(err, sock_or_nil): a coroutine failed (default: a line on
-- stderr). on_event(type, handle, arg, user, extra): events of handles
-- net.co did not make (default: counted, see co.stats). max_inbox: bytes
-- a connection may hold unread before it is aborted (default 4 MiB).
function co.options(e, opts)
  local S = scheduler(e, "co.options")
  if type(opts) ~= "table" then argerror(2, "co.options", "table expected, got " .. type(opts), 2) end
  for k, v in pairs(opts) do
    local want = option_names[k]
    if not want then argerror(2, "co.options", "unknown option '" .. tostring(k) .. "'", 2) end
    if type(v) ~= want then
      argerror(2, "co.options", string.format("%s: %s expected, got %s", k, want, type(v)), 2)
    end
  end
  if opts.on_error then S.on_error = opts.on_error end
  if opts.on_event then S.on_event = opts.on_event end
  if opts.max_inbox then
    if math.type(opts.max_inbox) ~= "integer" or opts.max_inbox < 0 then
      argerror(2, "co.options", "max_inbox: a byte count (integer >= 0) expected", 2)
    end
    S.max_inbox = opts.max_inbox
  end
  return true
end

-- co.stats(e) -> {tasks, sockets, listeners, timers, errors, unclaimed}
-- What net.co holds now (coroutines alive, sockets and listeners not yet
-- CLOSEd, timers pending) and counts since the start.
function co.stats(e)
  local S = scheduler(e, "co.stats")
  return {tasks = S.ntasks, sockets = S.nsocks, listeners = S.nlisteners, timers = S.ntimers,
          errors = S.errors, unclaimed = S.unclaimed}
end

-- co.close(e): ends every coroutine (their to-be-closed variables run),
-- closes every handle net.co made, then the engine. From outside the
-- scheduler only (co.stop first when inside co.run).
function co.close(e)
  local S = schedulers[e]
  if S then
    if S.stepping or task_of[running()] then
      error("net.co: co.close called inside a coroutine of net.co or one of its callbacks (co.stop, then close)", 2)
    end
    for c, task in pairs(S.tasks) do
      S.waiting[c] = nil
      local ok, err = coclose(c)
      if not ok then report(S, err, task.sock) end
      S.tasks[c] = nil
    end
    S.ntasks = 0
    if not engine_closed(e) then
      for t in pairs(S.timers) do close(t) end
      for h in pairs(S.socks) do abort(h) end
      for l in pairs(S.listeners) do close(l) end
    end
    S.timers, S.ntimers = {}, 0
    S.socks, S.nsocks = {}, 0
    S.listeners, S.nlisteners = {}, 0
    schedulers[e] = nil
  end
  e:close()
  return true
end

-- ---------------------------------------------------------------- luv

-- co.luv(e [, uv]) -> attachment
-- Steps e's scheduler inside a running luv loop (uv, default
-- require "luv"), with no thread and no timer of its own: a uv poll
-- handle watches the engine's waitable descriptor (e:waitable(), readable
-- whenever net_poll has something to hand out or I/O or a timer of the
-- engine is due), and each readiness runs co.step(e), which polls until a
-- batch comes back short, as the descriptor's contract asks.
-- attachment:close() detaches at once; attachment:close_when_done()
-- detaches once net.co has nothing left for e (now, or after the step that
-- ends the last of it), so uv.run returns when the program's own handles
-- are closed too. Linux: libuv polls a file descriptor, and the Windows
-- engine's waitable is an event HANDLE, which uv_poll cannot watch.
function co.luv(e, uv)
  local S = scheduler(e, "co.luv")
  if package.config:sub(1, 1) == "\\" then
    error("net.co: co.luv is Linux only (the Windows engine's waitable is an event HANDLE, " ..
      "which uv_poll cannot watch)", 2)
  end
  uv = uv or require "luv"
  if type(e.waitable) ~= "function" then
    error("net.co: co.luv needs e:waitable(), which this net module lacks", 2)
  end
  local fd, msg = e:waitable()
  if not fd then error("net.co: e:waitable() failed: " .. tostring(msg), 2) end
  local poll, perr = uv.new_poll(fd)
  if not poll then error("net.co: uv.new_poll on the engine's descriptor failed: " .. tostring(perr), 2) end
  -- steps: how many readinesses were served (a diagnostic: an idle engine
  -- must not keep luv busy).
  local att = {poll = poll, when_done = false, steps = 0}
  function att.close()
    if not poll:is_closing() then
      poll:stop()
      poll:close()
    end
    return true
  end
  function att.close_when_done()
    att.when_done = true
    if not has_work(S) or engine_closed(e) then att.close() end
    return true
  end
  local function on_ready(err)
    if err then
      report(S, "luv poll of the engine's descriptor: " .. tostring(err))
      return att.close()
    end
    if engine_closed(e) then return att.close() end
    att.steps = att.steps + 1
    local ok, err2 = pcall(co.step, e, 0)
    if not ok then
      -- Never raised into luv, which would end the whole program.
      report(S, "co.step: " .. tostring(err2))
      return att.close()
    end
    if att.when_done and not has_work(S) then att.close() end
  end
  poll:start("r", on_ready)
  return att
end

co.Sock = Sock
return co
