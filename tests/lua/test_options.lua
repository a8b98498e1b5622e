-- test_options.lua - user data, socket and queue options, idle timeouts,
-- addresses and queued bytes.
local net = require "net"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

test("user_data", function()
  local e = T.engine()
  local _, c, s = T.pair(e, {framing = "u16le"}, {framing = "u16le", user = 11})
  T.eq(net.get_user(c), 11, "user from the connect options")
  T.eq(net.set_user(s, math.maxinteger), true, "set")
  T.eq(net.get_user(s), math.maxinteger, "all 64 bits")
  T.eq(net.set_user(s, -2), true, "negative")
  T.eq(net.get_user(s), -2, "get negative")
  net.send(c, "x")
  T.until_(e, function(t, h, a, u)
    if t == net.DATA and h == s then
      T.eq(u, -2, "DATA carries the user data")
      return true
    end
  end)
  net.abort(s)
  local n = 0
  T.until_(e, function(t, h, a, u)
    if t == net.CLOSE then
      T.eq(u, h == s and -2 or 11, "CLOSE carries the user data")
      n = n + 1
    end
    return n == 2
  end)
end)

test("socket_options", function()
  local e = T.engine()
  local l, c, s = T.pair(e, {framing = "raw"})
  T.eq(net.get_option(s, "nodelay"), true, "nodelay on by default")
  T.eq(net.set_option(s, "nodelay", false), true, "set nodelay off")
  T.eq(net.get_option(s, "nodelay"), false, "nodelay off")
  T.eq(net.set_option(c, "keepalive", true), true, "keepalive")
  T.eq(net.get_option(c, "keepalive"), true, "keepalive on")
  T.eq(net.set_option(s, "sndbuf", 65536), true, "sndbuf")
  T.ok(net.get_option(s, "sndbuf") >= 65536, "sndbuf at least what was asked")
  T.eq(net.set_option(s, "rcvbuf", 65536), true, "rcvbuf")
  T.eq(math.type(net.get_option(s, "rcvbuf")), "integer", "rcvbuf")
  T.eq(net.set_option(s, "linger", 3), true, "linger")
  T.eq(net.get_option(s, "linger"), 3, "linger seconds")
  T.eq(net.set_option(s, "linger", -1), true, "linger off")
  T.eq(net.get_option(l, "reuseaddr"), true, "reuseaddr on listeners by default")
  -- lowwater before highwater: the low-water mark may never pass the high one
  for _, name in ipairs{"send_cap", "lowwater", "highwater", "idle_timeout"} do
    T.eq(net.set_option(s, name, 12345), true, "set " .. name)
    T.eq(net.get_option(s, name), 12345, "get " .. name)
    T.fails_with(net.E_INVAL, name .. " on a listener", net.set_option(l, name, 1))
    T.fails_with(net.E_INVAL, "negative " .. name, net.set_option(s, name, -1))
  end
  T.fails_with(net.E_INVAL, "lowwater above highwater", net.set_option(s, "lowwater", 12346))
  T.fails_with(net.E_INVAL, "highwater below lowwater", net.set_option(s, "highwater", 12344))
  T.eq(net.get_option(s, "lowwater"), 12345, "lowwater unchanged by the refused calls")
  T.eq(net.get_option(s, "highwater"), 12345, "highwater unchanged by the refused calls")
end)

test("idle_timeout", function()
  local e = T.engine()
  local _, c, s = T.pair(e, {framing = "raw"})
  T.eq(net.set_option(s, "idle_timeout", 150), true, "idle timeout")
  local status
  T.until_(e, function(t, h, a)
    if t == net.CLOSE and h == s then status = a return true end
  end, 3000, "the idle connection to close")
  T.eq(status, net.E_TIMEDOUT, "CLOSE status")
end)

test("send_queued_and_addresses", function()
  local e = T.engine()
  local l, c, s = T.pair(e, {framing = "u32le"})
  T.eq(math.type(net.send_queued(c)), "integer", "send_queued")
  T.eq(net.send(c, string.rep("q", 100000)), true, "send")
  local queued = net.send_queued(c)
  T.ok(queued >= 0 and queued <= 100004, "queued bytes in range", queued)
  local a, port = net.local_addr(l)
  T.eq(a, "127.0.0.1:" .. port, "listener address")
  local pa, pp = net.peer_addr(c)
  T.eq(pa, a, "client's peer is the listener")
  T.eq(pp, port, "peer port")
  T.until_(e, function(t, h, x) return t == net.DATA and h == s and #x == 100000 end)
  T.eq(net.send_queued(c), 0, "everything written")
end)

test("ipv6_listener", function()
  local e = T.engine()
  local l, err = e:listen("::1", 0, {ipv6only = true})
  if not l then T.skip("no IPv6 loopback: " .. err) end
  local a, port = net.local_addr(l)
  T.eq(a, "[::1]:" .. port, "IPv6 address text")
  local c = assert(e:connect("::1", port))
  T.until_(e, function(t, h, st) return t == net.CONNECT and h == c and st == 0 end)
end)

return tests
