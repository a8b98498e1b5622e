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
/* lnet_fail's three values and a fourth, net_last_os_error(): for the calls
 * that set it (listen, connect, udp_open, udp_connect), read at once on the
 * thread that made the call. */
int lnet_fail_os(lua_State *L, int code);

/* The two success shapes of a call returning rc: true, or the integer v (a
 * handle, a count) when rc >= 0; else lnet_fail's. v is passed whatever rc
 * is, so callers initialize it (the library leaves it unset on failure). */
int lnet_push_ok(lua_State *L, int rc);
int lnet_push_integer(lua_State *L, int rc, uint64_t v);

/* largs.c: argument checks that raise "bad argument #N to 'name' (...)"
 * with the name the function was registered under (never '?'), counting
 * arguments as luaL_argerror does (a method call does not count self).
 * They replace luaL_check* throughout the binding. */
void lnet_name_functions(lua_State *L, int idx, const char *prefix);
void lnet_name_function(lua_State *L, int idx, const char *name);
int lnet_argerror(lua_State *L, int arg, const char *msg);
/* The running function's registered name (left on the stack), and whether
 * it was called as a method. */
const char *lnet_function_name(lua_State *L, int *is_method);
int lnet_typeerror(lua_State *L, int arg, const char *tname);
lua_Integer lnet_checkinteger(lua_State *L, int arg);
lua_Integer lnet_optinteger(lua_State *L, int arg, lua_Integer def);
const char *lnet_checklstring(lua_State *L, int arg, size_t *len);
const char *lnet_optstring(lua_State *L, int arg);
void lnet_checktype(lua_State *L, int arg, int t);
int lnet_checkoption(lua_State *L, int arg, const char *const names[]);

/* Reads the value at idx, field `name` of the table at argument arg, as an
 * integer in [0, max] into *out; raises an error naming both otherwise. */
int lnet_opt_uint_field(lua_State *L, int arg, int idx, const char *name, lua_Integer max, uint32_t *out);

/* Checks that argument arg is an integer port, 0..65535; raises otherwise. */
uint16_t lnet_check_port(lua_State *L, int arg);

/* laddr.c: addresses as text. Pushes a's text, "1.2.3.4:80" or "[::1]:80"
 * ("[fe80::1%2]:80" with an IPv6 scope), or nil for an unspecified
 * address: the one shape addresses have in the binding. */
void lnet_push_addr(lua_State *L, const net_addr *a);

/* Longest host: a DNS name is at most 253 bytes; a bracketed IPv6 address
 * with an interface name as its scope is shorter. */
#define LNET_HOST_MAX 256

typedef struct lnet_endpoint {
    const char *host; /* NULL: any address (listen, udp_open without a host) */
    uint16_t port;
    char buf[LNET_HOST_MAX];
} lnet_endpoint;

/* Reads the endpoint starting at argument arg: "host:port" as one argument
 * (two_args 0) or host, port as two, the host bare or in brackets; with
 * host_optional a nil host means any address. Raises for malformed text.
 * Returns the index of the argument after the endpoint. */
int lnet_check_endpoint(lua_State *L, int arg, int two_args, int host_optional, lnet_endpoint *ep);

/* lsys.c: a monotonic clock in milliseconds, and whether net.sys.catch
 * noted a signal: a blocking poll waits in slices and looks at both. */
int64_t lnet_now_ms(void);
int lnet_signal_noted(void);

/* lrudp.c: reliable-UDP sessions. lnet_rudp_field reads one field of an
 * options table into a net_rudp_config (a field reader of lengine.c: 0 for
 * a name it does not know); lnet_rudp_open adds net.rudp_send,
 * net.rudp_stats and the mode constants to the module table on top. */
int lnet_rudp_field(lua_State *L, int arg, const char *name, void *out);
void lnet_rudp_open(lua_State *L);

/* lengine.c: net.engine{...} and the engine methods. */
int lnet_engine_new(lua_State *L);
void lnet_engine_open(lua_State *L);

/* lsys.c: require "net.sys", the host-process services scripts need that
 * net.h does not cover (a monotonic clock, signals), kept out of "net". */
LNET_EXPORT int luaopen_net_sys(lua_State *L);
LNET_EXPORT int luaopen_net(lua_State *L);

#endif
