-- test_samples.lua - the Lua samples as users run them: echo_server.lua in
-- every framing (against this process, and against the C dummy client when
-- NET_BUILD_DIR names a build). The game server's tests are test_game.lua.
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

return tests
