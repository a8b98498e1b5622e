/* test_frame_header.c - the frame header encoder and decoder: byte order of
 * every framing, the "length includes header" offset, the largest length each
 * header can describe, and put/get round trips over the whole range. */
#include "frame_util.h"

static void byte_order(void)
{
    struct {
        uint32_t framing, flags, len;
        uint8_t want[4];
    } cases[] = {
        {NET_FRAMING_U16LE, 0, 0x1234, {0x34, 0x12}},
        {NET_FRAMING_U16BE, 0, 0x1234, {0x12, 0x34}},
        {NET_FRAMING_U32LE, 0, 0x01020304, {0x04, 0x03, 0x02, 0x01}},
        {NET_FRAMING_U32BE, 0, 0x01020304, {0x01, 0x02, 0x03, 0x04}},
        {NET_FRAMING_U16LE, NET_TCP_LEN_INCLUDES_HEADER, 0x10, {0x12, 0x00}},
        {NET_FRAMING_U16BE, NET_TCP_LEN_INCLUDES_HEADER, 0x10, {0x00, 0x12}},
        {NET_FRAMING_U32LE, NET_TCP_LEN_INCLUDES_HEADER, 0x10, {0x14, 0x00, 0x00, 0x00}},
        {NET_FRAMING_U32BE, NET_TCP_LEN_INCLUDES_HEADER, 0x10, {0x00, 0x00, 0x00, 0x14}},
        {NET_FRAMING_U16BE, NET_TCP_LEN_INCLUDES_HEADER, 0xFFFD, {0xFF, 0xFF}},
        {NET_FRAMING_U32LE, NET_TCP_LEN_INCLUDES_HEADER, 0xFFFFFFFB, {0xFF, 0xFF, 0xFF, 0xFF}},
        {NET_FRAMING_U16LE, 0, 0, {0, 0}},
        {NET_FRAMING_U32BE, 0, 0xFFFFFFFF, {0xFF, 0xFF, 0xFF, 0xFF}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        net_frame_cfg cfg;
        REQUIRE(net_frame_cfg_make(cases[i].framing, cases[i].flags, 0xFFFFFFFFu, &cfg) == 0);
        uint8_t h[4] = {0xEE, 0xEE, 0xEE, 0xEE};
        net_frame_put_header(&cfg, cases[i].len, h);
        if (memcmp(h, cases[i].want, cfg.header) != 0) {
            fprintf(stderr, "case %zu: header %02x %02x %02x %02x\n", i, h[0], h[1], h[2], h[3]);
            unit_failures++;
        }
        for (uint32_t j = cfg.header; j < 4; j++)
            CHECK_EQ(h[j], 0xEE); /* writes only the header */
        uint32_t len = 0;
        CHECK_EQ(net_frame_get_length(&cfg, h, &len), 0);
        CHECK_EQ(len, cases[i].len);
    }
}

static void header_limits(void)
{
    struct {
        uint32_t framing, flags;
        uint8_t header;
        uint64_t limit;
    } cases[] = {
        {NET_FRAMING_U16LE, 0, 2, 0xFFFF},
        {NET_FRAMING_U16BE, 0, 2, 0xFFFF},
        {NET_FRAMING_U16LE, NET_TCP_LEN_INCLUDES_HEADER, 2, 0xFFFD},
        {NET_FRAMING_U16BE, NET_TCP_LEN_INCLUDES_HEADER, 2, 0xFFFD},
        {NET_FRAMING_U32LE, 0, 4, 0xFFFFFFFF},
        {NET_FRAMING_U32BE, 0, 4, 0xFFFFFFFF},
        {NET_FRAMING_U32LE, NET_TCP_LEN_INCLUDES_HEADER, 4, 0xFFFFFFFB},
        {NET_FRAMING_U32BE, NET_TCP_LEN_INCLUDES_HEADER, 4, 0xFFFFFFFB},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        net_frame_cfg cfg;
        REQUIRE(net_frame_cfg_make(cases[i].framing, cases[i].flags, 7, &cfg) == 0);
        CHECK_EQ(cfg.header, cases[i].header);
        CHECK_EQ(cfg.max_message, 7);
        CHECK(!cfg.raw);
        CHECK_EQ(cfg.includes_header, cases[i].flags ? 1 : 0);
        CHECK_EQ(cfg.big_endian, cases[i].framing == NET_FRAMING_U16BE || cases[i].framing == NET_FRAMING_U32BE);
        CHECK(net_frame_header_limit(&cfg) == cases[i].limit);
    }
    /* Other flag bits do not disturb framing. */
    net_frame_cfg cfg;
    REQUIRE(net_frame_cfg_make(NET_FRAMING_U16LE, NET_TCP_NODELAY | NET_TCP_KEEPALIVE, 7, &cfg) == 0);
    CHECK(!cfg.includes_header);
}

/* put then get gives the length back, for lengths spread over the range
 * each header can describe. */
static void round_trip(void)
{
    for (size_t f = 0; f < 4; f++) {
        for (uint32_t inc = 0; inc < 2; inc++) {
            net_frame_cfg cfg;
            REQUIRE(net_frame_cfg_make(k_framings[f], inc ? NET_TCP_LEN_INCLUDES_HEADER : 0, 0xFFFFFFFFu, &cfg) == 0);
            uint64_t limit = net_frame_header_limit(&cfg);
            for (int i = 0; i < 200000; i++) {
                uint32_t len;
                if (i < 300)
                    len = i < 150 ? (uint32_t)i : (uint32_t)(limit - (uint64_t)(i - 150));
                else if (cfg.header == 2)
                    len = (uint32_t)((i - 300) % (limit + 1)); /* every u16 value */
                else
                    len = (uint32_t)(unit_rand() % (limit + 1));
                uint8_t h[4];
                net_frame_put_header(&cfg, len, h);
                uint32_t got = 0xDEADBEEF;
                int rc = net_frame_get_length(&cfg, h, &got);
                if (rc != 0 || got != len) {
                    fprintf(stderr, "%s%s: put %u, get rc %d len %u\n", k_framing_names[k_framings[f]],
                            inc ? "+inc" : "", len, rc, got);
                    unit_failures++;
                    UNIT_BAIL_IF_NOISY();
                }
            }
        }
    }
}

int main(void)
{
    unit_seed();
    byte_order();
    header_limits();
    round_trip();
    return unit_done("frame_header");
}
