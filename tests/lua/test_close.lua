-- test_close.lua - close reasons: graceful, abortive, half-close, refused
-- connects, listeners; exactly one CLOSE per connection.
local net = require "net"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

-- Reads events until both c and s have closed; returns what each side
-- received and the CLOSE status and count of each.
local function run_to_close(e, c, s, on_data)
  local got = {[c] = {}, [s] = {}}
  local status, closes = {}, {[c] = 0, [s] = 0}
  T.until_(e, function(t, h, a)
    if t == net.DATA then
      local list = got[h]
      list[#list + 1] = a
      if on_data then on_data(h, a) end
    elseif t == net.CLOSE and got[h] then
      closes[h] = closes[h] + 1
      status[h] = a
    end
    return closes[c] > 0 and closes[s] > 0
  end, 10000, "both CLOSE events")
  -- Nothing more comes for either handle.
  for t, h in e:events(50) do
    if h == c or h == s then T.fail("event " .. t .. " after CLOSE") end
  end
  return got, status, closes
end

test("graceful_close_delivers_everything", function()
  local e = T.engine()
  local _, c, s = T.pair(e, {framing = "u32le"})
  local big = string.rep("0123456789", 100000) -- 1 MB: still queued when close is asked
  for i = 1, 5 do T.eq(net.send(s, i .. big), true, "send") end
  T.eq(net.close(s), true, "close")
  local got, status, closes = run_to_close(e, c, s)
  T.eq(#got[c], 5, "every message before the close arrives")
  for i = 1, 5 do T.eq(got[c][i], i .. big, "message " .. i) end
  T.eq(status[c], 0, "client CLOSE: orderly")
  T.eq(status[s], 0, "server CLOSE: orderly")
  T.eq(closes[c] + closes[s], 2, "one CLOSE each")
end)

test("abortive_close", function()
  local e = T.engine()
  local _, c, s = T.pair(e, {framing = "u16le"})
  T.eq(net.send(s, "dropped, maybe"), true, "send")
  T.eq(net.abort(s), true, "abort")
  T.eq(net.abort(s), true, "abort twice is harmless until CLOSE is read")
  local _, status = run_to_close(e, c, s)
  T.eq(status[s], net.E_ABORTED, "aborting side: E_ABORTED")
  T.eq(status[c], net.E_RESET, "peer: E_RESET")
end)

test("half_close", function()
  local e = T.engine()
  local _, c, s = T.pair(e, {framing = "u16le"})
  T.eq(net.send(c, "question"), true, "send")
  T.eq(net.shutdown(c), true, "shutdown: FIN after the queue")
  -- The server still answers after the client's FIN; the client, having
  -- only shut its sending side, still receives.
  local got, status = run_to_close(e, c, s, function(h, a)
    if h == s then T.eq(net.send(s, "answer to " .. a), true, "answer") end
  end)
  T.eq(got[s][1], "question", "server got the question")
  T.eq(got[c][1], "answer to question", "client got the answer after its FIN")
  T.eq(status[c], 0, "client CLOSE orderly")
  T.eq(status[s], 0, "server CLOSE orderly")
end)

test("peer_close_is_orderly", function()
  local e = T.engine()
  local _, c, s = T.pair(e, {framing = "raw"})
  T.eq(net.send(c, "bye"), true, "send")
  T.eq(net.close(c), true, "client closes")
  local got, status = run_to_close(e, c, s)
  T.eq(table.concat(got[s]), "bye", "data before FIN")
  T.eq(status[s], 0, "server sees an orderly close")
end)

test("connect_refused", function()
  local e = T.engine()
  -- A port that was just free: listen, learn it, close the listener.
  local l = assert(e:listen("127.0.0.1", 0))
  local _, port = net.local_addr(l)
  net.close(l)
  T.until_(e, function(t, h) return t == net.CLOSE and h == l end)
  local c = assert(e:connect("127.0.0.1", port))
  local connect_status, close_status
  T.until_(e, function(t, h, a, _, x)
    if t == net.CONNECT then
      T.eq(h, c, "CONNECT handle")
      connect_status = a
      T.eq(math.type(x), "integer", "os_error as extra")
    elseif t == net.CLOSE and h == c then
      close_status = a
      return true
    end
  end)
  T.eq(connect_status, net.E_REFUSED, "CONNECT status")
  T.eq(close_status, net.E_REFUSED, "a CLOSE follows a failed CONNECT")
  T.fails_with(net.E_ADDR, "bad address", e:connect("no such host.invalid", 80))
end)

test("listener_close", function()
  local e = T.engine()
  local l = assert(e:listen("127.0.0.1", 0, {user = 77}))
  T.eq(net.get_user(l), 77, "listener user data")
  T.eq(net.close(l), true, "close listener")
  local status, user
  T.until_(e, function(t, h, a, u)
    if t == net.CLOSE and h == l then status, user = a, u return true end
  end)
  T.eq(status, 0, "listener CLOSE status")
  T.eq(user, 77, "CLOSE carries the user data")
  T.fails_with(net.E_BADHANDLE, "closed listener", net.local_addr(l))
end)

test("accept_and_connect_events", function()
  local e = T.engine()
  local l = assert(e:listen("127.0.0.1", 0, {user = 5}))
  local laddr, port = net.local_addr(l)
  T.eq(laddr, "127.0.0.1:" .. port, "local_addr text")
  local c = assert(e:connect("127.0.0.1", port, {user = 9}))
  local accepted, connected
  T.until_(e, function(t, h, a, u, x)
    if t == net.ACCEPT then
      T.eq(a, l, "ACCEPT: arg is the listener")
      T.ok(x:match("^127%.0%.0%.1:%d+$"), "ACCEPT: extra is the peer address", x)
      accepted = h
    elseif t == net.CONNECT then
      T.eq(a, 0, "CONNECT status")
      T.eq(u, 9, "CONNECT user")
      T.eq(x, "127.0.0.1:" .. port, "CONNECT: extra is the peer address")
      connected = h
    end
    return accepted and connected
  end)
  T.eq(connected, c, "CONNECT handle")
  local peer, pport = net.peer_addr(accepted)
  T.eq(peer, select(1, net.local_addr(c)), "server's peer is the client's local address")
  T.eq(pport, select(2, net.local_addr(c)), "ports agree")
end)

return tests
