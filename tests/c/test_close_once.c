/* close_once: exactly one CLOSE per connection and listener, whatever the
 * closing pattern: both sides at once, twice, abort+close in either order,
 * the peer alone, shutdowns, closes racing from two threads, closes before
 * the connect completed. (testlib also fails any event after a CLOSE.) */
#include "testlib.h"

#define REPS 8
#define MAXT 1024

typedef struct track {
    net_handle h;
    int closes;
    const char *what, *side;
} track;

static track g_t[MAXT];
static int g_nt;

static void watch(net_handle h, const char *what, const char *side)
{
    for (int i = 0; i < g_nt; i++)
        if (g_t[i].h == h)
            return;
    CHECK(g_nt < MAXT);
    g_t[g_nt].h = h;
    g_t[g_nt].closes = 0;
    g_t[g_nt].what = what;
    g_t[g_nt].side = side;
    g_nt++;
}

static void on_event(void *p, net_engine e, const net_event *ev)
{
    (void)p;
    (void)e;
    if (ev->type == NET_EV_ACCEPT) /* also those of connections closed while connecting */
        watch(ev->handle, "early or late", "server");
    if (ev->type != NET_EV_CLOSE)
        return;
    for (int i = 0; i < g_nt; i++) {
        if (g_t[i].h == ev->handle) {
            g_t[i].closes++;
            CHECKF(g_t[i].closes == 1, "handle %llu: CLOSE #%d", (unsigned long long)ev->handle, g_t[i].closes);
            return;
        }
    }
    tl_fail(__FILE__, __LINE__, "CLOSE of an unknown handle", "%llu", (unsigned long long)ev->handle);
}

static int all_closed(void *p)
{
    (void)p;
    for (int i = 0; i < g_nt; i++)
        if (g_t[i].closes != 1)
            return 0;
    return 1;
}

/* A second close-like call on a closing handle: refused or ignored, never a
 * crash, never a second CLOSE. */
static void again(int rc, const char *what)
{
    CHECKF(rc == NET_OK || rc == NET_E_CLOSED || rc == NET_E_BADHANDLE, "%s: %d (%s)", what, rc, tl_errname(rc));
}

typedef struct racer {
    net_handle *hs;
    int n;
} racer;

static void racer_main(void *arg)
{
    racer *r = (racer *)arg;
    for (int i = 0; i < r->n; i++)
        again(net_close(r->hs[i]), "racing net_close");
}

int main(void)
{
    tl_init("close_once");
    net_engine ce = tl_engine(), se = tl_engine();
    uint16_t port;
    net_handle l = tl_listen(se, NULL, &port);
    watch(l, "listener", "server");

    enum {
        BOTH,
        TWICE,
        ABORT_CLOSE,
        CLOSE_ABORT,
        PEER_CLOSE,
        PEER_ABORT,
        BOTH_ABORT,
        SHUTDOWN_BOTH,
        SHUTDOWN_CLOSE,
        RACE,
        NPAT
    };
    static const char *const names[NPAT] = {"both close",     "close twice", "abort+close", "close+abort",
                                            "peer closes",    "peer aborts", "both abort",  "both shut down",
                                            "shutdown+close", "threads race"};
    static net_handle c[NPAT][REPS], s[NPAT][REPS];
    for (int p = 0; p < NPAT; p++)
        for (int r = 0; r < REPS; r++) {
            tl_pair(ce, se, l, port, NULL, &c[p][r], &s[p][r]);
            watch(c[p][r], names[p], "client");
            watch(s[p][r], names[p], "server");
            if (r % 2) /* half of them with data in flight */
                CHECK_OK(net_send(c[p][r], "some bytes", 10));
        }

    /* connections closed before their connect completed */
    net_handle early[2 * REPS];
    for (int r = 0; r < 2 * REPS; r++) {
        early[r] = tl_connect(ce, port, NULL);
        watch(early[r], r < REPS ? "closed while connecting" : "aborted while connecting", "client");
    }

    for (int r = 0; r < REPS; r++) {
        again(net_close(early[r]), "net_close while connecting");
        again(net_abort(early[REPS + r]), "net_abort while connecting");

        CHECK_OK(net_close(c[BOTH][r]));
        CHECK_OK(net_close(s[BOTH][r]));

        CHECK_OK(net_close(c[TWICE][r]));
        again(net_close(c[TWICE][r]), "second net_close");

        CHECK_OK(net_abort(c[ABORT_CLOSE][r]));
        again(net_close(c[ABORT_CLOSE][r]), "net_close after net_abort");

        CHECK_OK(net_close(c[CLOSE_ABORT][r]));
        again(net_abort(c[CLOSE_ABORT][r]), "net_abort after net_close");

        CHECK_OK(net_close(s[PEER_CLOSE][r])); /* c only learns it from the wire */
        CHECK_OK(net_abort(s[PEER_ABORT][r]));

        CHECK_OK(net_abort(c[BOTH_ABORT][r]));
        CHECK_OK(net_abort(s[BOTH_ABORT][r]));

        CHECK_OK(net_shutdown(c[SHUTDOWN_BOTH][r]));
        CHECK_OK(net_shutdown(s[SHUTDOWN_BOTH][r]));

        CHECK_OK(net_shutdown(c[SHUTDOWN_CLOSE][r]));
        again(net_close(c[SHUTDOWN_CLOSE][r]), "net_close after net_shutdown");
    }

    /* two threads close the same connections while this one aborts them */
    racer rc1 = {c[RACE], REPS}, rc2 = {s[RACE], REPS};
    tl_thread *t1 = tl_thread_start(racer_main, &rc1);
    tl_thread *t2 = tl_thread_start(racer_main, &rc2);
    for (int r = 0; r < REPS; r++)
        again(net_abort(c[RACE][r]), "net_abort racing net_close");
    tl_thread_join(t1);
    tl_thread_join(t2);

    /* the listener too, while connections are still coming in */
    net_handle late[4];
    for (int i = 0; i < 4; i++) {
        late[i] = tl_connect(ce, port, NULL);
        watch(late[i], "late", "client");
    }
    CHECK_OK(net_close(l));
    again(net_close(l), "second net_close of a listener");

    /* the late ones that got in before the listener closed stay open until
     * closed; every other handle closes by itself once its peer went */
    tl_run(on_event, NULL, NULL, 300);
    for (int i = 0; i < 4; i++)
        again(net_close(late[i]), "net_close of a late connection");
    if (!tl_run(on_event, NULL, all_closed, TL_TIMEOUT_MS)) {
        for (int i = 0; i < g_nt; i++)
            if (g_t[i].closes != 1)
                printf("  no CLOSE: handle %llu, pattern \"%s\" (%s side)\n", (unsigned long long)g_t[i].h, g_t[i].what,
                       g_t[i].side);
        tl_fail(__FILE__, __LINE__, "all_closed", "not every handle got its CLOSE in %d ms", TL_TIMEOUT_MS);
    }
    tl_run(on_event, NULL, NULL, 100); /* and nothing twice afterwards */
    CHECK(all_closed(NULL));
    printf("%d handles, one CLOSE each\n", g_nt);

    for (int i = 0; i < g_nt; i++)
        CHECK_RC(net_send(g_t[i].h, "x", 1), NET_E_BADHANDLE);
    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
