/* broadcast: one net_broadcast reaches each listed connection exactly
 * once, in order with the other sends; the results array says which
 * handles were bad; the return value counts the good ones. */
#include "testlib.h"

#define NCLI 50
#define NB 8

/* one more than NB: the last goes out with a closing connection in the list */
static const uint32_t sizes[NB + 1] = {5, 1, 1000, 65536, 256 * 1024, 3, 100000, 7, 11};

typedef struct ctx {
    int got[NCLI]; /* broadcasts received per client */
    int expect;    /* broadcasts sent so far */
} ctx;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    ctx *x = (ctx *)p;
    (void)e;
    if (ev->type != NET_EV_DATA)
        return;
    CHECK(ev->user < NCLI);
    int i = (int)ev->user, k = x->got[i];
    CHECKF(k < x->expect, "client %d: broadcast %d arrived, only %d sent (duplicate?)", i, k, x->expect);
    CHECKF(ev->len == sizes[k], "client %d broadcast %d: %u bytes, want %u", i, k, (unsigned)ev->len,
           (unsigned)sizes[k]);
    CHECKF(tl_mismatch(ev->data, ev->len, (uint64_t)k, 0) < 0, "client %d broadcast %d: corrupt", i, k);
    x->got[i]++;
}

static int all_got(void *p)
{
    ctx *x = (ctx *)p;
    for (int i = 0; i < NCLI; i++)
        if (x->got[i] != x->expect)
            return 0;
    return 1;
}

int main(void)
{
    tl_init("broadcast");
    net_engine ce = tl_engine(), se = tl_engine();
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U32BE, 0);
    uint16_t port;
    net_handle l = tl_listen(se, &tcp, &port);
    net_handle cli[NCLI], srv[NCLI + 4];
    for (int i = 0; i < NCLI; i++) {
        tl_pair(ce, se, l, port, &tcp, &cli[i], &srv[i]);
        CHECK_OK(net_set_user(cli[i], (uint64_t)i));
    }
    /* a closed connection (after its CLOSE), zero, and a timer join the list */
    net_handle xc, xs, t;
    tl_pair(ce, se, l, port, &tcp, &xc, &xs);
    CHECK_EQ(tl_close_wait(se, xs), 0);
    net_event ev;
    TL_EXPECT(ce, NET_EV_CLOSE, xc, &ev);
    CHECK_OK(net_timer_start(se, 60000, 0, 0, &t));
    srv[NCLI] = xs;
    srv[NCLI + 1] = 0;
    srv[NCLI + 2] = t;
    srv[NCLI + 3] = 0xDEADBEEFDEADBEEFull;

    ctx x;
    memset(&x, 0, sizeof x);
    uint8_t *buf = (uint8_t *)tl_xmalloc(256 * 1024);
    int results[NCLI + 4];
    for (int k = 0; k < NB; k++) {
        tl_fill(buf, sizes[k], (uint64_t)k, 0);
        for (int i = 0; i < NCLI + 4; i++)
            results[i] = 12345;
        /* put the bad ones first on odd rounds: position must not matter */
        const net_handle *list = srv;
        net_handle shuffled[NCLI + 4];
        int *res = results, shres[NCLI + 4];
        if (k % 2) {
            memcpy(shuffled, srv + NCLI, 4 * sizeof(net_handle));
            memcpy(shuffled + 4, srv, NCLI * sizeof(net_handle));
            list = shuffled;
            res = shres;
        }
        CHECK_RC(net_broadcast(list, NCLI + 4, buf, sizes[k], res), NCLI);
        if (k % 2) {
            memcpy(results + NCLI, shres, 4 * sizeof(int));
            memcpy(results, shres + 4, NCLI * sizeof(int));
        }
        for (int i = 0; i < NCLI; i++)
            CHECKF(results[i] == NET_OK, "round %d: result[%d] = %d (%s)", k, i, results[i], tl_errname(results[i]));
        for (int i = NCLI; i < NCLI + 4; i++)
            CHECKF(results[i] == NET_E_BADHANDLE, "round %d: bad handle #%d: result %d (%s)", k, i - NCLI, results[i],
                   tl_errname(results[i]));
        x.expect++;
        if (k == 2) /* sometimes let them arrive before the next one */
            TL_RUN(on_event, &x, all_got);
    }
    TL_RUN(on_event, &x, all_got);
    tl_run(on_event, &x, NULL, 50); /* nothing twice */
    CHECK(all_got(&x));

    /* without a results array; a connection that is closing; none */
    CHECK_OK(net_close(srv[0]));
    tl_fill(buf, sizes[NB], NB, 0);
    int n = net_broadcast(srv, NCLI, buf, sizes[NB], NULL);
    CHECKF(n == NCLI - 1, "broadcast with one closing connection returned %d", n);
    x.expect++;
    x.got[0] = x.expect; /* refused for client 0: any DATA there now fails */
    CHECK_RC(net_broadcast(srv, 0, buf, 5, NULL), 0);

    /* too large for max_message: refused everywhere, nothing queued */
    uint8_t *huge = (uint8_t *)tl_xmalloc((1u << 20) + 1);
    memset(huge, 0, (1u << 20) + 1);
    int r2[2] = {1, 1};
    n = net_broadcast(srv + 1, 2, huge, (1u << 20) + 1, r2);
    CHECKF(n == 0 && r2[0] == NET_E_MSGSIZE && r2[1] == NET_E_MSGSIZE, "oversized broadcast: %d [%d %d]", n, r2[0],
           r2[1]);
    free(huge);
    TL_RUN(on_event, &x, all_got);
    tl_run(on_event, &x, NULL, 50);
    for (int i = 1; i < NCLI; i++)
        CHECK_EQ(x.got[i], x.expect);

    free(buf);
    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
