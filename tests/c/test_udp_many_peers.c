/* udp_many_peers: 50 client sockets send numbered datagrams to one server
 * socket, which echoes each to the sender address of its event. Every
 * client gets all of its own datagrams back, intact, and none of anyone
 * else's; the server sees each datagram once, from the right address. The
 * traffic is paced (a round of datagrams per client, then wait for the
 * echoes), so loopback has no reason to drop any: a loss fails the test. */
#include "testlib.h"

#define CLIENTS 50
#define ROUNDS 20
#define PER_ROUND 1 /* datagrams per client per round: 50 in flight, far below a socket buffer */
#define TOTAL (ROUNDS * PER_ROUND)

typedef struct peers {
    net_handle server;
    net_addr server_addr;
    net_handle client[CLIENTS];
    net_addr client_addr[CLIENTS];
    uint8_t server_seen[CLIENTS][TOTAL];
    uint8_t echo_seen[CLIENTS][TOTAL];
    int server_got, echo_got, echo_want;
} peers;

/* Datagram (client c, number n): 4-byte c, 4-byte n, pattern of seed c*1000+n. */
static uint32_t dgram_len(int c, int n)
{
    return 8 + (uint32_t)((c * 131 + n * 71) % 500);
}

static void parse(const net_event *ev, int *c_out, int *n_out)
{
    CHECKF(ev->len >= 8, "datagram of %u bytes", (unsigned)ev->len);
    const uint8_t *p = (const uint8_t *)ev->data;
    int c = (int)tl_get_le(p, 4), n = (int)tl_get_le(p + 4, 4);
    CHECKF(c >= 0 && c < CLIENTS && n >= 0 && n < TOTAL, "datagram header client %d number %d", c, n);
    CHECKF(ev->len == dgram_len(c, n), "client %d datagram %d: %u bytes, sent %u", c, n, (unsigned)ev->len,
           (unsigned)dgram_len(c, n));
    long long bad = tl_mismatch(p + 8, ev->len - 8, (uint64_t)c * 1000 + (uint64_t)n, 0);
    CHECKF(bad < 0, "client %d datagram %d: wrong byte at %lld", c, n, bad + 8);
    *c_out = c;
    *n_out = n;
}

static int client_index(const peers *x, net_handle h)
{
    for (int i = 0; i < CLIENTS; i++)
        if (x->client[i] == h)
            return i;
    return -1;
}

static void on_event(void *p, net_engine e, const net_event *ev)
{
    peers *x = (peers *)p;
    (void)e;
    CHECKF(ev->type == NET_EV_DATAGRAM, "unexpected %s status %d (%s)", tl_evname(ev->type), (int)ev->status,
           tl_errname(ev->status));
    int c, n;
    parse(ev, &c, &n);
    if (ev->handle == x->server) {
        CHECKF(tl_addr_eq(&ev->addr, &x->client_addr[c]), "datagram %d of client %d (%s) came from %s", n, c,
               tl_addr_str(&x->client_addr[c]), tl_addr_str(&ev->addr));
        CHECKF(!x->server_seen[c][n], "server got datagram %d of client %d twice", n, c);
        x->server_seen[c][n] = 1;
        x->server_got++;
        CHECK_OK(net_sendto(x->server, &ev->addr, ev->data, ev->len));
        return;
    }
    int me = client_index(x, ev->handle);
    CHECKF(me >= 0, "DATAGRAM for unknown handle %llu", (unsigned long long)ev->handle);
    CHECKF(c == me, "client %d got datagram %d of client %d", me, n, c);
    CHECKF(tl_addr_eq(&ev->addr, &x->server_addr), "client %d: echo from %s, the server is %s", me,
           tl_addr_str(&ev->addr), tl_addr_str(&x->server_addr));
    CHECK_EQ(ev->user, (uint64_t)me + 1);
    CHECKF(!x->echo_seen[c][n], "client %d got its datagram %d twice", c, n);
    x->echo_seen[c][n] = 1;
    x->echo_got++;
}

static int done(void *p)
{
    const peers *x = (const peers *)p;
    return x->echo_got == x->echo_want;
}

int main(void)
{
    tl_init("udp_many_peers");
    net_engine se = tl_engine(), ce = tl_engine();
    static peers x;
    net_udp_config cfg;
    net_udp_config_init(&cfg);
    x.server = tl_udp(se, NULL, &cfg, &x.server_addr);
    for (int i = 0; i < CLIENTS; i++) {
        cfg.user = (uint64_t)i + 1;
        x.client[i] = tl_udp(ce, NULL, &cfg, &x.client_addr[i]);
        for (int k = 0; k < i; k++)
            CHECK(x.client_addr[k].port != x.client_addr[i].port);
    }

    uint8_t buf[8 + 500];
    uint64_t t0 = tl_now_ms();
    for (int r = 0; r < ROUNDS; r++) {
        for (int k = 0; k < PER_ROUND; k++) {
            for (int c = 0; c < CLIENTS; c++) {
                int n = r * PER_ROUND + k;
                uint32_t len = dgram_len(c, n);
                tl_put_le(buf, (uint64_t)c, 4);
                tl_put_le(buf + 4, (uint64_t)n, 4);
                tl_fill(buf + 8, len - 8, (uint64_t)c * 1000 + (uint64_t)n, 0);
                CHECK_OK(net_sendto(x.client[c], &x.server_addr, buf, len));
            }
        }
        x.echo_want += CLIENTS * PER_ROUND;
        if (!tl_run(on_event, &x, done, TL_TIMEOUT_MS)) {
            for (int c = 0; c < CLIENTS; c++)
                for (int n = 0; n < (r + 1) * PER_ROUND; n++)
                    if (!x.echo_seen[c][n])
                        printf("  missing: client %d datagram %d (server %s it)\n", c, n,
                               x.server_seen[c][n] ? "echoed" : "never got");
            tl_fail(__FILE__, __LINE__, "round", "round %d: %d of %d echoes back, server got %d", r, x.echo_got,
                    x.echo_want, x.server_got);
        }
    }
    /* nothing more arrives */
    tl_run(on_event, &x, NULL, 50);
    CHECK_EQ(x.server_got, CLIENTS * TOTAL);
    CHECK_EQ(x.echo_got, CLIENTS * TOTAL);
    printf("  %d datagrams echoed to %d peers in %llu ms\n", CLIENTS * TOTAL, CLIENTS,
           (unsigned long long)(tl_now_ms() - t0));

    net_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    CHECK_OK(net_engine_stats(ce, &st));
    CHECK_EQ(st.udp_sockets, CLIENTS);
    CHECK_EQ(st.datagrams_in, CLIENTS * TOTAL);
    CHECK_EQ(st.datagrams_dropped, 0);
    CHECK_OK(net_engine_stats(se, &st));
    CHECK_EQ(st.udp_sockets, 1);
    CHECK_EQ(st.datagrams_in, CLIENTS * TOTAL);

    for (int i = 0; i < CLIENTS; i++)
        CHECK_OK(net_close(x.client[i]));
    for (int i = 0; i < CLIENTS; i++) {
        net_event ev;
        TL_EXPECT(ce, NET_EV_CLOSE, x.client[i], &ev);
        CHECK_EQ(ev.status, 0);
    }
    CHECK_EQ(tl_close_wait(se, x.server), 0);
    CHECK_OK(net_engine_stats(ce, &st));
    CHECK_EQ(st.udp_sockets, 0);
    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
