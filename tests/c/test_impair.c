/* impair: the impairment proxy of tests/impair (the harness the reliable-UDP
 * tests stand on) does what its rates say, and nothing else. Datagrams go
 * from net UDP sockets through the proxy to a net UDP "server" that may echo
 * them; with fixed rates and a fixed seed the test checks what arrives, in
 * what order and with what bytes, against the proxy's counters:
 *   0 % everything  -> all arrive in order, unchanged, both ways, one client each
 *   100 % drop      -> nothing arrives, dropped = sent
 *   100 % dup       -> each arrives twice, back to back
 *   reorder 20 %    -> each arrives once; exactly `reordered` arrive after a later one
 *   100 % corrupt   -> each arrives once, same length, different bytes
 *   30 % drop, seed -> the same datagrams are lost with the same seed, others with another
 *   delay           -> nothing arrives before its delay, order kept
 *   burst           -> everything dropped while it lasts, all passes after
 *   two clients     -> each gets only its own echoes back
 *   bad rates       -> impair_start refuses them, naming the rate */
#include "testlib.h"

#include "impair.h"

#define N 200
#define MAX_LEN 116

typedef struct arrival {
    uint32_t index;
    uint32_t client; /* 0 or 1: which client sent it */
    int intact;      /* the bytes are the ones sent */
    uint32_t len;
} arrival;

typedef struct side {
    net_engine e;
    net_handle server, clients[2];
    net_addr server_addr, client_addr[2], proxy_addr;
    int echo;                 /* the server sends every datagram back to its sender */
    arrival at_server[4 * N]; /* in arrival order */
    int n_server;
    arrival at_client[2][4 * N]; /* echoes, per client */
    int n_client[2];
    net_addr senders[2]; /* distinct sender addresses the server saw */
    int n_senders;
    const struct until *until; /* while in wait_for */
} side;

static uint32_t msg_len(uint32_t index)
{
    return 16 + index % (MAX_LEN - 15);
}

/* Datagram `index` of client c: 4-byte index, 4-byte client, then the pattern. */
static void make_msg(uint8_t *buf, uint32_t client, uint32_t index)
{
    uint32_t len = msg_len(index);
    tl_put_le(buf, index, 4);
    tl_put_le(buf + 4, client, 4);
    tl_fill(buf + 8, len - 8, client * 100000u + index, 0);
}

static arrival parse_msg(const net_event *ev)
{
    arrival a;
    memset(&a, 0, sizeof a);
    a.len = ev->len;
    if (ev->len < 8)
        return a;
    const uint8_t *d = (const uint8_t *)ev->data;
    a.index = (uint32_t)tl_get_le(d, 4);
    a.client = (uint32_t)tl_get_le(d + 4, 4);
    a.intact = a.client < 2 && a.index < N && ev->len == msg_len(a.index) &&
               tl_mismatch(d + 8, ev->len - 8, a.client * 100000u + a.index, 0) < 0;
    return a;
}

static void on_event(void *p, net_engine e, const net_event *ev)
{
    side *s = (side *)p;
    (void)e;
    CHECKF(ev->type == NET_EV_DATAGRAM, "unexpected %s", tl_evname(ev->type));
    if (ev->handle == s->server) {
        CHECK(s->n_server < 4 * N);
        s->at_server[s->n_server++] = parse_msg(ev);
        int known = 0;
        for (int i = 0; i < s->n_senders; i++)
            known |= tl_addr_eq(&s->senders[i], &ev->addr);
        if (!known) {
            CHECKF(s->n_senders < 2, "a third sender %s", tl_addr_str(&ev->addr));
            s->senders[s->n_senders++] = ev->addr;
        }
        if (s->echo)
            CHECK_OK(net_sendto(s->server, &ev->addr, ev->data, ev->len));
        return;
    }
    for (int c = 0; c < 2; c++)
        if (ev->handle == s->clients[c]) {
            CHECKF(tl_addr_eq(&ev->addr, &s->proxy_addr), "client %d: echo from %s, not the proxy", c,
                   tl_addr_str(&ev->addr));
            CHECK(s->n_client[c] < 4 * N);
            s->at_client[c][s->n_client[c]++] = parse_msg(ev);
            return;
        }
    CHECKF(0, "datagram for unknown handle %llu", (unsigned long long)ev->handle);
}

/* A fresh server, two clients and a proxy in front of the server. */
static impair_proxy *setup(side *s, const impair_config *cfg, int echo)
{
    memset(s, 0, sizeof *s);
    s->e = tl_engine();
    s->echo = echo;
    /* Room for a whole phase's datagrams (the proxy forwards them faster
     * than a test engine may read them); the OS may cap it lower. */
    net_udp_config ucfg;
    net_udp_config_init(&ucfg);
    ucfg.rcvbuf = 1 << 20;
    s->server = tl_udp(s->e, NULL, &ucfg, &s->server_addr);
    for (int c = 0; c < 2; c++)
        s->clients[c] = tl_udp(s->e, NULL, &ucfg, &s->client_addr[c]);
    impair_proxy *p = NULL;
    CHECKF(impair_start(cfg, "127.0.0.1", s->server_addr.port, &p) == 0, "impair_start: %s", impair_last_error());
    CHECK(impair_port(p) != 0);
    CHECK_OK(net_addr_parse("127.0.0.1", impair_port(p), &s->proxy_addr));
    return p;
}

static void teardown(side *s, impair_proxy *p)
{
    impair_stop(p);
    for (int c = 0; c < 2; c++)
        CHECK_EQ(tl_close_wait(s->e, s->clients[c]), 0);
    CHECK_EQ(tl_close_wait(s->e, s->server), 0);
    tl_engine_destroy(s->e);
}

static void send_range(side *s, uint32_t client, uint32_t from, uint32_t to)
{
    uint8_t buf[MAX_LEN];
    for (uint32_t i = from; i < to; i++) {
        make_msg(buf, client, i);
        CHECK_OK(net_sendto(s->clients[client], &s->proxy_addr, buf, msg_len(i)));
    }
}

static impair_counters counters(impair_proxy *p)
{
    impair_counters c;
    impair_stats(p, &c);
    return c;
}

/* What wait_for waits for: arrivals (-1: any) and the proxy's dropped count. */
typedef struct until {
    impair_proxy *p;
    int server, client0, client1;
    uint64_t dropped;
} until;

static int reached(void *arg)
{
    side *s = (side *)arg;
    const until *u = s->until;
    impair_counters c = counters(u->p);
    return (u->server < 0 || s->n_server >= u->server) && (u->client0 < 0 || s->n_client[0] >= u->client0) &&
           (u->client1 < 0 || s->n_client[1] >= u->client1) && c.dropped >= u->dropped;
}

static void wait_for(side *s, impair_proxy *p, int server, int client0, int client1, uint64_t dropped)
{
    until u = {p, server, client0, client1, dropped};
    s->until = &u;
    if (!tl_run(on_event, s, reached, TL_TIMEOUT_MS)) {
        impair_counters c = counters(p);
        tl_fail(__FILE__, __LINE__, "wait_for",
                "server got %d (want %d), clients %d/%d (want %d/%d), proxy dropped %llu (want %llu), "
                "forwarded %llu",
                s->n_server, server, s->n_client[0], s->n_client[1], client0, client1, (unsigned long long)c.dropped,
                (unsigned long long)dropped, (unsigned long long)c.forwarded);
    }
    /* nothing beyond: a short pump catches extra copies */
    tl_run(on_event, s, NULL, 30);
}

/* Client 0 sends datagrams from..to-1 through the proxy; then wait_for
 * (server, client0, dropped), client 1 expecting nothing. */
static void send_wait(side *s, impair_proxy *p, uint32_t from, uint32_t to, int server, int client0, uint64_t dropped)
{
    send_range(s, 0, from, to);
    wait_for(s, p, server, client0, 0, dropped);
}

/* One phase: a fresh side and proxy (setup); client 0 sends datagrams
 * 0..n-1 and the test waits for them (send_wait). */
static impair_proxy *phase(side *s, const impair_config *cfg, int echo, uint32_t n, int server, int client0,
                           uint64_t dropped)
{
    impair_proxy *p = setup(s, cfg, echo);
    send_wait(s, p, 0, n, server, client0, dropped);
    return p;
}

static void check_in_order(const arrival *a, int n, uint32_t client)
{
    for (int i = 0; i < n; i++) {
        CHECKF(a[i].intact, "arrival %d (index %u) is not what was sent", i, (unsigned)a[i].index);
        CHECKF(a[i].index == (uint32_t)i && a[i].client == client, "arrival %d is index %u of client %u", i,
               (unsigned)a[i].index, (unsigned)a[i].client);
    }
}

static void test_clean(void)
{
    impair_config cfg;
    impair_config_init(&cfg);
    cfg.timeline_ms = 20;
    side s;
    impair_proxy *p = phase(&s, &cfg, 1, N, N, N, 0);
    CHECK_EQ(s.n_server, N);
    CHECK_EQ(s.n_client[0], N);
    check_in_order(s.at_server, N, 0);
    check_in_order(s.at_client[0], N, 0);
    /* the server sees the proxy's upstream socket, not the client */
    CHECK_EQ(s.n_senders, 1);
    CHECK(!tl_addr_eq(&s.senders[0], &s.client_addr[0]));
    impair_counters c = counters(p);
    CHECK_EQ(c.received, 2 * N);
    CHECK_EQ(c.to_target, N);
    CHECK_EQ(c.to_client, N);
    CHECK_EQ(c.forwarded, 2 * N);
    CHECK_EQ(c.dropped + c.duplicated + c.reordered + c.corrupted + c.overflow + c.send_failed, 0);
    CHECK_EQ(c.clients, 1);
    /* the timeline counts every byte sent on, each way */
    uint64_t sent_bytes = 0, t[1000];
    for (uint32_t i = 0; i < N; i++)
        sent_bytes += msg_len(i);
    for (uint32_t dir = IMPAIR_TO_TARGET; dir <= IMPAIR_TO_CLIENT; dir++) {
        size_t n = impair_timeline(p, dir, t, 1000);
        uint64_t sum = 0;
        CHECK(n >= 1);
        for (size_t i = 0; i < n; i++)
            sum += t[i];
        CHECK_EQ(sum, sent_bytes);
    }
    teardown(&s, p);
}

static void test_drop_all(void)
{
    impair_config cfg;
    impair_config_init(&cfg);
    cfg.drop = 1.0;
    side s;
    impair_proxy *p = phase(&s, &cfg, 1, N, 0, 0, N);
    CHECK_EQ(s.n_server, 0);
    impair_counters c = counters(p);
    CHECK_EQ(c.received, N);
    CHECK_EQ(c.dropped, N);
    CHECK_EQ(c.forwarded, 0);
    teardown(&s, p);
}

static void test_dup_all(void)
{
    impair_config cfg;
    impair_config_init(&cfg);
    cfg.dup = 1.0;
    cfg.directions = IMPAIR_TO_TARGET;
    side s;
    impair_proxy *p = setup(&s, &cfg, 1);
    /* twice each at the server; the echoes (not impaired) twice each too.
     * In four rounds, so the copies never outgrow a small socket buffer. */
    for (uint32_t i = 0; i < N; i += N / 4)
        send_wait(&s, p, i, i + N / 4, 2 * (int)(i + N / 4), 2 * (int)(i + N / 4), 0);
    CHECK_EQ(s.n_server, 2 * N);
    CHECK_EQ(s.n_client[0], 2 * N);
    for (int i = 0; i < 2 * N; i++) {
        CHECK(s.at_server[i].intact);
        CHECKF(s.at_server[i].index == (uint32_t)(i / 2), "arrival %d is index %u", i, (unsigned)s.at_server[i].index);
    }
    impair_counters c = counters(p);
    CHECK_EQ(c.duplicated, N);
    CHECK_EQ(c.forwarded, 2 * N + 2 * N);
    teardown(&s, p);
}

static void test_reorder(void)
{
    impair_config cfg;
    impair_config_init(&cfg);
    cfg.reorder = 0.2;
    cfg.reorder_gap = 3;
    cfg.seed = 7;
    cfg.directions = IMPAIR_TO_TARGET;
    side s;
    impair_proxy *p = phase(&s, &cfg, 0, N, N, 0, 0);
    CHECK_EQ(s.n_server, N);
    uint8_t seen[N] = {0};
    int late = 0; /* arrivals after a datagram sent later */
    uint32_t highest = 0;
    for (int i = 0; i < N; i++) {
        const arrival *a = &s.at_server[i];
        CHECK(a->intact);
        CHECKF(!seen[a->index], "index %u arrived twice", (unsigned)a->index);
        seen[a->index] = 1;
        if (i > 0 && a->index < highest)
            late++;
        if (a->index > highest)
            highest = a->index;
    }
    impair_counters c = counters(p);
    CHECKF(c.reordered >= N / 10 && c.reordered <= N / 3, "reordered %llu of %d at 20 %%",
           (unsigned long long)c.reordered, N);
    CHECK_EQ(late, c.reordered);
    CHECK_EQ(c.forwarded, N);
    teardown(&s, p);
}

static void test_corrupt_all(void)
{
    impair_config cfg;
    impair_config_init(&cfg);
    cfg.corrupt = 1.0;
    cfg.directions = IMPAIR_TO_TARGET;
    side s;
    impair_proxy *p = phase(&s, &cfg, 0, N, N, 0, 0);
    CHECK_EQ(s.n_server, N);
    for (int i = 0; i < N; i++) {
        CHECKF(!s.at_server[i].intact, "arrival %d came through unchanged", i);
        /* the length is kept: the original index is recoverable from it only
         * statistically, so check the set of lengths instead */
        CHECK(s.at_server[i].len >= 16 && s.at_server[i].len <= MAX_LEN);
    }
    impair_counters c = counters(p);
    CHECK_EQ(c.corrupted, N);
    teardown(&s, p);
}

/* Which indices pass a 30 % drop with this seed. */
static void dropped_set(uint64_t seed, uint8_t *passed)
{
    impair_config cfg;
    impair_config_init(&cfg);
    cfg.drop = 0.3;
    cfg.seed = seed;
    side s;
    impair_proxy *p = setup(&s, &cfg, 0);
    send_range(&s, 0, 0, N);
    impair_counters c;
    uint64_t start = tl_now_ms();
    do {
        tl_run(on_event, &s, NULL, 5);
        c = counters(p);
    } while (c.dropped + c.forwarded < N && tl_now_ms() - start < TL_TIMEOUT_MS);
    wait_for(&s, p, (int)c.forwarded, 0, 0, c.dropped);
    CHECK_EQ(c.dropped + c.forwarded, N);
    CHECKF(c.dropped >= N * 15 / 100 && c.dropped <= N * 45 / 100, "dropped %llu of %d at 30 %%",
           (unsigned long long)c.dropped, N);
    CHECK_EQ(s.n_server, (int)c.forwarded);
    memset(passed, 0, N);
    for (int i = 0; i < s.n_server; i++) {
        CHECK(s.at_server[i].intact);
        passed[s.at_server[i].index] = 1;
    }
    for (int i = 1; i < s.n_server; i++)
        CHECKF(s.at_server[i].index > s.at_server[i - 1].index, "arrival %d (index %u) out of order", i,
               (unsigned)s.at_server[i].index);
    teardown(&s, p);
}

static void test_seed(void)
{
    uint8_t a[N], b[N], other[N];
    dropped_set(42, a);
    dropped_set(42, b);
    dropped_set(43, other);
    CHECKF(memcmp(a, b, N) == 0, "seed 42 lost different datagrams in two runs");
    CHECKF(memcmp(a, other, N) != 0, "seeds 42 and 43 lost the same datagrams");
}

static void test_delay(void)
{
    impair_config cfg;
    impair_config_init(&cfg);
    cfg.delay_ms = 40;
    cfg.directions = IMPAIR_TO_TARGET;
    side s;
    impair_proxy *p = setup(&s, &cfg, 0);
    uint64_t sent = tl_now_ms();
    send_wait(&s, p, 0, 20, 20, 0, 0);
    uint64_t took = tl_now_ms() - sent;
    /* Windows' tick clock (GetTickCount64) moves in ~16 ms steps: allow one */
    CHECKF(took >= 40 - 17, "20 datagrams delayed by 40 ms arrived after %llu ms", (unsigned long long)took);
    check_in_order(s.at_server, 20, 0);
    teardown(&s, p);
}

static void test_burst(void)
{
    impair_config cfg;
    impair_config_init(&cfg);
    side s;
    impair_proxy *p = setup(&s, &cfg, 0);
    uint64_t start = tl_now_ms();
    impair_burst(p, 100);
    send_wait(&s, p, 0, 20, 0, 0, 20);
    impair_counters c = counters(p);
    CHECK_EQ(c.burst_dropped, 20);
    CHECK_EQ(s.n_server, 0);
    /* after the burst, everything passes again */
    while (tl_now_ms() - start <= 120)
        tl_run(on_event, &s, NULL, 10);
    send_wait(&s, p, 0, 20, 20, 0, 20);
    check_in_order(s.at_server, 20, 0);
    c = counters(p);
    CHECK_EQ(c.dropped, 20);
    teardown(&s, p);
}

static void test_two_clients(void)
{
    impair_config cfg;
    impair_config_init(&cfg);
    side s;
    impair_proxy *p = setup(&s, &cfg, 1);
    send_range(&s, 0, 0, 50);
    send_range(&s, 1, 0, 50);
    wait_for(&s, p, 100, 50, 50, 0);
    CHECK_EQ(s.n_senders, 2);
    check_in_order(s.at_client[0], 50, 0);
    check_in_order(s.at_client[1], 50, 1);
    impair_counters c = counters(p);
    CHECK_EQ(c.clients, 2);
    teardown(&s, p);
}

static void test_bad_rates(void)
{
    impair_config cfg;
    impair_config_init(&cfg);
    impair_proxy *p = (impair_proxy *)&cfg;
    cfg.dup = 1.5;
    CHECK(impair_start(&cfg, "127.0.0.1", 9, &p) == -1);
    CHECK(p == NULL);
    CHECKF(strstr(impair_last_error(), "dup") != NULL, "error: %s", impair_last_error());
    cfg.dup = 0;
    cfg.drop = -0.1;
    CHECK(impair_start(&cfg, "127.0.0.1", 9, &p) == -1);
    CHECKF(strstr(impair_last_error(), "drop") != NULL, "error: %s", impair_last_error());
    cfg.drop = 0;
    CHECK(impair_start(&cfg, "no such host.invalid", 9, &p) == -1);
    CHECKF(strstr(impair_last_error(), "target") != NULL, "error: %s", impair_last_error());
    /* a running proxy refuses a bad rate and keeps its old ones */
    CHECK(impair_start(&cfg, "127.0.0.1", 9, &p) == 0);
    cfg.reorder = 2.0;
    CHECK(impair_set_rates(p, &cfg) == -1);
    impair_stop(p);
    impair_stop(NULL);
}

int main(void)
{
    tl_init("impair");
    test_bad_rates();
    test_clean();
    test_drop_all();
    test_dup_all();
    test_reorder();
    test_corrupt_all();
    test_seed();
    test_delay();
    test_burst();
    test_two_clients();
    printf("ok\n");
    return 0;
}
