/* options: every NET_OPT_* reads back what was set, defaults come from the
 * configs, bad options and values are refused. */
#include "testlib.h"

static int64_t get(net_handle h, int opt)
{
    int64_t v = -12345;
    int rc = net_get_option(h, opt, &v);
    CHECKF(rc == NET_OK, "net_get_option(%d) returned %d (%s)", opt, rc, tl_errname(rc));
    return v;
}

static void set_get(net_handle h, int opt, int64_t v)
{
    int rc = net_set_option(h, opt, v);
    CHECKF(rc == NET_OK, "net_set_option(%d, %lld) returned %d (%s)", opt, (long long)v, rc, tl_errname(rc));
    int64_t got = get(h, opt);
    CHECKF(got == v, "option %d: set %lld, got %lld", opt, (long long)v, (long long)got);
}

int main(void)
{
    tl_init("options");
    net_config cfg;
    tl_config(&cfg);
    cfg.send_cap = 3u << 20;
    cfg.send_highwater = 300000;
    cfg.send_lowwater = 30000;
    cfg.idle_timeout_ms = 0;
    net_engine e = tl_engine_with(&cfg);
    uint16_t port;
    net_handle l = tl_listen(e, NULL, &port);
    net_handle c, s;
    tl_pair(e, e, l, port, NULL, &c, &s);

    /* defaults: TCP flags of net_tcp_config_init, limits of the engine config */
    CHECK_EQ(get(c, NET_OPT_NODELAY), 1);
    CHECK_EQ(get(s, NET_OPT_NODELAY), 1); /* inherited from the listener's config */
    CHECK_EQ(get(c, NET_OPT_KEEPALIVE), 0);
    CHECK_EQ(get(c, NET_OPT_LINGER), -1);
    CHECK_EQ(get(l, NET_OPT_REUSEADDR), 1);
    CHECK_EQ(get(c, NET_OPT_SEND_CAP), 3u << 20);
    CHECK_EQ(get(s, NET_OPT_SEND_CAP), 3u << 20);
    CHECK_EQ(get(c, NET_OPT_HIGHWATER), 300000);
    CHECK_EQ(get(c, NET_OPT_LOWWATER), 30000);
    CHECK_EQ(get(c, NET_OPT_IDLE_TIMEOUT), 0);
    CHECK(get(c, NET_OPT_SNDBUF) > 0);
    CHECK(get(c, NET_OPT_RCVBUF) > 0);

    /* set and read back */
    set_get(c, NET_OPT_NODELAY, 0);
    set_get(c, NET_OPT_NODELAY, 1);
    set_get(c, NET_OPT_KEEPALIVE, 1);
    set_get(c, NET_OPT_KEEPALIVE, 0);
    set_get(s, NET_OPT_LINGER, 5);
    set_get(s, NET_OPT_LINGER, 0);
    set_get(s, NET_OPT_LINGER, -1);
    set_get(c, NET_OPT_SEND_CAP, 123456);
    set_get(c, NET_OPT_HIGHWATER, 100000);
    set_get(c, NET_OPT_LOWWATER, 1000);
    set_get(c, NET_OPT_IDLE_TIMEOUT, 60000);
    set_get(c, NET_OPT_IDLE_TIMEOUT, 0);
    set_get(l, NET_OPT_REUSEADDR, 0);
    set_get(l, NET_OPT_REUSEADDR, 1);
    /* the OS may round buffer sizes (Linux doubles them): at least what was asked */
    CHECK_OK(net_set_option(c, NET_OPT_SNDBUF, 65536));
    CHECKF(get(c, NET_OPT_SNDBUF) >= 65536, "SNDBUF %lld", (long long)get(c, NET_OPT_SNDBUF));
    CHECK_OK(net_set_option(c, NET_OPT_RCVBUF, 131072));
    CHECKF(get(c, NET_OPT_RCVBUF) >= 131072, "RCVBUF %lld", (long long)get(c, NET_OPT_RCVBUF));

    /* keepalive through the flag */
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_RAW, NET_TCP_KEEPALIVE);
    tcp.flags &= ~(uint32_t)NET_TCP_NODELAY;
    net_handle c2, s2;
    tl_pair(e, e, l, port, &tcp, &c2, &s2);
    CHECK_EQ(get(c2, NET_OPT_KEEPALIVE), 1);
    CHECK_EQ(get(c2, NET_OPT_NODELAY), 0);

    /* refused: unknown options, nonsense values, NULL out */
    int64_t v;
    CHECK_RC(net_set_option(c, 0, 1), NET_E_INVAL);
    CHECK_RC(net_set_option(c, 999, 1), NET_E_INVAL);
    CHECK_RC(net_get_option(c, 999, &v), NET_E_INVAL);
    CHECK_RC(net_get_option(c, NET_OPT_NODELAY, NULL), NET_E_INVAL);
    CHECK_RC(net_set_option(c, NET_OPT_SEND_CAP, -1), NET_E_INVAL);
    CHECK_RC(net_set_option(c, NET_OPT_IDLE_TIMEOUT, -5), NET_E_INVAL);
    CHECK_RC(net_set_option(c, NET_OPT_SNDBUF, -1), NET_E_INVAL);
    /* the options still hold their last good values */
    CHECK_EQ(get(c, NET_OPT_SEND_CAP), 123456);
    CHECK_EQ(get(c, NET_OPT_IDLE_TIMEOUT), 0);

    /* the connection still works after all that */
    CHECK_OK(net_send(c, "hi", 2));
    net_event ev;
    TL_EXPECT(e, NET_EV_DATA, s, &ev);
    CHECK(ev.len == 2 && memcmp(ev.data, "hi", 2) == 0);

    tl_engine_destroy(e);
    printf("ok\n");
    return 0;
}
