/* rudp_recv.c - the receiving side of a session: the chunks of a numbered
 * packet checked whole, then each one deduplicated (reliable sequence
 * numbers, unreliable ids), reassembled when a fragment, and delivered by
 * its mode's rule; the receive window that bounds what a session holds. */
#include <stdlib.h>
#include <string.h>
#include "testhooks.h"
#include "rudp.h"

#define HELD_OVERHEAD 64 /* charged per held message: empty ones are not free */
#define MAX_ASSEMBLING 256

uint32_t net__rudp_window(net_rudp_session *s)
{
    uint64_t used = atomic_load(&s->unpolled) + s->held_bytes;
    uint64_t room = used < s->recv_window ? s->recv_window - used : 0;
    /* Below half: the poller tells us when the script caught up. */
    if (room < s->recv_window / 2)
        atomic_store(&s->window_starved, 1);
    return (uint32_t)room;
}

/* ---- delivery ---- */

static void push_data(net_loop *loop, net_rudp_session *s, uint8_t channel, const uint8_t *data, uint32_t len)
{
    net_block *owner = NULL;
    const uint8_t *msg = net__rx_keep(loop, data, len, &owner);
    if (!msg) {
        net__rudp_dropped(s);
        return;
    }
    net_event ev = net__obj_event(&s->o, NET_EV_DATA, 0, 0);
    ev.parent = channel;
    ev.data = msg;
    ev.len = len;
    ev.addr = s->peer;
    atomic_fetch_add(&s->unpolled, len);
    /* Counted before the event is out: the script may read the figure as soon as it has it. */
    net__rudp_stat(&s->st[ST_MESSAGES_RECEIVED], 1);
    if (net__push_event(loop->e, &ev, owner, s) != 0) {
        atomic_fetch_sub(&s->unpolled, len);
        net_block_unref(owner, 1);
        net__rudp_stat(&s->st[ST_MESSAGES_RECEIVED], (uint64_t)-1);
        net__rudp_dropped(s);
        return;
    }
    net__count(&loop->stats.messages_in, 1);
}

/* An ordered message ahead of its turn waits, copied. */
static void hold_ordered(net_rudp_session *s, uint8_t channel, uint16_t cseq, const uint8_t *data, uint32_t len)
{
    rudp_held *h = net__calloc(1, sizeof *h + len);
    if (!h)
        return; /* lost for want of memory: the channel stalls, as any reliable stream would without it */
    h->channel = channel;
    h->cseq = cseq;
    h->total = len;
    h->data = (uint8_t *)(h + 1);
    if (len)
        memcpy(h->data, data, len);
    h->next = s->held_ordered;
    s->held_ordered = h;
    s->held_bytes += len + HELD_OVERHEAD;
}

/* Delivers the held messages of channel ch whose turn has come. */
static void release_ordered(net_loop *loop, net_rudp_session *s, uint8_t ch)
{
    for (int found = 1; found;) {
        found = 0;
        for (rudp_held **pp = &s->held_ordered; *pp; pp = &(*pp)->next) {
            rudp_held *h = *pp;
            if (h->channel != ch || h->cseq != s->rcv_ord_next[ch])
                continue;
            *pp = h->next;
            push_data(loop, s, ch, h->data, h->total);
            s->held_bytes -= h->total + HELD_OVERHEAD;
            s->rcv_ord_next[ch]++;
            free(h);
            found = 1;
            break;
        }
    }
}

static void deliver(net_loop *loop, net_rudp_session *s, const rudp_chunk *c, const uint8_t *data, uint32_t len)
{
    uint8_t ch = c->channel, mode = c->flags & RUDP_C_MODE_MASK;
    if (mode == NET_RUDP_RELIABLE_ORDERED) {
        uint16_t next = s->rcv_ord_next[ch];
        if (c->cseq == next) {
            push_data(loop, s, ch, data, len);
            s->rcv_ord_next[ch]++;
            if (s->held_ordered)
                release_ordered(loop, s, ch);
        } else if (rudp_seq_after(c->cseq, next)) {
            hold_ordered(s, ch, c->cseq, data, len);
        } else {
            net__rudp_stat(&s->st[ST_DUPLICATES], 1);
        }
        return;
    }
    if (mode == NET_RUDP_UNRELIABLE_SEQUENCED) {
        uint64_t bit = 1ull << ch;
        if ((s->rcv_sq_any & bit) && !rudp_seq_after(c->cseq, s->rcv_sq_last[ch]))
            return; /* older than what the channel delivered: dropped by the mode's rule */
        s->rcv_sq_any |= bit;
        s->rcv_sq_last[ch] = c->cseq;
    }
    push_data(loop, s, ch, data, len);
}

/* ---- reassembly ---- */

static rudp_held *assembly_for(net_rudp_session *s, const rudp_chunk *c, uint32_t first_rsn)
{
    uint32_t n = 0;
    for (rudp_held *h = s->assembling; h; h = h->next, n++)
        if (h->first_rsn == first_rsn)
            return h;
    if (n >= MAX_ASSEMBLING || c->total > s->max_message)
        return NULL;
    rudp_held *h = net__calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->first_rsn = first_rsn;
    h->total = c->total;
    h->count = c->count;
    h->channel = c->channel;
    h->mode = c->flags & RUDP_C_MODE_MASK;
    h->cseq = c->cseq;
    h->next = s->assembling;
    s->assembling = h;
    s->held_bytes += HELD_OVERHEAD;
    return h;
}

static void assembly_free(net_rudp_session *s, rudp_held *h)
{
    for (rudp_held **pp = &s->assembling; *pp; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    s->held_bytes -= h->cap + HELD_OVERHEAD;
    free(h->data);
    free(h);
}

/* The buffer grows to hold what arrived (doubling, up to the total), so a
 * message that never completes holds no more than was sent of it. */
static int assembly_room(net_rudp_session *s, rudp_held *h, uint32_t extent)
{
    if (extent <= h->cap)
        return 0;
    uint32_t cap = h->cap * 2 > extent ? h->cap * 2 : extent;
    if (cap > h->total)
        cap = h->total;
    if (s->held_bytes + (cap - h->cap) > 2ull * s->recv_window)
        return -1;
    uint8_t *d = net__realloc(h->data, cap);
    if (!d)
        return -1;
    memset(d + h->cap, 0, cap - h->cap);
    s->held_bytes += cap - h->cap;
    h->data = d;
    h->cap = cap;
    return 0;
}

static void take_fragment(net_loop *loop, net_rudp_session *s, const rudp_chunk *c, uint32_t rsn)
{
    rudp_held *h = assembly_for(s, c, rsn - c->index);
    /* A fragment that disagrees with the message it claims to be part of lies. */
    if (!h || h->total != c->total || h->count != c->count || h->channel != c->channel ||
        h->mode != (c->flags & RUDP_C_MODE_MASK) || h->cseq != c->cseq ||
        assembly_room(s, h, c->offset + c->len) != 0) {
        net__rudp_dropped(s);
        return;
    }
    if (c->len)
        memcpy(h->data + c->offset, c->data, c->len);
    h->have++;
    h->have_bytes += c->len;
    if (h->have < h->count)
        return;
    if (h->have_bytes == h->total) {
        rudp_chunk whole = *c;
        whole.cseq = h->cseq;
        deliver(loop, s, &whole, h->data, h->total);
    } else {
        net__rudp_dropped(s);
    }
    assembly_free(s, h);
}

/* ---- duplicates ---- */

/* 1 when reliable piece rsn (16 bits on the wire) is new; its full number in *full. */
static int reliable_new(net_rudp_session *s, uint16_t rsn, uint32_t *full)
{
    uint16_t d = (uint16_t)(rsn - (uint16_t)s->rcv_rsn_base);
    if (d >= RUDP_REL_MAX)
        return 0; /* before the base: had it */
    uint32_t r = s->rcv_rsn_base + d;
    uint64_t *word = &s->rcv_rsn_bits[(r & (RUDP_REL_MAX - 1)) / 64];
    uint64_t bit = 1ull << (r % 64);
    if (*word & bit)
        return 0;
    *word |= bit;
    while (s->rcv_rsn_bits[(s->rcv_rsn_base & (RUDP_REL_MAX - 1)) / 64] & (1ull << (s->rcv_rsn_base % 64))) {
        s->rcv_rsn_bits[(s->rcv_rsn_base & (RUDP_REL_MAX - 1)) / 64] &= ~(1ull << (s->rcv_rsn_base % 64));
        s->rcv_rsn_base++;
    }
    *full = r;
    return 1;
}

static int unreliable_new(net_rudp_session *s, uint16_t id)
{
    if (!s->rcv_unrel_any || rudp_seq_after(id, s->rcv_unrel_max)) {
        uint16_t shift = s->rcv_unrel_any ? (uint16_t)(id - s->rcv_unrel_max) : 64;
        s->rcv_unrel_bits = shift >= 64 ? 0 : s->rcv_unrel_bits << shift;
        s->rcv_unrel_bits |= 1; /* bit i: id max - i arrived */
        s->rcv_unrel_max = id;
        s->rcv_unrel_any = 1;
        return 1;
    }
    uint16_t back = (uint16_t)(s->rcv_unrel_max - id);
    if (back >= 64 || (s->rcv_unrel_bits >> back) & 1)
        return 0; /* a copy, or too old to tell: dropped either way */
    s->rcv_unrel_bits |= 1ull << back;
    return 1;
}

/* ---- a packet's chunks ---- */

/* The whole packet is checked before any of it counts: 0 when well-formed,
 * and the payload bytes it carries in *bytes. */
static int check_chunks(const net_rudp_session *s, const uint8_t *p, const uint8_t *end, uint64_t *bytes)
{
    rudp_chunk c;
    int r;
    *bytes = 0;
    while ((r = rudp_next_chunk(&p, end, &c)) == 1) {
        if (c.channel >= s->nchannels || c.total > s->max_message)
            return -1;
        uint16_t mode = c.flags & RUDP_C_MODE_MASK;
        int reliable = (c.flags & RUDP_C_RELIABLE) != 0;
        if ((mode <= NET_RUDP_RELIABLE_UNORDERED) != reliable && !(c.flags & RUDP_C_FRAG))
            return -1;
        if (reliable) { /* beyond the window the sender may have in flight: forged */
            uint16_t d = (uint16_t)(c.rsn - (uint16_t)s->rcv_rsn_base);
            if (d >= RUDP_REL_MAX && d < 65536u - RUDP_REL_MAX)
                return -1;
        }
        *bytes += c.len;
    }
    return r;
}

int net__rudp_take_chunks(net_loop *loop, net_rudp_session *s, const uint8_t *p, const uint8_t *end)
{
    uint64_t bytes;
    if (check_chunks(s, p, end, &bytes) != 0)
        return -1;
    /* No room: the packet is not acknowledged, so it comes again later. */
    if (atomic_load(&s->unpolled) + s->held_bytes + bytes > (uint64_t)s->recv_window + s->mtu + 16 * HELD_OVERHEAD) {
        atomic_store(&s->window_starved, 1);
        net__rudp_dropped(s);
        return 0;
    }
    rudp_chunk c;
    while (rudp_next_chunk(&p, end, &c) == 1) {
        uint32_t rsn = 0;
        int fresh = (c.flags & RUDP_C_RELIABLE) ? reliable_new(s, c.rsn, &rsn) : unreliable_new(s, c.rsn);
        if (!fresh) {
            net__rudp_stat(&s->st[ST_DUPLICATES], 1);
            continue;
        }
        if (c.flags & RUDP_C_FRAG)
            take_fragment(loop, s, &c, rsn);
        else
            deliver(loop, s, &c, c.data, c.len);
    }
    return 1;
}

void net__rudp_recv_free(net_rudp_session *s)
{
    while (s->assembling)
        assembly_free(s, s->assembling);
    for (rudp_held *h = s->held_ordered, *next; h; h = next) {
        next = h->next;
        free(h);
    }
    s->held_ordered = NULL;
    s->held_bytes = 0;
}
