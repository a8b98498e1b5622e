/* framing_wire: the bytes on the wire of every framing (checked by a raw
 * peer), empty messages, several messages in one write, and messages and
 * headers arriving a byte at a time. */
#include "testlib.h"

static int hdr_size(uint32_t f)
{
    return (f == NET_FRAMING_U16LE || f == NET_FRAMING_U16BE) ? 2 : 4;
}

/* Appends the header of a len-byte message to p, returns its size. */
static int put_hdr(uint8_t *p, uint32_t f, int inc, uint32_t len)
{
    int n = hdr_size(f);
    uint64_t v = len + (inc ? (uint32_t)n : 0u);
    if (f == NET_FRAMING_U16LE || f == NET_FRAMING_U32LE)
        tl_put_le(p, v, n);
    else
        tl_put_be(p, v, n);
    return n;
}

/* Reads from raw connection s until exactly `len` bytes came; compares. */
static void expect_raw(net_engine e, net_handle s, const uint8_t *want, size_t len)
{
    uint8_t got[256];
    size_t have = 0;
    CHECK(len <= sizeof got);
    while (have < len) {
        net_event ev;
        TL_EXPECT(e, NET_EV_DATA, s, &ev);
        CHECKF(have + ev.len <= len, "raw peer got %zu bytes, expected %zu", have + ev.len, len);
        memcpy(got + have, ev.data, ev.len);
        have += ev.len;
    }
    for (size_t i = 0; i < len; i++)
        CHECKF(got[i] == want[i], "wire byte %zu is 0x%02x, expected 0x%02x", i, got[i], want[i]);
}

static void expect_msg(net_engine e, net_handle c, const uint8_t *want, uint32_t len)
{
    net_event ev;
    TL_EXPECT(e, NET_EV_DATA, c, &ev);
    CHECKF(ev.len == len, "message of %u bytes, expected %u", (unsigned)ev.len, (unsigned)len);
    CHECK(len == 0 || memcmp(ev.data, want, len) == 0);
}

static void run(net_engine e, net_handle l, uint16_t port, uint32_t f, int inc)
{
    printf("  framing %u%s\n", (unsigned)f, inc ? " +header" : "");
    net_tcp_config tcp;
    tl_tcp(&tcp, f, inc ? NET_TCP_LEN_INCLUDES_HEADER : 0);
    net_handle c, s;
    tl_pair(e, e, l, port, &tcp, &c, &s); /* c framed, s raw */

    /* framed -> raw: what goes on the wire */
    uint8_t wire[64];
    int n = put_hdr(wire, f, inc, 5);
    memcpy(wire + n, "hello", 5);
    n += 5;
    n += put_hdr(wire + n, f, inc, 0);
    CHECK_OK(net_send(c, "hello", 5));
    CHECK_OK(net_send(c, "", 0));
    expect_raw(e, s, wire, (size_t)n);

    /* raw -> framed: three messages in one write */
    static uint8_t out[4096], body[1000], body2[300];
    tl_fill(body, sizeof body, 1, 0);
    tl_fill(body2, sizeof body2, 2, 0);
    n = put_hdr(out, f, inc, 3);
    memcpy(out + n, "abc", 3);
    n += 3;
    n += put_hdr(out + n, f, inc, 0);
    n += put_hdr(out + n, f, inc, sizeof body);
    memcpy(out + n, body, sizeof body);
    n += (int)sizeof body;
    CHECK_OK(net_send(s, out, (uint32_t)n));
    expect_msg(e, c, (const uint8_t *)"abc", 3);
    expect_msg(e, c, NULL, 0);
    expect_msg(e, c, body, sizeof body);

    /* a message dribbled a byte at a time, the pump in between so the bytes
     * travel in separate segments (NODELAY is on) */
    n = put_hdr(out, f, inc, sizeof body2);
    memcpy(out + n, body2, sizeof body2);
    n += (int)sizeof body2;
    for (int i = 0; i < n; i++) {
        CHECK_OK(net_send(s, out + i, 1));
        if (i < 8 || i % 50 == 0)
            tl_pump(1);
    }
    expect_msg(e, c, body2, sizeof body2);
    CHECK_EQ(tl_pending(e, NET_EV_DATA, c), 0);

    /* a header split in two, then the tail of one message glued to the next */
    n = put_hdr(out, f, inc, 3);
    memcpy(out + n, "xyz", 3);
    n += 3;
    int m = n + put_hdr(out + n, f, inc, 2);
    memcpy(out + m, "pq", 2);
    m += 2;
    CHECK_OK(net_send(s, out, 1));
    tl_pump(5);
    CHECK_EQ(tl_pending(e, NET_EV_DATA, c), 0); /* half a header is no message */
    CHECK_OK(net_send(s, out + 1, (uint32_t)(n - 1 - 1)));
    tl_pump(5);
    CHECK_EQ(tl_pending(e, NET_EV_DATA, c), 0); /* one byte short */
    CHECK_OK(net_send(s, out + n - 1, (uint32_t)(m - (n - 1))));
    expect_msg(e, c, (const uint8_t *)"xyz", 3);
    expect_msg(e, c, (const uint8_t *)"pq", 2);

    CHECK_EQ(tl_close_wait(e, c), 0);
    net_event ev;
    TL_EXPECT(e, NET_EV_CLOSE, s, &ev);
}

int main(void)
{
    tl_init("framing_wire");
    net_engine e = tl_engine();
    uint16_t port;
    net_handle l = tl_listen(e, NULL, &port); /* raw: sees the wire */
    for (uint32_t f = NET_FRAMING_U16LE; f <= NET_FRAMING_U32BE; f++)
        for (int inc = 0; inc < 2; inc++)
            run(e, l, port, f, inc);
    tl_engine_destroy(e);
    printf("ok\n");
    return 0;
}
