-- test_names.lua - every public function, called with a wrong type in each
-- argument, raises "bad argument #N to 'name'" with its real name and the
-- right N, however it is called: directly, through a computed key or an
-- alias (where Lua itself would say '?' or the alias), or through pcall.
-- Methods count as Lua counts them: e:listen(...) does not count self,
-- e.listen(e, ...) does. A closed engine raises naming the method.
local net = require "net"
local sys = require "net.sys"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

-- A wrong value for each kind of argument (nil is not wrong for optional ones).
local BAD = {int = "x", str = {}, tab = "x", opt = {}}

-- Module functions: name, valid arguments, the kind of each argument.
local functions = {
  {"strerror", {-1}, {"int"}},
  {"event_name", {3}, {"int"}},
  {"engine", {{}}, {"tab"}},
  {"send", {1, "a"}, {"int", "str"}},
  {"send", {1, "a", "b", "c"}, {"int", "str", "str", "str"}},
  {"broadcast", {{1}, "x", 1, {}}, {"tab", "str", "int", "tab"}},
  {"close", {1}, {"int"}},
  {"abort", {1}, {"int"}},
  {"shutdown", {1}, {"int"}},
  {"set_user", {1, 5}, {"int", "int"}},
  {"get_user", {1}, {"int"}},
  {"set_option", {1, "nodelay", true}, {"int", "opt", "opt"}},
  {"get_option", {1, "sndbuf"}, {"int", "opt"}},
  {"local_addr", {1}, {"int"}},
  {"peer_addr", {1}, {"int"}},
  {"send_queued", {1}, {"int"}},
  {"udp_connect", {1, "127.0.0.1:9"}, {"int", "str"}},
  {"udp_connect", {1, "127.0.0.1", 9}, {"int", "str", "int"}},
  {"sendto", {1, "127.0.0.1:9", "d"}, {"int", "str", "str"}},
  {"sendto", {1, "127.0.0.1", 9, "d"}, {"int", "str", "int", "str"}},
  {"addr_parse", {"127.0.0.1:9"}, {"str"}},
  {"addr_parse", {"127.0.0.1", 9}, {"str", "int"}},
}

local sys_functions = {
  {"catch", {"INT"}, {"str"}},
}

-- Engine methods: name, valid arguments after self, their kinds.
local methods = {
  {"listen", {nil, 0, {}}, {"str", "int", "tab"}},
  {"connect", {"127.0.0.1", 1, {}}, {"str", "int", "tab"}},
  {"udp_open", {nil, 0, {}}, {"str", "int", "tab"}},
  {"timer", {10, 0, 0}, {"int", "int", "int"}},
  {"post", {1}, {"int"}},
  {"stats", {{}}, {"tab"}},
  {"poll", {0, 1}, {"int", "int"}},
  {"events", {0, 1}, {"int", "int"}},
  {"poll_into", {{}, {}, {}, {}, 0, 1}, {"tab", "tab", "tab", "tab", "int", "int"}},
}
local no_arg_methods = {"close", "backend", "wakeup", "next"}

local function all_method_names()
  local names = {}
  for _, case in ipairs(methods) do names[#names + 1] = case[1] end
  for _, name in ipairs(no_arg_methods) do names[#names + 1] = name end
  return names
end

local function with(args, n, i, v)
  local copy = table.move(args, 1, n, 1, {})
  copy[i] = v
  return copy
end

-- pcall(f) must fail with "bad argument #n to 'name' (...)".
local function expect(n, name, what, ok, err)
  T.ok(not ok, what .. ": raises")
  local pattern = "bad argument #" .. n .. " to '" .. name:gsub("%.", "%%.") .. "' %("
  if not tostring(err):find(pattern) then
    T.fail(string.format("%s: %q does not name #%d to '%s'", what, tostring(err), n, name), 2)
  end
end

test("module_functions_name_themselves", function()
  local checked = 0
  for _, case in ipairs(functions) do
    local name, args, kinds = case[1], case[2], case[3]
    local f = net[name]
    for i, kind in ipairs(kinds) do
      local bad = with(args, #kinds, i, BAD[kind])
      local what = string.format("net.%s with argument %d a %s", name, i, type(BAD[kind]))
      -- a computed key: Lua's own message would say '?'
      expect(i, "net." .. name, what, pcall(function() return net[name](table.unpack(bad, 1, #kinds)) end))
      -- an alias: Lua's own message would say 'f'
      expect(i, "net." .. name, what .. " (alias)", pcall(function() return f(table.unpack(bad, 1, #kinds)) end))
      expect(i, "net." .. name, what .. " (pcall)", pcall(f, table.unpack(bad, 1, #kinds)))
      checked = checked + 1
    end
  end
  for _, case in ipairs(sys_functions) do
    local name, args, kinds = case[1], case[2], case[3]
    for i, kind in ipairs(kinds) do
      local bad = with(args, #kinds, i, BAD[kind])
      expect(i, "net.sys." .. name, "net.sys." .. name, pcall(sys[name], table.unpack(bad, 1, #kinds)))
      checked = checked + 1
    end
  end
  T.ok(checked >= 40, "every argument of every function", checked)
end)

test("methods_name_themselves", function()
  local e = T.engine()
  for _, case in ipairs(methods) do
    local name, args, kinds = case[1], case[2], case[3]
    for i, kind in ipairs(kinds) do
      local bad = with(args, #kinds, i, BAD[kind])
      local what = string.format("e:%s with argument %d a %s", name, i, type(BAD[kind]))
      -- e:name(...): a method call does not count self
      expect(i, name, what, pcall(load("local e, t, n = ... return e:" .. name .. "(table.unpack(t, 1, n))"),
        e, bad, #kinds))
      -- e[name](e, ...) and pcall(e.name, e, ...): self is argument #1
      expect(i + 1, name, what .. " (computed key)",
        pcall(function() return e[name](e, table.unpack(bad, 1, #kinds)) end))
      expect(i + 1, name, what .. " (pcall)", pcall(e[name], e, table.unpack(bad, 1, #kinds)))
    end
  end
  -- A wrong self, for every method.
  for _, name in ipairs(all_method_names()) do
    local ok, err = pcall(e[name], {})
    expect(1, name, "e." .. name .. "({})", ok, err)
    T.ok(err:find("net%.engine expected, got table"), "says what self must be", err)
  end
end)

test("sendto_blames_the_data", function()
  local e = T.engine()
  local u = assert(e:udp_open("127.0.0.1", 0))
  expect(4, "net.sendto", "nil data after host, port", pcall(net.sendto, u, "127.0.0.1", 9, nil))
  expect(4, "net.sendto", "no data after host, port", pcall(net.sendto, u, "127.0.0.1", 9))
  expect(3, "net.sendto", "nil data after an address", pcall(net.sendto, u, "127.0.0.1:9", nil))
end)

test("closed_engine_raises_naming_the_call", function()
  local e = net.engine{io_threads = T.io_threads}
  T.eq(e:close(), true, "close")
  T.eq(e:close(), true, "closing again does nothing")
  local args_of = {}
  for _, case in ipairs(methods) do args_of[case[1]] = case end
  for _, name in ipairs(all_method_names()) do
    local case = args_of[name] or {name, {}, {}}
    if name ~= "close" then
      local ok, err = pcall(function() return e[name](e, table.unpack(case[2], 1, #case[3])) end)
      T.ok(not ok, name .. " after close raises")
      T.ok(tostring(err):find("engine is closed: '" .. name .. "' called after close%(%)"), name, err)
    end
  end
  T.ok(tostring(e):find("closed"), "tostring says closed")
  -- <close>: the scope's end closes it; an explicit close before is fine.
  local kept
  do
    local s <close> = net.engine{io_threads = T.io_threads}
    kept = s
    T.ok(s:backend(), "open inside its scope")
  end
  T.raises("engine is closed: 'poll' called after close", kept.poll, kept, 0)
  do
    local s <close> = net.engine{io_threads = T.io_threads}
    s:close()
  end
end)

test("events_print_by_name", function()
  for _, name in ipairs{"ACCEPT", "CONNECT", "DATA", "CLOSE", "SEND_HIGHWATER", "SEND_DRAINED", "TIMER", "USER",
                        "DATAGRAM", "ERROR", "EOF"} do
    T.eq(net.event_name(net[name]), name, "event_name of net." .. name)
  end
  T.eq(net.event_name(0), nil, "no name for 0")
  T.eq(net.event_name(999), nil, "no name for an unknown type")
  local e = T.engine()
  e:post(7)
  local seen
  for t in e:events(1000) do
    seen = net.event_name(t)
    break
  end
  T.eq(seen, "USER", "a polled event's name")
end)

return tests
