/* rudp_impaired: reliable-UDP sessions through the impairment proxy
 * (tests/impair) at 10 % loss, 2 % duplication, 5 % reordering and 1 % corruption, both
 * directions, handshake included. Two clients each send messages on four
 * channels - two reliable-ordered (one carrying fragmented messages), one
 * reliable-unordered, one unreliable-sequenced - and the server echoes
 * what arrives on the channel and in the mode it came. At both ends every
 * reliable message arrives exactly once, the ordered channels in send
 * order, payloads byte-exact; the sequenced channel never delivers one
 * older than what it delivered before, nor one twice. The proxy's counters
 * show the impairments happened, the sessions' stats the retransmits and the
 * checksum failures (whenever the proxy corrupted some); both
 * ends then close gracefully (status 0) through the same proxy. */
#include "impair.h"
#include "testlib.h"

/* Natively well under a second; Wine on a loaded machine moves datagrams
 * tens of times slower, hence a bound beyond testlib's default. */
#define ECHO_BOUND_MS 30000

#define CLIENTS 2
#define CHANNELS 4
#define PER_CHANNEL 60
static const uint32_t modes[CHANNELS] = {NET_RUDP_RELIABLE_ORDERED, NET_RUDP_RELIABLE_ORDERED,
                                         NET_RUDP_RELIABLE_UNORDERED, NET_RUDP_UNRELIABLE_SEQUENCED};

static uint32_t msg_len(int ch, int i)
{
    if (ch == 1 && i % 10 == 3)
        return 6000 + (uint32_t)i; /* six fragments */
    return 8 + (uint32_t)(i * 37 % 900);
}

typedef struct side {
    int got[CHANNELS], last[CHANNELS];
    uint8_t seen[CHANNELS][PER_CHANNEL];
} side;

typedef struct test {
    net_handle listener, client[CLIENTS], server[CLIENTS];
    int accepted, connected;
    side at_server[CLIENTS], at_client[CLIENTS];
} test;

static int index_of(const net_handle *hs, net_handle h)
{
    for (int i = 0; i < CLIENTS; i++)
        if (hs[i] == h)
            return i;
    return -1;
}

static void check_message(side *s, const net_event *ev)
{
    CHECKF(ev->parent < CHANNELS, "DATA on channel %llu", (unsigned long long)ev->parent);
    int ch = (int)ev->parent;
    const uint8_t *p = ev->data;
    CHECKF(ev->len >= 8 && tl_get_le(p, 4) == (uint64_t)ch, "a %u-byte message on channel %d", (unsigned)ev->len, ch);
    int i = (int)tl_get_le(p + 4, 4);
    CHECKF(i >= 0 && i < PER_CHANNEL && ev->len == msg_len(ch, i), "channel %d: index %d, %u bytes", ch, i,
           (unsigned)ev->len);
    long long bad = tl_mismatch(p + 8, ev->len - 8, (uint64_t)(ch * 1000 + i), 0);
    CHECKF(bad < 0, "channel %d message %d: wrong byte at %lld", ch, i, bad + 8);
    CHECKF(!s->seen[ch][i], "channel %d delivered message %d twice", ch, i);
    s->seen[ch][i] = 1;
    if (modes[ch] == NET_RUDP_RELIABLE_ORDERED)
        CHECKF(i == s->last[ch] + 1, "ordered channel %d: message %d after %d", ch, i, s->last[ch]);
    if (modes[ch] == NET_RUDP_UNRELIABLE_SEQUENCED)
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
        CHECKF(t->accepted < CLIENTS, "extra ACCEPT");
        t->server[t->accepted++] = ev->handle;
    } else if (ev->type == NET_EV_CONNECT) {
        t->connected++;
    } else if (ev->type == NET_EV_DATA) {
        int si = index_of(t->server, ev->handle), ci = index_of(t->client, ev->handle);
        if (si >= 0) {
            check_message(&t->at_server[si], ev);
            CHECK_OK(net_rudp_send(ev->handle, (uint32_t)ev->parent, modes[ev->parent], ev->data, ev->len));
        } else {
            CHECKF(ci >= 0, "DATA for an unknown handle");
            check_message(&t->at_client[ci], ev);
        }
    } else {
        CHECKF(ev->type == NET_EV_SEND_HIGHWATER || ev->type == NET_EV_SEND_DRAINED, "unexpected %s",
               tl_evname(ev->type));
    }
}

static int reliable_complete(const side *s)
{
    for (int ch = 0; ch < CHANNELS; ch++)
        if (modes[ch] <= NET_RUDP_RELIABLE_UNORDERED && s->got[ch] < PER_CHANNEL)
            return 0;
    return 1;
}

static int all_echoed(void *p)
{
    test *t = p;
    for (int i = 0; i < CLIENTS; i++)
        if (!reliable_complete(&t->at_server[i]) || !reliable_complete(&t->at_client[i]))
            return 0;
    return 1;
}

static void send_all(net_handle c)
{
    uint8_t buf[8000];
    for (int i = 0; i < PER_CHANNEL; i++)
        for (int ch = 0; ch < CHANNELS; ch++) {
            uint32_t len = msg_len(ch, i);
            tl_put_le(buf, (uint64_t)ch, 4);
            tl_put_le(buf + 4, (uint64_t)i, 4);
            tl_fill(buf + 8, len - 8, (uint64_t)(ch * 1000 + i), 0);
            CHECK_OK(net_rudp_send(c, (uint32_t)ch, modes[ch], buf, len));
        }
}

static void explain(const test *t, impair_proxy *px)
{
    impair_counters k;
    impair_stats(px, &k);
    fprintf(stderr, "proxy: received %llu forwarded %llu dropped %llu duplicated %llu reordered %llu\n",
            (unsigned long long)k.received, (unsigned long long)k.forwarded, (unsigned long long)k.dropped,
            (unsigned long long)k.duplicated, (unsigned long long)k.reordered);
    for (int i = 0; i < CLIENTS; i++)
        for (int ch = 0; ch < CHANNELS; ch++)
            fprintf(stderr, "session %d channel %d: server got %d, client got %d\n", i, ch, t->at_server[i].got[ch],
                    t->at_client[i].got[ch]);
}

int main(void)
{
    tl_init("rudp_impaired");
    test t;
    memset(&t, 0, sizeof t);
    for (int i = 0; i < CLIENTS; i++)
        for (int ch = 0; ch < CHANNELS; ch++)
            t.at_server[i].last[ch] = t.at_client[i].last[ch] = -1;
    net_engine e = tl_engine();
    net_rudp_config cfg;
    net_rudp_config_init(&cfg);
    cfg.channels = CHANNELS;
    cfg.rto_min_ms = 30; /* loopback: retransmit timeouts need not wait a tenth of a second */
    CHECK_OK(net_rudp_listen(e, "127.0.0.1", 0, &cfg, &t.listener));
    net_addr at;
    CHECK_OK(net_local_addr(t.listener, &at));

    impair_config ic;
    impair_config_init(&ic);
    ic.drop = 0.10;
    ic.dup = 0.02;
    ic.reorder = 0.05;
    ic.corrupt = 0.01;
    ic.seed = 16;
    impair_proxy *px = NULL;
    CHECKF(impair_start(&ic, "127.0.0.1", at.port, &px) == 0, "impair_start: %s", impair_last_error());

    for (int i = 0; i < CLIENTS; i++) {
        CHECK_OK(net_rudp_connect(e, "127.0.0.1", impair_port(px), &cfg, &t.client[i]));
        send_all(t.client[i]);
    }
    if (!tl_run(on_event, &t, all_echoed, ECHO_BOUND_MS)) {
        explain(&t, px);
        CHECKF(0, "not every reliable message echoed in %d ms", ECHO_BOUND_MS);
    }
    CHECK_EQ(t.accepted, CLIENTS);
    CHECK_EQ(t.connected, CLIENTS);

    impair_counters k;
    impair_stats(px, &k);
    CHECK(k.dropped > 0 && k.duplicated > 0 && k.reordered > 0);
    net_rudp_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    uint64_t retransmits = 0, duplicates = 0, caught = 0;
    for (int i = 0; i < CLIENTS; i++) {
        CHECK_OK(net_rudp_get_stats(t.client[i], &st));
        retransmits += st.retransmits;
        duplicates += st.duplicates_dropped;
        caught += st.checksum_failures;
        CHECK_OK(net_rudp_get_stats(t.server[i], &st));
        retransmits += st.retransmits;
        duplicates += st.duplicates_dropped;
    }
    CHECK(retransmits > 0 && duplicates > 0);
    /* Corrupted datagrams fail their CRC32C at a client's socket or the listener's. */
    CHECK_OK(net_rudp_get_stats(t.listener, &st));
    caught += st.checksum_failures;
    CHECKF(k.corrupted == 0 || caught > 0, "%llu datagrams corrupted, none caught", (unsigned long long)k.corrupted);

    /* Which server session is which client's depends on whose handshake got through first. */
    for (int i = 0; i < CLIENTS; i++)
        CHECK_OK(net_close(t.client[i]));
    for (int i = 0; i < 2 * CLIENTS; i++) {
        net_handle h = i < CLIENTS ? t.client[i] : t.server[i - CLIENTS];
        net_event ev;
        TL_EXPECT(e, NET_EV_CLOSE, h, &ev);
        CHECK_EQ(ev.status, 0);
    }
    CHECK_EQ(tl_close_wait(e, t.listener), 0);
    impair_stop(px);
    tl_engine_destroy(e);
    printf("ok\n");
    return 0;
}
