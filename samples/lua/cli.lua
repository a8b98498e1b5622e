-- cli.lua - command-line parsing shared by the Lua samples.
--
-- parse(argv, spec, usage) reads "--name value" and "--name=value" options.
-- spec maps an option name (without the dashes) to {kind, default}, kind
-- being "flag", "string", "uint", "number" or a list of allowed words.
-- Returns a table keyed by the name with dashes turned into underscores.
-- A bad option prints the usage to stderr and exits 2, like the C samples.
local M = {}

local function fail(usage, fmt, ...)
  if fmt then io.stderr:write(string.format(fmt, ...), "\n") end
  io.stderr:write(usage)
  os.exit(2)
end

function M.parse(argv, spec, usage)
  local o = {}
  for name, s in pairs(spec) do
    o[name:gsub("-", "_")] = s[2]
  end
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local name, val = a:match("^%-%-([%w%-]+)=(.*)$")
    if not name then name = a:match("^%-%-([%w%-]+)$") end
    if a == "-h" or name == "help" then fail(usage) end
    local s = name and spec[name]
    if not s then fail(usage, "unknown option: %s", a) end
    local key = name:gsub("-", "_")
    if s[1] == "flag" then
      o[key] = true
    else
      if not val then
        i = i + 1
        val = argv[i]
        if not val then fail(usage, "--%s needs a value", name) end
      end
      local kind = s[1]
      if kind == "string" then
        o[key] = val
      elseif kind == "uint" then
        local v = val:match("^%d+$") and math.tointeger(tonumber(val))
        if not v or (s.max and v > s.max) or (s.min and v < s.min) then
          fail(usage, "bad value for --%s: %s", name, val)
        end
        o[key] = v
      elseif kind == "number" then
        local v = tonumber(val)
        if not v or v < 0 then fail(usage, "bad value for --%s: %s", name, val) end
        o[key] = v
      else -- a list of words
        local ok = false
        for _, w in ipairs(kind) do ok = ok or w == val end
        if not ok then fail(usage, "bad value for --%s: %s", name, val) end
        o[key] = val
      end
    end
    i = i + 1
  end
  return o
end

-- The echo-server options of docs/CONVENTIONS.md.
M.echo_spec = {
  ["port"] = {"uint", 7000, max = 65535},
  ["host"] = {"string", "127.0.0.1"},
  ["framing"] = {{"raw", "u16le", "u16be", "u32le", "u32be"}, "raw"},
  ["length-includes-header"] = {"flag", false},
  ["backend"] = {{"auto", "epoll", "io_uring", "iocp"}, "auto"},
  ["io-threads"] = {"uint", 0, max = 1024},
  ["max-message"] = {"uint", 1048576, min = 1, max = 0xffffffff},
  ["seconds"] = {"number", 0},
}

M.echo_usage = [[
usage: echo_server.lua [--port P] [--host H] [--framing raw|u16le|u16be|u32le|u32be]
          [--length-includes-header] [--backend auto|epoll|io_uring|iocp]
          [--io-threads N] [--max-message BYTES] [--seconds S]
]]

return M
