/* max_connections: with max_connections = N, connection N+1 is closed at
 * once (no ACCEPT, stats.accepts_rejected counts it) while the first N keep
 * working; a freed place can be taken again. */
#include "testlib.h"

#define N 4

static void echo_check(net_engine ce, net_handle c, net_engine se, net_handle s)
{
    net_event ev;
    CHECK_OK(net_send(c, "ping", 4));
    TL_EXPECT(se, NET_EV_DATA, s, &ev);
    CHECK(ev.len == 4 && memcmp(ev.data, "ping", 4) == 0);
    CHECK_OK(net_send(s, "pong", 4));
    TL_EXPECT(ce, NET_EV_DATA, c, &ev);
    CHECK(ev.len == 4 && memcmp(ev.data, "pong", 4) == 0);
}

/* Connects one more and checks it is turned away. */
static void rejected(net_engine ce, net_engine se, uint16_t port, net_tcp_config *tcp)
{
    net_handle c = tl_connect(ce, port, tcp);
    net_event ev;
    TL_EXPECT(ce, NET_EV_NONE, c, &ev);
    if (ev.type == NET_EV_CONNECT) /* the kernel completed the handshake: then closed */
        TL_EXPECT(ce, NET_EV_NONE, c, &ev);
    CHECKF(ev.type == NET_EV_CLOSE, "connection over the limit got %s", tl_evname(ev.type));
    printf("  over the limit: CLOSE status %d (%s)\n", (int)ev.status, tl_errname(ev.status));
    tl_pump(50);
    CHECKF(tl_pending(se, NET_EV_ACCEPT, 0) == 0, "an ACCEPT for a connection over the limit");
}

int main(void)
{
    tl_init("max_connections");
    net_config scfg;
    tl_config(&scfg);
    scfg.max_connections = N;
    net_engine se = tl_engine_with(&scfg), ce = tl_engine();
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U16LE, 0);
    uint16_t port;
    net_handle l = tl_listen(se, &tcp, &port);
    net_handle c[N + 1], s[N + 1];
    for (int i = 0; i < N; i++)
        tl_pair(ce, se, l, port, &tcp, &c[i], &s[i]);
    CHECK_EQ(tl_stats(se).connections, N);

    rejected(ce, se, port, &tcp);
    CHECK_EQ(tl_stats(se).accepts_rejected, 1);
    CHECK_EQ(tl_stats(se).connections, N);
    for (int i = 0; i < N; i++)
        echo_check(ce, c[i], se, s[i]);

    /* one leaves: its place can be taken, once */
    CHECK_EQ(tl_close_wait(ce, c[0]), 0);
    net_event ev;
    TL_EXPECT(se, NET_EV_CLOSE, s[0], &ev);
    CHECK_EQ(tl_stats(se).connections, N - 1);
    tl_pair(ce, se, l, port, &tcp, &c[0], &s[0]);
    echo_check(ce, c[0], se, s[0]);
    CHECK_EQ(tl_stats(se).connections, N);
    for (int i = 0; i < 3; i++)
        rejected(ce, se, port, &tcp);
    CHECK_EQ(tl_stats(se).accepts_rejected, 4);
    for (int i = 0; i < N; i++)
        echo_check(ce, c[i], se, s[i]);

    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
