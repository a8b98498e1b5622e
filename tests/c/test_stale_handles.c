/* stale_handles: zero, made-up, closed, wrong-type handles and handles of
 * a destroyed engine give NET_E_BADHANDLE from every call, never a crash;
 * bad arguments give NET_E_INVAL. */
#include "testlib.h"

/* The call must say NET_E_BADHANDLE; `subject` is the handle under test. */
#define BAD(call)                                                                                                      \
    do {                                                                                                               \
        int rc_ = (call);                                                                                              \
        CHECKF(rc_ == NET_E_BADHANDLE, "%s 0x%016llx: %s returned %d (%s)", what, (unsigned long long)subject, #call,  \
               rc_, tl_errname(rc_));                                                                                  \
    } while (0)

/* Every call that takes a connection. */
static void conn_calls_bad(net_handle h, const char *what)
{
    uint64_t subject = h;
    uint64_t u;
    net_addr a;
    net_buf b = {"x", 1};
    int r;
    BAD(net_send(h, "x", 1));
    BAD(net_sendv(h, &b, 1));
    BAD(net_shutdown(h));
    BAD(net_abort(h));
    BAD(net_peer_addr(h, &a));
    BAD(net_send_queued(h, &u));
    r = 7;
    CHECK_RC(net_broadcast(&h, 1, "x", 1, &r), 0);
    CHECKF(r == NET_E_BADHANDLE, "%s: broadcast result %d", what, r);
}

/* Every call that takes any handle. */
static void any_calls_bad(net_handle h, const char *what)
{
    uint64_t subject = h;
    uint64_t u;
    int64_t v;
    net_addr a;
    conn_calls_bad(h, what);
    BAD(net_set_user(h, 1));
    BAD(net_get_user(h, &u));
    BAD(net_set_option(h, NET_OPT_NODELAY, 1));
    BAD(net_get_option(h, NET_OPT_NODELAY, &v));
    BAD(net_local_addr(h, &a));
    BAD(net_close(h));
}

static void engine_calls_bad(net_engine e, const char *what)
{
    uint64_t subject = e;
    net_event ev[4];
    net_stats st;
    net_handle h;
    net_tcp_config tcp;
    net_tcp_config_init(&tcp);
    st.size = sizeof st;
    BAD(net_poll(e, ev, 4, 0));
    BAD(net_wakeup(e));
    BAD(net_post(e, 1));
    BAD(net_engine_stats(e, &st));
    BAD(net_listen(e, "127.0.0.1", 0, &tcp, &h));
    BAD(net_connect(e, "127.0.0.1", 9, &tcp, &h));
    BAD(net_timer_start(e, 10, 0, 0, &h));
    BAD(net_engine_destroy(e));
    CHECKF(net_backend_name(e) != NULL && net_backend_name(e)[0] == '\0', "%s: net_backend_name", what);
}

int main(void)
{
    tl_init("stale_handles");
    net_engine e = tl_engine();
    uint16_t port;
    net_handle l = tl_listen(e, NULL, &port);
    net_handle c, s, t;
    tl_pair(e, e, l, port, NULL, &c, &s);
    CHECK_OK(net_timer_start(e, 60000, 0, 0, &t));

    /* zero */
    any_calls_bad(0, "zero handle");
    engine_calls_bad(0, "zero engine");

    /* made up, including real handles with high bits flipped */
    const net_handle made_up[] = {1,
                                  2,
                                  0xFFFFFFFFull,
                                  UINT64_MAX,
                                  0x8000000000000000ull,
                                  0xDEADBEEFCAFEBABEull,
                                  c ^ 0xFFFF000000000000ull,
                                  c ^ 0x00000000FFFF0000ull,
                                  s ^ 0x0F0F000000000000ull,
                                  l ^ 0x8000000080000000ull,
                                  t ^ 0xFFFF000000000000ull};
    for (size_t i = 0; i < sizeof made_up / sizeof made_up[0]; i++) {
        net_handle h = made_up[i];
        if (h == c || h == s || h == l || h == t)
            continue;
        any_calls_bad(h, "made-up handle");
        if (h != (net_handle)e)
            engine_calls_bad((net_engine)h, "made-up engine");
    }

    /* wrong types: a timer is no connection, a listener has no peer */
    conn_calls_bad(t, "timer");
    conn_calls_bad(l, "listener");
    /* ... but the calls meant for any handle work on them */
    uint64_t u;
    net_addr a;
    CHECK_OK(net_set_user(t, 5));
    CHECK_OK(net_get_user(t, &u));
    CHECK_OK(net_local_addr(l, &a));

    /* all that changed nothing: the pair still works */
    net_event ev;
    CHECK_OK(net_send(c, "ok", 2));
    TL_EXPECT(e, NET_EV_DATA, s, &ev);

    /* closed: after the CLOSE event (connections, listeners), at once (timers) */
    CHECK_OK(net_close(c));
    int rc = net_send(c, "late", 4); /* closing, not yet closed */
    CHECKF(rc == NET_E_CLOSED || rc == NET_E_BADHANDLE, "net_send after net_close: %d (%s)", rc, tl_errname(rc));
    TL_EXPECT(e, NET_EV_CLOSE, c, &ev);
    TL_EXPECT(e, NET_EV_CLOSE, s, &ev);
    CHECK_EQ(tl_close_wait(e, l), 0);
    CHECK_OK(net_close(t));
    any_calls_bad(c, "closed connection");
    any_calls_bad(s, "closed peer connection");
    any_calls_bad(l, "closed listener");
    any_calls_bad(t, "closed timer");

    /* fired one-shot timer: closing it is harmless either way */
    net_handle t1;
    CHECK_OK(net_timer_start(e, 1, 0, 0, &t1));
    TL_EXPECT(e, NET_EV_TIMER, t1, &ev);
    rc = net_close(t1);
    CHECKF(rc == NET_OK || rc == NET_E_BADHANDLE, "net_close(fired one-shot timer): %d", rc);
    CHECK_RC(net_close(t1), NET_E_BADHANDLE);

    /* slots get reused with new generations: old handles stay dead */
    net_handle l2 = tl_listen(e, NULL, &port);
    net_handle fresh[64];
    for (int i = 0; i < 32; i++) {
        CHECK_OK(net_timer_start(e, 60000, 0, 0, &fresh[i]));
        CHECK(fresh[i] != c && fresh[i] != s && fresh[i] != l && fresh[i] != t && fresh[i] != t1);
    }
    for (int i = 32; i < 64; i += 2) {
        tl_pair(e, e, l2, port, NULL, &fresh[i], &fresh[i + 1]);
        for (int k = 0; k < 2; k++)
            CHECK(fresh[i + k] != c && fresh[i + k] != s && fresh[i + k] != l && fresh[i + k] != t);
    }
    any_calls_bad(c, "closed connection after slot reuse");
    any_calls_bad(s, "closed peer after slot reuse");
    any_calls_bad(l, "closed listener after slot reuse");
    any_calls_bad(t, "closed timer after slot reuse");

    /* bad arguments on good handles */
    net_event evs[4];
    CHECK_RC(net_poll(e, NULL, 4, 0), NET_E_INVAL);
    CHECK_RC(net_poll(e, evs, 0, 0), NET_E_INVAL);
    CHECK_RC(net_poll(e, evs, -1, 0), NET_E_INVAL);
    CHECK_RC(net_send(fresh[32], NULL, 5), NET_E_INVAL);
    CHECK_RC(net_sendv(fresh[32], NULL, 2), NET_E_INVAL);
    CHECK_RC(net_broadcast(NULL, 3, "x", 1, NULL), NET_E_INVAL);
    CHECK_RC(net_broadcast(&fresh[32], 1, NULL, 5, NULL), NET_E_INVAL);
    CHECK_RC(net_timer_start(e, 10, 0, 0, NULL), NET_E_INVAL);
    CHECK_RC(net_send_queued(fresh[32], NULL), NET_E_INVAL);

    /* a destroyed engine: its own handle and every handle it gave out */
    net_engine d = tl_engine();
    net_handle dl = tl_listen(d, NULL, &port);
    net_handle dc, ds, dt;
    tl_pair(d, d, dl, port, NULL, &dc, &ds);
    CHECK_OK(net_timer_start(d, 60000, 0, 0, &dt));
    tl_engine_destroy(d);
    engine_calls_bad(d, "destroyed engine");
    any_calls_bad(dl, "listener of a destroyed engine");
    any_calls_bad(dc, "connection of a destroyed engine");
    any_calls_bad(ds, "accepted connection of a destroyed engine");
    any_calls_bad(dt, "timer of a destroyed engine");
    /* ... still dead when a new engine (maybe in the same slot) gives out handles */
    net_engine d2 = tl_engine();
    net_handle d2l = tl_listen(d2, NULL, &port);
    net_handle d2c, d2s, d2t;
    tl_pair(d2, d2, d2l, port, NULL, &d2c, &d2s);
    CHECK_OK(net_timer_start(d2, 60000, 0, 0, &d2t));
    CHECKF(d2 != d, "a new engine got the value 0x%llx of a destroyed one: stale engine handles alias it",
           (unsigned long long)d);
    engine_calls_bad(d, "destroyed engine after a new one");
    any_calls_bad(dl, "listener of a destroyed engine after a new one");
    any_calls_bad(dc, "connection of a destroyed engine after a new one");
    any_calls_bad(dt, "timer of a destroyed engine after a new one");
    CHECK_OK(net_send(d2c, "alive", 5));
    TL_EXPECT(d2, NET_EV_DATA, d2s, &ev);

    tl_engine_destroy(d2);
    tl_engine_destroy(e);
    printf("ok\n");
    return 0;
}
