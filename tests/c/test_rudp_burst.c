/* rudp_burst: a reliable-UDP session survives a total outage. Through the
 * impairment proxy of tests/impair (no random loss), the client sends the
 * first messages on a reliable-ordered and a reliable-unordered channel;
 * when 40 ordered echoes are back, the proxy drops everything both ways for
 * 200 ms and the client sends the rest at once, so their first copies are
 * all lost. The session must neither fail nor lose anything: every message
 * echoed exactly once afterwards, in order on the ordered channel, byte for
 * byte, through retransmission (counted in the stats, as the proxy counts
 * the burst's drops); then both ends close gracefully, status 0. */
#include "testlib.h"

#include "impair.h"

#define CHANNELS 2
#define PER_CHANNEL 120
#define BURST_AFTER 40 /* messages per channel sent before the burst, and the ordered echoes it waits for */
#define BURST_MS 200

static const uint32_t modes[CHANNELS] = {NET_RUDP_RELIABLE_ORDERED, NET_RUDP_RELIABLE_UNORDERED};

static uint32_t msg_len(int i)
{
    return i % 10 == 3 ? 3000 : 16 + (uint32_t)(i * 37 % 1000); /* every tenth: three datagrams */
}

typedef struct side {
    int got[CHANNELS];
    int last[CHANNELS]; /* highest index delivered, -1 none */
    uint8_t seen[CHANNELS][PER_CHANNEL];
} side;

typedef struct test {
    net_handle listener, client, server;
    int connected;
    impair_proxy *proxy;
    int burst_done;
    side at_server, at_client;
} test;

static void check_message(side *s, const net_event *ev, const char *who)
{
    CHECKF(ev->parent < CHANNELS, "%s: DATA on channel %llu", who, (unsigned long long)ev->parent);
    int ch = (int)ev->parent;
    CHECKF(ev->len >= 8, "%s: %u-byte message", who, (unsigned)ev->len);
    const uint8_t *p = ev->data;
    CHECK_EQ(tl_get_le(p, 4), (uint64_t)ch);
    int i = (int)tl_get_le(p + 4, 4);
    CHECKF(i >= 0 && i < PER_CHANNEL, "%s: index %d", who, i);
    CHECKF(ev->len == msg_len(i), "%s: channel %d message %d has %u bytes, sent %u", who, ch, i, (unsigned)ev->len,
           (unsigned)msg_len(i));
    long long bad = tl_mismatch(p + 8, ev->len - 8, (uint64_t)(ch * 1000 + i), 0);
    CHECKF(bad < 0, "%s: channel %d message %d: wrong byte at %lld", who, ch, i, bad + 8);
    CHECKF(!s->seen[ch][i], "%s: channel %d delivered message %d twice", who, ch, i);
    s->seen[ch][i] = 1;
    if (modes[ch] == NET_RUDP_RELIABLE_ORDERED)
        CHECKF(i == s->last[ch] + 1, "%s: ordered channel: message %d after %d", who, i, s->last[ch]);
    if (i > s->last[ch])
        s->last[ch] = i;
    s->got[ch]++;
}

static void send_range(net_handle c, int from, int to)
{
    uint8_t *buf = tl_xmalloc(3000);
    for (int i = from; i < to; i++)
        for (int ch = 0; ch < CHANNELS; ch++) {
            uint32_t len = msg_len(i);
            tl_put_le(buf, (uint64_t)ch, 4);
            tl_put_le(buf + 4, (uint64_t)i, 4);
            tl_fill(buf + 8, len - 8, (uint64_t)(ch * 1000 + i), 0);
            CHECK_OK(net_rudp_send(c, (uint32_t)ch, modes[ch], buf, len));
        }
    free(buf);
}

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
    } else if (ev->type == NET_EV_DATA && ev->handle == t->server) {
        check_message(&t->at_server, ev, "server");
        CHECK_OK(net_rudp_send(ev->handle, (uint32_t)ev->parent, modes[ev->parent], ev->data, ev->len));
    } else if (ev->type == NET_EV_DATA) {
        CHECKF(ev->handle == t->client, "DATA for unknown handle %llu", (unsigned long long)ev->handle);
        check_message(&t->at_client, ev, "client");
        if (!t->burst_done && t->at_client.got[0] >= BURST_AFTER) {
            impair_burst(t->proxy, BURST_MS); /* everything lost both ways for a while */
            t->burst_done = 1;
            send_range(t->client, BURST_AFTER, PER_CHANNEL); /* first copies all lost */
        }
    } else {
        CHECKF(ev->type == NET_EV_SEND_HIGHWATER || ev->type == NET_EV_SEND_DRAINED, "unexpected %s",
               tl_evname(ev->type));
    }
}

static int reliable_echoed(void *p)
{
    const test *t = p;
    return t->at_client.got[0] == PER_CHANNEL && t->at_client.got[1] == PER_CHANNEL;
}

static int connected(void *p)
{
    const test *t = p;
    return t->connected && t->server;
}

static uint64_t retransmits(net_handle h)
{
    net_rudp_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    CHECK_OK(net_rudp_get_stats(h, &st));
    return st.retransmits;
}

int main(void)
{
    tl_init("rudp_burst");
    test t;
    memset(&t, 0, sizeof t);
    for (int ch = 0; ch < CHANNELS; ch++)
        t.at_server.last[ch] = t.at_client.last[ch] = -1;
    net_engine e = tl_engine();
    net_rudp_config cfg;
    net_rudp_config_init(&cfg);
    cfg.channels = CHANNELS;
    CHECK_OK(net_rudp_listen(e, "127.0.0.1", 0, &cfg, &t.listener));
    net_addr at;
    CHECK_OK(net_local_addr(t.listener, &at));

    impair_config ic;
    impair_config_init(&ic);
    CHECKF(impair_start(&ic, "127.0.0.1", at.port, &t.proxy) == 0, "impair_start: %s", impair_last_error());
    CHECK_OK(net_rudp_connect(e, "127.0.0.1", impair_port(t.proxy), &cfg, &t.client));
    TL_RUN(on_event, &t, connected);
    send_range(t.client, 0, BURST_AFTER);
    if (!tl_run(on_event, &t, reliable_echoed, TL_TIMEOUT_MS))
        tl_fail(__FILE__, __LINE__, "echoes", "client has %d ordered, %d unordered of %d (server %d/%d)",
                t.at_client.got[0], t.at_client.got[1], PER_CHANNEL, t.at_server.got[0], t.at_server.got[1]);
    CHECK_EQ(t.at_server.got[0], PER_CHANNEL);
    CHECK_EQ(t.at_server.got[1], PER_CHANNEL);
    CHECK(t.burst_done);

    impair_counters c;
    impair_stats(t.proxy, &c);
    CHECKF(c.burst_dropped > 0 && c.dropped == c.burst_dropped, "burst dropped %llu of %llu dropped",
           (unsigned long long)c.burst_dropped, (unsigned long long)c.dropped);
    CHECKF(retransmits(t.client) > 0, "the client retransmitted nothing after its sends were lost");
    printf("  proxy: received %llu, dropped %llu in the burst; client retransmits %llu\n",
           (unsigned long long)c.received, (unsigned long long)c.burst_dropped,
           (unsigned long long)retransmits(t.client));

    /* The client closes; the server's session ends with it, gracefully too. */
    CHECK_EQ(tl_close_wait(e, t.client), 0);
    net_event ev;
    TL_EXPECT(e, NET_EV_CLOSE, t.server, &ev);
    CHECK_EQ(ev.status, 0);
    CHECK_EQ(tl_close_wait(e, t.listener), 0);
    impair_stop(t.proxy);
    tl_engine_destroy(e);
    printf("ok\n");
    return 0;
}
