/* rudp_echo: two reliable-UDP sessions to one listener, eight channels,
 * channel c in mode c % 4. Each client sends messages of many sizes (empty,
 * small, one datagram, fragmented up to 100 KB) on every channel; the
 * server echoes each on the channel it came on, in the same mode. Checked
 * on both sides, per channel: reliable-ordered messages arrive exactly
 * once and in send order, reliable-unordered exactly once, sequenced ones
 * never older than one delivered before, unreliable ones never twice;
 * every payload byte-exact. ACCEPT names the listener and the client's
 * address, CONNECT the listener's; then both ends close gracefully with
 * exactly one CLOSE each, status 0. */
#include "testlib.h"

/* Natively well under a second; Wine on a loaded machine moves datagrams
 * tens of times slower, hence a bound beyond testlib's default. */
#define ECHO_BOUND_MS 30000

#define CHANNELS 8
#define PER_CHANNEL 30
#define CLIENTS 2

static uint32_t msg_len(int i)
{
    static const uint32_t sizes[] = {0, 8, 100, 1100, 1200, 3000, 8, 20000, 8, 300};
    uint32_t n = sizes[i % 10];
    if (i == 17)
        n = 100000;
    return n < 8 ? 8 : n;
}

typedef struct side {
    int got[CHANNELS];  /* messages delivered */
    int last[CHANNELS]; /* index of the last one, -1 none */
    uint8_t seen[CHANNELS][PER_CHANNEL];
} side;

typedef struct test {
    net_engine e;
    net_handle listener, client[CLIENTS], server[CLIENTS];
    int accepted, connected;
    side at_server[CLIENTS], at_client[CLIENTS];
} test;

static int slot_of(const net_handle *hs, net_handle h)
{
    for (int i = 0; i < CLIENTS; i++)
        if (hs[i] == h)
            return i;
    return -1;
}

/* One message's checks, common to both ends. */
static void check_message(side *s, const net_event *ev, int who)
{
    CHECKF(ev->parent < CHANNELS, "DATA on channel %llu", (unsigned long long)ev->parent);
    int ch = (int)ev->parent, mode = ch % 4;
    CHECKF(ev->len >= 8, "%u-byte message", (unsigned)ev->len);
    const uint8_t *p = ev->data;
    CHECK_EQ(tl_get_le(p, 4), (uint64_t)ch);
    int i = (int)tl_get_le(p + 4, 4);
    CHECKF(i >= 0 && i < PER_CHANNEL, "index %d", i);
    CHECKF(ev->len == msg_len(i), "message %d of channel %d: %u bytes, sent %u", i, ch, (unsigned)ev->len,
           (unsigned)msg_len(i));
    long long bad = tl_mismatch(p + 8, ev->len - 8, (uint64_t)(ch * 1000 + i), 0);
    CHECKF(bad < 0, "channel %d message %d: wrong byte at %lld", ch, i, bad + 8);
    CHECKF(!s->seen[ch][i], "%s: channel %d (mode %d) delivered message %d twice", who ? "client" : "server", ch, mode,
           i);
    s->seen[ch][i] = 1;
    if (mode == NET_RUDP_RELIABLE_ORDERED)
        CHECKF(i == s->last[ch] + 1, "channel %d: message %d after %d", ch, i, s->last[ch]);
    if (mode == NET_RUDP_UNRELIABLE_SEQUENCED)
        CHECKF(i > s->last[ch], "sequenced channel %d: message %d after %d", ch, i, s->last[ch]);
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
        CHECK_EQ(ev->parent, t->listener);
        CHECKF(t->accepted < CLIENTS, "extra ACCEPT");
        t->server[t->accepted++] = ev->handle;
        return;
    }
    if (ev->type == NET_EV_CONNECT) {
        CHECK(slot_of(t->client, ev->handle) >= 0);
        t->connected++;
        return;
    }
    if (ev->type == NET_EV_SEND_HIGHWATER || ev->type == NET_EV_SEND_DRAINED)
        return; /* a client queues more than the high-water mark before it connects */
    CHECKF(ev->type == NET_EV_DATA, "unexpected %s", tl_evname(ev->type));
    int si = slot_of(t->server, ev->handle), ci = slot_of(t->client, ev->handle);
    if (si >= 0) {
        check_message(&t->at_server[si], ev, 0);
        int ch = (int)ev->parent;
        CHECK_OK(net_rudp_send(ev->handle, (uint32_t)ch, (uint32_t)(ch % 4), ev->data, ev->len));
        return;
    }
    CHECKF(ci >= 0, "DATA for unknown handle");
    check_message(&t->at_client[ci], ev, 1);
}

static int reliable_done(const side *s)
{
    for (int ch = 0; ch < CHANNELS; ch++)
        if (ch % 4 <= NET_RUDP_RELIABLE_UNORDERED && s->got[ch] < PER_CHANNEL)
            return 0;
    return 1;
}

static int all_echoed(void *p)
{
    test *t = p;
    for (int i = 0; i < CLIENTS; i++)
        if (!reliable_done(&t->at_client[i]) || !reliable_done(&t->at_server[i]))
            return 0;
    return 1;
}

static int all_connected(void *p)
{
    test *t = p;
    return t->accepted == CLIENTS && t->connected == CLIENTS;
}

static void print_stats(const char *what, net_handle h)
{
    net_rudp_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    if (net_rudp_get_stats(h, &st) != 0)
        return;
    fprintf(stderr,
            "%s: rtt %llu us rto %llu ms cwnd %llu in flight %llu queued %llu peer window %llu sent %llu received "
            "%llu retransmits %llu lost %llu duplicates %llu dropped %llu messages %llu/%llu\n",
            what, (unsigned long long)st.rtt_us, (unsigned long long)st.rto_ms, (unsigned long long)st.cwnd,
            (unsigned long long)st.bytes_in_flight, (unsigned long long)st.send_queued,
            (unsigned long long)st.peer_window, (unsigned long long)st.packets_sent,
            (unsigned long long)st.packets_received, (unsigned long long)st.retransmits,
            (unsigned long long)st.packets_lost, (unsigned long long)st.duplicates_dropped,
            (unsigned long long)st.datagrams_dropped, (unsigned long long)st.messages_sent,
            (unsigned long long)st.messages_received);
}

/* What a failed wait leaves to read: per session, the counts and the figures. */
static void explain(const test *t)
{
    for (int i = 0; i < CLIENTS; i++) {
        for (int ch = 0; ch < CHANNELS; ch++)
            fprintf(stderr, "session %d channel %d: server got %d, client got %d\n", i, ch, t->at_server[i].got[ch],
                    t->at_client[i].got[ch]);
        print_stats("client", t->client[i]);
        print_stats("server", t->server[i]);
    }
}

static void send_all(net_handle c)
{
    uint8_t *buf = tl_xmalloc(100000);
    for (int i = 0; i < PER_CHANNEL; i++)
        for (int ch = 0; ch < CHANNELS; ch++) {
            uint32_t len = msg_len(i);
            tl_put_le(buf, (uint64_t)ch, 4);
            tl_put_le(buf + 4, (uint64_t)i, 4);
            tl_fill(buf + 8, len - 8, (uint64_t)(ch * 1000 + i), 0);
            if (ch == 0)
                CHECK_OK(net_send(c, buf, len)); /* = channel 0, reliable-ordered */
            else
                CHECK_OK(net_rudp_send(c, (uint32_t)ch, (uint32_t)(ch % 4), buf, len));
        }
    free(buf);
}

/* The engine's totals count the sessions: every message the clients sent
 * and the reliable echoes went through the loop's queue (messages_out) and
 * arrived as DATA events (messages_in); the datagrams the sockets received
 * are at least those the listener and the client sockets counted. */
static void engine_totals(test *t, uint64_t listener_received)
{
    net_rudp_stats cs;
    memset(&cs, 0, sizeof cs);
    cs.size = sizeof cs;
    uint64_t received = listener_received;
    for (int i = 0; i < CLIENTS; i++) {
        CHECK_OK(net_rudp_get_stats(t->client[i], &cs));
        received += cs.packets_received;
    }
    net_stats es;
    memset(&es, 0, sizeof es);
    es.size = sizeof es;
    CHECK_OK(net_engine_stats(t->e, &es));
    const uint64_t sent = CLIENTS * CHANNELS * PER_CHANNEL, reliable = CLIENTS * (CHANNELS / 2) * PER_CHANNEL;
    CHECKF(es.messages_out >= sent + reliable, "engine messages_out %llu, want >= %llu",
           (unsigned long long)es.messages_out, (unsigned long long)(sent + reliable));
    CHECKF(es.messages_in >= 2 * reliable, "engine messages_in %llu, want >= %llu", (unsigned long long)es.messages_in,
           (unsigned long long)(2 * reliable));
    CHECKF(es.datagrams_in >= received && received > 0, "engine datagrams_in %llu, the sockets received %llu",
           (unsigned long long)es.datagrams_in, (unsigned long long)received);
    CHECK(es.datagrams_out > 0 && es.bytes_in > 0 && es.bytes_out > 0);
}

int main(void)
{
    tl_init("rudp_echo");
    test t;
    memset(&t, 0, sizeof t);
    for (int i = 0; i < CLIENTS; i++)
        for (int ch = 0; ch < CHANNELS; ch++)
            t.at_server[i].last[ch] = t.at_client[i].last[ch] = -1;
    t.e = tl_engine();
    net_rudp_config cfg;
    net_rudp_config_init(&cfg);
    cfg.channels = CHANNELS;
    cfg.user = 7;
    CHECK_OK(net_rudp_listen(t.e, "127.0.0.1", 0, &cfg, &t.listener));
    net_addr at;
    CHECK_OK(net_local_addr(t.listener, &at));
    CHECK(at.port != 0);
    /* Sends before CONNECT are queued and go out once connected. */
    for (int i = 0; i < CLIENTS; i++) {
        CHECK_OK(net_rudp_connect(t.e, "127.0.0.1", at.port, &cfg, &t.client[i]));
        net_addr peer;
        CHECK_RC(net_peer_addr(t.client[i], &peer), NET_E_NOTCONN);
        send_all(t.client[i]);
    }
    CHECK_RC(net_rudp_send(t.client[0], CHANNELS, 0, "x", 1), NET_E_INVAL);
    CHECK_RC(net_rudp_send(t.client[0], 0, 4, "x", 1), NET_E_INVAL);
    CHECK_RC(net_rudp_send(t.client[0], 0, 0, NULL, 1), NET_E_INVAL);
    CHECK_RC(net_rudp_send(t.client[0], 0, 0, "x", cfg.max_message + 1), NET_E_MSGSIZE);
    CHECK_RC(net_rudp_send(t.listener, 0, 0, "x", 1), NET_E_BADHANDLE);
    TL_RUN(on_event, &t, all_connected);
    for (int i = 0; i < CLIENTS; i++) {
        net_addr peer;
        CHECK_OK(net_peer_addr(t.client[i], &peer));
        CHECK(tl_addr_eq(&peer, &at));
    }
    if (!tl_run(on_event, &t, all_echoed, ECHO_BOUND_MS)) {
        explain(&t);
        CHECKF(0, "not all reliable messages echoed in %d ms", ECHO_BOUND_MS);
    }

    net_rudp_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    CHECK_OK(net_rudp_get_stats(t.client[0], &st));
    CHECK(st.messages_sent >= CHANNELS * PER_CHANNEL && st.packets_sent > 0 && st.rtt_us > 0);
    CHECK(st.messages_received >= (CHANNELS / 2) * PER_CHANNEL); /* the reliable echoes at least */
    CHECK_OK(net_rudp_get_stats(t.listener, &st));
    CHECK_EQ(st.sessions, CLIENTS);
    CHECK_EQ(st.handshakes, CLIENTS);
    engine_totals(&t, st.packets_received);

    /* Which server session is which client's depends on whose handshake got through first. */
    for (int i = 0; i < CLIENTS; i++) {
        CHECK_OK(net_close(t.client[i]));
        CHECK_RC(net_rudp_send(t.client[i], 0, 0, "x", 1), NET_E_CLOSED);
    }
    for (int i = 0; i < 2 * CLIENTS; i++) {
        net_handle h = i < CLIENTS ? t.client[i] : t.server[i - CLIENTS];
        net_event ev;
        TL_EXPECT(t.e, NET_EV_CLOSE, h, &ev);
        CHECK_EQ(ev.status, 0);
        CHECK_RC(net_rudp_send(h, 0, 0, "x", 1), NET_E_BADHANDLE);
    }
    CHECK_EQ(tl_close_wait(t.e, t.listener), 0);
    tl_engine_destroy(t.e);
    printf("ok\n");
    return 0;
}
