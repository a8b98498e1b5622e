/* faults: with allocations failing one at a time over a whole scenario, and
 * with accept/send/recv/submit failing every few calls, the engine neither
 * crashes nor leaks, every call returns 0 or a NET_E_* code, every handle
 * that was handed out gets exactly one CLOSE (testlib would fail a second),
 * and nothing is left open after destroy. Needs a library built with
 * NET_TEST_HOOKS (scripts/test.sh builds one); see dll/testhooks.h. */
#include <stdatomic.h>
#include "testlib.h"

#define MAX_TRACKED 64

typedef struct scene {
    net_handle h[MAX_TRACKED]; /* every handle the engine handed out */
    int closed[MAX_TRACKED];
    int n;
    uint64_t data_in;
} scene;

static int is_code(int rc)
{
    return rc == 0 || (rc <= NET_E_BADHANDLE && rc >= NET_E_NOTCONN);
}

#define CHECK_CODE(call)                                                                                               \
    do {                                                                                                               \
        int rc_ = (call);                                                                                              \
        CHECKF(is_code(rc_), "%s returned %d", #call, rc_);                                                            \
    } while (0)

static void track(scene *s, net_handle h)
{
    for (int i = 0; i < s->n; i++)
        if (s->h[i] == h)
            return;
    CHECK(s->n < MAX_TRACKED);
    s->h[s->n++] = h;
}

static void on_event(scene *s, const net_event *ev)
{
    switch (ev->type) {
    case NET_EV_ACCEPT:
        track(s, ev->handle);
        net_send(ev->handle, "welcome", 7);
        break;
    case NET_EV_CONNECT:
        track(s, ev->handle);
        if (ev->status == 0)
            CHECK_CODE(net_send(ev->handle, "hello", 5));
        break;
    case NET_EV_DATA:
        s->data_in += ev->len;
        CHECK_CODE(net_send(ev->handle, ev->data, ev->len));
        break;
    case NET_EV_CLOSE:
        for (int i = 0; i < s->n; i++)
            if (s->h[i] == ev->handle) {
                CHECKF(!s->closed[i], "a second CLOSE for %llu", (unsigned long long)ev->handle);
                s->closed[i] = 1;
            }
        break;
    default:
        break;
    }
}

static int all_closed(const scene *s)
{
    for (int i = 0; i < s->n; i++)
        if (!s->closed[i])
            return 0;
    return 1;
}

static void pump(net_engine e, scene *s, int ms)
{
    net_event ev[64];
    uint64_t end = tl_now_ms() + (uint64_t)ms;
    do {
        int n = net_poll(e, ev, 64, 5);
        /* NOMEM: no room to hold the payloads this time; the events wait */
        CHECKF(n >= 0 || n == NET_E_NOMEM, "net_poll: %d (%s)", n, tl_errname(n));
        for (int i = 0; i < n; i++)
            on_event(s, &ev[i]);
    } while (tl_now_ms() < end);
}

/* Listener, UDP socket, three connections echoing a little, then every
 * handle closed and each CLOSE awaited. Returns 0 when the engine could not
 * even be made. */
static int scenario(int conns)
{
    net_config cfg;
    tl_config(&cfg);
    net_engine e;
    int rc = net_engine_create(&cfg, &e);
    if (rc != 0) {
        CHECKF(rc == NET_E_NOMEM || rc == NET_E_OS || rc == NET_E_UNSUPPORTED, "net_engine_create: %d (%s)", rc,
               tl_errname(rc));
        return 0;
    }
    scene s;
    memset(&s, 0, sizeof s);
    net_handle l = 0, u = 0;
    rc = net_listen(e, "127.0.0.1", 0, NULL, &l);
    CHECK_CODE(rc);
    net_addr la;
    memset(&la, 0, sizeof la);
    if (rc == 0) {
        track(&s, l);
        if (net_local_addr(l, &la) != 0)
            la.port = 0;
    }
    rc = net_udp_open(e, "127.0.0.1", 0, NULL, &u);
    CHECK_CODE(rc);
    if (rc == 0) {
        track(&s, u);
        net_addr ua;
        if (net_local_addr(u, &ua) == 0)
            CHECK_CODE(net_sendto(u, &ua, "ping", 4));
    }
    net_handle t = 0;
    CHECK_CODE(net_timer_start(e, 1, 1, 0, &t));
    for (int i = 0; i < conns && la.port; i++) {
        net_handle c;
        rc = net_connect(e, "127.0.0.1", la.port, NULL, &c);
        CHECK_CODE(rc);
        if (rc == 0)
            track(&s, c);
    }
    CHECK_CODE(net_post(e, 1));
    pump(e, &s, 60);
    if (t)
        CHECK_CODE(net_close(t));
    for (int i = 0; i < s.n; i++)
        if (!s.closed[i])
            CHECK_CODE(net_close(s.h[i]));
    uint64_t end = tl_now_ms() + TL_TIMEOUT_MS;
    while (!all_closed(&s) && tl_now_ms() < end)
        pump(e, &s, 10);
    for (int i = 0; i < s.n; i++)
        CHECKF(s.closed[i], "no CLOSE for handle %llu (of %d)", (unsigned long long)s.h[i], s.n);
    CHECK_OK(net_engine_destroy(e));
    return 1;
}

/* A listener whose open fails (an allocation of the loop's, at some N) while
 * another thread keeps closing it and asking its address: one CLOSE, no call
 * reaching a freed listener (ASan watches), and BADHANDLE once it is gone. */
typedef struct closer {
    net_handle l;
    atomic_int stop;
} closer;

static void closer_main(void *arg)
{
    closer *x = (closer *)arg;
    net_addr a;
    while (!atomic_load(&x->stop)) {
        int rc = net_close(x->l);
        CHECKF(rc == 0 || rc == NET_E_BADHANDLE, "net_close on a failing listener: %d", rc);
        rc = net_local_addr(x->l, &a);
        CHECKF(rc == 0 || rc == NET_E_CLOSED || rc == NET_E_BADHANDLE, "net_local_addr: %d", rc);
    }
}

static void listen_fails_under_close(void)
{
    int opened = 0, failed = 0;
    for (int n = 1; n <= 40; n++) {
        char v[16];
        snprintf(v, sizeof v, "%d", n);
        tl_setenv("NET_TEST_FAIL_ALLOC", v);
        net_config cfg;
        tl_config(&cfg);
        net_engine e;
        if (net_engine_create(&cfg, &e) != 0)
            continue;
        closer x;
        atomic_init(&x.stop, 0);
        if (net_listen(e, "127.0.0.1", 0, NULL, &x.l) != 0) {
            CHECK_OK(net_engine_destroy(e));
            continue;
        }
        tl_thread *t = tl_thread_start(closer_main, &x);
        int closes = 0, status = 0;
        net_event ev[16];
        uint64_t end = tl_now_ms() + TL_TIMEOUT_MS;
        while (!closes && tl_now_ms() < end) {
            int k = net_poll(e, ev, 16, 5);
            CHECK(k >= 0 || k == NET_E_NOMEM);
            for (int i = 0; i < k; i++)
                if (ev[i].type == NET_EV_CLOSE && ev[i].handle == x.l) {
                    closes++;
                    status = ev[i].status;
                }
        }
        atomic_store(&x.stop, 1);
        tl_thread_join(t);
        CHECKF(closes == 1, "listener CLOSE seen %d times", closes);
        CHECK_RC(net_close(x.l), NET_E_BADHANDLE);
        if (status)
            failed++;
        else
            opened++;
        CHECK_OK(net_engine_destroy(e));
    }
    tl_setenv("NET_TEST_FAIL_ALLOC", "0");
    printf("listener under a closing thread: %d opened then closed, %d failed to open\n", opened, failed);
}

int main(void)
{
    tl_init("faults");
    tl_setenv("NET_TEST_FAIL_ALLOC", "0");
    tl_setenv("NET_TEST_FAULT", NULL);
    int before = tl_open_descriptors();
    CHECK(scenario(3));

    /* Every allocation of the scenario fails once, one run each. */
    int runs = 0, made = 0;
    for (int n = 1; n <= 400; n += n < 150 ? 1 : 9) {
        char v[16];
        snprintf(v, sizeof v, "%d", n);
        tl_setenv("NET_TEST_FAIL_ALLOC", v);
        made += scenario(3);
        runs++;
    }
    tl_setenv("NET_TEST_FAIL_ALLOC", "0");
    printf("allocation failures: %d runs, %d with an engine\n", runs, made);

    /* Syscalls failing every few calls. */
    static const char *const faults[] = {"accept=EMFILE/2",  "accept=ENFILE/3",
                                         "accept=ENOBUFS/2", "send=ECONNRESET/3",
                                         "send=ENOBUFS/4",   "recv=ECONNRESET/3",
                                         "recv=ENOBUFS/5",   "submit=EBUSY/3",
                                         "submit=EAGAIN/2",  "accept=EMFILE/2,send=ECONNRESET/5,recv=ECONNRESET/7"};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        tl_setenv("NET_TEST_FAULT", faults[i]);
        CHECK(scenario(8));
        printf("  %s: ok\n", faults[i]);
    }
    tl_setenv("NET_TEST_FAULT", NULL);
    listen_fails_under_close();
    CHECK(scenario(3));
    int after = tl_open_descriptors();
    printf("descriptors %d before, %d after\n", before, after);
    if (before >= 0)
        CHECKF(after == before, "%d descriptors left behind", after - before);
    return 0;
}
