/* rudp_send.c - the sending side of a session: packets built from what is
 * to be sent again and what is new, within the congestion window
 * (rudp_congestion.c) and the peer's receive window; what the peer's
 * acknowledgements say (pieces done, packets lost, an RTT sample for
 * rudp_rtt.c); the retransmit timeout firing. */
#include <stdlib.h>
#include <string.h>
#include "testhooks.h"
#include "rudp.h"

/* ---- rings that grow: each indexed by an absolute counter & (cap - 1) ---- */

static int grow_u32_ring(uint32_t **ring, uint32_t *cap, uint32_t first, uint32_t count, uint32_t min, uint32_t max)
{
    uint32_t ncap = *cap ? *cap * 2 : min;
    if (ncap > max)
        return -1;
    uint32_t *n = net__malloc((size_t)ncap * sizeof *n);
    if (!n)
        return -1;
    for (uint32_t i = 0; i < count; i++)
        n[(first + i) & (ncap - 1)] = (*ring)[(first + i) & (*cap - 1)];
    free(*ring);
    *ring = n;
    *cap = ncap;
    return 0;
}

static int grow_rel(net_rudp_session *s)
{
    uint32_t ncap = s->rel_cap ? s->rel_cap * 2 : RUDP_REL_MIN;
    if (ncap > RUDP_REL_MAX)
        return -1;
    rudp_piece *n = net__calloc(ncap, sizeof *n);
    if (!n)
        return -1;
    for (uint32_t r = s->rsn_base; r != s->rsn_next; r++)
        n[r & (ncap - 1)] = s->rel[r & (s->rel_cap - 1)];
    free(s->rel);
    s->rel = n;
    s->rel_cap = ncap;
    return 0;
}

static rudp_piece *piece_of(net_rudp_session *s, uint32_t rsn)
{
    if ((uint32_t)(rsn - s->rsn_base) >= (uint32_t)(s->rsn_next - s->rsn_base))
        return NULL;
    return &s->rel[rsn & (s->rel_cap - 1)];
}

static void retx_push(net_rudp_session *s, uint32_t rsn)
{
    if (s->retx_count == s->retx_cap &&
        grow_u32_ring(&s->retx, &s->retx_cap, s->retx_head, s->retx_count, RUDP_RETX_MIN, RUDP_REL_MAX) != 0)
        return; /* cannot happen: at most RUDP_REL_MAX pieces are live, each queued once */
    s->retx[(s->retx_head + s->retx_count) & (s->retx_cap - 1)] = rsn;
    s->retx_count++;
}

/* ---- statistics the script reads ---- */

static void publish(net_rudp_session *s)
{
    atomic_store_explicit(&s->st_cwnd, s->cwnd, memory_order_relaxed);
    atomic_store_explicit(&s->st_in_flight, s->bytes_in_flight, memory_order_relaxed);
    atomic_store_explicit(&s->st_rto_ms, s->rto_ms, memory_order_relaxed);
    atomic_store_explicit(&s->st_rtt_us, s->srtt_us, memory_order_relaxed);
    atomic_store_explicit(&s->st_rttvar_us, s->rttvar_us, memory_order_relaxed);
}

/* ---- a message's pieces done ---- */

static void msg_release(net_rudp_session *s, rudp_msg *m)
{
    net__rudp_done_charge(s, m->charge);
    free(m);
}

static void piece_acked(net_rudp_session *s, rudp_piece *pc)
{
    pc->live = 0;
    rudp_msg *m = pc->msg;
    pc->msg = NULL;
    if (--m->pieces_left == 0 && m->all_sent)
        msg_release(s, m);
}

/* ---- building packets ---- */

typedef struct pkt_build {
    uint8_t *w, *end;
    uint32_t pieces;     /* chunks written */
    uint32_t data_bytes; /* their payload */
    uint32_t log_start;
    uint16_t seq;
} pkt_build;

static int log_append(net_rudp_session *s, uint32_t rsn)
{
    if (s->log_used == s->log_cap &&
        grow_u32_ring(&s->log, &s->log_cap, s->log_head, s->log_used, RUDP_LOG_MIN, RUDP_LOG_MAX) != 0)
        return -1;
    s->log[(s->log_head + s->log_used) & (s->log_cap - 1)] = rsn;
    s->log_used++;
    return 0;
}

static int put_piece(net_rudp_session *s, pkt_build *b, rudp_chunk *c, const rudp_piece *pc, uint32_t rsn)
{
    rudp_msg *m = pc->msg;
    c->channel = m->channel;
    c->cseq = m->cseq;
    c->len = pc->len;
    c->rsn = (uint16_t)rsn;
    c->data = m->data + pc->offset;
    c->flags = (uint8_t)(m->mode | RUDP_C_RELIABLE);
    if (pc->count > 1) {
        c->flags |= RUDP_C_FRAG;
        c->total = m->len;
        c->offset = pc->offset;
        c->index = pc->index;
        c->count = pc->count;
    }
    if ((size_t)(b->end - b->w) < rudp_chunk_size(c) || log_append(s, rsn) != 0)
        return 0;
    b->w += rudp_put_chunk(b->w, c);
    b->pieces++;
    b->data_bytes += pc->len;
    return 1;
}

static void add_retransmits(net_rudp_session *s, pkt_build *b)
{
    while (s->retx_count) {
        uint32_t rsn = s->retx[s->retx_head & (s->retx_cap - 1)];
        rudp_piece *pc = piece_of(s, rsn);
        if (pc && pc->live) {
            rudp_chunk c;
            memset(&c, 0, sizeof c);
            if (!put_piece(s, b, &c, pc, rsn))
                return;
            pc->last_seq = b->seq;
            pc->retx = 0;
            net__rudp_stat(&s->st[ST_RETRANSMITS], 1);
        } else if (pc) {
            pc->retx = 0;
        }
        s->retx_head++;
        s->retx_count--;
    }
}

/* The payload a fragment carries: what a datagram holds beside the headers. */
static uint32_t fragment_room(const net_rudp_session *s)
{
    return s->mtu - RUDP_CRC_SIZE - RUDP_DATA_HDR_SIZE - RUDP_CHUNK_HDR_SIZE - RUDP_FRAG_HDR_SIZE;
}

static int window_allows(const net_rudp_session *s, const pkt_build *b, uint32_t len)
{
    uint64_t after = s->data_in_flight + b->data_bytes + len;
    /* One piece may always go when nothing is in flight: a window smaller
     * than a piece must not stall the session for good. */
    return after <= s->peer_window || (s->data_in_flight + b->data_bytes == 0 && s->peer_window > 0);
}

/* The head message is fully handed out: off the queue. */
static void head_done(net_rudp_session *s, int reliable)
{
    rudp_msg *m = s->out_head;
    s->out_head = m->next;
    if (!s->out_head)
        s->out_tail = NULL;
    m->next = NULL;
    s->out_offset = 0;
    s->out_index = 0;
    m->all_sent = 1;
    net__rudp_stat(&s->st[ST_MESSAGES_SENT], 1);
    if (!reliable || m->pieces_left == 0)
        msg_release(s, m);
}

/* One new piece of the head message into the packet: 1 written, 0 stop. */
static int add_new_piece(net_rudp_session *s, pkt_build *b)
{
    rudp_msg *m = s->out_head;
    if (m->channel >= s->nchannels) { /* beyond what the peer has: never deliverable */
        head_done(s, 0);
        return 1;
    }
    uint32_t single = s->mtu - RUDP_CRC_SIZE - RUDP_DATA_HDR_SIZE - RUDP_CHUNK_HDR_SIZE;
    int frag = m->len > single;
    int reliable = m->mode <= NET_RUDP_RELIABLE_UNORDERED || frag;
    uint32_t len = frag ? m->len - s->out_offset : m->len;
    if (frag && len > fragment_room(s))
        len = fragment_room(s);
    if (!window_allows(s, b, len))
        return 0;
    if (!m->cseq_given) { /* its channel sequence, once, even if this packet has no room for it */
        m->cseq_given = 1;
        if (m->mode == NET_RUDP_RELIABLE_ORDERED)
            m->cseq = s->ord_seq[m->channel]++;
        else if (m->mode == NET_RUDP_UNRELIABLE_SEQUENCED)
            m->cseq = s->sq_seq[m->channel]++;
    }
    rudp_piece pc = {m, s->out_offset, (uint16_t)len, s->out_index, 1, b->seq, 1, 0};
    if (frag)
        pc.count = (uint16_t)((m->len + fragment_room(s) - 1) / fragment_room(s));
    rudp_chunk c;
    memset(&c, 0, sizeof c);
    if (reliable) {
        if (s->rsn_next - s->rsn_base >= RUDP_REL_MAX || (s->rsn_next - s->rsn_base >= s->rel_cap && grow_rel(s) != 0))
            return 0;
        if (!put_piece(s, b, &c, &pc, s->rsn_next))
            return 0;
        s->rel[s->rsn_next & (s->rel_cap - 1)] = pc;
        s->rsn_next++;
        m->pieces_left++;
    } else {
        c.flags = m->mode;
        c.channel = m->channel;
        c.cseq = m->cseq;
        c.len = (uint16_t)len;
        c.rsn = s->unrel_id;
        c.data = m->data;
        if ((size_t)(b->end - b->w) < rudp_chunk_size(&c))
            return 0;
        s->unrel_id++;
        b->w += rudp_put_chunk(b->w, &c);
        b->pieces++;
        b->data_bytes += len;
    }
    s->out_offset += len;
    s->out_index++;
    if (s->out_offset >= m->len)
        head_done(s, reliable);
    return 1;
}

static int may_number(const net_rudp_session *s)
{
    if ((uint16_t)(s->next_seq - s->una_seq) >= RUDP_PKT_RING - 1)
        return 0;
    /* A tail-loss probe goes whatever the congestion window says (RFC 8985 7.3). */
    return s->probe_pending || net__rudp_cc_may_send(s);
}

static int ensure_rings(net_rudp_session *s)
{
    if (s->sent)
        return 0;
    s->sent = net__calloc(RUDP_PKT_RING, sizeof *s->sent);
    return s->sent ? 0 : -1;
}

static void record_sent(net_rudp_session *s, const pkt_build *b, size_t len)
{
    rudp_sent *r = &s->sent[b->seq & (RUDP_PKT_RING - 1)];
    r->sent_us = net__rudp_now_us();
    r->bytes = (uint32_t)len;
    r->log_start = b->log_start;
    r->log_count = (uint16_t)b->pieces;
    r->seq = b->seq;
    r->in_flight = 1;
    r->data_bytes = b->data_bytes;
    s->next_seq++;
    s->in_flight_packets++;
    s->bytes_in_flight += len;
    s->data_in_flight += b->data_bytes;
}

void net__rudp_pump(net_loop *loop, net_rudp_session *s, int force_numbered)
{
    if (!s->welcomed || s->finished || ensure_rings(s) != 0)
        return;
    rudp_endpoint *ep = s->ep;
    for (;;) {
        pkt_build b = {ep->pkt + RUDP_DATA_HDR_SIZE,
                       ep->pkt + s->mtu - RUDP_CRC_SIZE,
                       0,
                       0,
                       s->log_head + s->log_used,
                       s->next_seq};
        int numbered = may_number(s);
        if (numbered) {
            add_retransmits(s, &b);
            while (s->out_head && add_new_piece(s, &b))
                ;
            /* Reliable pieces' log entries name this packet's seq: keep them in step. */
            b.pieces = s->log_head + s->log_used - b.log_start;
        }
        int has_chunks = b.w != ep->pkt + RUDP_DATA_HDR_SIZE;
        numbered = numbered && (has_chunks || force_numbered);
        if (!numbered && !s->ack_pending)
            break;
        rudp_data_hdr d;
        memset(&d, 0, sizeof d);
        d.h.type = RUDP_DATA;
        d.h.version = RUDP_VERSION;
        d.h.id = s->peer_id;
        d.h.flags = (uint16_t)((numbered ? RUDP_F_NUMBERED : 0) | (s->acks.any ? RUDP_F_ACK : 0));
        d.seq = numbered ? b.seq : 0;
        d.ack = s->acks.ack;
        d.ack_bits = s->acks.bits;
        d.window = net__rudp_window(s);
        rudp_put_data_hdr(ep->pkt, &d);
        size_t len = (size_t)(b.w - ep->pkt);
        if (numbered) {
            record_sent(s, &b, len);
            s->probe_pending = 0;
        }
        net__rudp_transmit(ep, &s->peer, ep->pkt, len);
        net__rudp_stat(&s->st[ST_PACKETS_SENT], 1);
        net__rudp_stat(&s->st[ST_BYTES_SENT], len + RUDP_CRC_SIZE);
        s->last_send = loop->now;
        s->ack_pending = 0;
        force_numbered = 0;
        if (!has_chunks)
            break;
    }
    publish(s);
}

/* ---- what acknowledgements say ---- */

static void packet_done(net_rudp_session *s, rudp_sent *r)
{
    r->in_flight = 0;
    s->in_flight_packets--;
    s->bytes_in_flight -= r->bytes <= s->bytes_in_flight ? r->bytes : s->bytes_in_flight;
    s->data_in_flight -= r->data_bytes <= s->data_in_flight ? r->data_bytes : s->data_in_flight;
}

static void packet_acked(net_rudp_session *s, rudp_sent *r)
{
    packet_done(s, r);
    for (uint32_t i = 0; i < r->log_count; i++) {
        uint32_t rsn = s->log[(r->log_start + i) & (s->log_cap - 1)];
        rudp_piece *pc = piece_of(s, rsn);
        if (pc && pc->live)
            piece_acked(s, pc);
    }
    net__rudp_cc_acked(s, r->bytes);
}

static void packet_lost(net_rudp_session *s, rudp_sent *r)
{
    packet_done(s, r);
    net__rudp_stat(&s->st[ST_PACKETS_LOST], 1);
    for (uint32_t i = 0; i < r->log_count; i++) {
        uint32_t rsn = s->log[(r->log_start + i) & (s->log_cap - 1)];
        rudp_piece *pc = piece_of(s, rsn);
        if (pc && pc->live && pc->last_seq == r->seq && !pc->retx) {
            pc->retx = 1;
            retx_push(s, rsn);
        }
    }
    net__rudp_cc_lost(s, r->seq);
}

/* The oldest packet in flight moves up past those done; their log entries go. */
static void advance_una(net_rudp_session *s)
{
    while (s->una_seq != s->next_seq) {
        rudp_sent *r = &s->sent[s->una_seq & (RUDP_PKT_RING - 1)];
        if (r->in_flight)
            break;
        s->log_head += r->log_count;
        s->log_used -= r->log_count;
        r->log_count = 0;
        s->una_seq++;
    }
    while (s->rsn_base != s->rsn_next && !s->rel[s->rsn_base & (s->rel_cap - 1)].live)
        s->rsn_base++;
}

/* RACK (RFC 8985): a packet sent before one the peer has is lost once it
 * is older than an RTT and a reordering allowance - a quarter RTT, at least
 * RUDP_REORDER_MIN_US - however few newer packets went out after it (a
 * game's small bursts rarely have three). The allowance covers backends
 * that complete several posted receives in any order (IOCP, Wine). */
static uint64_t rack_threshold_us(const net_rudp_session *s)
{
    uint64_t reo = s->srtt_us / 4 > RUDP_REORDER_MIN_US ? s->srtt_us / 4 : RUDP_REORDER_MIN_US;
    return s->srtt_us + reo;
}

static int rack_passed(const net_rudp_session *s, uint16_t seq)
{
    return s->rack_valid && rudp_seq_after(s->rack_ack, seq);
}

/* Declares lost what RACK says is; 1 if anything was. */
static int rack_detect(net_rudp_session *s, uint64_t now)
{
    uint64_t threshold = rack_threshold_us(s);
    int any = 0;
    for (uint16_t seq = s->una_seq; seq != s->next_seq && rack_passed(s, seq); seq++) {
        rudp_sent *r = &s->sent[seq & (RUDP_PKT_RING - 1)];
        if (r->in_flight && now >= r->sent_us + threshold) {
            packet_lost(s, r);
            any = 1;
        }
    }
    return any;
}

void net__rudp_on_ack(net_loop *loop, net_rudp_session *s, const rudp_data_hdr *d)
{
    (void)loop;
    if (!s->sent || s->in_flight_packets == 0)
        return;
    if ((uint16_t)(d->ack - s->una_seq) >= (uint16_t)(s->next_seq - s->una_seq)) {
        /* An ack of a packet never sent is forged or broken: ignored whole,
         * counted. One older than everything in flight (a late copy, or
         * acks overtaking each other) says nothing new. */
        if (!rudp_seq_after(s->una_seq, d->ack))
            net__rudp_dropped(s);
        return;
    }
    uint64_t now = net__rudp_now_us();
    rudp_sent *newest = NULL;
    for (uint16_t seq = s->una_seq; seq != s->next_seq; seq++) {
        rudp_sent *r = &s->sent[seq & (RUDP_PKT_RING - 1)];
        if (r->in_flight && rudp_ack_covers(d->ack, d->ack_bits, seq)) {
            packet_acked(s, r);
            newest = r;
        }
    }
    if (!s->rack_valid || rudp_seq_after(d->ack, s->rack_ack)) {
        s->rack_ack = d->ack;
        s->rack_valid = 1;
    }
    if (newest) {
        net__rudp_rtt_sample(s, now > newest->sent_us ? now - newest->sent_us : 0);
        s->probes = 0; /* the path delivers: the next probe waits the short time again */
    }
    rack_detect(s, now);
    net__rudp_cc_ack_seen(s, d->ack);
    advance_una(s);
    publish(s);
}

/* ---- packets lost at the tail of a burst, or passed and not yet old ---- */

static rudp_sent *newest_in_flight(net_rudp_session *s)
{
    for (uint16_t seq = (uint16_t)(s->next_seq - 1); seq != (uint16_t)(s->una_seq - 1); seq--) {
        rudp_sent *r = &s->sent[seq & (RUDP_PKT_RING - 1)];
        if (r->in_flight)
            return r;
    }
    return NULL;
}

/* A tail-loss probe (RFC 8985 7) waits two SRTT after the newest packet:
 * no ack by then and its loss would only be seen by the retransmit timeout.
 * A probe lost as well is probed again, each time twice as late (as QUIC's
 * probe timeout backs off, RFC 9002 6.2): at 10 % loss one packet in a
 * hundred loses its probe too, and waiting for the retransmit timeout then
 * stalls an ordered channel for tens of milliseconds. For the first
 * RUDP_PROBE_FAST probes (about a second) the wait is capped at
 * RUDP_PROBE_MAX_US, which bounds how long a session takes to notice that
 * a path came back after a short outage (a game's usual one); past them
 * the backoff goes on doubling, up to rto_max_ms, so a peer gone for good
 * costs a few probes, not ten a second until the idle timeout. */
static uint64_t probe_after_us(const net_rudp_session *s)
{
    uint64_t base = 2 * s->srtt_us + RUDP_PROBE_MIN_US;
    if (s->probes < RUDP_PROBE_FAST) {
        uint64_t after = base << s->probes; /* RUDP_PROBE_FAST < 32: no overflow */
        return after < RUDP_PROBE_MAX_US ? after : RUDP_PROBE_MAX_US;
    }
    uint32_t extra = s->probes - RUDP_PROBE_FAST + 1;
    uint64_t max_us = (uint64_t)s->ep->cfg.rto_max_ms * 1000;
    uint64_t after = extra < 16 ? (uint64_t)RUDP_PROBE_MAX_US << extra : max_us;
    return after < max_us ? after : max_us;
}

static uint64_t us_to_loop_ms(uint64_t us)
{
    return (us + 999) / 1000;
}

uint64_t net__rudp_loss_due(const net_rudp_session *s)
{
    if (!s->sent || s->in_flight_packets == 0)
        return UINT64_MAX;
    uint64_t due = UINT64_MAX;
    for (uint16_t seq = s->una_seq; seq != s->next_seq && rack_passed(s, seq); seq++) {
        const rudp_sent *r = &s->sent[seq & (RUDP_PKT_RING - 1)];
        if (r->in_flight) { /* the oldest: sent first, due first */
            due = us_to_loop_ms(r->sent_us + rack_threshold_us(s));
            break;
        }
    }
    if (!s->probe_pending) {
        const rudp_sent *r = newest_in_flight((net_rudp_session *)s);
        if (r) {
            uint64_t probe = us_to_loop_ms(r->sent_us + probe_after_us(s));
            due = probe < due ? probe : due;
        }
    }
    return due;
}

/* The probe sends the newest packet's reliable pieces again in a packet of
 * its own, without a congestion response (nothing is known lost yet): its
 * ack shows RACK what is missing. A packet without such pieces is probed
 * by a numbered packet that carries none. */
static void tail_probe(net_rudp_session *s, rudp_sent *r)
{
    for (uint32_t i = 0; i < r->log_count; i++) {
        uint32_t rsn = s->log[(r->log_start + i) & (s->log_cap - 1)];
        rudp_piece *pc = piece_of(s, rsn);
        if (pc && pc->live && pc->last_seq == r->seq && !pc->retx) {
            pc->retx = 1;
            retx_push(s, rsn);
        }
    }
    s->probes++;
    s->probe_pending = 1;
}

void net__rudp_check_losses(net_loop *loop, net_rudp_session *s)
{
    (void)loop;
    if (!s->sent || s->in_flight_packets == 0)
        return;
    uint64_t now = net__rudp_now_us();
    if (!rack_detect(s, now) && !s->probe_pending) {
        rudp_sent *r = newest_in_flight(s);
        if (r && now >= r->sent_us + probe_after_us(s))
            tail_probe(s, r);
    }
    advance_una(s);
    publish(s);
}

/* ---- the retransmit timeout ---- */

uint64_t net__rudp_rto_due(const net_rudp_session *s)
{
    if (!s->sent || s->in_flight_packets == 0)
        return UINT64_MAX;
    const rudp_sent *r = &s->sent[s->una_seq & (RUDP_PKT_RING - 1)];
    return r->sent_us / 1000 + net__rudp_rto_now_ms(s);
}

void net__rudp_check_timeouts(net_loop *loop, net_rudp_session *s)
{
    if (!s->sent || s->in_flight_packets == 0 || loop->now < net__rudp_rto_due(s))
        return;
    uint64_t limit_us = (loop->now - net__rudp_rto_now_ms(s)) * 1000 + 999;
    for (uint16_t seq = s->una_seq; seq != s->next_seq; seq++) {
        rudp_sent *r = &s->sent[seq & (RUDP_PKT_RING - 1)];
        if (r->in_flight && r->sent_us <= limit_us)
            packet_lost(s, r);
    }
    /* The timeout backs off (RFC 6298 5.5) and the window starts again small. */
    s->backoff++;
    net__rudp_cc_timeout(s);
    advance_una(s);
    publish(s);
}

int net__rudp_send_idle(const net_rudp_session *s)
{
    return s->out_head == NULL && s->rsn_base == s->rsn_next;
}

void net__rudp_send_free(net_rudp_session *s)
{
    for (uint32_t r = s->rsn_base; s->rel && r != s->rsn_next; r++) {
        rudp_piece *pc = &s->rel[r & (s->rel_cap - 1)];
        if (pc->live) {
            pc->live = 0;
            if (--pc->msg->pieces_left == 0 && pc->msg->all_sent)
                free(pc->msg);
        }
    }
    for (rudp_msg *m = s->out_head, *next; m; m = next) {
        next = m->next;
        free(m);
    }
    s->out_head = s->out_tail = NULL;
    free(s->rel);
    free(s->log);
    free(s->retx);
    free(s->sent);
    s->rel = NULL;
    s->log = NULL;
    s->retx = NULL;
    s->sent = NULL;
    s->rsn_base = s->rsn_next;
}
