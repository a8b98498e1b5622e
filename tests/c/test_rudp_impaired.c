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
#include "rudp_testlib.h"

/* Natively well under a second; Wine on a loaded machine moves datagrams
 * tens of times slower, hence a bound beyond testlib's default. */
#define ECHO_BOUND_MS 30000

#define CLIENTS 2
#define CHANNELS 4
#define PER_CHANNEL 60

static uint32_t msg_len(int ch, int i)
{
    if (ch == 1 && i % 10 == 3)
        return 6000 + (uint32_t)i; /* six fragments */
    return 8 + (uint32_t)(i * 37 % 900);
}

static const rt_plan plan = {
    CHANNELS,
    PER_CHANNEL,
    {NET_RUDP_RELIABLE_ORDERED, NET_RUDP_RELIABLE_ORDERED, NET_RUDP_RELIABLE_UNORDERED, NET_RUDP_UNRELIABLE_SEQUENCED},
    msg_len};

static void explain(const rt_echo_test *t, impair_proxy *px)
{
    impair_counters k;
    impair_stats(px, &k);
    fprintf(stderr, "proxy: received %llu forwarded %llu dropped %llu duplicated %llu reordered %llu\n",
            (unsigned long long)k.received, (unsigned long long)k.forwarded, (unsigned long long)k.dropped,
            (unsigned long long)k.duplicated, (unsigned long long)k.reordered);
    rt_print_counts(t);
}

int main(void)
{
    tl_init("rudp_impaired");
    rt_echo_test t;
    rt_echo_init(&t, &plan);
    net_rudp_config cfg;
    net_rudp_config_init(&cfg);
    cfg.channels = CHANNELS;
    cfg.rto_min_ms = 30; /* loopback: retransmit timeouts need not wait a tenth of a second */
    net_addr at = rt_sessions_listen(&t.s, tl_engine(), CLIENTS, &cfg);

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
        CHECK_OK(net_rudp_connect(t.s.e, "127.0.0.1", impair_port(px), &cfg, &t.s.client[i]));
        rt_send(&plan, t.s.client[i], 0, PER_CHANNEL);
    }
    if (!tl_run(rt_echo_event, &t, rt_all_echoed, ECHO_BOUND_MS)) {
        explain(&t, px);
        CHECKF(0, "not every reliable message echoed in %d ms", ECHO_BOUND_MS);
    }
    CHECK_EQ(t.s.accepted, CLIENTS);
    CHECK_EQ(t.s.connected, CLIENTS);

    impair_counters k;
    impair_stats(px, &k);
    CHECK(k.dropped > 0 && k.duplicated > 0 && k.reordered > 0);
    uint64_t retransmits = 0, duplicates = 0, caught = 0;
    for (int i = 0; i < CLIENTS; i++) {
        net_rudp_stats cs = rt_stats(t.s.client[i]), ss = rt_stats(t.s.server[i]);
        retransmits += cs.retransmits + ss.retransmits;
        duplicates += cs.duplicates_dropped + ss.duplicates_dropped;
        caught += cs.checksum_failures;
    }
    CHECK(retransmits > 0 && duplicates > 0);
    /* Corrupted datagrams fail their CRC32C at a client's socket or the listener's. */
    caught += rt_stats(t.s.listener).checksum_failures;
    CHECKF(k.corrupted == 0 || caught > 0, "%llu datagrams corrupted, none caught", (unsigned long long)k.corrupted);

    rt_close_all(&t.s);
    impair_stop(px);
    tl_engine_destroy(t.s.e);
    printf("ok\n");
    return 0;
}
