/* rudp_impaired: a reliable-UDP session through the impairment proxy of
 * tests/impair (in this process), at 10 % loss, 2 % duplication and 5 %
 * reordering both ways, with a 150 ms loss burst in the middle. The client
 * sends on three channels: reliable-ordered, reliable-unordered and
 * unreliable-sequenced, messages of one datagram and of several
 * (fragmented); the server echoes each on its channel in its mode. Both
 * ends check every message byte for byte: on the reliable channels each
 * arrives exactly once (in send order on the ordered one), on the
 * sequenced one never twice and never older than one delivered. The proxy
 * must really have dropped, duplicated and reordered datagrams, and the
 * session retransmitted; then a graceful close, one CLOSE each, status 0. */
#include "testlib.h"

#include "impair.h"

#define CHANNELS 3
#define PER_CHANNEL 120
#define BURST_AFTER 40 /* ordered echoes the client has when the burst starts */

static const uint32_t modes[CHANNELS] = {NET_RUDP_RELIABLE_ORDERED, NET_RUDP_RELIABLE_UNORDERED,
                                         NET_RUDP_UNRELIABLE_SEQUENCED};

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
    if (modes[ch] == NET_RUDP_UNRELIABLE_SEQUENCED)
        CHECKF(i > s->last[ch], "%s: sequenced channel: message %d after %d", who, i, s->last[ch]);
    if (i > s->last[ch])
        s->last[ch] = i;
    s->got[ch]++;
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
            impair_burst(t->proxy, 150); /* everything lost both ways for a while: the session must recover */
            t->burst_done = 1;
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

static void send_all(net_handle c)
{
    uint8_t *buf = tl_xmalloc(3000);
    for (int i = 0; i < PER_CHANNEL; i++)
        for (int ch = 0; ch < CHANNELS; ch++) {
            uint32_t len = msg_len(i);
            tl_put_le(buf, (uint64_t)ch, 4);
            tl_put_le(buf + 4, (uint64_t)i, 4);
            tl_fill(buf + 8, len - 8, (uint64_t)(ch * 1000 + i), 0);
            CHECK_OK(net_rudp_send(c, (uint32_t)ch, modes[ch], buf, len));
        }
    free(buf);
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
    tl_init("rudp_impaired");
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
    ic.drop = 0.10;
    ic.dup = 0.02;
    ic.reorder = 0.05;
    ic.seed = 16;
    CHECKF(impair_start(&ic, "127.0.0.1", at.port, &t.proxy) == 0, "impair_start: %s", impair_last_error());
    CHECK_OK(net_rudp_connect(e, "127.0.0.1", impair_port(t.proxy), &cfg, &t.client));
    TL_RUN(on_event, &t, connected);
    send_all(t.client);
    if (!tl_run(on_event, &t, reliable_echoed, TL_TIMEOUT_MS))
        tl_fail(__FILE__, __LINE__, "echoes", "client has %d ordered, %d unordered of %d (server %d/%d)",
                t.at_client.got[0], t.at_client.got[1], PER_CHANNEL, t.at_server.got[0], t.at_server.got[1]);
    CHECK_EQ(t.at_server.got[0], PER_CHANNEL);
    CHECK_EQ(t.at_server.got[1], PER_CHANNEL);
    CHECK(t.burst_done);

    impair_counters c;
    impair_stats(t.proxy, &c);
    CHECKF(c.dropped > 0 && c.duplicated > 0 && c.reordered > 0 && c.burst_dropped > 0,
           "the path was not impaired: dropped %llu duplicated %llu reordered %llu burst %llu",
           (unsigned long long)c.dropped, (unsigned long long)c.duplicated, (unsigned long long)c.reordered,
           (unsigned long long)c.burst_dropped);
    CHECKF(retransmits(t.client) + retransmits(t.server) > 0, "no retransmit through a lossy path");
    printf("  proxy: received %llu dropped %llu (burst %llu) duplicated %llu reordered %llu; sequenced channel "
           "delivered %d of %d\n",
           (unsigned long long)c.received, (unsigned long long)c.dropped, (unsigned long long)c.burst_dropped,
           (unsigned long long)c.duplicated, (unsigned long long)c.reordered, t.at_client.got[2], PER_CHANNEL);

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
