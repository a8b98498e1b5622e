-- bots.lua - simulated players for game_server.lua, checking what they get.
--
--   LUA_CPATH='build/bindings/lua/?.so' lua5.4 samples/lua/bots.lua
--       [--host H] [--port P] [--bots N] [--seconds S] [--move-hz HZ]
--       [--chat-every SECONDS] [--step UNITS] [--backend B] [--io-threads N]
--       [--seed N] [--heartbeat-every SECONDS] [--resumes N] [--hostile N] [--light]
--
-- N bots connect, log in, enter the world at a random spot, then walk
-- (one MOVE per bot at --move-hz) and chat (every --chat-every seconds,
-- jittered) for --seconds, then wait for their last chats and LEAVE. All of
-- them run in this one process, which therefore knows where every player
-- really went, and checks:
--   - every packet is well formed (known id, exact length) and expected in
--     the bot's state; LOGIN_OK/ENTER_OK/LEAVE_OK come when they should;
--   - every POSITIONS entry is a position that player really took lately,
--     and lies in the bot's area of interest (its cell or the 8 around it,
--     for a cell the bot was in lately: the server may not have seen the
--     bot's newest moves yet); every bot sees itself;
--   - its own chats come back in order, tagged with the zone it chatted in;
--     chats from others were really said by them, in that zone, and it was
--     lately in that zone;
--   - every HEARTBEAT (each bot sends one every --heartbeat-every seconds)
--     comes back as a HEARTBEAT_ACK with its nonce, within 5 seconds;
--   - the server never refuses an honest move, never warns an honest bot
--     and never sends it an ERROR;
--   - no connection closes before its LEAVE_OK, except the --resumes N
--     bots that drop their own connection once, halfway through, and
--     RESUME on a new one with their session token: they must get the same
--     player back, at a position they really took.
-- Players the bots did not create (another client, a hostile bot) are no
-- error: their entries and chats are counted (foreign_players,
-- foreign_entries, foreign_chats) and left unchecked.
--
-- --hostile N adds N clients of each hostile kind (hostile_bots.lua: speed
-- hack, garbage, flood, silent reader), checks that the server refused the
-- cheats and dropped every one of them, and prints a HOSTILE line.
--
-- --light checks every packet's size and state but not the entries of
-- POSITIONS (nor that a bot sees itself): for benchmarks, where checking
-- thousands of bots' entries would cost this process more than the server
-- spends.
--
-- Ends with a BOTS line, the HOSTILE line with --hostile, and the SUMMARY
-- line of docs/CONVENTIONS.md (the honest bots' packets; chat round trips
-- as the latency) on stdout; exits 1 on any error.
local dir = arg and arg[0] and arg[0]:match("^(.*[/\\])") or "./"
package.path = dir .. "?.lua;" .. package.path

local net = require "net"
local sys = require "net.sys"
local cli = require "cli"
local P = require "game_proto"
local Hostile = require "hostile_bots"

local opt = cli.parse(arg, {
  ["host"] = {"string", "127.0.0.1"},
  ["port"] = {"uint", 7777, min = 1, max = 65535},
  ["bots"] = {"uint", 100, min = 1, max = 100000},
  ["seconds"] = {"number", 5},
  ["move-hz"] = {"uint", 10, min = 1, max = 1000},
  ["chat-every"] = {"number", 2},
  ["step"] = {"uint", 8, min = 1, max = P.MAX_STEP},
  ["backend"] = {{"auto", "epoll", "io_uring", "iocp"}, "auto"},
  ["io-threads"] = {"uint", 0, max = 64},
  ["seed"] = {"uint", 1},
  ["heartbeat-every"] = {"number", 1},
  ["resumes"] = {"uint", 0},
  ["hostile"] = {"uint", 0, max = 1000},
  ["light"] = {"flag", false},
}, [[
usage: bots.lua [--host H] [--port P] [--bots N] [--seconds S] [--move-hz HZ]
          [--chat-every SECONDS] [--step UNITS] [--backend auto|epoll|io_uring|iocp]
          [--io-threads N] [--seed N] [--heartbeat-every SECONDS] [--resumes N]
          [--hostile N] [--light]
]])

local pack, unpack = string.pack, string.unpack
local send, now = net.send, sys.now
local ID = P.id_bytes
math.randomseed(opt.seed)

-- ---------------------------------------------------------------- errors

local errors, MAX_ERROR_LINES = 0, 20
local function fail(b, fmt, ...)
  errors = errors + 1
  if errors <= MAX_ERROR_LINES then
    io.stderr:write(string.format("bot %s: ", b and b.name or "-"), string.format(fmt, ...), "\n")
  end
end

-- ---------------------------------------------------------------- bots

local HISTORY = 64 -- positions (and so cells and zones) a bot remembers
local KEY = 1 << 21 -- x * KEY + y names a position

local bots, by_handle, by_id = {}, {}, {}
local G -- the world's geometry, from LOGIN_OK

local counters = {positions = 0, entries = 0, moves = 0, chats_sent = 0, chats_echoed = 0, chats_seen = 0,
                  packets = 0, bytes = 0, foreign_players = 0, foreign_entries = 0, foreign_chats = 0,
                  heartbeats = 0, heartbeats_acked = 0, resumes = 0}
local foreign = {} -- ids of players this process did not create
local leaving = false -- the bots are leaving: a bot resumed now leaves at once

local function count_foreign(id)
  if not foreign[id] then
    foreign[id] = true
    counters.foreign_players = counters.foreign_players + 1
  end
end
local latencies = {}

local function count(t, k, d)
  local v = (t[k] or 0) + d
  t[k] = v ~= 0 and v or nil
end

-- Remembers a position the bot is about to send.
local function record(b, x, y)
  local t = now()
  local i = b.ring_i % HISTORY + 1
  b.ring_i = i
  local old = b.ring[i]
  if old then
    if b.hist[old.key] == old.t then b.hist[old.key] = nil end
    count(b.cells, old.cell, -1)
    count(b.zones, old.zone, -1)
  end
  local e = {key = x * KEY + y, t = t, cell = G.cell_of(x, y), zone = G.zone_of(x, y)}
  b.ring[i] = e
  b.hist[e.key] = t
  count(b.cells, e.cell, 1)
  count(b.zones, e.zone, 1)
  b.x, b.y, b.zone = x, y, e.zone
end

local function new_bot(i)
  return {i = i, name = "bot" .. i, state = "connecting", ring = {}, ring_i = 0, hist = {}, cells = {},
          zones = {}, chat_q = {}, chat_head = 1, chat_tail = 0, said = {}, said_q = {}, chat_seq = 0,
          own_updates = 0, heading = math.random() * 2 * math.pi, hb_nonce = 0}
end

local function step(b)
  local s = opt.step
  if math.random() < 0.1 then b.heading = b.heading + (math.random() - 0.5) * math.pi end
  local x = b.x + math.floor(math.cos(b.heading) * s + 0.5)
  local y = b.y + math.floor(math.sin(b.heading) * s + 0.5)
  if x < 0 or x >= G.world then b.heading = math.pi - b.heading; x = math.max(0, math.min(G.world - 1, x)) end
  if y < 0 or y >= G.world then b.heading = -b.heading; y = math.max(0, math.min(G.world - 1, y)) end
  record(b, x, y)
  send(b.h, ID[P.MOVE], pack("<i4i4", x, y))
  counters.moves = counters.moves + 1
end

local function chat(b)
  b.chat_seq = b.chat_seq + 1
  local text = string.format("%s says hello #%d", b.name, b.chat_seq)
  b.chat_tail = b.chat_tail + 1
  b.chat_q[b.chat_tail] = {text = text, zone = b.zone, t = now()}
  -- Others check what they hear against what was said, and where.
  b.said[text] = b.zone
  b.said_q[#b.said_q + 1] = text
  if #b.said_q > 200 then b.said[table.remove(b.said_q, 1)] = nil end
  send(b.h, ID[P.CHAT], pack("<s2", text))
  counters.chats_sent = counters.chats_sent + 1
end

-- ---------------------------------------------------------------- packets

local handlers = {}

handlers[P.LOGIN_OK] = function(b, a)
  if #a < 19 or #a ~= 19 + a:byte(19) then return fail(b, "LOGIN_OK of %d bytes", #a) end
  -- (a bot still logging in when the play ended has sent its LEAVE already)
  if b.state ~= "login" and b.state ~= "leaving" then return fail(b, "LOGIN_OK in state %s", b.state) end
  local id, world, cell, zone, token = unpack("<I4I4I4I4s1", a, 3)
  b.token = token
  if not G then
    G = P.geometry(world, cell, zone)
  elseif G.world ~= world or G.cell ~= cell or G.zone ~= zone then
    return fail(b, "LOGIN_OK with another world geometry")
  end
  if by_id[id] then return fail(b, "player id %d given twice", id) end
  b.id, by_id[id] = id, b
  if b.state == "leaving" then return end
  b.state = "enter"
  local x, y = math.random(0, world - 1), math.random(0, world - 1)
  record(b, x, y)
  send(b.h, ID[P.ENTER], pack("<i4i4", x, y))
end

handlers[P.ENTER_OK] = function(b, a)
  if #a ~= 16 then return fail(b, "ENTER_OK of %d bytes", #a) end
  -- (a bot still entering when the play ended has sent its LEAVE already)
  if b.state ~= "enter" and b.state ~= "leaving" then return fail(b, "ENTER_OK in state %s", b.state) end
  local id, x, y, zone = unpack("<I4i4i4I2", a, 3)
  if id ~= b.id or x ~= b.x or y ~= b.y or zone ~= G.zone_of(x, y) then
    return fail(b, "ENTER_OK says %d at %d,%d zone %d", id, x, y, zone)
  end
  b.entered = now()
  if b.state == "leaving" then return end
  b.state = "world"
  b.next_chat = now() + math.random() * opt.chat_every
end

handlers[P.POSITIONS] = function(b, a)
  if #a < 4 then return fail(b, "POSITIONS of %d bytes", #a) end
  local n = unpack("<I2", a, 3)
  if #a ~= 4 + n * P.ENTRY_SIZE or n == 0 then return fail(b, "POSITIONS of %d bytes for %d entries", #a, n) end
  if b.state ~= "world" and b.state ~= "leaving" then return fail(b, "POSITIONS in state %s", b.state) end
  counters.positions = counters.positions + 1
  counters.entries = counters.entries + n
  if opt.light then return end
  local cells, near, cell_of = b.cells, G.near, G.cell_of
  local off = 5
  for _ = 1, n do
    local id, x, y
    id, x, y, off = unpack("<I4i4i4", a, off)
    local o = by_id[id]
    if not o then
      count_foreign(id)
      counters.foreign_entries = counters.foreign_entries + 1
    elseif not o.hist[x * KEY + y] then
      fail(b, "position %d,%d of %s is not one it took lately", x, y, o.name)
    else
      local c, ok = cell_of(x, y), false
      for bc in pairs(cells) do
        if near(c, bc) then ok = true; break end
      end
      if not ok then fail(b, "position %d,%d of %s is outside its area of interest", x, y, o.name) end
      if o == b then b.own_updates = b.own_updates + 1 end
    end
  end
end

handlers[P.CHAT_MSG] = function(b, a)
  if #a < 10 then return fail(b, "CHAT of %d bytes", #a) end
  local from, zone, len = unpack("<I4I2I2", a, 3)
  if #a ~= 10 + len then return fail(b, "CHAT of %d bytes for %d of text", #a, len) end
  local text = a:sub(11)
  if from == b.id then
    local want = b.chat_q[b.chat_head]
    if not want then return fail(b, "own chat echoed that was not said: %q", text) end
    if want.text ~= text or want.zone ~= zone then
      return fail(b, "own chat came back as %q zone %d, said %q in zone %d", text, zone, want.text, want.zone)
    end
    b.chat_q[b.chat_head] = nil
    b.chat_head = b.chat_head + 1
    latencies[#latencies + 1] = now() - want.t
    counters.chats_echoed = counters.chats_echoed + 1
  else
    local o = by_id[from]
    if not o then
      count_foreign(from)
      counters.foreign_chats = counters.foreign_chats + 1
      return
    end
    if o.said[text] ~= zone then return fail(b, "chat %q from %s was not said in zone %d", text, o.name, zone) end
    if not b.zones[zone] then return fail(b, "chat of zone %d heard outside it", zone) end
    counters.chats_seen = counters.chats_seen + 1
  end
end

handlers[P.LEAVE_OK] = function(b, a)
  if #a ~= 2 then return fail(b, "LEAVE_OK of %d bytes", #a) end
  if b.state ~= "leaving" then return fail(b, "LEAVE_OK in state %s", b.state) end
  b.state = "left"
end

handlers[P.HEARTBEAT_ACK] = function(b, a)
  if #a ~= 6 then return fail(b, "HEARTBEAT_ACK of %d bytes", #a) end
  local nonce = unpack("<I4", a, 3)
  if nonce ~= b.hb_nonce or not b.hb_sent then
    return fail(b, "HEARTBEAT_ACK %d, the heartbeat in flight is %d", nonce, b.hb_nonce)
  end
  b.hb_sent = nil
  counters.heartbeats_acked = counters.heartbeats_acked + 1
end

-- The same player back, at a position it really took (moves sent just
-- before the old connection dropped may never have reached the server).
handlers[P.RESUME_OK] = function(b, a)
  if #a ~= 17 then return fail(b, "RESUME_OK of %d bytes", #a) end
  if b.state ~= "resuming" then return fail(b, "RESUME_OK in state %s", b.state) end
  local id, in_world, x, y, zone = unpack("<I4I1i4i4I2", a, 3)
  if id ~= b.id or in_world ~= 1 then return fail(b, "RESUME_OK gave player %d (in world %d)", id, in_world) end
  if not b.hist[x * KEY + y] or zone ~= G.zone_of(x, y) then
    return fail(b, "RESUME_OK at %d,%d zone %d: not a position it took lately", x, y, zone)
  end
  record(b, x, y)
  b.state = "world"
  counters.resumes = counters.resumes + 1
  if leaving then
    b.state = "leaving"
    send(b.h, ID[P.LEAVE])
  end
end

handlers[P.MOVE_REJECTED] = function(b, a)
  fail(b, "an honest move was refused (the server says it is at %d,%d)", unpack("<i4i4", a, 3))
end

handlers[P.WARNING] = function(b, a)
  local ok, code, text = pcall(unpack, "<I2s1", a, 3)
  fail(b, "server warning %s: %s", ok and code or "?", ok and text or "(malformed)")
end

handlers[P.ERROR] = function(b, a)
  local ok, code, text = pcall(unpack, "<I2s1", a, 3)
  fail(b, "server error %s: %s", ok and code or "?", ok and text or "(malformed)")
end

local function on_packet(b, a)
  counters.packets = counters.packets + 1
  counters.bytes = counters.bytes + #a + 2
  local id = #a >= 2 and unpack("<I2", a) or -1
  local f = handlers[id]
  if f then f(b, a) else fail(b, "unknown packet id %d (%d bytes)", id, #a) end
end

-- ---------------------------------------------------------------- main

local engine, err = net.engine{backend = opt.backend, io_threads = opt.io_threads}
if not engine then
  io.stderr:write("net.engine: ", err, "\n")
  os.exit(1)
end
sys.catch("INT", "TERM")

local hostile = Hostile.new(engine, opt, fail)
hostile.start()

for i = 1, opt.bots do
  local b = new_bot(i)
  local h
  h, err = engine:connect(opt.host, opt.port, P.TCP)
  if not h then
    fail(b, "connect: %s", err)
    break
  end
  b.h = h
  bots[i], by_handle[h] = b, b
end

local DATA, CONNECT, CLOSE, TIMER = net.DATA, net.CONNECT, net.CLOSE, net.TIMER
local move_ms = math.max(1, 1000 // opt.move_hz)
local move_timer = assert(engine:timer(move_ms, move_ms))
local open = #bots
local phase = "play" -- then "drain" (wait for last chats), "leave", "done"
local start = now()

-- The --resumes bots drop their connection once, somewhere in the middle
-- of the play, and come back on a new one with their token.
for i = 1, math.min(opt.resumes, #bots) do
  bots[(i - 1) * #bots // opt.resumes + 1].resume_at = start + opt.seconds * (0.3 + 0.4 * math.random())
end

local function drop_and_resume(b)
  by_handle[b.h] = nil
  net.abort(b.h)
  -- Chats and a heartbeat in flight may be lost with the old connection.
  b.chat_q, b.chat_head, b.chat_tail, b.hb_sent, b.resume_at = {}, 1, 0, nil, nil
  local h, err = engine:connect(opt.host, opt.port, P.TCP)
  if not h then
    fail(b, "reconnect: %s", err)
    b.state, open = "closed", open - 1
    return
  end
  b.h, by_handle[h], b.state = h, b, "resuming"
end

local function heartbeat(b, t)
  if b.hb_sent then
    if t - b.hb_sent > 5 then
      fail(b, "heartbeat %d not acknowledged in 5 s", b.hb_nonce)
      b.hb_sent = nil
    end
    return
  end
  b.hb_nonce = b.hb_nonce + 1
  b.hb_sent, b.next_hb = t, t + opt.heartbeat_every
  send(b.h, ID[P.HEARTBEAT], pack("<I4", b.hb_nonce))
  counters.heartbeats = counters.heartbeats + 1
end

local function on_move_timer()
  if phase ~= "play" then return end
  local t = now()
  for i = 1, #bots do
    local b = bots[i]
    if b.state == "world" then
      if b.resume_at and t >= b.resume_at then
        drop_and_resume(b)
      else
        step(b)
        if t >= b.next_chat then
          chat(b)
          b.next_chat = t + opt.chat_every * (0.5 + math.random())
        end
        if t >= (b.next_hb or 0) then heartbeat(b, t) end
      end
    end
  end
  hostile.act()
end

local function handle(ev, h, a)
  if ev == DATA then
    local b = by_handle[h]
    if b then on_packet(b, a) else hostile.handle(ev, h, a) end
  elseif ev == TIMER then
    on_move_timer()
  elseif ev == CONNECT then
    local b = by_handle[h]
    if not b then
      hostile.handle(ev, h, a)
    elseif a ~= 0 then
      fail(b, "connect failed: %s", net.strerror(a))
    elseif b.state == "resuming" then
      send(h, ID[P.RESUME], pack("<s1", b.token))
    else
      b.state = "login"
      send(h, ID[P.LOGIN], pack("<s1", b.name))
    end
  elseif ev == CLOSE then
    local b = by_handle[h]
    if b then
      if b.state ~= "left" then
        fail(b, "connection closed in state %s: %s", b.state, a == 0 and "by the server" or net.strerror(a))
      end
      b.state = "closed"
      by_handle[h] = nil
      open = open - 1
    else
      hostile.handle(ev, h, a)
    end
  end
end

local function pending_chats()
  local n = 0
  for _, b in ipairs(bots) do
    if b.state == "world" and b.chat_q[b.chat_head] then n = n + 1 end
  end
  return n
end

local phase_end = start + opt.seconds
local play_end = phase_end -- when the play really ended (a signal ends it sooner)
local stopped_by_signal = false
while phase ~= "done" do
  local t = now()
  if sys.caught() and not stopped_by_signal then
    stopped_by_signal = true
    phase_end = t
  end
  if t >= phase_end then
    if phase == "play" then
      phase, phase_end, play_end = "drain", t + 3, t
    elseif phase == "drain" then
      phase, phase_end, leaving = "leave", t + 5, true
      for _, b in ipairs(bots) do
        if b.state == "world" or b.state == "enter" or b.state == "login" then
          b.state = "leaving"
          send(b.h, ID[P.LEAVE])
        end
      end
    else
      phase = "done"
    end
  end
  if phase == "drain" and pending_chats() == 0 then phase_end = t end
  if phase == "leave" and open == 0 then phase = "done" end
  for ev, h, a in engine:events(20) do handle(ev, h, a) end
end
net.close(move_timer)
local elapsed = now() - start
hostile.finish(5)

-- Whatever did not finish is an error.
local in_world, min_rate = 0, math.huge
for _, b in ipairs(bots) do
  if b.entered then
    in_world = in_world + 1
    if b.own_updates == 0 and not opt.light and b.entered < play_end - 0.5 then
      fail(b, "never saw its own position")
    end
    min_rate = math.min(min_rate, b.own_updates / math.max(1e-3, elapsed - (b.entered - start)))
  else
    fail(b, "never entered the world (state %s)", b.state)
  end
  if b.chat_q[b.chat_head] then fail(b, "%d chats never came back", b.chat_tail - b.chat_head + 1) end
  if b.state ~= "closed" then fail(b, "not closed at the end (state %s)", b.state) end
end
if errors > MAX_ERROR_LINES then
  io.stderr:write(string.format("... %d more errors\n", errors - MAX_ERROR_LINES))
end
engine:close()

table.sort(latencies)
local function pct(q)
  if #latencies == 0 then return 0 end
  return math.floor(latencies[math.max(1, math.ceil(q * #latencies))] * 1e6 + 0.5)
end
io.stdout:write(string.format(
  "BOTS bots=%d in_world=%d moves=%d positions=%d entries=%d own_updates_min_per_s=%.1f " ..
  "chats_sent=%d chats_echoed=%d chats_heard=%d heartbeats=%d heartbeats_acked=%d resumes=%d " ..
  "foreign_players=%d foreign_entries=%d foreign_chats=%d errors=%d\n",
  #bots, in_world, counters.moves, counters.positions, counters.entries, min_rate == math.huge and 0 or min_rate,
  counters.chats_sent, counters.chats_echoed, counters.chats_seen, counters.heartbeats, counters.heartbeats_acked,
  counters.resumes, counters.foreign_players, counters.foreign_entries, counters.foreign_chats, errors))
if opt.hostile > 0 then io.stdout:write(hostile.line(), "\n") end
io.stdout:write(string.format("SUMMARY messages=%d seconds=%.3f msgs_per_s=%.1f mb_per_s=%.3f p50_us=%d p99_us=%d errors=%d\n",
  counters.packets, elapsed, counters.packets / elapsed, counters.bytes / elapsed / 1e6, pct(0.5), pct(0.99), errors))
io.stdout:flush()
os.exit((errors == 0 and counters.packets > 0) and 0 or 1)
