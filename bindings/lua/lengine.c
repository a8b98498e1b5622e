/*
 * lengine.c - the engine object: net.engine{...}, listen/connect, UDP
 * sockets, timers, post, stats, and reading events.
 *
 * The engine is the one object with a finalizer: collecting it (or leaving
 * the scope of `local e <close> = net.engine{}`) destroys the C engine, and
 * every handle of it turns stale, which the library reports as
 * NET_E_BADHANDLE, never a crash.
 *
 * Events are read without a table per event. e:poll() fills the object's
 * own net_event array with one net_poll call; e:next() (or the iterator
 * e:events() returns) hands the next one out as multiple values:
 *
 *     type, handle, arg, user, extra
 *
 *   ACCEPT          conn      listener       user  peer "ip:port"
 *   CONNECT         conn      status         user  peer "ip:port" (status 0) or os_error
 *   DATA            conn      payload        user  channel (a reliable-UDP session's; 0 for TCP)
 *   DATAGRAM        udp       payload        user  sender "ip:port"
 *   ERROR           udp       status         user  peer "ip:port" or nil, then os_error
 *   CLOSE           handle    status         user  os_error
 *   SEND_HIGHWATER  conn      bytes queued   user
 *   SEND_DRAINED    conn      bytes queued   user
 *   TIMER           timer     0              user
 *   USER            0         posted value   posted value
 *
 * A payload becomes a Lua string only when its event is handed out. Events
 * are never lost: while some of a batch are unread, e:poll() returns how
 * many are left instead of polling (net_poll would recycle their payloads).
 *
 * By reference (e:events(t, max, true), e:poll(t, max, true)): a DATA or
 * DATAGRAM event hands out its payload's length instead of a string, and
 * the payload stays in the engine's memory until the next poll: e:payload()
 * makes it a string when the script needs one, e:forward([h]) sends it on
 * without one (see l_forward). A script that only forwards or echoes makes
 * no Lua string per message.
 */
#include <stdlib.h>
#include <string.h>

#include "lnet.h"

#define DEFAULT_BATCH 256
#define MAX_BATCH 65536

/* A blocking wait is cut into net_poll calls this long at most: between
 * two, the wait ends early when the interpreter installed a hook (lua5.4
 * does so on SIGINT to raise "interrupted!", which a C call blocked in
 * net_poll would never let run) or net.sys.catch noted a signal. */
#define POLL_SLICE_MS 100

typedef struct lengine {
    net_engine id; /* 0 once destroyed */
    net_event *ev;
    int cap;     /* entries in ev */
    int n;       /* events in the current batch */
    int next;    /* next one to hand out */
    int current; /* the last one handed out, -1 when none (payload, forward) */
    int by_ref;  /* DATA and DATAGRAM hand out the payload's length, not a string */
    /* The running e:events() loop: when it ends (-1: never) and its batch. */
    int64_t loop_deadline_ms;
    int loop_max;
} lengine;

/* The engine at argument arg, of any state (close, __gc, __tostring). */
static lengine *check_engine_object(lua_State *L, int arg)
{
    lengine *e = luaL_testudata(L, arg, LNET_ENGINE_MT);
    if (!e)
        lnet_typeerror(L, arg, LNET_ENGINE_MT);
    return e;
}

/* The open engine at argument arg: every method but close raises once the
 * engine is closed, naming itself. */
static lengine *check_engine(lua_State *L, int arg)
{
    lengine *e = check_engine_object(L, arg);
    if (!e->id) {
        int is_method;
        const char *name = lnet_function_name(L, &is_method);
        luaL_error(L, "engine is closed: '%s' called after close()", name);
    }
    return e;
}

/* ---- configuration tables ---- */

static const char *const backend_names[] = {"auto", "epoll", "io_uring", "iocp", NULL};
static const char *const framing_names[] = {"raw", "u16le", "u16be", "u32le", "u32be", NULL};

typedef struct uint_field {
    const char *name;
    size_t offset;
} uint_field;

static const uint_field config_fields[] = {{"io_threads", offsetof(net_config, io_threads)},
                                           {"max_connections", offsetof(net_config, max_connections)},
                                           {"max_message", offsetof(net_config, max_message)},
                                           {"send_cap", offsetof(net_config, send_cap)},
                                           {"send_highwater", offsetof(net_config, send_highwater)},
                                           {"send_lowwater", offsetof(net_config, send_lowwater)},
                                           {"recv_limit", offsetof(net_config, recv_limit)},
                                           {"idle_timeout_ms", offsetof(net_config, idle_timeout_ms)},
                                           {"close_timeout_ms", offsetof(net_config, close_timeout_ms)},
                                           {"event_batch", offsetof(net_config, event_batch)},
                                           {NULL, 0}};

static int lookup(const char *s, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* The key at -2 of a lua_next walk over the table at arg, as a string. */
static const char *field_name(lua_State *L, int arg)
{
    if (lua_type(L, -2) != LUA_TSTRING)
        lnet_argerror(L, arg, "field names must be strings");
    return lua_tostring(L, -2);
}

static const char *field_string(lua_State *L, int arg, const char *name)
{
    if (lua_type(L, -1) != LUA_TSTRING)
        lnet_argerror(L, arg, lua_pushfstring(L, "field '%s' must be a string", name));
    return lua_tostring(L, -1);
}

/* Reads field name of the table at argument arg, its value on top of the
 * stack, into out (a config struct). Returns 0 for a name it does not know. */
typedef int (*field_reader)(lua_State *L, int arg, const char *name, void *out);

/* Hands every field of the table at arg to read. Unknown fields raise: a
 * misspelt option should not pass silently. */
static void read_fields(lua_State *L, int arg, field_reader read, void *out)
{
    lnet_checktype(L, arg, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, arg)) {
        const char *name = field_name(L, arg);
        if (!read(L, arg, name, out))
            lnet_argerror(L, arg, lua_pushfstring(L, "unknown field '%s'", name));
        lua_pop(L, 1);
    }
}

/* The options table at arg, if any, read over the defaults already in out. */
static void read_opt_fields(lua_State *L, int arg, field_reader read, void *out)
{
    if (!lua_isnoneornil(L, arg))
        read_fields(L, arg, read, out);
}

/* {backend=, io_threads=, max_connections=, ...} -> net_config */
static int config_field(lua_State *L, int arg, const char *name, void *out)
{
    net_config *cfg = out;
    const uint_field *f = config_fields;
    while (f->name && strcmp(f->name, name) != 0)
        f++;
    if (f->name) {
        lnet_opt_uint_field(L, arg, -1, name, UINT32_MAX, (uint32_t *)(void *)((char *)cfg + f->offset));
    } else if (strcmp(name, "backend") == 0) {
        int k = lookup(field_string(L, arg, name), backend_names);
        if (k < 0)
            lnet_argerror(L, arg, "field 'backend' must be auto, epoll, io_uring or iocp");
        cfg->backend = (uint32_t)k;
    } else {
        return 0;
    }
    return 1;
}

typedef struct flag_field {
    const char *name;
    uint32_t bit;
} flag_field;

/* The value on top of the stack, for field name of the config table at arg:
 * sets or clears its bit in *bits and returns 1 when name is one of flags. */
static int flag_field_read(lua_State *L, int arg, const flag_field *flags, const char *name, uint32_t *bits)
{
    const flag_field *f = flags;
    while (f->name && strcmp(f->name, name) != 0)
        f++;
    if (!f->name)
        return 0;
    if (!lua_isboolean(L, -1))
        lnet_argerror(L, arg, lua_pushfstring(L, "field '%s' must be a boolean", name));
    if (lua_toboolean(L, -1))
        *bits |= f->bit;
    else
        *bits &= ~f->bit;
    return 1;
}

/* A non-negative int32_t field (backlog, buffer sizes). */
static int32_t int_field(lua_State *L, int arg, const char *name)
{
    uint32_t v;
    lnet_opt_uint_field(L, arg, -1, name, INT32_MAX, &v);
    return (int32_t)v;
}

static uint64_t user_field(lua_State *L, int arg)
{
    int isnum;
    uint64_t user = (uint64_t)lua_tointegerx(L, -1, &isnum);
    if (!isnum)
        lnet_argerror(L, arg, "field 'user' must be an integer");
    return user;
}

static const flag_field tcp_flags[] = {{"nodelay", NET_TCP_NODELAY},
                                       {"reuseaddr", NET_TCP_REUSEADDR},
                                       {"keepalive", NET_TCP_KEEPALIVE},
                                       {"ipv6only", NET_TCP_IPV6ONLY},
                                       {"length_includes_header", NET_TCP_LEN_INCLUDES_HEADER},
                                       {"half_open", NET_TCP_HALF_OPEN},
                                       {NULL, 0}};

/* {framing=, length_includes_header=, nodelay=, reuseaddr=, keepalive=,
 *  ipv6only=, half_open=, max_message=, backlog=, user=} -> net_tcp_config */
static int tcp_field(lua_State *L, int arg, const char *name, void *out)
{
    net_tcp_config *tc = out;
    if (strcmp(name, "framing") == 0) {
        int k = lookup(field_string(L, arg, name), framing_names);
        if (k < 0)
            lnet_argerror(L, arg, "field 'framing' must be raw, u16le, u16be, u32le or u32be");
        tc->framing = (uint32_t)k;
    } else if (strcmp(name, "max_message") == 0) {
        lnet_opt_uint_field(L, arg, -1, name, UINT32_MAX, &tc->max_message);
    } else if (strcmp(name, "backlog") == 0) {
        tc->backlog = int_field(L, arg, name);
    } else if (strcmp(name, "user") == 0) {
        tc->user = user_field(L, arg);
    } else {
        return flag_field_read(L, arg, tcp_flags, name, &tc->flags);
    }
    return 1;
}

static const flag_field udp_flags[] = {
    {"reuseaddr", NET_UDP_REUSEADDR}, {"ipv6only", NET_UDP_IPV6ONLY}, {"broadcast", NET_UDP_BROADCAST}, {NULL, 0}};

/* {max_datagram=, send_cap=, rcvbuf=, sndbuf=, reuseaddr=, ipv6only=,
 *  broadcast=, user=} -> net_udp_config. Ranges the C fields cannot hold
 * raise here; values they hold but the library refuses (max_datagram over
 * 65507) come back as nil, message, E_INVAL from udp_open. */
static int udp_field(lua_State *L, int arg, const char *name, void *out)
{
    net_udp_config *uc = out;
    if (strcmp(name, "max_datagram") == 0) {
        lnet_opt_uint_field(L, arg, -1, name, UINT32_MAX, &uc->max_datagram);
    } else if (strcmp(name, "send_cap") == 0) {
        lnet_opt_uint_field(L, arg, -1, name, UINT32_MAX, &uc->send_cap);
    } else if (strcmp(name, "rcvbuf") == 0) {
        uc->rcvbuf = int_field(L, arg, name);
    } else if (strcmp(name, "sndbuf") == 0) {
        uc->sndbuf = int_field(L, arg, name);
    } else if (strcmp(name, "user") == 0) {
        uc->user = user_field(L, arg);
    } else {
        return flag_field_read(L, arg, udp_flags, name, &uc->flags);
    }
    return 1;
}

static uint32_t check_u32(lua_State *L, int arg, lua_Integer v)
{
    if (v < 0 || v > (lua_Integer)UINT32_MAX)
        lnet_argerror(L, arg, "out of range");
    return (uint32_t)v;
}

/* ---- create / destroy ---- */

/* net.engine([config]) -> engine | nil, message, code */
int lnet_engine_new(lua_State *L)
{
    net_config cfg;
    net_config_init(&cfg);
    read_opt_fields(L, 1, config_field, &cfg);
    lengine *e = lua_newuserdatauv(L, sizeof *e, 0);
    memset(e, 0, sizeof *e);
    e->current = -1;
    luaL_setmetatable(L, LNET_ENGINE_MT);
    e->ev = malloc(DEFAULT_BATCH * sizeof *e->ev);
    if (!e->ev)
        return lnet_fail(L, NET_E_NOMEM);
    e->cap = DEFAULT_BATCH;
    int rc = net_engine_create(&cfg, &e->id);
    if (rc < 0) {
        e->id = 0;
        return lnet_fail(L, rc);
    }
    return 1;
}

static int destroy(lengine *e)
{
    int rc = 0;
    if (e->id)
        rc = net_engine_destroy(e->id);
    e->id = 0;
    e->n = e->next = 0;
    return rc;
}

/* e:close() -> true: destroys the engine now; later calls on it raise,
 * but closing again does nothing (as __close after an explicit close). */
static int l_engine_close(lua_State *L)
{
    lengine *e = check_engine_object(L, 1);
    return lnet_push_ok(L, destroy(e));
}

/* The engine the per-event functions (next, the events step, payload,
 * forward) last checked, shared by them as an upvalue: while it lives, no
 * other object can have its address, so finding it again at argument 1
 * needs no metatable check. Its finalizer forgets it (upvalue 1 of __gc and
 * __close) before its memory can be reused. */
typedef struct engine_cache {
    const lengine *last;
} engine_cache;

static int l_engine_gc(lua_State *L)
{
    lengine *e = check_engine_object(L, 1);
    engine_cache *cache = lua_touserdata(L, lua_upvalueindex(1));
    if (cache && cache->last == e)
        cache->last = NULL;
    destroy(e);
    free(e->ev);
    e->ev = NULL;
    e->cap = 0;
    return 0;
}

static int l_engine_tostring(lua_State *L)
{
    lengine *e = check_engine_object(L, 1);
    if (e->id)
        lua_pushfstring(L, "net.engine (%s): %p", net_backend_name(e->id), (void *)e);
    else
        lua_pushfstring(L, "net.engine (closed): %p", (void *)e);
    return 1;
}

static int l_backend(lua_State *L)
{
    lua_pushstring(L, net_backend_name(check_engine(L, 1)->id));
    return 1;
}

/* ---- listeners, connections, timers, posts ---- */

enum { OPEN_LISTEN, OPEN_CONNECT, OPEN_UDP, OPEN_RUDP_LISTEN, OPEN_RUDP_CONNECT };

/* e:listen, e:connect, e:udp_open, e:rudp_listen and e:rudp_connect: (host, port [, opts]) or
 * ("host:port" [, opts]) -> handle | nil, message, code. The address is
 * one argument when a table or nothing follows it. Only a connection needs
 * a host; a listener or UDP socket with a nil host binds to any address. */
static int open_socket(lua_State *L, int kind)
{
    lengine *e = check_engine(L, 1);
    int connecting = kind == OPEN_CONNECT || kind == OPEN_RUDP_CONNECT;
    int two_args = !(lua_isnoneornil(L, 3) || lua_istable(L, 3)) || (!connecting && lua_isnoneornil(L, 2));
    lnet_endpoint ep;
    int opts = lnet_check_endpoint(L, 2, two_args, !connecting, &ep);
    net_handle h = 0;
    int rc;
    if (kind == OPEN_RUDP_LISTEN || kind == OPEN_RUDP_CONNECT) {
        net_rudp_config rc_cfg;
        net_rudp_config_init(&rc_cfg);
        read_opt_fields(L, opts, lnet_rudp_field, &rc_cfg);
        rc = kind == OPEN_RUDP_LISTEN ? net_rudp_listen(e->id, ep.host, ep.port, &rc_cfg, &h)
                                      : net_rudp_connect(e->id, ep.host, ep.port, &rc_cfg, &h);
    } else if (kind == OPEN_UDP) {
        net_udp_config uc;
        net_udp_config_init(&uc);
        read_opt_fields(L, opts, udp_field, &uc);
        rc = net_udp_open(e->id, ep.host, ep.port, &uc, &h);
    } else {
        net_tcp_config tc;
        net_tcp_config_init(&tc);
        read_opt_fields(L, opts, tcp_field, &tc);
        rc = kind == OPEN_LISTEN ? net_listen(e->id, ep.host, ep.port, &tc, &h)
                                 : net_connect(e->id, ep.host, ep.port, &tc, &h);
    }
    return rc < 0 ? lnet_fail_os(L, rc) : lnet_push_integer(L, rc, h);
}

/* e:listen(host|nil, port [, opts]) -> listener | nil, message, code, os_error */
static int l_listen(lua_State *L)
{
    return open_socket(L, OPEN_LISTEN);
}

/* e:connect(host, port [, opts]) -> conn | nil, message, code, os_error; a CONNECT
 * event tells the outcome. */
static int l_connect(lua_State *L)
{
    return open_socket(L, OPEN_CONNECT);
}

/* e:udp_open(host|nil, port [, opts]) -> udp | nil, message, code
 * DATAGRAM events come from then on; port 0 picks one (net.local_addr). */
static int l_udp_open(lua_State *L)
{
    return open_socket(L, OPEN_UDP);
}

/* e:rudp_listen(host|nil, port [, opts]) -> listener | nil, message, code, os_error
 * Reliable-UDP sessions (lrudp.c): each comes as an ACCEPT event. opts:
 * {channels=, mtu=, max_message=, send_cap=, recv_window=, max_sessions=,
 *  connect_timeout_ms=, idle_timeout_ms=, keepalive_ms=, close_timeout_ms=,
 *  rto_min_ms=, rto_max_ms=, cookie_period_ms=, user=}; zeros are defaults. */
static int l_rudp_listen(lua_State *L)
{
    return open_socket(L, OPEN_RUDP_LISTEN);
}

/* e:rudp_connect(host, port [, opts]) -> session | nil, message, code, os_error;
 * a CONNECT event tells the outcome (sends before it are queued). */
static int l_rudp_connect(lua_State *L)
{
    return open_socket(L, OPEN_RUDP_CONNECT);
}

/* e:timer(delay_ms [, repeat_ms [, user]]) -> timer | nil, message, code */
static int l_timer(lua_State *L)
{
    lengine *e = check_engine(L, 1);
    uint32_t delay = check_u32(L, 2, lnet_checkinteger(L, 2));
    uint32_t repeat = check_u32(L, 3, lnet_optinteger(L, 3, 0));
    uint64_t user = (uint64_t)lnet_optinteger(L, 4, 0);
    net_handle h = 0;
    int rc = net_timer_start(e->id, delay, repeat, user, &h);
    return lnet_push_integer(L, rc, h);
}

static int l_post(lua_State *L)
{
    lengine *e = check_engine(L, 1);
    return lnet_push_ok(L, net_post(e->id, (uint64_t)lnet_checkinteger(L, 2)));
}

static int l_wakeup(lua_State *L)
{
    return lnet_push_ok(L, net_wakeup(check_engine(L, 1)->id));
}

/* net_engine_waitable: the descriptor (Linux) or HANDLE (Windows) as an
 * integer, for luv's new_poll and the like; the engine keeps owning it. */
static int l_waitable(lua_State *L)
{
    intptr_t w = -1;
    int rc = net_engine_waitable(check_engine(L, 1)->id, &w);
    return lnet_push_integer(L, rc, (uint64_t)w);
}

/* ---- stats ---- */

static const char *const stats_names[] = {
    "connections",   "connections_total", "accepts_rejected",     "bytes_in",       "bytes_out",    "messages_in",
    "messages_out",  "queue_depth",       "send_queued",          "recv_paused",    "udp_sockets",  "datagrams_in",
    "datagrams_out", "datagrams_dropped", "datagram_send_errors", "accepts_failed", "caller_writes"};

/* e:stats([t]) -> t: fills t (or a new table) with the net_stats fields. */
static int l_stats(lua_State *L)
{
    lengine *e = check_engine(L, 1);
    net_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    int rc = net_engine_stats(e->id, &s);
    if (rc < 0)
        return lnet_fail(L, rc);
    if (lua_isnoneornil(L, 2))
        lua_createtable(L, 0, (int)(sizeof stats_names / sizeof stats_names[0]));
    else {
        lnet_checktype(L, 2, LUA_TTABLE);
        lua_settop(L, 2);
    }
    const uint64_t v[] = {
        s.connections,   s.connections_total, s.accepts_rejected,     s.bytes_in,       s.bytes_out,    s.messages_in,
        s.messages_out,  s.queue_depth,       s.send_queued,          s.recv_paused,    s.udp_sockets,  s.datagrams_in,
        s.datagrams_out, s.datagrams_dropped, s.datagram_send_errors, s.accepts_failed, s.caller_writes};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        lua_pushinteger(L, (lua_Integer)v[i]);
        lua_setfield(L, -2, stats_names[i]);
    }
    return 1;
}

/* ---- events ---- */

/* net_poll for up to timeout_ms (-1: no limit) in slices of POLL_SLICE_MS.
 * Returns the events polled; 0 when the time ran out, when net_poll came
 * back empty before its slice ended (net_wakeup, or a signal interrupting
 * the wait), or when the wait ended early because a hook was installed
 * meanwhile or net.sys.catch noted a signal (once one is noted, every wait
 * lasts one slice at most); or a NET_E_* code. */
static int poll_sliced(lua_State *L, lengine *e, int max, int timeout_ms)
{
    lua_Hook hook = lua_gethook(L);
    int mask = lua_gethookmask(L);
    int64_t deadline = timeout_ms < 0 ? -1 : lnet_now_ms() + timeout_ms;
    for (;;) {
        int slice = POLL_SLICE_MS;
        int64_t start = lnet_now_ms();
        if (deadline >= 0 && deadline - start < slice)
            slice = deadline > start ? (int)(deadline - start) : 0;
        int n = net_poll(e->id, e->ev, max, slice);
        if (n != 0)
            return n;
        int64_t end = lnet_now_ms();
        if (deadline >= 0 && end >= deadline)
            return 0;
        /* 2 ms of slack for the millisecond clock's truncation. */
        if (end - start < slice - 2)
            return 0;
        if (lua_gethook(L) != hook || lua_gethookmask(L) != mask || lnet_signal_noted())
            return 0;
    }
}

/* Polls unless part of the last batch is still unread. Returns the number
 * of events ready to hand out, or a NET_E_* code. */
static int fill(lua_State *L, lengine *e, int timeout_ms, int max)
{
    if (e->next < e->n)
        return e->n - e->next;
    e->n = e->next = 0;
    e->current = -1; /* its payload is about to be recycled */
    if (max > e->cap) {
        net_event *ev = realloc(e->ev, (size_t)max * sizeof *ev);
        if (!ev)
            return NET_E_NOMEM;
        e->ev = ev;
        e->cap = max;
    }
    int n = poll_sliced(L, e, max, timeout_ms);
    if (n < 0)
        return n;
    e->n = n;
    return n;
}

/* The optional by_ref flag at argument arg: a boolean, or nil for false.
 * It holds for the events handed out from then on. */
static void check_by_ref(lua_State *L, lengine *e, int arg)
{
    if (!lua_isnoneornil(L, arg) && !lua_isboolean(L, arg))
        lnet_typeerror(L, arg, "boolean");
    e->by_ref = lua_toboolean(L, arg);
}

/* The optional timeout_ms and max at arguments arg and arg + 1: -1 waits
 * without limit; other negative or fractional timeouts mean nothing and
 * raise. */
static void check_poll_args(lua_State *L, int arg, int *timeout_ms, int *max)
{
    lua_Integer t = lnet_optinteger(L, arg, -1);
    lua_Integer m = lnet_optinteger(L, arg + 1, DEFAULT_BATCH);
    if (t < -1 || t > INT32_MAX)
        lnet_argerror(L, arg, "timeout out of range (-1 waits forever)");
    if (m < 1 || m > MAX_BATCH)
        lnet_argerror(L, arg + 1, "max out of range");
    *timeout_ms = (int)t;
    *max = (int)m;
}

/* e:poll([timeout_ms [, max [, by_ref]]]) -> count | nil, message, code
 * timeout_ms: -1 (the default) waits until something happens, 0 not at all;
 * 0 events also when a signal cut the wait short (see poll_sliced). by_ref:
 * e:next() hands out payload lengths (see the top of this file). */
static int l_poll(lua_State *L)
{
    lengine *e = check_engine(L, 1);
    int timeout_ms, max;
    check_poll_args(L, 2, &timeout_ms, &max);
    check_by_ref(L, e, 4);
    int n = fill(L, e, timeout_ms, max);
    if (n < 0)
        return lnet_fail(L, n);
    lua_pushinteger(L, n);
    return 1;
}

/* The engine at argument 1: the one checked last (upvalue 2, see
 * engine_cache), or checked against the metatable held as upvalue 1
 * (cheaper than luaL_checkudata's registry lookup, on the per-event path). */
static lengine *iter_engine(lua_State *L)
{
    engine_cache *cache = lua_touserdata(L, lua_upvalueindex(2));
    lengine *e = lua_touserdata(L, 1);
    if (e && e == cache->last && lua_type(L, 1) == LUA_TUSERDATA)
        return e;
    if (lua_type(L, 1) == LUA_TUSERDATA && lua_getmetatable(L, 1)) {
        int same = lua_rawequal(L, -1, lua_upvalueindex(1));
        lua_pop(L, 1);
        if (same) {
            cache->last = e;
            return e;
        }
    }
    lnet_typeerror(L, 1, LNET_ENGINE_MT);
    return NULL;
}

/* Hands out the next event of the batch as type, handle, arg, user, extra. */
/* Longer than a screen: one case per event type, so the Lua shape of every
 * event reads in one place. */
static int push_event(lua_State *L, lengine *e)
{
    e->current = e->next;
    const net_event *ev = &e->ev[e->next++];
    lua_pushinteger(L, ev->type);
    lua_pushinteger(L, (lua_Integer)ev->handle);
    switch (ev->type) {
    case NET_EV_DATA:
        if (e->by_ref)
            lua_pushinteger(L, ev->len);
        else
            lua_pushlstring(L, (const char *)ev->data, ev->len);
        lua_pushinteger(L, (lua_Integer)ev->user);
        lua_pushinteger(L, (lua_Integer)ev->parent); /* the channel */
        return 5;
    case NET_EV_DATAGRAM:
        if (e->by_ref)
            lua_pushinteger(L, ev->len);
        else
            lua_pushlstring(L, (const char *)ev->data, ev->len);
        lua_pushinteger(L, (lua_Integer)ev->user);
        lnet_push_addr(L, &ev->addr);
        return 5;
    case NET_EV_ERROR:
        lua_pushinteger(L, ev->status);
        lua_pushinteger(L, (lua_Integer)ev->user);
        lnet_push_addr(L, &ev->addr);
        lua_pushinteger(L, ev->os_error);
        return 6;
    case NET_EV_ACCEPT:
        lua_pushinteger(L, (lua_Integer)ev->parent);
        lua_pushinteger(L, (lua_Integer)ev->user);
        lnet_push_addr(L, &ev->addr);
        return 5;
    case NET_EV_CONNECT:
        lua_pushinteger(L, ev->status);
        lua_pushinteger(L, (lua_Integer)ev->user);
        if (ev->status == 0)
            lnet_push_addr(L, &ev->addr);
        else
            lua_pushinteger(L, ev->os_error);
        return 5;
    case NET_EV_CLOSE:
        lua_pushinteger(L, ev->status);
        lua_pushinteger(L, (lua_Integer)ev->user);
        lua_pushinteger(L, ev->os_error);
        return 5;
    case NET_EV_SEND_HIGHWATER:
    case NET_EV_SEND_DRAINED:
        lua_pushinteger(L, ev->len);
        lua_pushinteger(L, (lua_Integer)ev->user);
        return 4;
    case NET_EV_USER:
        lua_pushinteger(L, (lua_Integer)ev->user);
        lua_pushinteger(L, (lua_Integer)ev->user);
        return 4;
    default: /* TIMER, and types a newer library may add */
        lua_pushinteger(L, ev->status);
        lua_pushinteger(L, (lua_Integer)ev->user);
        return 4;
    }
}

/* e:next() -> type, handle, arg, user, extra | nothing when the batch is read */
static int l_next(lua_State *L)
{
    lengine *e = iter_engine(L);
    if (!e->id)
        check_engine(L, 1); /* raises: closed */
    if (e->next >= e->n)
        return 0;
    return push_event(L, e);
}

/* The iterator e:events() returns: the rest of the batch, then further
 * batches while the loop's time lasts. The loop ends when that time passed
 * (a batch already polled is still handed out), when a wait ended early
 * (a signal, see poll_sliced), or when the engine was closed inside it. */
static int l_events_step(lua_State *L)
{
    lengine *e = iter_engine(L);
    while (e->next >= e->n) {
        if (!e->id)
            return 0;
        int wait = -1;
        if (e->loop_deadline_ms >= 0) {
            int64_t left = e->loop_deadline_ms - lnet_now_ms();
            if (left <= 0)
                return 0;
            wait = (int)left;
        }
        int n = fill(L, e, wait, e->loop_max);
        if (n < 0)
            return luaL_error(L, "net poll failed: %s (%d)", net_strerror(n), n);
        if (n == 0)
            return 0;
    }
    return push_event(L, e);
}

/* for type, handle, arg, user, extra in e:events([timeout_ms [, max [, by_ref]]]) do
 * Every event that comes within timeout_ms (-1, the default: no end; 0:
 * what is ready now), batch after batch of at most max. Polls once here
 * (see e:poll), so a loop with timeout 0 hands out one batch; raises if
 * polling fails, since a for loop has no place for nil, message. by_ref:
 * payload lengths instead of strings (see the top of this file). */
static int l_events(lua_State *L)
{
    lengine *e = check_engine(L, 1);
    int timeout_ms, max;
    check_poll_args(L, 2, &timeout_ms, &max);
    check_by_ref(L, e, 4);
    e->loop_deadline_ms = timeout_ms < 0 ? -1 : lnet_now_ms() + timeout_ms;
    e->loop_max = max;
    int n = fill(L, e, timeout_ms, max);
    if (n < 0)
        return luaL_error(L, "net poll failed: %s (%d)", net_strerror(n), n);
    lua_pushvalue(L, lua_upvalueindex(2)); /* the step function */
    lua_pushvalue(L, 1);
    return 2;
}

/* e:poll_into(types, handles, args, users [, timeout_ms [, max]]) -> count
 * Fills four reusable arrays from 1 to count instead of handing events out
 * one call at a time: type, handle, arg and user as e:next() gives them
 * (ACCEPT/CONNECT/CLOSE/DATAGRAM/ERROR extras are left out: a DATAGRAM's
 * sender is only in e:next's shape). */
static int l_poll_into(lua_State *L)
{
    lengine *e = check_engine(L, 1);
    for (int i = 2; i <= 5; i++)
        lnet_checktype(L, i, LUA_TTABLE);
    int timeout_ms, max;
    check_poll_args(L, 6, &timeout_ms, &max);
    int n = fill(L, e, timeout_ms, max);
    if (n < 0)
        return lnet_fail(L, n);
    for (int i = 1; i <= n; i++) {
        const net_event *ev = &e->ev[e->next++];
        lua_pushinteger(L, ev->type);
        lua_rawseti(L, 2, i);
        lua_pushinteger(L, (lua_Integer)ev->handle);
        lua_rawseti(L, 3, i);
        switch (ev->type) {
        case NET_EV_DATA:
        case NET_EV_DATAGRAM:
            lua_pushlstring(L, (const char *)ev->data, ev->len);
            break;
        case NET_EV_ACCEPT:
            lua_pushinteger(L, (lua_Integer)ev->parent);
            break;
        case NET_EV_SEND_HIGHWATER:
        case NET_EV_SEND_DRAINED:
            lua_pushinteger(L, ev->len);
            break;
        case NET_EV_USER:
            lua_pushinteger(L, (lua_Integer)ev->user);
            break;
        default:
            lua_pushinteger(L, ev->status);
        }
        lua_rawseti(L, 4, i);
        lua_pushinteger(L, (lua_Integer)ev->user);
        lua_rawseti(L, 5, i);
    }
    e->current = -1; /* a whole batch at once: no one event is the current one */
    lua_pushinteger(L, n);
    return 1;
}

/* ---- payloads by reference ---- */

/* The DATA or DATAGRAM event handed out last, its payload still valid (no
 * poll since); raises, naming the calling method, otherwise. */
static const net_event *current_payload_event(lua_State *L, lengine *e)
{
    if (!e->id)
        check_engine(L, 1); /* raises: closed */
    const net_event *ev = e->current >= 0 ? &e->ev[e->current] : NULL;
    if (!ev || (ev->type != NET_EV_DATA && ev->type != NET_EV_DATAGRAM)) {
        int is_method;
        const char *name = lnet_function_name(L, &is_method);
        luaL_error(L, "'%s': the last event handed out is no DATA or DATAGRAM (or a poll came since)", name);
    }
    return ev;
}

/* e:payload() -> string: the payload of the DATA or DATAGRAM event handed
 * out last, for a script that reads events by reference. */
static int l_payload(lua_State *L)
{
    const net_event *ev = current_payload_event(L, iter_engine(L));
    lua_pushlstring(L, (const char *)ev->data, ev->len);
    return 1;
}

/* e:forward([h]) -> true | nil, message, code
 * Sends the payload of the DATA or DATAGRAM event handed out last to h,
 * as net.send(h, payload) would, without making it a Lua string: h
 * defaults to the event's own handle, which echoes a DATA to its
 * connection and answers a DATAGRAM to its sender (net_sendto). Failures
 * are net.send's (E_CLOSED, E_WOULDBLOCK...), at once. */
static int l_forward(lua_State *L)
{
    lengine *e = iter_engine(L);
    const net_event *ev = current_payload_event(L, e);
    if (ev->len > 0 && !ev->data)
        return lnet_fail(L, NET_E_INVAL);
    const void *data = ev->len ? ev->data : "";
    if (!lua_isnoneornil(L, 2))
        return lnet_push_ok(L, net_send((net_handle)lnet_checkinteger(L, 2), data, ev->len));
    if (ev->type == NET_EV_DATAGRAM)
        return lnet_push_ok(L, net_sendto(ev->handle, &ev->addr, data, ev->len));
    return lnet_push_ok(L, net_send(ev->handle, data, ev->len));
}

/* A failed item of e:forward_data, noted in memory taken before the sends,
 * so that no allocation can fail between the sends and the batch's
 * compaction (a raise there would leave sent events in the batch). */
typedef struct forward_failure {
    net_handle handle;
    int code;
} forward_failure;

/* e:forward_data([h]) -> count [, failures]
 * The bulk form of e:forward(): sends the payload of every DATA event of
 * the current batch not handed out yet to its own connection (or to h), in
 * order, and takes them out of the batch: e:next() and e:events() go on
 * with the other events, in their order. count: the payloads queued;
 * failures, only when some failed: {handle, code, handle, code, ...} in
 * order (E_CLOSED, E_WOULDBLOCK... as net.send reports them). One
 * net_forward_data call does the sends. */
static int l_forward_data(lua_State *L)
{
    lengine *e = iter_engine(L);
    if (!e->id)
        check_engine(L, 1); /* raises: closed */
    int to_given = !lua_isnoneornil(L, 2);
    net_handle to = to_given ? (net_handle)lnet_checkinteger(L, 2) : 0;
    lua_settop(L, 2);
    int left = e->n - e->next;
    if (left == 0) {
        lua_pushinteger(L, 0);
        return 1;
    }
    /* One block: the results (an even count of ints, so that the failures
     * after them are aligned), then the failures. */
    int *res = lua_newuserdatauv(L, (size_t)(left + 1) * sizeof(int) + (size_t)left * sizeof(forward_failure), 0);
    forward_failure *failed = (forward_failure *)(void *)(res + left + (left & 1));
    net_event *ev = e->ev + e->next;
    if (to_given && to == 0) {
        /* net_forward_data reads 0 as "back to each sender"; here it is the
         * handle asked for, which no connection has. */
        for (int i = 0; i < left; i++)
            res[i] = ev[i].type != NET_EV_DATA ? 1 : ev[i].len && !ev[i].data ? NET_E_INVAL : NET_E_BADHANDLE;
    } else {
        net_forward_data(ev, left, to, res);
    }
    int sent = 0, nfailed = 0, kept = e->next;
    for (int i = 0; i < left; i++) {
        if (res[i] == 1) {
            e->ev[kept++] = ev[i]; /* the others move up, in order */
        } else if (res[i] == 0) {
            sent++;
        } else {
            failed[nfailed].handle = to_given ? to : ev[i].handle;
            failed[nfailed++].code = res[i];
        }
    }
    e->n = kept;
    e->current = -1;
    lua_pushinteger(L, sent);
    if (!nfailed)
        return 1;
    lua_createtable(L, 2 * nfailed, 0);
    for (int k = 0; k < nfailed; k++) {
        lua_pushinteger(L, (lua_Integer)failed[k].handle);
        lua_rawseti(L, -2, 2 * k + 1);
        lua_pushinteger(L, failed[k].code);
        lua_rawseti(L, -2, 2 * k + 2);
    }
    return 2;
}

static const luaL_Reg engine_methods[] = {{"close", l_engine_close},
                                          {"backend", l_backend},
                                          {"listen", l_listen},
                                          {"connect", l_connect},
                                          {"udp_open", l_udp_open},
                                          {"timer", l_timer},
                                          {"post", l_post},
                                          {"wakeup", l_wakeup},
                                          {"waitable", l_waitable},
                                          {"stats", l_stats},
                                          {"poll", l_poll},
                                          {"poll_into", l_poll_into},
                                          {"rudp_listen", l_rudp_listen},
                                          {"rudp_connect", l_rudp_connect},
                                          {NULL, NULL}};

static const luaL_Reg engine_meta[] = {
    {"__gc", l_engine_gc}, {"__close", l_engine_gc}, {"__tostring", l_engine_tostring}, {NULL, NULL}};

/* Pushes fn as a closure over the metatable at mt and the cache at cache:
 * the per-event functions (see iter_engine). */
static void push_per_event(lua_State *L, lua_CFunction fn, int mt, int cache)
{
    lua_pushvalue(L, mt);
    lua_pushvalue(L, cache);
    lua_pushcclosure(L, fn, 2);
}

void lnet_engine_open(lua_State *L)
{
    engine_cache *c = lua_newuserdatauv(L, sizeof *c, 0);
    c->last = NULL;
    int cache = lua_gettop(L);
    luaL_newmetatable(L, LNET_ENGINE_MT);
    int mt = lua_gettop(L);
    lua_pushvalue(L, cache); /* upvalue 1 of __gc and __close */
    luaL_setfuncs(L, engine_meta, 1);
    luaL_newlib(L, engine_methods);

    push_per_event(L, l_next, mt, cache);
    lua_setfield(L, -2, "next");
    push_per_event(L, l_payload, mt, cache);
    lua_setfield(L, -2, "payload");
    push_per_event(L, l_forward, mt, cache);
    lua_setfield(L, -2, "forward");
    push_per_event(L, l_forward_data, mt, cache);
    lua_setfield(L, -2, "forward_data");

    push_per_event(L, l_events_step, mt, cache); /* the loop's step */
    lnet_name_function(L, -1, "events");
    lua_pushvalue(L, -3); /* events: upvalue 1 the metatable, 2 the step */
    lua_insert(L, -2);
    lua_pushcclosure(L, l_events, 2);
    lua_setfield(L, -2, "events");

    lnet_name_functions(L, -1, "");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 2); /* the metatable, the cache */
}
