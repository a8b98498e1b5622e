/* udp_echo: a client socket sends datagrams of 0, 1, 1200 and 65507 bytes
 * to a server socket that echoes each one to the sender address of its
 * event; every echo comes back byte-exact, one DATAGRAM per datagram, and
 * every event names the real sender. IPv4 and IPv6 (the IPv6 part is
 * skipped, saying so, where ::1 cannot be bound), one engine and two. */
#include "testlib.h"

static const uint32_t sizes[] = {0, 1, 1200, NET_UDP_MAX_PAYLOAD};
#define NSIZES ((int)(sizeof sizes / sizeof sizes[0]))
#define BURST 40 /* mixed-size datagrams sent without waiting */

typedef struct echo {
    net_handle server, client;
    net_addr server_addr, client_addr;
    uint64_t server_user, client_user;
    int server_got; /* datagrams the server echoed */
    int want;       /* echoes the client waits for in this phase */
    int got;
    uint8_t seen[BURST];
    int burst; /* 0: the one-by-one phase; 1: the burst */
    int index; /* one-by-one: index into sizes of the datagram in flight */
} echo;

/* Burst datagram i: 4-byte index, then the pattern of seed 100 + i. */
static uint32_t burst_len(int i)
{
    return 4 + (uint32_t)(i * 37 % 1400);
}

static void check_payload(const echo *x, const net_event *ev, int *index_out)
{
    if (!x->burst) {
        uint32_t want = sizes[x->index];
        CHECKF(ev->len == want, "echo of the %u-byte datagram has %u bytes", (unsigned)want, (unsigned)ev->len);
        long long bad = tl_mismatch(ev->data, ev->len, (uint64_t)x->index, 0);
        CHECKF(bad < 0, "echo of %u bytes: wrong byte at %lld", (unsigned)want, bad);
        *index_out = x->index;
        return;
    }
    CHECKF(ev->len >= 4, "burst datagram of %u bytes", (unsigned)ev->len);
    int i = (int)tl_get_le((const uint8_t *)ev->data, 4);
    CHECKF(i >= 0 && i < BURST, "burst datagram index %d", i);
    CHECKF(ev->len == burst_len(i), "burst datagram %d: %u bytes, sent %u", i, (unsigned)ev->len,
           (unsigned)burst_len(i));
    long long bad = tl_mismatch((const uint8_t *)ev->data + 4, ev->len - 4, 100 + (uint64_t)i, 0);
    CHECKF(bad < 0, "burst datagram %d: wrong byte at %lld", i, bad + 4);
    *index_out = i;
}

static void on_event(void *p, net_engine e, const net_event *ev)
{
    echo *x = (echo *)p;
    (void)e;
    CHECKF(ev->type == NET_EV_DATAGRAM, "unexpected %s status %d (%s)", tl_evname(ev->type), (int)ev->status,
           tl_errname(ev->status));
    CHECK_EQ(ev->status, 0);
    int index;
    if (ev->handle == x->server) {
        CHECK_EQ(ev->user, x->server_user);
        CHECKF(tl_addr_eq(&ev->addr, &x->client_addr), "server: datagram from %s, the client is %s",
               tl_addr_str(&ev->addr), tl_addr_str(&x->client_addr));
        check_payload(x, ev, &index);
        x->server_got++;
        CHECK_OK(net_sendto(x->server, &ev->addr, ev->data, ev->len));
        return;
    }
    CHECKF(ev->handle == x->client, "DATAGRAM for unknown handle %llu", (unsigned long long)ev->handle);
    CHECK_EQ(ev->user, x->client_user);
    CHECKF(tl_addr_eq(&ev->addr, &x->server_addr), "client: datagram from %s, the server is %s", tl_addr_str(&ev->addr),
           tl_addr_str(&x->server_addr));
    CHECKF(x->got < x->want, "extra echo of %u bytes", (unsigned)ev->len);
    check_payload(x, ev, &index);
    if (x->burst) {
        CHECKF(!x->seen[index], "burst datagram %d echoed twice", index);
        x->seen[index] = 1;
    }
    x->got++;
}

static int done(void *p)
{
    const echo *x = (const echo *)p;
    return x->got == x->want;
}

static void run(const char *host, int two_engines)
{
    printf("  %s, %s\n", host, two_engines ? "two engines" : "one engine");
    net_engine se = tl_engine(), ce = two_engines ? tl_engine() : se;
    echo x;
    memset(&x, 0, sizeof x);
    net_udp_config cfg;
    net_udp_config_init(&cfg);
    cfg.user = x.server_user = 0x5E5E;
    x.server = tl_udp(se, host, &cfg, &x.server_addr);
    cfg.user = x.client_user = 0xC1C1;
    x.client = tl_udp(ce, host, &cfg, &x.client_addr);
    CHECK(x.server_addr.port != x.client_addr.port);
    /* bound where asked: the address net_addr_parse makes of the same text */
    net_addr want;
    CHECK_OK(net_addr_parse(host, x.server_addr.port, &want));
    CHECKF(tl_addr_eq(&x.server_addr, &want), "server bound to %s, asked for %s", tl_addr_str(&x.server_addr),
           tl_addr_str(&want));
    CHECK_OK(net_addr_parse(host, x.client_addr.port, &want));
    CHECKF(tl_addr_eq(&x.client_addr, &want), "client bound to %s, asked for %s", tl_addr_str(&x.client_addr),
           tl_addr_str(&want));

    /* one at a time: each size on its own, so a loss names its size */
    uint8_t *buf = (uint8_t *)tl_xmalloc(NET_UDP_MAX_PAYLOAD);
    for (int i = 0; i < NSIZES; i++) {
        x.index = i;
        x.want = 1;
        x.got = 0;
        tl_fill(buf, sizes[i], (uint64_t)i, 0);
        CHECK_OK(net_sendto(x.client, &x.server_addr, buf, sizes[i]));
        if (!tl_run(on_event, &x, done, TL_TIMEOUT_MS))
            tl_fail(__FILE__, __LINE__, "echo", "no echo of the %u-byte datagram (server saw %d datagrams)",
                    (unsigned)sizes[i], x.server_got);
    }
    CHECK_EQ(x.server_got, NSIZES);

    /* a burst: boundaries hold when many datagrams travel in one batch */
    x.burst = 1;
    x.want = BURST;
    x.got = 0;
    for (int i = 0; i < BURST; i++) {
        uint32_t n = burst_len(i);
        tl_put_le(buf, (uint64_t)i, 4);
        tl_fill(buf + 4, n - 4, 100 + (uint64_t)i, 0);
        CHECK_OK(net_sendto(x.client, &x.server_addr, buf, n));
    }
    free(buf);
    if (!tl_run(on_event, &x, done, TL_TIMEOUT_MS))
        tl_fail(__FILE__, __LINE__, "burst", "%d of %d echoes back (server saw %d)", x.got, BURST,
                x.server_got - NSIZES);
    /* nothing more arrives */
    tl_run(on_event, &x, NULL, 50);
    CHECK_EQ(x.server_got, NSIZES + BURST);

    CHECK_EQ(tl_close_wait(ce, x.client), 0);
    CHECK_EQ(tl_close_wait(se, x.server), 0);
    if (two_engines)
        tl_engine_destroy(ce);
    tl_engine_destroy(se);
}

int main(void)
{
    tl_init("udp_echo");
    for (int two = 0; two < 2; two++)
        run("127.0.0.1", two);

    /* IPv6 only where the host has a loopback for it */
    net_engine probe = tl_engine();
    net_udp_config cfg;
    net_udp_config_init(&cfg);
    net_handle u = 0;
    int rc = net_udp_open(probe, "::1", 0, &cfg, &u);
    if (rc == NET_OK) {
        CHECK_EQ(tl_close_wait(probe, u), 0);
        tl_engine_destroy(probe);
        for (int two = 0; two < 2; two++)
            run("::1", two);
    } else {
        CHECKF(rc == NET_E_ADDR || rc == NET_E_OS || rc == NET_E_UNSUPPORTED || rc == NET_E_UNREACHABLE,
               "net_udp_open(\"::1\") returned %d (%s)", rc, tl_errname(rc));
        printf("  IPv6 part skipped: no IPv6 loopback here (net_udp_open(\"::1\") returned %s)\n", tl_errname(rc));
        tl_engine_destroy(probe);
    }
    printf("ok\n");
    return 0;
}
