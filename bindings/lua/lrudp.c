/*
 * lrudp.c - reliable-UDP sessions in the Lua binding: the options table of
 * e:rudp_listen / e:rudp_connect (read here, opened in lengine.c like the
 * other sockets), net.rudp_send, net.rudp_stats and the delivery modes.
 *
 * A session is a handle like a connection: ACCEPT, CONNECT, CLOSE events
 * as TCP's, DATA events with the channel as the fifth value (type, handle,
 * payload, user, channel), net.send (channel 0, reliable-ordered),
 * net.close (graceful), net.abort. Modes are the integers net.RELIABLE_ORDERED,
 * net.RELIABLE_UNORDERED, net.UNRELIABLE_SEQUENCED and net.UNRELIABLE, or
 * their names "reliable_ordered", ... as strings.
 */
#include <string.h>

#include "lnet.h"

#define check_handle(L, arg) ((net_handle)lnet_checkinteger(L, arg))

typedef struct rudp_uint_field {
    const char *name;
    size_t offset;
} rudp_uint_field;

static const rudp_uint_field rudp_fields[] = {{"channels", offsetof(net_rudp_config, channels)},
                                              {"mtu", offsetof(net_rudp_config, mtu)},
                                              {"max_message", offsetof(net_rudp_config, max_message)},
                                              {"send_cap", offsetof(net_rudp_config, send_cap)},
                                              {"recv_window", offsetof(net_rudp_config, recv_window)},
                                              {"max_sessions", offsetof(net_rudp_config, max_sessions)},
                                              {"connect_timeout_ms", offsetof(net_rudp_config, connect_timeout_ms)},
                                              {"idle_timeout_ms", offsetof(net_rudp_config, idle_timeout_ms)},
                                              {"keepalive_ms", offsetof(net_rudp_config, keepalive_ms)},
                                              {"close_timeout_ms", offsetof(net_rudp_config, close_timeout_ms)},
                                              {"rto_min_ms", offsetof(net_rudp_config, rto_min_ms)},
                                              {"rto_max_ms", offsetof(net_rudp_config, rto_max_ms)},
                                              {"cookie_period_ms", offsetof(net_rudp_config, cookie_period_ms)},
                                              {NULL, 0}};

int lnet_rudp_field(lua_State *L, int arg, const char *name, void *out)
{
    net_rudp_config *rc = out;
    if (strcmp(name, "user") == 0) {
        int isnum;
        rc->user = (uint64_t)lua_tointegerx(L, -1, &isnum);
        if (!isnum)
            lnet_argerror(L, arg, "field 'user' must be an integer");
        return 1;
    }
    for (const rudp_uint_field *f = rudp_fields; f->name; f++)
        if (strcmp(f->name, name) == 0) {
            lnet_opt_uint_field(L, arg, -1, name, UINT32_MAX, (uint32_t *)(void *)((char *)rc + f->offset));
            return 1;
        }
    return 0;
}

/* Mode names, in NET_RUDP_* order. */
static const char *const mode_names[] = {"reliable_ordered", "reliable_unordered", "unreliable_sequenced", "unreliable",
                                         NULL};

/* The mode at arg: a name, or an integer passed through (the library
 * refuses unknown ones with E_INVAL, as in C). */
static uint32_t check_mode(lua_State *L, int arg)
{
    if (lua_type(L, arg) == LUA_TSTRING)
        return (uint32_t)lnet_checkoption(L, arg, mode_names);
    lua_Integer m = lnet_checkinteger(L, arg);
    if (m < 0 || m > (lua_Integer)UINT32_MAX)
        lnet_argerror(L, arg, "mode out of range");
    return (uint32_t)m;
}

/* net.rudp_send(session, channel, mode, data) -> true | nil, message, code */
static int l_rudp_send(lua_State *L)
{
    net_handle h = check_handle(L, 1);
    lua_Integer channel = lnet_checkinteger(L, 2);
    uint32_t mode = check_mode(L, 3);
    size_t len;
    const char *data = lnet_checklstring(L, 4, &len);
    if (channel < 0 || channel > (lua_Integer)UINT32_MAX)
        return lnet_argerror(L, 2, "channel out of range");
    if (len > UINT32_MAX)
        return lnet_argerror(L, 4, "message too long");
    return lnet_push_ok(L, net_rudp_send(h, (uint32_t)channel, mode, data, (uint32_t)len));
}

static const char *const stats_names[] = {"rtt_us",
                                          "rttvar_us",
                                          "rto_ms",
                                          "cwnd",
                                          "bytes_in_flight",
                                          "send_queued",
                                          "peer_window",
                                          "packets_sent",
                                          "packets_received",
                                          "retransmits",
                                          "packets_lost",
                                          "duplicates_dropped",
                                          "messages_sent",
                                          "messages_received",
                                          "bytes_sent",
                                          "bytes_received",
                                          "sessions",
                                          "handshakes",
                                          "cookies_rejected",
                                          "sessions_refused",
                                          "datagrams_dropped",
                                          "checksum_failures"};

/* net.rudp_stats(h [, t]) -> t | nil, message, code: a session's figures or
 * a listener's, into t (reused) or a new table. */
static int l_rudp_stats(lua_State *L)
{
    net_handle h = check_handle(L, 1);
    net_rudp_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    int rc = net_rudp_get_stats(h, &s);
    if (rc < 0)
        return lnet_fail(L, rc);
    const uint64_t v[] = {s.rtt_us,
                          s.rttvar_us,
                          s.rto_ms,
                          s.cwnd,
                          s.bytes_in_flight,
                          s.send_queued,
                          s.peer_window,
                          s.packets_sent,
                          s.packets_received,
                          s.retransmits,
                          s.packets_lost,
                          s.duplicates_dropped,
                          s.messages_sent,
                          s.messages_received,
                          s.bytes_sent,
                          s.bytes_received,
                          s.sessions,
                          s.handshakes,
                          s.cookies_rejected,
                          s.sessions_refused,
                          s.datagrams_dropped,
                          s.checksum_failures};
    _Static_assert(sizeof v / sizeof v[0] == sizeof stats_names / sizeof stats_names[0], "one name per field");
    if (lua_isnoneornil(L, 2))
        lua_createtable(L, 0, (int)(sizeof v / sizeof v[0]));
    else {
        lnet_checktype(L, 2, LUA_TTABLE);
        lua_settop(L, 2);
    }
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        lua_pushinteger(L, (lua_Integer)v[i]);
        lua_setfield(L, -2, stats_names[i]);
    }
    return 1;
}

static const luaL_Reg rudp_funcs[] = {{"rudp_send", l_rudp_send}, {"rudp_stats", l_rudp_stats}, {NULL, NULL}};

void lnet_rudp_open(lua_State *L)
{
    luaL_setfuncs(L, rudp_funcs, 0);
    static const struct {
        const char *name;
        int value;
    } modes[] = {{"RELIABLE_ORDERED", NET_RUDP_RELIABLE_ORDERED},
                 {"RELIABLE_UNORDERED", NET_RUDP_RELIABLE_UNORDERED},
                 {"UNRELIABLE_SEQUENCED", NET_RUDP_UNRELIABLE_SEQUENCED},
                 {"UNRELIABLE", NET_RUDP_UNRELIABLE},
                 {"RUDP_MAX_CHANNELS", (int)NET_RUDP_MAX_CHANNELS}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        lua_pushinteger(L, modes[i].value);
        lua_setfield(L, -2, modes[i].name);
    }
}
