/* user_data: net_set_user/net_get_user, and every event of a handle
 * carrying the handle's user data (set by config, by call, on timers). */
#include "testlib.h"

#define LUSER 0x1111222233334444ull
#define CUSER 0xC0FFEE0000000001ull

int main(void)
{
    tl_init("user_data");
    net_engine e = tl_engine();

    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U16LE, 0);
    tcp.user = LUSER;
    uint16_t port;
    net_handle l = tl_listen(e, &tcp, &port);
    uint64_t u = 0;
    CHECK_OK(net_get_user(l, &u));
    CHECK_EQ(u, LUSER);

    tcp.user = CUSER;
    net_handle c = tl_connect(e, port, &tcp);
    CHECK_OK(net_get_user(c, &u));
    CHECK_EQ(u, CUSER);
    net_event ev;
    TL_EXPECT(e, NET_EV_CONNECT, c, &ev);
    CHECK_EQ(ev.user, CUSER);
    TL_EXPECT(e, NET_EV_ACCEPT, 0, &ev);
    net_handle s = ev.handle;
    CHECK_EQ(ev.parent, l);
    /* whatever an accepted connection starts with, the event says the same */
    CHECK_OK(net_get_user(s, &u));
    CHECK_EQ(ev.user, u);
    printf("accepted connection starts with user %llu\n", (unsigned long long)u);

    /* set on the accepted connection: its next events carry it */
    CHECK_OK(net_set_user(s, 42));
    CHECK_OK(net_get_user(s, &u));
    CHECK_EQ(u, 42);
    CHECK_OK(net_send(c, "abc", 3));
    TL_EXPECT(e, NET_EV_DATA, s, &ev);
    CHECK_EQ(ev.user, 42);
    CHECK_OK(net_send(s, "def", 3));
    TL_EXPECT(e, NET_EV_DATA, c, &ev);
    CHECK_EQ(ev.user, CUSER);

    /* the full 64 bits, changed again; and the CLOSE events carry it too */
    CHECK_OK(net_set_user(c, UINT64_MAX));
    CHECK_OK(net_set_user(s, 0));
    CHECK_OK(net_close(c));
    TL_EXPECT(e, NET_EV_CLOSE, c, &ev);
    CHECK(ev.user == UINT64_MAX);
    TL_EXPECT(e, NET_EV_CLOSE, s, &ev);
    CHECK_EQ(ev.user, 0);

    /* listener CLOSE carries the listener's */
    CHECK_OK(net_set_user(l, 77));
    CHECK_OK(net_close(l));
    TL_EXPECT(e, NET_EV_CLOSE, l, &ev);
    CHECK_EQ(ev.user, 77);

    /* timers: started with a user value, changed by net_set_user */
    net_handle t;
    CHECK_OK(net_timer_start(e, 10, 10, 555, &t));
    CHECK_OK(net_get_user(t, &u));
    CHECK_EQ(u, 555);
    TL_EXPECT(e, NET_EV_TIMER, t, &ev);
    CHECK_EQ(ev.user, 555);
    CHECK_OK(net_set_user(t, 556));
    /* a tick or two may have been queued before the change, none after */
    int seen = 0;
    for (int i = 0; i < 6; i++) {
        TL_EXPECT(e, NET_EV_TIMER, t, &ev);
        CHECKF(ev.user == 556 || (!seen && ev.user == 555 && i < 2), "tick %d user %llu", i,
               (unsigned long long)ev.user);
        seen |= ev.user == 556;
    }
    CHECK_OK(net_close(t));

    /* NULL out, stale handles */
    net_handle c2, s2;
    net_handle l2 = tl_listen(e, NULL, &port);
    tl_pair(e, e, l2, port, NULL, &c2, &s2);
    CHECK_RC(net_get_user(c2, NULL), NET_E_INVAL);
    CHECK_EQ(tl_close_wait(e, c2), 0);
    CHECK_RC(net_set_user(c2, 1), NET_E_BADHANDLE);
    CHECK_RC(net_get_user(c2, &u), NET_E_BADHANDLE);
    CHECK_RC(net_set_user(t, 1), NET_E_BADHANDLE);

    tl_engine_destroy(e);
    printf("ok\n");
    return 0;
}
