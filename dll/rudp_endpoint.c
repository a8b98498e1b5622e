/* rudp_endpoint.c - the socket side of reliable UDP: what arrives on an
 * endpoint's UDP socket is checked and handed to its session; a listener
 * answers handshakes statelessly (a cookie) until the peer proves it can
 * receive at its address, and only then makes a session; packets go out
 * through the socket's batched send queue (udp.c). */
#include <stdlib.h>
#include <string.h>
#include "testhooks.h"
#include "rudp.h"

rudp_endpoint *net__rudp_endpoint_new(const net_rudp_config *cfg, int listener)
{
    rudp_endpoint *ep = net__calloc(1, sizeof *ep);
    if (!ep)
        return NULL;
    ep->cfg = *cfg;
    ep->listener = listener;
    ep->pkt = net__malloc(cfg->mtu);
    if (!ep->pkt) {
        free(ep);
        return NULL;
    }
    net__rudp_random(ep->secret, sizeof ep->secret);
    net__rudp_random(ep->id_key, sizeof ep->id_key);
    return ep;
}

void net__rudp_endpoint_attach(rudp_endpoint *ep, net_udp *u)
{
    ep->u = u;
}

void net__rudp_endpoint_free(rudp_endpoint *ep)
{
    if (!ep)
        return;
    free(ep->table);
    free(ep->pkt);
    free(ep);
}

/* ---- sending ---- */

void net__rudp_transmit(rudp_endpoint *ep, const net_addr *to, const uint8_t *p, size_t len)
{
    net_udp *u = ep->u;
    /* The datagram is p and its CRC32C, gathered by the queue: callers
     * build packets in buffers of their exact size. */
    uint8_t crc[RUDP_CRC_SIZE];
    rudp_put32(crc, rudp_crc32c(p, len));
    net_buf b[2] = {{p, len}, {crc, sizeof crc}};
    net_slot_lock(u->o.slot);
    /* A full queue loses the packet as the network would; the protocol
     * sends again what must arrive. */
    int rc = net__udp_queue(u, ep->listener ? to : NULL, b, 2);
    net_slot_unlock(u->o.slot);
    if (rc == 0) {
        net__rudp_stat(&ep->st[ST_PACKETS_SENT], 1);
        net__rudp_stat(&ep->st[ST_BYTES_SENT], len + RUDP_CRC_SIZE);
    }
}

/* A reply of the handshake, never larger than what it answers. */
static void reply(rudp_endpoint *ep, const net_addr *to, const uint8_t *p, size_t len, size_t request_len)
{
    if (len <= request_len)
        net__rudp_transmit(ep, to, p, len);
}

/* ---- the listener's table of sessions, by id ---- */

static uint32_t slot_of(const rudp_endpoint *ep, uint32_t id)
{
    return (id * 2654435761u) & (ep->table_cap - 1);
}

static net_rudp_session *table_find(const rudp_endpoint *ep, uint32_t id)
{
    if (!ep->table_cap)
        return NULL;
    for (uint32_t i = slot_of(ep, id);; i = (i + 1) & (ep->table_cap - 1)) {
        net_rudp_session *s = ep->table[i];
        if (!s || s->my_id == id)
            return s;
    }
}

static int table_put(rudp_endpoint *ep, net_rudp_session *s);

static int table_grow(rudp_endpoint *ep)
{
    uint32_t cap = ep->table_cap ? ep->table_cap * 2 : 16;
    net_rudp_session **old = ep->table;
    uint32_t old_cap = ep->table_cap;
    net_rudp_session **t = net__calloc(cap, sizeof *t);
    if (!t)
        return NET_E_NOMEM;
    ep->table = t;
    ep->table_cap = cap;
    ep->count = 0;
    for (uint32_t i = 0; i < old_cap; i++)
        if (old[i])
            table_put(ep, old[i]);
    free(old);
    return 0;
}

static int table_put(rudp_endpoint *ep, net_rudp_session *s)
{
    if ((ep->count + 1) * 2 > ep->table_cap && table_grow(ep) != 0)
        return NET_E_NOMEM;
    uint32_t i = slot_of(ep, s->my_id);
    while (ep->table[i])
        i = (i + 1) & (ep->table_cap - 1);
    ep->table[i] = s;
    ep->count++;
    return 0;
}

/* Linear probing's deletion: the entries after the hole that would no
 * longer be found move back into it. */
void net__rudp_table_remove(rudp_endpoint *ep, net_rudp_session *s)
{
    if (!ep->table_cap)
        return;
    uint32_t mask = ep->table_cap - 1, i = slot_of(ep, s->my_id);
    while (ep->table[i] && ep->table[i] != s)
        i = (i + 1) & mask;
    if (!ep->table[i])
        return;
    ep->table[i] = NULL;
    ep->count--;
    for (uint32_t j = (i + 1) & mask; ep->table[j]; j = (j + 1) & mask) {
        uint32_t home = slot_of(ep, ep->table[j]->my_id);
        /* j's entry may stay only if its home lies cyclically in (i, j]. */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            ep->table[i] = ep->table[j];
            ep->table[j] = NULL;
            i = j;
        }
    }
}

/* ---- the listener's handshake ---- */

static uint32_t time_bucket(const rudp_endpoint *ep, uint64_t now_ms)
{
    return (uint32_t)(now_ms / ep->cfg.cookie_period_ms);
}

static int same_peer(const net_addr *a, const net_addr *b)
{
    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, a->family == NET_AF_INET ? 4 : 16) == 0;
}

/* A session's id on this listener: a keyed hash of who asks, so that a
 * RESPONSE sent again (its WELCOME was lost) finds the session it made. */
static uint32_t session_id_for(const rudp_endpoint *ep, const net_addr *peer, uint32_t client_id)
{
    uint8_t m[28];
    memset(m, 0, sizeof m);
    rudp_put16(m, peer->family);
    rudp_put16(m + 2, peer->port);
    memcpy(m + 4, peer->ip, peer->family == NET_AF_INET ? 4 : 16);
    rudp_put32(m + 20, client_id);
    uint32_t id = (uint32_t)rudp_siphash(ep->id_key, m, sizeof m);
    return id ? id : 1;
}

static void send_reason(rudp_endpoint *ep, const net_addr *to, uint8_t type, uint32_t id, uint32_t reason,
                        size_t request_len)
{
    uint8_t p[RUDP_REASON_SIZE];
    rudp_hdr h = {type, RUDP_VERSION, 0, id};
    rudp_put_hdr(p, &h);
    rudp_put32(p + RUDP_HDR_SIZE, reason);
    reply(ep, to, p, sizeof p, request_len);
}

static void on_hello(net_loop *loop, rudp_endpoint *ep, const rudp_hdr *h, size_t len, const net_addr *from)
{
    if (len < RUDP_HELLO_SIZE || ep->closing) {
        net__rudp_stat(&ep->st[ST_DROPPED], 1);
        return;
    }
    uint8_t p[RUDP_CHALLENGE_SIZE];
    rudp_hdr out = {RUDP_CHALLENGE, RUDP_VERSION, 0, h->id};
    rudp_put_hdr(p, &out);
    rudp_cookie_make(ep->secret, from, h->id, time_bucket(ep, loop->now), p + RUDP_HDR_SIZE);
    reply(ep, from, p, sizeof p, len);
}

static void send_welcome(rudp_endpoint *ep, net_rudp_session *s, size_t request_len)
{
    uint8_t p[RUDP_WELCOME_SIZE];
    rudp_hdr out = {RUDP_WELCOME, RUDP_VERSION, 0, s->peer_id};
    rudp_put_hdr(p, &out);
    rudp_put32(p + RUDP_HDR_SIZE, s->my_id);
    rudp_params pr = {(uint16_t)s->mtu, (uint16_t)s->nchannels, net__rudp_window(s)};
    rudp_put_params(p + RUDP_HDR_SIZE + 4, &pr);
    reply(ep, &s->peer, p, sizeof p, request_len);
}

static void on_response(net_loop *loop, rudp_endpoint *ep, const uint8_t *d, size_t len, const rudp_hdr *h,
                        const net_addr *from)
{
    if (len < RUDP_RESPONSE_SIZE || ep->closing) {
        net__rudp_stat(&ep->st[ST_DROPPED], 1);
        return;
    }
    if (rudp_cookie_check(ep->secret, from, h->id, time_bucket(ep, loop->now), d + RUDP_HDR_SIZE) != 0) {
        atomic_fetch_add(&ep->cookies_rejected, 1);
        return;
    }
    uint32_t id = session_id_for(ep, from, h->id);
    net_rudp_session *s = table_find(ep, id);
    if (s) { /* its WELCOME was lost, or this is a copy: the same answer */
        if (same_peer(&s->peer, from) && s->peer_id == h->id)
            send_welcome(ep, s, len);
        else
            send_reason(ep, from, RUDP_REFUSE, h->id, 0, len); /* a 32-bit id collision: refused */
        return;
    }
    if (ep->count >= ep->cfg.max_sessions) {
        atomic_fetch_add(&ep->refused, 1);
        send_reason(ep, from, RUDP_REFUSE, h->id, 0, len);
        return;
    }
    rudp_params pr;
    rudp_get_params(d + RUDP_HDR_SIZE + RUDP_COOKIE_SIZE, &pr);
    if (net__rudp_session_new(loop->e, loop, ep, &ep->cfg, &s) != 0) {
        atomic_fetch_add(&ep->refused, 1);
        send_reason(ep, from, RUDP_REFUSE, h->id, 0, len);
        return;
    }
    s->my_id = id;
    s->peer_id = h->id;
    s->peer = *from;
    if (table_put(ep, s) != 0) {
        net__rudp_session_finish(loop, s, NET_E_NOMEM, 0);
        return;
    }
    atomic_fetch_add(&ep->sessions, 1);
    atomic_fetch_add(&ep->handshakes, 1);
    net__rudp_session_open(loop, s, &pr);
    send_welcome(ep, s, len);
}

/* ---- what arrives ---- */

static void listener_received(net_loop *loop, rudp_endpoint *ep, const uint8_t *d, size_t len, const rudp_hdr *h,
                              const net_addr *from)
{
    switch (h->type) {
    case RUDP_HELLO:
        on_hello(loop, ep, h, len, from);
        return;
    case RUDP_RESPONSE:
        on_response(loop, ep, d, len, h, from);
        return;
    case RUDP_DATA:
    case RUDP_CLOSE:
    case RUDP_CLOSE_ACK: {
        net_rudp_session *s = table_find(ep, h->id);
        if (s && same_peer(&s->peer, from)) {
            net__rudp_session_received(loop, s, d, len, h);
            return;
        }
        net__rudp_stat(&ep->st[ST_DROPPED], 1);
        /* A CLOSE sent again after we finished: acknowledged without state. */
        if (h->type == RUDP_CLOSE && len >= RUDP_CLOSE_SIZE) {
            uint8_t p[RUDP_HDR_SIZE];
            rudp_hdr ack = {RUDP_CLOSE_ACK, RUDP_VERSION, 0, rudp_get32(d + RUDP_HDR_SIZE + 4)};
            rudp_put_hdr(p, &ack);
            reply(ep, from, p, sizeof p, len);
        }
        return;
    }
    default:
        net__rudp_stat(&ep->st[ST_DROPPED], 1);
    }
}

/* A corrupted datagram says nothing trustworthy, not even whose it is: a
 * client's socket is its session's alone, so the session counts it too. */
static void checksum_failed(rudp_endpoint *ep)
{
    net__rudp_stat(&ep->st[ST_DROPPED], 1);
    net__rudp_stat(&ep->st[ST_CHECKSUM], 1);
    net_rudp_session *s = ep->listener ? NULL : ep->client;
    if (s && !s->finished) {
        net__rudp_stat(&s->st[ST_DROPPED], 1);
        net__rudp_stat(&s->st[ST_CHECKSUM], 1);
    }
}

void net__rudp_received(net_udp *u, const void *data, size_t len, const net_addr *from, int truncated)
{
    rudp_endpoint *ep = u->rudp;
    net_loop *loop = u->o.loop;
    const uint8_t *d = data;
    ptrdiff_t body = truncated ? -1 : rudp_check_crc(d, len);
    if (body < 0 && !truncated) {
        checksum_failed(ep);
        return;
    }
    rudp_hdr h;
    if (body < 0 || rudp_get_hdr(d, (size_t)body, &h) != 0 || !from) {
        net__rudp_stat(&ep->st[ST_DROPPED], 1);
        return;
    }
    net__rudp_stat(&ep->st[ST_PACKETS_RECEIVED], 1);
    net__rudp_stat(&ep->st[ST_BYTES_RECEIVED], len);
    len = (size_t)body; /* the trailer is checked: the rest reads the packet itself */
    if (ep->listener) {
        listener_received(loop, ep, d, len, &h, from);
        return;
    }
    net_rudp_session *s = ep->client;
    if (s && !s->finished && h.id == s->my_id)
        net__rudp_session_received(loop, s, d, len, &h);
    else
        net__rudp_stat(&ep->st[ST_DROPPED], 1);
}

/* ICMP port unreachable on a client's connected socket: nobody listens. */
void net__rudp_recv_error(net_udp *u, int err)
{
    rudp_endpoint *ep = u->rudp;
    net_rudp_session *s = ep->client;
    if (s && !s->finished && s->state == RS_CONNECTING && err == NET_E_REFUSED)
        net__rudp_session_finish(u->o.loop, s, NET_E_REFUSED, 0);
}

/* ---- closing ---- */

static void close_socket(net_loop *loop, net_udp *u)
{
    (void)loop;
    net_slot_lock(u->o.slot);
    if (u->state == US_OPEN) {
        u->state = US_CLOSING; /* what is queued (the last CLOSE packets) still goes out */
        net__udp_schedule_locked(u, OP_CLOSE);
    }
    net_slot_unlock(u->o.slot);
}

void net__rudp_endpoint_session_gone(net_loop *loop, rudp_endpoint *ep)
{
    if (!ep->listener || (ep->closing && ep->count == 0))
        close_socket(loop, ep->u);
}

/* net_close / net_abort of a listener (or the loop closing it): its
 * sessions end first, gracefully or at once; the socket closes after the
 * last. */
void net__rudp_endpoint_run_close(net_loop *loop, net_udp *u, int graceful)
{
    rudp_endpoint *ep = u->rudp;
    ep->closing = 1;
    for (uint32_t i = 0; ep->table && i < ep->table_cap; i++) {
        net_rudp_session *s = ep->table[i];
        if (!s)
            continue;
        if (graceful) {
            net_slot_lock(s->o.slot);
            if (s->state == RS_OPEN || s->state == RS_CONNECTING) {
                s->state = RS_CLOSING;
                s->close_requested = 1;
                net__rudp_schedule_locked(s, OP_CLOSE);
            }
            net_slot_unlock(s->o.slot);
        } else {
            net__rudp_session_finish(loop, s, NET_E_ABORTED, 1);
            i = (uint32_t)-1; /* the table moved under us: from the start */
        }
    }
    if (ep->count == 0)
        close_socket(loop, u);
}

/* The socket goes away for good (engine teardown, or it failed): every
 * session still there ends now. */
void net__rudp_endpoint_abort(net_loop *loop, net_udp *u)
{
    rudp_endpoint *ep = u->rudp;
    ep->closing = 1;
    if (ep->client && !ep->client->finished)
        net__rudp_session_finish(loop, ep->client, NET_E_ABORTED, 0);
    for (uint32_t i = 0; ep->table && i < ep->table_cap; i++) {
        if (ep->table[i]) {
            net__rudp_session_finish(loop, ep->table[i], NET_E_ABORTED, 0);
            i = (uint32_t)-1;
        }
    }
}
