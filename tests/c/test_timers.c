/* timers: a one-shot fires once, a repeating one at roughly its interval,
 * net_close stops it, order follows the deadlines, and a timer wakes a
 * net_poll that is waiting for I/O. */
#include "testlib.h"

typedef struct ctx {
    int count[256];
    uint64_t first_ms[256], last_ms[256];
    uint64_t earliest_due[256], latest_due[256]; /* deadline bounds: clock read before and after the start */
    int order[256], norder;
    net_handle h[256];
    int n;
} ctx;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    ctx *x = (ctx *)p;
    (void)e;
    CHECKF(ev->type == NET_EV_TIMER, "unexpected %s", tl_evname(ev->type));
    CHECK(ev->user < 256 && (int)ev->user < x->n);
    int i = (int)ev->user;
    CHECKF(ev->handle == x->h[i], "TIMER user %d with handle %llu, started as %llu", i, (unsigned long long)ev->handle,
           (unsigned long long)x->h[i]);
    x->last_ms[i] = tl_now_ms();
    if (x->count[i]++ == 0) {
        x->first_ms[i] = tl_now_ms();
        x->order[x->norder++] = i;
    }
}

static int all_fired(void *p)
{
    ctx *x = (ctx *)p;
    for (int i = 0; i < x->n; i++)
        if (x->count[i] == 0)
            return 0;
    return 1;
}

static int ten_ticks(void *p)
{
    return ((ctx *)p)->count[0] >= 10;
}

static net_handle start(net_engine e, ctx *x, uint32_t delay, uint32_t repeat)
{
    CHECK(x->n < 256);
    x->earliest_due[x->n] = tl_now_ms() + delay;
    CHECK_OK(net_timer_start(e, delay, repeat, (uint64_t)x->n, &x->h[x->n]));
    x->latest_due[x->n] = tl_now_ms() + delay;
    CHECK(x->h[x->n] != 0);
    return x->h[x->n++];
}

int main(void)
{
    tl_init("timers");
    net_engine e = tl_engine();
    ctx x;

    /* one-shot: once, not early */
    memset(&x, 0, sizeof x);
    uint64_t t0 = tl_now_ms();
    start(e, &x, 60, 0);
    TL_RUN(on_event, &x, all_fired);
    uint64_t took = x.first_ms[0] - t0;
    printf("one-shot 60 ms fired after %llu ms\n", (unsigned long long)took);
    CHECKF(took >= 55 && took < 1000, "60 ms one-shot after %llu ms", (unsigned long long)took);
    tl_run(on_event, &x, NULL, 200);
    CHECK_EQ(x.count[0], 1);

    /* repeating: keeps ticking, never faster than every 20 ms (how much
     * slower depends on the machine's load: that is for benchmarks) */
    memset(&x, 0, sizeof x);
    t0 = tl_now_ms();
    net_handle rep = start(e, &x, 20, 20);
    TL_RUN(on_event, &x, ten_ticks);
    uint64_t span = x.last_ms[0] - t0;
    printf("repeating 20 ms: %d ticks in %llu ms\n", x.count[0], (unsigned long long)span);
    /* Tick n is due 20 n ms after the start; a late one is not made up. */
    CHECKF(span + 2 >= (uint64_t)x.count[0] * 20, "%d ticks of a 20 ms timer in %llu ms", x.count[0],
           (unsigned long long)span);
    /* closed: no tick after the close (allow one already queued) */
    CHECK_OK(net_close(rep));
    int at_close = x.count[0];
    tl_run(on_event, &x, NULL, 200);
    CHECKF(x.count[0] - at_close <= 1, "%d ticks after net_close", x.count[0] - at_close);
    CHECK_RC(net_close(rep), NET_E_BADHANDLE);

    /* deadlines decide the order; delay 0 fires at once; a closed one never */
    memset(&x, 0, sizeof x);
    start(e, &x, 90, 0);
    start(e, &x, 30, 0);
    start(e, &x, 60, 0);
    t0 = tl_now_ms();
    start(e, &x, 0, 0);
    net_handle never = start(e, &x, 40, 0);
    CHECK_OK(net_close(never));
    x.n--; /* not waited for */
    TL_RUN(on_event, &x, all_fired);
    CHECK_EQ(x.norder, 4);
    CHECK(x.order[0] == 3 && x.order[1] == 1 && x.order[2] == 2 && x.order[3] == 0);
    CHECKF(x.first_ms[3] - t0 < 1000, "delay 0 fired after %llu ms", (unsigned long long)(x.first_ms[3] - t0));
    tl_run(on_event, &x, NULL, 100);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(x.count[i], 1);

    /* 200 one-shots with mixed delays: each exactly once */
    memset(&x, 0, sizeof x);
    for (int i = 0; i < 200; i++)
        start(e, &x, (uint32_t)((i * 37) % 150), 0);
    TL_RUN(on_event, &x, all_fired);
    tl_run(on_event, &x, NULL, 100);
    for (int i = 0; i < 200; i++)
        CHECKF(x.count[i] == 1, "timer %d fired %d times", i, x.count[i]);
    /* Never one before an earlier deadline by more than a tick. Deadlines
     * count from each start: starting 200 can take longer than a tick (TSan
     * on a loaded machine), so each is bounded by the clock around its start. */
    for (int k = 1; k < 200; k++) {
        int a = x.order[k - 1], b = x.order[k];
        CHECKF(x.earliest_due[a] <= x.latest_due[b] + 15,
               "timer %d (due at %llu ms or later) fired before timer %d (due by %llu ms)", a,
               (unsigned long long)x.earliest_due[a], b, (unsigned long long)x.latest_due[b]);
    }

    /* a timer ends a net_poll that waits with nothing else to do */
    net_handle t;
    CHECK_OK(net_timer_start(e, 50, 0, 9, &t));
    net_event evs[8];
    t0 = tl_now_ms();
    int n = net_poll(e, evs, 8, 3000);
    took = tl_now_ms() - t0;
    CHECKF(n == 1 && evs[0].type == NET_EV_TIMER && evs[0].handle == t && evs[0].user == 9,
           "net_poll returned %d (first event %s) after %llu ms", n, n > 0 ? tl_evname(evs[0].type) : "-",
           (unsigned long long)took);
    CHECKF(took < 1000, "the timer woke net_poll after %llu ms", (unsigned long long)took);

    /* bad arguments */
    CHECK_RC(net_timer_start(e, 10, 0, 0, NULL), NET_E_INVAL);
    CHECK_RC(net_timer_start(0, 10, 0, 0, &t), NET_E_BADHANDLE);

    tl_engine_destroy(e);
    printf("ok\n");
    return 0;
}
