/* uring_fallback: when io_uring cannot be used (forced here with the
 * test-only NET_TEST_DISABLE_URING=1, which makes the io_uring probe fail the
 * way a seccomp profile or kernel.io_uring_disabled does), an `auto` engine
 * runs on epoll, says so through net_backend_name(), and every call works;
 * an explicit io_uring request fails with NET_E_UNSUPPORTED. Where io_uring
 * works, `auto` prefers it, and the io_uring backend with every optional
 * kernel feature turned off (NET_TEST_URING_DEGRADE=1: single-shot accept and
 * recv, per-operation cancels, whole buffers, no COOP/DEFER_TASKRUN) still
 * passes the same workload.
 *
 * The test picks backends itself: it ignores NET_BACKEND (it unsets it) and
 * honours NET_TEST_IO_THREADS. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#    define _POSIX_C_SOURCE 200809L /* setenv, unsetenv under -std=c11 */
#endif
#include "testlib.h"

static int create(uint32_t backend, net_engine *out)
{
    net_config cfg;
    tl_config(&cfg);
    cfg.backend = backend;
    *out = 0;
    return net_engine_create(&cfg, out);
}

typedef struct echo {
    net_handle client, server;
    int sent, got, server_got;
    uint64_t bytes;
} echo;

static void on_echo(void *p, net_engine e, const net_event *ev)
{
    echo *x = (echo *)p;
    (void)e;
    CHECKF(ev->type == NET_EV_DATA, "unexpected %s status %d", tl_evname(ev->type), (int)ev->status);
    if (ev->handle == x->server) {
        x->server_got++;
        CHECK_OK(net_send(x->server, ev->data, ev->len));
        return;
    }
    CHECK(ev->handle == x->client);
    uint32_t want = (uint32_t)(x->got * 37 % 3000) + 1;
    CHECKF(ev->len == want, "echo %d: %u bytes, expected %u", x->got, (unsigned)ev->len, (unsigned)want);
    long long bad = tl_mismatch(ev->data, ev->len, (uint64_t)x->got, 0);
    CHECKF(bad < 0, "echo %d: wrong byte at %lld", x->got, bad);
    x->got++;
    x->bytes += ev->len;
}

static int echo_done(void *p)
{
    echo *x = (echo *)p;
    return x->got == x->sent;
}

/* One engine, every kind of call, on whatever backend it runs. */
static void workload(net_engine e, const char *want_backend)
{
    CHECKF(strcmp(net_backend_name(e), want_backend) == 0, "backend '%s', expected '%s'", net_backend_name(e),
           want_backend);
    printf("  workload on %s\n", net_backend_name(e));

    /* listener, connect, accept, addresses */
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U16LE, 0);
    tcp.user = 42;
    uint16_t port;
    net_handle l = tl_listen(e, &tcp, &port);
    net_addr a;
    CHECK_OK(net_local_addr(l, &a));
    CHECK_EQ(a.port, port);
    echo x;
    memset(&x, 0, sizeof x);
    tl_pair(e, e, l, port, &tcp, &x.client, &x.server);
    net_addr ca, sp;
    CHECK_OK(net_local_addr(x.client, &ca));
    CHECK_OK(net_peer_addr(x.server, &sp));
    CHECK_EQ(ca.port, sp.port);
    char text[64];
    CHECK(net_addr_format(&sp, text, sizeof text) > 0);

    /* options and user data */
    int64_t v = -1;
    CHECK_OK(net_set_option(x.client, NET_OPT_NODELAY, 1));
    CHECK_OK(net_get_option(x.client, NET_OPT_NODELAY, &v));
    CHECK_EQ(v, 1);
    CHECK_OK(net_set_option(x.server, NET_OPT_SNDBUF, 256 * 1024));
    CHECK_OK(net_get_option(x.server, NET_OPT_SNDBUF, &v));
    CHECK(v > 0);
    uint64_t u = 0;
    CHECK_OK(net_set_user(x.client, 7));
    CHECK_OK(net_get_user(x.client, &u));
    CHECK_EQ(u, 7);

    /* echo: many sizes, many in flight */
    static uint8_t buf[3000];
    for (int i = 0; i < 500; i++) {
        uint32_t len = (uint32_t)(i * 37 % 3000) + 1;
        tl_fill(buf, len, (uint64_t)i, 0);
        tl_send(x.client, buf, len);
        x.sent++;
    }
    TL_RUN(on_echo, &x, echo_done);
    CHECK_EQ(x.server_got, 500);

    /* sendv and broadcast */
    net_event ev;
    net_buf parts[3] = {{"ab", 2}, {"", 0}, {"cde", 3}};
    CHECK_OK(net_sendv(x.client, parts, 3));
    TL_EXPECT(e, NET_EV_DATA, x.server, &ev);
    CHECK(ev.len == 5 && memcmp(ev.data, "abcde", 5) == 0);
    int results[2] = {1, 1};
    net_handle both[2] = {x.client, x.server};
    CHECK_RC(net_broadcast(both, 2, "bc", 2, results), 2);
    CHECK_EQ(results[0], 0);
    CHECK_EQ(results[1], 0);
    TL_EXPECT(e, NET_EV_DATA, x.server, &ev);
    CHECK(ev.len == 2 && memcmp(ev.data, "bc", 2) == 0);
    TL_EXPECT(e, NET_EV_DATA, x.client, &ev);
    CHECK(ev.len == 2 && memcmp(ev.data, "bc", 2) == 0);
    uint64_t q = 99;
    CHECK_OK(net_send_queued(x.client, &q));

    /* post, wakeup, timers, stats */
    CHECK_OK(net_post(e, 0x1234));
    TL_EXPECT(e, NET_EV_USER, 0, &ev);
    CHECK_EQ(ev.user, 0x1234);
    CHECK_OK(net_wakeup(e));
    net_handle tm;
    CHECK_OK(net_timer_start(e, 5, 0, 77, &tm));
    TL_EXPECT(e, NET_EV_TIMER, tm, &ev);
    CHECK_EQ(ev.user, 77);
    net_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    CHECK_OK(net_engine_stats(e, &st));
    CHECK(st.connections == 2 && st.messages_in >= 1000 && st.bytes_in >= 2 * x.bytes);

    /* half-close: the server may still answer, then the connection ends
     * orderly on both sides, one CLOSE each */
    CHECK_OK(net_send(x.server, "before-fin", 10));
    CHECK_OK(net_shutdown(x.client));
    TL_EXPECT(e, NET_EV_DATA, x.client, &ev);
    CHECK(ev.len == 10);
    TL_EXPECT(e, NET_EV_CLOSE, x.server, &ev);
    CHECK_EQ(ev.status, 0);
    TL_EXPECT(e, NET_EV_CLOSE, x.client, &ev);
    CHECK_EQ(ev.status, 0);
    CHECK_RC(net_send(x.client, "x", 1), NET_E_BADHANDLE);

    /* abort: the peer sees an error */
    net_handle c2, s2;
    tl_pair(e, e, l, port, &tcp, &c2, &s2);
    CHECK_OK(net_send(c2, "queued", 6));
    CHECK_OK(net_abort(c2));
    TL_EXPECT(e, NET_EV_CLOSE, c2, &ev);
    CHECK_EQ(ev.status, NET_E_ABORTED);
    TL_EXPECT(e, NET_EV_CLOSE, s2, &ev);

    /* a connection refused; the listener closes with its own CLOSE */
    CHECK_EQ(tl_close_wait(e, l), 0);
    net_handle bad = tl_connect(e, port, &tcp);
    TL_EXPECT(e, NET_EV_CONNECT, bad, &ev);
    CHECK(ev.status < 0);
    TL_EXPECT(e, NET_EV_CLOSE, bad, &ev);

    /* a connection left open is closed by destroy */
    l = tl_listen(e, &tcp, &port);
    tl_pair(e, e, l, port, &tcp, &c2, &s2);
    CHECK_OK(net_send(c2, "left", 4));
    tl_engine_destroy(e);
}

int main(void)
{
    tl_init("uring_fallback");
#if defined(_WIN32) || !defined(__linux__)
    tl_skip("io_uring is Linux only");
#else
    unsetenv("NET_BACKEND");
    unsetenv("NET_TEST_URING_DEGRADE");
    net_engine e;

    /* io_uring made unavailable */
    setenv("NET_TEST_DISABLE_URING", "1", 1);
    int rc = create(NET_BACKEND_IO_URING, &e);
    CHECKF(rc == NET_E_UNSUPPORTED, "explicit io_uring with io_uring unavailable: %d (%s)", rc, tl_errname(rc));
    CHECK_EQ(e, 0);
    printf("  explicit io_uring: %s (%s)\n", tl_errname(rc), net_strerror(rc));
    setenv("NET_BACKEND", "io_uring", 1); /* the environment asking for it is explicit too */
    rc = create(NET_BACKEND_AUTO, &e);
    CHECKF(rc == NET_E_UNSUPPORTED, "NET_BACKEND=io_uring with io_uring unavailable: %d (%s)", rc, tl_errname(rc));
    unsetenv("NET_BACKEND");
    net_config cfg;
    tl_config(&cfg);
    workload(tl_engine_with(&cfg), "epoll");
    setenv("NET_BACKEND", "auto", 1);
    CHECK_OK(create(NET_BACKEND_AUTO, &e));
    CHECKF(strcmp(net_backend_name(e), "epoll") == 0, "NET_BACKEND=auto runs '%s'", net_backend_name(e));
    CHECK_OK(net_engine_destroy(e));
    unsetenv("NET_BACKEND");

    /* io_uring available again (if the kernel and the build have it) */
    unsetenv("NET_TEST_DISABLE_URING");
    rc = create(NET_BACKEND_IO_URING, &e);
    if (rc == NET_E_UNSUPPORTED) {
        printf("  io_uring unavailable here (not built, or refused by the kernel): auto runs %s\n",
               "the fallback, checked above");
        printf("ok\n");
        return 0;
    }
    CHECK_OK(rc);
    CHECK_OK(net_engine_destroy(e));
    /* auto prefers io_uring */
    workload(tl_engine_with(&cfg), "io_uring");

    /* io_uring with every optional feature off */
    setenv("NET_TEST_URING_DEGRADE", "1", 1);
    cfg.backend = NET_BACKEND_IO_URING;
    workload(tl_engine_with(&cfg), "io_uring");
    unsetenv("NET_TEST_URING_DEGRADE");
    printf("ok\n");
    return 0;
#endif
}
