/* post: values net_post'ed from other threads all arrive as NET_EV_USER,
 * each thread's in order; net_wakeup and net_post end a net_poll(-1); a
 * second thread polling the same engine gets NET_E_BUSY. */
#include "testlib.h"

#include <stdatomic.h>

#define NTHREADS 4
#define PER 5000

typedef struct poster {
    int id;
    net_engine e;
} poster;

static void poster_main(void *arg)
{
    poster *p = (poster *)arg;
    for (uint32_t i = 0; i < PER; i++) {
        int rc = net_post(p->e, ((uint64_t)p->id << 32) | i);
        CHECKF(rc == NET_OK, "thread %d: net_post returned %d (%s)", p->id, rc, tl_errname(rc));
    }
}

typedef struct ctx {
    uint32_t next[NTHREADS];
    int total;
} ctx;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    ctx *x = (ctx *)p;
    (void)e;
    CHECKF(ev->type == NET_EV_USER, "unexpected %s", tl_evname(ev->type));
    uint64_t id = ev->user >> 32;
    uint32_t i = (uint32_t)ev->user;
    CHECKF(id < NTHREADS, "posted value 0x%llx", (unsigned long long)ev->user);
    CHECKF(i == x->next[id], "thread %d: value %u arrived, expected %u", (int)id, (unsigned)i, (unsigned)x->next[id]);
    x->next[id]++;
    x->total++;
}

static int all_in(void *p)
{
    return ((ctx *)p)->total == NTHREADS * PER;
}

typedef struct later {
    net_engine e;
    int ms;
    int what; /* 0: wakeup, 1: post 777 */
    atomic_int fired;
} later;

static void later_main(void *arg)
{
    later *l = (later *)arg;
    tl_sleep_ms(l->ms);
    atomic_store(&l->fired, 1);
    if (l->what == 0)
        CHECK_OK(net_wakeup(l->e));
    else
        CHECK_OK(net_post(l->e, 777));
}

typedef struct blocker {
    net_engine e;
    int rc;         /* the last result other than NET_E_BUSY */
    atomic_int stop;
} blocker;

/* Polls until told to stop (a stray early return just polls again). The
 * main thread probes with net_poll(0) until it is refused, so this thread's
 * own poll may be the one refused while a probe runs: it then tries again. */
static void blocker_main(void *arg)
{
    blocker *b = (blocker *)arg;
    net_event evs[8];
    while (!atomic_load(&b->stop)) {
        int rc = net_poll(b->e, evs, 8, -1);
        if (rc == NET_E_BUSY) {
            tl_sleep_ms(1);
            continue;
        }
        b->rc = rc;
        if (rc < 0)
            return;
    }
}

int main(void)
{
    tl_init("post");
    net_engine e = tl_engine();

    /* many values from many threads */
    ctx x;
    memset(&x, 0, sizeof x);
    poster ps[NTHREADS];
    tl_thread *th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        ps[i].id = i;
        ps[i].e = e;
        th[i] = tl_thread_start(poster_main, &ps[i]);
    }
    TL_RUN(on_event, &x, all_in);
    for (int i = 0; i < NTHREADS; i++)
        tl_thread_join(th[i]);
    tl_run(on_event, &x, NULL, 30);
    CHECK_EQ(x.total, NTHREADS * PER);

    /* from the polling thread itself, and the full 64 bits */
    CHECK_OK(net_post(e, UINT64_MAX));
    CHECK_OK(net_post(e, 0));
    net_event ev;
    TL_EXPECT(e, NET_EV_USER, 0, &ev);
    CHECK(ev.user == UINT64_MAX);
    TL_EXPECT(e, NET_EV_USER, 0, &ev);
    CHECK(ev.user == 0);

    /* net_wakeup ends a net_poll(-1) that has nothing to wait for (a poll
     * that returns before the wakeup is just repeated; a wakeup that does
     * not end the wait hangs here until the watchdog fails the test) */
    net_event evs[8];
    later lw;
    lw.e = e;
    lw.ms = 200;
    lw.what = 0;
    atomic_init(&lw.fired, 0);
    tl_thread *t = tl_thread_start(later_main, &lw);
    uint64_t t0 = tl_now_ms();
    int n, early = 0;
    do {
        n = net_poll(e, evs, 8, -1);
        CHECK(n >= 0);
        early += !atomic_load(&lw.fired);
    } while (!atomic_load(&lw.fired));
    uint64_t took = tl_now_ms() - t0;
    tl_thread_join(t);
    printf("net_wakeup: net_poll(-1) returned %d after %llu ms (%d early returns)\n", n, (unsigned long long)took,
           early);
    CHECKF(early <= 2, "net_poll(-1) returned %d times with nothing to report", early);

    /* so does a post, and it brings the value */
    later lp;
    lp.e = e;
    lp.ms = 100;
    lp.what = 1;
    atomic_init(&lp.fired, 0);
    t = tl_thread_start(later_main, &lp);
    do {
        n = net_poll(e, evs, 8, -1);
        CHECK(n >= 0);
    } while (n == 0);
    tl_thread_join(t);
    CHECKF(n == 1 && evs[0].type == NET_EV_USER && evs[0].user == 777, "net_poll(-1) returned %d after a post", n);

    /* a second poller is refused while the first waits */
    blocker b;
    b.e = e;
    b.rc = 12345;
    atomic_init(&b.stop, 0);
    t = tl_thread_start(blocker_main, &b);
    /* No sleep-and-hope: probe until refused. Until the blocker is inside
     * its net_poll(-1) a probe polls (nothing is queued, so it returns 0);
     * once refused, the blocker holds the poll and keeps it until the
     * net_wakeup below (nothing else can end a net_poll(-1) here), so the
     * refusal is certain from then on. */
    uint64_t busy_end = tl_now_ms() + TL_TIMEOUT_MS;
    int probes = 0, rc;
    for (;;) {
        rc = net_poll(e, evs, 8, 0);
        probes++;
        if (rc == NET_E_BUSY)
            break;
        CHECKF(rc == 0, "net_poll(0) before the blocker polled returned %d (%s)", rc, tl_errname(rc));
        CHECKF(tl_now_ms() < busy_end, "no NET_E_BUSY in %d ms (%d probes) while another thread polls",
               TL_TIMEOUT_MS, probes);
        tl_sleep_ms(1);
    }
    printf("NET_E_BUSY after %d probe(s)\n", probes);
    CHECK_RC(net_poll(e, evs, 8, 0), NET_E_BUSY);
    CHECK_RC(net_poll(e, evs, 8, 100), NET_E_BUSY);
    atomic_store(&b.stop, 1);
    CHECK_OK(net_wakeup(e));
    tl_thread_join(t);
    CHECKF(b.rc >= 0, "the blocked poller got %d (%s)", b.rc, tl_errname(b.rc));
    /* and once it returned, polling here works again */
    CHECK_OK(net_post(e, 5));
    n = net_poll(e, evs, 8, 1000);
    CHECK(n == 1 && evs[0].user == 5);

    tl_engine_destroy(e);
    printf("ok\n");
    return 0;
}
