/* rudp_window_full: a session whose congestion window is full when its
 * keep-alive falls due keeps running. Through the impairment proxy of
 * tests/impair, the client connects, then every datagram towards it is
 * dropped (its packets get no acknowledgement) and it sends one message
 * bigger than its first congestion window: the window fills, and the
 * keep-alive (30 ms) falls due long before the retransmit timeout (300 ms).
 * No numbered packet may go then; the session must still send what it can
 * and reach its retransmit timeout (once, a session in that state spun in
 * its loop's timer pass for good, with the clock of that pass frozen: no
 * retransmit, no CLOSE, nothing more from that loop). Then the path heals
 * and the message arrives whole, and both ends close gracefully. */
#include "impair.h"
#include "rudp_testlib.h"

#define MESSAGE_LEN 40000 /* about 35 datagrams: more than the first window */
#define FIRST_WINDOW 10   /* datagrams of a session's first congestion window (docs/rudp-protocol.md) */

typedef struct test {
    rt_sessions s; /* first: rt_connected's ctx */
    int delivered;
} test;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    test *t = p;
    (void)e;
    if (!rt_event_is_data(&t->s, ev))
        return;
    CHECKF(ev->handle == t->s.server[0], "DATA for handle %llu", (unsigned long long)ev->handle);
    CHECKF(!t->delivered, "the message was delivered twice");
    CHECK_EQ(ev->len, MESSAGE_LEN);
    long long bad = tl_mismatch(ev->data, ev->len, 7, 0);
    CHECKF(bad < 0, "wrong byte at %lld", bad);
    t->delivered = 1;
}

static int delivered(void *p)
{
    return ((const test *)p)->delivered;
}

static int retransmitted(void *p)
{
    return rt_stats(((const test *)p)->s.client[0]).retransmits > 0;
}

/* A packet beyond the first window that is not a piece sent again: a
 * keep-alive (a pure ack while the window is full). */
static int kept_alive(void *p)
{
    net_rudp_stats st = rt_stats(((const test *)p)->s.client[0]);
    return st.packets_sent > FIRST_WINDOW + st.retransmits;
}

int main(void)
{
    tl_init("rudp_window_full");
    test t;
    memset(&t, 0, sizeof t);
    net_rudp_config cfg;
    net_rudp_config_init(&cfg);
    net_addr at = rt_sessions_listen(&t.s, tl_engine(), 1, &cfg);

    impair_config ic;
    impair_config_init(&ic);
    impair_proxy *proxy;
    CHECKF(impair_start(&ic, "127.0.0.1", at.port, &proxy) == 0, "impair_start: %s", impair_last_error());
    /* The client's keep-alive falls due ten times within one retransmit timeout. */
    net_rudp_config ccfg = cfg;
    ccfg.keepalive_ms = 30;
    ccfg.rto_max_ms = 300;
    CHECK_OK(net_rudp_connect(t.s.e, "127.0.0.1", impair_port(proxy), &ccfg, &t.s.client[0]));
    TL_RUN(on_event, &t, rt_connected);

    /* No acknowledgement reaches the client from here on. */
    ic.directions = IMPAIR_TO_CLIENT;
    ic.drop = 1.0;
    CHECK(impair_set_rates(proxy, &ic) == 0);
    uint8_t *msg = tl_xmalloc(MESSAGE_LEN);
    tl_fill(msg, MESSAGE_LEN, 7, 0);
    CHECK_OK(net_rudp_send(t.s.client[0], 0, NET_RUDP_RELIABLE_ORDERED, msg, MESSAGE_LEN));
    free(msg);
    if (!tl_run(on_event, &t, retransmitted, 3000)) {
        net_rudp_stats st = rt_stats(t.s.client[0]);
        tl_fail(__FILE__, __LINE__, "retransmitted",
                "no retransmit within 3 s of a full window: client sent %llu packets, %llu bytes in flight, "
                "cwnd %llu",
                (unsigned long long)st.packets_sent, (unsigned long long)st.bytes_in_flight,
                (unsigned long long)st.cwnd);
    }
    /* With the window full only keep-alives (pure acks) and pieces sent
     * again may go; the first retransmit (a tail-loss probe) can come before
     * the first keep-alive is due, so wait for one while acks stay lost. */
    tl_run(on_event, &t, kept_alive, 3000);
    net_rudp_stats st = rt_stats(t.s.client[0]);
    CHECKF(st.packets_sent > FIRST_WINDOW + st.retransmits,
           "no keep-alive while the window was full: %llu packets sent, %llu of them retransmits",
           (unsigned long long)st.packets_sent, (unsigned long long)st.retransmits);
    uint64_t keepalives = st.packets_sent - FIRST_WINDOW - st.retransmits;

    /* The path heals: the rest goes, the message arrives once and whole. */
    ic.drop = 0;
    CHECK(impair_set_rates(proxy, &ic) == 0);
    TL_RUN(on_event, &t, delivered);
    impair_counters c;
    impair_stats(proxy, &c);
    CHECKF(c.dropped > 0, "the proxy dropped nothing towards the client");
    printf("  client: %llu keep-alives while the window was full, %llu retransmits in all; proxy: %llu datagrams "
           "to the server, %llu dropped to the client\n",
           (unsigned long long)keepalives, (unsigned long long)rt_stats(t.s.client[0]).retransmits,
           (unsigned long long)c.to_target, (unsigned long long)c.dropped);

    rt_close_all(&t.s);
    impair_stop(proxy);
    tl_engine_destroy(t.s.e);
    printf("ok\n");
    return 0;
}
