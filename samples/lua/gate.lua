-- gate.lua - the gate of game_server.lua, in the spirit of skynet's gate:
-- the only part that owns sockets. It accepts connections, logs players in
-- (or RESUMEs them with their session token), decodes each packet's id and
-- routes it to the player's agent (agent.lua), and answers for the
-- agents through `out` (send, broadcast, kick, leave), so game logic never
-- touches a socket or a handle.
--
-- It also keeps every connection honest and the server alive:
--   - a connection that does not log in within login_timeout is dropped;
--   - a player silent for heartbeat_timeout (no packet at all: clients
--     send HEARTBEAT when they have nothing else to say) loses its link;
--   - more than max_rate packets in a second is a flood: dropped;
--   - SEND_HIGHWATER (the client does not read what it is sent) warns the
--     player; still above the mark after slow_grace seconds, or a send that
--     finds the queue full, and the connection is aborted;
--   - every packet's handling runs under xpcall: a script error drops that
--     player (ERROR "internal error"), never the server;
--   - a player whose link dropped (not one that was kicked or left) is
--     parked, out of the world's groups with its state kept, for `grace`
--     seconds: a RESUME with its token on a new connection takes it back.
--
--   local gate = require("gate").new(opt, counters)
--   local world = require("world").new(geometry, gate.out)
--   local agents = require("agent").new{world = world, out = gate.out, clock = gate.clock, counters = counters}
--   gate.serve(world, agents)
--   then feed it events: gate.accept(h), gate.data(h, payload), gate.closed(h),
--   gate.highwater(h), gate.drained(h); gate.advance() once per tick (the
--   game clock), gate.sweep() a few times a second (timeouts), gate.stop().
local net = require "net"
local sys = require "net.sys"
local P = require "game_proto"

local M = {}

local pack, unpack = string.pack, string.unpack
local send, broadcast, close, abort = net.send, net.broadcast, net.close, net.abort
local ID, E = P.id_bytes, P.E
local E_WOULDBLOCK = net.E_WOULDBLOCK

-- Codes that mean the client broke the protocol (counted together).
local PROTOCOL = {[E.ALREADY_LOGGED_IN] = true, [E.MALFORMED] = true, [E.BAD_NAME] = true,
                  [E.NOT_LOGGED_IN] = true, [E.NOT_IN_WORLD] = true, [E.ILLEGAL_MOVE] = true,
                  [E.UNKNOWN_PACKET] = true}
-- The counter each other kick adds to.
local KICK_COUNTER = {[E.SPEED] = "speed_dropped", [E.FLOOD] = "flood_dropped",
                      [E.LOGIN_TIMEOUT] = "login_timeouts", [E.SERVER_FULL] = "server_full",
                      [E.INTERNAL] = "script_errors", [E.BAD_TOKEN] = "resumes_refused"}

-- 16 random bytes: a session token nobody can guess.
local urandom = io.open("/dev/urandom", "rb")
local function random_bytes()
  local t = urandom and urandom:read(16)
  if t and #t == 16 then return t end
  return pack("<i8i8", math.random(math.mininteger, math.maxinteger), math.random(math.mininteger, math.maxinteger))
end

-- opt: login_timeout, heartbeat_timeout, grace, slow_grace (seconds),
-- max_rate (packets a second), max_players. counters: the server's.
function M.new(opt, counters)
  local G = {out = {}}
  local out = G.out
  local world, handlers -- the game, from serve()
  local sessions = {}   -- handle -> session (one per connection)
  local tokens = {}     -- token -> player (logged in: linked or parked)
  local parked = {}     -- player -> when its grace period ends
  local nplayers, peak, next_id = 0, 0, 1
  local nparked = 0
  local clock_now = sys.now()
  local results = {}    -- net.broadcast's outcomes, reused
  local MAX_LOGGED = 10 -- script errors written to stderr in full

  function G.clock() return clock_now end
  function G.advance() clock_now = sys.now() end
  -- Players logged in (parked ones included), the most at once, and how
  -- many of them are parked.
  function G.players() return nplayers, peak, nparked end

  function G.serve(w, agents)
    world, handlers = w, agents.handlers
    G.new_player = agents.player
  end

  -- ------------------------------------------------------------ links

  local function link(s, p)
    s.player, p.session, p.addr = p, s, s.h
    world.unpark(p)
  end

  -- The connection is gone but the player may come back: parked.
  local function unlink(p)
    world.park(p)
    p.session, p.addr = nil, false
    parked[p] = clock_now + opt.grace
    nparked = nparked + 1
  end

  -- The player is over: kicked, left, or its grace period ran out.
  local function unpark(p)
    if parked[p] then
      parked[p] = nil
      nparked = nparked - 1
    end
  end

  local function destroy(p)
    if p.gone then return end
    world.remove(p)
    unpark(p)
    tokens[p.token] = nil
    p.session, p.addr, p.gone = nil, false, true
    nplayers = nplayers - 1
  end

  -- Ends a connection with an ERROR (sent before the graceful close), and
  -- its player for good. A connection already closing only loses its player.
  local function refuse(s, code, text)
    local p = s.player
    if p then
      s.player = nil
      destroy(p)
    end
    if s.closing then return end
    if PROTOCOL[code] then
      counters.protocol_errors = counters.protocol_errors + 1
    elseif KICK_COUNTER[code] then
      local k = KICK_COUNTER[code]
      counters[k] = counters[k] + 1
    end
    s.closing = true
    send(s.h, ID[P.ERROR], pack("<I2s1", code, text))
    close(s.h)
  end

  -- A client that does not read: its queue is dropped with the connection
  -- (abort). Its player is parked when the CLOSE comes (never in the
  -- middle of a tick's broadcasts), free to RESUME from a better link.
  local function drop_slow(s)
    if s.closing then return end
    counters.slow_dropped = counters.slow_dropped + 1
    s.closing = true
    abort(s.h)
  end

  -- A failed send: a full queue (the send cap) is a reader far behind;
  -- E_CLOSED or E_BADHANDLE is a connection on its way out (its CLOSE
  -- comes next).
  local function send_failed(s, code)
    if code == E_WOULDBLOCK then
      counters.send_full = counters.send_full + 1
      if s then drop_slow(s) end
    end
  end

  -- ------------------------------------------------------------ out

  function out.send(p, ...)
    local s = p.session
    if not s then return end
    local ok, _, code = send(s.h, ...)
    if not ok then send_failed(s, code) end
  end

  function out.broadcast(hs, payload, n)
    local queued = broadcast(hs, payload, n, results)
    if queued < n then
      for i = 1, n do
        local r = results[i]
        if r ~= 0 then send_failed(sessions[hs[i]], r) end
      end
    end
  end

  function out.kick(p, code, text)
    local s = p.session
    if s then return refuse(s, code, text) end
    destroy(p)
  end

  function out.leave(p)
    local s = p.session
    destroy(p)
    if s then
      s.player, s.closing = nil, true
      send(s.h, ID[P.LEAVE_OK])
      close(s.h)
    end
  end

  -- ------------------------------------------------------------ packets

  local function valid_s1(a)
    return #a >= 3 and 3 + a:byte(3) == #a
  end

  local function heartbeat(s, a)
    if #a ~= 6 then return refuse(s, E.MALFORMED, "bad HEARTBEAT") end
    local ok, _, code = send(s.h, ID[P.HEARTBEAT_ACK], a:sub(3))
    if not ok then send_failed(s, code) end
  end

  local function login(s, a)
    if not valid_s1(a) then return refuse(s, E.MALFORMED, "bad LOGIN") end
    local name = a:sub(4)
    if #name == 0 or #name > P.MAX_NAME then return refuse(s, E.BAD_NAME, "bad name") end
    if nplayers >= opt.max_players then return refuse(s, E.SERVER_FULL, "server full") end
    local token = random_bytes()
    while tokens[token] do token = random_bytes() end
    local p = G.new_player(next_id, name, token)
    next_id = next_id + 1
    nplayers = nplayers + 1
    if nplayers > peak then peak = nplayers end
    tokens[token] = p
    link(s, p)
    counters.logins = counters.logins + 1
    local G_ = world.geometry
    send(s.h, ID[P.LOGIN_OK], pack("<I4I4I4I4s1", p.id, G_.world, G_.cell, G_.zone, token))
  end

  -- RESUME takes a logged-in player back, parked or, when its old
  -- connection is not known dead yet, still linked: the old one is closed.
  local function resume(s, a)
    if not valid_s1(a) then return refuse(s, E.MALFORMED, "bad RESUME") end
    local p = tokens[a:sub(4)]
    if not p then return refuse(s, E.BAD_TOKEN, "unknown or expired session") end
    local old = p.session
    if old then
      old.player, p.session = nil, nil
      world.park(p)
      refuse(old, E.REPLACED, "resumed on another connection")
    end
    unpark(p)
    link(s, p)
    counters.resumes = counters.resumes + 1
    local in_world = p.cell ~= nil
    send(s.h, ID[P.RESUME_OK], pack("<I4I1i4i4I2", p.id, in_world and 1 or 0, in_world and p.x or 0,
      in_world and p.y or 0, in_world and p.zone or 0))
  end

  local function dispatch(s, a)
    local id = #a >= 2 and unpack("<I2", a) or -1
    local p = s.player
    if p then
      local f = handlers[id]
      if f then return f(p, a) end
    elseif handlers[id] then
      return refuse(s, E.NOT_LOGGED_IN, "log in first")
    end
    if id == P.HEARTBEAT then return heartbeat(s, a) end
    if id == P.LOGIN or id == P.RESUME then
      if p then return refuse(s, E.ALREADY_LOGGED_IN, "already logged in") end
      return (id == P.LOGIN and login or resume)(s, a)
    end
    return refuse(s, E.UNKNOWN_PACKET, "unknown packet")
  end

  -- A script error: that player goes (its state may be half changed), the
  -- server goes on. Cleaning up is protected too.
  local function script_error(s, err)
    if counters.script_errors < MAX_LOGGED then io.stderr:write("game: script error: ", tostring(err), "\n") end
    local ok, err2 = pcall(refuse, s, E.INTERNAL, "internal error")
    if not ok then
      io.stderr:write("game: cleaning up after a script error: ", tostring(err2), "\n")
      s.closing = true
      abort(s.h)
    end
  end

  -- ------------------------------------------------------------ events

  -- The login timeout counts from the accept itself (the tick clock may
  -- be a tick old); packets are timed on the tick clock, which is enough
  -- for heartbeats and rates and costs nothing per packet.
  function G.accept(h)
    sessions[h] = {h = h, t0 = sys.now(), last_in = clock_now, win_t = clock_now, n_in = 0}
  end

  local traceback = debug.traceback
  function G.data(h, a)
    local s = sessions[h]
    if not s or s.closing then return end
    local t = clock_now
    s.last_in = t
    if t - s.win_t >= 1 then s.win_t, s.n_in = t, 0 end
    local n = s.n_in + 1
    s.n_in = n
    if n > opt.max_rate then return refuse(s, E.FLOOD, "too many packets") end
    local ok, err = xpcall(dispatch, traceback, s, a)
    if not ok then script_error(s, err) end
  end

  function G.closed(h)
    local s = sessions[h]
    if not s then return false end
    sessions[h] = nil
    local p = s.player
    if p then
      s.player = nil
      counters.links_lost = counters.links_lost + 1
      unlink(p)
    end
    return true
  end

  function G.highwater(h)
    local s = sessions[h]
    if not s or s.closing or s.high_since then return end
    s.high_since = clock_now
    counters.slow_warned = counters.slow_warned + 1
    send(h, ID[P.WARNING], pack("<I2s1", E.SLOW_READER, "you are not reading: catch up or be dropped"))
  end

  function G.drained(h)
    local s = sessions[h]
    if s then s.high_since = nil end
  end

  -- Timeouts, a few times a second.
  function G.sweep()
    local t = sys.now()
    clock_now = t
    for _, s in pairs(sessions) do
      if not s.closing then
        local p = s.player
        if not p then
          if t - s.t0 > opt.login_timeout then refuse(s, E.LOGIN_TIMEOUT, "log in sooner") end
        elseif t - s.last_in > opt.heartbeat_timeout then
          counters.heartbeat_timeouts = counters.heartbeat_timeouts + 1
          s.player = nil
          unlink(p)
          refuse(s, E.HEARTBEAT_TIMEOUT, "no heartbeat")
        elseif s.high_since and t - s.high_since > opt.slow_grace then
          drop_slow(s)
        end
      end
    end
    for p, deadline in pairs(parked) do
      if t >= deadline then
        counters.sessions_expired = counters.sessions_expired + 1
        destroy(p)
      end
    end
  end

  -- The server stops: every connection closed gracefully; returns whether
  -- any is left (their CLOSE events still to come).
  function G.stop()
    for h, s in pairs(sessions) do
      if s.player then destroy(s.player); s.player = nil end
      s.closing = true
      close(h)
    end
    for p in pairs(parked) do destroy(p) end
  end

  function G.open() return next(sessions) ~= nil end

  return G
end

return M
