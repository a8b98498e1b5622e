-- test_rudp.lua - reliable-UDP sessions through the binding: a listener
-- and a session (ACCEPT, CONNECT), messages on every channel in every mode
-- echoed with their channel as DATA's fifth value, reliable-ordered ones in
-- order, net.send as channel 0, the stats tables, the errors of rudp_send
-- (channel, mode, closed, stale), bad options, and graceful closes (one
-- CLOSE each, status 0).
local net = require "net"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

local CHANNELS = 4

-- A listener and a connected session in e: listener, client session,
-- server-side session. opts go to both ends.
local function rudp_pair(e, opts)
  local l = assert(e:rudp_listen("127.0.0.1", 0, opts))
  local _, port = net.local_addr(l)
  local c = assert(e:rudp_connect("127.0.0.1", port, opts))
  local s, connected
  T.until_(e, function(t, h, a, u, x)
    if t == net.ACCEPT then
      T.eq(a, l, "ACCEPT's parent is the listener")
      T.ok(x:match("^127%.0%.0%.1:%d+$"), "ACCEPT carries the peer's address", x)
      s = h
    elseif t == net.CONNECT then
      T.eq(h, c, "CONNECT handle")
      T.eq(a, 0, "CONNECT status")
      connected = true
    elseif t == net.CLOSE then
      T.fail("unexpected CLOSE of " .. h .. ": " .. net.strerror(a))
    end
    return s and connected
  end, 5000, "a connected session")
  return l, c, s
end

-- Waits for the CLOSE of every handle in `want` (handle -> true), checking
-- each status is 0 and none comes twice.
local function closes(e, want, what)
  local left = 0
  for _ in pairs(want) do left = left + 1 end
  T.until_(e, function(t, h, a)
    if t ~= net.CLOSE then return end
    T.ok(want[h], "one CLOSE per handle, for a handle closed", h)
    T.eq(a, 0, "CLOSE status of " .. h)
    want[h] = nil
    left = left - 1
    return left == 0
  end, 8000, what)
end

test("echo_channels_and_modes", function()
  local e = T.engine()
  local l, c, s = rudp_pair(e, {channels = CHANNELS, user = 5})
  local modes = {net.RELIABLE_ORDERED, net.RELIABLE_UNORDERED, "unreliable_sequenced", "unreliable"}
  local per, sent = 25, 0
  -- channel ch carries mode modes[ch + 1]; message i of it names both
  for i = 1, per do
    for ch = 0, CHANNELS - 1 do
      T.eq(net.rudp_send(c, ch, modes[ch + 1], string.format("%d:%d:%s", ch, i, string.rep("x", i * 37))), true,
        "rudp_send")
      sent = sent + 1
    end
  end
  local got, last, echoed = 0, {}, 0
  local seen = {}
  T.until_(e, function(t, h, a, u, x)
    if t ~= net.DATA then return end
    local ch, i = a:match("^(%d+):(%d+):")
    ch, i = math.tointeger(tonumber(ch)), math.tointeger(tonumber(i))
    T.eq(x, ch, "DATA's fifth value is the channel it came on")
    T.eq(#a, #string.format("%d:%d:", ch, i) + i * 37, "whole message")
    if h == s then
      -- the server echoes on the same channel in the same mode
      T.eq(net.rudp_send(s, x, modes[x + 1], a), true, "echo")
      echoed = echoed + 1
      return
    end
    T.eq(h, c, "DATA for the client session")
    T.eq(u, 5, "the session's user data")
    local key = ch .. ":" .. i
    T.ok(not seen[key], "no message twice", key)
    seen[key] = true
    if ch == 0 then
      T.eq(i, (last[0] or 0) + 1, "reliable-ordered channel 0 in order")
    end
    if ch == 2 then
      T.ok(i > (last[2] or 0), "unreliable-sequenced channel 2 never goes back", i)
    end
    last[ch] = i
    got = got + 1
    -- over loopback nothing is lost in practice; the reliable channels
    -- must deliver everything whatever happens
    return got == sent
  end, 10000, "every echo")
  T.eq(echoed, sent, "the server saw every message")

  -- net.send is channel 0, reliable-ordered
  T.eq(net.send(c, "plain"), true, "net.send on a session")
  T.until_(e, function(t, h, a, _, x)
    if t == net.DATA and h == s then
      T.eq(a, "plain", "payload")
      T.eq(x, 0, "net.send arrives on channel 0")
      return true
    end
  end, 5000, "net.send's message")

  local st = net.rudp_stats(c)
  T.ok(st.messages_sent >= sent + 1, "session stats count messages sent", st.messages_sent)
  T.ok(st.messages_received >= sent, "and received", st.messages_received)
  T.ok(st.packets_sent > 0 and st.rto_ms > 0, "packets and an RTO")
  local t = {}
  T.eq(net.rudp_stats(l, t), t, "stats into a given table")
  T.eq(t.sessions, 1, "the listener has one session")
  T.eq(t.handshakes, 1, "and accepted one")

  net.close(c)
  closes(e, {[c] = true, [s] = true}, "both ends' CLOSE")
  net.close(l)
  closes(e, {[l] = true}, "the listener's CLOSE")
end)

test("send_errors", function()
  local e = T.engine()
  local l, c, s = rudp_pair(e, {channels = 2})
  T.fails_with(net.E_INVAL, "channel past the session's channels", net.rudp_send(c, 2, net.RELIABLE_ORDERED, "x"))
  T.fails_with(net.E_INVAL, "unknown mode", net.rudp_send(c, 0, 9, "x"))
  T.raises("invalid option 'sometimes'", net.rudp_send, c, 0, "sometimes", "x")
  T.raises("bad argument #4 to 'net.rudp_send'", net.rudp_send, c, 0, 0, nil)
  T.raises("channel out of range", net.rudp_send, c, -1, 0, "x")
  T.raises("unknown field 'chanels'", e.rudp_listen, e, "127.0.0.1", 0, {chanels = 4})
  T.fails_with(net.E_INVAL, "too many channels",
    e:rudp_listen("127.0.0.1", 0, {channels = net.RUDP_MAX_CHANNELS + 1}))
  net.abort(s)
  net.close(c)
  net.close(l)
  local got = {}
  T.until_(e, function(t, h, a)
    if t == net.CLOSE then
      T.ok(not got[h], "one CLOSE per handle", h)
      got[h] = a
    end
    return got[c] and got[s] and got[l]
  end, 8000, "every CLOSE")
  T.fails_with(net.E_BADHANDLE, "a closed session is stale", net.rudp_send(c, 0, 0, "late"))
  T.fails_with(net.E_BADHANDLE, "and has no stats", net.rudp_stats(c))
end)

test("connect_nowhere", function()
  local e = T.engine()
  -- a free port with nobody behind it: the session fails, then closes once
  local u = assert(e:udp_open("127.0.0.1", 0))
  local _, port = net.local_addr(u)
  net.close(u)
  local c = assert(e:rudp_connect("127.0.0.1", port, {connect_timeout_ms = 300}))
  local status
  T.until_(e, function(t, h, a)
    if h ~= c then return end
    if t == net.CONNECT then
      T.ok(a ~= 0, "CONNECT reports a failure", a)
      status = a
    elseif t == net.CLOSE then
      T.ok(status, "CONNECT before CLOSE")
      T.ok(a == net.E_REFUSED or a == net.E_TIMEDOUT, "refused or timed out", net.strerror(a))
      return true
    end
  end, 5000, "the failed session's CLOSE")
end)

return tests
