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
#include "rudp_testlib.h"

/* Natively well under a second; Wine on a loaded machine moves datagrams
 * tens of times slower, hence a bound beyond testlib's default. */
#define ECHO_BOUND_MS 30000

#define CHANNELS 8
#define PER_CHANNEL 30
#define CLIENTS 2

static uint32_t msg_len(int ch, int i)
{
    static const uint32_t sizes[] = {0, 8, 100, 1100, 1200, 3000, 8, 20000, 8, 300};
    uint32_t n = sizes[i % 10];
    (void)ch;
    if (i == 17)
        n = 100000;
    return n < 8 ? 8 : n;
}

/* Channel c in mode c % 4. */
static const rt_plan plan = {CHANNELS,
                             PER_CHANNEL,
                             {NET_RUDP_RELIABLE_ORDERED, NET_RUDP_RELIABLE_UNORDERED, NET_RUDP_UNRELIABLE_SEQUENCED,
                              NET_RUDP_UNRELIABLE, NET_RUDP_RELIABLE_ORDERED, NET_RUDP_RELIABLE_UNORDERED,
                              NET_RUDP_UNRELIABLE_SEQUENCED, NET_RUDP_UNRELIABLE},
                             msg_len};

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
static void explain(const rt_echo_test *t)
{
    rt_print_counts(t);
    for (int i = 0; i < CLIENTS; i++) {
        print_stats("client", t->s.client[i]);
        print_stats("server", t->s.server[i]);
    }
}

static void send_all(net_handle c)
{
    uint8_t *buf = tl_xmalloc(100000);
    for (int i = 0; i < PER_CHANNEL; i++)
        for (int ch = 0; ch < CHANNELS; ch++) {
            uint32_t len = rt_message(&plan, buf, ch, i);
            if (ch == 0)
                CHECK_OK(net_send(c, buf, len)); /* = channel 0, reliable-ordered */
            else
                CHECK_OK(net_rudp_send(c, (uint32_t)ch, plan.modes[ch], buf, len));
        }
    free(buf);
}

/* The engine's totals count the sessions: every message the clients sent
 * and the reliable echoes went through the loop's queue (messages_out) and
 * arrived as DATA events (messages_in); the datagrams the sockets received
 * are at least those the listener and the client sockets counted. */
static void engine_totals(const rt_echo_test *t, uint64_t listener_received)
{
    uint64_t received = listener_received;
    for (int i = 0; i < CLIENTS; i++)
        received += rt_stats(t->s.client[i]).packets_received;
    net_stats es;
    memset(&es, 0, sizeof es);
    es.size = sizeof es;
    CHECK_OK(net_engine_stats(t->s.e, &es));
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
    rt_echo_test t;
    rt_echo_init(&t, &plan);
    net_rudp_config cfg;
    net_rudp_config_init(&cfg);
    cfg.channels = CHANNELS;
    cfg.user = 7;
    net_addr at = rt_sessions_listen(&t.s, tl_engine(), CLIENTS, &cfg);
    /* Sends before CONNECT are queued and go out once connected. */
    for (int i = 0; i < CLIENTS; i++) {
        CHECK_OK(net_rudp_connect(t.s.e, "127.0.0.1", at.port, &cfg, &t.s.client[i]));
        net_addr peer;
        CHECK_RC(net_peer_addr(t.s.client[i], &peer), NET_E_NOTCONN);
        send_all(t.s.client[i]);
    }
    CHECK_RC(net_rudp_send(t.s.client[0], CHANNELS, 0, "x", 1), NET_E_INVAL);
    CHECK_RC(net_rudp_send(t.s.client[0], 0, 4, "x", 1), NET_E_INVAL);
    CHECK_RC(net_rudp_send(t.s.client[0], 0, 0, NULL, 1), NET_E_INVAL);
    CHECK_RC(net_rudp_send(t.s.client[0], 0, 0, "x", cfg.max_message + 1), NET_E_MSGSIZE);
    CHECK_RC(net_rudp_send(t.s.listener, 0, 0, "x", 1), NET_E_BADHANDLE);
    TL_RUN(rt_echo_event, &t, rt_connected);
    for (int i = 0; i < CLIENTS; i++) {
        net_addr peer;
        CHECK_OK(net_peer_addr(t.s.client[i], &peer));
        CHECK(tl_addr_eq(&peer, &at));
    }
    if (!tl_run(rt_echo_event, &t, rt_all_echoed, ECHO_BOUND_MS)) {
        explain(&t);
        CHECKF(0, "not all reliable messages echoed in %d ms", ECHO_BOUND_MS);
    }

    net_rudp_stats st = rt_stats(t.s.client[0]);
    CHECK(st.messages_sent >= CHANNELS * PER_CHANNEL && st.packets_sent > 0 && st.rtt_us > 0);
    CHECK(st.messages_received >= (CHANNELS / 2) * PER_CHANNEL); /* the reliable echoes at least */
    st = rt_stats(t.s.listener);
    CHECK_EQ(st.sessions, CLIENTS);
    CHECK_EQ(st.handshakes, CLIENTS);
    engine_totals(&t, st.packets_received);

    rt_close_all(&t.s);
    tl_engine_destroy(t.s.e);
    printf("ok\n");
    return 0;
}
