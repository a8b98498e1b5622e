-- poll_shapes.lua - what reading one event costs in each shape the Lua
-- binding could offer, measured on the same events.
--
--   LUA_CPATH='build/bindings/lua/?.so' lua5.4 bench/lua/poll_shapes.lua [--events N] [--batch B] [--rounds R]
--
-- Shapes:
--   iter    for t, h, a, u in e:events(0) do ... end    (multiple values per event)
--   next    n = e:poll(0); for i = 1, n do t, h, a, u = next(e) end
--   arrays  n = e:poll_into(T, H, A, U, 0); for i = 1, n do T[i], H[i], A[i], U[i] end
--   table   the iterator, building {type=, handle=, arg=, user=} per event
--           (the shape the binding avoids, as a baseline)
--
-- Two workloads: USER events from e:post (no payload: the shape's own cost
-- dominates) and DATA events of 64 bytes over loopback inside one engine
-- (a payload string per event, plus the I/O, which is the same for all).
-- Prints ns per event, best of R rounds per shape, shapes interleaved.
local dir = arg and arg[0] and arg[0]:match("^(.*[/\\])") or "./"
package.path = dir .. "../../samples/lua/?.lua;" .. package.path

local net = require "net"
local sys = require "net.sys"
local cli = require "cli"

local opt = cli.parse(arg, {
  ["events"] = {"uint", 2000000, min = 1},
  ["batch"] = {"uint", 256, min = 1, max = 65536},
  ["rounds"] = {"uint", 5, min = 1},
  ["size"] = {"uint", 64, min = 1},
}, "usage: poll_shapes.lua [--events N] [--batch B] [--rounds R] [--size BYTES]\n")

local B = opt.batch
local sink = 0

-- Consumers: each reads every event's four values and touches them.
local consume = {}

function consume.iter(e, want)
  local got = 0
  while got < want do
    for t, h, a, u in e:events(-1, B) do
      got = got + 1
      if t == 8 then sink = sink + a else sink = sink + #a end
      if got == want then break end -- events(-1) iterates without end
    end
  end
end

function consume.next(e, want)
  local got, nxt = 0, e.next
  while got < want do
    local n = e:poll(-1, B)
    for _ = 1, n do
      local t, h, a, u = nxt(e)
      if t == 8 then sink = sink + a else sink = sink + #a end
    end
    got = got + n
  end
end

local T, H, A, U = {}, {}, {}, {}
function consume.arrays(e, want)
  local got = 0
  while got < want do
    local n = e:poll_into(T, H, A, U, -1, B)
    for i = 1, n do
      local t, h, a, u = T[i], H[i], A[i], U[i]
      if t == 8 then sink = sink + a else sink = sink + #a end
    end
    got = got + n
  end
end

function consume.table(e, want)
  local got = 0
  while got < want do
    for t, h, a, u in e:events(-1, B) do
      local ev = {type = t, handle = h, arg = a, user = u}
      got = got + 1
      if ev.type == 8 then sink = sink + ev.arg else sink = sink + #ev.arg end
      if got == want then break end
    end
  end
end

local shapes = {"iter", "next", "arrays", "table"}

-- USER events: post a batch, read it back.
local function run_user(e, shape, total)
  local post, f = e.post, consume[shape]
  local t0 = sys.now()
  for _ = 1, total // B do
    for i = 1, B do post(e, i) end
    f(e, B)
  end
  return sys.now() - t0
end

-- DATA events: one connection sends a batch of framed messages to its
-- peer inside the same engine, which reads them back.
local function run_data(e, shape, total, tx)
  local send, f = net.send, consume[shape]
  local msg = string.rep("x", opt.size)
  local t0 = sys.now()
  for _ = 1, total // B do
    for _ = 1, B do send(tx, msg) end
    f(e, B)
  end
  return sys.now() - t0
end

local function best(times)
  table.sort(times)
  return times[1]
end

local e <close> = assert(net.engine{})

-- A pair of connected handles inside e.
local l = assert(e:listen("127.0.0.1", 0, {framing = "u32le"}))
local _, port = net.local_addr(l)
local tx = assert(e:connect("127.0.0.1", port, {framing = "u32le"}))
local connected, accepted = false, false
while not (connected and accepted) do
  for t in e:events(1000) do
    if t == net.CONNECT then connected = true elseif t == net.ACCEPT then accepted = true end
    if connected and accepted then break end
  end
end

io.stdout:write(string.format("poll shapes: %d events per round, batch %d, best of %d, backend %s\n",
  opt.events, B, opt.rounds, e:backend()))
for _, work in ipairs{"user", "data"} do
  local times = {}
  for _, s in ipairs(shapes) do times[s] = {} end
  for _ = 1, opt.rounds do
    for _, s in ipairs(shapes) do
      collectgarbage()
      local dt
      if work == "user" then dt = run_user(e, s, opt.events) else dt = run_data(e, s, opt.events // 4, tx) end
      local n = work == "user" and opt.events or opt.events // 4
      table.insert(times[s], dt / (n // B * B) * 1e9)
    end
  end
  local base = best(times.iter)
  for _, s in ipairs(shapes) do
    local ns = best(times[s])
    io.stdout:write(string.format("  %-5s %-7s %8.1f ns/event  (%.2fx iter)\n", work, s, ns, ns / base))
  end
end
