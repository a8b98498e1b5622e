/* connect_fail: connecting to a port nobody listens on gives a CONNECT
 * event with an error (NET_E_REFUSED on loopback), then exactly one CLOSE,
 * then a stale handle. */
#include "testlib.h"

int main(void)
{
    tl_init("connect_fail");
    net_engine e = tl_engine();

    /* a port that was free a moment ago */
    uint16_t port;
    net_handle l = tl_listen(e, NULL, &port);
    CHECK_EQ(tl_close_wait(e, l), 0);

    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U16LE, 0);
    tcp.user = 99;
    for (int round = 0; round < 3; round++) {
        net_handle c = tl_connect(e, port, &tcp);
        net_event ev;
        TL_EXPECT(e, NET_EV_NONE, c, &ev);
        CHECKF(ev.type == NET_EV_CONNECT, "first event %s", tl_evname(ev.type));
        printf("CONNECT status %d (%s) os_error %d\n", (int)ev.status, tl_errname(ev.status), (int)ev.os_error);
        CHECKF(ev.status < 0, "connect to closed port %u succeeded", (unsigned)port);
        if (ev.status != NET_E_REFUSED)
            printf("note: CONNECT status %s rather than NET_E_REFUSED\n", tl_errname(ev.status));
        CHECK(ev.os_error != 0);
        CHECK_EQ(ev.user, 99);
        TL_EXPECT(e, NET_EV_NONE, c, &ev);
        CHECKF(ev.type == NET_EV_CLOSE, "after a failed CONNECT: %s", tl_evname(ev.type));
        CHECK(ev.status < 0);
        CHECK_EQ(ev.user, 99);
        tl_pump(30);
        CHECK_EQ(tl_pending(e, NET_EV_NONE, c), 0);
        CHECK_RC(net_send(c, "x", 1), NET_E_BADHANDLE);
        CHECK_RC(net_close(c), NET_E_BADHANDLE);
    }

    /* sends queued while connecting, then the failure: no crash, one CLOSE */
    net_handle c = tl_connect(e, port, &tcp);
    int rc = net_send(c, "early", 5);
    CHECKF(rc == NET_OK || rc == NET_E_CLOSED, "net_send while connecting: %d (%s)", rc, tl_errname(rc));
    net_event ev;
    TL_EXPECT(e, NET_EV_CONNECT, c, &ev);
    CHECK(ev.status < 0);
    TL_EXPECT(e, NET_EV_CLOSE, c, &ev);

    /* the engine is fine afterwards */
    net_handle l2 = tl_listen(e, NULL, &port);
    net_handle a, b;
    tl_pair(e, e, l2, port, NULL, &a, &b);
    CHECK_OK(net_send(a, "fine", 4));
    TL_EXPECT(e, NET_EV_DATA, b, &ev);

    tl_engine_destroy(e);
    printf("ok\n");
    return 0;
}
