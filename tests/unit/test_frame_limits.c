/* test_frame_limits.c - the decoder's refusals:
 *  - a message of exactly max_message is accepted, max_message + 1 is
 *    NET_E_MSGSIZE, as soon as the header is whole (no payload needed), on
 *    the fast path (header whole in one read) and the split path;
 *  - with "length includes header", a length smaller than the header is
 *    NET_E_PROTO and a length equal to it is a zero-length message;
 *  - a header that lies (up to 2 GiB and beyond) is refused before anything
 *    of that size is allocated (checked with an allocation hook under ASan);
 *  - the allocation for a legitimate big header is bounded by max_message;
 *  - a sink's non-zero return stops decoding and is returned;
 *  - raw framing passes chunks through in place; unknown framings are refused. */
#include "frame_util.h"

static int count_sink(void *ctx, const uint8_t *msg, uint32_t len, net_block *owner)
{
    (void)msg;
    (void)owner;
    uint32_t *n = ctx;
    (void)len;
    (*n)++;
    return 0;
}

/* Feeds the given bytes whole (split = 0) or one byte at a time (split = 1)
 * into a fresh decoder; returns the first non-zero feed result, the messages
 * emitted and the largest allocation seen (ASan only). */
static int feed_bytes(const net_frame_cfg *cfg, const uint8_t *p, size_t n, int split, uint32_t *emitted,
                      size_t *largest_alloc)
{
    net_frame_decoder d;
    net_frame_decoder_init(&d, cfg);
    *emitted = 0;
    int rc = 0;
    unit_alloc_watch_begin();
    if (!split) {
        rc = net_frame_feed(&d, p, n, NULL, count_sink, emitted);
    } else {
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = net_frame_feed(&d, p + i, 1, NULL, count_sink, emitted);
    }
    if (largest_alloc)
        *largest_alloc = unit_alloc_largest();
    if (rc)
        CHECK(d.partial == NULL); /* refused before a message block was made */
    net_frame_decoder_free(&d);
    return rc;
}

/* The header bytes for a raw length field value v. */
static void raw_header(const net_frame_cfg *cfg, uint32_t v, uint8_t *h)
{
    net_frame_cfg plain = *cfg;
    plain.includes_header = 0;
    net_frame_put_header(&plain, v, h);
}

static void max_message_boundary(void)
{
    const uint32_t maxes[] = {0, 1, 2, 3, 4, 5, 100, 1000, 65531, 65532, 65533, 65534, 65535, 65536, 100000};
    for (size_t f = 0; f < 4; f++) {
        for (uint32_t inc = 0; inc < 2; inc++) {
            for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++) {
                net_frame_cfg cfg;
                uint32_t max = maxes[m];
                REQUIRE(net_frame_cfg_make(k_framings[f], inc ? NET_TCP_LEN_INCLUDES_HEADER : 0, max, &cfg) == 0);
                uint64_t limit = net_frame_header_limit(&cfg);
                for (int split = 0; split < 2; split++) {
                    uint32_t emitted;
                    /* exactly max_message (when the header can say it) */
                    if (max <= limit) {
                        ubuf s = {0};
                        stream_add(&s, &cfg, 0, max);
                        stream_add(&s, &cfg, 1, 0);
                        int rc = feed_bytes(&cfg, s.p, s.n, split, &emitted, NULL);
                        CHECK_EQ(rc, 0);
                        CHECK_EQ(emitted, 2);
                        ubuf_free(&s);
                    }
                    /* max_message + 1: refused once the header is whole, even
                     * after a good message in the same read */
                    if ((uint64_t)max + 1 <= limit) {
                        ubuf s = {0};
                        stream_add(&s, &cfg, 0, 1 <= max ? 1 : 0);
                        uint8_t h[4];
                        net_frame_put_header(&cfg, max + 1, h);
                        ubuf_put(&s, h, cfg.header);
                        int rc = feed_bytes(&cfg, s.p, s.n, split, &emitted, NULL);
                        CHECK_EQ(rc, NET_E_MSGSIZE);
                        CHECK_EQ(emitted, 1);
                        uint32_t len = 12345;
                        CHECK_EQ(net_frame_get_length(&cfg, h, &len), NET_E_MSGSIZE);
                        CHECK_EQ(len, 12345); /* untouched on error */
                        ubuf_free(&s);
                    }
                    if (unit_failures) {
                        fprintf(stderr, "  (framing %s%s max_message %u split %d)\n", k_framing_names[k_framings[f]],
                                inc ? "+includes-header" : "", max, split);
                        return;
                    }
                }
            }
        }
    }
}

static void includes_header_too_small(void)
{
    for (size_t f = 0; f < 4; f++) {
        net_frame_cfg cfg;
        REQUIRE(net_frame_cfg_make(k_framings[f], NET_TCP_LEN_INCLUDES_HEADER, 1000, &cfg) == 0);
        for (uint32_t v = 0; v <= cfg.header; v++) {
            uint8_t h[4];
            raw_header(&cfg, v, h);
            for (int split = 0; split < 2; split++) {
                uint32_t emitted;
                int rc = feed_bytes(&cfg, h, cfg.header, split, &emitted, NULL);
                if (v < cfg.header) {
                    CHECK_EQ(rc, NET_E_PROTO);
                    CHECK_EQ(emitted, 0);
                } else { /* length == header: an empty message */
                    CHECK_EQ(rc, 0);
                    CHECK_EQ(emitted, 1);
                }
            }
            uint32_t len = 777;
            CHECK_EQ(net_frame_get_length(&cfg, h, &len), v < cfg.header ? NET_E_PROTO : 0);
            CHECK_EQ(len, v < cfg.header ? 777 : 0);
        }
        /* Without the flag the same values are plain lengths. */
        net_frame_cfg plain;
        REQUIRE(net_frame_cfg_make(k_framings[f], 0, 1000, &plain) == 0);
        for (uint32_t v = 0; v < plain.header; v++) {
            uint8_t h[4];
            raw_header(&plain, v, h);
            uint32_t len = 777;
            CHECK_EQ(net_frame_get_length(&plain, h, &len), 0);
            CHECK_EQ(len, v);
        }
    }
}

/* Headers claiming up to 2 GiB and more, against max_message well below and
 * just below: refused with nothing big allocated, whole or byte by byte,
 * with or without some payload bytes behind the header. */
static void lying_header(void)
{
    const uint32_t maxes[] = {1u << 20, 16u << 20, 0x7FFFFFFEu, 0x7FFFFFFFu /* the engine's cap */};
    const uint32_t lies[] = {0x7FFFFFFFu, 0x80000000u, 0x80000001u, 0xC0000000u, 0xFFFFFFF0u, 0xFFFFFFFFu};
    for (size_t f = 2; f < 4; f++) { /* u32 framings: u16 cannot lie that big */
        for (uint32_t inc = 0; inc < 2; inc++) {
            for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++) {
                for (size_t l = 0; l < sizeof lies / sizeof lies[0]; l++) {
                    net_frame_cfg cfg;
                    REQUIRE(net_frame_cfg_make(k_framings[f], inc ? NET_TCP_LEN_INCLUDES_HEADER : 0, maxes[m], &cfg) ==
                            0);
                    uint32_t field = lies[l];
                    uint64_t claimed = inc ? (uint64_t)field - 4 : field;
                    if (claimed <= maxes[m])
                        continue; /* not a lie under this configuration */
                    uint8_t buf[4 + 64];
                    raw_header(&cfg, field, buf);
                    memset(buf + 4, 0xAB, 64);
                    for (int split = 0; split < 2; split++) {
                        for (size_t extra = 0; extra <= 64; extra += 64) {
                            uint32_t emitted;
                            size_t largest = 0;
                            int rc = feed_bytes(&cfg, buf, 4 + extra, split, &emitted, &largest);
                            CHECK_EQ(rc, NET_E_MSGSIZE);
                            CHECK_EQ(emitted, 0);
                            if (unit_alloc_watching && largest > 4096) {
                                fprintf(stderr,
                                        "lying header 0x%08x (max_message %u): decoder allocated %zu bytes before "
                                        "refusing it\n",
                                        field, maxes[m], largest);
                                unit_failures++;
                            }
                        }
                    }
                }
            }
        }
    }
    if (!unit_alloc_watching)
        printf("lying_header: no ASan allocation hook in this build; checked return codes and state only\n");
}

/* A truthful big header: the up-front allocation is the message, bounded by
 * max_message, not more. */
static void big_header_allocation_bounded(void)
{
    net_frame_cfg cfg;
    const uint32_t max = 8u << 20;
    REQUIRE(net_frame_cfg_make(NET_FRAMING_U32BE, 0, max, &cfg) == 0);
    uint8_t h[4];
    net_frame_put_header(&cfg, max, h);
    net_frame_decoder d;
    net_frame_decoder_init(&d, &cfg);
    uint32_t emitted = 0;
    unit_alloc_watch_begin();
    CHECK_EQ(net_frame_feed(&d, h, 4, NULL, count_sink, &emitted), 0);
    size_t largest = unit_alloc_largest();
    if (unit_alloc_watching)
        CHECK(largest <= (size_t)max + 64);
    CHECK_EQ(net_frame_decoder_pending(&d), 4);
    CHECK_EQ(emitted, 0);
    net_frame_decoder_free(&d);
}

/* The sink's non-zero value stops decoding, on the in-place path and on the
 * assembled path. */
static void sink_stop(void)
{
    for (size_t f = 0; f < 4; f++) {
        net_frame_cfg cfg;
        REQUIRE(net_frame_cfg_make(k_framings[f], 0, 1000, &cfg) == 0);
        ubuf s = {0};
        uint32_t lens[6] = {3, 0, 10, 0, 7, 1};
        for (uint32_t k = 0; k < 6; k++)
            stream_add(&s, &cfg, k, lens[k]);
        for (size_t stop = 0; stop < 6; stop++) {
            for (int split = 0; split < 2; split++) {
                net_frame_decoder d;
                net_frame_decoder_init(&d, &cfg);
                collector c = {0};
                c.want_len = lens;
                c.want_n = 6;
                c.max_message = 1000;
                c.stop_at = stop;
                c.stop_rc = 42;
                int rc = 0;
                if (!split) {
                    rc = feed_chunk(&d, &c, s.p, s.n, NULL);
                } else {
                    for (size_t i = 0; i < s.n && rc == 0; i++)
                        rc = feed_chunk(&d, &c, s.p + i, 1, NULL);
                }
                CHECK_EQ(rc, 42);
                CHECK_EQ(c.got, stop + 1);
                net_frame_decoder_free(&d);
            }
        }
        ubuf_free(&s);
    }
}

typedef struct raw_ctx {
    net_block *in;
    const uint8_t *p;
    size_t n;
    uint32_t calls;
} raw_ctx;

static int raw_sink(void *ctx, const uint8_t *msg, uint32_t len, net_block *owner)
{
    raw_ctx *r = ctx;
    r->calls++;
    CHECK(owner == r->in);
    CHECK(msg == r->p);
    CHECK_EQ(len, r->n);
    return 0;
}

static void raw_and_bad_framing(void)
{
    net_frame_cfg cfg;
    REQUIRE(net_frame_cfg_make(NET_FRAMING_RAW, NET_TCP_LEN_INCLUDES_HEADER, 16, &cfg) == 0);
    CHECK(cfg.raw);
    CHECK(!cfg.includes_header);
    net_frame_decoder d;
    net_frame_decoder_init(&d, &cfg);
    uint8_t bytes[100];
    memset(bytes, 0x5A, sizeof bytes);
    net_block *b = net_block_from(bytes, sizeof bytes);
    REQUIRE(b);
    raw_ctx r = {b, b->data, 100, 0};
    CHECK_EQ(net_frame_feed(&d, b->data, 100, b, raw_sink, &r), 0); /* chunks are not held to max_message */
    r = (raw_ctx){NULL, bytes, 7, 0};
    CHECK_EQ(net_frame_feed(&d, bytes, 7, NULL, raw_sink, &r), 0);
    CHECK_EQ(r.calls, 1);
    r = (raw_ctx){NULL, bytes, 0, 0};
    CHECK_EQ(net_frame_feed(&d, bytes, 0, NULL, raw_sink, &r), 0);
    CHECK_EQ(r.calls, 0); /* nothing for an empty read */
    CHECK_EQ(net_frame_decoder_pending(&d), 0);
    net_frame_decoder_free(&d);
    net_block_unref(b, 1);

    const uint32_t bad[] = {5, 6, 99, 0x80000000u, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(net_frame_cfg_make(bad[i], 0, 100, &cfg), NET_E_INVAL);
}

int main(void)
{
    unit_seed();
    max_message_boundary();
    includes_header_too_small();
    lying_header();
    big_header_allocation_bounded();
    sink_stop();
    raw_and_bad_framing();
    return unit_done("frame_limits");
}
