-- test_echo.lua - echo in every framing, gathered sends, the exact bytes
-- the framings put on the wire, and payloads that outlive their poll.
local net = require "net"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

-- Deterministic bytes of length n (seeded by k).
local function bytes(n, k)
  local t = {}
  for i = 1, n do t[i] = string.char((i * 31 + k * 7) % 256) end
  return table.concat(t)
end

-- Sends msgs from c, echoes them at the server side, returns what c got
-- back: a list of messages (framed) or the whole stream (raw).
local function echo_run(e, c, msgs, raw, total_len)
  for _, m in ipairs(msgs) do T.eq(net.send(c, m), true, "send") end
  local got, stream, n = {}, {}, 0
  T.until_(e, function(t, h, a)
    if t == net.DATA then
      if h ~= c then
        T.eq(net.send(h, a), true, "echo")
      elseif raw then
        stream[#stream + 1] = a
        n = n + #a
        return n >= total_len
      else
        got[#got + 1] = a
        return #got == #msgs
      end
    elseif t == net.CLOSE then
      T.fail("unexpected CLOSE: " .. net.strerror(a))
    end
  end, 10000, "echoes")
  return raw and table.concat(stream) or got
end

local framings = {
  {"u16le", false, 60000}, {"u16le", true, 60000}, {"u16be", false, 60000}, {"u16be", true, 60000},
  {"u32le", false, 300000}, {"u32le", true, 300000}, {"u32be", false, 300000}, {"u32be", true, 300000},
}

for _, f in ipairs(framings) do
  local framing, incl, big = f[1], f[2], f[3]
  test("framed_" .. framing .. (incl and "_incl" or ""), function()
    local e = T.engine()
    local opts = {framing = framing, length_includes_header = incl}
    local _, c = T.pair(e, opts)
    local msgs = {"", "a", "hello", bytes(1000, 1), bytes(big, 2), bytes(3, 3)}
    for i = 1, 200 do msgs[#msgs + 1] = bytes(i % 50 + 1, i) end
    local got = echo_run(e, c, msgs)
    T.eq(#got, #msgs, "message count")
    for i = 1, #msgs do T.eq(got[i], msgs[i], "message " .. i) end
  end)
end

test("raw_stream", function()
  local e = T.engine()
  local _, c = T.pair(e, {framing = "raw"})
  local msgs, total = {}, 0
  for i = 1, 100 do
    msgs[i] = bytes(i * 37, i)
    total = total + #msgs[i]
  end
  msgs[#msgs + 1] = bytes(500000, 9)
  total = total + 500000
  local stream = echo_run(e, c, msgs, true, total)
  T.eq(stream, table.concat(msgs), "the stream comes back whole and in order")
end)

test("gathered_send", function()
  local e = T.engine()
  local _, c = T.pair(e, {framing = "u16le"})
  local pieces = {}
  for i = 1, 20 do pieces[i] = bytes(i, i) end
  T.eq(net.send(c, "ab", "", "cde"), true, "three pieces")
  T.eq(net.send(c, table.unpack(pieces)), true, "twenty pieces (more than fit on the C stack)")
  T.eq(net.send(c, 12, 3.5), true, "numbers are sent as their text, like io.write")
  local got = {}
  T.until_(e, function(t, h, a)
    if t == net.DATA and h ~= c then got[#got + 1] = a end
    return #got == 3
  end)
  T.eq(got[1], "abcde", "one message of three pieces")
  T.eq(got[2], table.concat(pieces), "one message of twenty pieces")
  T.eq(got[3], "123.5", "numbers")
end)

-- The server frames with the seeds' u16 size including the header; a raw
-- client sees exactly those bytes, and its hand-made frames are understood.
test("wire_format", function()
  local cases = {
    {{framing = "u16le", length_includes_header = true}, "<I2", 2},
    {{framing = "u16le"}, "<I2", 0},
    {{framing = "u16be"}, ">I2", 0},
    {{framing = "u32le", length_includes_header = true}, "<I4", 4},
    {{framing = "u32be"}, ">I4", 0},
  }
  for _, case in ipairs(cases) do
    local e = T.engine()
    local opts, fmt, extra = case[1], case[2], case[3]
    local _, c, s = T.pair(e, opts, {framing = "raw"})
    T.eq(net.send(s, "hello"), true, "framed send")
    local want = string.pack(fmt, 5 + extra) .. "hello"
    local got = ""
    T.until_(e, function(t, h, a)
      if t == net.DATA and h == c then got = got .. a end
      return #got >= #want
    end)
    T.eq(got, want, "bytes on the wire for " .. opts.framing)
    -- Two frames in one raw write arrive as two messages.
    T.eq(net.send(c, string.pack(fmt, 2 + extra) .. "hi" .. string.pack(fmt, 0 + extra)), true, "raw send")
    local msgs = {}
    T.until_(e, function(t, h, a)
      if t == net.DATA and h == s then msgs[#msgs + 1] = a end
      return #msgs == 2
    end)
    T.eq(msgs[1], "hi", "first frame")
    T.eq(msgs[2], "", "empty frame")
    e:close()
  end
end)

test("payloads_outlive_the_poll", function()
  local e = T.engine()
  local _, c = T.pair(e, {framing = "u32le"})
  local kept = {}
  for i = 1, 50 do net.send(c, bytes(4096, i)) end
  T.until_(e, function(t, h, a)
    if t == net.DATA and h ~= c then kept[#kept + 1] = a end
    return #kept == 50
  end)
  -- More polls recycle the engine's buffers; the strings stay intact.
  for i = 1, 50 do net.send(c, bytes(4096, 100 + i)) end
  local n = 0
  T.until_(e, function(t, h) if t == net.DATA and h ~= c then n = n + 1 end return n == 50 end)
  for i = 1, 50 do T.eq(kept[i], bytes(4096, i), "payload " .. i) end
end)

test("max_message", function()
  local e = T.engine()
  local _, c, s = T.pair(e, {framing = "u16le", max_message = 100})
  T.fails_with(net.E_MSGSIZE, "send over max_message", net.send(c, string.rep("x", 101)))
  T.eq(net.send(c, string.rep("x", 100)), true, "send at max_message")
  T.until_(e, function(t, h, a) return t == net.DATA and h == s and #a == 100 end)
end)

return tests
