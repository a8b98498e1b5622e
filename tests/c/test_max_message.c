/* max_message: a frame header announcing more than max_message costs that
 * connection (CLOSE NET_E_MSGSIZE), a malformed one too (NET_E_PROTO), the
 * other connections go on; net_send of a too-large message returns
 * NET_E_MSGSIZE and queues nothing. Engine-wide and per connection. */
#include "testlib.h"

/* Raw client c sends `bytes`; the server side s must close with `status`
 * without producing any DATA. */
static void bad_frame(net_engine ce, net_handle c, net_engine se, net_handle s, const uint8_t *bytes, uint32_t n,
                      int status, const char *what)
{
    CHECK_OK(net_send(c, bytes, n));
    net_event ev;
    TL_EXPECT(se, NET_EV_NONE, s, &ev);
    CHECKF(ev.type == NET_EV_CLOSE, "%s: server got %s (len %u) instead of CLOSE", what, tl_evname(ev.type),
           (unsigned)ev.len);
    CHECKF(ev.status == status, "%s: CLOSE status %d (%s), expected %s", what, (int)ev.status, tl_errname(ev.status),
           tl_errname(status));
    TL_EXPECT(ce, NET_EV_CLOSE, c, &ev); /* the client is closed on */
}

int main(void)
{
    tl_init("max_message");
    net_config scfg;
    tl_config(&scfg);
    scfg.max_message = 1024;
    net_engine se = tl_engine_with(&scfg), ce = tl_engine();
    net_tcp_config framed, raw, inc;
    tl_tcp(&framed, NET_FRAMING_U32LE, 0);
    tl_tcp(&raw, NET_FRAMING_RAW, 0);
    tl_tcp(&inc, NET_FRAMING_U16LE, NET_TCP_LEN_INCLUDES_HEADER);
    uint16_t port, iport;
    net_handle l = tl_listen(se, &framed, &port);
    net_handle li = tl_listen(se, &inc, &iport);
    net_handle good_c, good_s, c, s;
    tl_pair(ce, se, l, port, &framed, &good_c, &good_s);
    net_event ev;

    /* exactly max_message passes, both ways */
    static uint8_t buf[4096];
    tl_fill(buf, sizeof buf, 1, 0);
    CHECK_OK(net_send(good_c, buf, 1024));
    TL_EXPECT(se, NET_EV_DATA, good_s, &ev);
    CHECK_EQ(ev.len, 1024);

    /* announced sizes over the limit, up to 4 GiB (nothing that size may be
     * allocated): the connection goes, with nothing delivered */
    const uint32_t announce[] = {1025, 2048, 1u << 20, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof announce / sizeof announce[0]; i++) {
        tl_pair(ce, se, l, port, &raw, &c, &s);
        uint8_t frame[4 + 100];
        tl_put_le(frame, announce[i], 4);
        memset(frame + 4, 'x', 100);
        bad_frame(ce, c, se, s, frame, sizeof frame, NET_E_MSGSIZE, "oversized header");
    }
    /* malformed: a length that does not even cover the header */
    for (uint32_t v = 0; v < 2; v++) {
        tl_pair(ce, se, li, iport, &raw, &c, &s);
        uint8_t frame[4] = {0, 0, 'a', 'b'};
        tl_put_le(frame, v, 2);
        bad_frame(ce, c, se, s, frame, sizeof frame, NET_E_PROTO, "header length < header size");
    }
    /* the good connection did not notice */
    CHECK_OK(net_send(good_c, buf, 10));
    TL_EXPECT(se, NET_EV_DATA, good_s, &ev);
    CHECK_EQ(ev.len, 10);

    /* sending too much: refused, nothing queued, the connection goes on */
    net_stats st0 = tl_stats(se);
    uint64_t q0 = 0, q1 = 0;
    CHECK_OK(net_send_queued(good_s, &q0));
    CHECK_RC(net_send(good_s, buf, 1025), NET_E_MSGSIZE);
    net_buf parts[2] = {{buf, 1000}, {buf, 25}};
    CHECK_RC(net_sendv(good_s, parts, 2), NET_E_MSGSIZE);
    CHECK_OK(net_send_queued(good_s, &q1));
    CHECK_EQ(q1, q0);
    CHECK_EQ(tl_stats(se).messages_out, st0.messages_out);
    CHECK_OK(net_send(good_s, buf, 1024));
    TL_EXPECT(ce, NET_EV_DATA, good_c, &ev);
    CHECK_EQ(ev.len, 1024);
    CHECK_EQ(tl_pending(ce, NET_EV_DATA, good_c), 0);

    /* the engine default (1 MiB) on the client engine */
    uint8_t *big = (uint8_t *)tl_xmalloc((1u << 20) + 1);
    memset(big, 7, (1u << 20) + 1);
    CHECK_RC(net_send(good_c, big, (1u << 20) + 1), NET_E_MSGSIZE);
    free(big);

    /* per connection: max_message 100 on this client, both directions */
    net_tcp_config small;
    tl_tcp(&small, NET_FRAMING_U32LE, 0);
    small.max_message = 100;
    tl_pair(ce, se, l, port, &small, &c, &s);
    CHECK_RC(net_send(c, buf, 101), NET_E_MSGSIZE);
    CHECK_OK(net_send(c, buf, 100));
    TL_EXPECT(se, NET_EV_DATA, s, &ev);
    CHECK_EQ(ev.len, 100);
    CHECK_OK(net_send(s, buf, 200));    /* fine for the server (1024) ... */
    TL_EXPECT(ce, NET_EV_NONE, c, &ev); /* ... too much for this client */
    CHECKF(ev.type == NET_EV_CLOSE && ev.status == NET_E_MSGSIZE, "client with max_message 100 got %s status %d (%s)",
           tl_evname(ev.type), (int)ev.status, tl_errname(ev.status));
    TL_EXPECT(se, NET_EV_CLOSE, s, &ev);

    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
