/* close_connecting: net_close on a connection that is still connecting
 * connects first, delivers everything queued before the close, then closes
 * gracefully: the server gets every byte and an orderly CLOSE, the client a
 * CONNECT then a CLOSE with status 0, without waiting for the close timeout.
 * The same with nothing queued, and with net_shutdown instead of a close. */
#include "testlib.h"

#define MSGS 64
#define MSG_LEN 1000

static void sends_then_close(net_engine ce, net_engine se, net_handle l, uint16_t port, const net_tcp_config *tcp)
{
    net_handle c = tl_connect(ce, port, tcp);
    static uint8_t msg[MSG_LEN];
    for (int i = 0; i < MSGS; i++) {
        tl_fill(msg, sizeof msg, 7, (uint64_t)i * MSG_LEN);
        CHECK_OK(net_send(c, msg, sizeof msg));
    }
    CHECK_OK(net_close(c)); /* before anything was polled: still connecting */
    CHECK_RC(net_send(c, "late", 4), NET_E_CLOSED);

    net_event ev;
    TL_EXPECT(ce, NET_EV_CONNECT, c, &ev);
    CHECKF(ev.status == 0, "CONNECT status %d (%s)", (int)ev.status, tl_errname(ev.status));
    TL_EXPECT(se, NET_EV_ACCEPT, 0, &ev);
    CHECK(ev.parent == l);
    net_handle s = ev.handle;
    for (int i = 0; i < MSGS; i++) {
        TL_EXPECT(se, NET_EV_DATA, s, &ev);
        CHECKF(ev.len == MSG_LEN, "message %d: %u bytes", i, (unsigned)ev.len);
        CHECKF(tl_mismatch(ev.data, ev.len, 7, (uint64_t)i * MSG_LEN) < 0, "message %d differs", i);
    }
    TL_EXPECT(se, NET_EV_CLOSE, s, &ev);
    CHECKF(ev.status == 0, "server CLOSE status %d (%s)", (int)ev.status, tl_errname(ev.status));
    TL_EXPECT(ce, NET_EV_CLOSE, c, &ev);
    CHECKF(ev.status == 0, "client CLOSE status %d (%s)", (int)ev.status, tl_errname(ev.status));
}

static void nothing_queued(net_engine ce, net_engine se, net_handle l, uint16_t port, const net_tcp_config *tcp)
{
    net_handle c = tl_connect(ce, port, tcp);
    CHECK_OK(net_close(c));
    net_event ev;
    TL_EXPECT(ce, NET_EV_CONNECT, c, &ev);
    CHECK_EQ(ev.status, 0);
    TL_EXPECT(se, NET_EV_ACCEPT, 0, &ev);
    CHECK(ev.parent == l);
    net_handle s = ev.handle;
    /* The client's FIN reaches the server as an orderly end; the server
     * then closes and the client's close completes: no reset, no timeout
     * (the client's close timeout is longer than any wait here). */
    TL_EXPECT(se, NET_EV_CLOSE, s, &ev);
    CHECKF(ev.status == 0, "server CLOSE status %d (%s)", (int)ev.status, tl_errname(ev.status));
    TL_EXPECT(ce, NET_EV_CLOSE, c, &ev);
    CHECKF(ev.status == 0, "client CLOSE status %d (%s)", (int)ev.status, tl_errname(ev.status));
}

static void shutdown_connecting(net_engine ce, net_engine se, net_handle l, uint16_t port, const net_tcp_config *tcp)
{
    net_handle c = tl_connect(ce, port, tcp);
    CHECK_OK(net_send(c, "before the FIN", 14));
    CHECK_OK(net_shutdown(c));
    net_event ev;
    TL_EXPECT(ce, NET_EV_CONNECT, c, &ev);
    CHECK_EQ(ev.status, 0);
    TL_EXPECT(se, NET_EV_ACCEPT, 0, &ev);
    CHECK(ev.parent == l);
    net_handle s = ev.handle;
    TL_EXPECT(se, NET_EV_DATA, s, &ev);
    CHECK(ev.len == 14 && memcmp(ev.data, "before the FIN", 14) == 0);
    /* The server, having nothing to say, closes after the client's FIN. */
    TL_EXPECT(se, NET_EV_CLOSE, s, &ev);
    CHECKF(ev.status == 0, "server CLOSE status %d (%s)", (int)ev.status, tl_errname(ev.status));
    TL_EXPECT(ce, NET_EV_CLOSE, c, &ev);
    CHECKF(ev.status == 0, "client CLOSE status %d (%s)", (int)ev.status, tl_errname(ev.status));
}

int main(void)
{
    tl_init("close_connecting");
    net_config cfg;
    tl_config(&cfg);
    cfg.close_timeout_ms = 60000; /* far past every wait: a CLOSE by timeout fails the test */
    net_engine ce = tl_engine_with(&cfg), se = tl_engine();
    static const uint32_t framings[] = {NET_FRAMING_U16LE, NET_FRAMING_U32BE};
    for (int f = 0; f < 2; f++) {
        net_tcp_config tcp;
        tl_tcp(&tcp, framings[f], 0);
        uint16_t port;
        net_handle l = tl_listen(se, &tcp, &port);
        for (int round = 0; round < 3; round++) {
            sends_then_close(ce, se, l, port, &tcp);
            nothing_queued(ce, se, l, port, &tcp);
            shutdown_connecting(ce, se, l, port, &tcp);
        }
        CHECK_EQ(tl_close_wait(se, l), 0);
    }
    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
