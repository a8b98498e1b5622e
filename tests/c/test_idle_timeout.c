/* idle_timeout: a silent connection is closed with NET_E_TIMEDOUT after
 * idle_timeout_ms (engine config or NET_OPT_IDLE_TIMEOUT per connection);
 * a connection with traffic is not. */
#include "testlib.h"

typedef struct ctx {
    net_handle watch[8];
    int nwatch;
    uint64_t closed_at[8];
    int status[8];
    net_handle echo_srv; /* server side of the active connection: echoes */
    unsigned need;       /* bit i: wait for watch[i]'s CLOSE */
} ctx;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    ctx *x = (ctx *)p;
    (void)e;
    if (ev->type == NET_EV_DATA && ev->handle == x->echo_srv) {
        CHECK_OK(net_send(ev->handle, ev->data, ev->len));
        return;
    }
    if (ev->type != NET_EV_CLOSE)
        return;
    for (int i = 0; i < x->nwatch; i++) {
        if (x->watch[i] == ev->handle) {
            x->closed_at[i] = tl_now_ms();
            x->status[i] = ev->status;
        }
    }
}

static int needed_closed(void *p)
{
    ctx *x = (ctx *)p;
    for (int i = 0; i < x->nwatch; i++)
        if ((x->need & (1u << i)) && x->closed_at[i] == 0)
            return 0;
    return 1;
}

int main(void)
{
    tl_init("idle_timeout");
    net_config scfg;
    tl_config(&scfg);
    scfg.idle_timeout_ms = 300;
    net_engine se = tl_engine_with(&scfg), ce = tl_engine();
    uint16_t port;
    net_handle l = tl_listen(se, NULL, &port);

    /* engine-wide: the idle one goes, the active one stays */
    ctx x;
    memset(&x, 0, sizeof x);
    net_handle ic, is, ac, as;
    tl_pair(ce, se, l, port, NULL, &ic, &is);
    tl_pair(ce, se, l, port, NULL, &ac, &as);
    int64_t v = 0;
    CHECK_OK(net_get_option(is, NET_OPT_IDLE_TIMEOUT, &v));
    CHECK_EQ(v, 300);
    x.watch[0] = is;
    x.watch[1] = as;
    x.watch[2] = ic;
    x.watch[3] = ac;
    x.nwatch = 4;
    x.echo_srv = as;
    uint64_t t0 = tl_now_ms(), last_ping = t0;
    /* 1.2 s of traffic on the active one, a message every 50 ms */
    while (tl_now_ms() - t0 < 1200) {
        last_ping = tl_now_ms();
        CHECK_OK(net_send(ac, "ping", 4));
        tl_run(on_event, &x, NULL, 50);
        CHECKF(x.closed_at[1] == 0, "active connection closed after %llu ms, status %d (%s)",
               (unsigned long long)(x.closed_at[1] - t0), x.status[1], tl_errname(x.status[1]));
    }
    CHECKF(x.closed_at[0] != 0, "idle connection still open after 1200 ms (idle_timeout_ms 300)");
    uint64_t after = x.closed_at[0] - t0;
    printf("idle connection closed after %llu ms, status %d (%s)\n", (unsigned long long)after, x.status[0],
           tl_errname(x.status[0]));
    CHECKF(x.status[0] == NET_E_TIMEDOUT, "status %d (%s)", x.status[0], tl_errname(x.status[0]));
    CHECKF(after >= 250 && after < 1200, "closed after %llu ms", (unsigned long long)after);
    CHECK(x.closed_at[1] == 0 && x.closed_at[3] == 0);
    /* its client learns it too */
    x.need = 1u << 2;
    TL_RUN(on_event, &x, needed_closed);

    /* then the active one falls silent and goes the same way: silent since
     * its last ping (the wait above took part of its timeout already) */
    x.need = 1u << 1 | 1u << 3;
    TL_RUN(on_event, &x, needed_closed);
    after = x.closed_at[1] - last_ping;
    CHECKF(x.status[1] == NET_E_TIMEDOUT && after >= 250, "silent connection: status %d after %llu ms", x.status[1],
           (unsigned long long)after);
    net_event ev;

    /* per connection, on an engine without a default */
    net_handle l2 = tl_listen(ce, NULL, &port);
    net_handle c2, s2, c3, s3;
    tl_pair(ce, ce, l2, port, NULL, &c2, &s2);
    tl_pair(ce, ce, l2, port, NULL, &c3, &s3);
    CHECK_OK(net_set_option(c2, NET_OPT_IDLE_TIMEOUT, 200));
    CHECK_OK(net_set_option(c3, NET_OPT_IDLE_TIMEOUT, 200));
    CHECK_OK(net_set_option(c3, NET_OPT_IDLE_TIMEOUT, 0)); /* changed its mind */
    memset(&x, 0, sizeof x);
    x.watch[0] = c2;
    x.watch[1] = c3;
    x.watch[2] = s3;
    x.nwatch = 3;
    t0 = tl_now_ms();
    x.need = 1u;
    TL_RUN(on_event, &x, needed_closed);
    after = x.closed_at[0] - t0;
    printf("NET_OPT_IDLE_TIMEOUT 200: closed after %llu ms, status %d (%s)\n", (unsigned long long)after, x.status[0],
           tl_errname(x.status[0]));
    CHECKF(x.status[0] == NET_E_TIMEDOUT, "status %d (%s)", x.status[0], tl_errname(x.status[0]));
    CHECKF(after >= 150 && after < 2000, "closed after %llu ms", (unsigned long long)after);
    tl_run(on_event, &x, NULL, 400);
    CHECKF(x.closed_at[1] == 0 && x.closed_at[2] == 0, "the connection whose timeout was set back to 0 closed");
    CHECK_OK(net_send(c3, "still here", 10));
    TL_EXPECT(ce, NET_EV_DATA, s3, &ev);

    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
