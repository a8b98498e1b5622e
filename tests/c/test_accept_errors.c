/* accept_errors: accepts the OS fails (here every one, by fault injection,
 * with EPERM: a firewall's refusal on Linux, WSAEACCES on Windows) are
 * counted in the engine's accepts_failed and cost the listener nothing for
 * good: once they stop, a client that connects is accepted and echoed.
 * More clients fail than the IOCP backend keeps AcceptEx calls posted (32),
 * each failure one of them: such an error used to leave its call unposted,
 * and the listener then accepted nothing, silently. Whether a failed
 * client is reset (IOCP, io_uring: the connection was taken, then failed)
 * or waits in the backlog until accepts work again (epoll) is the
 * backend's; every handle still ends with one CLOSE (testlib checks). Needs
 * a library built with NET_TEST_HOOKS (dll/testhooks.h). */
#include "testlib.h"

#define FAILING_CLIENTS 40
#define MAX_HANDLES 128

typedef struct test {
    net_engine e;
    net_handle listener, good;
    net_handle open[MAX_HANDLES]; /* every connection handle seen, until its CLOSE */
    int nopen;
    int accepts;
    int echoed;
} test;

static void track(test *t, net_handle h)
{
    CHECKF(t->nopen < MAX_HANDLES, "more than %d connections", MAX_HANDLES);
    t->open[t->nopen++] = h;
}

static void untrack(test *t, net_handle h)
{
    for (int i = 0; i < t->nopen; i++)
        if (t->open[i] == h) {
            t->open[i] = t->open[--t->nopen];
            return;
        }
    tl_fail(__FILE__, __LINE__, "CLOSE", "CLOSE for handle %llu, never seen", (unsigned long long)h);
}

static const char hello[] = "hello through a listener that failed 40 accepts";

static void on_event(void *p, net_engine e, const net_event *ev)
{
    test *t = p;
    (void)e;
    switch (ev->type) {
    case NET_EV_ACCEPT:
        CHECK_EQ(ev->parent, t->listener);
        CHECK_EQ(ev->status, 0);
        track(t, ev->handle);
        t->accepts++;
        break;
    case NET_EV_CONNECT:
        /* A failing client may be reset before or after its CONNECT. */
        if (ev->status != 0 && ev->handle != t->good)
            break;
        CHECKF(ev->status == 0, "the good client's CONNECT: %s", tl_errname(ev->status));
        break;
    case NET_EV_DATA:
        if (ev->handle == t->good) {
            CHECKF(ev->len == sizeof hello && memcmp(ev->data, hello, sizeof hello) == 0, "echo of %u bytes",
                   (unsigned)ev->len);
            t->echoed = 1;
        } else {
            CHECK_OK(net_send(ev->handle, ev->data, ev->len)); /* a server connection: echo */
        }
        break;
    case NET_EV_CLOSE:
        if (ev->handle != t->listener)
            untrack(t, ev->handle);
        break;
    default:
        CHECKF(ev->type == NET_EV_SEND_DRAINED || ev->type == NET_EV_SEND_HIGHWATER, "unexpected %s",
               tl_evname(ev->type));
    }
}

static int failures_seen(void *p)
{
    return tl_stats(((test *)p)->e).accepts_failed >= FAILING_CLIENTS;
}

static int echoed(void *p)
{
    return ((test *)p)->echoed;
}

static int all_closed(void *p)
{
    return ((test *)p)->nopen == 0;
}

int main(void)
{
    tl_init("accept_errors");
    test t;
    memset(&t, 0, sizeof t);

    tl_setenv("NET_TEST_FAULT", "accept=EPERM/1"); /* read by the engine's create: every accept fails */
    t.e = tl_engine();
    uint16_t port = 0;
    t.listener = tl_listen(t.e, NULL, &port);
    for (int i = 0; i < FAILING_CLIENTS; i++)
        track(&t, tl_connect(t.e, port, NULL));
    TL_RUN(on_event, &t, failures_seen);
    CHECK_EQ(t.accepts, 0);

    /* Accepts work again (faults are global, read at every engine's create). */
    tl_setenv("NET_TEST_FAULT", NULL);
    tl_engine_destroy(tl_engine());
    t.good = tl_connect(t.e, port, NULL);
    track(&t, t.good);
    CHECK_OK(net_send(t.good, hello, sizeof hello));
    TL_RUN(on_event, &t, echoed);
    net_stats st = tl_stats(t.e);
    printf("  %llu accepts failed, then %d accepted (the good client's and any that waited in the backlog)\n",
           (unsigned long long)st.accepts_failed, t.accepts);
    CHECK(t.accepts >= 1);

    for (int i = 0; i < t.nopen; i++) {
        int rc = net_close(t.open[i]); /* NET_E_CLOSED: reset, its CLOSE not yet polled */
        CHECKF(rc == 0 || rc == NET_E_CLOSED, "net_close: %s", tl_errname(rc));
    }
    TL_RUN(on_event, &t, all_closed);
    CHECK_EQ(tl_close_wait(t.e, t.listener), 0);
    tl_engine_destroy(t.e);
    printf("ok\n");
    return 0;
}
