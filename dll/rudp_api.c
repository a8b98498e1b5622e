/* rudp_api.c - the public reliable-UDP calls: opening a listener or a
 * client session, sending, statistics; and what polling a session's
 * events means for it (net__rudp_delivered, its water marks, its CLOSE). */
#include <stdlib.h>
#include <string.h>
#include "testhooks.h"
#include "rudp.h"

/* Random bytes for ids and keys: the OS's generator, stretched through
 * SipHash with a counter so that any length comes out. */
void net__rudp_random(void *out, size_t len)
{
    static atomic_uint_least64_t counter;
    uint8_t key[16];
    os_random(key, sizeof key);
    uint8_t *w = out;
    while (len) {
        uint64_t m[2] = {atomic_fetch_add(&counter, 1), os_now_us()};
        uint64_t r = rudp_siphash(key, m, sizeof m);
        size_t n = len < 8 ? len : 8;
        memcpy(w, &r, n);
        w += n;
        len -= n;
    }
}

/* ---- opening ---- */

/* The UDP socket an endpoint runs on, bound (listener) or connected
 * (client), and its endpoint; the handle is registered as `type`. */
static int open_endpoint(net_engine_s *e, const net_addr *at, int listener, const net_rudp_config *rc, net_udp **out)
{
    if (!e->bk->udp_open)
        return NET_E_UNSUPPORTED;
    net_addr bind_at;
    memset(&bind_at, 0, sizeof bind_at);
    bind_at.family = at->family;
    const net_addr *where = listener ? at : &bind_at;
    net_sock s = NET_BAD_SOCK;
    int os_error = 0;
    int rc2 = os_udp_open(where, 0, 0, 0, &s, &os_error);
    if (rc2 == 0 && !listener && (rc2 = os_udp_connect(s, at, &os_error)) != 0)
        os_sock_close(s); /* opened, not connected */
    net__set_last_os_error(os_error);
    if (rc2)
        return rc2;
    rudp_endpoint *ep = net__rudp_endpoint_new(rc, listener);
    if (!ep) {
        os_sock_close(s);
        return NET_E_NOMEM;
    }
    net_udp_config uc;
    net__read_udp_config(NULL, &uc);
    uc.max_datagram = rc->mtu;
    /* Every session's packets go through this queue: room for their windows. */
    uc.send_cap = 64u << 20;
    uc.user = rc->user;
    net_udp *u;
    rc2 = net__udp_start(e, s, &uc, listener ? NET__T_RUDP_LISTENER : NET__T_RUDP_SOCKET, ep, &u);
    if (rc2) {
        os_sock_close(s);
        net__rudp_endpoint_free(ep);
        return rc2;
    }
    if (!listener) { /* connected above: its datagrams go to the peer, and ICMP errors come back */
        net_slot_lock(u->o.slot);
        u->connected = 1;
        u->peer = *at;
        net_slot_unlock(u->o.slot);
    }
    *out = u;
    return 0;
}

NET_API int net_rudp_listen(net_engine eh, const char *host, uint16_t port, const net_rudp_config *cfg, net_handle *out)
{
    net__set_last_os_error(0);
    if (!out)
        return NET_E_INVAL;
    *out = 0;
    net_rudp_config rc;
    int rc2 = net__read_rudp_config(cfg, &rc);
    if (rc2)
        return rc2;
    net_engine_s *e = net__engine_enter(eh);
    if (!e)
        return NET_E_BADHANDLE;
    net_addr at;
    net_udp *u;
    rc2 = os_resolve(host, port, &at, NULL);
    if (rc2 == 0 && (rc2 = open_endpoint(e, &at, 1, &rc, &u)) == 0)
        *out = u->o.handle;
    net__engine_leave(e);
    return rc2;
}

NET_API int net_rudp_connect(net_engine eh, const char *host, uint16_t port, const net_rudp_config *cfg,
                             net_handle *out)
{
    net__set_last_os_error(0);
    if (!out)
        return NET_E_INVAL;
    *out = 0;
    if (!host || !*host || port == 0)
        return NET_E_INVAL;
    net_rudp_config rc;
    int rc2 = net__read_rudp_config(cfg, &rc);
    if (rc2)
        return rc2;
    net_engine_s *e = net__engine_enter(eh);
    if (!e)
        return NET_E_BADHANDLE;
    net_addr at;
    net_udp *u = NULL;
    net_rudp_session *s = NULL;
    rc2 = os_resolve(host, port, &at, NULL);
    if (rc2 == 0)
        rc2 = open_endpoint(e, &at, 0, &rc, &u);
    if (rc2 == 0) {
        /* The session is the endpoint's from birth; the loop starts it
         * (OP_CONNECT) after the socket (OP_START, scheduled first). */
        rc2 = net__rudp_session_new(e, u->o.loop, u->rudp, &rc, &s);
        if (rc2 == 0) {
            s->peer = at;
            u->rudp->client = s;
            net_slot_lock(s->o.slot);
            net__rudp_schedule_locked(s, OP_CONNECT);
            net_slot_unlock(s->o.slot);
            *out = s->o.handle;
        } else { /* no session: its socket goes at once */
            net_slot_lock(u->o.slot);
            u->state = US_CLOSING;
            u->abort_requested = 1;
            net__udp_schedule_locked(u, OP_ABORT);
            net_slot_unlock(u->o.slot);
        }
    }
    net__engine_leave(e);
    return rc2;
}

/* ---- sending ---- */

static int check_send(const net_rudp_session *s, uint32_t channel, uint32_t mode, uint32_t len)
{
    if (s->state == RS_CLOSED || s->state == RS_CLOSING)
        return NET_E_CLOSED;
    if (channel >= s->channels || mode > NET_RUDP_UNRELIABLE)
        return NET_E_INVAL;
    if (len > s->max_message)
        return NET_E_MSGSIZE;
    uint64_t charge = (uint64_t)len + RUDP_MSG_OVERHEAD;
    if (charge > s->send_cap)
        return NET_E_MSGSIZE;
    return s->queued + charge > s->send_cap ? NET_E_WOULDBLOCK : 0;
}

/* A water mark crossed: its event, unless one waits to be polled. */
static void water_event(net_rudp_session *s, uint32_t type)
{
    if (s->water_queued || s->state == RS_CLOSED)
        return;
    s->water_queued = 1;
    net_event ev = net__obj_event(&s->o, type, 0, 0);
    ev.len = (uint32_t)(s->queued > UINT32_MAX ? UINT32_MAX : s->queued);
    net__push_reserved(s->o.loop->e, &ev, s);
}

int net__rudp_queue(net_rudp_session *s, uint32_t channel, uint32_t mode, const net_buf *bufs, uint32_t count)
{
    uint64_t total;
    int rc = net_bufs_total(bufs, count, &total);
    if (rc)
        return rc;
    if (total > UINT32_MAX)
        return NET_E_MSGSIZE;
    if ((rc = check_send(s, channel, mode, (uint32_t)total)) != 0)
        return rc;
    rudp_msg *m = net__malloc(sizeof *m + total);
    if (!m)
        return NET_E_NOMEM;
    memset(m, 0, sizeof *m);
    m->len = (uint32_t)total;
    m->channel = (uint8_t)channel;
    m->mode = (uint8_t)mode;
    m->charge = (uint32_t)total + RUDP_MSG_OVERHEAD;
    net_bufs_copy(m->data, bufs, count);
    if (s->in_tail)
        s->in_tail->next = m;
    else
        s->in_head = m;
    s->in_tail = m;
    s->queued += m->charge;
    if (!s->above_highwater && s->queued > s->highwater) {
        s->above_highwater = 1;
        water_event(s, NET_EV_SEND_HIGHWATER);
    }
    if (!s->flush_scheduled) {
        s->flush_scheduled = 1;
        net__rudp_schedule_locked(s, OP_FLUSH);
    }
    return 0;
}

/* Loop thread: a message's charge is done with (acknowledged, sent or dropped). */
void net__rudp_done_charge(net_rudp_session *s, uint32_t charge)
{
    net_slot_lock(s->o.slot);
    s->queued -= charge <= s->queued ? charge : s->queued;
    if (s->above_highwater && s->queued <= s->lowwater) {
        s->above_highwater = 0;
        water_event(s, NET_EV_SEND_DRAINED);
    }
    net_slot_unlock(s->o.slot);
}

NET_API int net_rudp_send(net_handle h, uint32_t channel, uint32_t mode, const void *data, uint32_t len)
{
    if (!data && len)
        return NET_E_INVAL;
    net_locked l;
    int rc = net__lock_handle(h, NET__TBIT(NET__T_RUDP), &l);
    if (rc)
        return rc;
    net_buf b = {data, len};
    rc = net__rudp_queue(l.slot->obj, channel, mode, &b, 1);
    net__unlock_handle(&l);
    return rc;
}

/* ---- statistics ---- */

static void counters(net_rudp_stats *st, atomic_uint_least64_t *c)
{
    st->packets_sent = atomic_load_explicit(&c[ST_PACKETS_SENT], memory_order_relaxed);
    st->packets_received = atomic_load_explicit(&c[ST_PACKETS_RECEIVED], memory_order_relaxed);
    st->retransmits = atomic_load_explicit(&c[ST_RETRANSMITS], memory_order_relaxed);
    st->packets_lost = atomic_load_explicit(&c[ST_PACKETS_LOST], memory_order_relaxed);
    st->duplicates_dropped = atomic_load_explicit(&c[ST_DUPLICATES], memory_order_relaxed);
    st->messages_sent = atomic_load_explicit(&c[ST_MESSAGES_SENT], memory_order_relaxed);
    st->messages_received = atomic_load_explicit(&c[ST_MESSAGES_RECEIVED], memory_order_relaxed);
    st->bytes_sent = atomic_load_explicit(&c[ST_BYTES_SENT], memory_order_relaxed);
    st->bytes_received = atomic_load_explicit(&c[ST_BYTES_RECEIVED], memory_order_relaxed);
    st->datagrams_dropped = atomic_load_explicit(&c[ST_DROPPED], memory_order_relaxed);
    st->checksum_failures = atomic_load_explicit(&c[ST_CHECKSUM], memory_order_relaxed);
}

static void session_stats(net_rudp_session *s, net_rudp_stats *st)
{
    counters(st, s->st);
    st->rtt_us = atomic_load(&s->st_rtt_us);
    st->rttvar_us = atomic_load(&s->st_rttvar_us);
    st->rto_ms = atomic_load(&s->st_rto_ms);
    st->cwnd = atomic_load(&s->st_cwnd);
    st->bytes_in_flight = atomic_load(&s->st_in_flight);
    st->peer_window = atomic_load(&s->st_peer_window);
    st->send_queued = s->queued;
}

static void listener_stats(rudp_endpoint *ep, net_rudp_stats *st)
{
    counters(st, ep->st);
    st->sessions = atomic_load(&ep->sessions);
    st->handshakes = atomic_load(&ep->handshakes);
    st->cookies_rejected = atomic_load(&ep->cookies_rejected);
    st->sessions_refused = atomic_load(&ep->refused);
}

NET_API int net_rudp_get_stats(net_handle h, net_rudp_stats *out)
{
    if (!out || out->size < 2 * sizeof(uint64_t))
        return NET_E_INVAL;
    net_locked l;
    int rc = net__lock_handle(h, NET__TBIT(NET__T_RUDP) | NET__TBIT(NET__T_RUDP_LISTENER), &l);
    if (rc)
        return rc;
    net_rudp_stats st;
    memset(&st, 0, sizeof st);
    if (net_handle_type(h) == NET__T_RUDP)
        session_stats(l.slot->obj, &st);
    else
        listener_stats(((net_udp *)l.slot->obj)->rudp, &st);
    net__unlock_handle(&l);
    uint32_t caller_size = out->size;
    memcpy(out, &st, caller_size < sizeof st ? caller_size : sizeof st);
    out->size = caller_size;
    return 0;
}

/* ---- what polling a session's events means ---- */

void net__rudp_delivered(net_engine_s *e, net_rudp_session *s, uint64_t bytes)
{
    (void)e;
    uint64_t left = atomic_fetch_sub(&s->unpolled, bytes) - bytes;
    /* The peer was told our window is low: once the script caught up with
     * half of it, the loop tells it the window is open again. */
    if (left <= s->recv_window / 2 && atomic_exchange(&s->window_starved, 0)) {
        net_slot_lock(s->o.slot);
        net__rudp_schedule_locked(s, OP_RESUME);
        net_slot_unlock(s->o.slot);
    }
}

void net__rudp_water_polled(net_rudp_session *s)
{
    net_slot_lock(s->o.slot);
    s->water_queued = 0;
    /* A crossing back while the event waited: reported now. */
    if (s->above_highwater && s->queued <= s->lowwater) {
        s->above_highwater = 0;
        water_event(s, NET_EV_SEND_DRAINED);
    } else if (!s->above_highwater && s->queued > s->highwater) {
        s->above_highwater = 1;
        water_event(s, NET_EV_SEND_HIGHWATER);
    }
    net_slot_unlock(s->o.slot);
}

/* ---- the generic calls on sessions and listeners (api.c, slot lock held) ---- */

void net__rudp_close_locked(net_rudp_session *s, int abort)
{
    if (abort) {
        if (s->state != RS_CLOSED) {
            s->state = RS_CLOSING;
            s->abort_requested = 1;
            net__rudp_schedule_locked(s, OP_ABORT);
        }
    } else if (s->state == RS_OPEN || s->state == RS_CONNECTING) {
        s->state = RS_CLOSING;
        net__rudp_schedule_locked(s, OP_CLOSE);
    }
}

void net__rudp_listener_close_locked(net_udp *u, int abort)
{
    if (u->state != US_OPEN || u->rudp->close_requested)
        return;
    u->rudp->close_requested = 1;
    net__udp_schedule_locked(u, abort ? OP_RUDP_ABORT : OP_RUDP_CLOSE);
}

int net__rudp_close_requested(const net_udp *u)
{
    return u->rudp && u->rudp->close_requested;
}

int net__rudp_peer_addr_locked(net_rudp_session *s, net_addr *addr)
{
    if (s->state == RS_CONNECTING)
        return NET_E_NOTCONN;
    if (s->state != RS_OPEN)
        return NET_E_CLOSED;
    *addr = s->peer;
    return 0;
}

int net__rudp_local_addr_locked(net_rudp_session *s, net_addr *addr)
{
    if (s->state == RS_CLOSING || s->state == RS_CLOSED)
        return NET_E_CLOSED;
    /* The endpoint's socket outlives every session on it. */
    return os_sock_local_addr(s->ep->u->o.sock, addr);
}

uint64_t net__rudp_queued_locked(net_rudp_session *s)
{
    return s->queued;
}
