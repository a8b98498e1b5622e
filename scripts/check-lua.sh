#!/usr/bin/env bash
# check-lua.sh [native-build-dir] - the Lua binding as a user installs it.
#
#   1. one version: scripts/project-version, the rockspec's file name and
#      version field, and (below) net.version() of every installed module;
#   2. `luarocks lint` of the rockspec;
#   3. `luarocks make` into a temporary tree, from this source tree with
#      CMake (no network), then `require "net"` from that tree with
#      LD_LIBRARY_PATH unset: a loopback echo, and one through
#      `require "net.co"` (the pure-Lua module the rock installs beside);
#      `luarocks pack` of the result;
#   4. `cmake --install` of a Release build into a temporary prefix, then
#      LUA_CPATH=<prefix>/lib/lua/5.4/?.so, LUA_PATH=<prefix>/share/lua/5.4/?.lua:
#      the same echoes;
#   5. Debian's unrelated libnet1-dev (it ships a libnet.so) is installed,
#      and every module above, and the native build's, maps *our* libnet
#      (read from /proc/self/maps inside the Lua process).
# Exits non-zero on the first failure; temporary folders are removed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
native=${1:-build}
case $native in /*) ;; *) native=$root/$native ;; esac
lua=${LUA:-lua5.4}
export LUAROCKS_CONFIG=/dev/null # no user or system rock servers: nothing to fetch

step() { printf '\n== check-lua: %s\n' "$*"; }
fail() {
  echo "check-lua: FAIL: $*" >&2
  exit 1
}

tmp=$(mktemp -d)
rock_build=$root/bindings/lua/build.luarocks
had_rock_build=0
[ -e "$rock_build" ] && had_rock_build=1
cleanup() {
  rm -rf "$tmp"
  # luarocks builds in the rockspec's folder; leave it as it was.
  if [ "$had_rock_build" = 0 ]; then rm -rf "$rock_build"; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- 1. version
step "one version"
version=$(bash "$root/scripts/project-version")
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "scripts/project-version printed '$version'"
rockspec=$root/bindings/lua/net-$version-1.rockspec
specs=$(cd "$root/bindings/lua" && ls ./*.rockspec)
[ "$specs" = "./net-$version-1.rockspec" ] || fail "bindings/lua has '$specs', want only net-$version-1.rockspec"
grep -qx "version = \"$version-1\"" "$rockspec" || fail "$rockspec: version field is not \"$version-1\""
echo "project $version, rockspec $(basename "$rockspec")"

# A Lua probe: loads net, checks its version, lists the libnet files the
# process mapped (each must lie under the expected folder), echoes a message
# over TCP loopback and prints what it did.
probe=$tmp/probe.lua
cat >"$probe" <<'EOF'
local want_version, want_dir = arg[1], arg[2]
local net = require "net"
assert(net.version() == want_version, "net.version() " .. net.version() .. ", want " .. want_version)
local mapped = {}
for line in io.lines("/proc/self/maps") do
  local path = line:match("%s(/%S*/libnet[^/]*)$")
  if path and not mapped[path] then
    mapped[path] = true
    assert(path:sub(1, #want_dir + 1) == want_dir .. "/", "mapped " .. path .. ", not under " .. want_dir)
    print("libnet mapped: " .. path)
  end
end
assert(next(mapped), "no libnet mapped")
local e <close> = assert(net.engine())
local l = assert(e:listen("127.0.0.1:0"))
local c = assert(e:connect(net.local_addr(l)))
local reply
for t, h, a in e:events(5000) do
  if t == net.CONNECT then assert(a == 0, "connect failed") net.send(c, "ping")
  elseif t == net.DATA and h ~= c then net.send(h, a)
  elseif t == net.DATA then reply = a break end
end
assert(reply == "ping", "no echo")
print("echo over " .. e:backend() .. ": " .. reply .. " (net " .. net.version() .. ", " ..
  package.searchpath("net", package.cpath) .. ")")
-- require "net.co": from the same install (want_lua_dir), an echo in coroutines.
local want_lua_dir = arg[3]
local co_path = assert(package.searchpath("net.co", package.path), "net.co not found on package.path")
assert(co_path:sub(1, #want_lua_dir + 1) == want_lua_dir .. "/", "net.co from " .. co_path .. ", not " .. want_lua_dir)
local co = require "net.co"
local l2 = assert(co.listen(e, "127.0.0.1:0", function(sock) sock:write(sock:read()) end))
local co_reply
co.spawn(e, function()
  local s = assert(co.connect(e, net.local_addr(l2)))
  s:write("co ping")
  co_reply = s:read(5)
  net.close(l2)
end)
assert(co.run(e, 5) == "done" and co_reply == "co ping", "no echo through net.co")
print("echo through net.co: " .. co_reply .. " (" .. co_path .. ")")
EOF

# ---------------------------------------------------------------- 5. libnet1-dev
step "Debian's libnet1-dev is installed (its libnet.so must not be loaded)"
dpkg-query -W -f='${Status}' libnet1-dev 2>/dev/null | grep -q "install ok installed" ||
  fail "libnet1-dev is not installed: run scripts/install-deps.sh"
# Read whole before grep (pipefail: an early-exiting reader can SIGPIPE the writer).
debian_files="$(dpkg -L libnet1-dev)" || fail "dpkg -L libnet1-dev"
debian_libnet=$(grep -m1 '/libnet\.so$' <<<"$debian_files" || true)
[ -n "$debian_libnet" ] || fail "libnet1-dev ships no libnet.so?"
echo "Debian's: $debian_libnet -> $(readlink -f "$debian_libnet")"

# The native build's module, when there is one, maps the build's libnet.
if [ -f "$native/bindings/lua/net.so" ]; then
  env -u LD_LIBRARY_PATH LUA_CPATH="$native/bindings/lua/?.so" LUA_PATH="$native/bindings/lua/?.lua" \
    "$lua" "$probe" "$version" "$native" "$native/bindings/lua" ||
    fail "the native build's module ($native/bindings/lua/net.so)"
else
  echo "(no $native/bindings/lua/net.so: the native build's module is not checked)"
fi

# ---------------------------------------------------------------- 2, 3. luarocks
step "luarocks lint"
luarocks --lua-version 5.4 lint "$rockspec"

step "luarocks make into a temporary tree"
tree=$tmp/tree
(cd "$root/bindings/lua" && nice luarocks --lua-version 5.4 make --tree "$tree" "$(basename "$rockspec")") \
  >"$tmp/luarocks.log" 2>&1 || { cat "$tmp/luarocks.log"; fail "luarocks make"; }
grep "is now installed" "$tmp/luarocks.log"
cmod=$tree/lib/lua/5.4
[ -f "$cmod/net.so" ] && [ -f "$cmod/libnet.so.0" ] || fail "the tree lacks net.so or libnet.so.0 in $cmod"
[ -f "$tree/share/lua/5.4/net/co.lua" ] || fail "the tree lacks share/lua/5.4/net/co.lua"
(
  unset LD_LIBRARY_PATH LUA_CPATH LUA_PATH LUA_CPATH_5_4 LUA_PATH_5_4
  eval "$(luarocks --lua-version 5.4 --tree "$tree" path)"
  "$lua" "$probe" "$version" "$cmod" "$tree/share/lua/5.4"
) || fail "require \"net\" and \"net.co\" from the luarocks tree"

step "luarocks pack of the built rock"
(cd "$tmp" && luarocks --lua-version 5.4 pack net "$version-1" --tree "$tree" >/dev/null) || fail "luarocks pack"
rock=$(ls "$tmp"/net-"$version"-1.*.rock)
contents=$(unzip -Z1 "$rock") # unzip comes with luarocks
for f in lib/net.so lib/libnet.so.0 lua/net/co.lua "net-$version-1.rockspec"; do
  grep -qx "$f" <<<"$contents" || fail "$(basename "$rock") lacks $f"
done
echo "$(basename "$rock"): $(tr '\n' ' ' <<<"$contents")"

# ---------------------------------------------------------------- 4. cmake --install
step "cmake --install of a Release build into a temporary prefix"
cmake -S "$root" -B "$tmp/release" -DCMAKE_BUILD_TYPE=Release -DNET_BUILD_TESTS=OFF -DNET_BUILD_SAMPLES=OFF \
  -DNET_BUILD_BENCH=OFF -DCMAKE_INSTALL_LIBDIR=lib >/dev/null
nice cmake --build "$tmp/release" -j2 >/dev/null
prefix=$tmp/prefix
cmake --install "$tmp/release" --prefix "$prefix" >/dev/null
[ -f "$prefix/lib/lua/5.4/net.so" ] || fail "no $prefix/lib/lua/5.4/net.so"
[ -e "$prefix/lib/libnet.so.0" ] ||
  fail "cmake --install put no libnet.so.0 in $prefix/lib (the top-level install rules install the library)"
runpath=$(readelf -d "$prefix/lib/lua/5.4/net.so" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
[ "$runpath" = '$ORIGIN/../..' ] || fail "installed net.so has RUNPATH '$runpath', want \$ORIGIN/../.."
dynamic="$(readelf -d "$prefix/lib/lua/5.4/net.so")" || fail "readelf net.so"
grep -q 'NEEDED.*\[libnet\.so\.0\]' <<<"$dynamic" || fail "net.so does not need libnet.so.0"
[ -f "$prefix/share/lua/5.4/net/co.lua" ] || fail "no $prefix/share/lua/5.4/net/co.lua"
env -u LD_LIBRARY_PATH LUA_CPATH="$prefix/lib/lua/5.4/?.so" LUA_PATH="$prefix/share/lua/5.4/?.lua" \
  "$lua" "$probe" "$version" "$prefix/lib" "$prefix/share/lua/5.4" ||
  fail "require \"net\" and \"net.co\" from the installed prefix"

# Debian's default search path for lua5.4 (where --prefix /usr/local puts it).
"$lua" -e 'assert(package.cpath:find("/usr/local/lib/lua/5.4/?.so", 1, true), package.cpath)' ||
  fail "lua5.4's package.cpath lacks /usr/local/lib/lua/5.4"
"$lua" -e 'assert(package.path:find("/usr/local/share/lua/5.4/?.lua", 1, true), package.path)' ||
  fail "lua5.4's package.path lacks /usr/local/share/lua/5.4"

step "ok: net $version from luarocks and from cmake --install, with Debian's libnet1-dev beside it"
