-- agent.lua - a player's agent: its state and the handlers of the packets
-- a logged-in player sends (ENTER, MOVE, CHAT, LEAVE). An agent is a plain
-- state object, one per player, that outlives its connection (the gate
-- parks it when the link drops and hands it the next connection that
-- RESUMEs with its token). Game logic only: it never sees a socket or a
-- handle; it answers through `out` (the gate), which knows where the
-- player is connected right now, if anywhere.
--
--   local agents = require("agent").new{world = W, out = out, clock = fn, counters = t}
--   local p = agents.player(id, name, token)
--   agents.handlers[packet_id](p, payload)   -- the gate calls these, protected
local P = require "game_proto"

local M = {}

local pack, unpack = string.pack, string.unpack
local ID, E = P.id_bytes, P.E

-- ctx: world (world.lua), out (the gate's send, broadcast, kick, leave),
-- clock (seconds, advanced by the gate once per tick), counters (shared
-- with the server's summary).
function M.new(ctx)
  local world, out, clock, counters = ctx.world, ctx.out, ctx.clock, ctx.counters
  local G = world.geometry
  local A = {handlers = {}}
  local h = A.handlers

  -- Moves over the speed budget are refused (the player gets its real
  -- position back); this many refusals within REJECT_WINDOW seconds mark
  -- a speed hack and the player is dropped.
  local MAX_REJECTS, REJECT_WINDOW = 10, 5

  function A.player(id, name, token)
    return {id = id, name = name, token = token, budget = P.MOVE_BURST, budget_t = clock(), rejects = 0,
            reject_t = 0}
  end

  h[P.ENTER] = function(p, a)
    if p.cell then return out.kick(p, E.ALREADY_LOGGED_IN, "already in the world") end
    if #a ~= 10 then return out.kick(p, E.MALFORMED, "bad ENTER") end
    local x, y = unpack("<i4i4", a, 3)
    x = math.max(0, math.min(G.world - 1, x))
    y = math.max(0, math.min(G.world - 1, y))
    world.place(p, x, y)
    p.budget, p.budget_t = P.MOVE_BURST, clock()
    out.send(p, ID[P.ENTER_OK], pack("<I4i4i4I2", p.id, x, y, p.zone))
  end

  -- Movement is checked over time, not only per packet: a player spends a
  -- budget that grows by MAX_SPEED units a second (on the gate's clock,
  -- which advances once per tick) up to MOVE_BURST, so many small moves
  -- cannot add up to more speed than the game allows. A move longer than
  -- MAX_STEP or over the budget is refused: the player stays where it was
  -- and is told where that is (MOVE_REJECTED). A move out of the world
  -- is no game at all: the player is dropped.
  h[P.MOVE] = function(p, a)
    if not p.cell then return out.kick(p, E.NOT_IN_WORLD, "MOVE outside the world") end
    if #a ~= 10 then return out.kick(p, E.MALFORMED, "bad MOVE") end
    local x, y = unpack("<i4i4", a, 3)
    if not G.inside(x, y) then return out.kick(p, E.ILLEGAL_MOVE, "illegal move") end
    local dx, dy = x - p.x, y - p.y
    if dx < 0 then dx = -dx end
    if dy < 0 then dy = -dy end
    local d = dx > dy and dx or dy
    local t = clock()
    local budget = p.budget + (t - p.budget_t) * P.MAX_SPEED
    if budget > P.MOVE_BURST then budget = P.MOVE_BURST end
    p.budget_t = t
    if d > budget or d > P.MAX_STEP then
      p.budget = budget
      counters.moves_rejected = counters.moves_rejected + 1
      if t - p.reject_t > REJECT_WINDOW then p.reject_t, p.rejects = t, 0 end
      p.rejects = p.rejects + 1
      if p.rejects > MAX_REJECTS then return out.kick(p, E.SPEED, "moving faster than the game allows") end
      return out.send(p, ID[P.MOVE_REJECTED], pack("<i4i4", p.x, p.y))
    end
    p.budget = budget - d
    counters.moves = counters.moves + 1
    world.place(p, x, y)
  end

  h[P.CHAT] = function(p, a)
    if not p.cell then return out.kick(p, E.NOT_IN_WORLD, "CHAT outside the world") end
    if #a < 4 then return out.kick(p, E.MALFORMED, "bad CHAT") end
    local len = unpack("<I2", a, 3)
    if 4 + len ~= #a or len > P.MAX_CHAT then return out.kick(p, E.MALFORMED, "bad CHAT") end
    counters.chats = counters.chats + 1
    local hs, n = world.zone_members(p.zone)
    out.broadcast(hs, ID[P.CHAT_MSG] .. pack("<I4I2", p.id, p.zone) .. a:sub(3), n)
  end

  h[P.LEAVE] = function(p, a)
    if #a ~= 2 then return out.kick(p, E.MALFORMED, "bad LEAVE") end
    out.leave(p)
  end

  return A
end

return M
