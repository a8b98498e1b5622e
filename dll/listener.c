/* listener.c - listening sockets: accepting, limits, and backing off when
 * the process runs out of descriptors. */
#include <stdlib.h>
#include <string.h>
#include "testhooks.h"
#include "core.h"

#define ACCEPT_RETRY_MS 100
#define ACCEPT_ERRORS_MAX 16

static void push_listener_close(net_listener *l, int status, int os_error)
{
    net_event ev = net__obj_event(&l->o, NET_EV_CLOSE, status, os_error);
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
        int os_error = 0;
        int rc = bk->listener_open(loop, l, &os_error);
        if (rc) {
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
        bk->close(loop, &l->o);
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

/* Out of descriptors: stop and retry shortly rather than spin on a
 * backlog we cannot take. Other accept errors cost only that attempt (the
 * backend tries the next), unless they keep coming: ACCEPT_ERRORS_MAX in a
 * row without a success pause accepting as well, so that an error that
 * will not go away costs a try per ACCEPT_RETRY_MS, not a spinning loop. */
static void accept_failed(net_loop *loop, net_listener *l, int os_error)
{
    l->accept_errors++;
    atomic_fetch_add(&loop->e->accepts_failed, 1);
    if ((os_error_is_resource(os_error) || l->accept_errors >= ACCEPT_ERRORS_MAX) && l->accepting) {
        l->accept_errors = 0;
        l->accepting = 0;
        l->retry_at = loop->now + ACCEPT_RETRY_MS;
        loop->e->bk->accept_stop(loop, l);
    }
}

/* The connection for an accepted socket; NULL when the engine is at
 * max_connections or out of memory, the socket then reset and counted. */
static net_conn *adopt(net_engine_s *e, net_listener *l, net_sock s)
{
    net_conn *c = NULL;
    if (atomic_load(&e->open_conns) < e->cfg.max_connections) {
        os_tcp_prepare(s, l->cfg.flags);
        if (net__conn_create(e, s, &l->fcfg, l->cfg.flags, atomic_load(&l->o.user), &c) != 0)
            c = NULL;
    }
    if (!c) {
        os_sock_set_linger0(s);
        os_sock_close(s);
        atomic_fetch_add(&e->rejected, 1);
    }
    return c;
}

void net__accepted(net_listener *l, net_sock s, const net_addr *peer, int err, int os_error)
{
    net_loop *loop = l->o.loop;
    net_engine_s *e = loop->e;
    if (err) {
        accept_failed(loop, l, os_error);
        return;
    }
    if (l->closed) { /* closing: the backend's last accepts */
        os_sock_close(s);
        return;
    }
    l->accept_errors = 0;
    net_conn *c = adopt(e, l, s);
    if (!c)
        return;
    net_event ev = net__obj_event(&c->o, NET_EV_ACCEPT, 0, 0);
    ev.parent = l->o.handle;
    if (peer) {
        c->peer = *peer; /* before the handle is out: no lock needed yet */
        ev.addr = *peer;
    }
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
    net__obj_retire(e, &l->o, NET_LISTENER_EVENTS);
    free(l);
}

/* A listening socket on req's address, and its listener; OP_LISTEN on the
 * first loop registers it with the backend and starts accepting. */
static int start_listener(const net_tcp_request *req, net_handle *out)
{
    net_engine_s *e = req->e;
    net_sock s;
    int os_error = 0;
    int rc = os_tcp_listen(&req->at, req->tc.backlog, req->tc.flags, &s, &os_error);
    net__set_last_os_error(os_error);
    if (rc)
        return rc;
    net_listener *l = net__calloc(1, sizeof *l);
    if (!l) {
        rc = NET_E_NOMEM;
        goto fail;
    }
    net__obj_init(&l->o, OBJ_LISTENER, s, &e->loops[0], req->tc.user);
    l->cfg = req->tc;
    l->fcfg = req->f;
    if ((rc = net__obj_register(e, &l->o, NET_LISTENER_EVENTS)) != 0)
        goto fail;
    net_slot_lock(l->o.slot);
    net__loop_schedule(l->o.loop, &l->o, OP_LISTEN);
    net_slot_unlock(l->o.slot);
    *out = l->o.handle;
    return 0;
fail:
    free(l);
    os_sock_close(s);
    return rc;
}

NET_API int net_listen(net_engine eh, const char *host, uint16_t port, const net_tcp_config *cfg, net_handle *out)
{
    net__set_last_os_error(0);
    if (!out)
        return NET_E_INVAL;
    *out = 0;
    net_tcp_request req;
    int rc = net__tcp_request(eh, host, port, cfg, &req);
    if (rc)
        return rc;
    rc = start_listener(&req, out);
    net__engine_leave(req.e);
    return rc;
}
