/* test_frame_decode_splits.c - the framing decoder gives the same messages
 * however the stream is split: whole, one byte at a time, random splits (some
 * chunks empty), with and without input blocks, for every framing with and
 * without "length includes header", including zero-length and max-size
 * messages. Messages whole in one input block are delivered in place (owner
 * == input block); the others are assembled in a block of their own, which
 * the sink may keep after the input blocks are gone. The decoder's pending
 * count always satisfies consumed == sum(header + payload of emitted) +
 * pending. */
#include "frame_util.h"

enum { MODE_WHOLE, MODE_BYTES_NULL, MODE_BYTES_BLOCKS, MODE_RANDOM_SMALL, MODE_RANDOM_LARGE, MODE_RANDOM_NULL, MODE_COUNT };
static const char *const k_mode_names[] = {"whole", "bytes/no-block", "bytes/blocks", "random-small", "random-large",
                                           "random/no-block"};

/* Message lengths for one framing: the interesting ones, then random. */
static size_t make_lengths(uint32_t *lens, size_t cap, uint32_t max_message)
{
    size_t n = 0;
    const uint32_t fixed[] = {0, 1, 0, 0, 2, 3, 4, 5, 7, 8, 255, 256, 257, 1000, 4096, 0, 65535, 65536, 70000};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0] && n < cap; i++)
        if (fixed[i] <= max_message)
            lens[n++] = fixed[i];
    lens[n++] = max_message; /* the largest allowed message */
    lens[n++] = 0;
    while (n < cap) {
        uint32_t r = unit_below(10);
        uint32_t len = r < 3 ? unit_below(8) : r < 8 ? unit_below(600) : unit_below(20000);
        lens[n++] = len > max_message ? max_message : len;
    }
    return n;
}

/* Chunk size for a feed in the given mode. */
static size_t chunk_size(int mode, uint32_t hs, size_t left)
{
    size_t n;
    switch (mode) {
    case MODE_WHOLE:
        n = left;
        break;
    case MODE_BYTES_NULL:
    case MODE_BYTES_BLOCKS:
        n = 1;
        break;
    case MODE_RANDOM_SMALL:
    case MODE_RANDOM_NULL:
        n = unit_below(4) == 0 ? 0 : 1 + unit_below(2 * hs + 3);
        break;
    default:
        n = unit_below(8) == 0 ? 0 : 1 + unit_below(30000);
        break;
    }
    return n > left ? left : n;
}

static void run(uint32_t framing, uint32_t flags, int mode)
{
    net_frame_cfg cfg;
    REQUIRE(net_frame_cfg_make(framing, flags, 1, &cfg) == 0);
    uint32_t max_message = (uint32_t)(net_frame_header_limit(&cfg) < 100000 ? net_frame_header_limit(&cfg) : 100000);
    REQUIRE(net_frame_cfg_make(framing, flags, max_message, &cfg) == 0);
    const uint32_t hs = cfg.header;

    enum { NMSG = 160 };
    uint32_t lens[NMSG];
    size_t nmsg = make_lengths(lens, NMSG, max_message);
    ubuf stream = {0};
    size_t *start = malloc((nmsg + 1) * sizeof *start);
    REQUIRE(start);
    for (size_t k = 0; k < nmsg; k++) {
        start[k] = stream.n;
        stream_add(&stream, &cfg, (uint32_t)k, lens[k]);
    }
    start[nmsg] = stream.n;

    /* Plan the chunks first, so the expected owner of each message is known:
     * in place iff the whole message (header included) is inside one chunk
     * that has an input block. */
    size_t *cut = malloc((stream.n + 2) * sizeof *cut * 2);
    REQUIRE(cut);
    size_t ncut = 0, pos = 0;
    cut[ncut++] = 0;
    while (pos < stream.n) {
        size_t n = chunk_size(mode, hs, stream.n - pos);
        pos += n;
        cut[ncut++] = pos;
    }
    int with_blocks = mode != MODE_BYTES_NULL && mode != MODE_RANDOM_NULL;
    uint8_t *want_in_place = calloc(nmsg, 1);
    REQUIRE(want_in_place);
    for (size_t k = 0, ci = 0; k < nmsg; k++) {
        while (ci + 1 < ncut && cut[ci + 1] <= start[k])
            ci++; /* chunk ci = [cut[ci], cut[ci+1]) holds start[k] */
        want_in_place[k] = with_blocks && start[k + 1] <= cut[ci + 1];
    }

    net_frame_decoder d;
    net_frame_decoder_init(&d, &cfg);
    collector c = {0};
    c.want_len = lens;
    c.want_n = nmsg;
    c.want_in_place = want_in_place;
    c.max_message = max_message;
    c.hold_every = 5;

    uint64_t consumed = 0;
    for (size_t i = 0; i + 1 < ncut; i++) {
        size_t n = cut[i + 1] - cut[i];
        net_block *in = NULL;
        const uint8_t *p = stream.p + cut[i];
        if (with_blocks) {
            in = net_block_from(p, n);
            REQUIRE(in);
            p = in->data;
        }
        size_t before = c.got;
        int rc = feed_chunk(&d, &c, p, n, in);
        net_block_unref(in, 1); /* held messages keep their own reference */
        CHECK_EQ(rc, 0);
        if (rc)
            break;
        if (n == 0)
            CHECK_EQ(c.got, before);
        consumed += n;
        /* Everything consumed is either emitted (with its header) or pending. */
        uint64_t emitted = c.got_bytes + (uint64_t)c.got * hs;
        if (consumed != emitted + net_frame_decoder_pending(&d)) {
            fprintf(stderr, "after %" PRIu64 " bytes: emitted %" PRIu64 " + pending %zu\n", consumed, emitted,
                    net_frame_decoder_pending(&d));
            unit_failures++;
            UNIT_BAIL_IF_NOISY();
        }
    }
    CHECK_EQ(c.got, nmsg);
    CHECK_EQ(net_frame_decoder_pending(&d), 0);
    if (mode == MODE_WHOLE)
        CHECK_EQ(c.in_place, nmsg);
    if (mode == MODE_BYTES_NULL || mode == MODE_BYTES_BLOCKS)
        CHECK_EQ(c.assembled, nmsg); /* a header never fits in one byte */
    if (!with_blocks)
        CHECK_EQ(c.in_place, 0);
    collector_release(&c);
    net_frame_decoder_free(&d);
    if (unit_failures)
        fprintf(stderr, "  (framing %s%s, mode %s)\n", k_framing_names[framing], flags ? "+includes-header" : "",
                k_mode_names[mode]);
    free(want_in_place);
    free(cut);
    free(start);
    ubuf_free(&stream);
}

/* Input split in the middle of a message, then the decoder freed with a
 * message half assembled: nothing leaks (LeakSanitizer) and nothing emitted. */
static void free_midway(void)
{
    for (size_t f = 0; f < 4; f++) {
        net_frame_cfg cfg;
        REQUIRE(net_frame_cfg_make(k_framings[f], 0, 1000, &cfg) == 0);
        ubuf s = {0};
        stream_add(&s, &cfg, 0, 500);
        for (size_t cutat = 1; cutat < s.n; cutat += 37) {
            net_frame_decoder d;
            net_frame_decoder_init(&d, &cfg);
            uint32_t want = 500;
            collector c = {0};
            c.want_len = &want;
            c.want_n = 1;
            c.max_message = 1000;
            CHECK_EQ(feed_chunk(&d, &c, s.p, cutat, NULL), 0);
            CHECK_EQ(c.got, 0);
            CHECK_EQ(net_frame_decoder_pending(&d), cutat);
            net_frame_decoder_free(&d);
            CHECK_EQ(net_frame_decoder_pending(&d), 0);
        }
        ubuf_free(&s);
    }
}

int main(void)
{
    unit_seed();
    for (size_t f = 0; f < 4; f++)
        for (uint32_t inc = 0; inc < 2; inc++)
            for (int mode = 0; mode < MODE_COUNT; mode++)
                for (int rep = 0; rep < (mode >= MODE_RANDOM_SMALL ? 4 : 1); rep++)
                    run(k_framings[f], inc ? NET_TCP_LEN_INCLUDES_HEADER : 0, mode);
    free_midway();
    return unit_done("frame_decode_splits");
}
