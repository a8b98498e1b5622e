/* api.c - the handle-taking calls: each finds its engine and slot, checks
 * the type, and works under the slot lock. Safe from any thread. */
#include <stdlib.h>
#include <string.h>
#include "testhooks.h"
#include "core.h"

typedef struct locked {
    net_engine_s *e;
    net_slot *slot;
} locked;

static int lock_handle(net_handle h, uint32_t type_mask, locked *out)
{
    out->e = net__engine_enter_for(h);
    if (!out->e)
        return NET_E_BADHANDLE;
    out->slot = net_handle_lock(&out->e->handles, h, type_mask);
    if (!out->slot) {
        net__engine_leave(out->e);
        return NET_E_BADHANDLE;
    }
    return 0;
}

static void unlock_handle(locked *l)
{
    net_slot_unlock(l->slot);
    net__engine_leave(l->e);
}

#define CONN NET__TBIT(NET__T_CONN)
#define LISTENER NET__TBIT(NET__T_LISTENER)
#define TIMER NET__TBIT(NET__T_TIMER)
#define UDP NET__TBIT(NET__T_UDP)

/* ---- sending ---- */

NET_API int net_sendv(net_handle h, const net_buf *bufs, uint32_t count)
{
    locked l;
    int rc = lock_handle(h, CONN | UDP, &l);
    if (rc)
        return rc;
    if (!bufs && count)
        rc = NET_E_INVAL;
    else if (net_handle_type(h) == NET__T_UDP)
        rc = net__udp_queue(l.slot->obj, NULL, bufs, count);
    else
        rc = net__conn_queue(l.slot->obj, bufs, count, NULL, 0);
    unlock_handle(&l);
    return rc;
}

NET_API int net_send(net_handle h, const void *data, uint32_t len)
{
    if (!data && len)
        return NET_E_INVAL;
    net_buf b = {data, len};
    return net_sendv(h, &b, 1);
}

NET_API int net_broadcast(const net_handle *conns, uint32_t count, const void *data, uint32_t len, int *results)
{
    if ((!conns && count) || (!data && len))
        return NET_E_INVAL;
    net_block *shared = net_block_from(data, len);
    if (!shared)
        return NET_E_NOMEM;
    int queued = 0;
    for (uint32_t i = 0; i < count; i++) {
        locked l;
        int rc = lock_handle(conns[i], CONN, &l);
        if (rc == 0) {
            rc = net__conn_queue(l.slot->obj, NULL, 0, shared, len);
            unlock_handle(&l);
        }
        if (rc == 0)
            queued++;
        if (results)
            results[i] = rc;
    }
    net_block_unref(shared, 1);
    return queued;
}

/* ---- closing ---- */

static int close_timer(locked *l)
{
    net_timer *tm = l->slot->obj;
    net_spin_lock(&l->e->timers.lock);
    net_timers_remove(&l->e->timers, tm);
    int waiting = tm->queued;
    net_spin_unlock(&l->e->timers.lock);
    net_slot_retire(&l->e->handles, l->slot);
    if (!waiting) /* else the poller gives the room up when it meets the stale event */
        net__unreserve_events(l->e, NET_TIMER_EVENTS);
    net__engine_leave(l->e);
    free(tm);
    return 0;
}

NET_API int net_close(net_handle h)
{
    locked l;
    int rc = lock_handle(h, CONN | LISTENER | TIMER | UDP, &l);
    if (rc)
        return rc;
    uint32_t type = net_handle_type(h);
    if (type == NET__T_TIMER)
        return close_timer(&l);
    if (type == NET__T_UDP) {
        net_udp *u = l.slot->obj;
        if (u->state == US_OPEN) {
            u->state = US_CLOSING;
            net__udp_schedule_locked(u, OP_CLOSE);
        }
    } else if (type == NET__T_LISTENER) {
        net_listener *ls = l.slot->obj;
        if (!ls->closing) {
            ls->closing = 1;
            net__loop_schedule(ls->o.loop, &ls->o, OP_LCLOSE);
        }
    } else {
        net_conn *c = l.slot->obj;
        if (c->state == CS_OPEN || c->state == CS_CONNECTING) {
            c->state = CS_CLOSING;
            net__conn_schedule_locked(c, OP_CLOSE);
        }
    }
    unlock_handle(&l);
    return 0;
}

NET_API int net_abort(net_handle h)
{
    locked l;
    int rc = lock_handle(h, CONN | UDP, &l);
    if (rc)
        return rc;
    if (net_handle_type(h) == NET__T_UDP) {
        net_udp *u = l.slot->obj;
        if (u->state != US_CLOSED) {
            u->state = US_CLOSING;
            u->abort_requested = 1;
            net__udp_schedule_locked(u, OP_ABORT);
        }
        unlock_handle(&l);
        return 0;
    }
    net_conn *c = l.slot->obj;
    if (c->state != CS_CLOSED) {
        c->state = CS_CLOSING;
        c->abort_requested = 1;
        net__conn_schedule_locked(c, OP_ABORT);
    }
    unlock_handle(&l);
    return 0;
}

NET_API int net_shutdown(net_handle h)
{
    locked l;
    int rc = lock_handle(h, CONN, &l);
    if (rc)
        return rc;
    net_conn *c = l.slot->obj;
    if (c->state != CS_OPEN && c->state != CS_CONNECTING)
        rc = NET_E_CLOSED;
    else if (!c->shutdown_requested) {
        c->shutdown_requested = 1;
        net__conn_schedule_locked(c, OP_SHUTDOWN);
    }
    unlock_handle(&l);
    return rc;
}

/* ---- user data ---- */

NET_API int net_set_user(net_handle h, uint64_t user)
{
    locked l;
    int rc = lock_handle(h, CONN | LISTENER | TIMER | UDP, &l);
    if (rc)
        return rc;
    if (net_handle_type(h) == NET__T_TIMER)
        atomic_store(&((net_timer *)l.slot->obj)->user, user);
    else
        atomic_store(&((net_obj *)l.slot->obj)->user, user);
    unlock_handle(&l);
    return 0;
}

NET_API int net_get_user(net_handle h, uint64_t *user)
{
    if (!user)
        return NET_E_INVAL;
    locked l;
    int rc = lock_handle(h, CONN | LISTENER | TIMER | UDP, &l);
    if (rc)
        return rc;
    if (net_handle_type(h) == NET__T_TIMER)
        *user = atomic_load(&((net_timer *)l.slot->obj)->user);
    else
        *user = atomic_load(&((net_obj *)l.slot->obj)->user);
    unlock_handle(&l);
    return 0;
}

/* ---- options ---- */

/* Socket calls reach the descriptor only while nobody has asked to close
 * the object: once closing, the loop may close the descriptor at any time
 * and its number may then name an unrelated socket. */
static int socket_usable(locked *l)
{
    net_obj *o = l->slot->obj;
    if (o->kind == OBJ_CONN) {
        int state = ((net_conn *)o)->state;
        return state == CS_OPEN || state == CS_CONNECTING;
    }
    if (o->kind == OBJ_UDP)
        return ((net_udp *)o)->state == US_OPEN;
    return !((net_listener *)o)->closing && o->sock != NET_BAD_SOCK;
}

/* The options a UDP socket has; the core keeps some, the OS the rest. */
static int udp_set_option(locked *l, int option, int64_t value)
{
    net_udp *u = l->slot->obj;
    switch (option) {
    case NET_OPT_SEND_CAP:
        if (value < 0 || value > UINT32_MAX)
            return NET_E_INVAL;
        u->sq.send_cap = (uint32_t)value;
        return 0;
    case NET_OPT_MAX_DATAGRAM: /* up to what the receive buffers were sized for at open */
        if (value < 1 || value > u->rx_max)
            return NET_E_INVAL;
        atomic_store(&u->max_datagram, (uint32_t)value);
        return 0;
    case NET_OPT_SNDBUF:
    case NET_OPT_RCVBUF:
    case NET_OPT_REUSEADDR:
    case NET_OPT_BROADCAST:
        return socket_usable(l) ? os_sock_set_option(u->o.sock, option, value, NULL) : NET_E_CLOSED;
    default:
        return NET_E_INVAL;
    }
}

static int udp_get_option(locked *l, int option, int64_t *value)
{
    net_udp *u = l->slot->obj;
    switch (option) {
    case NET_OPT_SEND_CAP:
        *value = u->sq.send_cap;
        return 0;
    case NET_OPT_MAX_DATAGRAM:
        *value = atomic_load(&u->max_datagram);
        return 0;
    case NET_OPT_DROPPED:
        *value = (int64_t)atomic_load(&u->dropped);
        return 0;
    case NET_OPT_ERRORS_DROPPED:
        *value = (int64_t)atomic_load(&u->errors_dropped);
        return 0;
    case NET_OPT_SNDBUF:
    case NET_OPT_RCVBUF:
    case NET_OPT_REUSEADDR:
    case NET_OPT_BROADCAST:
        return socket_usable(l) ? os_sock_get_option(u->o.sock, option, value, NULL) : NET_E_CLOSED;
    default:
        return NET_E_INVAL;
    }
}

NET_API int net_set_option(net_handle h, int option, int64_t value)
{
    locked l;
    int rc = lock_handle(h, CONN | LISTENER | UDP, &l);
    if (rc)
        return rc;
    if (net_handle_type(h) == NET__T_UDP) {
        rc = udp_set_option(&l, option, value);
        unlock_handle(&l);
        return rc;
    }
    int is_conn = net_handle_type(h) == NET__T_CONN;
    net_conn *c = is_conn ? l.slot->obj : NULL;
    switch (option) {
    case NET_OPT_SEND_CAP:
    case NET_OPT_HIGHWATER:
    case NET_OPT_LOWWATER:
    case NET_OPT_IDLE_TIMEOUT:
        if (!c || value < 0 || value > UINT32_MAX) {
            rc = NET_E_INVAL;
            break;
        }
        if (option == NET_OPT_SEND_CAP)
            c->sq.send_cap = (uint32_t)value;
        else if (option == NET_OPT_HIGHWATER && (uint32_t)value >= c->lowwater)
            c->highwater = (uint32_t)value;
        else if (option == NET_OPT_LOWWATER && (uint32_t)value <= c->highwater)
            c->lowwater = (uint32_t)value;
        else if (option == NET_OPT_IDLE_TIMEOUT)
            atomic_store(&c->idle_ms, (uint32_t)value);
        else
            rc = NET_E_INVAL; /* the low-water mark may not pass the high one (as in net_engine_create) */
        break;
    case NET_OPT_BROADCAST:
    case NET_OPT_MAX_DATAGRAM:
    case NET_OPT_DROPPED:
    case NET_OPT_ERRORS_DROPPED:
        rc = NET_E_INVAL; /* UDP only */
        break;
    default:
        rc = socket_usable(&l) ? os_sock_set_option(((net_obj *)l.slot->obj)->sock, option, value, NULL) : NET_E_CLOSED;
    }
    unlock_handle(&l);
    return rc;
}

NET_API int net_get_option(net_handle h, int option, int64_t *value)
{
    if (!value)
        return NET_E_INVAL;
    locked l;
    int rc = lock_handle(h, CONN | LISTENER | UDP, &l);
    if (rc)
        return rc;
    if (net_handle_type(h) == NET__T_UDP) {
        rc = udp_get_option(&l, option, value);
        unlock_handle(&l);
        return rc;
    }
    net_conn *c = net_handle_type(h) == NET__T_CONN ? l.slot->obj : NULL;
    switch (option) {
    case NET_OPT_SEND_CAP:
    case NET_OPT_HIGHWATER:
    case NET_OPT_LOWWATER:
    case NET_OPT_IDLE_TIMEOUT:
        if (!c)
            rc = NET_E_INVAL;
        else
            *value = option == NET_OPT_SEND_CAP    ? c->sq.send_cap
                     : option == NET_OPT_HIGHWATER ? c->highwater
                     : option == NET_OPT_LOWWATER  ? c->lowwater
                                                   : atomic_load(&c->idle_ms);
        break;
    case NET_OPT_BROADCAST:
    case NET_OPT_MAX_DATAGRAM:
    case NET_OPT_DROPPED:
    case NET_OPT_ERRORS_DROPPED:
        rc = NET_E_INVAL; /* UDP only */
        break;
    default:
        rc = socket_usable(&l) ? os_sock_get_option(((net_obj *)l.slot->obj)->sock, option, value, NULL) : NET_E_CLOSED;
    }
    unlock_handle(&l);
    return rc;
}

/* ---- addresses and queue ---- */

NET_API int net_local_addr(net_handle h, net_addr *addr)
{
    if (!addr)
        return NET_E_INVAL;
    locked l;
    int rc = lock_handle(h, CONN | LISTENER | UDP, &l);
    if (rc)
        return rc;
    rc = socket_usable(&l) ? os_sock_local_addr(((net_obj *)l.slot->obj)->sock, addr) : NET_E_CLOSED;
    unlock_handle(&l);
    return rc;
}

NET_API int net_peer_addr(net_handle h, net_addr *addr)
{
    if (!addr)
        return NET_E_INVAL;
    locked l;
    int rc = lock_handle(h, CONN | UDP, &l);
    if (rc)
        return rc;
    if (net_handle_type(h) == NET__T_UDP) {
        net_udp *u = l.slot->obj;
        if (u->state != US_OPEN)
            rc = NET_E_CLOSED;
        else if (!u->connected)
            rc = NET_E_NOTCONN;
        else
            *addr = u->peer;
        unlock_handle(&l);
        return rc;
    }
    net_conn *c = l.slot->obj;
    if (c->state == CS_CONNECTING)
        rc = NET_E_NOTCONN;
    else if (c->state != CS_OPEN)
        rc = NET_E_CLOSED;
    else
        *addr = c->peer; /* known since ACCEPT or CONNECT, even after the peer is gone */
    unlock_handle(&l);
    return rc;
}

NET_API int net_send_queued(net_handle h, uint64_t *bytes)
{
    if (!bytes)
        return NET_E_INVAL;
    locked l;
    int rc = lock_handle(h, CONN | UDP, &l);
    if (rc)
        return rc;
    if (net_handle_type(h) == NET__T_UDP)
        *bytes = ((net_udp *)l.slot->obj)->sq.bytes;
    else
        *bytes = ((net_conn *)l.slot->obj)->sq.bytes;
    unlock_handle(&l);
    return 0;
}

/* ---- timers ---- */

NET_API int net_timer_start(net_engine eh, uint32_t delay_ms, uint32_t repeat_ms, uint64_t user, net_handle *out)
{
    if (!out)
        return NET_E_INVAL;
    *out = 0;
    net_engine_s *e = net__engine_enter(eh);
    if (!e)
        return NET_E_BADHANDLE;
    net_timer *tm = net__calloc(1, sizeof *tm);
    int rc = tm ? 0 : NET_E_NOMEM;
    if (tm) {
        tm->due = os_now_ms() + delay_ms;
        tm->repeat_ms = repeat_ms;
        atomic_init(&tm->user, user);
        net_slot *slot;
        rc = net__reserve_events(e, NET_TIMER_EVENTS);
        if (rc == 0 && (rc = net_handle_alloc(&e->handles, NET__T_TIMER, tm, &tm->handle, &slot)) != 0)
            net__unreserve_events(e, NET_TIMER_EVENTS);
        if (rc == 0) {
            /* Arm under the slot lock so a close from another thread waits. */
            net_slot_lock(slot);
            net_spin_lock(&e->timers.lock);
            rc = net_timers_add(&e->timers, tm);
            net_spin_unlock(&e->timers.lock);
            if (rc) {
                net_slot_retire(&e->handles, slot);
                net__unreserve_events(e, NET_TIMER_EVENTS);
            } else
                net_slot_unlock(slot);
        }
        if (rc)
            free(tm);
        else {
            *out = tm->handle;
            if (atomic_load(&e->poll_thread) != os_thread_self())
                net__wake_poller(e);
        }
    }
    net__engine_leave(e);
    return rc;
}
