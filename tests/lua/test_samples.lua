-- test_samples.lua - the Lua samples as users run them: echo_server.lua in
-- every framing (against this process, and against the C dummy client when
-- NET_BUILD_DIR names a build), the game server with bots, the game
-- server's answers to clients that break the protocol, and run_game.sh.
local net = require "net"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

local samples = T.root .. "samples/lua/"
local backend = os.getenv("NET_BACKEND")
local mode = string.format(" --io-threads %d", T.io_threads) ..
  ((backend and backend ~= "") and (" --backend " .. backend) or "")

-- Starts a sample server; returns the process and its port.
local function start(script, args)
  local p = T.spawn(T.env_prefix() .. T.lua .. " " .. samples .. script .. " --port 0" .. mode .. " " ..
    (args or "") .. " 2>/dev/null")
  local line = p:line()
  local port = line and tonumber(line:match("^listening on .*:(%d+) "))
  if not port then
    p:kill()
    p:wait()
    T.fail(script .. " did not start: " .. tostring(line), 2)
  end
  return p, port
end

local framings = {
  {"raw", ""}, {"u16le", ""}, {"u16le", " --length-includes-header"}, {"u16be", ""},
  {"u32le", ""}, {"u32be", " --length-includes-header"},
}

test("echo_server_lua_every_framing", function()
  for _, f in ipairs(framings) do
    local framing, flag = f[1], f[2]
    local p, port = start("echo_server.lua", "--framing " .. framing .. flag)
    local e = T.engine()
    local c = assert(e:connect("127.0.0.1", port, {framing = framing, length_includes_header = flag ~= ""}))
    local msgs = {}
    for i = 1, 50 do msgs[i] = string.rep(string.char(64 + i % 26), i * 13) end
    local want = table.concat(msgs)
    local got, n = {}, 0
    T.until_(e, function(t, h, a)
      if t == net.CONNECT then
        T.eq(a, 0, "connected to " .. framing)
        for _, m in ipairs(msgs) do net.send(c, m) end
      elseif t == net.DATA then
        got[#got + 1] = a
        n = n + #a
      elseif t == net.CLOSE then
        T.fail("echo server closed the connection: " .. net.strerror(a))
      end
      return n >= #want
    end, 10000, framing .. " echoes")
    if framing == "raw" then
      T.eq(table.concat(got), want, "raw echo")
    else
      T.eq(#got, #msgs, framing .. " message count")
      for i = 1, #msgs do T.eq(got[i], msgs[i], framing .. " message " .. i) end
    end
    e:close()
    p:kill("TERM")
    T.eq(p:wait(), 0, "echo_server.lua exits 0 on SIGTERM")
  end
end)

test("echo_server_lua_with_dummy_client", function()
  local client = T.build and (T.build .. "/samples/dummy_client")
  if not client or not io.open(client) then T.skip("NET_BUILD_DIR/samples/dummy_client not found") end
  for _, f in ipairs(framings) do
    local p, port = start("echo_server.lua", "--framing " .. f[1] .. f[2] .. " --seconds 30")
    local code, out = T.run(string.format("%s --port %d --framing %s%s --connections 8 --depth 4 --seconds 1 2>&1",
      client, port, f[1], f[2]))
    p:kill("INT")
    T.eq(p:wait(), 0, "echo_server.lua exits 0 on SIGINT")
    T.eq(code, 0, "dummy_client " .. f[1] .. f[2] .. ": " .. out)
    T.ok(out:match("SUMMARY messages=%d+ .* errors=0"), "SUMMARY line", out)
  end
end)

test("echo_server_lua_seconds", function()
  local p = start("echo_server.lua", "--seconds 0.3")
  T.eq(p:wait(), 0, "exits 0 after --seconds")
  local code = T.run(T.env_prefix() .. T.lua .. " " .. samples .. "echo_server.lua --framing u24 2>/dev/null")
  T.eq(code, 2, "bad option: usage and exit 2")
end)

test("game_server_with_bots", function()
  local p, port = start("game_server.lua", "--world 600 --cell 100 --zone 200")
  local code, out = T.run(string.format("%s%s %sbots.lua --port %d --bots 60 --seconds 2 --chat-every 0.5%s 2>&1",
    T.env_prefix(), T.lua, samples, port, mode))
  p:kill("TERM")
  local rc = p:wait()
  T.eq(code, 0, "bots found no error:\n" .. out)
  T.ok(out:match("BOTS bots=60 in_world=60 .* errors=0"), "BOTS line", out)
  local sum = out:match("(SUMMARY [^\n]*)")
  T.ok(sum and tonumber(sum:match("messages=(%d+)")) > 1000, "bots received positions", sum)
  T.eq(rc, 0, "game server exits 0 on SIGTERM")
  local game = table.concat(p.lines, "\n"):match("(GAME [^\n]*)")
  T.ok(game, "GAME summary line")
  T.ok(game:match("players_peak=60 "), "60 players", game)
  T.ok(game:match("protocol_errors=0"), "no protocol error", game)
  T.ok(tonumber(game:match("ticks_per_s=([%d%.]+)")) >= 15, "ticks at about 20 Hz", game)
end)

-- A raw-minded client: packets built by hand, the seeds' header included.
test("game_server_rejects_bad_clients", function()
  local P = dofile(samples .. "game_proto.lua")
  local p, port = start("game_server.lua")
  local e = T.engine()
  local cases = {
    {"unknown packet id", string.pack("<I2", 999)},
    {"MOVE before LOGIN", string.pack("<I2i4i4", P.MOVE, 1, 1)},
    {"short LOGIN", string.pack("<I2", P.LOGIN) .. "\5ab"},
    {"one byte", "\1"},
    {"illegal move", {string.pack("<I2s1", P.LOGIN, "x"), string.pack("<I2i4i4", P.ENTER, 10, 10),
                      string.pack("<I2i4i4", P.MOVE, 500, 10)}},
    {"oversized chat", {string.pack("<I2s1", P.LOGIN, "y"), string.pack("<I2i4i4", P.ENTER, 10, 10),
                        string.pack("<I2s2", P.CHAT, string.rep("z", P.MAX_CHAT + 1))}},
  }
  for _, case in ipairs(cases) do
    local what, pkts = case[1], case[2]
    if type(pkts) == "string" then pkts = {pkts} end
    local c = assert(e:connect("127.0.0.1", port, P.TCP))
    local got_error, closed
    T.until_(e, function(t, h, a)
      if h ~= c then return end
      if t == net.CONNECT then
        for _, pkt in ipairs(pkts) do net.send(c, pkt) end
      elseif t == net.DATA then
        local id = string.unpack("<I2", a)
        if id == P.ERROR then got_error = select(2, string.unpack("<I2s1", a, 3)) end
      elseif t == net.CLOSE then
        closed = a
        return true
      end
    end, 5000, what)
    T.ok(got_error, what .. ": ERROR packet before the close")
    T.eq(closed, 0, what .. ": closed gracefully")
  end
  -- The server is still fine: a good client logs in.
  local c = assert(e:connect("127.0.0.1", port, P.TCP))
  local id
  T.until_(e, function(t, h, a)
    if t == net.CONNECT and h == c then net.send(c, string.pack("<I2s1", P.LOGIN, "good")) end
    if t == net.DATA and h == c then
      T.eq(string.unpack("<I2", a), P.LOGIN_OK, "LOGIN_OK")
      id = string.unpack("<I4", a, 3)
      return true
    end
  end)
  T.ok(id > 0, "player id")
  net.abort(c)
  T.until_(e, function(t, h) return t == net.CLOSE and h == c end)
  p:kill("INT")
  T.eq(p:wait(), 0, "exits 0 on SIGINT")
  local game = table.concat(p.lines, "\n"):match("(GAME [^\n]*)")
  T.ok(game and game:match("protocol_errors=" .. #cases), "counted the protocol errors", game)
end)

test("run_game_sh", function()
  if not T.build then T.skip("NET_BUILD_DIR not set") end
  local code, out = T.run(string.format("sh %srun_game.sh '%s' --bots 150 --seconds 2%s 2>&1",
    samples, T.build, mode))
  T.eq(code, 0, "run_game.sh:\n" .. out)
  T.ok(out:match("SUMMARY .*errors=0"), "SUMMARY line", out)
  T.ok(out:match("GAME .*players_peak=150 "), "GAME line", out)
  T.ok(out:match("run_game.sh: ok"), "ok line", out)
end)

return tests
