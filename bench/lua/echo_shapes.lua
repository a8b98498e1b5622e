-- echo_shapes.lua - samples/lua/echo_server.lua's loop, with the way events
-- are read picked by --shape, to compare the shapes under a real echo load.
--
--   lua5.4 echo_shapes.lua --shape iter|arrays|table [echo-server options]
--
-- iter    for t, h, a in e:events(wait)            (what echo_server.lua does)
-- arrays  n = e:poll_into(T, H, A, U, wait)       (reusable arrays)
-- table   the iterator, plus a table per event    (the shape to avoid)
local dir = arg and arg[0] and arg[0]:match("^(.*[/\\])") or "./"
package.path = dir .. "../../samples/lua/?.lua;" .. package.path

local net = require "net"
local sys = require "net.sys"
local cli = require "cli"

local spec = {shape = {{"iter", "arrays", "table"}, "iter"}}
for k, v in pairs(cli.echo_spec) do spec[k] = v end
local opt = cli.parse(arg, spec, "usage: echo_shapes.lua --shape iter|arrays|table [echo options]\n" .. cli.echo_usage)

local e = assert(net.engine{backend = opt.backend, io_threads = opt.io_threads, max_message = opt.max_message})
local l = assert(e:listen(opt.host, opt.port, {framing = opt.framing,
  length_includes_header = opt.length_includes_header, max_message = opt.max_message}))
sys.catch("INT", "TERM")
io.stdout:write(string.format("listening on %s backend=%s io_threads=%d framing=%s\n",
  (net.local_addr(l)), e:backend(), opt.io_threads, opt.framing))
io.stdout:flush()

local send, abort, DATA = net.send, net.abort, net.DATA
local E_CLOSED, E_BADHANDLE = net.E_CLOSED, net.E_BADHANDLE

local function echo(h, a)
  local ok, _, code = send(h, a)
  if not ok and code ~= E_CLOSED and code ~= E_BADHANDLE then abort(h) end
end

local T, H, A, U = {}, {}, {}, {}
local start = sys.now()
while not sys.caught() and not (opt.seconds > 0 and sys.now() - start >= opt.seconds) do
  if opt.shape == "iter" then
    for t, h, a in e:events(100) do
      if t == DATA then echo(h, a) end
    end
  elseif opt.shape == "arrays" then
    local n = e:poll_into(T, H, A, U, 100)
    for i = 1, n do
      if T[i] == DATA then echo(H[i], A[i]) end
    end
  else
    for t, h, a, u in e:events(100) do
      local ev = {type = t, handle = h, arg = a, user = u}
      if ev.type == DATA then echo(ev.handle, ev.arg) end
    end
  end
end
e:close()
