/* ipv6: listen on ::1, connect, exchange, addresses in IPv6 form; a "::"
 * listener takes IPv4 too unless NET_TCP_IPV6ONLY. Skips (77) where the
 * host has no IPv6. */
#include "testlib.h"

static const uint8_t loop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

int main(void)
{
    tl_init("ipv6");
    net_engine e = tl_engine();
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U32LE, 0);
    net_handle l = 0;
    int rc = net_listen(e, "::1", 0, &tcp, &l);
    if (rc == NET_E_ADDR || rc == NET_E_OS || rc == NET_E_UNSUPPORTED || rc == NET_E_UNREACHABLE)
        tl_skip("no IPv6 loopback here: net_listen(\"::1\") returned %s", tl_errname(rc));
    CHECK_RC(rc, NET_OK);

    net_addr la;
    CHECK_OK(net_local_addr(l, &la));
    CHECK_EQ(la.family, NET_AF_INET6);
    CHECK(memcmp(la.ip, loop6, 16) == 0);
    CHECK(la.port != 0);
    char want[64], buf[64];
    snprintf(want, sizeof want, "[::1]:%u", (unsigned)la.port);
    CHECK_RC(net_addr_format(&la, buf, sizeof buf), (int)strlen(want));
    CHECKF(strcmp(buf, want) == 0, "\"%s\" != \"%s\"", buf, want);

    net_handle c = 0;
    CHECK_OK(net_connect(e, "::1", la.port, &tcp, &c));
    net_event ev;
    TL_EXPECT(e, NET_EV_CONNECT, c, &ev);
    CHECKF(ev.status == 0, "CONNECT to [::1] status %d (%s)", (int)ev.status, tl_errname(ev.status));
    CHECK_EQ(ev.addr.family, NET_AF_INET6);
    CHECK(memcmp(ev.addr.ip, loop6, 16) == 0 && ev.addr.port == la.port);
    net_handle s = tl_accept_of(e, l, c);
    net_addr sp, cl;
    CHECK_OK(net_peer_addr(s, &sp));
    CHECK_OK(net_local_addr(c, &cl));
    CHECK_EQ(sp.family, NET_AF_INET6);
    CHECK(sp.port == cl.port && memcmp(sp.ip, cl.ip, 16) == 0);

    static uint8_t msg[100000];
    tl_fill(msg, sizeof msg, 6, 0);
    CHECK_OK(net_send(c, msg, sizeof msg));
    TL_EXPECT(e, NET_EV_DATA, s, &ev);
    CHECK(ev.len == sizeof msg && memcmp(ev.data, msg, sizeof msg) == 0);
    CHECK_OK(net_send(s, "v6", 2));
    TL_EXPECT(e, NET_EV_DATA, c, &ev);
    CHECK(ev.len == 2 && memcmp(ev.data, "v6", 2) == 0);
    CHECK_EQ(tl_close_wait(e, c), 0);
    TL_EXPECT(e, NET_EV_CLOSE, s, &ev);

    /* "::" without IPV6ONLY: dual stack, IPv4 clients get in */
    net_handle any = 0;
    rc = net_listen(e, "::", 0, &tcp, &any);
    CHECK_RC(rc, NET_OK);
    net_addr aa;
    CHECK_OK(net_local_addr(any, &aa));
    CHECK_EQ(aa.family, NET_AF_INET6);
    net_handle c4 = tl_connect(e, aa.port, &tcp);
    TL_EXPECT(e, NET_EV_CONNECT, c4, &ev);
    CHECKF(ev.status == 0, "IPv4 client to a dual-stack \"::\" listener: %d (%s)", (int)ev.status,
           tl_errname(ev.status));
    TL_EXPECT(e, NET_EV_ACCEPT, 0, &ev);
    CHECK_EQ(ev.parent, any);
    net_handle s4 = ev.handle;
    CHECK(ev.addr.family == NET_AF_INET || ev.addr.family == NET_AF_INET6);
    CHECK_OK(net_send(c4, "v4", 2));
    TL_EXPECT(e, NET_EV_DATA, s4, &ev);
    CHECK_EQ(tl_close_wait(e, c4), 0);
    TL_EXPECT(e, NET_EV_CLOSE, s4, &ev);

    /* "::" with IPV6ONLY: IPv4 is refused, IPv6 gets in */
    net_tcp_config only6;
    tl_tcp(&only6, NET_FRAMING_U32LE, NET_TCP_IPV6ONLY);
    net_handle l6 = 0;
    CHECK_OK(net_listen(e, "::", 0, &only6, &l6));
    CHECK_OK(net_local_addr(l6, &aa));
    net_handle r4 = tl_connect(e, aa.port, &tcp);
    TL_EXPECT(e, NET_EV_CONNECT, r4, &ev);
    CHECKF(ev.status < 0, "IPv4 client got into an IPV6ONLY listener");
    TL_EXPECT(e, NET_EV_CLOSE, r4, &ev);
    net_handle c6 = 0;
    CHECK_OK(net_connect(e, "::1", aa.port, &tcp, &c6));
    TL_EXPECT(e, NET_EV_CONNECT, c6, &ev);
    CHECK_EQ(ev.status, 0);

    tl_engine_destroy(e);
    printf("ok\n");
    return 0;
}
