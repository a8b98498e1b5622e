/* udp_oversize: a socket with max_datagram 1200 drops arrivals of 1201 and
 * 5000 bytes - no DATAGRAM event, never a truncated one - and counts them
 * in stats.datagrams_dropped and NET_OPT_DROPPED, while a 1200-byte one
 * arrives intact. Sending more than max_datagram fails with NET_E_MSGSIZE
 * and queues nothing. On an open socket the limit can be lowered and raised
 * again up to the value it was opened with, not beyond. */
#include "testlib.h"

typedef struct got {
    net_handle server;
    int n;
    uint32_t lens[16];
} got;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    got *g = (got *)p;
    (void)e;
    CHECKF(ev->type == NET_EV_DATAGRAM && ev->handle == g->server, "unexpected %s on handle %llu, status %d (%s)",
           tl_evname(ev->type), (unsigned long long)ev->handle, (int)ev->status, tl_errname(ev->status));
    CHECK(g->n < 16);
    g->lens[g->n++] = ev->len;
    /* the pattern seed is the length: a truncated copy of a bigger datagram
     * would show here even at the right length */
    long long bad = tl_mismatch(ev->data, ev->len, ev->len, 0);
    CHECKF(bad < 0, "datagram of %u bytes: wrong byte at %lld", (unsigned)ev->len, bad);
}

static int64_t dropped_opt(net_handle u)
{
    int64_t v = -1;
    CHECK_OK(net_get_option(u, NET_OPT_DROPPED, &v));
    return v;
}

static void send_len(net_handle from, const net_addr *to, uint8_t *buf, uint32_t len)
{
    tl_fill(buf, len, len, 0);
    CHECK_OK(net_sendto(from, to, buf, len));
}

/* Sends the sizes in order, then a 1-byte marker; returns when the server
 * got the marker and `want_dropped` drops are counted. */
static void round_trip(net_engine se, got *g, net_handle client, const net_addr *server_addr, const uint32_t *lens,
                       int count, uint64_t want_dropped, int64_t want_opt)
{
    static uint8_t buf[8000];
    g->n = 0;
    for (int i = 0; i < count; i++)
        send_len(client, server_addr, buf, lens[i]);
    send_len(client, server_addr, buf, 1);
    /* the marker left last over one loopback path: once it is here, so is
     * everything before it; the counters may trail the event by a moment
     * with an I/O thread, so they are waited for too */
    uint64_t end = tl_now_ms() + TL_TIMEOUT_MS;
    int have_marker = 0;
    while (tl_now_ms() < end) {
        tl_run(on_event, g, NULL, 5);
        for (int i = 0; i < g->n; i++)
            have_marker |= g->lens[i] == 1;
        if (have_marker && tl_stats(se).datagrams_dropped == want_dropped && dropped_opt(g->server) == want_opt)
            break;
    }
    CHECKF(have_marker, "the 1-byte marker never arrived (%d datagrams did)", g->n);
    CHECKF(tl_stats(se).datagrams_dropped == want_dropped, "stats.datagrams_dropped %llu, want %llu",
           (unsigned long long)tl_stats(se).datagrams_dropped, (unsigned long long)want_dropped);
    CHECKF(dropped_opt(g->server) == want_opt, "NET_OPT_DROPPED %lld, want %lld", (long long)dropped_opt(g->server),
           (long long)want_opt);
    tl_run(on_event, g, NULL, 30); /* and nothing more comes */
}

int main(void)
{
    tl_init("udp_oversize");
    net_engine se = tl_engine(), ce = tl_engine();
    net_udp_config cfg;
    net_udp_config_init(&cfg);
    CHECK_EQ(cfg.max_datagram, NET_UDP_MAX_PAYLOAD);
    cfg.max_datagram = 1200;
    got g;
    memset(&g, 0, sizeof g);
    net_addr sa, ca;
    g.server = tl_udp(se, NULL, &cfg, &sa);
    net_handle client = tl_udp(ce, NULL, NULL, &ca);
    int64_t v = 0;
    CHECK_OK(net_get_option(g.server, NET_OPT_MAX_DATAGRAM, &v));
    CHECK_EQ(v, 1200);
    CHECK_EQ(dropped_opt(g.server), 0);

    /* 1201 and 5000 dropped, 1200 intact, each counted once */
    const uint32_t first[] = {1201, 5000, 1200};
    round_trip(se, &g, client, &sa, first, 3, 2, 2);
    CHECKF(g.n == 2 && g.lens[0] == 1200 && g.lens[1] == 1, "got %d datagrams, first of %u bytes", g.n,
           (unsigned)g.lens[0]);

    /* sending past max_datagram: refused at the call, nothing goes out */
    static uint8_t buf[NET_UDP_MAX_PAYLOAD + 1];
    tl_fill(buf, 1201, 1201, 0);
    CHECK_RC(net_sendto(g.server, &ca, buf, 1201), NET_E_MSGSIZE);
    CHECK_RC(net_sendto(g.server, &ca, buf, 65000), NET_E_MSGSIZE);
    /* on any socket: nothing beyond the largest IPv4 payload */
    CHECK_RC(net_sendto(client, &sa, buf, NET_UDP_MAX_PAYLOAD + 1), NET_E_MSGSIZE);
    CHECK_RC(net_sendto(client, &sa, buf, UINT32_MAX), NET_E_MSGSIZE);
    tl_fill(buf, 1200, 1200, 0);
    CHECK_OK(net_sendto(g.server, &ca, buf, 1200));
    net_event ev;
    TL_EXPECT(ce, NET_EV_DATAGRAM, client, &ev);
    CHECK_EQ(ev.len, 1200);
    CHECK(tl_mismatch(ev.data, ev.len, 1200, 0) < 0);
    CHECKF(tl_addr_eq(&ev.addr, &sa), "from %s, want %s", tl_addr_str(&ev.addr), tl_addr_str(&sa));
    tl_pump(30);
    CHECKF(tl_pending(ce, NET_EV_DATAGRAM, client) == 0, "a refused oversized send went out anyway");
    /* the sender dropped nothing: its limit is the default */
    CHECK_EQ(tl_stats(ce).datagrams_dropped, 0);

    /* lowered on the open socket: 101 dropped, 100 arrives */
    CHECK_OK(net_set_option(g.server, NET_OPT_MAX_DATAGRAM, 100));
    CHECK_OK(net_get_option(g.server, NET_OPT_MAX_DATAGRAM, &v));
    CHECK_EQ(v, 100);
    const uint32_t second[] = {101, 100};
    round_trip(se, &g, client, &sa, second, 2, 3, 3);
    CHECKF(g.n == 2 && g.lens[0] == 100 && g.lens[1] == 1, "got %d datagrams, first of %u bytes", g.n,
           (unsigned)g.lens[0]);
    CHECK_RC(net_sendto(g.server, &ca, buf, 101), NET_E_MSGSIZE);

    /* raised again: 1200 arrives whole, 1201 still dropped */
    CHECK_OK(net_set_option(g.server, NET_OPT_MAX_DATAGRAM, 1200));
    const uint32_t third[] = {1200, 1201};
    round_trip(se, &g, client, &sa, third, 2, 4, 4);
    CHECKF(g.n == 2 && g.lens[0] == 1200 && g.lens[1] == 1, "got %d datagrams, first of %u bytes", g.n,
           (unsigned)g.lens[0]);

    /* out of range, read-only */
    CHECK_RC(net_set_option(g.server, NET_OPT_MAX_DATAGRAM, 0), NET_E_INVAL);
    CHECK_RC(net_set_option(g.server, NET_OPT_MAX_DATAGRAM, NET_UDP_MAX_PAYLOAD + 1), NET_E_INVAL);
    CHECK_RC(net_set_option(g.server, NET_OPT_MAX_DATAGRAM, -1), NET_E_INVAL);
    CHECK_RC(net_set_option(g.server, NET_OPT_DROPPED, 0), NET_E_INVAL);
    CHECK_EQ(dropped_opt(g.server), 4);
    CHECK_OK(net_get_option(g.server, NET_OPT_MAX_DATAGRAM, &v));
    CHECK_EQ(v, 1200);
    cfg.max_datagram = NET_UDP_MAX_PAYLOAD + 1;
    net_handle bad = 0;
    CHECK_RC(net_udp_open(se, "127.0.0.1", 0, &cfg, &bad), NET_E_INVAL);
    CHECK_EQ(bad, 0);

    /* never above the value of net_udp_open (the receive buffers were sized
     * for it): refused, the limit unchanged */
    CHECK_RC(net_set_option(g.server, NET_OPT_MAX_DATAGRAM, 1201), NET_E_INVAL);
    CHECK_RC(net_set_option(g.server, NET_OPT_MAX_DATAGRAM, NET_UDP_MAX_PAYLOAD), NET_E_INVAL);
    CHECK_OK(net_get_option(g.server, NET_OPT_MAX_DATAGRAM, &v));
    CHECK_EQ(v, 1200);
    CHECK_EQ(dropped_opt(g.server), 4);

    CHECK_EQ(tl_close_wait(ce, client), 0);
    CHECK_EQ(tl_close_wait(se, g.server), 0);
    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
