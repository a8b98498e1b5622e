/* listener.c - listening sockets: accepting, limits, and backing off when
 * the process runs out of descriptors. */
#include <stdlib.h>
#include <string.h>
#include "testhooks.h"
#include "core.h"

#define ACCEPT_RETRY_MS 100

net_sock net__listener_sock(const net_listener *l)
{
    return l->o.sock;
}

void **net__listener_bk(net_listener *l)
{
    return &l->o.bk;
}

static void push_listener_close(net_listener *l, int status, int os_error)
{
    net_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = NET_EV_CLOSE;
    ev.status = status;
    ev.os_error = os_error;
    ev.handle = l->o.handle;
    ev.user = atomic_load(&l->o.user);
    net__push_reserved(l->o.loop->e, &ev, l);
}

/* From here on no other thread schedules work for the listener and every
 * socket call on its handle returns NET_E_CLOSED: the descriptor is about
 * to be closed, and its number may soon name somebody else's socket. */
static void mark_closing(net_listener *l)
{
    net_slot_lock(l->o.slot);
    l->closing = 1;
    net_slot_unlock(l->o.slot);
}

/* The last word on a listener: after its CLOSE is queued the poller may
 * free it, so it must be on no list of the loop's any more. */
static void finish(net_loop *loop, net_listener *l, int status, int os_error)
{
    net_list_remove(&l->o.node);
    net__loop_unschedule(loop, &l->o);
    net_slot_lock(l->o.slot);
    l->o.sock = NET_BAD_SOCK;
    net_slot_unlock(l->o.slot);
    push_listener_close(l, status, os_error);
}

void net__listener_released(net_listener *l)
{
    finish(l->o.loop, l, 0, 0);
}

void net__listener_run_ops(net_loop *loop, net_listener *l, uint32_t ops)
{
    const net_backend *bk = loop->e->bk;
    if (l->closed)
        return;
    if (ops & OP_LISTEN) {
        int rc = bk->listener_open(loop, l);
        if (rc) {
            int os_error = os_last_error();
            mark_closing(l);
            l->closed = 1;
            os_sock_close(l->o.sock);
            finish(loop, l, rc, os_error);
            return;
        }
        net_list_push(&loop->listeners, &l->o.node);
        l->accepting = 1;
        bk->accept_start(loop, l);
    }
    if (ops & OP_LCLOSE) {
        mark_closing(l); /* net_close set it already; teardown did not */
        if (l->accepting)
            bk->accept_stop(loop, l);
        l->accepting = 0;
        l->closed = 1;
        bk->listener_close(loop, l);
    }
}

void net__listener_close_all(net_loop *loop)
{
    for (net_link *k = loop->listeners, *next; k; k = next) {
        next = k->next;
        net__listener_run_ops(loop, (net_listener *)net__obj_of(k), OP_LCLOSE);
    }
}

void net__listener_tick(net_loop *loop, net_listener *l)
{
    if (!l->accepting && !l->closed && l->retry_at && loop->now >= l->retry_at) {
        l->retry_at = 0;
        l->accepting = 1;
        loop->e->bk->accept_start(loop, l);
    }
}

void net__accepted(net_listener *l, net_sock s, const net_addr *peer, int err, int os_error)
{
    net_loop *loop = l->o.loop;
    net_engine_s *e = loop->e;
    if (err) {
        /* Out of descriptors: stop and retry shortly rather than spin on
         * a backlog we cannot take, or stop accepting for good. */
        if (os_error_is_resource(os_error) && l->accepting) {
            l->accepting = 0;
            l->retry_at = loop->now + ACCEPT_RETRY_MS;
            loop->e->bk->accept_stop(loop, l);
        }
        return;
    }
    if (l->closed) { /* closing: the backend's last accepts */
        os_sock_close(s);
        return;
    }
    if (atomic_load(&e->open_conns) >= e->cfg.max_connections) {
        os_sock_set_linger0(s);
        os_sock_close(s);
        atomic_fetch_add(&e->rejected, 1);
        return;
    }
    os_tcp_prepare(s, l->cfg.flags);
    net_conn *c;
    if (net__conn_create(e, s, &l->fcfg, l->cfg.flags, atomic_load(&l->o.user), &c) != 0) {
        os_sock_set_linger0(s);
        os_sock_close(s);
        atomic_fetch_add(&e->rejected, 1);
        return;
    }
    if (peer)
        c->peer = *peer; /* before the handle is out: no lock needed yet */
    net_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = NET_EV_ACCEPT;
    ev.handle = c->o.handle;
    ev.parent = l->o.handle;
    ev.user = atomic_load(&c->o.user);
    if (peer)
        ev.addr = *peer;
    /* ACCEPT is queued (into the connection's reserved room) before the
     * connection can produce anything. Once it is out the script may abort
     * the connection, and on another loop that can end in a CLOSE the poller
     * frees: the connection is handed over under its slot lock, so nothing
     * here touches it after that. On this loop nothing can end it first. */
    if (c->o.loop == loop) {
        net__push_reserved(e, &ev, NULL);
        net__conn_run_ops(loop, c, OP_START);
    } else {
        net_slot_lock(c->o.slot);
        net__push_reserved(e, &ev, NULL);
        net__conn_schedule_locked(c, OP_START);
        net_slot_unlock(c->o.slot);
    }
}

void net__listener_free(net_engine_s *e, net_listener *l)
{
    net__unreserve_events(e, NET_LISTENER_EVENTS);
    net_slot *s = net_handle_lock(&e->handles, l->o.handle, NET__TBIT(NET__T_LISTENER));
    if (s)
        net_slot_retire(&e->handles, s);
    free(l);
}

NET_API void net_tcp_config_init(net_tcp_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->framing = NET_FRAMING_RAW;
    cfg->flags = NET_TCP_NODELAY | NET_TCP_REUSEADDR;
}

int net__read_tcp_config(const net_tcp_config *in, net_tcp_config *out)
{
    net_tcp_config_init(out);
    if (!in)
        return 0;
    if (in->size < offsetof(net_tcp_config, flags) + sizeof in->flags || in->size > 4096)
        return NET_E_INVAL;
    memcpy(out, in, in->size < sizeof *out ? in->size : sizeof *out);
    out->size = sizeof *out;
    if (out->framing > NET_FRAMING_U32BE || out->backlog < 0)
        return NET_E_INVAL;
    return 0;
}

int net__tcp_frame_cfg(const net_engine_s *e, const net_tcp_config *tc, net_frame_cfg *out)
{
    uint32_t max = tc->max_message ? tc->max_message : e->cfg.max_message;
    /* Same bounds as the engine's own max_message: a message this size must
     * fit the send queue, header included. */
    if (max > NET_MAX_MESSAGE || (uint64_t)max + NET_MAX_HEADER > e->cfg.send_cap)
        return NET_E_INVAL;
    return net_frame_cfg_make(tc->framing, tc->flags, max, out);
}

NET_API int net_listen(net_engine eh, const char *host, uint16_t port, const net_tcp_config *cfg, net_handle *out)
{
    if (!out)
        return NET_E_INVAL;
    *out = 0;
    net_tcp_config tc;
    int rc = net__read_tcp_config(cfg, &tc);
    if (rc)
        return rc;
    net_engine_s *e = net__engine_enter(eh);
    if (!e)
        return NET_E_BADHANDLE;
    net_addr addr;
    net_listener *l = NULL;
    net_sock s = NET_BAD_SOCK;
    if ((rc = os_resolve(host, port, &addr, NULL)) != 0)
        goto done;
    if ((rc = os_tcp_listen(&addr, tc.backlog, tc.flags, &s, NULL)) != 0)
        goto done;
    l = net__calloc(1, sizeof *l);
    if (!l) {
        rc = NET_E_NOMEM;
        goto done;
    }
    l->o.kind = OBJ_LISTENER;
    l->o.sock = s;
    l->o.loop = &e->loops[0];
    atomic_init(&l->o.user, tc.user);
    l->cfg = tc;
    if ((rc = net__tcp_frame_cfg(e, &tc, &l->fcfg)) != 0)
        goto done;
    if ((rc = net__reserve_events(e, NET_LISTENER_EVENTS)) != 0)
        goto done;
    if ((rc = net_handle_alloc(&e->handles, NET__T_LISTENER, l, &l->o.handle, &l->o.slot)) != 0) {
        net__unreserve_events(e, NET_LISTENER_EVENTS);
        goto done;
    }
    net_slot_lock(l->o.slot);
    net__loop_schedule(l->o.loop, &l->o, OP_LISTEN);
    net_slot_unlock(l->o.slot);
    *out = l->o.handle;
    net__engine_leave(e);
    return 0;
done:
    if (s != NET_BAD_SOCK)
        os_sock_close(s);
    free(l);
    net__engine_leave(e);
    return rc;
}
