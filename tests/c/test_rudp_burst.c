/* rudp_burst: a reliable-UDP session survives a total outage. Through the
 * impairment proxy of tests/impair (no random loss), the client sends the
 * first messages on a reliable-ordered and a reliable-unordered channel;
 * when 40 ordered echoes are back, the proxy drops everything both ways for
 * 200 ms and the client sends the rest at once, so their first copies are
 * all lost. The session must neither fail nor lose anything: every message
 * echoed exactly once afterwards, in order on the ordered channel, byte for
 * byte, through retransmission (counted in the stats, as the proxy counts
 * the burst's drops); then both ends close gracefully, status 0. */
#include "impair.h"
#include "rudp_testlib.h"

#define CHANNELS 2
#define PER_CHANNEL 120
#define BURST_AFTER 40 /* messages per channel sent before the burst, and the ordered echoes it waits for */
#define BURST_MS 200

static uint32_t msg_len(int ch, int i)
{
    (void)ch;
    return i % 10 == 3 ? 3000 : 16 + (uint32_t)(i * 37 % 1000); /* every tenth: three datagrams */
}

static const rt_plan plan = {CHANNELS, PER_CHANNEL, {NET_RUDP_RELIABLE_ORDERED, NET_RUDP_RELIABLE_UNORDERED}, msg_len};

typedef struct test {
    rt_echo_test echo; /* first: the ctx of rt_connected and rt_all_echoed too */
    impair_proxy *proxy;
    int burst_done;
} test;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    test *t = p;
    rt_echo_event(&t->echo, e, ev);
    if (!t->burst_done && t->echo.at_client[0].got[0] >= BURST_AFTER) {
        impair_burst(t->proxy, BURST_MS); /* everything lost both ways for a while */
        t->burst_done = 1;
        rt_send(&plan, t->echo.s.client[0], BURST_AFTER, PER_CHANNEL); /* first copies all lost */
    }
}

int main(void)
{
    tl_init("rudp_burst");
    test t;
    memset(&t, 0, sizeof t);
    rt_echo_init(&t.echo, &plan);
    net_rudp_config cfg;
    net_rudp_config_init(&cfg);
    cfg.channels = CHANNELS;
    net_addr at = rt_sessions_listen(&t.echo.s, tl_engine(), 1, &cfg);

    impair_config ic;
    impair_config_init(&ic);
    CHECKF(impair_start(&ic, "127.0.0.1", at.port, &t.proxy) == 0, "impair_start: %s", impair_last_error());
    CHECK_OK(net_rudp_connect(t.echo.s.e, "127.0.0.1", impair_port(t.proxy), &cfg, &t.echo.s.client[0]));
    TL_RUN(on_event, &t, rt_connected);
    rt_send(&plan, t.echo.s.client[0], 0, BURST_AFTER);
    if (!tl_run(on_event, &t, rt_all_echoed, TL_TIMEOUT_MS))
        tl_fail(__FILE__, __LINE__, "echoes", "client has %d ordered, %d unordered of %d (server %d/%d)",
                t.echo.at_client[0].got[0], t.echo.at_client[0].got[1], PER_CHANNEL, t.echo.at_server[0].got[0],
                t.echo.at_server[0].got[1]);
    CHECK_EQ(t.echo.at_server[0].got[0], PER_CHANNEL);
    CHECK_EQ(t.echo.at_server[0].got[1], PER_CHANNEL);
    CHECK(t.burst_done);

    impair_counters c;
    impair_stats(t.proxy, &c);
    CHECKF(c.burst_dropped > 0 && c.dropped == c.burst_dropped, "burst dropped %llu of %llu dropped",
           (unsigned long long)c.burst_dropped, (unsigned long long)c.dropped);
    uint64_t retransmits = rt_stats(t.echo.s.client[0]).retransmits;
    CHECKF(retransmits > 0, "the client retransmitted nothing after its sends were lost");
    printf("  proxy: received %llu, dropped %llu in the burst; client retransmits %llu\n",
           (unsigned long long)c.received, (unsigned long long)c.burst_dropped, (unsigned long long)retransmits);

    /* The client closes; the server's session ends with it, gracefully too. */
    rt_close_all(&t.echo.s);
    impair_stop(t.proxy);
    tl_engine_destroy(t.echo.s.e);
    printf("ok\n");
    return 0;
}
