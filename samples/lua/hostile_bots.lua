-- hostile_bots.lua - the clients a game server must survive, for bots.lua
-- --hostile N: N of each kind, next to the honest bots, each checking that
-- the server did what it should to it.
--
--   speed    logs in, then sends 6 MOVEs of MAX_STEP every 100 ms (60 small
--            moves a second, each legal on its own), following the server's
--            MOVE_REJECTED corrections. Checked: the path the server lets
--            it take (its own POSITIONS entries and corrections) never
--            exceeds MAX_SPEED over the time since it entered plus
--            MOVE_BURST, some moves are refused, and it is dropped with
--            ERROR SPEED.
--   garbage  logs in and enters, then sends one bad packet (an unknown id,
--            a short MOVE, a CHAT whose length lies, one byte, a second
--            LOGIN). Checked: an ERROR of the protocol, then the close.
--   flood    logs in and enters, then sends 150 HEARTBEATs at once.
--            Checked: ERROR FLOOD, then the close.
--   silent   logs in and enters on an engine of its own that is never
--            polled (its I/O thread sends; its receiving stops at a small
--            recv_limit), and asks for traffic: 8 full CHATs every 100 ms
--            to its zone, which the server echoes to it. Checked: the
--            server drops the connection before the play ends.
--
--   local H = require("hostile_bots").new(engine, opt, fail)
--   H.start(); H.handle(ev, h, a) (false when not a hostile's event);
--   H.act() every move tick while playing; H.finish(seconds) checks what
--   each one got; H.line() is the HOSTILE summary line.
local net = require "net"
local sys = require "net.sys"
local P = require "game_proto"

local M = {}

local pack, unpack = string.pack, string.unpack
local send, now = net.send, sys.now
local ID, E = P.id_bytes, P.E

local PROTOCOL = {[E.ALREADY_LOGGED_IN] = true, [E.MALFORMED] = true, [E.NOT_IN_WORLD] = true,
                  [E.UNKNOWN_PACKET] = true, [E.NOT_LOGGED_IN] = true}

-- One bad packet per garbage bot, in turn.
local GARBAGE = {
  function() return pack("<I2", math.random(200, 60000)) .. string.rep("\255", math.random(0, 40)) end,
  function() return pack("<I2", P.MOVE) .. "abc" end,
  function() return pack("<I2I2", P.CHAT, 150) .. "abc" end,
  function() return "\1" end,
  function() return pack("<I2s1", P.LOGIN, "again") end,
}

function M.new(engine, opt, fail)
  local H = {}
  local all, by_handle = {}, {}
  local quiet -- the silent readers' engine
  local c = {speed = 0, speed_rejected = 0, speed_dropped = 0, garbage = 0, garbage_dropped = 0, flood = 0,
             flood_dropped = 0, silent = 0, silent_dropped = 0}
  local world_size

  local function add(kind, i, e)
    local b = {kind = kind, name = kind .. i, i = i, state = "connecting"}
    local h, err = e:connect(opt.host, opt.port, P.TCP)
    if not h then return fail(b, "connect: %s", err) end
    b.h = h
    all[#all + 1], by_handle[h] = b, b
    c[kind] = c[kind] + 1
    return b
  end

  function H.start()
    for i = 1, opt.hostile do
      add("speed", i, engine)
      add("garbage", i, engine)
      add("flood", i, engine)
    end
    if opt.hostile > 0 then
      quiet = assert(net.engine{io_threads = 1, recv_limit = 1024})
      for i = 1, opt.hostile do
        local b = add("silent", i, quiet)
        if b then
          -- Everything up to the world is sent at once: this engine is
          -- never polled, so the bot never learns its LOGIN worked.
          net.set_option(b.h, "rcvbuf", 4096)
          send(b.h, ID[P.LOGIN], pack("<s1", b.name))
          send(b.h, ID[P.ENTER], pack("<i4i4", 5, 5))
          b.state = "world"
        end
      end
    end
  end

  -- The path the server let a speed hacker take, against what the game
  -- allows since it asked to enter (a tick of slack: the server's clock
  -- advances once per tick).
  local function observe(b, x, y)
    local dx, dy = math.abs(x - b.lx), math.abs(y - b.ly)
    b.path = b.path + math.max(dx, dy)
    b.lx, b.ly = x, y
    local allowed = P.MAX_SPEED * (now() - b.t_enter + 0.1) + P.MOVE_BURST
    if b.path > allowed and not b.leaked then
      b.leaked = true
      fail(b, "speed hack got through: %.0f units in %.2f s", b.path, now() - b.t_enter)
    end
  end

  local handlers = {}

  handlers[P.LOGIN_OK] = function(b, a)
    world_size = unpack("<I4", a, 7)
    local x, y = 10, 10 + (b.i * 37) % (world_size - 20)
    b.t_enter = now()
    send(b.h, ID[P.ENTER], pack("<i4i4", x, y))
  end

  handlers[P.ENTER_OK] = function(b, a)
    local id, x, y = unpack("<I4i4i4", a, 3)
    b.id, b.state, b.x, b.y, b.lx, b.ly, b.path, b.dir = id, "world", x, y, x, y, 0, 1
    b.act_at = now() + 0.2 + math.random() * 0.3
  end

  handlers[P.POSITIONS] = function(b, a)
    if b.kind ~= "speed" then return end
    local n = unpack("<I2", a, 3)
    local off = 5
    for _ = 1, n do
      local id, x, y
      id, x, y, off = unpack("<I4i4i4", a, off)
      if id == b.id then observe(b, x, y) end
    end
  end

  handlers[P.MOVE_REJECTED] = function(b, a)
    local x, y = unpack("<i4i4", a, 3)
    c.speed_rejected = c.speed_rejected + 1
    observe(b, x, y)
    b.x, b.y = x, y
  end

  handlers[P.ERROR] = function(b, a)
    b.error_code = unpack("<I2", a, 3)
  end

  -- Returns false for an event that is no hostile's.
  function H.handle(ev, h, a)
    local b = by_handle[h]
    if not b then return false end
    if ev == net.CONNECT then
      if a ~= 0 then
        fail(b, "connect failed: %s", net.strerror(a))
      else
        b.state = "login"
        send(h, ID[P.LOGIN], pack("<s1", b.name))
      end
    elseif ev == net.DATA then
      local f = #a >= 2 and handlers[unpack("<I2", a)]
      if f and b.state ~= "closed" then f(b, a) end
    elseif ev == net.CLOSE then
      b.state, b.closed = "closed", a
      by_handle[h] = nil
    end
    return true
  end

  local function speed(b)
    for _ = 1, 6 do
      local x = b.x + b.dir * P.MAX_STEP
      if x < 0 or x >= world_size then
        b.dir = -b.dir
        x = b.x + b.dir * P.MAX_STEP
      end
      b.x = x
      send(b.h, ID[P.MOVE], pack("<i4i4", x, b.y))
    end
  end

  local chat = ID[P.CHAT] .. pack("<s2", string.rep("!", P.MAX_CHAT))

  -- A silent reader's round of traffic: 8 full CHATs its zone echoes back.
  local function ask_traffic(b)
    for _ = 1, 8 do send(b.h, chat) end
  end

  function H.act()
    local t = now()
    for _, b in ipairs(all) do
      if b.state == "world" then
        if b.kind == "speed" then
          speed(b)
        elseif b.kind == "silent" then
          ask_traffic(b)
        elseif t >= b.act_at then
          b.state = "acted"
          if b.kind == "garbage" then
            send(b.h, GARBAGE[(b.i - 1) % #GARBAGE + 1]())
          else
            for k = 1, 150 do send(b.h, ID[P.HEARTBEAT], pack("<I4", k)) end
          end
        end
      end
    end
  end

  -- Asks every silent reader still in the world for a round of traffic.
  local function ask_silent()
    for _, b in ipairs(all) do
      if b.kind == "silent" and b.state == "world" then
        ask_traffic(b)
      end
    end
  end

  -- After the play every hostile must have been dropped. A silent reader
  -- the server has not dropped yet (a short or slowed run) keeps asking
  -- for traffic at the play's pace, 80 chats a second, under the flood
  -- limit, for the first half of the time, while its engine stays unpolled:
  -- polling it would read what the server queued and so undo the
  -- backlog the server drops it for. The engine's open connections say
  -- when the server has dropped them all (its I/O thread sees the reset).
  -- The second half reads the engine at last for their CLOSE events.
  function H.finish(seconds)
    if quiet then
      local deadline = now() + seconds
      local asking_until = now() + seconds / 2
      local pause = net.engine{io_threads = 0}
      while now() < asking_until and quiet:stats().connections > 0 do
        ask_silent()
        for _ in pause:events(100) do end
      end
      pause:close()
      local left = c.silent
      while left > 0 and now() < deadline do
        for ev, h, a in quiet:events(50) do
          local b = by_handle[h]
          if b and ev == net.CLOSE then
            b.state, b.closed = "closed", a
            by_handle[h] = nil
            left = left - 1
          end
        end
      end
      quiet:close()
    end
    for _, b in ipairs(all) do
      local dropped = b.state == "closed"
      if b.kind == "speed" then
        dropped = dropped and b.error_code == E.SPEED
        if not b.leaked and b.path == nil then fail(b, "never entered the world") end
      elseif b.kind == "garbage" then
        dropped = dropped and PROTOCOL[b.error_code] ~= nil
      elseif b.kind == "flood" then
        dropped = dropped and b.error_code == E.FLOOD
      end
      if dropped then
        c[b.kind .. "_dropped"] = c[b.kind .. "_dropped"] + 1
      else
        fail(b, "not dropped as it should be (state %s, error code %s)", b.state, tostring(b.error_code))
      end
    end
    if c.speed > 0 and c.speed_rejected == 0 then fail(nil, "no speed hacker's move was refused") end
  end

  function H.line()
    return string.format(
      "HOSTILE speed=%d speed_rejected=%d speed_dropped=%d garbage=%d garbage_dropped=%d flood=%d " ..
      "flood_dropped=%d silent=%d silent_dropped=%d",
      c.speed, c.speed_rejected, c.speed_dropped, c.garbage, c.garbage_dropped, c.flood, c.flood_dropped,
      c.silent, c.silent_dropped)
  end

  return H
end

return M
