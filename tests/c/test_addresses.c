/* addresses: local and peer addresses agree on both ends and with the
 * ACCEPT/CONNECT events; net_addr_format's output (IPv6 scopes included);
 * binding a taken port, and the OS error net_last_os_error keeps beside it. */
#include "testlib.h"

static void check_v4(const net_addr *a, const char *what)
{
    CHECKF(a->family == NET_AF_INET, "%s: family %u", what, (unsigned)a->family);
    CHECKF(a->scope_id == 0, "%s: scope_id %u", what, (unsigned)a->scope_id);
    for (int i = 4; i < 16; i++)
        CHECKF(a->ip[i] == 0, "%s: IPv4 address with non-zero ip[%d] = %u", what, i, (unsigned)a->ip[i]);
}

static void read_last_os_error(void *out)
{
    *(int *)out = net_last_os_error();
}

static int same_addr(const net_addr *x, const net_addr *y)
{
    return x->family == y->family && x->port == y->port && memcmp(x->ip, y->ip, 16) == 0;
}

static void fmt_is(const net_addr *a, const char *want)
{
    char buf[64];
    memset(buf, 'x', sizeof buf);
    int n = net_addr_format(a, buf, sizeof buf);
    CHECKF(n == (int)strlen(want) && strcmp(buf, want) == 0, "net_addr_format gave %d \"%.63s\", want \"%s\"", n,
           n > 0 ? buf : "", want);
}

int main(void)
{
    tl_init("addresses");
    net_engine e = tl_engine();
    uint16_t port;
    net_handle l = tl_listen(e, NULL, &port);

    net_addr la;
    memset(&la, 0xEE, sizeof la);
    CHECK_OK(net_local_addr(l, &la));
    check_v4(&la, "listener local");
    CHECK(la.ip[0] == 127 && la.ip[1] == 0 && la.ip[2] == 0 && la.ip[3] == 1);
    CHECK_EQ(la.port, port);

    net_handle c = tl_connect(e, port, NULL);
    net_event cev, aev;
    TL_EXPECT(e, NET_EV_CONNECT, c, &cev);
    CHECK_EQ(cev.status, 0);
    TL_EXPECT(e, NET_EV_ACCEPT, 0, &aev);
    CHECK_EQ(aev.parent, l);
    net_handle s = aev.handle;

    net_addr cl, cp, sl, sp;
    CHECK_OK(net_local_addr(c, &cl));
    CHECK_OK(net_peer_addr(c, &cp));
    CHECK_OK(net_local_addr(s, &sl));
    CHECK_OK(net_peer_addr(s, &sp));
    check_v4(&cl, "client local");
    check_v4(&cp, "client peer");
    check_v4(&sl, "server local");
    check_v4(&sp, "server peer");
    check_v4(&cev.addr, "CONNECT addr");
    check_v4(&aev.addr, "ACCEPT addr");
    CHECK(same_addr(&cl, &sp));
    CHECK(same_addr(&cp, &sl));
    CHECK(same_addr(&cp, &la));
    CHECK(same_addr(&cev.addr, &cp));
    CHECK(same_addr(&aev.addr, &sp));
    CHECK(cl.port != 0 && cl.port != port);

    /* formatting */
    char want[32];
    snprintf(want, sizeof want, "127.0.0.1:%u", (unsigned)port);
    fmt_is(&la, want);
    net_addr a;
    memset(&a, 0, sizeof a);
    a.family = NET_AF_INET;
    a.port = 65535;
    memset(a.ip, 255, 4);
    fmt_is(&a, "255.255.255.255:65535");
    a.port = 0;
    memset(a.ip, 0, 4);
    fmt_is(&a, "0.0.0.0:0");
    memset(&a, 0, sizeof a);
    a.family = NET_AF_INET6;
    a.port = 80;
    a.ip[15] = 1;
    fmt_is(&a, "[::1]:80");
    const uint8_t doc[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    memcpy(a.ip, doc, 16);
    a.port = 443;
    fmt_is(&a, "[2001:db8::1]:443");
    /* too small (exactly the text without its NUL), NULLs, unknown family */
    char small[32];
    int need = (int)strlen("[2001:db8::1]:443");
    CHECK_RC(net_addr_format(&a, small, (size_t)need + 1), need);
    CHECK_RC(net_addr_format(&a, small, (size_t)need), NET_E_INVAL);
    CHECK_RC(net_addr_format(&a, NULL, 64), NET_E_INVAL);
    CHECK_RC(net_addr_format(NULL, small, sizeof small), NET_E_INVAL);
    a.family = NET_AF_UNSPEC;
    CHECK_RC(net_addr_format(&a, small, sizeof small), NET_E_INVAL);
    a.family = 5;
    CHECK_RC(net_addr_format(&a, small, sizeof small), NET_E_INVAL);
    /* an IPv6 scope is part of the text, as a number; IPv4 has none */
    memset(&a, 0, sizeof a);
    a.family = NET_AF_INET6;
    a.port = 80;
    a.ip[0] = 0xfe;
    a.ip[1] = 0x80;
    a.ip[15] = 1;
    a.scope_id = 2;
    fmt_is(&a, "[fe80::1%2]:80");
    memset(a.ip, 0xff, 16);
    a.scope_id = 4294967295u;
    a.port = 65535;
    fmt_is(&a, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535");
    a.family = NET_AF_INET;
    fmt_is(&a, "255.255.255.255:65535");
    net_addr back;
    if (net_addr_parse("fe80::1%1", 80, &back) == 0) {
        CHECKF(back.scope_id == 1, "fe80::1%%1 parsed with scope %u", (unsigned)back.scope_id);
        fmt_is(&back, "[fe80::1%1]:80");
    } else {
        printf("note: the resolver here takes no numeric IPv6 scope\n");
    }

    /* NULL out-pointers */
    CHECK_RC(net_local_addr(c, NULL), NET_E_INVAL);
    CHECK_RC(net_peer_addr(c, NULL), NET_E_INVAL);

    /* the port is taken while l listens, whatever REUSEADDR says (on Windows
     * that takes SO_EXCLUSIVEADDRUSE rather than SO_REUSEADDR) */
    net_handle l2 = 0;
    net_tcp_config def;
    net_tcp_config_init(&def);
    int rc = net_listen(e, "127.0.0.1", port, &def, &l2);
    CHECKF(rc == NET_E_ADDRINUSE, "second listener on port %u: %d (%s)", (unsigned)port, rc, tl_errname(rc));
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_RAW, 0);
    tcp.flags &= ~(uint32_t)NET_TCP_REUSEADDR;
    rc = net_listen(e, "127.0.0.1", port, &tcp, &l2);
    CHECKF(rc == NET_E_ADDRINUSE, "second listener without REUSEADDR: %d (%s)", rc, tl_errname(rc));
    /* the OS error stands beside the code, on this thread only, until the next such call */
    int taken_os_error = net_last_os_error();
    CHECKF(taken_os_error != 0, "net_last_os_error after NET_E_ADDRINUSE: %d", taken_os_error);
    int other_thread_saw = -1;
    tl_thread_join(tl_thread_start(read_last_os_error, &other_thread_saw));
    CHECKF(other_thread_saw == 0, "another thread's net_last_os_error: %d", other_thread_saw);
    net_handle u1 = 0, u2 = 0;
    CHECK_OK(net_udp_open(e, "127.0.0.1", 0, NULL, &u1));
    CHECK_EQ(net_last_os_error(), 0);
    net_addr ua;
    CHECK_OK(net_local_addr(u1, &ua));
    rc = net_udp_open(e, "127.0.0.1", ua.port, NULL, &u2);
    CHECKF(rc == NET_E_ADDRINUSE && net_last_os_error() == taken_os_error, "second UDP socket on a port: %d (%s), os %d",
           rc, tl_errname(rc), net_last_os_error());
    CHECK_EQ(net_listen(e, "127.0.0.1", port, &tcp, NULL), NET_E_INVAL);
    CHECK_EQ(net_last_os_error(), 0);
    CHECK_OK(net_close(u1));
    net_event uev;
    TL_EXPECT(e, NET_EV_CLOSE, u1, &uev);

    /* NULL and "" listen on any IPv4 address; loopback reaches them */
    const char *anys[2] = {NULL, ""};
    for (int i = 0; i < 2; i++) {
        net_handle al = 0;
        CHECK_OK(net_listen(e, anys[i], 0, &def, &al));
        net_addr aa;
        CHECK_OK(net_local_addr(al, &aa));
        check_v4(&aa, "any listener");
        CHECK(aa.ip[0] == 0 && aa.ip[1] == 0 && aa.ip[2] == 0 && aa.ip[3] == 0 && aa.port != 0);
        net_handle ac, as;
        tl_pair(e, e, al, aa.port, NULL, &ac, &as);
        CHECK_EQ(tl_close_wait(e, al), 0);
        CHECK_EQ(tl_close_wait(e, ac), 0);
        TL_EXPECT(e, NET_EV_CLOSE, as, &aev);
    }

    /* bad arguments */
    net_handle x = 0;
    CHECK_RC(net_connect(e, "127.0.0.1", port, &def, NULL), NET_E_INVAL);
    CHECK_RC(net_listen(e, "127.0.0.1", 0, &def, NULL), NET_E_INVAL);
    rc = net_connect(e, NULL, port, &def, &x);
    CHECKF(rc == NET_E_INVAL || rc == NET_E_ADDR, "net_connect(NULL host): %d (%s)", rc, tl_errname(rc));

    tl_engine_destroy(e);
    printf("ok\n");
    return 0;
}
