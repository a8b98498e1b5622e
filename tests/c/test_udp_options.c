/* udp_options: the options of a UDP socket read back what the config or
 * net_set_option set (SNDBUF, RCVBUF, BROADCAST, REUSEADDR, SEND_CAP,
 * MAX_DATAGRAM, DROPPED read-only), TCP-only options are refused with
 * NET_E_INVAL, user data travels in events, and the engine stats count UDP
 * sockets up and down and datagrams in and out. */
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

/* Waits (pumping) until the stats of e satisfy pred; fails with what they are. */
typedef int (*stats_pred)(const net_stats *st, uint64_t want);
static int out_is(const net_stats *st, uint64_t want)
{
    return st->datagrams_out == want;
}
static void wait_stats(net_engine e, stats_pred pred, uint64_t want, const char *what)
{
    uint64_t end = tl_now_ms() + TL_TIMEOUT_MS;
    net_stats st = tl_stats(e);
    while (!pred(&st, want) && tl_now_ms() < end) {
        tl_pump(2);
        st = tl_stats(e);
    }
    CHECKF(pred(&st, want), "%s: want %llu, stats: udp_sockets %llu in %llu out %llu dropped %llu", what,
           (unsigned long long)want, (unsigned long long)st.udp_sockets, (unsigned long long)st.datagrams_in,
           (unsigned long long)st.datagrams_out, (unsigned long long)st.datagrams_dropped);
}

int main(void)
{
    tl_init("udp_options");
    net_engine e = tl_engine(), ce = tl_engine();
    CHECK_EQ(tl_stats(e).udp_sockets, 0);

    /* defaults */
    net_udp_config cfg;
    net_udp_config_init(&cfg);
    CHECK_EQ(cfg.size, sizeof cfg);
    CHECK_EQ(cfg.flags, 0);
    CHECK_EQ(cfg.max_datagram, NET_UDP_MAX_PAYLOAD);
    CHECK_EQ(cfg.send_cap, 1u << 20);
    CHECK_EQ(cfg.rcvbuf, 0);
    CHECK_EQ(cfg.sndbuf, 0);
    CHECK_EQ(cfg.user, 0);
    net_addr da;
    net_handle d = tl_udp(e, NULL, &cfg, &da);
    CHECK_EQ(get(d, NET_OPT_BROADCAST), 0);
    CHECK_EQ(get(d, NET_OPT_REUSEADDR), 0);
    CHECK_EQ(get(d, NET_OPT_SEND_CAP), 1u << 20);
    CHECK_EQ(get(d, NET_OPT_MAX_DATAGRAM), NET_UDP_MAX_PAYLOAD);
    CHECK_EQ(get(d, NET_OPT_DROPPED), 0);
    CHECK(get(d, NET_OPT_SNDBUF) > 0);
    CHECK(get(d, NET_OPT_RCVBUF) > 0);
    uint64_t user = 99;
    CHECK_OK(net_get_user(d, &user));
    CHECK_EQ(user, 0);

    /* from the config: flags, buffer sizes (the OS may round them up: Linux
     * doubles), limits, user data */
    cfg.flags = NET_UDP_BROADCAST | NET_UDP_REUSEADDR;
    cfg.rcvbuf = 96 * 1024;
    cfg.sndbuf = 80 * 1024;
    cfg.send_cap = 50000;
    cfg.max_datagram = 9000;
    cfg.user = 0xABCDEF0123456789ull;
    net_addr ua;
    net_handle u = tl_udp(e, NULL, &cfg, &ua);
    CHECK_EQ(tl_stats(e).udp_sockets, 2);
    CHECK_EQ(get(u, NET_OPT_BROADCAST), 1);
    CHECK_EQ(get(u, NET_OPT_REUSEADDR), 1);
    CHECKF(get(u, NET_OPT_RCVBUF) >= 96 * 1024, "RCVBUF %lld", (long long)get(u, NET_OPT_RCVBUF));
    CHECKF(get(u, NET_OPT_SNDBUF) >= 80 * 1024, "SNDBUF %lld", (long long)get(u, NET_OPT_SNDBUF));
    CHECK_EQ(get(u, NET_OPT_SEND_CAP), 50000);
    CHECK_EQ(get(u, NET_OPT_MAX_DATAGRAM), 9000);
    CHECK_OK(net_get_user(u, &user));
    CHECK_EQ(user, 0xABCDEF0123456789ull);

    /* set and read back */
    set_get(u, NET_OPT_BROADCAST, 0);
    set_get(u, NET_OPT_BROADCAST, 1);
    set_get(d, NET_OPT_BROADCAST, 1);
    set_get(d, NET_OPT_BROADCAST, 0);
    set_get(d, NET_OPT_SEND_CAP, 123456);
    set_get(d, NET_OPT_MAX_DATAGRAM, 1);
    set_get(d, NET_OPT_MAX_DATAGRAM, NET_UDP_MAX_PAYLOAD);
    CHECK_OK(net_set_option(d, NET_OPT_SNDBUF, 65536));
    CHECKF(get(d, NET_OPT_SNDBUF) >= 65536, "SNDBUF %lld", (long long)get(d, NET_OPT_SNDBUF));
    CHECK_OK(net_set_option(d, NET_OPT_RCVBUF, 131072));
    CHECKF(get(d, NET_OPT_RCVBUF) >= 131072, "RCVBUF %lld", (long long)get(d, NET_OPT_RCVBUF));
    CHECK_OK(net_set_user(d, 42));
    CHECK_OK(net_get_user(d, &user));
    CHECK_EQ(user, 42);

    /* TCP-only options and bad values are refused, and change nothing */
    const int tcp_only[] = {NET_OPT_NODELAY,   NET_OPT_KEEPALIVE, NET_OPT_LINGER,
                            NET_OPT_HIGHWATER, NET_OPT_LOWWATER,  NET_OPT_IDLE_TIMEOUT};
    for (size_t i = 0; i < sizeof tcp_only / sizeof tcp_only[0]; i++) {
        int64_t v = 7;
        int rc = net_set_option(u, tcp_only[i], 1);
        CHECKF(rc == NET_E_INVAL, "net_set_option(UDP, TCP option %d): %d (%s)", tcp_only[i], rc, tl_errname(rc));
        rc = net_get_option(u, tcp_only[i], &v);
        CHECKF(rc == NET_E_INVAL, "net_get_option(UDP, TCP option %d): %d (%s)", tcp_only[i], rc, tl_errname(rc));
    }
    CHECK_RC(net_set_option(u, NET_OPT_DROPPED, 0), NET_E_INVAL);
    CHECK_RC(net_set_option(u, 0, 1), NET_E_INVAL);
    CHECK_RC(net_set_option(u, 1000, 1), NET_E_INVAL);
    CHECK_RC(net_set_option(u, NET_OPT_MAX_DATAGRAM, 0), NET_E_INVAL);
    CHECK_RC(net_set_option(u, NET_OPT_MAX_DATAGRAM, 65508), NET_E_INVAL);
    CHECK_RC(net_get_option(u, NET_OPT_BROADCAST, NULL), NET_E_INVAL);
    CHECK_EQ(get(u, NET_OPT_MAX_DATAGRAM), 9000);
    CHECK_EQ(get(u, NET_OPT_BROADCAST), 1);

    /* ... and UDP-only options on TCP handles */
    uint16_t port;
    net_handle l = tl_listen(e, NULL, &port);
    net_handle tc, ts;
    tl_pair(e, e, l, port, NULL, &tc, &ts);
    const int udp_only[] = {NET_OPT_BROADCAST, NET_OPT_MAX_DATAGRAM, NET_OPT_DROPPED};
    for (size_t i = 0; i < sizeof udp_only / sizeof udp_only[0]; i++) {
        int64_t v;
        int rc = net_get_option(tc, udp_only[i], &v);
        CHECKF(rc == NET_E_INVAL, "net_get_option(TCP, UDP option %d): %d (%s)", udp_only[i], rc, tl_errname(rc));
        rc = net_set_option(tc, udp_only[i], 1);
        CHECKF(rc == NET_E_INVAL, "net_set_option(TCP, UDP option %d): %d (%s)", udp_only[i], rc, tl_errname(rc));
    }
    CHECK_EQ(tl_close_wait(e, tc), 0);
    net_event ev;
    TL_EXPECT(e, NET_EV_CLOSE, ts, &ev);
    CHECK_EQ(tl_close_wait(e, l), 0);
    CHECKF(tl_stats(e).connections == 0, "UDP sockets counted as connections: %llu",
           (unsigned long long)tl_stats(e).connections);

    /* user data in events; datagram counters on both sides */
    net_udp_config ccfg;
    net_udp_config_init(&ccfg);
    ccfg.user = 7;
    net_handle c = tl_udp(ce, NULL, &ccfg, NULL);
    net_stats s0 = tl_stats(e), c0 = tl_stats(ce);
    CHECK_EQ(c0.udp_sockets, 1);
    for (int i = 0; i < 5; i++)
        CHECK_OK(net_sendto(c, &da, "12345678", 8));
    for (int i = 0; i < 5; i++) {
        TL_EXPECT(e, NET_EV_DATAGRAM, d, &ev);
        CHECK_EQ(ev.user, 42);
        CHECK_EQ(ev.len, 8);
    }
    wait_stats(ce, out_is, c0.datagrams_out + 5, "client datagrams_out");
    net_stats s1 = tl_stats(e), c1 = tl_stats(ce);
    CHECK_EQ(s1.datagrams_in - s0.datagrams_in, 5);
    CHECK_EQ(c1.datagrams_in, c0.datagrams_in);
    CHECK_EQ(s1.datagrams_out, s0.datagrams_out);
    CHECK_EQ(s1.datagrams_dropped + c1.datagrams_dropped, 0);
    CHECK_EQ(c1.datagram_send_errors, 0);
    net_addr ca = ev.addr;
    CHECK_OK(net_sendto(d, &ca, "back", 4));
    TL_EXPECT(ce, NET_EV_DATAGRAM, c, &ev);
    CHECK_EQ(ev.user, 7);
    CHECK_OK(net_set_user(c, 8));
    CHECK_OK(net_sendto(d, &ca, "back", 4));
    TL_EXPECT(ce, NET_EV_DATAGRAM, c, &ev);
    CHECK_EQ(ev.user, 8);
    wait_stats(e, out_is, s1.datagrams_out + 2, "server datagrams_out");
    CHECK_EQ(tl_stats(ce).datagrams_in - c1.datagrams_in, 2);

    /* sockets counted down as their CLOSE comes */
    CHECK_OK(net_close(u));
    TL_EXPECT(e, NET_EV_CLOSE, u, &ev);
    CHECK_EQ(ev.user, 0xABCDEF0123456789ull);
    CHECK_EQ(tl_stats(e).udp_sockets, 1);
    CHECK_OK(net_abort(d));
    TL_EXPECT(e, NET_EV_CLOSE, d, &ev);
    CHECK_EQ(ev.user, 42);
    CHECK_EQ(tl_stats(e).udp_sockets, 0);
    CHECK_EQ(tl_close_wait(ce, c), 0);
    CHECK_EQ(tl_stats(ce).udp_sockets, 0);

    tl_engine_destroy(ce);
    tl_engine_destroy(e);
    printf("ok\n");
    return 0;
}
