-- world.lua - the game world of game_server.lua: where the players are,
-- which cell (area of interest) and zone (chat) each one is in, and the
-- POSITIONS packets of a tick. Pure game state: it never sees a socket.
-- What goes out goes through `out` (the gate's broadcast), to the
-- addresses the gate gave the players (`player.addr`).
--
--   local world = require("world").new(geometry, out)
--   world.place(p, x, y)   enter or move (p.x, p.y, p.cell, p.zone, p.entry)
--   world.park(p)          out of every group, position kept (link lost)
--   world.unpark(p)        back where it was (resumed)
--   world.remove(p)        out for good
--   world.zone_members(z)  handles and count, for a chat broadcast
--   world.tick()           one POSITIONS packet per occupied cell
local P = require "game_proto"

local M = {}

local pack, concat = string.pack, table.concat

function M.new(G, out)
  local W = {geometry = G}

  -- cells[c] and zones[z]: {n = count, p = players, h = their addresses};
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

  -- A group (a cell or a zone) keeps its players and their addresses in
  -- dense arrays, the addresses ready for net.broadcast; a player remembers
  -- its index in each group under the key `slot`, so leaving is a swap
  -- with the group's last member.
  local function group_add(g, p, slot)
    local n = g.n + 1
    g.p[n], g.h[n], g.n, p[slot] = p, p.addr, n, n
  end

  local function group_remove(g, p, slot)
    local i, n = p[slot], g.n
    local last = g.p[n]
    g.p[i], g.h[i], last[slot] = last, last.addr, i
    g.p[n], g.h[n], g.n, p[slot] = nil, nil, n - 1, nil
  end

  local function join(p)
    group_add(cells[p.cell], p, "cslot")
    group_add(zones[p.zone], p, "zslot")
    p.in_groups = true
  end

  local function part(p)
    group_remove(cells[p.cell], p, "cslot")
    group_remove(zones[p.zone], p, "zslot")
    p.in_groups = false
  end

  -- Enters p at x, y (p.cell nil: not in the world yet) or moves it there.
  function W.place(p, x, y)
    p.x, p.y = x, y
    p.entry = pack("<I4i4i4", p.id, x, y)
    local c, z = G.cell_of(x, y), G.zone_of(x, y)
    if not p.in_groups then
      p.cell, p.zone = c, z
      return join(p)
    end
    if c ~= p.cell then
      group_remove(cells[p.cell], p, "cslot")
      p.cell = c
      group_add(cells[c], p, "cslot")
    end
    if z ~= p.zone then
      group_remove(zones[p.zone], p, "zslot")
      p.zone = z
      group_add(zones[z], p, "zslot")
    end
  end

  function W.park(p)
    if p.in_groups then part(p) end
  end

  function W.unpark(p)
    if p.cell and not p.in_groups then join(p) end
  end

  function W.remove(p)
    if p.in_groups then part(p) end
    p.cell, p.zone = nil, nil
  end

  function W.zone_members(z)
    local g = zones[z]
    return g.h, g.n
  end

  local parts = {}
  local ID_POS = P.id_bytes[P.POSITIONS]

  -- Every occupied cell gets one POSITIONS packet listing the players of
  -- its area of interest, broadcast as one shared buffer to the players in
  -- the cell: each player receives one packet per tick, whatever the crowd.
  function W.tick()
    local broadcast = out.broadcast
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
  end

  return W
end

return M
