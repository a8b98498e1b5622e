/* half_close: after net_shutdown the peer gets the data sent before it and
 * can still reply to it; the shut-down side keeps receiving everything
 * until the peer closes; then one CLOSE with status 0 each. */
#include "testlib.h"

static void run(net_engine ae, net_handle a, net_engine be, net_handle b, const char *what)
{
    printf("  %s\n", what);
    net_event ev;
    CHECK_OK(net_send(a, "question", 8));
    CHECK_OK(net_shutdown(a));
    int rc = net_send(a, "more", 4);
    CHECKF(rc == NET_E_CLOSED, "%s: net_send after net_shutdown: %d (%s)", what, rc, tl_errname(rc));

    /* the reply goes out as soon as the question is in, before polling
     * again: the peer's FIN does not take the connection away from under it */
    TL_EXPECT(be, NET_EV_DATA, b, &ev);
    CHECK(ev.len == 8 && memcmp(ev.data, "question", 8) == 0);
    rc = net_send(b, "answer", 6);
    CHECKF(rc == NET_OK, "%s: reply to the data before the FIN: %d (%s)", what, rc, tl_errname(rc));
    static uint8_t chunk[64 * 1024];
    for (int i = 0; i < 8; i++) { /* and half a megabyte after it (under the high-water mark) */
        tl_put_le(chunk, (uint64_t)i, 4);
        CHECK_OK(net_send(b, chunk, sizeof chunk));
    }
    /* done: close (it may be closing already because of the FIN) */
    rc = net_close(b);
    CHECKF(rc == NET_OK || rc == NET_E_CLOSED, "%s: net_close after replying: %d (%s)", what, rc, tl_errname(rc));
    TL_EXPECT(ae, NET_EV_DATA, a, &ev);
    CHECK(ev.len == 6 && memcmp(ev.data, "answer", 6) == 0);
    for (int i = 0; i < 8; i++) {
        TL_EXPECT(ae, NET_EV_DATA, a, &ev);
        CHECKF(ev.len == sizeof chunk && tl_get_le((const uint8_t *)ev.data, 4) == (uint64_t)i, "chunk %d", i);
    }
    TL_EXPECT(be, NET_EV_CLOSE, b, &ev);
    CHECKF(ev.status == 0, "%s: closing side CLOSE status %d (%s)", what, (int)ev.status, tl_errname(ev.status));
    TL_EXPECT(ae, NET_EV_CLOSE, a, &ev);
    CHECKF(ev.status == 0, "%s: half-closed side CLOSE status %d (%s)", what, (int)ev.status, tl_errname(ev.status));
    tl_pump(30);
    CHECK_EQ(tl_pending(ae, NET_EV_NONE, a) + tl_pending(be, NET_EV_NONE, b), 0);
}

int main(void)
{
    tl_init("half_close");
    net_engine ce = tl_engine(), se = tl_engine();
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U32LE, 0);
    uint16_t port;
    net_handle l = tl_listen(se, &tcp, &port);
    net_handle c, s;
    tl_pair(ce, se, l, port, &tcp, &c, &s);
    run(ce, c, se, s, "client shuts down, server replies");
    tl_pair(ce, se, l, port, &tcp, &c, &s);
    run(se, s, ce, c, "server shuts down, client replies");

    /* shutdown twice is harmless; close after shutdown closes */
    tl_pair(ce, se, l, port, &tcp, &c, &s);
    CHECK_OK(net_shutdown(c));
    int rc = net_shutdown(c);
    CHECKF(rc == NET_OK || rc == NET_E_CLOSED, "second net_shutdown: %d (%s)", rc, tl_errname(rc));
    rc = net_close(s);
    CHECKF(rc == NET_OK || rc == NET_E_CLOSED, "net_close of the peer: %d (%s)", rc, tl_errname(rc));
    net_event ev;
    TL_EXPECT(se, NET_EV_CLOSE, s, &ev);
    CHECK_EQ(ev.status, 0);
    TL_EXPECT(ce, NET_EV_CLOSE, c, &ev);
    CHECK_EQ(ev.status, 0);

    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
