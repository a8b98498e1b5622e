#include "frame.h"

#include <string.h>
#include "net.h"

#define FRAME_FIRST_ALLOC (64 * 1024)

int net_frame_cfg_make(uint32_t framing, uint32_t flags, uint32_t max_message, net_frame_cfg *out)
{
    memset(out, 0, sizeof *out);
    out->max_message = max_message;
    out->includes_header = (flags & NET_TCP_LEN_INCLUDES_HEADER) != 0;
    switch (framing) {
    case NET_FRAMING_RAW:
        out->raw = 1;
        out->includes_header = 0;
        return 0;
    case NET_FRAMING_U16LE:
        out->header = 2;
        return 0;
    case NET_FRAMING_U16BE:
        out->header = 2;
        out->big_endian = 1;
        return 0;
    case NET_FRAMING_U32LE:
        out->header = 4;
        return 0;
    case NET_FRAMING_U32BE:
        out->header = 4;
        out->big_endian = 1;
        return 0;
    default:
        return NET_E_INVAL;
    }
}

uint64_t net_frame_header_limit(const net_frame_cfg *f)
{
    uint64_t field_max = f->header == 2 ? 0xFFFFu : 0xFFFFFFFFu;
    return f->includes_header ? field_max - f->header : field_max;
}

void net_frame_put_header(const net_frame_cfg *f, uint32_t payload_len, uint8_t *out)
{
    uint32_t v = payload_len + (f->includes_header ? f->header : 0);
    for (int i = 0; i < f->header; i++) {
        int shift = f->big_endian ? 8 * (f->header - 1 - i) : 8 * i;
        out[i] = (uint8_t)(v >> shift);
    }
}

int net_frame_get_length(const net_frame_cfg *f, const uint8_t *h, uint32_t *payload_len)
{
    uint32_t v = 0;
    for (int i = 0; i < f->header; i++) {
        int shift = f->big_endian ? 8 * (f->header - 1 - i) : 8 * i;
        v |= (uint32_t)h[i] << shift;
    }
    if (f->includes_header) {
        if (v < f->header)
            return NET_E_PROTO;
        v -= f->header;
    }
    if (v > f->max_message)
        return NET_E_MSGSIZE;
    *payload_len = v;
    return 0;
}

void net_frame_decoder_init(net_frame_decoder *d, const net_frame_cfg *cfg)
{
    memset(d, 0, sizeof *d);
    d->cfg = *cfg;
}

void net_frame_decoder_free(net_frame_decoder *d)
{
    net_block_unref(d->partial, 1);
    d->partial = NULL;
    d->header_have = 0;
    d->partial_have = d->partial_len = 0;
}

size_t net_frame_decoder_pending(const net_frame_decoder *d)
{
    return d->header_have + d->partial_have;
}

/* Hands the assembled message to the sink and forgets it. */
static int finish_partial(net_frame_decoder *d, net_frame_sink sink, void *ctx)
{
    net_block *b = d->partial;
    uint32_t len = d->partial_len;
    d->partial = NULL;
    d->partial_have = d->partial_len = 0;
    d->header_have = 0;
    int rc = sink(ctx, b->data, len, b);
    net_block_unref(b, 1);
    return rc;
}

/* Grows the message being assembled to hold need bytes, as they arrive: a
 * header alone never buys a max_message-sized buffer. */
static int grow_partial(net_frame_decoder *d, size_t need)
{
    size_t cap = (size_t)d->partial->cap * 2;
    if (cap < need)
        cap = need;
    if (cap > d->partial_len)
        cap = d->partial_len;
    net_block *nb = net_block_grow(d->partial, cap);
    if (!nb)
        return NET_E_NOMEM;
    d->partial = nb;
    return 0;
}

/* Continues a message split across reads with what *p holds; *p and *n
 * move past what it took. */
static int feed_partial(net_frame_decoder *d, const uint8_t **p, size_t *n, net_frame_sink sink, void *ctx)
{
    size_t take = d->partial_len - d->partial_have;
    if (take > *n)
        take = *n;
    if (d->partial_have + take > d->partial->cap) {
        int rc = grow_partial(d, d->partial_have + take);
        if (rc)
            return rc;
    }
    memcpy(d->partial->data + d->partial_have, *p, take);
    d->partial_have += (uint32_t)take;
    *p += take;
    *n -= take;
    return d->partial_have == d->partial_len ? finish_partial(d, sink, ctx) : 0;
}

/* Gathers a header split across reads: 1 when it is whole (*len is its
 * message's length), 0 when more must come, else a NET_E_* code. */
static int gather_header(net_frame_decoder *d, const uint8_t **p, size_t *n, uint32_t *len)
{
    size_t take = d->cfg.header - d->header_have;
    if (take > *n)
        take = *n;
    memcpy(d->header + d->header_have, *p, take);
    d->header_have += (uint32_t)take;
    *p += take;
    *n -= take;
    if (d->header_have < d->cfg.header)
        return 0;
    int rc = net_frame_get_length(&d->cfg, d->header, len);
    return rc ? rc : 1;
}

/* A message of len bytes begins. Its block starts small and grows with the
 * payload (grow_partial): what a peer can make us hold is what it sent. */
static int start_partial(net_frame_decoder *d, uint32_t len, net_frame_sink sink, void *ctx)
{
    d->partial = net_block_new(len < FRAME_FIRST_ALLOC ? len : FRAME_FIRST_ALLOC);
    if (!d->partial)
        return NET_E_NOMEM;
    d->partial_len = len;
    d->partial_have = 0;
    d->header_have = d->cfg.header;
    return len == 0 ? finish_partial(d, sink, ctx) : 0;
}

int net_frame_feed(net_frame_decoder *d, const uint8_t *p, size_t n, net_block *in, net_frame_sink sink, void *ctx)
{
    if (d->cfg.raw)
        return n ? sink(ctx, p, (uint32_t)n, in) : 0;
    const uint32_t hs = d->cfg.header;
    while (n > 0) {
        int rc;
        uint32_t len;
        if (d->partial) {
            rc = feed_partial(d, &p, &n, sink, ctx);
        } else if (d->header_have == 0 && n >= hs) {
            /* Fast path: the whole header is in this read, and often the
             * whole message: it goes out of the read's own block. */
            if ((rc = net_frame_get_length(&d->cfg, p, &len)) != 0)
                return rc;
            if (n - hs >= len) {
                rc = sink(ctx, p + hs, len, in);
                p += hs + len;
                n -= hs + len;
            } else {
                p += hs;
                n -= hs;
                rc = start_partial(d, len, sink, ctx);
            }
        } else {
            rc = gather_header(d, &p, &n, &len);
            if (rc == 1)
                rc = start_partial(d, len, sink, ctx);
        }
        if (rc)
            return rc;
    }
    return 0;
}
