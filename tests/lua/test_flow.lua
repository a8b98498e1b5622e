-- test_flow.lua - backpressure events and the send cap, and broadcast of
-- one shared payload to many connections.
local net = require "net"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

test("backpressure_events", function()
  local e = T.engine()                    -- the side under test
  local peer = T.engine{io_threads = 0}   -- reads only when polled
  local l = assert(e:listen("127.0.0.1", 0, {framing = "u32le"}))
  local c = assert(peer:connect("127.0.0.1", select(2, net.local_addr(l)), {framing = "u32le"}))
  local s, up
  T.until_many({{e, function(t, h) if t == net.ACCEPT then s = h end return s and up end},
                {peer, function(t) if t == net.CONNECT then up = true end return s and up end}})
  net.set_option(c, "rcvbuf", 32768)
  net.set_option(s, "sndbuf", 32768)
  net.set_option(s, "highwater", 65536)
  net.set_option(s, "lowwater", 16384)

  local chunk = string.rep("b", 16384)
  local sent = 0
  for _ = 1, 64 do -- 1 MiB while the peer does not read
    T.eq(net.send(s, chunk), true, "send")
    sent = sent + 1
  end
  local high
  T.until_(e, function(t, h, a)
    if t == net.SEND_HIGHWATER then
      T.eq(h, s, "HIGHWATER handle")
      high = a
      return true
    end
  end, 5000, "SEND_HIGHWATER")
  T.ok(high > 65536, "HIGHWATER reports the bytes queued", high)
  T.ok(net.send_queued(s) > 65536, "still queued: the peer is not reading")

  -- The send cap: past it a send queues nothing and says so.
  T.eq(net.set_option(s, "send_cap", net.send_queued(s) + 100000), true, "send cap")
  local refused
  for _ = 1, 100 do
    local ok, msg, code = net.send(s, chunk)
    if ok then
      sent = sent + 1
    else
      T.eq(code, net.E_WOULDBLOCK, "send past the cap: " .. tostring(msg))
      refused = true
      break
    end
  end
  T.ok(refused, "the cap was reached")

  -- The peer reads everything; the queue drains below the low-water mark.
  local got, drained = 0, nil
  T.until_many({{peer, function(t, h, a)
                  if t == net.DATA then got = got + #a end
                  return drained and got == sent * #chunk
                end},
                {e, function(t, h, a)
                  if t == net.SEND_DRAINED then
                    T.eq(h, s, "DRAINED handle")
                    drained = a
                  end
                  return drained and got == sent * #chunk
                end}}, 10000, "drain")
  T.ok(drained < 16384, "DRAINED reports the bytes still queued", drained)
  T.eq(got, sent * #chunk, "every accepted byte arrived")
end)

-- n server-side connections, each with its client, inside e.
local function fan(e, n, opts)
  local l = assert(e:listen("127.0.0.1", 0, opts))
  local port = select(2, net.local_addr(l))
  local clients, servers = {}, {}
  for i = 1, n do clients[i] = assert(e:connect("127.0.0.1", port, opts)) end
  local up = 0
  T.until_(e, function(t, h)
    if t == net.ACCEPT then servers[#servers + 1] = h end
    if t == net.CONNECT then up = up + 1 end
    return up == n and #servers == n
  end)
  return servers, clients
end

-- Reads events until `want` DATA events reached clients; returns per-client lists.
local function collect(e, clients, want)
  local is_client = {}
  for _, c in ipairs(clients) do is_client[c] = {} end
  local n = 0
  T.until_(e, function(t, h, a)
    if t == net.DATA and is_client[h] then
      local list = is_client[h]
      list[#list + 1] = a
      n = n + 1
    end
    return n >= want
  end)
  -- and nothing more
  for t, h in e:events(50) do
    if t == net.DATA and is_client[h] then T.fail("an extra copy arrived") end
  end
  return is_client
end

test("broadcast", function()
  local e = T.engine()
  local servers, clients = fan(e, 10, {framing = "u16le"})
  local before = e:stats().messages_out
  T.eq(net.broadcast(servers, "news"), 10, "queued to all")
  local got = collect(e, clients, 10)
  for _, c in ipairs(clients) do
    T.eq(#got[c], 1, "exactly one copy each")
    T.eq(got[c][1], "news", "payload")
  end
  T.eq(e:stats().messages_out - before, 10, "messages_out counts receivers")

  -- A count below #handles, with a stale handle in the unused tail.
  local list = {table.unpack(servers)}
  list[4] = 12345
  T.eq(net.broadcast(list, "first three", 3), 3, "count")
  got = collect(e, clients, 3)
  local total = 0
  for _, c in ipairs(clients) do total = total + #got[c] end
  T.eq(total, 3, "only the first three")

  -- Results per connection, stale and closing ones included.
  net.close(servers[10])
  list = {table.unpack(servers)}
  list[11] = 12345
  local results = {}
  T.eq(net.broadcast(list, "with results", #list, results), 9, "queued to the live ones")
  for i = 1, 9 do T.eq(results[i], 0, "result " .. i) end
  T.eq(results[10], net.E_CLOSED, "closing connection")
  T.eq(results[11], net.E_BADHANDLE, "made-up handle")
  T.eq(net.broadcast({}, "nobody"), 0, "empty list")
end)

test("broadcast_large_shared_payload", function()
  local e = T.engine()
  local servers, clients = fan(e, 8, {framing = "u32be"})
  local big = {}
  for i = 1, 200000 do big[i] = string.char(i % 251) end
  big = table.concat(big)
  T.eq(net.broadcast(servers, big), 8, "queued")
  local got = collect(e, clients, 8)
  for _, c in ipairs(clients) do T.eq(got[c][1], big, "payload intact") end
end)

return tests
