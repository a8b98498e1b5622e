-- test_docs.lua - the code docs/api-lua.md shows runs as it stands: each
-- block after a "<!-- lua-test: NAME -->" marker is extracted to a file and
-- run by lua5.4 in a child process (bounded by `timeout`).
local net = require "net"
local sys = require "net.sys"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

local function doc_block(name)
  local f = assert(io.open(T.root .. "docs/api-lua.md"))
  local text = f:read("a")
  f:close()
  local code = text:match("<!%-%- lua%-test: " .. name:gsub("%-", "%%-") .. " %-%->\n```lua\n(.-\n)```")
  T.ok(code, "docs/api-lua.md has the block " .. name)
  return code
end

local function write_temp(code)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(code)
  f:close()
  return path
end

test("example_runs", function()
  local path = write_temp(doc_block("example"))
  local code, out = T.run(T.env_prefix() .. "timeout -s KILL 30 " .. T.lua .. " " .. path .. " 2>&1")
  os.remove(path)
  T.eq(code, 0, "the example exits 0: " .. out)
  T.ok(out:find("tcp echo: hello over TCP\n", 1, true), "TCP echo", out)
  T.ok(out:find("udp echo: hello over UDP\n", 1, true), "UDP echo", out)
  for _, name in ipairs{"ACCEPT", "CONNECT", "DATA", "DATAGRAM"} do
    T.ok(out:find("event " .. name .. "\n", 1, true), "prints event " .. name, out)
  end
end)

-- The net.co example: a server coroutine per connection and a client
-- coroutine, run by co.run until nothing is left.
test("co_example_runs", function()
  local path = write_temp(doc_block("co-echo"))
  local code, out = T.run(T.env_prefix() .. "timeout -s KILL 30 " .. T.lua .. " " .. path .. " 2>&1")
  os.remove(path)
  T.eq(code, 0, "the example exits 0: " .. out)
  T.eq(out, "client got: hello 1\nclient got: hello 2\nclient got: hello 3\n" ..
    "server: connection ended: closed\nco.run: done\n", "what it prints")
end)

-- The luv example: net.co inside uv.run, beside a luv timer. Needs
-- Debian's lua-luv, found on the interpreter's default path.
test("co_luv_example_runs", function()
  local path = write_temp(doc_block("co-luv"))
  -- Under ASan, no leak scan in a process with luv loaded: it crashes by
  -- memory layout alone (tests/lua/CMakeLists.txt, co_luv, says why).
  local asan = os.getenv("ASAN_OPTIONS") and "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 " or ""
  local code, out = T.run("env " .. asan .. "LUA_CPATH='" .. (package.cpath:gsub("'", "")) .. ";;' LUA_PATH='" ..
    (package.path:gsub("'", "")) .. "' timeout -s KILL 30 " .. T.lua .. " " .. path .. " 2>&1")
  os.remove(path)
  if code ~= 0 and out:find("module 'luv' not found", 1, true) then
    T.skip("no luv module (Debian: lua-luv; scripts/install-deps.sh installs it)")
  end
  T.eq(code, 0, "the example exits 0: " .. out)
  T.eq(out, "echo: hello from a coroutine\nluv's timer ticked meanwhile: true\nuv.run returned\n", "what it prints")
end)

-- The documented server loop keeps serving across batches (three
-- datagrams, each sent once the previous echo came back) until Ctrl-C.
test("udp_echo_loop_serves_until_interrupted", function()
  -- Around the block as written: a first line printing the interpreter's
  -- pid (timeout's child, to signal it), a last one telling a loop that
  -- ended by itself.
  local path = write_temp('print(io.open("/proc/self/stat"):read("l"):match("^(%d+)"))\n' ..
    doc_block("udp-echo") .. 'io.stderr:write("the loop ended by itself\\n")\n')
  local p = T.spawn(T.env_prefix() .. "timeout -s KILL 30 " .. T.lua .. " " .. path .. " 2>&1")
  local lua_pid = (p:line() or ""):match("^(%d+)$")
  local ok, err = pcall(function()
    T.ok(lua_pid, "the server's pid")
    local addr = assert((p:line() or ""):match("^udp echo on (%S+)$"), "the server prints its address")
    local e = T.engine()
    local u = assert(e:udp_open("127.0.0.1", 0))
    for i = 1, 3 do
      local msg = "datagram " .. i
      T.eq(net.sendto(u, addr, msg), true, "sendto")
      T.until_(e, function(t, h, a, _, from)
        return t == net.DATAGRAM and h == u and a == msg and from == addr
      end, 5000, "echo " .. i)
    end
  end)
  -- lua5.4 runs the file as its main script: SIGINT raises "interrupted!"
  -- in the loop.
  os.execute("kill -INT " .. (lua_pid or p.pid))
  local t0 = sys.now()
  local exit = p:wait()
  os.remove(path)
  if not ok then error(err, 0) end
  local out = table.concat(p.lines, "\n")
  T.ok(out:find("interrupted!", 1, true), "Ctrl-C ends the loop", out)
  T.ok(not out:find("ended by itself", 1, true), "the loop did not end by itself", out)
  T.eq(exit, 1, "lua5.4's exit code after an interrupt")
  T.ok(sys.now() - t0 < 3, "promptly", sys.now() - t0)
end)

return tests
