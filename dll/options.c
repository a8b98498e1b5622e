/* options.c - net_set_option and net_get_option: who keeps an option (the
 * core, in the object, or the OS, on the socket), and the ones the core
 * keeps for connections and UDP sockets. */
#include "core.h"

enum { KEPT_BY_NOBODY, KEPT_BY_CORE, KEPT_BY_OS };

/* Who keeps option for an object of kind; nobody means NET_E_INVAL. The
 * OS judges the options the core does not know. */
static int option_keeper(uint32_t kind, int option)
{
    switch (option) {
    case NET_OPT_SEND_CAP:
        return kind == OBJ_LISTENER ? KEPT_BY_NOBODY : KEPT_BY_CORE;
    case NET_OPT_HIGHWATER:
    case NET_OPT_LOWWATER:
    case NET_OPT_IDLE_TIMEOUT:
    case NET_OPT_SEND_HELD:
        return kind == OBJ_CONN ? KEPT_BY_CORE : KEPT_BY_NOBODY;
    case NET_OPT_MAX_DATAGRAM:
    case NET_OPT_DROPPED:
    case NET_OPT_ERRORS_DROPPED:
        return kind == OBJ_UDP ? KEPT_BY_CORE : KEPT_BY_NOBODY;
    case NET_OPT_BROADCAST:
        return kind == OBJ_UDP ? KEPT_BY_OS : KEPT_BY_NOBODY;
    case NET_OPT_SNDBUF:
    case NET_OPT_RCVBUF:
    case NET_OPT_REUSEADDR:
        return KEPT_BY_OS;
    default:
        return kind == OBJ_UDP ? KEPT_BY_NOBODY : KEPT_BY_OS;
    }
}

static int conn_set(net_conn *c, int option, int64_t value)
{
    if (value < 0 || value > UINT32_MAX)
        return NET_E_INVAL;
    uint32_t v = (uint32_t)value;
    if (option == NET_OPT_SEND_CAP)
        c->sq.send_cap = v;
    else if (option == NET_OPT_IDLE_TIMEOUT)
        atomic_store(&c->idle_ms, v);
    /* The low-water mark may not pass the high one (as in net_engine_create). */
    else if (option == NET_OPT_HIGHWATER && v >= c->lowwater)
        c->highwater = v;
    else if (option == NET_OPT_LOWWATER && v <= c->highwater)
        c->lowwater = v;
    else
        return NET_E_INVAL;
    return 0;
}

static void conn_get(net_conn *c, int option, int64_t *value)
{
    *value = option == NET_OPT_SEND_CAP    ? c->sq.send_cap
             : option == NET_OPT_HIGHWATER ? c->highwater
             : option == NET_OPT_LOWWATER  ? c->lowwater
             : option == NET_OPT_SEND_HELD ? (int64_t)c->pinned
                                           : atomic_load(&c->idle_ms);
}

static int udp_set(net_udp *u, int option, int64_t value)
{
    if (option == NET_OPT_SEND_CAP && value >= 0 && value <= UINT32_MAX) {
        u->sq.send_cap = (uint32_t)value;
        return 0;
    }
    /* Up to what the receive buffers were sized for at open. */
    if (option == NET_OPT_MAX_DATAGRAM && value >= 1 && value <= u->rx_max) {
        atomic_store(&u->max_datagram, (uint32_t)value);
        return 0;
    }
    return NET_E_INVAL; /* out of range, or read only */
}

static void udp_get(net_udp *u, int option, int64_t *value)
{
    *value = option == NET_OPT_SEND_CAP       ? u->sq.send_cap
             : option == NET_OPT_MAX_DATAGRAM ? atomic_load(&u->max_datagram)
             : option == NET_OPT_DROPPED      ? (int64_t)atomic_load(&u->dropped)
                                              : (int64_t)atomic_load(&u->errors_dropped);
}

/* net_set_option (set: *value is the new value) and net_get_option. */
static int option_call(net_handle h, int option, int64_t *value, int set)
{
    net_locked l;
    int rc = net__lock_handle(h, NET__TBIT(OBJ_CONN) | NET__TBIT(OBJ_LISTENER) | NET__TBIT(OBJ_UDP), &l);
    if (rc)
        return rc;
    net_obj *o = l.slot->obj;
    switch (option_keeper(o->kind, option)) {
    case KEPT_BY_CORE:
        if (set)
            rc = o->kind == OBJ_UDP ? udp_set((net_udp *)o, option, *value) : conn_set((net_conn *)o, option, *value);
        else if (o->kind == OBJ_UDP)
            udp_get((net_udp *)o, option, value);
        else
            conn_get((net_conn *)o, option, value);
        break;
    case KEPT_BY_OS:
        if (!net__obj_socket_usable(o))
            rc = NET_E_CLOSED;
        else
            rc = set ? os_sock_set_option(o->sock, option, *value, NULL)
                     : os_sock_get_option(o->sock, option, value, NULL);
        break;
    default:
        rc = NET_E_INVAL;
    }
    net__unlock_handle(&l);
    return rc;
}

NET_API int net_set_option(net_handle h, int option, int64_t value)
{
    return option_call(h, option, &value, 1);
}

NET_API int net_get_option(net_handle h, int option, int64_t *value)
{
    return value ? option_call(h, option, value, 0) : NET_E_INVAL;
}
