/* rudp_session.c - a session's life: made (by a client's net_rudp_connect
 * or a listener's handshake), the client's side of the handshake, open,
 * its timer (handshake resends, retransmit timeout, keep-alive, idle and
 * close timeouts), what arrives for it, the work the script hands it,
 * and its one ending. */
#include <stdlib.h>
#include <string.h>
#include "testhooks.h"
#include "rudp.h"

#define NOT_ARMED UINT32_MAX

void net__rudp_schedule_locked(net_rudp_session *s, uint32_t ops)
{
    if (s->state != RS_CLOSED)
        net__loop_schedule(s->o.loop, &s->o, ops);
}

/* ---- birth ---- */

static int alloc_channels(net_rudp_session *s, uint32_t n)
{
    /* Four per-channel sequence arrays in one allocation. */
    uint16_t *a = net__calloc(4 * (size_t)n, sizeof *a);
    if (!a)
        return NET_E_NOMEM;
    s->ord_seq = a;
    s->sq_seq = a + n;
    s->rcv_ord_next = a + 2 * n;
    s->rcv_sq_last = a + 3 * n;
    return 0;
}

int net__rudp_session_new(net_engine_s *e, net_loop *loop, rudp_endpoint *ep, const net_rudp_config *cfg,
                          net_rudp_session **out)
{
    net_rudp_session *s = net__calloc(1, sizeof *s);
    if (!s)
        return NET_E_NOMEM;
    net__obj_init(&s->o, OBJ_RUDP, NET_BAD_SOCK, loop, cfg->user);
    s->o.sock = NET_BAD_SOCK;
    s->ep = ep;
    s->state = RS_CONNECTING;
    s->send_cap = cfg->send_cap;
    s->highwater = e->cfg.send_highwater;
    s->lowwater = e->cfg.send_lowwater;
    s->channels = s->nchannels = cfg->channels;
    s->mtu = cfg->mtu;
    s->max_message = cfg->max_message;
    s->recv_window = cfg->recv_window;
    s->peer_window = cfg->recv_window;
    s->rto_ms = RUDP_INITIAL_RTO_MS;
    s->cwnd = 10u * cfg->mtu;
    s->ssthresh = UINT64_MAX / 2;
    s->timer.heap_index = NOT_ARMED;
    s->resend_ms = RUDP_HANDSHAKE_RESEND_MS;
    atomic_init(&s->unpolled, 0);
    atomic_init(&s->window_starved, 0);
    atomic_store(&s->st_rto_ms, s->rto_ms);
    atomic_store(&s->st_cwnd, s->cwnd);
    do
        net__rudp_random(&s->my_id, sizeof s->my_id);
    while (s->my_id == 0);
    int rc = alloc_channels(s, cfg->channels);
    if (rc == 0 && (rc = net__obj_register_as(e, &s->o, NET__T_RUDP, NET_CONN_EVENTS)) != 0)
        free(s->ord_seq);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- the client's handshake ---- */

static void send_hello(rudp_endpoint *ep, net_rudp_session *s)
{
    uint8_t p[RUDP_HELLO_SIZE];
    memset(p, 0, sizeof p); /* the padding that makes any answer smaller */
    rudp_hdr h = {RUDP_HELLO, RUDP_VERSION, 0, s->my_id};
    rudp_put_hdr(p, &h);
    net__rudp_transmit(ep, NULL, p, sizeof p);
}

static void send_response(rudp_endpoint *ep, net_rudp_session *s)
{
    uint8_t p[RUDP_RESPONSE_SIZE];
    rudp_hdr h = {RUDP_RESPONSE, RUDP_VERSION, 0, s->my_id};
    rudp_put_hdr(p, &h);
    memcpy(p + RUDP_HDR_SIZE, s->cookie, RUDP_COOKIE_SIZE);
    rudp_params pr = {(uint16_t)(s->mtu > 0xFFFF ? 0xFFFF : s->mtu), (uint16_t)s->nchannels, net__rudp_window(s)};
    rudp_put_params(p + RUDP_HDR_SIZE + RUDP_COOKIE_SIZE, &pr);
    net__rudp_transmit(ep, NULL, p, sizeof p);
}

static void handshake_resend(net_loop *loop, net_rudp_session *s)
{
    if (s->have_cookie)
        send_response(s->ep, s);
    else
        send_hello(s->ep, s);
    s->next_resend = loop->now + s->resend_ms;
    if (s->resend_ms < 1000)
        s->resend_ms *= 2;
}

static void push_event(net_rudp_session *s, uint32_t type, int status)
{
    net_event ev = net__obj_event(&s->o, type, status, 0);
    if (type == NET_EV_ACCEPT)
        ev.parent = s->ep->u->o.handle;
    ev.addr = s->peer;
    net__push_reserved(s->o.loop->e, &ev, s);
}

void net__rudp_session_open(net_loop *loop, net_rudp_session *s, const rudp_params *peer)
{
    uint32_t mtu = peer->mtu < s->mtu ? peer->mtu : s->mtu;
    s->mtu = mtu < 128 ? 128 : mtu;
    if (peer->channels >= 1 && peer->channels < s->nchannels)
        s->nchannels = peer->channels;
    s->peer_window = peer->window;
    s->welcomed = 1;
    s->last_recv = s->last_send = loop->now;
    if (!s->started)
        s->started = loop->now;
    net_slot_lock(s->o.slot);
    if (s->state == RS_CONNECTING)
        s->state = RS_OPEN;
    s->channels = s->nchannels;
    net_slot_unlock(s->o.slot);
    push_event(s, s->ep->listener ? NET_EV_ACCEPT : NET_EV_CONNECT, 0);
    net__rudp_session_flush(loop, s);
}

/* ---- the end ---- */

void net__rudp_close_packet(net_rudp_session *s, uint8_t type, uint32_t reason)
{
    uint8_t p[RUDP_CLOSE_SIZE];
    rudp_hdr h = {type, RUDP_VERSION, 0, s->peer_id};
    rudp_put_hdr(p, &h);
    size_t len = RUDP_HDR_SIZE;
    if (type == RUDP_CLOSE) {
        rudp_put32(p + RUDP_HDR_SIZE, reason);
        rudp_put32(p + RUDP_HDR_SIZE + 4, s->my_id);
        len = RUDP_CLOSE_SIZE;
    }
    net__rudp_transmit(s->ep, &s->peer, p, len);
}

static void drop_script_queue(net_rudp_session *s)
{
    net_slot_lock(s->o.slot);
    rudp_msg *m = s->in_head;
    s->in_head = s->in_tail = NULL;
    s->queued = 0;
    s->state = RS_CLOSED; /* from here on no thread schedules work for it */
    net_slot_unlock(s->o.slot);
    while (m) {
        rudp_msg *next = m->next;
        free(m);
        m = next;
    }
}

void net__rudp_session_finish(net_loop *loop, net_rudp_session *s, int reason, int tell_peer)
{
    if (s->finished)
        return;
    s->finished = 1;
    rudp_endpoint *ep = s->ep;
    if (tell_peer && s->welcomed)
        net__rudp_close_packet(s, RUDP_CLOSE, reason == NET_E_ABORTED ? RUDP_CLOSE_ABORT : RUDP_CLOSE_GRACEFUL);
    drop_script_queue(s);
    net__loop_unschedule(loop, &s->o);
    net_timers_remove(&loop->rudp_timers, &s->timer);
    net__rudp_send_free(s);
    net__rudp_recv_free(s);
    if (ep->listener) {
        net__rudp_table_remove(ep, s);
        atomic_fetch_sub(&ep->sessions, 1);
    } else {
        ep->client = NULL;
    }
    if (!s->welcomed && !ep->listener) /* a connect that failed: CONNECT says so, then CLOSE */
        push_event(s, NET_EV_CONNECT, reason ? reason : NET_E_ABORTED);
    /* Last: once its CLOSE is queued the poller may free s. */
    push_event(s, NET_EV_CLOSE, reason);
    net__rudp_endpoint_session_gone(loop, ep);
}

void net__rudp_session_free(net_engine_s *e, net_rudp_session *s)
{
    net__obj_retire(e, &s->o, NET_CONN_EVENTS);
    free(s->ord_seq);
    free(s);
}

/* ---- graceful close: after everything reliable is acknowledged ---- */

static void close_progress(net_loop *loop, net_rudp_session *s)
{
    if (!s->close_requested || !s->welcomed || s->close_sent || s->finished)
        return;
    net_slot_lock(s->o.slot);
    int script_queue_empty = s->in_head == NULL;
    net_slot_unlock(s->o.slot);
    if (!script_queue_empty || !net__rudp_send_idle(s))
        return;
    net__rudp_close_packet(s, RUDP_CLOSE, RUDP_CLOSE_GRACEFUL);
    s->close_sent = 1;
    s->resend_ms = s->rto_ms;
    s->next_resend = loop->now + s->resend_ms;
}

/* ---- the timer ---- */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t next_due(const net_rudp_session *s)
{
    const net_rudp_config *c = &s->ep->cfg;
    if (s->finished)
        return UINT64_MAX;
    if (!s->welcomed)
        return min_u64(s->next_resend, s->started + c->connect_timeout_ms);
    uint64_t due = min_u64(s->last_recv + c->idle_timeout_ms, s->last_send + c->keepalive_ms);
    due = min_u64(due, net__rudp_rto_due(s));
    due = min_u64(due, net__rudp_loss_due(s));
    if (s->close_deadline)
        due = min_u64(due, s->close_deadline);
    if (s->close_sent)
        due = min_u64(due, s->next_resend);
    return due;
}

void net__rudp_session_rearm(net_loop *loop, net_rudp_session *s)
{
    uint64_t due = next_due(s);
    /* Never at or before the loop's now: net__rudp_timers_run pops what is
     * due at a now that stays put for the whole pass, so a deadline that
     * its handler could not move (nothing it may send yet) would be run
     * again and again, the loop spinning there for good. Not before the
     * next turn, it waits a millisecond at most. */
    if (due <= loop->now)
        due = loop->now + 1;
    int armed = s->timer.heap_index != NOT_ARMED;
    if (armed && due == s->timer.due)
        return;
    if (armed)
        net_timers_remove(&loop->rudp_timers, &s->timer);
    if (due == UINT64_MAX)
        return;
    s->timer.due = due;
    /* Out of memory for the heap: the session's next packet or call arms it again. */
    if (net_timers_add(&loop->rudp_timers, &s->timer) != 0)
        s->timer.heap_index = NOT_ARMED;
}

void net__rudp_session_timer(net_loop *loop, net_rudp_session *s)
{
    uint64_t now = loop->now;
    const net_rudp_config *c = &s->ep->cfg;
    if (!s->welcomed) {
        if (now >= s->started + c->connect_timeout_ms) {
            /* Not a word more about s: once its CLOSE is queued the poller
             * may free it (TSan caught the rearm that used to follow). */
            net__rudp_session_finish(loop, s, NET_E_TIMEDOUT, 0);
            return;
        }
        if (now >= s->next_resend)
            handshake_resend(loop, s);
        net__rudp_session_rearm(loop, s);
        return;
    }
    if (now >= s->last_recv + c->idle_timeout_ms) {
        net__rudp_session_finish(loop, s, NET_E_TIMEDOUT, 0);
        return;
    }
    if (s->close_deadline && now >= s->close_deadline) {
        net__rudp_session_finish(loop, s, NET_E_TIMEDOUT, 1);
        return;
    }
    if (s->close_sent && now >= s->next_resend) {
        net__rudp_close_packet(s, RUDP_CLOSE, RUDP_CLOSE_GRACEFUL);
        if (s->resend_ms < c->rto_max_ms)
            s->resend_ms *= 2;
        s->next_resend = now + s->resend_ms;
    }
    net__rudp_check_timeouts(loop, s);
    net__rudp_check_losses(loop, s);
    int keepalive = now >= s->last_send + c->keepalive_ms;
    /* A keep-alive is an empty numbered packet, but with the congestion
     * window full none may go until an ack or the retransmit timeout
     * (which may be seconds away): a pure acknowledgement goes instead, so
     * that the peer still hears from us and the deadline moves on. */
    if (keepalive)
        s->ack_pending = 1;
    net__rudp_pump(loop, s, s->probe_pending || keepalive);
    close_progress(loop, s);
    net__rudp_session_rearm(loop, s);
}

/* ---- what arrives ---- */

static void on_data(net_loop *loop, net_rudp_session *s, const uint8_t *p, size_t len)
{
    rudp_data_hdr d;
    if (!s->welcomed || rudp_get_data_hdr(p, len, &d) != 0) {
        net__rudp_dropped(s);
        return;
    }
    s->last_recv = loop->now;
    net__rudp_stat(&s->st[ST_PACKETS_RECEIVED], 1);
    net__rudp_stat(&s->st[ST_BYTES_RECEIVED], len);
    if (d.h.flags & RUDP_F_ACK)
        net__rudp_on_ack(loop, s, &d);
    /* The peer gets through to us while our probes had backed off (an
     * outage, most likely over): the next probe goes after the short wait
     * again, rather than up to RUDP_PROBE_MAX_US after the path came back. */
    if (s->probes > 1)
        s->probes = 1;
    s->peer_window = d.window;
    atomic_store_explicit(&s->st_peer_window, d.window, memory_order_relaxed);
    if (d.h.flags & RUDP_F_NUMBERED) {
        if (s->acks.any && rudp_ack_covers(s->acks.ack, s->acks.bits, d.seq)) {
            net__rudp_stat(&s->st[ST_DUPLICATES], 1);
            s->ack_pending = 1; /* our ack may have been lost */
        } else if (s->acks.any && !rudp_seq_after(d.seq, s->acks.ack) &&
                   (uint16_t)(s->acks.ack - d.seq) > RUDP_ACK_BITS) {
            net__rudp_dropped(s); /* too old to acknowledge: its pieces come again */
        } else {
            int taken = net__rudp_take_chunks(loop, s, p + RUDP_DATA_HDR_SIZE, p + len);
            if (taken < 0)
                net__rudp_dropped(s);
            if (taken > 0) {
                rudp_ack_record(&s->acks, d.seq);
                s->ack_pending = 1;
            }
        }
    }
    if (!s->finished)
        net__loop_schedule(loop, &s->o, OP_FLUSH);
}

static void client_handshake(net_loop *loop, net_rudp_session *s, const uint8_t *p, size_t len, uint8_t type)
{
    if (type == RUDP_CHALLENGE && len >= RUDP_CHALLENGE_SIZE) {
        memcpy(s->cookie, p + RUDP_HDR_SIZE, RUDP_COOKIE_SIZE);
        s->have_cookie = 1;
        s->resend_ms = RUDP_HANDSHAKE_RESEND_MS;
        handshake_resend(loop, s);
    } else if (type == RUDP_WELCOME && len >= RUDP_WELCOME_SIZE && s->have_cookie) {
        rudp_params pr;
        s->peer_id = rudp_get32(p + RUDP_HDR_SIZE);
        rudp_get_params(p + RUDP_HDR_SIZE + 4, &pr);
        net__rudp_session_open(loop, s, &pr);
    } else if (type == RUDP_REFUSE && len >= RUDP_REASON_SIZE) {
        net__rudp_session_finish(loop, s, NET_E_REFUSED, 0);
        return;
    } else {
        net__rudp_dropped(s);
    }
    net__rudp_session_rearm(loop, s);
}

void net__rudp_session_received(net_loop *loop, net_rudp_session *s, const uint8_t *p, size_t len, const rudp_hdr *h)
{
    if (!s->welcomed && !s->ep->listener) {
        client_handshake(loop, s, p, len, h->type);
        return;
    }
    switch (h->type) {
    case RUDP_DATA:
        on_data(loop, s, p, len);
        break;
    case RUDP_CLOSE:
        if (len < RUDP_CLOSE_SIZE) {
            net__rudp_dropped(s);
            break;
        }
        net__rudp_close_packet(s, RUDP_CLOSE_ACK, 0);
        uint32_t why = rudp_get32(p + RUDP_HDR_SIZE);
        net__rudp_session_finish(loop, s,
                                 why == RUDP_CLOSE_GRACEFUL ? 0
                                 : why == RUDP_CLOSE_ABORT  ? NET_E_RESET
                                                            : NET_E_PROTO,
                                 0);
        return;
    case RUDP_CLOSE_ACK:
        if (s->close_sent)
            net__rudp_session_finish(loop, s, 0, 0);
        return;
    default: /* a copy of the handshake's last step: nothing new */
        net__rudp_stat(&s->st[ST_DUPLICATES], 1);
        break;
    }
    if (!s->finished)
        net__rudp_session_rearm(loop, s);
}

/* ---- work the script hands over ---- */

/* Takes what the script queued and sends what the windows allow. */
void net__rudp_session_flush(net_loop *loop, net_rudp_session *s)
{
    net_slot_lock(s->o.slot);
    rudp_msg *m = s->in_head;
    s->in_head = s->in_tail = NULL;
    s->flush_scheduled = 0;
    net_slot_unlock(s->o.slot);
    if (m) {
        if (s->out_tail)
            s->out_tail->next = m;
        else
            s->out_head = m;
        uint64_t taken = 1;
        for (; m->next; m = m->next)
            taken++;
        s->out_tail = m;
        /* The engine's messages_out counts messages when the loop takes
         * them, as for TCP connections. */
        atomic_fetch_add_explicit(&loop->e->messages_out, taken, memory_order_relaxed);
    }
    if (s->welcomed) {
        net__rudp_pump(loop, s, 0);
        close_progress(loop, s);
    }
    net__rudp_session_rearm(loop, s);
}

void net__rudp_run_ops(net_loop *loop, net_rudp_session *s, uint32_t ops)
{
    if (s->finished)
        return;
    if (ops & OP_ABORT) {
        net__rudp_session_finish(loop, s, NET_E_ABORTED, 1);
        return;
    }
    if (ops & OP_CONNECT) {
        s->started = loop->now;
        handshake_resend(loop, s);
    }
    if (ops & OP_RESUME)
        s->ack_pending = 1;
    if (ops & OP_CLOSE) {
        s->close_requested = 1;
        if (!s->close_deadline)
            s->close_deadline = loop->now + s->ep->cfg.close_timeout_ms;
    }
    net__rudp_session_flush(loop, s);
}

/* The loop's timers: every session due by now. */
void net__rudp_timers_run(net_loop *loop)
{
    for (;;) {
        int rearmed = 0;
        net_timer *tm = net_timers_pop_due(&loop->rudp_timers, loop->now, &rearmed);
        if (!tm)
            return;
        net_rudp_session *s = NET_CONTAINER_OF(tm, net_rudp_session, timer);
        net__rudp_session_timer(loop, s);
    }
}
