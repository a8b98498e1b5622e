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
#include "testlib.h"

#include "impair.h"

#define MESSAGE_LEN 40000 /* about 35 datagrams: more than the first window */
#define FIRST_WINDOW 10   /* datagrams of a session's first congestion window (docs/rudp-protocol.md) */

typedef struct test {
    net_handle listener, client, server;
    int connected;
    int delivered;
} test;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    test *t = p;
    (void)e;
    CHECKF(ev->status == 0, "%s status %s", tl_evname(ev->type), tl_errname(ev->status));
    if (ev->type == NET_EV_ACCEPT) {
        CHECKF(!t->server, "a second ACCEPT");
        CHECK_EQ(ev->parent, t->listener);
        t->server = ev->handle;
    } else if (ev->type == NET_EV_CONNECT) {
        CHECK_EQ(ev->handle, t->client);
        t->connected = 1;
    } else if (ev->type == NET_EV_DATA) {
        CHECKF(ev->handle == t->server, "DATA for handle %llu", (unsigned long long)ev->handle);
        CHECKF(!t->delivered, "the message was delivered twice");
        CHECK_EQ(ev->len, MESSAGE_LEN);
        long long bad = tl_mismatch(ev->data, ev->len, 7, 0);
        CHECKF(bad < 0, "wrong byte at %lld", bad);
        t->delivered = 1;
    } else {
        CHECKF(ev->type == NET_EV_SEND_HIGHWATER || ev->type == NET_EV_SEND_DRAINED, "unexpected %s",
               tl_evname(ev->type));
    }
}

static int connected(void *p)
{
    const test *t = p;
    return t->connected && t->server;
}

static int delivered(void *p)
{
    return ((const test *)p)->delivered;
}

static net_rudp_stats stats_of(net_handle h)
{
    net_rudp_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    CHECK_OK(net_rudp_get_stats(h, &st));
    return st;
}

static int retransmitted(void *p)
{
    return stats_of(((const test *)p)->client).retransmits > 0;
}

/* A packet beyond the first window that is not a piece sent again: a
 * keep-alive (a pure ack while the window is full). */
static int kept_alive(void *p)
{
    net_rudp_stats st = stats_of(((const test *)p)->client);
    return st.packets_sent > FIRST_WINDOW + st.retransmits;
}

int main(void)
{
    tl_init("rudp_window_full");
    test t;
    memset(&t, 0, sizeof t);
    net_engine e = tl_engine();
    net_rudp_config cfg;
    net_rudp_config_init(&cfg);
    CHECK_OK(net_rudp_listen(e, "127.0.0.1", 0, &cfg, &t.listener));
    net_addr at;
    CHECK_OK(net_local_addr(t.listener, &at));

    impair_config ic;
    impair_config_init(&ic);
    impair_proxy *proxy;
    CHECKF(impair_start(&ic, "127.0.0.1", at.port, &proxy) == 0, "impair_start: %s", impair_last_error());
    /* The client's keep-alive falls due ten times within one retransmit timeout. */
    net_rudp_config ccfg = cfg;
    ccfg.keepalive_ms = 30;
    ccfg.rto_max_ms = 300;
    CHECK_OK(net_rudp_connect(e, "127.0.0.1", impair_port(proxy), &ccfg, &t.client));
    TL_RUN(on_event, &t, connected);

    /* No acknowledgement reaches the client from here on. */
    ic.directions = IMPAIR_TO_CLIENT;
    ic.drop = 1.0;
    CHECK(impair_set_rates(proxy, &ic) == 0);
    uint8_t *msg = tl_xmalloc(MESSAGE_LEN);
    tl_fill(msg, MESSAGE_LEN, 7, 0);
    CHECK_OK(net_rudp_send(t.client, 0, NET_RUDP_RELIABLE_ORDERED, msg, MESSAGE_LEN));
    free(msg);
    if (!tl_run(on_event, &t, retransmitted, 3000)) {
        net_rudp_stats st = stats_of(t.client);
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
    net_rudp_stats st = stats_of(t.client);
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
           (unsigned long long)keepalives, (unsigned long long)stats_of(t.client).retransmits,
           (unsigned long long)c.to_target, (unsigned long long)c.dropped);

    CHECK_EQ(tl_close_wait(e, t.client), 0);
    net_event ev;
    TL_EXPECT(e, NET_EV_CLOSE, t.server, &ev);
    CHECK_EQ(ev.status, 0);
    CHECK_EQ(tl_close_wait(e, t.listener), 0);
    impair_stop(proxy);
    tl_engine_destroy(e);
    printf("ok\n");
    return 0;
}
