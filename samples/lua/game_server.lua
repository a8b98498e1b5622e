-- game_server.lua - a small but real game server on the Lua binding.
--
--   LUA_CPATH='build/bindings/lua/?.so' lua5.4 samples/lua/game_server.lua
--       [--port P] [--host H] [--backend auto|epoll|io_uring|iocp] [--io-threads N]
--       [--seconds S] [--world UNITS] [--cell UNITS] [--zone UNITS]
--       [--tick-hz HZ] [--max-players N]
--
-- Players log in, enter the world, move, chat and leave (packets in
-- game_proto.lua). The world is split into grid cells; a player's area of
-- interest is its cell and the 8 around it. Every tick (20 Hz) each
-- occupied cell gets one POSITIONS packet with the positions of every
-- player in its area of interest, broadcast with one shared buffer to the
-- players of that cell. Chat goes to the sender's zone, again as one
-- broadcast. A client breaking the protocol gets an ERROR and is closed.
--
-- Prints "listening on HOST:PORT ..." on stdout at start, a stats line every
-- second on stderr (players, messages in/out per second, tick time p50/p99),
-- a GAME summary line on stdout at the end, and stops cleanly (players closed
-- gracefully, engine destroyed) on SIGINT/SIGTERM or after --seconds.
local dir = arg and arg[0] and arg[0]:match("^(.*[/\\])") or "./"
package.path = dir .. "?.lua;" .. package.path

local net = require "net"
local sys = require "net.sys"
local cli = require "cli"
local P = require "game_proto"

local opt = cli.parse(arg, {
  ["port"] = {"uint", 7777, max = 65535},
  ["host"] = {"string", "127.0.0.1"},
  ["backend"] = {{"auto", "epoll", "io_uring", "iocp"}, "auto"},
  ["io-threads"] = {"uint", 0, max = 64},
  ["seconds"] = {"number", 0},
  ["world"] = {"uint", 1000, min = 1, max = 1000000},
  ["cell"] = {"uint", 100, min = 1, max = 1000000},
  ["zone"] = {"uint", 250, min = 1, max = 1000000},
  ["tick-hz"] = {"uint", 20, min = 1, max = 1000},
  ["max-players"] = {"uint", 10000, min = 1},
}, [[
usage: game_server.lua [--port P] [--host H] [--backend auto|epoll|io_uring|iocp]
          [--io-threads N] [--seconds S] [--world UNITS] [--cell UNITS]
          [--zone UNITS] [--tick-hz HZ] [--max-players N]
]])

local G = P.geometry(opt.world, opt.cell, opt.zone)
local pack, unpack, concat = string.pack, string.unpack, table.concat
local send, broadcast, close = net.send, net.broadcast, net.close
local now, cpu = sys.now, sys.thread_cpu
local ID = P.id_bytes

-- ---------------------------------------------------------------- world

-- Player states.
local CONNECTED, LOGGED_IN, IN_WORLD, LEAVING = 1, 2, 3, 4

local players = {}      -- handle -> player
local nplayers = 0      -- logged in
local peak_players = 0
local next_id = 1

-- cells[c] and zones[z]: {n = count, p = players, h = their handles};
-- around[c]: cell c and the cells touching it (its area of interest).
local cells, zones, around = {}, {}, {}
for c = 1, G.ncells do
  cells[c] = {n = 0, p = {}, h = {}}
  local cx, cy = G.cell_xy(c)
  local list = {}
  for dy = -1, 1 do
    for dx = -1, 1 do
      local x, y = cx + dx, cy + dy
      if x >= 0 and y >= 0 and x < G.cells_per_side and y < G.cells_per_side then
        list[#list + 1] = y * G.cells_per_side + x + 1
      end
    end
  end
  around[c] = list
end
for z = 1, G.nzones do zones[z] = {n = 0, p = {}, h = {}} end

-- A group (a cell or a zone) keeps its players and their handles in dense
-- arrays, the handles ready for net.broadcast; a player remembers its index
-- in each group it is in under the key `slot`, so leaving is a swap with
-- the group's last member.
local function group_add(g, p, slot)
  local n = g.n + 1
  g.p[n], g.h[n], g.n, p[slot] = p, p.h, n, n
end

local function group_remove(g, p, slot)
  local i, n = p[slot], g.n
  local last = g.p[n]
  g.p[i], g.h[i], last[slot] = last, last.h, i
  g.p[n], g.h[n], g.n = nil, nil, n - 1
end

local function cell_add(p, c)
  group_add(cells[c], p, "cslot")
  p.cell = c
end

local function cell_remove(p) group_remove(cells[p.cell], p, "cslot") end

local function zone_add(p, z)
  group_add(zones[z], p, "zslot")
  p.zone = z
end

local function zone_remove(p) group_remove(zones[p.zone], p, "zslot") end

local function place(p, x, y)
  p.x, p.y = x, y
  p.entry = pack("<I4i4i4", p.id, x, y)
  local c, z = G.cell_of(x, y), G.zone_of(x, y)
  if p.state ~= IN_WORLD then
    cell_add(p, c)
    zone_add(p, z)
    return
  end
  if c ~= p.cell then cell_remove(p); cell_add(p, c) end
  if z ~= p.zone then zone_remove(p); zone_add(p, z) end
end

local function leave_world(p)
  if p.state == IN_WORLD then
    cell_remove(p)
    zone_remove(p)
  end
  if p.state == IN_WORLD or p.state == LOGGED_IN then nplayers = nplayers - 1 end
end

-- ---------------------------------------------------------------- packets

local counters = {logins = 0, protocol_errors = 0, chats = 0, moves = 0}

local function reject(p, code, text)
  counters.protocol_errors = counters.protocol_errors + 1
  send(p.h, ID[P.ERROR], pack("<I2s1", code, text))
  leave_world(p)
  p.state = LEAVING
  close(p.h) -- graceful: the ERROR goes out first
end

local handlers = {}

handlers[P.LOGIN] = function(p, a)
  if p.state ~= CONNECTED then return reject(p, 1, "already logged in") end
  if #a < 3 or 3 + a:byte(3) ~= #a then return reject(p, 2, "bad LOGIN") end
  local name = a:sub(4)
  if #name == 0 or #name > P.MAX_NAME then return reject(p, 3, "bad name") end
  if nplayers >= opt.max_players then return reject(p, 4, "server full") end
  p.id, p.name, p.state = next_id, name, LOGGED_IN
  next_id = next_id + 1
  nplayers = nplayers + 1
  if nplayers > peak_players then peak_players = nplayers end
  counters.logins = counters.logins + 1
  send(p.h, ID[P.LOGIN_OK], pack("<I4I4I4I4", p.id, G.world, G.cell, G.zone))
end

handlers[P.ENTER] = function(p, a)
  if p.state ~= LOGGED_IN then return reject(p, 5, "ENTER before LOGIN") end
  if #a ~= 10 then return reject(p, 2, "bad ENTER") end
  local x, y = unpack("<i4i4", a, 3)
  x = math.max(0, math.min(G.world - 1, x))
  y = math.max(0, math.min(G.world - 1, y))
  place(p, x, y)
  p.state = IN_WORLD
  send(p.h, ID[P.ENTER_OK], pack("<I4i4i4I2", p.id, x, y, p.zone))
end

handlers[P.MOVE] = function(p, a)
  if p.state ~= IN_WORLD then return reject(p, 6, "MOVE outside the world") end
  if #a ~= 10 then return reject(p, 2, "bad MOVE") end
  local x, y = unpack("<i4i4", a, 3)
  local dx, dy = x - p.x, y - p.y
  if not G.inside(x, y) or dx > P.MAX_STEP or dx < -P.MAX_STEP or dy > P.MAX_STEP or dy < -P.MAX_STEP then
    return reject(p, 7, "illegal move")
  end
  counters.moves = counters.moves + 1
  place(p, x, y)
end

handlers[P.CHAT] = function(p, a)
  if p.state ~= IN_WORLD then return reject(p, 6, "CHAT outside the world") end
  if #a < 4 then return reject(p, 2, "bad CHAT") end
  local len = unpack("<I2", a, 3)
  if 4 + len ~= #a or len > P.MAX_CHAT then return reject(p, 2, "bad CHAT") end
  counters.chats = counters.chats + 1
  local zl = zones[p.zone]
  broadcast(zl.h, ID[P.CHAT_MSG] .. pack("<I4I2", p.id, p.zone) .. a:sub(3), zl.n)
end

handlers[P.LEAVE] = function(p, a)
  if p.state ~= LOGGED_IN and p.state ~= IN_WORLD then return reject(p, 5, "LEAVE before LOGIN") end
  if #a ~= 2 then return reject(p, 2, "bad LEAVE") end
  leave_world(p)
  p.state = LEAVING
  send(p.h, ID[P.LEAVE_OK])
  close(p.h)
end

local function on_packet(p, a)
  if p.state == LEAVING then return end
  local id = #a >= 2 and unpack("<I2", a) or -1
  local f = handlers[id]
  if f then f(p, a) else reject(p, 8, "unknown packet") end
end

-- ---------------------------------------------------------------- tick

-- Tick durations, wall clock and this thread's CPU time (the wall time
-- also counts time the thread was preempted): the last second's samples,
-- and histograms of the whole run in 10 us buckets (up to 1 s) for the
-- final percentiles.
local tick_samples, cpu_samples, tick_hist, cpu_hist, ticks = {}, {}, {}, {}, 0
local HIST_US, HIST_MAX = 10, 100000

local function record(samples, hist, dt)
  samples[#samples + 1] = dt
  local b = math.min(HIST_MAX, math.floor(dt * 1e6 / HIST_US))
  hist[b] = (hist[b] or 0) + 1
end

local parts = {}
local ID_POS = ID[P.POSITIONS]

-- Every occupied cell gets one POSITIONS packet listing the players of its
-- area of interest, broadcast as one shared buffer to the players in the
-- cell: each player receives one packet per tick, whatever the crowd.
local function tick()
  local t0, c0 = now(), cpu()
  for c = 1, G.ncells do
    local cl = cells[c]
    if cl.n > 0 then
      local k = 0
      local list = around[c]
      for j = 1, #list do
        local other = cells[list[j]]
        local op = other.p
        for i = 1, other.n do
          k = k + 1
          parts[k + 1] = op[i].entry
        end
      end
      for first = 1, k, P.MAX_ENTRIES do
        local last = math.min(k, first + P.MAX_ENTRIES - 1)
        parts[first] = ID_POS .. pack("<I2", last - first + 1)
        broadcast(cl.h, concat(parts, "", first, last + 1), cl.n)
      end
    end
  end
  ticks = ticks + 1
  record(tick_samples, tick_hist, now() - t0)
  record(cpu_samples, cpu_hist, cpu() - c0)
end

local function percentile(sorted, q)
  if #sorted == 0 then return 0 end
  return sorted[math.max(1, math.ceil(q * #sorted))]
end

local function hist_percentile(hist, q)
  local keys, total = {}, 0
  for b, n in pairs(hist) do keys[#keys + 1] = b; total = total + n end
  table.sort(keys)
  local want, seen = math.max(1, math.ceil(q * total)), 0
  for _, b in ipairs(keys) do
    seen = seen + hist[b]
    if seen >= want then return (b + 1) * HIST_US / 1000 end -- upper edge, ms
  end
  return 0
end

-- ---------------------------------------------------------------- main

local engine, err = net.engine{backend = opt.backend, io_threads = opt.io_threads}
if not engine then
  io.stderr:write("net.engine: ", err, "\n")
  os.exit(1)
end
local listener
listener, err = engine:listen(opt.host, opt.port, P.TCP)
if not listener then
  io.stderr:write(string.format("listen %s:%d: %s\n", opt.host, opt.port, err))
  os.exit(1)
end
sys.catch("INT", "TERM")
io.stdout:write(string.format("listening on %s backend=%s io_threads=%d framing=u16le\n",
  (net.local_addr(listener)), engine:backend(), opt.io_threads))
io.stdout:flush()

local tick_ms = 1000 // opt.tick_hz
local tick_timer = assert(engine:timer(tick_ms, tick_ms))
local stats_timer = assert(engine:timer(1000, 1000))
local prev, prev_t, prev_ticks = engine:stats(), now(), 0

local function print_stats()
  local s, t = engine:stats(), now()
  local dt = math.max(t - prev_t, 1e-9)
  table.sort(tick_samples)
  table.sort(cpu_samples)
  io.stderr:write(string.format(
    "players=%d conns=%d in=%.0f msg/s out=%.0f msg/s out=%.2f MB/s ticks=%d tick p50=%.3f ms p99=%.3f ms " ..
    "(cpu p50=%.3f p99=%.3f) queued=%d\n",
    nplayers, s.connections, (s.messages_in - prev.messages_in) / dt, (s.messages_out - prev.messages_out) / dt,
    (s.bytes_out - prev.bytes_out) / dt / 1e6, ticks - prev_ticks, percentile(tick_samples, 0.5) * 1e3,
    percentile(tick_samples, 0.99) * 1e3, percentile(cpu_samples, 0.5) * 1e3, percentile(cpu_samples, 0.99) * 1e3,
    s.send_queued))
  io.stderr:flush()
  tick_samples, cpu_samples = {}, {}
  prev, prev_t, prev_ticks = s, t, ticks
end

local DATA, ACCEPT, CLOSE, TIMER = net.DATA, net.ACCEPT, net.CLOSE, net.TIMER
local start = now()
local exit_code = 0
local running = true

local function handle(ev, h, a)
  if ev == DATA then
    local p = players[h]
    if p then on_packet(p, a) end
  elseif ev == TIMER then
    if h == tick_timer then tick() elseif h == stats_timer then print_stats() end
  elseif ev == ACCEPT then
    players[h] = {h = h, state = CONNECTED}
  elseif ev == CLOSE then
    local p = players[h]
    if p then
      leave_world(p)
      players[h] = nil
    elseif h == listener and running then
      io.stderr:write("listener closed: ", net.strerror(a), "\n")
      exit_code, running = 1, false
    end
  end
end

while running do
  if sys.caught() or (opt.seconds > 0 and now() - start >= opt.seconds) then break end
  for ev, h, a in engine:events(100) do handle(ev, h, a) end
end

-- Clean stop: no new players, everyone closed gracefully, then the engine.
close(listener)
close(tick_timer)
close(stats_timer)
for h, p in pairs(players) do
  leave_world(p)
  p.state = LEAVING
  close(h)
end
local deadline = now() + 3
while next(players) and now() < deadline do
  for ev, h, a in engine:events(50) do
    if ev == CLOSE then players[h] = nil end
  end
end
local s = engine:stats()
local elapsed = now() - start
io.stdout:write(string.format(
  "GAME seconds=%.1f players_peak=%d logins=%d moves=%d chats=%d ticks=%d ticks_per_s=%.1f " ..
  "tick_p50_ms=%.3f tick_p99_ms=%.3f tick_cpu_p50_ms=%.3f tick_cpu_p99_ms=%.3f msgs_in=%d msgs_out=%d " ..
  "protocol_errors=%d\n",
  elapsed, peak_players, counters.logins, counters.moves, counters.chats, ticks, ticks / elapsed,
  hist_percentile(tick_hist, 0.5), hist_percentile(tick_hist, 0.99), hist_percentile(cpu_hist, 0.5),
  hist_percentile(cpu_hist, 0.99), s.messages_in, s.messages_out, counters.protocol_errors))
io.stdout:flush()
engine:close()
os.exit(exit_code)
