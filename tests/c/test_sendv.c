/* sendv: net_sendv gathers its buffers into ONE message (one DATA on a
 * framed peer), in order; on raw connections the bytes follow each other. */
#include "testlib.h"

static void expect_msg(net_engine e, net_handle h, const uint8_t *want, uint32_t len)
{
    net_event ev;
    TL_EXPECT(e, NET_EV_DATA, h, &ev);
    CHECKF(ev.len == len, "DATA of %u bytes, expected one message of %u", (unsigned)ev.len, (unsigned)len);
    for (uint32_t i = 0; i < len; i++)
        CHECKF(((const uint8_t *)ev.data)[i] == want[i], "byte %u differs", (unsigned)i);
}

int main(void)
{
    tl_init("sendv");
    net_engine ce = tl_engine(), se = tl_engine();
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U16BE, 0);
    uint16_t port;
    net_handle l = tl_listen(se, &tcp, &port);
    net_handle c, s;
    tl_pair(ce, se, l, port, &tcp, &c, &s);

    /* five pieces, one empty */
    static uint8_t mid[1000], want[4096];
    tl_fill(mid, sizeof mid, 3, 0);
    net_buf bufs[5] = {{"hel", 3}, {"", 0}, {"lo ", 3}, {mid, sizeof mid}, {"!", 1}};
    CHECK_OK(net_sendv(c, bufs, 5));
    memcpy(want, "hello ", 6);
    memcpy(want + 6, mid, sizeof mid);
    want[6 + sizeof mid] = '!';
    expect_msg(se, s, want, 7 + sizeof mid);

    /* one piece; then 64 pieces of 1..64 bytes */
    net_buf one = {"solo", 4};
    CHECK_OK(net_sendv(c, &one, 1));
    expect_msg(se, s, (const uint8_t *)"solo", 4);
    net_buf many[64];
    uint32_t total = 0;
    for (int i = 0; i < 64; i++) {
        many[i].data = want + total;
        many[i].len = (size_t)i + 1;
        tl_fill(want + total, many[i].len, 9, total);
        total += (uint32_t)i + 1;
    }
    CHECK_OK(net_sendv(c, many, 64));
    expect_msg(se, s, want, total);

    /* sent right after a plain send: two messages, in order */
    CHECK_OK(net_send(c, "first", 5));
    CHECK_OK(net_sendv(c, bufs, 3));
    expect_msg(se, s, (const uint8_t *)"first", 5);
    expect_msg(se, s, (const uint8_t *)"hello ", 6);

    /* the gathered size counts against the limits: u16 holds 65535 at most,
     * and nothing is queued by a refused call */
    static uint8_t half[40000];
    net_buf two[2] = {{half, sizeof half}, {half, sizeof half}};
    uint64_t q0 = 0, q1 = 0;
    CHECK_OK(net_send_queued(c, &q0));
    int rc = net_sendv(c, two, 2);
    CHECKF(rc == NET_E_MSGSIZE, "80000-byte gathered message on u16 framing: %d (%s)", rc, tl_errname(rc));
    CHECK_OK(net_send_queued(c, &q1));
    CHECK(q1 <= q0);
    CHECK_OK(net_send(c, "after", 5));
    expect_msg(se, s, (const uint8_t *)"after", 5);
    CHECK_EQ(tl_pending(se, NET_EV_DATA, s), 0);

    /* bad buffers */
    net_buf bad[2] = {{"ok", 2}, {NULL, 5}};
    CHECK_RC(net_sendv(c, bad, 2), NET_E_INVAL);

    /* raw: the pieces arrive as one byte stream */
    net_tcp_config raw;
    tl_tcp(&raw, NET_FRAMING_RAW, 0);
    net_handle lr = tl_listen(se, &raw, &port);
    net_handle rc_, rs;
    tl_pair(ce, se, lr, port, &raw, &rc_, &rs);
    CHECK_OK(net_sendv(rc_, many, 64));
    uint8_t got[4096];
    uint32_t have = 0;
    while (have < total) {
        net_event ev;
        TL_EXPECT(se, NET_EV_DATA, rs, &ev);
        CHECK(have + ev.len <= total);
        memcpy(got + have, ev.data, ev.len);
        have += ev.len;
    }
    CHECK(memcmp(got, want, total) == 0);

    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
