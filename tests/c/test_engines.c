/* engines: several engines live side by side (also each driven by its own
 * thread), engines die with sockets, timers and queued data still open,
 * and an older caller's shorter config is read only as far as its size. */
#include "testlib.h"

/* One engine, one thread: a client and its accepted peer ping-pong 200
 * framed messages, using nothing but net.h on this thread. */
typedef struct solo {
    int failed;
    int rounds;
    char why[128];
} solo;

static void solo_main(void *arg)
{
    solo *s = (solo *)arg;
    net_config cfg;
    tl_config(&cfg);
    net_engine e = 0;
    net_handle l = 0, c = 0, srv = 0;
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U16BE, 0);
    net_addr la;
    if (net_engine_create(&cfg, &e) != 0 || net_listen(e, "127.0.0.1", 0, &tcp, &l) != 0 ||
        net_local_addr(l, &la) != 0 || net_connect(e, "127.0.0.1", la.port, &tcp, &c) != 0) {
        snprintf(s->why, sizeof s->why, "setup failed");
        s->failed = 1;
        return;
    }
    uint32_t next = 0;
    uint64_t end = tl_now_ms() + TL_TIMEOUT_MS;
    net_event ev[32];
    while (s->rounds < 200 && !s->failed) {
        if (tl_now_ms() > end) {
            snprintf(s->why, sizeof s->why, "timed out after %d rounds", s->rounds);
            s->failed = 1;
            break;
        }
        int n = net_poll(e, ev, 32, 10);
        if (n < 0) {
            snprintf(s->why, sizeof s->why, "net_poll %d", n);
            s->failed = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            uint8_t msg[4];
            if (ev[i].type == NET_EV_ACCEPT) {
                srv = ev[i].handle;
            } else if (ev[i].type == NET_EV_CONNECT) {
                tl_put_le(msg, next, 4);
                if (ev[i].status != 0 || net_send(c, msg, 4) != 0)
                    s->failed = 1;
            } else if (ev[i].type == NET_EV_DATA && ev[i].handle == srv) {
                if (net_send(srv, ev[i].data, ev[i].len) != 0) /* echo */
                    s->failed = 1;
            } else if (ev[i].type == NET_EV_DATA && ev[i].handle == c) {
                if (ev[i].len != 4 || tl_get_le((const uint8_t *)ev[i].data, 4) != next) {
                    snprintf(s->why, sizeof s->why, "round %d: bad echo", s->rounds);
                    s->failed = 1;
                    break;
                }
                s->rounds++;
                tl_put_le(msg, ++next, 4);
                if (net_send(c, msg, 4) != 0)
                    s->failed = 1;
            } else if (ev[i].type == NET_EV_CLOSE) {
                snprintf(s->why, sizeof s->why, "unexpected CLOSE status %d", (int)ev[i].status);
                s->failed = 1;
            }
        }
    }
    if (net_engine_destroy(e) != 0 && !s->failed) {
        snprintf(s->why, sizeof s->why, "net_engine_destroy failed");
        s->failed = 1;
    }
}

int main(void)
{
    tl_init("engines");

    /* Two engines in this thread: a client in A reaches a listener in B and
     * the other way round. */
    net_engine a = tl_engine(), b = tl_engine();
    CHECK(a != b);
    uint16_t pa, pb;
    net_handle la = tl_listen(a, NULL, &pa), lb = tl_listen(b, NULL, &pb);
    net_handle ab_c, ab_s, ba_c, ba_s;
    tl_pair(a, b, lb, pb, NULL, &ab_c, &ab_s);
    tl_pair(b, a, la, pa, NULL, &ba_c, &ba_s);
    CHECK_OK(net_send(ab_c, "to-b", 4));
    CHECK_OK(net_send(ba_c, "to-a", 4));
    net_event ev;
    TL_EXPECT(b, NET_EV_DATA, ab_s, &ev);
    CHECK(ev.len == 4 && memcmp(ev.data, "to-b", 4) == 0);
    TL_EXPECT(a, NET_EV_DATA, ba_s, &ev);
    CHECK(ev.len == 4 && memcmp(ev.data, "to-a", 4) == 0);
    /* a handle of engine A means nothing to engine B's calls and vice versa:
     * each call finds its engine through the handle itself */
    CHECK_OK(net_send(ab_s, "back", 4));
    TL_EXPECT(a, NET_EV_DATA, ab_c, &ev);
    CHECK(ev.len == 4 && memcmp(ev.data, "back", 4) == 0);
    tl_engine_destroy(a);
    /* B's peer of the destroyed A sees its connections end */
    TL_EXPECT(b, NET_EV_CLOSE, ab_s, &ev);
    TL_EXPECT(b, NET_EV_CLOSE, ba_c, &ev);
    tl_engine_destroy(b);

    /* Destroying with everything still open: listeners, connections with
     * megabytes queued, timers. Repeated, to shake out leaks and races with
     * the I/O threads. */
    static uint8_t big[256 * 1024];
    tl_fill(big, sizeof big, 1, 0);
    for (int round = 0; round < 15; round++) {
        net_engine e = tl_engine();
        uint16_t port;
        net_handle l = tl_listen(e, NULL, &port);
        net_handle c, s;
        tl_pair(e, e, l, port, NULL, &c, &s);
        for (int i = 0; i < 16; i++)
            CHECK_OK(net_send(c, big, sizeof big));
        net_handle t;
        CHECK_OK(net_timer_start(e, 1, 1, 7, &t));
        net_handle pending = tl_connect(e, port, NULL); /* maybe not yet connected */
        (void)pending;
        tl_pump(round % 3); /* sometimes some I/O in between */
        tl_engine_destroy(e);
    }

    /* destroy twice, destroy nothing */
    net_engine e = tl_engine();
    tl_engine_destroy(e);
    CHECK_RC(net_engine_destroy(e), NET_E_BADHANDLE);
    CHECK_RC(net_engine_destroy(0), NET_E_BADHANDLE);

    /* bad arguments to create */
    net_config cfg;
    tl_config(&cfg);
    /* (a NULL config may mean the defaults or be refused; never a crash) */
    e = 0;
    int rc = net_engine_create(NULL, &e);
    CHECKF(rc == NET_OK || rc == NET_E_INVAL, "net_engine_create(NULL) returned %d (%s)", rc, tl_errname(rc));
    if (rc == NET_OK)
        CHECK_OK(net_engine_destroy(e));
    CHECK_RC(net_engine_create(&cfg, NULL), NET_E_INVAL);

    /* An older caller whose config ends before idle_timeout_ms: what lies
     * past its size is not read (here: garbage that would close every
     * connection after 1 ms). */
    tl_config(&cfg);
    cfg.size = (uint32_t)offsetof(net_config, idle_timeout_ms);
    cfg.idle_timeout_ms = 1;
    cfg.close_timeout_ms = 1;
    cfg.event_batch = 0xFFFFFFFFu;
    e = tl_engine_with(&cfg);
    uint16_t port;
    net_handle l = tl_listen(e, NULL, &port);
    net_handle c, s;
    tl_pair(e, e, l, port, NULL, &c, &s);
    int64_t v = -1;
    CHECK_OK(net_get_option(c, NET_OPT_IDLE_TIMEOUT, &v));
    CHECKF(v == 0, "idle timeout %lld read from past the config's size", (long long)v);
    tl_pump(150);
    CHECK_EQ(tl_pending(e, NET_EV_CLOSE, 0), 0);
    CHECK_OK(net_send(c, "x", 1));
    TL_EXPECT(e, NET_EV_DATA, s, &ev);
    tl_engine_destroy(e);

    /* Three engines, each polled by its own thread at the same time. */
    solo solos[3];
    tl_thread *th[3];
    memset(solos, 0, sizeof solos);
    for (int i = 0; i < 3; i++)
        th[i] = tl_thread_start(solo_main, &solos[i]);
    for (int i = 0; i < 3; i++)
        tl_thread_join(th[i]);
    for (int i = 0; i < 3; i++)
        CHECKF(!solos[i].failed && solos[i].rounds == 200, "engine thread %d: %s (rounds %d)", i, solos[i].why,
               solos[i].rounds);

    printf("ok\n");
    return 0;
}
