-- luv_echo.lua - the luv (libuv for Lua) baseline for the Lua echo benchmark.
--
--   lua5.4 luv_echo.lua [--port P] [--host H] [--framing raw|u16le|u16be|u32le|u32be]
--       [--length-includes-header] [--backend B] [--io-threads N]
--       [--max-message BYTES] [--seconds S]
--
-- The CLI of docs/CONVENTIONS.md (--backend and --io-threads accepted and
-- ignored). Written the way an ordinary luv user writes an echo server, the
-- same way as bench/peers/uv_echo.c: read_start on every connection, one
-- write per received chunk (raw) or per whole message (framed), TCP_NODELAY
-- on accepted sockets. Framed messages are cut from a per-connection buffer
-- string and written back whole, header included (net_send adds the same
-- header). Needs Debian's lua-luv.
--
-- Beyond the common CLI, --gather writes all the whole messages of one read
-- with a single write (a table of strings: one writev), the first thing a
-- luv user would tune; the benchmark reports it as "luv-gather".
local dir = arg and arg[0] and arg[0]:match("^(.*[/\\])") or "./"
package.path = dir .. "../../samples/lua/?.lua;" .. package.path

local uv = require "luv"
local cli = require "cli"

local spec = {gather = {"flag", false}}
for k, v in pairs(cli.echo_spec) do spec[k] = v end
local opt = cli.parse(arg, spec, (cli.echo_usage:gsub("echo_server", "luv_echo")) .. "          [--gather]\n")

local header_fmt = ({raw = false, u16le = "<I2", u16be = ">I2", u32le = "<I4", u32be = ">I4"})[opt.framing]
local header_size = header_fmt and string.packsize(header_fmt) or 0
local adjust = opt.length_includes_header and 0 or header_size -- wire size = length + adjust

local n_conns, n_msgs, n_bytes_in = 0, 0, 0
local gather = opt.gather

local server = uv.new_tcp()
local ok, err = server:bind(opt.host, opt.port)
if not ok then
  io.stderr:write("bind: ", tostring(err), "\n")
  os.exit(1)
end

local function close_conn(c)
  if not c:is_closing() then
    c:close(function() n_conns = n_conns - 1 end)
  end
end

local function on_connection(lerr)
  if lerr then return end
  local c = uv.new_tcp()
  if not server:accept(c) then
    c:close()
    return
  end
  n_conns = n_conns + 1
  c:nodelay(true)
  local pending = "" -- bytes of a message not complete yet (framed only)
  c:read_start(function(rerr, data)
    if rerr or not data then
      close_conn(c)
      return
    end
    n_bytes_in = n_bytes_in + #data
    if not header_fmt then
      n_msgs = n_msgs + 1
      c:write(data)
      return
    end
    local buf = pending == "" and data or pending .. data
    local pos, len = 1, #buf
    local out = gather and {}
    while len - pos + 1 >= header_size do
      local size = string.unpack(header_fmt, buf, pos) + adjust
      if size < header_size or size - header_size > opt.max_message then
        close_conn(c)
        return
      end
      if len - pos + 1 < size then break end
      if out then
        out[#out + 1] = buf:sub(pos, pos + size - 1)
      else
        c:write(buf:sub(pos, pos + size - 1))
      end
      n_msgs = n_msgs + 1
      pos = pos + size
    end
    if out and #out > 0 then c:write(out) end
    pending = pos > len and "" or buf:sub(pos)
  end)
end

ok, err = server:listen(511, on_connection)
if not ok then
  io.stderr:write("listen: ", tostring(err), "\n")
  os.exit(1)
end

local name = server:getsockname()
local host = name.family == "inet6" and ("[" .. name.ip .. "]") or name.ip
io.stdout:write(string.format("listening on %s:%d backend=luv io_threads=0 framing=%s\n",
  host, name.port, opt.framing))
io.stdout:flush()

local function stop()
  uv.stop()
end

local sigint, sigterm = uv.new_signal(), uv.new_signal()
sigint:start("sigint", stop)
sigterm:start("sigterm", stop)

local last_t, last_msgs, last_bytes = uv.hrtime(), 0, 0
local stats = uv.new_timer()
stats:start(2000, 2000, function()
  local t = uv.hrtime()
  local dt = math.max((t - last_t) / 1e9, 1e-9)
  io.stderr:write(string.format("stats: conns=%d in=%.0f msg/s in=%.2f MB/s\n", n_conns,
    (n_msgs - last_msgs) / dt, (n_bytes_in - last_bytes) / dt / 1e6))
  last_t, last_msgs, last_bytes = t, n_msgs, n_bytes_in
end)

if opt.seconds > 0 then
  local t = uv.new_timer()
  t:start(math.floor(opt.seconds * 1000), 0, stop)
end

uv.run("default")
os.exit(0)
