-- run.lua - the plain runner of the Lua binding's tests.
--
--   LUA_CPATH='build/bindings/lua/?.so;;' lua5.4 tests/lua/run.lua [test_x.lua ...] [--filter PATTERN]
--   (require "net.co" comes from beside that net.so: build/bindings/lua/net/co.lua)
--   lua5.4 tests/lua/run.lua --matrix "epoll io_uring" [files]   (every backend x io_threads 0, 1)
--
-- Runs every test of the given files (default: every test_*.lua beside this
-- file) in the backend of NET_BACKEND and the thread mode of
-- NET_TEST_IO_THREADS, prints one line per test, and ends with the line
-- "N passed, N failed"; exits 1 when a test failed. A test is a function in
-- the list a test file returns as {name, fn} pairs; it passes when it
-- returns without raising. A file that cannot be loaded, or whose list is
-- empty or malformed (it registers no test), fails as one test; so does a
-- --filter that selects no test at all.
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./"
package.path = here .. "?.lua;" .. package.path
-- The binding's pure-Lua modules (net/co.lua) are copied beside net.so in
-- the build tree: take them from where the net.so under test lies, before
-- any installed copy.
local net_so = package.searchpath("net", package.cpath)
if net_so then package.path = net_so:gsub("[^/\\]*$", "") .. "?.lua;" .. package.path end

local files, filter, matrix = {}, nil, nil
local i = 1
while i <= #arg do
  if arg[i] == "--filter" then
    filter, i = arg[i + 1], i + 2
  elseif arg[i] == "--matrix" then
    matrix, i = arg[i + 1], i + 2
  else
    files[#files + 1], i = arg[i], i + 1
  end
end

if matrix then
  -- Re-runs this runner once per backend and thread mode; sums the counts.
  local passed, failed = 0, 0
  for backend in matrix:gmatch("%S+") do
    for _, threads in ipairs{0, 1} do
      local cmd = string.format("NET_BACKEND=%s NET_TEST_IO_THREADS=%d %s %s %s", backend, threads,
        arg[-1] or "lua5.4", here .. "run.lua", table.concat(files, " ") .. (filter and (" --filter " .. filter) or ""))
      print(string.format("== backend=%s io_threads=%d", backend, threads))
      io.stdout:flush()
      local f = assert(io.popen(cmd .. " 2>&1", "r"))
      local p, q
      for line in f:lines() do
        local a, b = line:match("^(%d+) passed, (%d+) failed")
        if a then p, q = tonumber(a), tonumber(b) else print(line) end
      end
      local ok = f:close()
      if not p then
        print("FAIL the run above ended without a summary (crashed?)")
        p, q = 0, 1
      elseif not ok and q == 0 then
        q = 1
      end
      passed, failed = passed + p, failed + q
    end
  end
  print(string.format("%d passed, %d failed", passed, failed))
  os.exit(failed == 0 and 0 or 1)
end

if #files == 0 then
  local f = io.popen('ls "' .. here .. '"')
  for name in f:lines() do
    if name:match("^test_.*%.lua$") then files[#files + 1] = name end
  end
  f:close()
  table.sort(files)
end

local T = require "lt"

-- xpcall's handler: a traceback for failures; a skip's message as it is
-- (debug.traceback reads its message as a C string, and T.SKIP starts
-- with a zero byte, so every skip would read as an empty failure).
local function with_traceback(err)
  if type(err) == "string" and err:sub(1, #T.SKIP) == T.SKIP then return err end
  return debug.traceback(err, 2)
end
local net = require "net"
local sys = require "net.sys"

local probe = net.engine{io_threads = 0}
local backend = probe and probe:backend() or "?"
if probe then probe:close() end
print(string.format("lua tests: backend=%s io_threads=%d %s", backend, T.io_threads, net._VERSION))

-- What a test file returned, checked: nil and a message when it is not a
-- non-empty list of {name, fn} pairs (a file that registers no test, say
-- because its test() calls went to another table or it returns the wrong
-- value, must fail rather than pass with nothing run).
local function check_list(tests)
  if type(tests) ~= "table" then
    return nil, "returned " .. type(tests) .. ", not the list of its tests"
  end
  if #tests == 0 then
    return nil, "registers no test (it must return a non-empty list of {name, fn} pairs)"
  end
  for k, t in pairs(tests) do
    if math.type(k) ~= "integer" or k < 1 or k > #tests then
      return nil, "the returned list has the non-list key " .. tostring(k)
    end
    if type(t) ~= "table" or type(t[1]) ~= "string" or type(t[2]) ~= "function" then
      return nil, string.format("entry %d is not a {name, fn} pair", k)
    end
  end
  return tests
end

local passed, failed, skipped, selected = 0, 0, 0, 0
for _, file in ipairs(files) do
  local path = file:find("[/\\]") and file or (here .. file)
  local chunk, err = loadfile(path)
  local tests, why
  if not chunk then
    why = "cannot load: " .. tostring(err)
  else
    local ok, res = pcall(chunk)
    if not ok then
      why = "cannot load: " .. tostring(res)
    else
      tests, why = check_list(res)
    end
  end
  if not tests then
    print(string.format("FAIL %s: %s", file, why))
    failed = failed + 1
  else
    for _, t in ipairs(tests) do
      local name = file:gsub("^.*[/\\]", ""):gsub("%.lua$", "") .. "." .. t[1]
      if not filter or name:find(filter) then
        selected = selected + 1
        local t0 = sys.now()
        local ok, terr = xpcall(t[2], with_traceback)
        T.cleanup()
        collectgarbage()
        if ok then
          passed = passed + 1
          print(string.format("ok   %s (%.0f ms)", name, (sys.now() - t0) * 1000))
        elseif type(terr) == "string" and terr:sub(1, #T.SKIP) == T.SKIP then
          skipped = skipped + 1
          print(string.format("skip %s: %s", name, terr:sub(#T.SKIP + 1):match("^[^\n]*")))
        else
          failed = failed + 1
          print(string.format("FAIL %s: %s", name, terr))
        end
        io.stdout:flush()
      end
    end
  end
end
if filter and selected == 0 and failed == 0 then
  -- A filter that selects nothing is a typo, not a green run.
  print(string.format("FAIL no test matches --filter %q", filter))
  failed = failed + 1
end
print(string.format("%d passed, %d failed", passed, failed) ..
  (skipped > 0 and string.format(", %d skipped", skipped) or ""))
os.exit(failed == 0 and 0 or 1)
