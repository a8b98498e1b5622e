-- test_udp.lua - UDP through the binding: echo of every size, the sender's
-- address in each DATAGRAM, oversized arrivals dropped and counted,
-- connected sockets, one CLOSE, stale handles and bad arguments.
local net = require "net"
local sys = require "net.sys"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

-- Deterministic bytes of length n (seeded by k).
local function bytes(n, k)
  local t = {}
  for i = 1, n do t[i] = string.char((i * 31 + k * 7 + (i >> 8)) % 256) end
  return table.concat(t)
end

-- A UDP socket on the loopback with a free port; returns it and its address text.
local function udp(e, host, opts)
  local u = assert(e:udp_open(host or "127.0.0.1", 0, opts))
  local text = net.local_addr(u)
  return u, text
end

-- Reads events until fn returns true, failing on a CLOSE or ERROR nobody asked for.
local function until_udp(e, fn, what)
  T.until_(e, function(t, h, a, u, x, y)
    if t == net.CLOSE then T.fail("unexpected CLOSE of " .. h .. ": " .. net.strerror(a)) end
    if t == net.ERROR then T.fail("unexpected ERROR on " .. h .. ": " .. net.strerror(a)) end
    return fn(t, h, a, u, x, y)
  end, 10000, what)
end

-- Everything e produces for `seconds`, as {type, handle, arg} records.
local function drain(e, seconds)
  local seen = {}
  T.for_a_while(e, seconds, function(t, h, a) seen[#seen + 1] = {t, h, a} end)
  return seen
end

-- s echoes every datagram to its sender; c sends msgs and collects what
-- comes back. Checks the sender address of each event on both sides.
local function echo(e, s, saddr, c, caddr, msgs, use_host_port)
  local host, port = saddr:match("^%[?(.-)%]?:(%d+)$")
  for _, m in ipairs(msgs) do
    if use_host_port then
      T.eq(net.sendto(c, host, math.tointeger(port), m), true, "sendto host, port")
    else
      T.eq(net.sendto(c, saddr, m), true, "sendto addr")
    end
  end
  local got = {}
  until_udp(e, function(t, h, a, u, from)
    if t ~= net.DATAGRAM then return end
    if h == s then
      T.eq(from, caddr, "the server sees the client's address")
      T.eq(net.sendto(s, from, a), true, "echo to the sender")
    elseif h == c then
      T.eq(from, saddr, "the client sees the server's address")
      got[#got + 1] = a
      return #got == #msgs
    end
  end, #msgs .. " echoes")
  return got
end

test("echo_sizes", function()
  local e = T.engine()
  local s, saddr = udp(e, nil, {user = 7})
  local c, caddr = udp(e, nil, {user = 8})
  T.ok(saddr:match("^127%.0%.0%.1:%d+$"), "local address text", saddr)
  for _, n in ipairs{0, 1, 1200, 65507} do
    local m = bytes(n, n)
    local got = echo(e, s, saddr, c, caddr, {m})
    T.eq(#got[1], n, "echoed length")
    T.eq(got[1], m, "echo of " .. n .. " bytes, byte for byte")
  end
  -- The same through sendto(h, host, port, data) and many at once.
  local msgs = {}
  for i = 1, 50 do msgs[i] = bytes(i * 20, i) end
  local got = echo(e, s, saddr, c, caddr, msgs, true)
  table.sort(got)
  table.sort(msgs)
  for i = 1, #msgs do T.eq(got[i], msgs[i], "datagram " .. i) end
end)

test("events_carry_sender_and_user", function()
  local e = T.engine()
  local s, saddr = udp(e, nil, {user = -5})
  local peers = {}
  for i = 1, 8 do
    local c, caddr = udp(e)
    T.eq(net.set_user(c, 100 + i), true, "set_user")
    peers[caddr] = {c = c, i = i}
    T.eq(net.sendto(c, saddr, "from " .. i), true, "send")
  end
  local seen, echoed = 0, 0
  until_udp(e, function(t, h, a, u, from)
    if t ~= net.DATAGRAM then return end
    if h == s then
      T.eq(u, -5, "the server's user data")
      local p = T.ok(peers[from], "sender is one of the peers", from)
      T.eq(a, "from " .. p.i, "payload matches its sender")
      seen = seen + 1
      T.eq(net.sendto(s, from, "to " .. p.i), true, "reply")
    else
      local p = T.ok(peers[net.local_addr(h)], "the reply arrives at a peer")
      T.eq(u, 100 + p.i, "the peer's user data")
      T.eq(a, "to " .. p.i, "each peer gets its own reply")
      T.eq(from, saddr, "from the server")
      echoed = echoed + 1
    end
    return seen == 8 and echoed == 8
  end, "eight exchanges")
  local text, port = net.local_addr(s)
  T.eq(text, saddr, "local_addr")
  T.eq(net.addr_parse("127.0.0.1", port), saddr, "addr_parse gives the same text")
  T.eq(select(2, net.addr_parse("127.0.0.1", port)), port, "addr_parse port")
  T.fails_with(net.E_ADDR, "addr_parse of a bad name", net.addr_parse("no such host.invalid", 1))
end)

-- A scoped IPv6 address keeps its scope in the text, so a link-local
-- sender's address read from an event can be sent back to.
test("scoped_address_text", function()
  local text, port = net.addr_parse("fe80::1%1", 80)
  if not text then T.skip("the resolver takes no numeric IPv6 scope here") end
  T.eq(text, "[fe80::1%1]:80", "scope in the text")
  T.eq(port, 80, "port")
  -- sendto reads it back: the text parses (the stale handle is what fails).
  T.fails_with(net.E_BADHANDLE, "scoped text parses", net.sendto(0, text, "x"))
  T.fails_with(net.E_BADHANDLE, "IPv4 text parses", net.sendto(0, "10.1.2.3:9", "x"))
  T.fails_with(net.E_BADHANDLE, "IPv6 text parses", net.sendto(0, "[2001:db8::7]:65535", "x"))
end)

test("ipv6", function()
  local e = T.engine()
  local s, err = e:udp_open("::1", 0, {ipv6only = true})
  if not s then T.skip("no IPv6 loopback: " .. err) end
  local saddr, port = net.local_addr(s)
  T.eq(saddr, "[::1]:" .. port, "IPv6 address text")
  local c, caddr = udp(e, "::1")
  local msgs = {"", "six", bytes(1200, 6), bytes(65507, 7)}
  local got = echo(e, s, saddr, c, caddr, msgs)
  table.sort(got)
  table.sort(msgs)
  for i = 1, #msgs do T.eq(got[i], msgs[i], "IPv6 datagram " .. i) end
  got = echo(e, s, saddr, c, caddr, {"hp"}, true)
  T.eq(got[1], "hp", "sendto with host '::1' and a port")
end)

test("oversize_dropped_and_counted", function()
  local e = T.engine()
  -- One socket gets its maximum when opened, the other lowers it later.
  local s1, addr1 = udp(e, nil, {max_datagram = 100})
  local s2, addr2 = udp(e)
  local c = udp(e)
  T.eq(net.get_option(s1, "max_datagram"), 100, "max_datagram from the options")
  T.eq(net.set_option(s2, "max_datagram", 100), true, "lower max_datagram")
  T.eq(net.get_option(s2, "max_datagram"), 100, "lowered")
  for _, s in ipairs{s1, s2} do T.eq(net.get_option(s, "dropped"), 0, "nothing dropped yet") end
  for _, to in ipairs{addr1, addr2} do
    T.eq(net.sendto(c, to, bytes(101, 1)), true, "one byte too many")
    T.eq(net.sendto(c, to, bytes(5000, 2)), true, "far too many")
    T.eq(net.sendto(c, to, bytes(100, 3)), true, "exactly the maximum")
  end
  -- The sizes that fit arrive whole; the others never arrive, not even cut.
  local got = {}
  until_udp(e, function(t, h, a)
    if t == net.DATAGRAM then
      T.eq(a, bytes(100, 3), "only the datagram that fits")
      got[h] = (got[h] or 0) + 1
      return got[s1] and got[s2]
    end
  end, "the datagrams that fit")
  for _, ev in ipairs(drain(e, 0.1)) do
    T.ok(ev[1] ~= net.DATAGRAM, "no other datagram reaches the sockets")
  end
  T.eq(net.get_option(s1, "dropped"), 2, "dropped, counted per socket")
  T.eq(net.get_option(s2, "dropped"), 2, "dropped, counted per socket")
  T.eq(e:stats().datagrams_dropped, 4, "dropped in the stats")
  -- Sending past one's own maximum fails at once and queues nothing.
  T.fails_with(net.E_MSGSIZE, "send past max_datagram", net.sendto(s1, net.local_addr(c), bytes(101, 4)))
  T.fails_with(net.E_MSGSIZE, "send past 65507", net.sendto(c, addr1, bytes(65508, 5)))
  -- Raising the maximum again lets the next big one in.
  T.eq(net.set_option(s2, "max_datagram", 5000), true, "raise max_datagram")
  T.eq(net.sendto(c, addr2, bytes(5000, 6)), true, "send 5000")
  until_udp(e, function(t, h, a) return t == net.DATAGRAM and h == s2 and a == bytes(5000, 6) end, "5000 bytes")
  T.eq(net.get_option(s2, "dropped"), 2, "dropped count unchanged")
end)

test("connected", function()
  local e = T.engine()
  local s, saddr = udp(e)
  local c, caddr = udp(e)
  local stranger = udp(e)
  T.fails_with(net.E_NOTCONN, "send on an unconnected socket", net.send(c, "x"))
  T.fails_with(net.E_NOTCONN, "gathered send on an unconnected socket", net.send(c, "x", "y"))
  T.fails_with(net.E_NOTCONN, "peer_addr of an unconnected socket", net.peer_addr(c))
  local _, sport = net.local_addr(s)
  T.eq(net.udp_connect(c, "127.0.0.1", sport), true, "udp_connect")
  local peer, pport = net.peer_addr(c)
  T.eq(peer, saddr, "peer_addr")
  T.eq(pport, sport, "peer port")
  T.eq(net.send(c, "one"), true, "send")
  T.eq(net.send(c, "tw", "o"), true, "gathered send: one datagram")
  T.eq(net.sendto(c, nil, "three"), true, "sendto nil: the peer")
  T.eq(net.sendto(c, saddr, "four"), true, "sendto the peer itself")
  T.fails_with(net.E_INVAL, "sendto another address", net.sendto(c, net.local_addr(stranger), "x"))
  -- Only the peer's datagrams reach a connected socket.
  T.eq(net.sendto(stranger, caddr, "intruder"), true, "stranger sends")
  local got = {}
  until_udp(e, function(t, h, a, _, from)
    if t ~= net.DATAGRAM then return end
    if h == s then
      T.eq(from, caddr, "sent from the connected socket")
      got[#got + 1] = a
      if #got == 4 then T.eq(net.sendto(s, from, "reply"), true, "reply") end
    elseif h == c then
      T.eq(a, "reply", "the connected socket gets only its peer's datagram")
      T.eq(from, saddr, "from its peer")
      return true
    end
  end, "four datagrams and a reply")
  table.sort(got)
  T.eq(table.concat(got, ","), "four,one,three,two", "every datagram")
  for _, ev in ipairs(drain(e, 0.1)) do
    T.ok(not (ev[1] == net.DATAGRAM and ev[2] == c), "no stranger's datagram", ev[3])
  end
  T.fails_with(net.E_NOTCONN, "an unconnected socket has no peer", net.peer_addr(s))
end)

test("connected_icmp_error", function()
  local e = T.engine()
  -- A port that was just free: open, learn it, close.
  local gone, gaddr = udp(e)
  local _, gport = net.local_addr(gone)
  net.close(gone)
  T.until_(e, function(t, h) return t == net.CLOSE and h == gone end)
  local c = udp(e, nil, {user = 3})
  T.eq(net.udp_connect(c, "127.0.0.1", gport), true, "connect to a closed port")
  local status, user, extra, oserr
  local deadline = sys.now() + 5
  repeat
    T.eq(net.send(c, "anyone?"), true, "send")
    for t, h, a, u, x, y in e:events(100) do
      if t == net.CLOSE then T.fail("an ICMP error must not close the socket") end
      if t == net.ERROR and h == c then status, user, extra, oserr = a, u, x, y end
    end
  until status or sys.now() > deadline
  T.eq(status, net.E_REFUSED, "ERROR status")
  T.eq(user, 3, "ERROR carries the user data")
  T.ok(extra == nil or extra == gaddr, "ERROR names the peer (when it knows it)", extra)
  T.eq(math.type(oserr), "integer", "os_error")
  -- The socket lives on.
  local s, saddr = udp(e)
  local _, sport = net.local_addr(s)
  T.eq(net.udp_connect(c, "127.0.0.1", sport), true, "connect again, elsewhere")
  T.eq(net.peer_addr(c), saddr, "new peer")
  T.eq(net.send(c, "still here"), true, "send after the error")
  until_udp(e, function(t, h, a) return t == net.DATAGRAM and h == s and a == "still here" end, "the datagram")
end)

test("close_gives_one_close", function()
  local e = T.engine()
  local s, saddr = udp(e)
  local c = udp(e, nil, {user = 12})
  for i = 1, 20 do T.eq(net.sendto(c, saddr, "q" .. i), true, "queue") end
  T.eq(net.close(c), true, "graceful close")
  T.fails_with(net.E_CLOSED, "sendto while closing", net.sendto(c, saddr, "late"))
  local got, closes, status, user = 0, 0, nil, nil
  T.until_(e, function(t, h, a, u)
    if t == net.DATAGRAM and h == s then got = got + 1 end
    if t == net.CLOSE then
      T.eq(h, c, "CLOSE of the closed socket")
      closes, status, user = closes + 1, a, u
    end
    return closes == 1 and got == 20
  end, 5000, "the queued datagrams and CLOSE")
  T.eq(status, 0, "orderly CLOSE")
  T.eq(user, 12, "CLOSE carries the user data")
  for _, ev in ipairs(drain(e, 0.2)) do
    T.ok(ev[2] ~= c, "nothing after CLOSE", ev[1])
  end
  -- abort: CLOSE too, once.
  local a = udp(e)
  for i = 1, 5 do net.sendto(a, saddr, "x" .. i) end
  T.eq(net.abort(a), true, "abort")
  local n = 0
  T.for_a_while(e, 0.3, function(t, h) if t == net.CLOSE and h == a then n = n + 1 end end)
  T.eq(n, 1, "one CLOSE after abort")
  -- The server closes last: nothing open in the stats afterwards.
  T.eq(e:stats().udp_sockets, 1, "one socket left")
  net.close(s)
  T.until_(e, function(t, h) return t == net.CLOSE and h == s end)
  T.eq(e:stats().udp_sockets, 0, "none left")
end)

test("stale_handles", function()
  local e = T.engine()
  local s, saddr = udp(e)
  local c = udp(e)
  net.close(c)
  T.until_(e, function(t, h) return t == net.CLOSE and h == c end)
  local l = assert(e:listen("127.0.0.1", 0))
  local timer = assert(e:timer(100000))
  local bad = {0, 1, -1, 12345, math.maxinteger, math.mininteger, c, c + 1, c + (1 << 32), l, timer}
  for _, h in ipairs(bad) do
    local what = " handle " .. h
    T.fails_with(net.E_BADHANDLE, "sendto" .. what, net.sendto(h, saddr, "x"))
    T.fails_with(net.E_BADHANDLE, "sendto host, port" .. what, net.sendto(h, "127.0.0.1", 9, "x"))
    T.fails_with(net.E_BADHANDLE, "udp_connect" .. what, net.udp_connect(h, "127.0.0.1", 9))
    if h ~= l and h ~= timer then
      T.fails_with(net.E_BADHANDLE, "send" .. what, net.send(h, "x"))
      T.fails_with(net.E_BADHANDLE, "close" .. what, net.close(h))
      T.fails_with(net.E_BADHANDLE, "abort" .. what, net.abort(h))
      T.fails_with(net.E_BADHANDLE, "set_option" .. what, net.set_option(h, "broadcast", true))
      T.fails_with(net.E_BADHANDLE, "get_option" .. what, net.get_option(h, "dropped"))
      T.fails_with(net.E_BADHANDLE, "get_user" .. what, net.get_user(h))
      T.fails_with(net.E_BADHANDLE, "local_addr" .. what, net.local_addr(h))
      T.fails_with(net.E_BADHANDLE, "peer_addr" .. what, net.peer_addr(h))
    end
  end
  -- Handles of a destroyed engine are stale too.
  local e2 = T.engine()
  local u = udp(e2)
  e2:close()
  T.fails_with(net.E_BADHANDLE, "sendto after engine close", net.sendto(u, saddr, "x"))
  T.fails_with(net.E_BADHANDLE, "close after engine close", net.close(u))
  T.raises("engine is closed", e2.udp_open, e2, "127.0.0.1", 0)
  -- The live one is untouched by all this.
  T.eq(net.sendto(s, saddr, "self"), true, "live socket sends to itself")
  until_udp(e, function(t, h, a) return t == net.DATAGRAM and h == s and a == "self" end, "own datagram")
end)

test("bad_arguments", function()
  local e = T.engine()
  local s, saddr = udp(e)
  -- udp_open
  T.raises("bad argument #2 .*string expected", e.udp_open, e, {}, 0)
  T.raises("bad argument #3 .*port out of range", e.udp_open, e, "127.0.0.1", 70000)
  T.raises("bad argument #3 .*port out of range", e.udp_open, e, "127.0.0.1", -1)
  T.raises("bad argument #3 .*number has no integer representation", e.udp_open, e, "127.0.0.1", 1.5)
  -- One string alone is an address, "host:port".
  T.raises("bad argument #2 .*address must be", e.udp_open, e, "127.0.0.1")
  T.raises("bad argument #4 .*table expected", e.udp_open, e, nil, 0, "opts")
  T.raises("bad argument #4 .*unknown field 'max_dgram'", e.udp_open, e, nil, 0, {max_dgram = 1})
  T.raises("bad argument #4 .*field names must be strings", e.udp_open, e, nil, 0, {1})
  T.raises("bad argument #4 .*field 'max_datagram' out of range", e.udp_open, e, nil, 0, {max_datagram = -1})
  T.raises("bad argument #4 .*field 'max_datagram' out of range", e.udp_open, e, nil, 0, {max_datagram = 1 << 40})
  T.raises("bad argument #4 .*field 'max_datagram' must be an integer", e.udp_open, e, nil, 0, {max_datagram = "x"})
  T.raises("bad argument #4 .*field 'send_cap' out of range", e.udp_open, e, nil, 0, {send_cap = math.maxinteger})
  T.raises("bad argument #4 .*field 'rcvbuf' out of range", e.udp_open, e, nil, 0, {rcvbuf = 1 << 31})
  T.raises("bad argument #4 .*field 'sndbuf' out of range", e.udp_open, e, nil, 0, {sndbuf = -1})
  T.raises("bad argument #4 .*field 'broadcast' must be a boolean", e.udp_open, e, nil, 0, {broadcast = 1})
  T.raises("bad argument #4 .*field 'user' must be an integer", e.udp_open, e, nil, 0, {user = "u"})
  T.raises("bad argument #1 .*net%.engine expected", e.udp_open, {}, nil, 0)
  -- What the C fields hold but the library refuses: nil, message, code.
  T.fails_with(net.E_INVAL, "max_datagram over 65507", e:udp_open("127.0.0.1", 0, {max_datagram = 65508}))
  T.fails_with(net.E_ADDR, "unresolvable host", e:udp_open("no such host.invalid", 0))
  -- sendto
  T.raises("bad argument #1 .*number expected, got string", net.sendto, "x", saddr, "d")
  T.raises("bad argument #1 .*number has no integer representation", net.sendto, 0.5, saddr, "d")
  T.raises("bad argument #3 .*string expected, got no value", net.sendto, s, saddr)
  T.raises("bad argument #3 .*string expected, got table", net.sendto, s, saddr, {})
  T.raises("bad argument #2 .*string expected, got table", net.sendto, s, {}, "d")
  for _, a in ipairs{"127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:8a", "127.0.0.1:123456", "[::1", "[::1]",
                     "[]:80", "", "x:-1"} do
    T.raises("bad argument #2 .*address must be", net.sendto, s, a, "d")
  end
  T.raises("bad argument #2 .*port out of range", net.sendto, s, "127.0.0.1:65536", "d")
  T.raises("bad argument #2 .*IPv6 address needs brackets", net.sendto, s, "::1:80", "d")
  T.raises("bad argument #2 .*host name too long", net.sendto, s, string.rep("a", 300) .. ":80", "d")
  T.raises("bad argument #2 .*zero byte", net.sendto, s, "127.0.0.1\0x:80", "d")
  T.raises("bad argument #3 .*port out of range", net.sendto, s, "127.0.0.1", 65536, "d")
  T.raises("bad argument #3 .*number expected", net.sendto, s, "127.0.0.1", {}, "d")
  T.raises("bad argument #2 .*string expected", net.sendto, s, true, 80, "d")
  T.raises("bad argument #4 .*string expected", net.sendto, s, "127.0.0.1", 80, {})
  T.fails_with(net.E_ADDR, "unresolvable name", net.sendto(s, "no such host.invalid:80", "d"))
  T.fails_with(net.E_ADDR, "unresolvable name, host and port", net.sendto(s, "no such host.invalid", 80, "d"))
  -- as net.send on the same socket: not connected, so no peer to send to
  T.fails_with(net.E_NOTCONN, "nil address on an unconnected socket", net.sendto(s, nil, "d"))
  -- udp_connect, addr_parse
  T.raises("bad argument #2 .*string expected", net.udp_connect, s, nil, 80)
  T.raises("bad argument #3 .*port out of range", net.udp_connect, s, "127.0.0.1", 1 << 20)
  T.raises("bad argument #1 .*number expected", net.udp_connect, "s", "127.0.0.1", 80)
  T.fails_with(net.E_ADDR, "udp_connect to a bad name", net.udp_connect(s, "no such host.invalid", 80))
  T.raises("bad argument #2 .*port out of range", net.addr_parse, "127.0.0.1", -3)
  T.raises("bad argument #1 .*string expected", net.addr_parse, nil, 3)
  -- options
  T.raises("bad argument #3", net.set_option, s, "broadcast", "yes")
  T.raises("bad argument #2 .*invalid option 'dropped_'", net.get_option, s, "dropped_")
  T.fails_with(net.E_INVAL, "dropped is read only", net.set_option(s, "dropped", 0))
  T.fails_with(net.E_INVAL, "max_datagram 0", net.set_option(s, "max_datagram", 0))
  T.fails_with(net.E_INVAL, "max_datagram 65508", net.set_option(s, "max_datagram", 65508))
  T.fails_with(net.E_INVAL, "max_datagram huge", net.set_option(s, "max_datagram", math.maxinteger))
  for _, name in ipairs{"nodelay", "keepalive", "linger", "highwater", "lowwater", "idle_timeout"} do
    T.fails_with(net.E_INVAL, name .. " on UDP", net.set_option(s, name, 1))
  end
  -- After all of it the socket still works.
  T.eq(net.sendto(s, saddr, "fine"), true, "sendto")
  until_udp(e, function(t, h, a) return t == net.DATAGRAM and h == s and a == "fine" end, "own datagram")
end)

test("options_and_stats", function()
  local e = T.engine()
  local s = udp(e, nil, {max_datagram = 1000, send_cap = 5000, rcvbuf = 65536, sndbuf = 65536,
    broadcast = true, reuseaddr = true, user = 42})
  T.eq(net.get_user(s), 42, "user from the options")
  T.eq(net.get_option(s, "max_datagram"), 1000, "max_datagram")
  T.eq(net.get_option(s, "send_cap"), 5000, "send_cap")
  T.eq(net.get_option(s, "broadcast"), true, "broadcast")
  T.eq(net.get_option(s, "reuseaddr"), true, "reuseaddr")
  T.ok(net.get_option(s, "rcvbuf") >= 65536, "rcvbuf at least what was asked")
  T.ok(net.get_option(s, "sndbuf") >= 65536, "sndbuf at least what was asked")
  T.eq(net.set_option(s, "broadcast", false), true, "broadcast off")
  T.eq(net.get_option(s, "broadcast"), false, "broadcast is off")
  T.eq(net.set_option(s, "send_cap", 123456), true, "send_cap")
  T.eq(net.get_option(s, "send_cap"), 123456, "send_cap set")
  local plain = udp(e)
  T.eq(net.get_option(plain, "broadcast"), false, "broadcast off by default")
  T.eq(net.get_option(plain, "max_datagram"), net.UDP_MAX_PAYLOAD, "max_datagram default")
  T.eq(net.UDP_MAX_PAYLOAD, 65507, "UDP_MAX_PAYLOAD")

  local before = e:stats()
  for _, k in ipairs{"udp_sockets", "datagrams_in", "datagrams_out", "datagrams_dropped", "datagram_send_errors"} do
    T.eq(math.type(before[k]), "integer", "stats." .. k)
  end
  T.eq(before.udp_sockets, 2, "two sockets open")
  local paddr = net.local_addr(plain)
  for i = 1, 10 do T.eq(net.sendto(s, paddr, "n" .. i), true, "send") end
  local n = 0
  until_udp(e, function(t, h) if t == net.DATAGRAM and h == plain then n = n + 1 end return n == 10 end, "ten")
  local after = e:stats()
  T.eq(after.datagrams_in - before.datagrams_in, 10, "datagrams_in")
  T.eq(after.datagrams_out - before.datagrams_out, 10, "datagrams_out")
  T.eq(after.datagram_send_errors, 0, "no send errors")
end)

test("send_queue_full", function()
  local e = T.engine()
  local r = udp(e, nil, {rcvbuf = 1 << 20})
  local raddr = net.local_addr(r)
  -- The cap counts each datagram's payload plus 64 bytes.
  local s = udp(e, nil, {send_cap = 1000})
  -- A datagram that could never fit, even in an empty queue: waiting would not help.
  T.fails_with(net.E_MSGSIZE, "937 + 64 bytes over a cap of 1000", net.sendto(s, raddr, bytes(937, 1)))
  T.eq(net.sendto(s, raddr, bytes(936, 2)), true, "936 + 64 fits exactly")
  if T.io_threads == 0 then
    -- Nothing is sent before the next poll: the queue is still full.
    T.fails_with(net.E_WOULDBLOCK, "the queue is full", net.sendto(s, raddr, ""))
  end
  T.until_(e, function(t, h, a) return t == net.DATAGRAM and h == r and a == bytes(936, 2) end, 5000, "the one queued")
  T.eq(net.send_queued(s), 0, "queue empty again")
  T.eq(net.sendto(s, raddr, bytes(936, 3)), true, "room again")
  -- A burst far past the cap: refused, never blocking or growing; all
  -- that was accepted goes out.
  T.eq(net.set_option(s, "send_cap", 4096), true, "send_cap")
  local ok = 1
  for i = 1, 200 do
    local v, _, code = net.sendto(s, raddr, bytes(1000, i))
    if v then ok = ok + 1 else T.eq(code, net.E_WOULDBLOCK, "a full queue") end
  end
  local n = 0
  T.until_(e, function(t, h) if t == net.DATAGRAM and h == r then n = n + 1 end return n == ok end, 5000,
    "every accepted datagram")
end)

test("poll_into", function()
  local e = T.engine()
  local s, saddr = udp(e)
  T.eq(net.sendto(s, saddr, "into"), true, "send")
  local types, handles, args, users = {}, {}, {}, {}
  local deadline = sys.now() + 5
  while sys.now() < deadline do
    local n = e:poll_into(types, handles, args, users, 20)
    for i = 1, n do
      if types[i] == net.DATAGRAM then
        T.eq(handles[i], s, "handle")
        T.eq(args[i], "into", "payload in args")
        return
      end
    end
  end
  T.fail("no DATAGRAM through poll_into")
end)

return tests
