/* rudp_wire.c - encoding and decoding of reliable-UDP packets, the
 * handshake cookie and the acknowledgement record (rudp_wire.h). */
#include "rudp_wire.h"

#include <string.h>

/* ---- headers ---- */

void rudp_put_hdr(uint8_t *p, const rudp_hdr *h)
{
    p[0] = h->type;
    p[1] = h->version;
    rudp_put16(p + 2, h->flags);
    rudp_put32(p + 4, h->id);
}

int rudp_get_hdr(const uint8_t *p, size_t len, rudp_hdr *h)
{
    if (len < RUDP_HDR_SIZE)
        return -1;
    h->type = p[0];
    h->version = p[1];
    h->flags = rudp_get16(p + 2);
    h->id = rudp_get32(p + 4);
    return h->version == RUDP_VERSION ? 0 : -1;
}

void rudp_put_data_hdr(uint8_t *p, const rudp_data_hdr *d)
{
    rudp_put_hdr(p, &d->h);
    rudp_put16(p + 8, d->seq);
    rudp_put16(p + 10, d->ack);
    rudp_put64(p + 12, d->ack_bits);
    rudp_put32(p + 20, d->window);
}

int rudp_get_data_hdr(const uint8_t *p, size_t len, rudp_data_hdr *d)
{
    if (len < RUDP_DATA_HDR_SIZE || rudp_get_hdr(p, len, &d->h) != 0 || d->h.type != RUDP_DATA)
        return -1;
    if (d->h.flags & ~(RUDP_F_NUMBERED | RUDP_F_ACK))
        return -1;
    d->seq = rudp_get16(p + 8);
    d->ack = rudp_get16(p + 10);
    d->ack_bits = rudp_get64(p + 12);
    d->window = rudp_get32(p + 20);
    return 0;
}

/* ---- chunks ---- */

size_t rudp_put_chunk(uint8_t *p, const rudp_chunk *c)
{
    p[0] = c->flags;
    p[1] = c->channel;
    rudp_put16(p + 2, c->len);
    rudp_put16(p + 4, c->rsn);
    rudp_put16(p + 6, c->cseq);
    uint8_t *w = p + RUDP_CHUNK_HDR_SIZE;
    if (c->flags & RUDP_C_FRAG) {
        rudp_put32(w, c->total);
        rudp_put32(w + 4, c->offset);
        rudp_put16(w + 8, c->index);
        rudp_put16(w + 10, c->count);
        w += RUDP_FRAG_HDR_SIZE;
    }
    if (c->len)
        memcpy(w, c->data, c->len);
    return (size_t)(w - p) + c->len;
}

/* A fragment header is believed only as far as it is consistent with
 * itself; whether it fits the message it claims to be part of is the
 * reassembly's to check. */
static int frag_header_sane(const rudp_chunk *c)
{
    if (c->count < 2 || c->index >= c->count)
        return 0;
    return c->offset <= c->total && c->len <= c->total - c->offset;
}

int rudp_next_chunk(const uint8_t **pp, const uint8_t *end, rudp_chunk *c)
{
    const uint8_t *p = *pp;
    if (p == end)
        return 0;
    if ((size_t)(end - p) < RUDP_CHUNK_HDR_SIZE)
        return -1;
    memset(c, 0, sizeof *c);
    c->flags = p[0];
    c->channel = p[1];
    c->len = rudp_get16(p + 2);
    c->rsn = rudp_get16(p + 4);
    c->cseq = rudp_get16(p + 6);
    if (c->flags & ~RUDP_C_KNOWN)
        return -1;
    p += RUDP_CHUNK_HDR_SIZE;
    if (c->flags & RUDP_C_FRAG) {
        if ((size_t)(end - p) < RUDP_FRAG_HDR_SIZE)
            return -1;
        c->total = rudp_get32(p);
        c->offset = rudp_get32(p + 4);
        c->index = rudp_get16(p + 8);
        c->count = rudp_get16(p + 10);
        p += RUDP_FRAG_HDR_SIZE;
        /* Fragments always travel reliably: their rsns place them. */
        if (!frag_header_sane(c) || !(c->flags & RUDP_C_RELIABLE))
            return -1;
    } else {
        c->total = c->len;
        c->count = 1;
    }
    if ((size_t)(end - p) < c->len)
        return -1;
    c->data = p;
    *pp = p + c->len;
    return 1;
}

/* ---- handshake ---- */

void rudp_put_params(uint8_t *p, const rudp_params *pr)
{
    rudp_put16(p, pr->mtu);
    rudp_put16(p + 2, pr->channels);
    rudp_put32(p + 4, pr->window);
}

void rudp_get_params(const uint8_t *p, rudp_params *pr)
{
    pr->mtu = rudp_get16(p);
    pr->channels = rudp_get16(p + 2);
    pr->window = rudp_get32(p + 4);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                                       \
    do {                                                                                                               \
        v0 += v1;                                                                                                      \
        v1 = ROTL(v1, 13);                                                                                             \
        v1 ^= v0;                                                                                                      \
        v0 = ROTL(v0, 32);                                                                                             \
        v2 += v3;                                                                                                      \
        v3 = ROTL(v3, 16);                                                                                             \
        v3 ^= v2;                                                                                                      \
        v0 += v3;                                                                                                      \
        v3 = ROTL(v3, 21);                                                                                             \
        v3 ^= v0;                                                                                                      \
        v2 += v1;                                                                                                      \
        v1 = ROTL(v1, 17);                                                                                             \
        v1 ^= v2;                                                                                                      \
        v2 = ROTL(v2, 32);                                                                                             \
    } while (0)

/* SipHash-2-4 (Aumasson and Bernstein), as in the reference implementation. */
uint64_t rudp_siphash(const uint8_t key[16], const void *data, size_t len)
{
    const uint8_t *in = data;
    uint64_t k0 = rudp_get64(key), k1 = rudp_get64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    size_t whole = len - len % 8;
    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = rudp_get64(in + i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        b |= (uint64_t)in[whole + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* What the cookie's MAC covers: family, port, the address bytes, the
 * client's id and the time bucket, in a fixed layout. */
static uint64_t cookie_mac(const uint8_t key[16], const net_addr *peer, uint32_t client_id, uint32_t bucket)
{
    uint8_t m[32];
    memset(m, 0, sizeof m);
    rudp_put16(m, peer->family);
    rudp_put16(m + 2, peer->port);
    memcpy(m + 4, peer->ip, 16);
    rudp_put32(m + 20, client_id);
    rudp_put32(m + 24, bucket);
    if (peer->family == NET_AF_INET)
        memset(m + 8, 0, 12); /* only 4 address bytes mean anything */
    return rudp_siphash(key, m, sizeof m);
}

void rudp_cookie_make(const uint8_t key[16], const net_addr *peer, uint32_t client_id, uint32_t bucket,
                      uint8_t out[RUDP_COOKIE_SIZE])
{
    rudp_put32(out, bucket);
    rudp_put32(out + 4, client_id);
    rudp_put64(out + 8, cookie_mac(key, peer, client_id, bucket));
}

int rudp_cookie_check(const uint8_t key[16], const net_addr *peer, uint32_t client_id, uint32_t now_bucket,
                      const uint8_t cookie[RUDP_COOKIE_SIZE])
{
    uint32_t bucket = rudp_get32(cookie);
    if (bucket != now_bucket && bucket + 1 != now_bucket)
        return -1;
    if (rudp_get32(cookie + 4) != client_id)
        return -1;
    /* No early exit on the first differing byte: the MAC is compared whole. */
    uint64_t diff = rudp_get64(cookie + 8) ^ cookie_mac(key, peer, client_id, bucket);
    return diff == 0 ? 0 : -1;
}

/* ---- acknowledgements ---- */

int rudp_ack_record(rudp_ackstate *a, uint16_t seq)
{
    if (!a->any) {
        a->any = 1;
        a->ack = seq;
        a->bits = 0;
        return 1;
    }
    if (rudp_seq_after(seq, a->ack)) {
        uint16_t shift = (uint16_t)(seq - a->ack);
        /* The old newest becomes bit shift-1; what falls off the end is forgotten. */
        a->bits = shift > RUDP_ACK_BITS    ? 0
                  : shift == RUDP_ACK_BITS ? 1ULL << 63
                                           : (a->bits << shift) | (1ULL << (shift - 1));
        a->ack = seq;
        return 1;
    }
    if (seq == a->ack)
        return 0;
    uint16_t back = (uint16_t)(a->ack - seq);
    if (back > RUDP_ACK_BITS)
        return -1;
    uint64_t bit = 1ULL << (back - 1);
    if (a->bits & bit)
        return 0;
    a->bits |= bit;
    return 1;
}

int rudp_ack_covers(uint16_t ack, uint64_t bits, uint16_t seq)
{
    if (seq == ack)
        return 1;
    uint16_t back = (uint16_t)(ack - seq);
    if (back == 0 || back > RUDP_ACK_BITS)
        return 0;
    return (bits >> (back - 1)) & 1;
}
