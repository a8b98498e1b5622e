/* udp.c - a UDP socket: its send queue of datagrams, its receive path and how it ends. */
#include <stdlib.h>
#include <string.h>
#include "testhooks.h"
#include "core.h"

#define UDP_BATCH 64          /* datagrams handed to the backend at once */
#define UDP_OVERHEAD 64       /* counted per datagram against caps, so empty datagrams are not free */
#define UDP_CHUNK (64 * 1024) /* the largest copy chunk (flow.h) */
#define UDP_RING_MIN 16       /* datagrams a send queue's ring starts with */

static void close_now(net_loop *loop, net_udp *u, int reason);
static void flush(net_loop *loop, net_udp *u);
static void recv_start(net_loop *loop, net_obj *o);

/* ---- what backends read ---- */

uint32_t net__udp_max_datagram(const net_udp *u)
{
    return u->rx_max;
}

/* ---- events ---- */

static void push_udp_event(net_udp *u, uint32_t type, int status, int os_error, const net_addr *addr)
{
    net_event ev = net__obj_event(&u->o, type, status, os_error);
    if (addr)
        ev.addr = *addr;
    net__push_reserved(u->o.loop->e, &ev, u); /* room reserved at open (NET_UDP_EVENTS) */
}

/* A non-fatal error for the script. One ERROR at most waits in the event
 * queue per socket, in its reserved room: errors while it waits (an ICMP
 * storm, a burst of refused sends) are counted (NET_OPT_ERRORS_DROPPED). */
static void report_error(net_udp *u, int err, int os_error, const net_addr *about)
{
    if (u->rudp) /* reliable UDP reports to its sessions, not as ERROR events */
        return;
    net_slot_lock(u->o.slot);
    int queue_it = !u->error_queued && u->state != US_CLOSED;
    if (queue_it) {
        u->error_queued = 1;
        push_udp_event(u, NET_EV_ERROR, err ? err : NET_E_OS, os_error, about);
    }
    net_slot_unlock(u->o.slot);
    if (!queue_it)
        atomic_fetch_add_explicit(&u->errors_dropped, 1, memory_order_relaxed);
}

void net__udp_error_polled(net_udp *u)
{
    net_slot_lock(u->o.slot);
    u->error_queued = 0;
    net_slot_unlock(u->o.slot);
}

/* ---- opening ---- */

int net__udp_start(net_engine_s *e, net_sock s, const net_udp_config *uc, uint32_t type, struct rudp_endpoint *rudp,
                   net_udp **out)
{
    net_udp *u = net__calloc(1, sizeof *u);
    if (!u)
        return NET_E_NOMEM;
    net__obj_init(&u->o, OBJ_UDP, s, net__pick_loop(e), uc->user);
    u->state = US_OPEN;
    u->sq.send_cap = uc->send_cap;
    u->rx_max = uc->max_datagram;
    atomic_init(&u->max_datagram, uc->max_datagram);
    atomic_init(&u->dropped, 0);
    atomic_init(&u->errors_dropped, 0);
    net_rx_gate_init(&u->rx);
    u->rudp = rudp;
    if (rudp)
        net__rudp_endpoint_attach(rudp, u);
    int rc = net__obj_register_as(e, &u->o, type, NET_UDP_EVENTS);
    if (rc) {
        free(u);
        return rc;
    }
    atomic_fetch_add(&e->open_udps, 1);
    net_slot_lock(u->o.slot);
    net__udp_schedule_locked(u, OP_START);
    net_slot_unlock(u->o.slot);
    *out = u;
    return 0;
}

static int open_udp(net_engine_s *e, const char *host, uint16_t port, const net_udp_config *uc, net_handle *out)
{
    if (!e->bk->udp_open)
        return NET_E_UNSUPPORTED;
    net_addr at;
    net_sock s;
    int os_error = 0;
    int rc = os_resolve(host, port, &at, NULL);
    if (rc == 0)
        rc = os_udp_open(&at, uc->flags, uc->rcvbuf, uc->sndbuf, &s, &os_error);
    net__set_last_os_error(os_error);
    if (rc)
        return rc;
    net_udp *u;
    if ((rc = net__udp_start(e, s, uc, NET__T_UDP, NULL, &u)) != 0)
        os_sock_close(s);
    else
        *out = u->o.handle;
    return rc;
}

NET_API int net_udp_open(net_engine eh, const char *host, uint16_t port, const net_udp_config *cfg, net_handle *out)
{
    net__set_last_os_error(0);
    if (!out)
        return NET_E_INVAL;
    *out = 0;
    net_udp_config uc;
    int rc = net__read_udp_config(cfg, &uc);
    if (rc)
        return rc;
    net_engine_s *e = net__engine_enter(eh);
    if (!e)
        return NET_E_BADHANDLE;
    rc = open_udp(e, host, port, &uc, out);
    net__engine_leave(e);
    return rc;
}

void net__udp_schedule_locked(net_udp *u, uint32_t ops)
{
    if (u->state != US_CLOSED)
        net__sendq_schedule(&u->sq, &u->o, ops);
}

/* ---- send queue (slot lock held) ---- */

static net_udp_out *out_at(net_udp *u, uint32_t i)
{
    return (net_udp_out *)u->sq.ring + net_sendq_pos(&u->sq, i);
}

static int same_addr(const net_addr *a, const net_addr *b)
{
    if (a->family != b->family || a->port != b->port)
        return 0;
    return memcmp(a->ip, b->ip, a->family == NET_AF_INET ? 4 : 16) == 0;
}

/* Whether a datagram may go to `to` (NULL: the connected peer). */
static int check_destination(const net_udp *u, const net_addr *to)
{
    if (!to)
        return u->connected ? 0 : NET_E_NOTCONN;
    if (to->family != NET_AF_INET && to->family != NET_AF_INET6)
        return NET_E_ADDR;
    return u->connected && !same_addr(to, &u->peer) ? NET_E_INVAL : 0;
}

int net__udp_queue(net_udp *u, const net_addr *to, const net_buf *bufs, uint32_t count)
{
    if (u->state != US_OPEN)
        return NET_E_CLOSED;
    uint64_t total;
    int rc = check_destination(u, to);
    if (rc || (rc = net_bufs_total(bufs, count, &total)) != 0)
        return rc;
    if (total > atomic_load_explicit(&u->max_datagram, memory_order_relaxed))
        return NET_E_MSGSIZE;
    uint64_t charge = total + UDP_OVERHEAD;
    if ((rc = net_sendq_admit(&u->sq, charge)) != 0)
        return rc;
    if (net_sendq_room(&u->sq, 1, sizeof(net_udp_out), UDP_RING_MIN) != 0)
        return NET_E_NOMEM;
    uint8_t *w = net_sendq_reserve(&u->sq, (uint32_t)total, UDP_CHUNK);
    if (!w)
        return NET_E_NOMEM;
    net_bufs_copy(w, bufs, count);
    u->sq.chunk->used += (uint32_t)total;
    net_block_ref(u->sq.chunk, 1);
    net_udp_out *o = out_at(u, u->sq.count);
    memset(o, 0, sizeof *o);
    o->d.data = w;
    o->d.len = (uint32_t)total;
    o->d.connected = to == NULL;
    if (to)
        o->d.to = *to;
    o->blk = u->sq.chunk;
    u->sq.count++;
    net__sendq_charge(&u->sq, charge);
    net__udp_schedule_locked(u, OP_FLUSH);
    return 0;
}

/* Drops n datagrams from the head of the queue (slot lock held). */
static void sq_pop(net_udp *u, uint32_t n)
{
    uint64_t freed = 0;
    for (uint32_t i = 0; i < n && u->sq.count; i++) {
        net_udp_out *o = out_at(u, 0);
        freed += o->d.len + UDP_OVERHEAD;
        net_block_unref(o->blk, 1);
        net_sendq_pop(&u->sq);
    }
    net__sendq_discharge(&u->sq, u->o.loop->e, freed);
    /* Empty, with a chunk somebody else still holds: let it go. */
    if (!net_sendq_rewind(&u->sq) && u->sq.count == 0 && u->sq.chunk) {
        net_block_unref(u->sq.chunk, 1);
        u->sq.chunk = NULL;
    }
}

static void sq_clear(net_udp *u)
{
    sq_pop(u, u->sq.count);
    net_sendq_free(&u->sq);
}

/* ---- sending (loop thread) ---- */

static void count_sent(net_loop *loop, net_udp *u, uint32_t n)
{
    uint32_t ok = n > u->batch_failed ? n - u->batch_failed : 0;
    net__count(&loop->stats.dgrams_out, ok);
    net__count(&loop->stats.bytes_out, u->batch_bytes);
}

/* The batch at the head is done: drop it and send what came in meanwhile. */
static int batch_done(net_loop *loop, net_udp *u, uint32_t n)
{
    net_slot_lock(u->o.slot);
    sq_pop(u, n);
    u->sq.inflight = 0;
    int empty = u->sq.count == 0;
    int closing = u->state == US_CLOSING;
    int aborting = u->abort_requested;
    net_slot_unlock(u->o.slot);
    if (aborting || (empty && closing)) { /* an abort does not wait for the queue */
        close_now(loop, u, aborting ? NET_E_ABORTED : 0);
        return 0;
    }
    return !empty;
}

static void flush(net_loop *loop, net_udp *u)
{
    while (!u->releasing && u->attached) {
        net_slot_lock(u->o.slot);
        u->sq.flush_scheduled = 0;
        net__sendq_fold(&u->sq, loop->e);
        if (u->abort_requested) {
            net_slot_unlock(u->o.slot);
            close_now(loop, u, NET_E_ABORTED);
            return;
        }
        if (u->sq.inflight || u->sq.count == 0) {
            int close_ready = u->sq.count == 0 && u->state == US_CLOSING;
            net_slot_unlock(u->o.slot);
            if (close_ready)
                close_now(loop, u, 0);
            return;
        }
        if (!u->batch) {
            u->batch = net__malloc(UDP_BATCH * sizeof *u->batch);
            if (!u->batch) { /* out of memory: the queue waits for the next turn's flush */
                net__udp_schedule_locked(u, OP_FLUSH);
                net_slot_unlock(u->o.slot);
                return;
            }
        }
        uint32_t n = u->sq.count < UDP_BATCH ? u->sq.count : UDP_BATCH;
        u->batch_bytes = 0;
        for (uint32_t i = 0; i < n; i++) {
            u->batch[i] = out_at(u, i)->d;
            u->batch_bytes += u->batch[i].len;
        }
        u->sq.inflight = n;
        net_slot_unlock(u->o.slot);
        u->batch_failed = 0;
        int os_error = 0;
        int r = loop->e->bk->udp_send(loop, u, u->batch, (int)n, &os_error);
        if (r == NET__PENDING)
            return;
        if (r < 0) /* the backend could not take the batch at all */
            for (uint32_t i = 0; i < n; i++)
                net__udp_send_failed(u, &u->batch[i], r, os_error);
        count_sent(loop, u, n);
        if (!batch_done(loop, u, n))
            return;
    }
}

void net__udp_sent(net_udp *u, int count)
{
    net_loop *loop = u->o.loop;
    count_sent(loop, u, (uint32_t)count);
    if (batch_done(loop, u, (uint32_t)count))
        flush(loop, u);
}

void net__udp_send_failed(net_udp *u, const net_dgram *d, int err, int os_error)
{
    net_loop *loop = u->o.loop;
    u->batch_failed++;
    u->batch_bytes -= d->len <= u->batch_bytes ? d->len : u->batch_bytes;
    net__count(&loop->stats.dgram_send_errors, 1);
    if (u->releasing)
        return;
    net_addr to = d->to;
    if (d->connected) {
        net_slot_lock(u->o.slot);
        to = u->peer;
        net_slot_unlock(u->o.slot);
    }
    report_error(u, err, os_error, &to);
}

/* ---- receiving (loop thread) ---- */

/* The receive gate's switches (net_rx_switch), hence the net_obj. */
static void recv_start(net_loop *loop, net_obj *o)
{
    net_udp *u = (net_udp *)o;
    if (!u->receiving && u->attached && !u->releasing && net_rx_gate_flowing(&u->rx)) {
        u->receiving = 1;
        loop->e->bk->udp_recv_start(loop, u);
    }
}

static void recv_stop(net_loop *loop, net_obj *o)
{
    net_udp *u = (net_udp *)o;
    if (u->receiving) {
        u->receiving = 0;
        loop->e->bk->udp_recv_stop(loop, u);
    }
}

static void count_dropped(net_loop *loop, net_udp *u)
{
    atomic_fetch_add_explicit(&u->dropped, 1, memory_order_relaxed);
    net__count(&loop->stats.dgrams_dropped, 1);
}

void net__udp_received(net_udp *u, const void *data, size_t len, const net_addr *from, int truncated)
{
    net_loop *loop = u->o.loop;
    if (u->releasing)
        return;
    if (u->rudp) {
        /* Every datagram a reliable-UDP socket receives, as datagrams_out
         * counts every one it sends: the protocol's own drops are its stats'. */
        net__count(&loop->stats.bytes_in, len);
        net__count(&loop->stats.dgrams_in, 1);
        net__rudp_received(u, data, len, from, truncated);
        return;
    }
    if (truncated || len > atomic_load_explicit(&u->max_datagram, memory_order_relaxed)) {
        count_dropped(loop, u);
        return;
    }
    net_block *owner;
    const uint8_t *msg = net__rx_keep(loop, data, len, &owner);
    if (!msg) { /* out of memory: this datagram is lost, as the kernel would lose it */
        count_dropped(loop, u);
        return;
    }
    net_event ev = net__obj_event(&u->o, NET_EV_DATAGRAM, 0, 0);
    ev.data = msg;
    ev.len = (uint32_t)len;
    if (from)
        ev.addr = *from;
    int64_t charge = (int64_t)len + UDP_OVERHEAD;
    net_rx_gate_charge(&u->rx, charge);
    net__count(&loop->stats.bytes_in, len);
    net__count(&loop->stats.dgrams_in, 1);
    if (net__push_event(loop->e, &ev, owner, u) != 0) {
        net_rx_gate_refund(&u->rx, charge);
        net_block_unref(owner, 1);
        count_dropped(loop, u);
        return;
    }
    /* The script is behind: the kernel's buffer (and then the kernel, by
     * dropping) absorbs the excess until it catches up. */
    if (u->receiving)
        net__rx_gate_check(&u->rx, loop, &u->o, recv_stop, recv_start);
}

void net__udp_recv_error(net_udp *u, int err, int os_error)
{
    if (u->releasing)
        return;
    if (u->rudp) {
        net__rudp_recv_error(u, err);
        return;
    }
    net_slot_lock(u->o.slot);
    net_addr peer = u->peer;
    int connected = u->connected;
    net_slot_unlock(u->o.slot);
    report_error(u, err, os_error, connected ? &peer : NULL);
}

void net__udp_delivered(net_engine_s *e, net_udp *u, uint32_t datagrams, uint64_t bytes)
{
    if (net__rx_gate_polled(&u->rx, e, (int64_t)bytes + (int64_t)datagrams * UDP_OVERHEAD)) {
        net_slot_lock(u->o.slot);
        net__udp_schedule_locked(u, OP_RESUME);
        net_slot_unlock(u->o.slot);
    }
}

/* ---- ending ---- */

static void close_now(net_loop *loop, net_udp *u, int reason)
{
    if (u->releasing)
        return;
    if (u->rudp) /* its sessions end before their socket */
        net__rudp_endpoint_abort(loop, u);
    u->releasing = 1;
    u->close_reason = reason;
    net_slot_lock(u->o.slot);
    u->state = US_CLOSED; /* from here on no thread schedules work for it */
    net_slot_unlock(u->o.slot);
    net__loop_unschedule(loop, &u->o);
    net__rx_gate_open(&u->rx, loop->e);
    if (!u->attached) {
        os_sock_close(u->o.sock);
        u->o.sock = NET_BAD_SOCK;
        net__udp_released(u);
        return;
    }
    u->receiving = 0;
    loop->e->bk->close(loop, &u->o);
}

/* Off loop's list of UDP sockets. */
static void list_remove(net_loop *loop, net_udp *u)
{
    (void)loop;
    net_list_remove(&u->o.node);
}

void net__udp_released(net_udp *u)
{
    net_loop *loop = u->o.loop;
    list_remove(loop, u);
    net_slot_lock(u->o.slot);
    sq_clear(u);
    net_slot_unlock(u->o.slot);
    atomic_fetch_sub(&loop->e->open_udps, 1);
    /* A reliable-UDP client's socket is nobody's handle: its session had
     * the CLOSE, and nothing else refers to it now. */
    if (net_handle_type(u->o.handle) == NET__T_RUDP_SOCKET) {
        net__udp_free(loop->e, u);
        return;
    }
    push_udp_event(u, NET_EV_CLOSE, u->close_reason, 0, NULL);
}

void net__udp_free(net_engine_s *e, net_udp *u)
{
    net__obj_retire(e, &u->o, NET_UDP_EVENTS);
    net__rudp_endpoint_free(u->rudp);
    free(u->batch);
    free(u);
}

void net__udp_abort_all(net_loop *loop)
{
    for (net_link *k = loop->udps, *next; k; k = next) {
        next = k->next;
        close_now(loop, (net_udp *)net__obj_of(k), NET_E_ABORTED);
    }
}

void net__udp_run_ops(net_loop *loop, net_udp *u, uint32_t ops)
{
    if (u->releasing)
        return;
    if (ops & OP_START) {
        net_list_push(&loop->udps, &u->o.node);
        /* Under the slot lock net_udp_connect holds around connect(2): the
         * socket's registration and a connect from another thread are then
         * ordered (the kernel does not mind either order; TSan does). */
        int os_error = 0; /* a UDP socket's CLOSE carries no OS error */
        net_slot_lock(u->o.slot);
        int rc = loop->e->bk->udp_open(loop, u, &os_error);
        net_slot_unlock(u->o.slot);
        if (rc) {
            close_now(loop, u, rc);
            return;
        }
        u->attached = 1;
        recv_start(loop, &u->o);
        /* What was queued before the socket was registered (a reliable-UDP
         * session's first handshake packet may be) goes out now. */
        ops |= OP_FLUSH;
    }
    if (ops & (OP_ABORT | OP_RUDP_ABORT)) {
        close_now(loop, u, NET_E_ABORTED);
        return;
    }
    if (ops & OP_RUDP_CLOSE)
        net__rudp_endpoint_run_close(loop, u, 1);
    if ((ops & OP_RESUME) && net__rx_gate_resume(&u->rx, loop->e))
        recv_start(loop, &u->o);
    if ((ops & OP_CLOSE) && !u->close_deadline) /* bounded from the moment it is asked for */
        u->close_deadline = loop->now + loop->e->cfg.close_timeout_ms;
    if (ops & (OP_FLUSH | OP_CLOSE))
        flush(loop, u);
}

void net__udp_tick(net_loop *loop, net_udp *u)
{
    if (!u->releasing && u->close_deadline && loop->now >= u->close_deadline)
        close_now(loop, u, NET_E_TIMEDOUT);
}

/* ---- the calls only UDP has ---- */

NET_API int net_udp_connect(net_handle h, const char *host, uint16_t port)
{
    net__set_last_os_error(0);
    if (!host || !*host || port == 0)
        return NET_E_INVAL;
    net_engine_s *e = net__engine_enter_for(h);
    if (!e)
        return NET_E_BADHANDLE;
    net_addr to;
    /* Resolving may block on a name: before taking the lock. */
    int os_error = 0;
    int rc = os_resolve(host, port, &to, NULL);
    net_slot *slot = rc ? NULL : net_handle_lock(&e->handles, h, NET__TBIT(NET__T_UDP));
    if (!rc && !slot)
        rc = NET_E_BADHANDLE;
    if (slot) {
        net_udp *u = slot->obj;
        if (u->state != US_OPEN)
            rc = NET_E_CLOSED;
        else if ((rc = os_udp_connect(u->o.sock, &to, &os_error)) == 0) {
            u->connected = 1;
            u->peer = to;
        }
        net_slot_unlock(slot);
    }
    net__set_last_os_error(os_error);
    net__engine_leave(e);
    return rc;
}

NET_API int net_sendto(net_handle h, const net_addr *to, const void *data, uint32_t len)
{
    if (!data && len)
        return NET_E_INVAL;
    net_locked l;
    int rc = net__lock_handle(h, NET__TBIT(NET__T_UDP), &l);
    if (rc)
        return rc;
    net_buf b = {data, len};
    rc = net__udp_queue(l.slot->obj, to, &b, 1); /* no address on an unconnected socket: NET_E_NOTCONN, as net_send */
    net__unlock_handle(&l);
    return rc;
}
