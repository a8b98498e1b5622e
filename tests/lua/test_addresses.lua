-- test_addresses.lua - addresses round-trip: the text net prints
-- ("127.0.0.1:9", "[::1]:7000") in net.local_addr, net.peer_addr and
-- events is what listen, connect, udp_open, udp_connect, sendto and
-- addr_parse take back, as one "host:port" argument or as host, port
-- (the host bare or in brackets), over IPv4 and IPv6.
local net = require "net"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

local function ipv6_or_skip(e)
  local l = e:listen("[::1]:0")
  if not l then T.skip("no IPv6 loopback here") end
  net.close(l)
end

-- Listens on table.unpack(where), connects with connect_args(text, port),
-- and checks every address text either side sees.
local function tcp_round_trip(e, where, host_text, connect_args)
  local l = assert(e:listen(table.unpack(where)))
  local laddr, port = net.local_addr(l)
  T.eq(laddr, host_text .. ":" .. port, "listener's address text")
  local c = assert(e:connect(connect_args(laddr, port)))
  local s, accept_peer, connect_peer
  T.until_(e, function(t, h, a, _, x)
    if t == net.ACCEPT and a == l then s, accept_peer = h, x end
    if t == net.CONNECT and h == c then
      T.eq(a, 0, "connected")
      connect_peer = x
    end
    return s and connect_peer
  end, 5000, "connect to " .. laddr)
  T.eq(connect_peer, laddr, "CONNECT's peer is the text connected to")
  T.eq(accept_peer, (net.local_addr(c)), "ACCEPT's peer is the client's local address")
  T.eq((net.peer_addr(s)), accept_peer, "peer_addr matches ACCEPT")
  T.eq((net.peer_addr(c)), laddr, "client's peer_addr")
  net.send(c, "ping")
  T.until_(e, function(t, h, a) return t == net.DATA and h == s and a == "ping" end, 5000, "data")
  net.close(l)
  net.abort(c)
  net.abort(s)
  return accept_peer
end

test("tcp_ipv4", function()
  local e = T.engine()
  tcp_round_trip(e, {"127.0.0.1:0"}, "127.0.0.1", function(text) return text end)
  tcp_round_trip(e, {"127.0.0.1:0"}, "127.0.0.1", function(_, port) return "127.0.0.1", port end)
  -- both values net.local_addr returns: e:connect(net.local_addr(l))
  tcp_round_trip(e, {"127.0.0.1:0"}, "127.0.0.1", function(text, port) return text, port end)
  T.raises("bad argument #3 to 'connect' %(port differs from the address's%)", e.connect, e, "127.0.0.1:80", 81)
  local l = assert(e:listen("127.0.0.1", 0, {reuseaddr = true}))
  T.ok(net.local_addr(l):find("^127%.0%.0%.1:%d+$"), "host, port, options")
end)

test("tcp_ipv6", function()
  local e = T.engine()
  ipv6_or_skip(e)
  tcp_round_trip(e, {"[::1]:0"}, "[::1]", function(text) return text end)
  tcp_round_trip(e, {"[::1]:0"}, "[::1]", function(_, port) return "::1", port end)
  tcp_round_trip(e, {"[::1]:0"}, "[::1]", function(_, port) return "[::1]", port end)
  tcp_round_trip(e, {"[::1]:0"}, "[::1]", function(text, port) return text, port end)
  local peer = tcp_round_trip(e, {"::1", 0}, "[::1]", function(text) return text end)
  T.ok(peer:find("^%[::1%]:%d+$"), "an IPv6 peer prints in brackets", peer)
end)

-- a sends to b's printed address, b answers to the sender text it got.
local function udp_round_trip(e, a, b, send)
  local baddr = net.local_addr(b)
  T.eq(send(a, baddr, "hello"), true, "sendto")
  local from
  T.until_(e, function(t, h, p, _, x)
    if t == net.DATAGRAM and h == b and p == "hello" then from = x end
    return from
  end, 5000, "datagram to " .. baddr)
  T.eq(from, (net.local_addr(a)), "the sender text is a's printed address")
  T.eq(net.sendto(b, from, "back"), true, "reply to the sender text")
  T.until_(e, function(t, h, p, _, x)
    return t == net.DATAGRAM and h == a and p == "back" and x == baddr
  end, 5000, "the reply")
end

local function udp_family(host_text, bind)
  local e = T.engine()
  local a = assert(e:udp_open(bind))
  local b = assert(e:udp_open(bind:gsub(":0$", ""), 0))
  T.ok(net.local_addr(a):find("^" .. host_text:gsub("[%[%]%.]", "%%%0") .. ":%d+$"), "printed", net.local_addr(a))
  udp_round_trip(e, a, b, function(u, text, data) return net.sendto(u, text, data) end)
  udp_round_trip(e, a, b, function(u, text, data)
    local host, port = text:match("^(.*):(%d+)$")
    return net.sendto(u, host, tonumber(port), data)
  end)
  -- udp_connect takes the same text, and sendto(nil) then means that peer.
  T.eq(net.udp_connect(a, (net.local_addr(b))), true, "udp_connect to the text")
  T.eq((net.peer_addr(a)), (net.local_addr(b)), "peer_addr")
  T.eq(net.sendto(a, nil, "connected"), true, "sendto the peer")
  T.until_(e, function(t, h, p) return t == net.DATAGRAM and h == b and p == "connected" end, 5000, "to peer")
end

test("udp_ipv4", function()
  udp_family("127.0.0.1", "127.0.0.1:0")
end)

test("udp_ipv6", function()
  ipv6_or_skip(T.engine())
  udp_family("[::1]", "[::1]:0")
end)

test("addr_parse_both_forms", function()
  T.eq(net.addr_parse("127.0.0.1:9"), "127.0.0.1:9", "text")
  T.eq(select(2, net.addr_parse("127.0.0.1:9")), 9, "port")
  T.eq(net.addr_parse("127.0.0.1", 9), "127.0.0.1:9", "host, port")
  T.eq(net.addr_parse("[::1]:7000"), "[::1]:7000", "IPv6 text")
  T.eq(net.addr_parse("::1", 7000), "[::1]:7000", "IPv6 host, port")
  T.eq(net.addr_parse("[::1]", 7000), "[::1]:7000", "bracketed IPv6 host, port")
  T.eq(net.addr_parse(net.addr_parse("[::1]:7000")), "[::1]:7000", "its own two results")
  T.raises("bad argument #1 to 'net.addr_parse' %(an IPv6 address needs brackets", net.addr_parse, "::1:7000")
  T.raises("bad argument #1 to 'net.addr_parse' %(address must be", net.addr_parse, "127.0.0.1")
end)

-- A port already taken: listen and udp_open fail with E_ADDRINUSE and, as
-- a fourth value, the OS error behind it (98, EADDRINUSE, on Linux).
test("taken_port_gives_the_os_error", function()
  local e = T.engine()
  local l = assert(e:listen("127.0.0.1:0"))
  local taken = net.local_addr(l)
  local h, msg, code, os_error = e:listen(taken)
  T.eq(h, nil, "second listen on " .. taken)
  T.eq(code, net.E_ADDRINUSE, "code")
  T.eq(msg, net.strerror(net.E_ADDRINUSE), "message")
  T.eq(os_error, 98, "os error")
  local u = assert(e:udp_open("127.0.0.1:0"))
  local _, _, ucode, uos = e:udp_open(net.local_addr(u))
  T.eq(ucode, net.E_ADDRINUSE, "udp_open code")
  T.eq(uos, 98, "udp_open os error")
end)

return tests
