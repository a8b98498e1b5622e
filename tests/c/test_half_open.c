/* half_open: with NET_TCP_HALF_OPEN the peer's FIN arrives as NET_EV_EOF
 * after its last DATA, and the connection stays open for sending for as
 * long as the script wants (polls later, past the close timeout): a reply
 * sent then still reaches the peer, and the script's net_close ends it
 * with CLOSE status 0 on both sides. */
#include "testlib.h"

int main(void)
{
    tl_init("half_open");
    net_config cfg;
    tl_config(&cfg);
    cfg.close_timeout_ms = 300; /* no automatic close: waiting past it changes nothing */
    net_engine ce = tl_engine_with(&cfg), se = tl_engine_with(&cfg);
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U16LE, NET_TCP_HALF_OPEN);
    uint16_t port;
    net_handle l = tl_listen(se, &tcp, &port);
    net_tcp_config plain;
    tl_tcp(&plain, NET_FRAMING_U16LE, 0);

    for (int round = 0; round < 3; round++) {
        net_handle c, s;
        tl_pair(ce, se, l, port, &plain, &c, &s);
        CHECK_OK(net_send(c, "question", 8));
        CHECK_OK(net_shutdown(c));
        net_event ev;
        TL_EXPECT(se, NET_EV_DATA, s, &ev);
        CHECK(ev.len == 8 && memcmp(ev.data, "question", 8) == 0);
        TL_EXPECT(se, NET_EV_EOF, s, &ev);
        CHECK_EQ(ev.status, 0);
        /* Several polls and more than the close timeout later: still open. */
        tl_pump(500);
        CHECK_EQ(tl_pending(se, NET_EV_CLOSE, s), 0);
        net_addr a;
        CHECK_OK(net_peer_addr(s, &a));
        static uint8_t answer[20000];
        tl_fill(answer, sizeof answer, 3, 0);
        CHECK_OK(net_send(s, answer, sizeof answer));
        if (round == 2)
            CHECK_OK(net_shutdown(s)); /* a shutdown ends it too: the peer already finished */
        else
            CHECK_OK(net_close(s));
        TL_EXPECT(ce, NET_EV_DATA, c, &ev);
        CHECK(ev.len == sizeof answer && tl_mismatch(ev.data, ev.len, 3, 0) < 0);
        TL_EXPECT(se, NET_EV_CLOSE, s, &ev);
        CHECKF(ev.status == 0, "server CLOSE status %d (%s)", (int)ev.status, tl_errname(ev.status));
        TL_EXPECT(ce, NET_EV_CLOSE, c, &ev);
        CHECKF(ev.status == 0, "client CLOSE status %d (%s)", (int)ev.status, tl_errname(ev.status));
    }
    /* Without the flag nothing changes: no EOF, the connection closes itself. */
    net_handle pl = tl_listen(se, &plain, &port);
    net_handle c, s;
    tl_pair(ce, se, pl, port, &plain, &c, &s);
    CHECK_OK(net_shutdown(c));
    net_event ev;
    TL_EXPECT(se, NET_EV_CLOSE, s, &ev);
    CHECK_EQ(ev.status, 0);
    CHECK_EQ(tl_pending(se, NET_EV_EOF, 0), 0);
    TL_EXPECT(ce, NET_EV_CLOSE, c, &ev);
    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
