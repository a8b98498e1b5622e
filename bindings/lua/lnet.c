/*
 * lnet.c - require "net": the Lua 5.4 face of include/net.h.
 *
 * Handles are plain Lua integers: a net_handle has its top bit clear, so it
 * fits a lua_Integer unchanged and needs no wrapper or finalizer. Calls that
 * take a handle are module functions (net.send(h, ...)); calls that take an
 * engine are methods of the object net.engine{...} returns (lengine.c).
 *
 * Errors follow the Lua module habit: a wrong argument raises an error
 * naming it and the function (largs.c); what the library reports at run
 * time (stale handle, closed connection, full send queue) comes back as
 * nil, message, code, the code being one of net.E_*.
 *
 * Addresses are text both ways, "1.2.3.4:80" or "[::1]:80": what events
 * and net.local_addr hand out is what net.sendto takes back.
 */
#include <stdlib.h>
#include <string.h>

#include "lnet.h"

#define check_handle(L, arg) ((net_handle)lnet_checkinteger(L, arg))

/* net_sendv pieces kept on the C stack; more go to the scratch buffer. */
#define SENDV_STACK 8

int lnet_fail(lua_State *L, int code)
{
    lua_pushnil(L);
    lua_pushstring(L, net_strerror(code));
    lua_pushinteger(L, code);
    return 3;
}

int lnet_fail_os(lua_State *L, int code)
{
    lnet_fail(L, code);
    lua_pushinteger(L, net_last_os_error());
    return 4;
}

int lnet_push_ok(lua_State *L, int rc)
{
    if (rc < 0)
        return lnet_fail(L, rc);
    lua_pushboolean(L, 1);
    return 1;
}

int lnet_push_integer(lua_State *L, int rc, uint64_t v)
{
    if (rc < 0)
        return lnet_fail(L, rc);
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

/* ---- scratch memory for handle lists and long gathers ----
 * One growable buffer per Lua state, held as an upvalue of the functions
 * that need it, so a broadcast to a few hundred connections allocates
 * nothing once the buffer has grown to fit. */

typedef struct scratch {
    void *p;
    size_t cap;
} scratch;

static int scratch_gc(lua_State *L)
{
    scratch *s = lua_touserdata(L, 1);
    free(s->p);
    s->p = NULL;
    s->cap = 0;
    return 0;
}

static void *scratch_get(lua_State *L, size_t bytes)
{
    scratch *s = lua_touserdata(L, lua_upvalueindex(1));
    if (bytes > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < bytes)
            cap *= 2;
        void *p = realloc(s->p, cap);
        if (!p)
            return NULL;
        s->p = p;
        s->cap = cap;
    }
    return s->p;
}

/* ---- versions and errors ---- */

static int l_version(lua_State *L)
{
    lua_pushstring(L, net_version_string());
    lua_pushinteger(L, (lua_Integer)net_version());
    return 2;
}

/* Event type names, indexed by NET_EV_* value. */
static const char *const event_names[] = {[NET_EV_ACCEPT] = "ACCEPT",
                                          [NET_EV_CONNECT] = "CONNECT",
                                          [NET_EV_DATA] = "DATA",
                                          [NET_EV_CLOSE] = "CLOSE",
                                          [NET_EV_SEND_HIGHWATER] = "SEND_HIGHWATER",
                                          [NET_EV_SEND_DRAINED] = "SEND_DRAINED",
                                          [NET_EV_TIMER] = "TIMER",
                                          [NET_EV_USER] = "USER",
                                          [NET_EV_DATAGRAM] = "DATAGRAM",
                                          [NET_EV_ERROR] = "ERROR",
                                          [NET_EV_EOF] = "EOF"};

/* net.event_name(type) -> "DATA": events carry their type as the integer
 * net.DATA is (cheap to compare); this names it for printing. nil for a
 * type this binding does not know. */
static int l_event_name(lua_State *L)
{
    lua_Integer t = lnet_checkinteger(L, 1);
    size_t count = sizeof event_names / sizeof event_names[0];
    if (t >= 0 && (size_t)t < count && event_names[t])
        lua_pushstring(L, event_names[t]);
    else
        lua_pushnil(L);
    return 1;
}

static int l_strerror(lua_State *L)
{
    lua_pushstring(L, net_strerror((int)lnet_checkinteger(L, 1)));
    return 1;
}

/* ---- sending ---- */

/* net.send(h, s [, s2, ...]): several strings are gathered into one message. */
static int l_send(lua_State *L)
{
    net_handle h = check_handle(L, 1);
    int top = lua_gettop(L);
    int rc;
    if (top <= 2) {
        size_t len;
        const char *s = lnet_checklstring(L, 2, &len);
        if (len > UINT32_MAX)
            return lnet_argerror(L, 2, "message too long");
        rc = net_send(h, s, (uint32_t)len);
    } else {
        net_buf local[SENDV_STACK];
        uint32_t count = (uint32_t)(top - 1);
        net_buf *bufs = local;
        if (count > SENDV_STACK) {
            bufs = scratch_get(L, count * sizeof *bufs);
            if (!bufs)
                return lnet_fail(L, NET_E_NOMEM);
        }
        for (uint32_t i = 0; i < count; i++)
            bufs[i].data = lnet_checklstring(L, (int)i + 2, &bufs[i].len);
        rc = net_sendv(h, bufs, count);
    }
    return lnet_push_ok(L, rc);
}

/* net.broadcast(handles, payload [, n [, results]]) -> queued count.
 * One shared copy of payload goes to handles[1..n] (n defaults to
 * #handles); results[i], when given, receives each connection's outcome. */
static int l_broadcast(lua_State *L)
{
    lnet_checktype(L, 1, LUA_TTABLE);
    size_t len;
    const char *data = lnet_checklstring(L, 2, &len);
    lua_Integer n = lnet_optinteger(L, 3, (lua_Integer)lua_rawlen(L, 1));
    int want_results = !lua_isnoneornil(L, 4);
    if (want_results)
        lnet_checktype(L, 4, LUA_TTABLE);
    if (n < 0 || n > 0x7FFFFFFF)
        return lnet_argerror(L, 3, "count out of range");
    if (len > UINT32_MAX)
        return lnet_argerror(L, 2, "message too long");

    size_t hbytes = (size_t)n * sizeof(net_handle);
    net_handle *hs = scratch_get(L, hbytes + (want_results ? (size_t)n * sizeof(int) : 0) + 1);
    if (!hs)
        return lnet_fail(L, NET_E_NOMEM);
    int *results = want_results ? (int *)(void *)((char *)hs + hbytes) : NULL;
    for (lua_Integer i = 0; i < n; i++) {
        int isnum;
        lua_rawgeti(L, 1, i + 1);
        hs[i] = (net_handle)lua_tointegerx(L, -1, &isnum);
        lua_pop(L, 1);
        if (!isnum)
            return lnet_argerror(L, 1, lua_pushfstring(L, "handles[%I] is not an integer", i + 1));
    }
    int rc = net_broadcast(hs, (uint32_t)n, data, (uint32_t)len, results);
    if (rc < 0)
        return lnet_fail(L, rc);
    for (lua_Integer i = 0; results && i < n; i++) {
        lua_pushinteger(L, results[i]);
        lua_rawseti(L, 4, i + 1);
    }
    lua_pushinteger(L, rc);
    return 1;
}

/* ---- closing ---- */

static int l_close(lua_State *L)
{
    return lnet_push_ok(L, net_close(check_handle(L, 1)));
}

static int l_abort(lua_State *L)
{
    return lnet_push_ok(L, net_abort(check_handle(L, 1)));
}

static int l_shutdown(lua_State *L)
{
    return lnet_push_ok(L, net_shutdown(check_handle(L, 1)));
}

/* ---- user data: one integer per handle, as in C ---- */

static int l_set_user(lua_State *L)
{
    net_handle h = check_handle(L, 1);
    return lnet_push_ok(L, net_set_user(h, (uint64_t)lnet_checkinteger(L, 2)));
}

static int l_get_user(lua_State *L)
{
    uint64_t v = 0;
    int rc = net_get_user(check_handle(L, 1), &v);
    return lnet_push_integer(L, rc, v);
}

/* ---- options: names in NET_OPT_* order, so the index + 1 is the option ---- */

static const char *const option_names[] = {
    "nodelay",  "keepalive",    "sndbuf",    "rcvbuf",       "linger",  "reuseaddr",      "send_cap",  "highwater",
    "lowwater", "idle_timeout", "broadcast", "max_datagram", "dropped", "errors_dropped", "send_held", NULL};

static int option_is_flag(int opt)
{
    return opt == NET_OPT_NODELAY || opt == NET_OPT_KEEPALIVE || opt == NET_OPT_REUSEADDR || opt == NET_OPT_BROADCAST;
}

static int l_set_option(lua_State *L)
{
    net_handle h = check_handle(L, 1);
    int opt = lnet_checkoption(L, 2, option_names) + 1;
    int64_t v;
    if (lua_isboolean(L, 3))
        v = lua_toboolean(L, 3);
    else
        v = (int64_t)lnet_checkinteger(L, 3);
    return lnet_push_ok(L, net_set_option(h, opt, v));
}

static int l_get_option(lua_State *L)
{
    net_handle h = check_handle(L, 1);
    int opt = lnet_checkoption(L, 2, option_names) + 1;
    int64_t v;
    int rc = net_get_option(h, opt, &v);
    if (rc < 0)
        return lnet_fail(L, rc);
    if (option_is_flag(opt))
        lua_pushboolean(L, v != 0);
    else
        lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

/* ---- addresses and queues ---- */

static int push_addr(lua_State *L, int rc, const net_addr *a)
{
    if (rc < 0)
        return lnet_fail(L, rc);
    lnet_push_addr(L, a);
    if (lua_isnil(L, -1))
        return lnet_fail(L, NET_E_INVAL);
    lua_pushinteger(L, a->port);
    return 2;
}

/* net.local_addr(h) -> "1.2.3.4:80", 80 */
static int l_local_addr(lua_State *L)
{
    net_addr a;
    int rc = net_local_addr(check_handle(L, 1), &a);
    return push_addr(L, rc, &a);
}

static int l_peer_addr(lua_State *L)
{
    net_addr a;
    int rc = net_peer_addr(check_handle(L, 1), &a);
    return push_addr(L, rc, &a);
}

static int l_send_queued(lua_State *L)
{
    uint64_t bytes = 0;
    int rc = net_send_queued(check_handle(L, 1), &bytes);
    return lnet_push_integer(L, rc, bytes);
}

/* ---- UDP ---- */

/* net.udp_connect(udp, addr) or net.udp_connect(udp, host, port) -> true:
 * fixes the peer at once. */
static int l_udp_connect(lua_State *L)
{
    net_handle h = check_handle(L, 1);
    lnet_endpoint ep;
    lnet_check_endpoint(L, 2, !lua_isnoneornil(L, 3), 0, &ep);
    int rc = net_udp_connect(h, ep.host, ep.port);
    return rc < 0 ? lnet_fail_os(L, rc) : lnet_push_ok(L, rc);
}

/* net.sendto(udp, addr, data) or net.sendto(udp, host, port, data) -> true
 * addr is the text events carry ("1.2.3.4:80", "[::1]:80"); nil on a
 * connected socket means its peer. One datagram per call. The form is the
 * host, port one when a number follows the host or four arguments are
 * given, so sendto(u, "127.0.0.1", 9, nil) blames the data (#4). */
static int l_sendto(lua_State *L)
{
    net_handle h = check_handle(L, 1);
    int two_args = lua_gettop(L) >= 4 || lua_type(L, 3) == LUA_TNUMBER;
    lnet_endpoint ep;
    int data_arg = two_args ? 4 : 3;
    /* Types first, so a bad payload raises even when the address would
     * not resolve. */
    size_t len;
    const char *data = lnet_checklstring(L, data_arg, &len);
    if (len > UINT32_MAX)
        return lnet_argerror(L, data_arg, "datagram too long");
    if (!two_args && lua_isnil(L, 2))
        return lnet_push_ok(L, net_sendto(h, NULL, data, (uint32_t)len));
    lnet_check_endpoint(L, 2, two_args, 0, &ep);
    net_addr to;
    int rc = net_addr_parse(ep.host, ep.port, &to);
    if (rc < 0)
        return lnet_fail(L, rc);
    return lnet_push_ok(L, net_sendto(h, &to, data, (uint32_t)len));
}

/* net.addr_parse(host, port) -> "1.2.3.4:80", 80: resolves a name once, to
 * the text net.sendto takes without resolving again. */
static int l_addr_parse(lua_State *L)
{
    lnet_endpoint ep;
    lnet_check_endpoint(L, 1, !lua_isnoneornil(L, 2), 0, &ep);
    net_addr a;
    int rc = net_addr_parse(ep.host, ep.port, &a);
    return push_addr(L, rc, &a);
}

/* ---- the module ---- */

static const luaL_Reg plain_funcs[] = {{"version", l_version},
                                       {"strerror", l_strerror},
                                       {"event_name", l_event_name},
                                       {"engine", lnet_engine_new},
                                       {"close", l_close},
                                       {"abort", l_abort},
                                       {"shutdown", l_shutdown},
                                       {"set_user", l_set_user},
                                       {"get_user", l_get_user},
                                       {"set_option", l_set_option},
                                       {"get_option", l_get_option},
                                       {"local_addr", l_local_addr},
                                       {"peer_addr", l_peer_addr},
                                       {"send_queued", l_send_queued},
                                       {"udp_connect", l_udp_connect},
                                       {"sendto", l_sendto},
                                       {"addr_parse", l_addr_parse},
                                       {NULL, NULL}};

/* Functions sharing the scratch buffer (upvalue 1). */
static const luaL_Reg scratch_funcs[] = {{"send", l_send}, {"broadcast", l_broadcast}, {NULL, NULL}};

typedef struct constant {
    const char *name;
    int value;
} constant;

static const constant constants[] = {
    /* event types */
    {"ACCEPT", NET_EV_ACCEPT},
    {"CONNECT", NET_EV_CONNECT},
    {"DATA", NET_EV_DATA},
    {"CLOSE", NET_EV_CLOSE},
    {"SEND_HIGHWATER", NET_EV_SEND_HIGHWATER},
    {"SEND_DRAINED", NET_EV_SEND_DRAINED},
    {"TIMER", NET_EV_TIMER},
    {"USER", NET_EV_USER},
    {"DATAGRAM", NET_EV_DATAGRAM},
    {"ERROR", NET_EV_ERROR},
    {"EOF", NET_EV_EOF},
    /* error codes */
    {"OK", NET_OK},
    {"E_BADHANDLE", NET_E_BADHANDLE},
    {"E_INVAL", NET_E_INVAL},
    {"E_NOMEM", NET_E_NOMEM},
    {"E_WOULDBLOCK", NET_E_WOULDBLOCK},
    {"E_CLOSED", NET_E_CLOSED},
    {"E_MSGSIZE", NET_E_MSGSIZE},
    {"E_BUSY", NET_E_BUSY},
    {"E_UNSUPPORTED", NET_E_UNSUPPORTED},
    {"E_OS", NET_E_OS},
    {"E_ADDR", NET_E_ADDR},
    {"E_TIMEDOUT", NET_E_TIMEDOUT},
    {"E_RESET", NET_E_RESET},
    {"E_REFUSED", NET_E_REFUSED},
    {"E_LIMIT", NET_E_LIMIT},
    {"E_PROTO", NET_E_PROTO},
    {"E_ABORTED", NET_E_ABORTED},
    {"E_ADDRINUSE", NET_E_ADDRINUSE},
    {"E_UNREACHABLE", NET_E_UNREACHABLE},
    {"E_NOTCONN", NET_E_NOTCONN},
    /* the largest datagram, the default and ceiling of max_datagram */
    {"UDP_MAX_PAYLOAD", (int)NET_UDP_MAX_PAYLOAD},
    {NULL, 0}};

LNET_EXPORT int luaopen_net(lua_State *L)
{
    luaL_checkversion(L);
    /* net.so calls what its net.h declares: a libnet of another major or
     * minor version (an old install found first) may lack some of it. */
    uint32_t lib = net_version();
    if ((lib >> 8) != ((uint32_t)NET_VERSION >> 8))
        return luaL_error(L, "net.so was built for libnet %d.%d but loaded libnet %s", NET_VERSION_MAJOR,
                          NET_VERSION_MINOR, net_version_string());
    lnet_engine_open(L);

    luaL_newlib(L, plain_funcs);
    lnet_rudp_open(L);

    scratch *s = lua_newuserdatauv(L, sizeof *s, 0);
    s->p = NULL;
    s->cap = 0;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, scratch_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    luaL_setfuncs(L, scratch_funcs, 1);
    lnet_name_functions(L, -1, "net.");

    for (const constant *c = constants; c->name; c++) {
        lua_pushinteger(L, c->value);
        lua_setfield(L, -2, c->name);
    }
    lua_pushstring(L, net_version_string());
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
