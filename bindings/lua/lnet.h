/*
 * lnet.h - what the files of the Lua binding share. Private to bindings/lua.
 */
#ifndef LNET_H
#define LNET_H

#include <lauxlib.h>
#include <lua.h>

#include "net.h"

#define LNET_ENGINE_MT "net.engine"

#if defined(_WIN32)
#    define LNET_EXPORT __declspec(dllexport)
#else
#    define LNET_EXPORT __attribute__((visibility("default")))
#endif

/* Pushes nil, net_strerror(code), code: the binding's runtime-failure shape. */
int lnet_fail(lua_State *L, int code);

/* The two success shapes of a call returning rc: true, or the integer v (a
 * handle, a count) when rc >= 0; else lnet_fail's. v is passed whatever rc
 * is, so callers initialize it (the library leaves it unset on failure). */
int lnet_push_ok(lua_State *L, int rc);
int lnet_push_integer(lua_State *L, int rc, uint64_t v);

/* Reads the value at idx, field `name` of the table at argument arg, as an
 * integer in [0, max] into *out; raises an error naming both otherwise. */
int lnet_opt_uint_field(lua_State *L, int arg, int idx, const char *name, lua_Integer max, uint32_t *out);

/* Checks that argument arg is an integer port, 0..65535; raises otherwise. */
uint16_t lnet_check_port(lua_State *L, int arg);

/* Pushes a's text, "1.2.3.4:80" or "[::1]:80" ("[fe80::1%2]:80" with an
 * IPv6 scope), or nil for an unspecified address: the one shape addresses
 * have in the binding, in events and results alike. */
void lnet_push_addr(lua_State *L, const net_addr *a);

/* lengine.c: net.engine{...} and the engine methods. */
int lnet_engine_new(lua_State *L);
void lnet_engine_open(lua_State *L);

/* lsys.c: require "net.sys", the host-process services scripts need that
 * net.h does not cover (a monotonic clock, signals), kept out of "net". */
LNET_EXPORT int luaopen_net_sys(lua_State *L);
LNET_EXPORT int luaopen_net(lua_State *L);

#endif
