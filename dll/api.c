/* api.c - the handle-taking calls: each finds its engine and slot, checks
 * the type, and works under the slot lock. Safe from any thread. */
#include <stdlib.h>
#include <string.h>
#include "testhooks.h"
#include "core.h"

#define CONN NET__TBIT(NET__T_CONN)
#define LISTENER NET__TBIT(NET__T_LISTENER)
#define TIMER NET__TBIT(NET__T_TIMER)
#define UDP NET__TBIT(NET__T_UDP)
#define RUDP NET__TBIT(NET__T_RUDP)
#define RUDP_LISTENER NET__TBIT(NET__T_RUDP_LISTENER)

/* ---- sending ---- */

/* Below this a payload is copied into the send queue: a copy of a few
 * dozen bytes costs less than looking for the block it came from. */
#define SEND_REF_MIN 256

int net__conn_queue_payload(net_engine_s *e, net_conn *c, const void *data, uint32_t len, int borrowed, int hold)
{
    net_block *held = NULL;
    if (borrowed && len >= SEND_REF_MIN) {
        if (!net__conn_queue_continued(c, data, len, hold))
            return 0;
        held = net__held_lookup(e, data, len);
    }
    if (held)
        return net__conn_queue(c, NULL, 0, held, data, len, hold);
    net_buf b = {data, len};
    return net__conn_queue(c, &b, 1, NULL, NULL, 0, hold);
}

/* One message to a connection (net_sendv). */
static int conn_send(net_engine_s *e, net_conn *c, const net_buf *bufs, uint32_t count)
{
    if (count != 1 || bufs[0].len < SEND_REF_MIN || bufs[0].len > UINT32_MAX)
        return net__conn_queue(c, bufs, count, NULL, NULL, 0, 0);
    int borrowed = net__held_borrow(e);
    int rc = net__conn_queue_payload(e, c, bufs[0].data, (uint32_t)bufs[0].len, borrowed, 0);
    if (borrowed)
        net__held_end(e);
    return rc;
}

NET_API int net_sendv(net_handle h, const net_buf *bufs, uint32_t count)
{
    net_locked l;
    int rc = net__lock_handle(h, CONN | UDP | RUDP, &l);
    if (rc)
        return rc;
    if (!bufs && count)
        rc = NET_E_INVAL;
    else if (net_handle_type(h) == NET__T_RUDP)
        rc = net__rudp_queue(l.slot->obj, 0, NET_RUDP_RELIABLE_ORDERED, bufs, count);
    else if (net_handle_type(h) == NET__T_UDP)
        rc = net__udp_queue(l.slot->obj, NULL, bufs, count);
    else
        rc = conn_send(l.e, l.slot->obj, bufs, count);
    net__unlock_handle(&l);
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
        net_locked l;
        int rc = net__lock_handle(conns[i], CONN, &l);
        if (rc == 0) {
            rc = net__conn_queue(l.slot->obj, NULL, 0, shared, shared->data, len, 0);
            net__unlock_handle(&l);
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

static int close_timer(net_locked *l)
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
    net_locked l;
    int rc = net__lock_handle(h, CONN | LISTENER | TIMER | UDP | RUDP | RUDP_LISTENER, &l);
    if (rc)
        return rc;
    uint32_t type = net_handle_type(h);
    if (type == NET__T_TIMER)
        return close_timer(&l);
    if (type == NET__T_RUDP) {
        net__rudp_close_locked(l.slot->obj, 0);
    } else if (type == NET__T_RUDP_LISTENER) {
        net__rudp_listener_close_locked(l.slot->obj, 0);
    } else if (type == NET__T_UDP) {
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
    net__unlock_handle(&l);
    return 0;
}

NET_API int net_abort(net_handle h)
{
    net_locked l;
    int rc = net__lock_handle(h, CONN | UDP | RUDP | RUDP_LISTENER, &l);
    if (rc)
        return rc;
    if (net_handle_type(h) == NET__T_RUDP || net_handle_type(h) == NET__T_RUDP_LISTENER) {
        if (net_handle_type(h) == NET__T_RUDP)
            net__rudp_close_locked(l.slot->obj, 1);
        else
            net__rudp_listener_close_locked(l.slot->obj, 1);
        net__unlock_handle(&l);
        return 0;
    }
    if (net_handle_type(h) == NET__T_UDP) {
        net_udp *u = l.slot->obj;
        if (u->state != US_CLOSED) {
            u->state = US_CLOSING;
            u->abort_requested = 1;
            net__udp_schedule_locked(u, OP_ABORT);
        }
        net__unlock_handle(&l);
        return 0;
    }
    net_conn *c = l.slot->obj;
    if (c->state != CS_CLOSED) {
        c->state = CS_CLOSING;
        c->abort_requested = 1;
        net__conn_schedule_locked(c, OP_ABORT);
    }
    net__unlock_handle(&l);
    return 0;
}

NET_API int net_shutdown(net_handle h)
{
    net_locked l;
    int rc = net__lock_handle(h, CONN, &l);
    if (rc)
        return rc;
    net_conn *c = l.slot->obj;
    if (c->state != CS_OPEN && c->state != CS_CONNECTING)
        rc = NET_E_CLOSED;
    else if (!c->shutdown_requested) {
        c->shutdown_requested = 1;
        net__conn_schedule_locked(c, OP_SHUTDOWN);
    }
    net__unlock_handle(&l);
    return rc;
}

/* ---- user data ---- */

NET_API int net_set_user(net_handle h, uint64_t user)
{
    net_locked l;
    int rc = net__lock_handle(h, CONN | LISTENER | TIMER | UDP | RUDP | RUDP_LISTENER, &l);
    if (rc)
        return rc;
    if (net_handle_type(h) == NET__T_TIMER)
        atomic_store(&((net_timer *)l.slot->obj)->user, user);
    else
        atomic_store(&((net_obj *)l.slot->obj)->user, user);
    net__unlock_handle(&l);
    return 0;
}

NET_API int net_get_user(net_handle h, uint64_t *user)
{
    if (!user)
        return NET_E_INVAL;
    net_locked l;
    int rc = net__lock_handle(h, CONN | LISTENER | TIMER | UDP | RUDP | RUDP_LISTENER, &l);
    if (rc)
        return rc;
    if (net_handle_type(h) == NET__T_TIMER)
        *user = atomic_load(&((net_timer *)l.slot->obj)->user);
    else
        *user = atomic_load(&((net_obj *)l.slot->obj)->user);
    net__unlock_handle(&l);
    return 0;
}

/* ---- addresses and queue ---- */

NET_API int net_local_addr(net_handle h, net_addr *addr)
{
    if (!addr)
        return NET_E_INVAL;
    net_locked l;
    int rc = net__lock_handle(h, CONN | LISTENER | UDP | RUDP | RUDP_LISTENER, &l);
    if (rc)
        return rc;
    net_obj *o = l.slot->obj;
    if (o->kind == OBJ_RUDP)
        rc = net__rudp_local_addr_locked(l.slot->obj, addr);
    else
        rc = net__obj_socket_usable(o) ? os_sock_local_addr(o->sock, addr) : NET_E_CLOSED;
    net__unlock_handle(&l);
    return rc;
}

NET_API int net_peer_addr(net_handle h, net_addr *addr)
{
    if (!addr)
        return NET_E_INVAL;
    net_locked l;
    int rc = net__lock_handle(h, CONN | UDP | RUDP, &l);
    if (rc)
        return rc;
    if (net_handle_type(h) == NET__T_RUDP) {
        rc = net__rudp_peer_addr_locked(l.slot->obj, addr);
        net__unlock_handle(&l);
        return rc;
    }
    if (net_handle_type(h) == NET__T_UDP) {
        net_udp *u = l.slot->obj;
        if (u->state != US_OPEN)
            rc = NET_E_CLOSED;
        else if (!u->connected)
            rc = NET_E_NOTCONN;
        else
            *addr = u->peer;
        net__unlock_handle(&l);
        return rc;
    }
    net_conn *c = l.slot->obj;
    if (c->state == CS_CONNECTING)
        rc = NET_E_NOTCONN;
    else if (c->state != CS_OPEN)
        rc = NET_E_CLOSED;
    else
        *addr = c->peer; /* known since ACCEPT or CONNECT, even after the peer is gone */
    net__unlock_handle(&l);
    return rc;
}

NET_API int net_send_queued(net_handle h, uint64_t *bytes)
{
    if (!bytes)
        return NET_E_INVAL;
    net_locked l;
    int rc = net__lock_handle(h, CONN | UDP | RUDP, &l);
    if (rc)
        return rc;
    if (net_handle_type(h) == NET__T_RUDP)
        *bytes = net__rudp_queued_locked(l.slot->obj);
    else if (net_handle_type(h) == NET__T_UDP)
        *bytes = ((net_udp *)l.slot->obj)->sq.bytes;
    else
        *bytes = ((net_conn *)l.slot->obj)->sq.bytes;
    net__unlock_handle(&l);
    return 0;
}

/* ---- timers ---- */

/* Arms tm under its slot lock, so a close from another thread waits. */
static int arm_timer(net_engine_s *e, net_timer *tm)
{
    net_slot *slot;
    int rc = net__reserve_events(e, NET_TIMER_EVENTS);
    if (rc)
        return rc;
    if ((rc = net_handle_alloc(&e->handles, NET__T_TIMER, tm, &tm->handle, &slot)) != 0) {
        net__unreserve_events(e, NET_TIMER_EVENTS);
        return rc;
    }
    net_slot_lock(slot);
    net_spin_lock(&e->timers.lock);
    rc = net_timers_add(&e->timers, tm);
    net_spin_unlock(&e->timers.lock);
    if (rc) {
        net_slot_retire(&e->handles, slot);
        net__unreserve_events(e, NET_TIMER_EVENTS);
    } else {
        net_slot_unlock(slot);
    }
    return rc;
}

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
        rc = arm_timer(e, tm);
    }
    if (rc == 0) {
        *out = tm->handle;
        net__waitable_timers_changed(e);
        if (!net__on_poll_thread(e))
            net__wake_poller(e);
    } else {
        free(tm);
    }
    net__engine_leave(e);
    return rc;
}
