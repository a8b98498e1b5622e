/*
 * largs.c - argument checks whose errors name the real function.
 *
 * luaL_argerror takes the function's name from the call site: a call
 * through pcall, a local alias or a method table not in package.loaded
 * gives "bad argument #2 to '?'" or the alias's name. The binding records
 * the name of every function it registers (a registry table, function ->
 * name) and its checks raise with that name, so the message always says
 * 'net.send' or 'listen'. Arguments are counted as luaL_argerror counts
 * them: a method call (e:listen(...)) does not count self, so the first
 * argument after the colon is #1, as in Lua's own messages for f:write().
 */
#include <string.h>

#include "lnet.h"

/* Registry key of the function -> name table (its address is unique). */
static const char names_key = 'n';

void lnet_name_functions(lua_State *L, int idx, const char *prefix)
{
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &names_key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &names_key);
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_iscfunction(L, -1)) {
            lua_pushfstring(L, "%s%s", prefix, lua_tostring(L, -2));
            lua_rawset(L, -4); /* names[function] = prefix .. key */
        } else {
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

void lnet_name_function(lua_State *L, int idx, const char *name)
{
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, name);
    lnet_name_functions(L, -1, "");
    lua_pop(L, 1);
}

const char *lnet_function_name(lua_State *L, int *is_method)
{
    lua_Debug ar;
    const char *name = "?";
    *is_method = 0;
    if (!lua_getstack(L, 0, &ar))
        return name;
    lua_getinfo(L, "nf", &ar); /* pushes the running function */
    *is_method = ar.namewhat && strcmp(ar.namewhat, "method") == 0;
    if (ar.name)
        name = ar.name;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &names_key);
    if (lua_istable(L, -1)) {
        lua_pushvalue(L, -2);
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TSTRING)
            name = lua_tostring(L, -1); /* stays on the stack */
    }
    return name;
}

int lnet_argerror(lua_State *L, int arg, const char *msg)
{
    int is_method;
    const char *name = lnet_function_name(L, &is_method);
    if (is_method)
        arg--;
    if (arg == 0)
        return luaL_error(L, "calling '%s' on bad self (%s)", name, msg);
    return luaL_error(L, "bad argument #%d to '%s' (%s)", arg, name, msg);
}

int lnet_typeerror(lua_State *L, int arg, const char *tname)
{
    const char *got;
    if (luaL_getmetafield(L, arg, "__name") == LUA_TSTRING)
        got = lua_tostring(L, -1);
    else if (lua_type(L, arg) == LUA_TLIGHTUSERDATA)
        got = "light userdata";
    else
        got = luaL_typename(L, arg);
    return lnet_argerror(L, arg, lua_pushfstring(L, "%s expected, got %s", tname, got));
}

lua_Integer lnet_checkinteger(lua_State *L, int arg)
{
    int isnum;
    lua_Integer v = lua_tointegerx(L, arg, &isnum);
    if (!isnum) {
        if (lua_isnumber(L, arg))
            lnet_argerror(L, arg, "number has no integer representation");
        else
            lnet_typeerror(L, arg, "number");
    }
    return v;
}

lua_Integer lnet_optinteger(lua_State *L, int arg, lua_Integer def)
{
    return lua_isnoneornil(L, arg) ? def : lnet_checkinteger(L, arg);
}

const char *lnet_checklstring(lua_State *L, int arg, size_t *len)
{
    const char *s = lua_tolstring(L, arg, len);
    if (!s)
        lnet_typeerror(L, arg, "string");
    return s;
}

const char *lnet_optstring(lua_State *L, int arg)
{
    return lua_isnoneornil(L, arg) ? NULL : lnet_checklstring(L, arg, NULL);
}

void lnet_checktype(lua_State *L, int arg, int t)
{
    if (lua_type(L, arg) != t)
        lnet_typeerror(L, arg, lua_typename(L, t));
}

int lnet_checkoption(lua_State *L, int arg, const char *const names[])
{
    const char *name = lnet_checklstring(L, arg, NULL);
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return lnet_argerror(L, arg, lua_pushfstring(L, "invalid option '%s'", name));
}

uint16_t lnet_check_port(lua_State *L, int arg)
{
    lua_Integer port = lnet_checkinteger(L, arg);
    if (port < 0 || port > 65535)
        lnet_argerror(L, arg, "port out of range");
    return (uint16_t)port;
}

int lnet_opt_uint_field(lua_State *L, int arg, int idx, const char *name, lua_Integer max, uint32_t *out)
{
    int isnum;
    lua_Integer v = lua_tointegerx(L, idx, &isnum);
    if (!isnum)
        return lnet_argerror(L, arg, lua_pushfstring(L, "field '%s' must be an integer", name));
    if (v < 0 || v > max)
        return lnet_argerror(L, arg, lua_pushfstring(L, "field '%s' out of range", name));
    *out = (uint32_t)v;
    return 0;
}
