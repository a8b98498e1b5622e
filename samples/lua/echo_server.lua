-- echo_server.lua - the echo server of docs/CONVENTIONS.md on the Lua binding.
--
--   lua5.4 echo_server.lua [--port P] [--host H] [--framing raw|u16le|u16be|u32le|u32be]
--       [--length-includes-header] [--backend auto|epoll|io_uring|iocp]
--       [--io-threads N] [--max-message BYTES] [--seconds S]
--
-- Needs the module on LUA_CPATH, e.g. LUA_CPATH='build/bindings/lua/?.so'.
-- Every DATA event goes straight back to its sender, as samples/echo_server.c
-- does, with e:forward_data(): one call per batch, and the payloads are never
-- copied into Lua strings. Prints "listening on HOST:PORT ..." once on stdout, a stats line every
-- 2 s on stderr, and exits 0 on SIGINT/SIGTERM or after --seconds.
local dir = arg and arg[0] and arg[0]:match("^(.*[/\\])") or "./"
package.path = dir .. "?.lua;" .. package.path

local net = require "net"
local sys = require "net.sys"
local cli = require "cli"

local STATS_PERIOD = 2.0
local POLL_SLICE_MS = 100 -- how soon a signal is noticed

local opt = cli.parse(arg, cli.echo_spec, cli.echo_usage)

local engine, err = net.engine{
  backend = opt.backend,
  io_threads = opt.io_threads,
  max_message = opt.max_message,
}
if not engine then
  io.stderr:write("net.engine: ", err, "\n")
  os.exit(1)
end

local listener
listener, err = engine:listen(opt.host, opt.port, {
  framing = opt.framing,
  length_includes_header = opt.length_includes_header,
  max_message = opt.max_message,
})
if not listener then
  io.stderr:write(string.format("listen %s:%d: %s\n", opt.host, opt.port, err))
  os.exit(1)
end

sys.catch("INT", "TERM")
io.stdout:write(string.format("listening on %s backend=%s io_threads=%d framing=%s\n",
  (net.local_addr(listener)), engine:backend(), opt.io_threads, opt.framing))
io.stdout:flush()

local prev, prev_t = engine:stats(), sys.now()
local function print_stats()
  local s, t = engine:stats(), sys.now()
  local dt = math.max(t - prev_t, 1e-9)
  io.stderr:write(string.format(
    "stats: conns=%d total=%d in=%.0f msg/s out=%.0f msg/s in=%.2f MB/s out=%.2f MB/s queued=%d paused=%d\n",
    s.connections, s.connections_total, (s.messages_in - prev.messages_in) / dt,
    (s.messages_out - prev.messages_out) / dt, (s.bytes_in - prev.bytes_in) / dt / 1e6,
    (s.bytes_out - prev.bytes_out) / dt / 1e6, s.send_queued, s.recv_paused))
  io.stderr:flush()
  prev, prev_t = s, t
end

local forward_data, next_event, abort = engine.forward_data, engine.next, net.abort
local CLOSE = net.CLOSE
local E_CLOSED, E_BADHANDLE = net.E_CLOSED, net.E_BADHANDLE
local caught, now = sys.caught, sys.now

local start = now()
local next_stats = start + STATS_PERIOD
local exit_code = 0
while not caught() do
  local t = now()
  if opt.seconds > 0 and t - start >= opt.seconds then break end
  if t >= next_stats then
    print_stats()
    next_stats = next_stats + STATS_PERIOD
    if next_stats < t then next_stats = t + STATS_PERIOD end
  end
  local wait = math.min(POLL_SLICE_MS, math.floor((next_stats - t) * 1000) + 1)
  -- By reference (third argument true): no Lua string per payload. Every
  -- DATA of the batch goes back to its connection with one call
  -- (e:forward_data); the other events are read after it.
  local n, perr = engine:poll(wait, nil, true)
  if not n then
    io.stderr:write("poll: ", perr, "\n")
    exit_code = 1
    break
  end
  local _, failed = forward_data(engine)
  if failed then
    for i = 1, #failed, 2 do
      -- A peer that sends but does not read fills its send cap: an echo
      -- server has nothing better to do with it than to drop it.
      local code = failed[i + 1]
      if code ~= E_CLOSED and code ~= E_BADHANDLE then abort(failed[i]) end
    end
  end
  for ev, h, a in next_event, engine do
    if ev == CLOSE and h == listener then
      io.stderr:write(string.format("listener closed: %s (%d)\n", net.strerror(a), a))
      exit_code = 1
      break
    end
  end
  if exit_code ~= 0 then break end
end

print_stats()
engine:close()
os.exit(exit_code)
