/* fuzz_frame_decoder.c - libFuzzer target for the framing decoder.
 *
 * Input: 12 control bytes, then the stream.
 *   [0]  bits 0-2: framing (value % 5: raw, u16le, u16be, u32le, u32be)
 *        bit 3: length includes header   bit 4: input in blocks
 *        bit 5: keep every 3rd message (a reference) until the end
 *        bits 6-7: split: 0 whole, 1 byte by byte, 2 cyclic sizes from [4..11],
 *                  3 pseudo-random sizes seeded by [4..11]
 *   [1..2] max_message selector (little-endian u16; see pick_max)
 *   [3]  < 64: the sink stops (returns 77) at that message number
 *   [4..11] split pattern / seed
 *
 * The stream is fed in chunks; every message is checked against an
 * independent whole-stream reference parser, and:
 *   - every message has len <= max_message, the reference's bytes, and the
 *     header the encoder would write for it (round trip);
 *   - owner == input block iff the message (header included) lies in one
 *     chunk; otherwise it is NULL (no block given: the bytes are the input's)
 *     or an assembly block holding exactly the message;
 *   - after every feed: consumed == sum(header + len of emitted) + pending;
 *   - errors (NET_E_PROTO / NET_E_MSGSIZE) come exactly where the reference
 *     says, on the chunk that completes the bad header, with no allocation
 *     larger than max_message (ASan allocation hook);
 *   - kept messages still read right after the decoder and inputs moved on.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "frame.h"
#include "net.h"

#define FUZZ_ASSERT(c)                                                                  \
    do {                                                                                \
        if (!(c)) {                                                                     \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
static volatile size_t g_alloc_max;
static int g_watch;
static void on_malloc(const volatile void *p, size_t size)
{
    (void)p;
    if (g_watch && size > g_alloc_max)
        g_alloc_max = size;
}
static void on_free(const volatile void *p)
{
    (void)p;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
    return 0;
}

/* Big values are limited to 16 MiB: the decoder allocates a truthful
 * header's message up front (bounded by max_message, by design). */
static uint32_t pick_max(uint16_t sel)
{
    static const uint32_t special[] = {0, 1, 2, 3, 4, 5, 65531, 65532, 65533, 65534, 65535, 65536, 65537, 1u << 20, 16u << 20};
    if (sel >= 0xFF00)
        return special[(sel & 0xFF) % (sizeof special / sizeof special[0])];
    return sel;
}

typedef struct ref_msg {
    size_t hdr; /* offset of the header in the stream */
    uint32_t len;
} ref_msg;

typedef struct held {
    net_block *owner;
    const uint8_t *msg;
    uint32_t len;
    size_t k;
} held;

typedef struct run {
    net_frame_cfg cfg;
    const uint8_t *stream;
    size_t stream_n;
    ref_msg *ref;
    size_t nref;
    /* chunk being fed */
    net_block *in;
    const uint8_t *in_p;
    size_t in_lo, in_hi; /* stream offsets of the chunk */
    size_t got;
    uint64_t got_bytes;
    size_t stop_at;
    int keep;
    held *held;
    size_t nheld;
} run;

static int sink(void *ctx, const uint8_t *msg, uint32_t len, net_block *owner)
{
    run *r = ctx;
    size_t k = r->got++;
    r->got_bytes += len;
    if (r->cfg.raw) {
        FUZZ_ASSERT(owner == r->in);
        FUZZ_ASSERT(msg == r->in_p);
        FUZZ_ASSERT(len == r->in_hi - r->in_lo && len > 0);
        return 0;
    }
    FUZZ_ASSERT(len <= r->cfg.max_message);
    FUZZ_ASSERT(k < r->nref);
    const ref_msg *m = &r->ref[k];
    FUZZ_ASSERT(len == m->len);
    const size_t hs = r->cfg.header;
    FUZZ_ASSERT(len == 0 || memcmp(msg, r->stream + m->hdr + hs, len) == 0);
    uint8_t h[4];
    net_frame_put_header(&r->cfg, len, h);
    FUZZ_ASSERT(memcmp(h, r->stream + m->hdr, hs) == 0); /* the encoder gives back the header */
    int whole_in_chunk = m->hdr >= r->in_lo && m->hdr + hs + len <= r->in_hi;
    if (whole_in_chunk) {
        /* in place: in the input block, or bare input bytes without one */
        FUZZ_ASSERT(owner == r->in);
        FUZZ_ASSERT(msg == r->in_p + (m->hdr + hs - r->in_lo));
        if (owner)
            FUZZ_ASSERT(msg >= owner->data && msg + len <= owner->data + owner->cap);
    } else {
        FUZZ_ASSERT(owner != NULL && owner != r->in);
        FUZZ_ASSERT(msg == owner->data && owner->cap == len);
    }
    if (r->keep && owner && k % 3 == 0) {
        net_block_ref(owner, 1);
        r->held[r->nheld++] = (held){owner, msg, len, k};
    }
    if (k == r->stop_at)
        return 77;
    return 0;
}

/* The reference: the whole stream at once, straight from the definition. */
static int reference(const net_frame_cfg *cfg, const uint8_t *s, size_t n, ref_msg *out, size_t *nout, size_t *end,
                     size_t *err_at)
{
    const size_t hs = cfg->header;
    size_t pos = 0;
    *nout = 0;
    while (n - pos >= hs) {
        uint64_t v = 0;
        for (size_t i = 0; i < hs; i++)
            v |= (uint64_t)s[pos + i] << (cfg->big_endian ? 8 * (hs - 1 - i) : 8 * i);
        if (cfg->includes_header) {
            if (v < hs) {
                *err_at = pos + hs;
                *end = pos;
                return NET_E_PROTO;
            }
            v -= hs;
        }
        if (v > cfg->max_message) {
            *err_at = pos + hs;
            *end = pos;
            return NET_E_MSGSIZE;
        }
        if (n - pos - hs < v)
            break;
        out[*nout].hdr = pos;
        out[*nout].len = (uint32_t)v;
        (*nout)++;
        pos += hs + v;
    }
    *end = pos;
    *err_at = 0;
    return 0;
}

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 12)
        return 0;
    const uint8_t c0 = data[0];
    const uint32_t framing = (c0 & 7u) % 5u;
    const uint32_t flags = (c0 & 8u) ? NET_TCP_LEN_INCLUDES_HEADER : 0;
    const int blocks = (c0 & 16u) != 0;
    const int keep = (c0 & 32u) != 0;
    const int split = c0 >> 6;
    const uint32_t max_message = pick_max((uint16_t)(data[1] | data[2] << 8));
    const size_t stop_at = data[3] < 64 ? data[3] : SIZE_MAX;
    const uint8_t *pat = data + 4;
    uint64_t seed;
    memcpy(&seed, pat, 8);

    run r;
    memset(&r, 0, sizeof r);
    FUZZ_ASSERT(net_frame_cfg_make(framing, flags, max_message, &r.cfg) == 0);
    r.stream = data + 12;
    r.stream_n = size - 12;
    r.stop_at = stop_at;
    r.keep = keep;

    int want_rc = 0;
    size_t ref_end = 0, err_at = 0;
    if (!r.cfg.raw) {
        r.ref = malloc((r.stream_n / r.cfg.header + 1) * sizeof *r.ref);
        FUZZ_ASSERT(r.ref);
        want_rc = reference(&r.cfg, r.stream, r.stream_n, r.ref, &r.nref, &ref_end, &err_at);
        r.held = malloc((r.nref + 1) * sizeof *r.held);
    } else {
        r.held = malloc(sizeof *r.held);
        r.stop_at = SIZE_MAX;
    }
    FUZZ_ASSERT(r.held);

    net_frame_decoder d;
    net_frame_decoder_init(&d, &r.cfg);
    const size_t hs = r.cfg.raw ? 0 : r.cfg.header;
    size_t pos = 0, pi = 0;
    int rc = 0;
    while (pos < r.stream_n) {
        size_t n;
        switch (split) {
        case 0:
            n = r.stream_n - pos;
            break;
        case 1:
            n = 1;
            break;
        case 2:
            n = pat[pi++ % 8];
            break;
        default:
            n = (size_t)(mix(&seed) % 300);
            if (n > 200)
                n = 0;
            break;
        }
        if (n > r.stream_n - pos)
            n = r.stream_n - pos;
        if (split == 2 && seed == 0)
            n = 1; /* an all-zero pattern would never advance */
        net_block *in = NULL;
        const uint8_t *p = r.stream + pos;
        if (blocks) {
            in = net_block_from(p, n);
            FUZZ_ASSERT(in);
            p = in->data;
        }
        r.in = in;
        r.in_p = p;
        r.in_lo = pos;
        r.in_hi = pos + n;
        size_t got_before = r.got;
        g_alloc_max = 0;
        g_watch = 1;
        rc = net_frame_feed(&d, p, n, in, sink, &r);
        g_watch = 0;
        net_block_unref(in, 1);
        if (!r.cfg.raw)
            FUZZ_ASSERT(g_alloc_max <= (size_t)r.cfg.max_message + 64 || g_alloc_max <= 4096);
        if (n == 0)
            FUZZ_ASSERT(rc == 0 && r.got == got_before);
        pos += n;
        if (rc != 0) {
            if (rc == 77) {
                FUZZ_ASSERT(r.got == stop_at + 1);
                const ref_msg *m = &r.ref[stop_at];
                FUZZ_ASSERT(m->hdr + hs + m->len > r.in_lo && m->hdr + hs + m->len <= r.in_hi);
            } else {
                /* a stream error: the reference's, on the chunk completing the bad header */
                FUZZ_ASSERT(rc == want_rc);
                FUZZ_ASSERT(err_at > r.in_lo && err_at <= r.in_hi);
                FUZZ_ASSERT(r.got == r.nref);
                FUZZ_ASSERT(r.nref <= stop_at); /* else the sink would have stopped first */
            }
            break;
        }
        uint64_t emitted = r.cfg.raw ? r.got_bytes : r.got_bytes + (uint64_t)r.got * hs;
        FUZZ_ASSERT(pos == emitted + net_frame_decoder_pending(&d));
    }
    if (rc == 0 && !r.cfg.raw) {
        FUZZ_ASSERT(want_rc == 0);
        FUZZ_ASSERT(r.got == r.nref);
        FUZZ_ASSERT(r.nref <= stop_at);
        FUZZ_ASSERT(net_frame_decoder_pending(&d) == r.stream_n - ref_end);
    }
    if (rc == 0 && r.cfg.raw)
        FUZZ_ASSERT(r.got_bytes == r.stream_n);
    net_frame_decoder_free(&d);
    FUZZ_ASSERT(net_frame_decoder_pending(&d) == 0);
    for (size_t i = 0; i < r.nheld; i++) {
        const held *h = &r.held[i];
        FUZZ_ASSERT(h->len == 0 || memcmp(h->msg, r.stream + r.ref[h->k].hdr + hs, h->len) == 0);
        net_block_unref(h->owner, 1);
    }
    free(r.held);
    free(r.ref);
    return 0;
}
