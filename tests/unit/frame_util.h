/* frame_util.h - shared by the frame decoder unit tests: the framings, a
 * stream builder and a recording sink that checks where each message lives. */
#ifndef NET_UNIT_FRAME_UTIL_H
#define NET_UNIT_FRAME_UTIL_H

#include "frame.h"
#include "net.h"
#include "unit.h"

static const uint32_t k_framings[] = {NET_FRAMING_U16LE, NET_FRAMING_U16BE, NET_FRAMING_U32LE, NET_FRAMING_U32BE};
static const char *const k_framing_names[] = {"raw", "u16le", "u16be", "u32le", "u32be"};

/* A growable byte buffer. */
typedef struct ubuf {
    uint8_t *p;
    size_t n, cap;
} ubuf;

static inline void ubuf_put(ubuf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        REQUIRE(b->p);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
}

static inline void ubuf_free(ubuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Deterministic payload byte j of message k. */
static inline uint8_t payload_byte(uint32_t k, uint32_t j)
{
    return (uint8_t)(k * 131u + j * 7u + (j >> 8));
}

/* Appends header + payload of message k (len bytes) to the stream. */
static inline void stream_add(ubuf *s, const net_frame_cfg *f, uint32_t k, uint32_t len)
{
    uint8_t h[4];
    net_frame_put_header(f, len, h);
    ubuf_put(s, h, f->header);
    for (uint32_t j = 0; j < len; j++) {
        uint8_t c = payload_byte(k, j);
        ubuf_put(s, &c, 1);
    }
}

/* A message kept (with a reference on its owner) to be checked later, after
 * the decoder and the input blocks have moved on. */
typedef struct held_msg {
    net_block *owner;
    const uint8_t *msg;
    uint32_t len;
    uint32_t k;
} held_msg;

/* Records messages; checks each against the expected lengths and where it
 * lives. Set in / in_p / in_n before every feed. */
typedef struct collector {
    const uint32_t *want_len; /* expected lengths, want_n of them */
    size_t want_n;
    const uint8_t *want_in_place; /* per message: 1 owner must be in, 0 must not, NULL unchecked */
    uint32_t max_message;
    size_t got;   /* messages seen */
    uint64_t got_bytes;
    size_t in_place, assembled, bare;
    /* current input */
    net_block *in;
    const uint8_t *in_p;
    size_t in_n;
    /* stop: return stop_rc when message number stop_at arrives (after recording it) */
    size_t stop_at;
    int stop_rc;
    /* hold every hold_every-th message */
    uint32_t hold_every;
    held_msg *held;
    size_t nheld, held_cap;
} collector;

static inline int collector_sink(void *ctx, const uint8_t *msg, uint32_t len, net_block *owner)
{
    collector *c = ctx;
    size_t k = c->got++;
    c->got_bytes += len;
    CHECK(len <= c->max_message);
    if (k >= c->want_n) {
        fprintf(stderr, "unexpected message %zu (len %u)\n", k, len);
        unit_failures++;
        return 0;
    }
    if (len != c->want_len[k]) {
        fprintf(stderr, "message %zu: len %u, want %u\n", k, len, c->want_len[k]);
        unit_failures++;
        UNIT_BAIL_IF_NOISY();
        return 0;
    }
    for (uint32_t j = 0; j < len; j++) {
        if (msg[j] != payload_byte((uint32_t)k, j)) {
            fprintf(stderr, "message %zu: byte %u is 0x%02x, want 0x%02x\n", k, j, msg[j],
                    payload_byte((uint32_t)k, j));
            unit_failures++;
            UNIT_BAIL_IF_NOISY();
            break;
        }
    }
    int in_input = msg >= c->in_p && msg + len <= c->in_p + c->in_n;
    if (owner && owner == c->in) {
        c->in_place++;
        CHECK(in_input); /* owner is the input block: the bytes are the input's */
        CHECK(msg >= owner->data && msg + len <= owner->data + owner->cap);
    } else if (owner) {
        c->assembled++;
        CHECK(!in_input || len == 0);
        CHECK(msg == owner->data);
        CHECK(len == owner->cap);
        CHECK(atomic_load(&owner->refs) >= 1);
    } else {
        c->bare++;
        CHECK(c->in == NULL); /* NULL owner only when the input had no block */
        CHECK(in_input);
    }
    if (c->want_in_place) {
        if (c->want_in_place[k] != (owner && owner == c->in)) {
            fprintf(stderr, "message %zu (len %u): owner %s the input block, want %s\n", k, len,
                    owner == c->in ? "is" : "is not", c->want_in_place[k] ? "in place" : "assembled");
            unit_failures++;
            UNIT_BAIL_IF_NOISY();
        }
    }
    if (owner && c->hold_every && k % c->hold_every == 0) {
        if (c->nheld == c->held_cap) {
            c->held_cap = c->held_cap ? c->held_cap * 2 : 64;
            c->held = realloc(c->held, c->held_cap * sizeof *c->held);
            REQUIRE(c->held);
        }
        net_block_ref(owner, 1);
        c->held[c->nheld++] = (held_msg){owner, msg, len, (uint32_t)k};
    }
    if (c->stop_rc && k == c->stop_at)
        return c->stop_rc;
    return 0;
}

/* Checks the held messages still read right, then drops them. */
static inline void collector_release(collector *c)
{
    for (size_t i = 0; i < c->nheld; i++) {
        held_msg *h = &c->held[i];
        for (uint32_t j = 0; j < h->len; j++) {
            if (h->msg[j] != payload_byte(h->k, j)) {
                fprintf(stderr, "held message %u changed at byte %u\n", h->k, j);
                unit_failures++;
                break;
            }
        }
        net_block_unref(h->owner, 1);
    }
    free(c->held);
    c->held = NULL;
    c->nheld = c->held_cap = 0;
}

/* Feeds one chunk, pointing the collector at it. */
static inline int feed_chunk(net_frame_decoder *d, collector *c, const uint8_t *p, size_t n, net_block *in)
{
    c->in = in;
    c->in_p = p;
    c->in_n = n;
    return net_frame_feed(d, p, n, in, collector_sink, c);
}

#endif
