-- game_server.lua - a small but real game server on the Lua binding.
--
--   LUA_CPATH='build/bindings/lua/?.so' lua5.4 samples/lua/game_server.lua
--       [--port P] [--host H] [--backend auto|epoll|io_uring|iocp] [--io-threads N]
--       [--seconds S] [--world UNITS] [--cell UNITS] [--zone UNITS]
--       [--tick-hz HZ] [--max-players N] [--login-timeout S]
--       [--heartbeat-timeout S] [--grace S] [--highwater BYTES]
--       [--slow-grace S] [--sndbuf BYTES] [--max-rate PACKETS] [--extension FILE]
--       [--tick-log FILE]
--
-- Players log in, enter the world, move, chat and leave (packets in
-- game_proto.lua). The world is split into grid cells; a player's area of
-- interest is its cell and the 8 around it. Every tick (20 Hz) each
-- occupied cell gets one POSITIONS packet with the positions of every
-- player in its area of interest, broadcast with one shared buffer to the
-- players of that cell. Chat goes to the sender's zone, again as one
-- broadcast.
--
-- The pieces (README.md beside this file draws them): gate.lua owns the
-- sockets, logs players in and routes their packets to their agents
-- (agent.lua, one state object per player), which play the game in the
-- world (world.lua). The gate drops what would hurt the server: a client
-- that does not log in (--login-timeout), falls silent (--heartbeat-timeout),
-- floods (--max-rate packets a second), does not read (--highwater bytes
-- queued for longer than --slow-grace), cheats or breaks the protocol (an
-- ERROR, then the close), or makes a handler raise (the player goes, the
-- server stays). A player whose link drops keeps its state for --grace
-- seconds and RESUMEs it with its session token. --sndbuf caps each
-- player's kernel send buffer (0: the OS's own, which grows to megabytes),
-- so a client that stops reading reaches the high-water mark sooner.
--
-- --extension FILE runs FILE at start with the agents' handler table and
-- game_proto.lua (`local handlers, P = ...`): it may add or wrap packet
-- handlers, which run protected like the built-in ones.
--
-- --tick-log FILE writes one line per tick, "players wall_us cpu_us" (the
-- players logged in, the tick's wall and thread CPU time), after the tick:
-- bench/game.py reads the ticks of a steady window from it.
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
local Gate = require "gate"
local World = require "world"
local Agent = require "agent"

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
  ["login-timeout"] = {"number", 5},
  ["heartbeat-timeout"] = {"number", 10},
  ["grace"] = {"number", 30},
  ["highwater"] = {"uint", 65536, min = 1024, max = 1 << 30},
  ["slow-grace"] = {"number", 2},
  ["sndbuf"] = {"uint", 0},
  ["max-rate"] = {"uint", 100, min = 1},
  ["extension"] = {"string", nil},
  ["tick-log"] = {"string", nil},
}, [[
usage: game_server.lua [--port P] [--host H] [--backend auto|epoll|io_uring|iocp]
          [--io-threads N] [--seconds S] [--world UNITS] [--cell UNITS]
          [--zone UNITS] [--tick-hz HZ] [--max-players N] [--login-timeout S]
          [--heartbeat-timeout S] [--grace S] [--highwater BYTES]
          [--slow-grace S] [--sndbuf BYTES] [--max-rate PACKETS] [--extension FILE]
          [--tick-log FILE]
]])

local G = P.geometry(opt.world, opt.cell, opt.zone)
local now, cpu = sys.now, sys.thread_cpu

-- ---------------------------------------------------------------- the game

local counters = {logins = 0, protocol_errors = 0, chats = 0, moves = 0, moves_rejected = 0, speed_dropped = 0,
                  flood_dropped = 0, login_timeouts = 0, heartbeat_timeouts = 0, slow_warned = 0, slow_dropped = 0,
                  send_full = 0, script_errors = 0, tick_errors = 0, server_full = 0, links_lost = 0, resumes = 0,
                  resumes_refused = 0, sessions_expired = 0}

local gate = Gate.new(opt, counters)
local world = World.new(G, gate.out)
local agents = Agent.new{world = world, out = gate.out, clock = gate.clock, counters = counters}
gate.serve(world, agents)

local tick_log
if opt.tick_log then
  local err
  tick_log, err = io.open(opt.tick_log, "w")
  if not tick_log then
    io.stderr:write("--tick-log: ", err, "\n")
    os.exit(2)
  end
  tick_log:setvbuf("full")
end

if opt.extension then
  local chunk, err = loadfile(opt.extension)
  local ok = chunk and true
  if chunk then ok, err = pcall(chunk, agents.handlers, P) end
  if not ok then
    io.stderr:write("--extension: ", tostring(err), "\n")
    os.exit(2)
  end
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

-- The game clock advances, then the world's POSITIONS go out. A script
-- error in the tick is counted and written, and the next tick comes.
local function tick()
  local t0, c0 = now(), cpu()
  gate.advance()
  local ok, err = pcall(world.tick)
  if not ok then
    counters.tick_errors = counters.tick_errors + 1
    if counters.tick_errors <= 10 then io.stderr:write("game: tick: ", tostring(err), "\n") end
  end
  ticks = ticks + 1
  local wall, used = now() - t0, cpu() - c0
  record(tick_samples, tick_hist, wall)
  record(cpu_samples, cpu_hist, used)
  if tick_log then
    tick_log:write(string.format("%d %d %d\n", (gate.players()), wall * 1e6 // 1, used * 1e6 // 1))
    tick_log:flush()
  end
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

local engine, err = net.engine{backend = opt.backend, io_threads = opt.io_threads,
                               send_highwater = opt.highwater, send_lowwater = opt.highwater // 2}
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
local sweep_timer = assert(engine:timer(250, 250))
local prev, prev_t, prev_ticks = engine:stats(), now(), 0

local function print_stats()
  local s, t = engine:stats(), now()
  local dt = math.max(t - prev_t, 1e-9)
  table.sort(tick_samples)
  table.sort(cpu_samples)
  io.stderr:write(string.format(
    "players=%d parked=%d conns=%d in=%.0f msg/s out=%.0f msg/s out=%.2f MB/s ticks=%d tick p50=%.3f ms p99=%.3f ms " ..
    "(cpu p50=%.3f p99=%.3f) queued=%d dropped=%d\n",
    (gate.players()), select(3, gate.players()), s.connections, (s.messages_in - prev.messages_in) / dt,
    (s.messages_out - prev.messages_out) / dt, (s.bytes_out - prev.bytes_out) / dt / 1e6, ticks - prev_ticks,
    percentile(tick_samples, 0.5) * 1e3, percentile(tick_samples, 0.99) * 1e3, percentile(cpu_samples, 0.5) * 1e3,
    percentile(cpu_samples, 0.99) * 1e3, s.send_queued,
    counters.protocol_errors + counters.speed_dropped + counters.flood_dropped + counters.slow_dropped +
    counters.login_timeouts + counters.heartbeat_timeouts + counters.script_errors))
  io.stderr:flush()
  tick_samples, cpu_samples = {}, {}
  prev, prev_t, prev_ticks = s, t, ticks
end

local DATA, ACCEPT, CLOSE, TIMER = net.DATA, net.ACCEPT, net.CLOSE, net.TIMER
local HIGH, DRAINED = net.SEND_HIGHWATER, net.SEND_DRAINED
local gate_data = gate.data
local start = now()
local exit_code = 0
local running = true

local function handle(ev, h, a)
  if ev == DATA then
    gate_data(h, a)
  elseif ev == TIMER then
    if h == tick_timer then
      tick()
    elseif h == sweep_timer then
      gate.sweep()
    elseif h == stats_timer then
      print_stats()
    end
  elseif ev == ACCEPT then
    if opt.sndbuf > 0 then net.set_option(h, "sndbuf", opt.sndbuf) end
    gate.accept(h)
  elseif ev == CLOSE then
    if not gate.closed(h) and h == listener and running then
      io.stderr:write("listener closed: ", net.strerror(a), "\n")
      exit_code, running = 1, false
    end
  elseif ev == HIGH then
    gate.highwater(h)
  elseif ev == DRAINED then
    gate.drained(h)
  end
end

while running do
  if sys.caught() or (opt.seconds > 0 and now() - start >= opt.seconds) then break end
  for ev, h, a in engine:events(100) do handle(ev, h, a) end
end

-- Clean stop: no new players, everyone closed gracefully, then the engine.
net.close(listener)
net.close(tick_timer)
net.close(stats_timer)
net.close(sweep_timer)
gate.stop()
local deadline = now() + 3
while gate.open() and now() < deadline do
  for ev, h in engine:events(50) do
    if ev == CLOSE then gate.closed(h) end
  end
end
local s = engine:stats()
local elapsed = now() - start
local c = counters
io.stdout:write(string.format(
  "GAME seconds=%.1f players_peak=%d logins=%d moves=%d chats=%d ticks=%d ticks_per_s=%.1f " ..
  "tick_p50_ms=%.3f tick_p99_ms=%.3f tick_cpu_p50_ms=%.3f tick_cpu_p99_ms=%.3f msgs_in=%d msgs_out=%d " ..
  "protocol_errors=%d moves_rejected=%d speed_dropped=%d flood_dropped=%d login_timeouts=%d " ..
  "heartbeat_timeouts=%d slow_warned=%d slow_dropped=%d send_full=%d script_errors=%d tick_errors=%d " ..
  "links_lost=%d resumes=%d resumes_refused=%d sessions_expired=%d\n",
  elapsed, select(2, gate.players()), c.logins, c.moves, c.chats, ticks, ticks / elapsed,
  hist_percentile(tick_hist, 0.5), hist_percentile(tick_hist, 0.99), hist_percentile(cpu_hist, 0.5),
  hist_percentile(cpu_hist, 0.99), s.messages_in, s.messages_out, c.protocol_errors, c.moves_rejected,
  c.speed_dropped, c.flood_dropped, c.login_timeouts, c.heartbeat_timeouts, c.slow_warned, c.slow_dropped,
  c.send_full, c.script_errors, c.tick_errors, c.links_lost, c.resumes, c.resumes_refused, c.sessions_expired))
io.stdout:flush()
if tick_log then tick_log:close() end
engine:close()
os.exit(exit_code)
