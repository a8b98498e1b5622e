-- game_proto.lua - the packets, error codes, limits and world geometry
-- that game_server.lua (its gate, agents and world) and bots.lua share.
--
-- On the wire a packet is the seeds' header, a u16 little-endian size that
-- counts the whole packet (the 4-byte header included), a u16 packet id,
-- then the body. The engine's framing {framing = "u16le",
-- length_includes_header = true} handles the size: net.send adds it and a
-- DATA event carries one whole packet without it, i.e. id + body.
--
--   client -> server                      server -> client
--   1 LOGIN     s1 name                   101 LOGIN_OK   u32 id, u32 world, u32 cell, u32 zone, s1 token
--   2 ENTER     i32 x, i32 y (spawn)      102 ENTER_OK   u32 id, i32 x, i32 y, u16 zone
--   3 MOVE      i32 x, i32 y              103 POSITIONS  u16 n, n x (u32 id, i32 x, i32 y)
--   4 CHAT      s2 text                   104 CHAT       u32 from, u16 zone, s2 text
--   5 LEAVE                               105 LEAVE_OK
--   6 HEARTBEAT u32 nonce                 106 ERROR      u16 code, s1 text (then the server closes)
--   7 RESUME    s1 token                  107 RESUME_OK  u32 id, u8 in_world, i32 x, i32 y, u16 zone
--                                         108 HEARTBEAT_ACK u32 nonce (the client's, back)
--                                         109 MOVE_REJECTED i32 x, i32 y (where the player really is)
--                                         110 WARNING    u16 code, s1 text (the connection stays)
--
-- LOGIN_OK's token lets a client that lost its connection RESUME the same
-- player (id, position, zone) on a new one within the server's grace period.
--
-- The world is a square of `world` units split into square cells of `cell`
-- units (area of interest: a player sees the players of its cell and the 8
-- around it) and square zones of `zone` units (chat goes to the zone).
local M = {}

M.LOGIN, M.ENTER, M.MOVE, M.CHAT, M.LEAVE, M.HEARTBEAT, M.RESUME = 1, 2, 3, 4, 5, 6, 7
M.LOGIN_OK, M.ENTER_OK, M.POSITIONS, M.CHAT_MSG, M.LEAVE_OK, M.ERROR = 101, 102, 103, 104, 105, 106
M.RESUME_OK, M.HEARTBEAT_ACK, M.MOVE_REJECTED, M.WARNING = 107, 108, 109, 110

-- ERROR and WARNING codes.
M.E = {
  ALREADY_LOGGED_IN = 1, MALFORMED = 2, BAD_NAME = 3, SERVER_FULL = 4, NOT_LOGGED_IN = 5,
  NOT_IN_WORLD = 6, ILLEGAL_MOVE = 7, UNKNOWN_PACKET = 8, LOGIN_TIMEOUT = 9, HEARTBEAT_TIMEOUT = 10,
  SPEED = 11, FLOOD = 12, SLOW_READER = 13, INTERNAL = 14, BAD_TOKEN = 15, REPLACED = 16,
}

M.TCP = {framing = "u16le", length_includes_header = true, max_message = 65535 - 2}

M.MAX_STEP = 20       -- longest move one MOVE may make (either axis)
M.MAX_SPEED = 200     -- units per second a player may cover over time (either axis)
M.MOVE_BURST = 200    -- movement a player may save up while standing (units)
M.MAX_CHAT = 200      -- longest chat text
M.MAX_NAME = 32
M.ENTRY_SIZE = 12     -- one POSITIONS entry
M.MAX_ENTRIES = 4000  -- entries one POSITIONS packet can hold (u16 size)

local pack, unpack = string.pack, string.unpack

-- Packet ids as the 2-byte strings that start each packet.
M.id_bytes = {}
for _, id in ipairs{1, 2, 3, 4, 5, 6, 7, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110} do
  M.id_bytes[id] = pack("<I2", id)
end

-- The packet id of a DATA payload and the offset where its body starts,
-- or nil for a payload too short to hold one.
function M.id_of(payload)
  if #payload < 2 then return nil end
  return unpack("<I2", payload), 3
end

function M.geometry(world, cell, zone)
  local g = {world = world, cell = cell, zone = zone}
  g.cells_per_side = (world + cell - 1) // cell
  g.zones_per_side = (world + zone - 1) // zone
  g.ncells = g.cells_per_side * g.cells_per_side
  g.nzones = g.zones_per_side * g.zones_per_side
  local cps, zps = g.cells_per_side, g.zones_per_side
  -- Cells and zones are numbered from 1, row by row.
  function g.cell_of(x, y) return (y // cell) * cps + (x // cell) + 1 end
  function g.zone_of(x, y) return (y // zone) * zps + (x // zone) + 1 end
  function g.cell_xy(c) return (c - 1) % cps, (c - 1) // cps end
  -- Whether cells a and b are the same or touch (the area of interest).
  function g.near(a, b)
    local ax, ay = (a - 1) % cps, (a - 1) // cps
    local bx, by = (b - 1) % cps, (b - 1) // cps
    local dx, dy = ax - bx, ay - by
    return dx >= -1 and dx <= 1 and dy >= -1 and dy <= 1
  end
  function g.inside(x, y) return x >= 0 and y >= 0 and x < world and y < world end
  return g
end

return M
