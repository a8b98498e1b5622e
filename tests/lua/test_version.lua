-- test_version.lua - one version: net.version() (the loaded libnet), the
-- module's net._VERSION, the rockspec's file name and its version field
-- all equal the project's (project(net VERSION ...), printed by
-- scripts/project-version; CMake hands it over as NET_PROJECT_VERSION).
local net = require "net"
local T = require "lt"

local tests = {}
local function test(name, fn) tests[#tests + 1] = {name, fn} end

local function project_version()
  local code, out = T.run("bash " .. T.root .. "scripts/project-version")
  T.eq(code, 0, "scripts/project-version runs")
  local v = out:match("^(%d+%.%d+%.%d+)%s*$")
  T.ok(v, "scripts/project-version prints x.y.z", out)
  local from_cmake = os.getenv("NET_PROJECT_VERSION")
  if from_cmake then T.eq(from_cmake, v, "the version CMake configured with") end
  return v
end

test("library_and_module", function()
  local v = project_version()
  local s, n = net.version()
  T.eq(s, v, "net.version()")
  local major, minor, patch = v:match("^(%d+)%.(%d+)%.(%d+)$")
  T.eq(n, (tonumber(major) << 16) | (tonumber(minor) << 8) | tonumber(patch), "net.version()'s number")
  T.eq(net._VERSION, v, "net._VERSION")
end)

test("rockspec", function()
  local v = project_version()
  local dir = T.root .. "bindings/lua/"
  local code, out = T.run("ls " .. dir)
  T.eq(code, 0, "list bindings/lua")
  local specs = {}
  for name in out:gmatch("[^\n]+") do
    if name:find("%.rockspec$") then specs[#specs + 1] = name end
  end
  T.eq(table.concat(specs, " "), "net-" .. v .. "-1.rockspec", "the one rockspec carries the version in its name")
  -- A rockspec is Lua assignments: load it into an empty table.
  local spec = {}
  local chunk = assert(loadfile(dir .. specs[1], "t", spec))
  chunk()
  T.eq(spec.package, "net", "package")
  T.eq(spec.version, v .. "-1", "version field")
  T.eq(spec.description.license, "MIT", "license")
  T.eq(spec.build.type, "cmake", "built with CMake")
end)

return tests
