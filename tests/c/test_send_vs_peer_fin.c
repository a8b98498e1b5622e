/* send_vs_peer_fin: a thread keeps sending on a connection while its peer
 * finishes (FIN) and the engine ends the connection in order on its own.
 * Whatever the interleaving, nothing is lost quietly: when the CLOSE says 0,
 * the peer received every byte a net_send accepted; sends after the end get
 * NET_E_CLOSED or NET_E_BADHANDLE, never NET_OK for bytes that are dropped. */
#include "testlib.h"

#include <stdatomic.h>

#define ROUNDS 40
#define CHUNK 16

typedef struct sender {
    net_handle h;
    atomic_ullong accepted;
    atomic_int stop;
    int last_rc;
} sender;

static void sender_main(void *arg)
{
    sender *t = (sender *)arg;
    uint8_t buf[CHUNK];
    memset(buf, 0x5a, sizeof buf);
    while (!atomic_load(&t->stop)) {
        int rc = net_send(t->h, buf, sizeof buf);
        if (rc == NET_OK) {
            atomic_fetch_add(&t->accepted, sizeof buf);
        } else if (rc == NET_E_WOULDBLOCK) {
            tl_sleep_ms(1);
        } else {
            t->last_rc = rc;
            return;
        }
    }
}

typedef struct round_ctx {
    net_handle c, s;
    uint64_t received;
    int c_closed, s_closed, s_status;
} round_ctx;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    round_ctx *x = (round_ctx *)p;
    (void)e;
    if (ev->type == NET_EV_DATA && ev->handle == x->c)
        x->received += ev->len;
    if (ev->type == NET_EV_CLOSE && ev->handle == x->c)
        x->c_closed = 1;
    if (ev->type == NET_EV_CLOSE && ev->handle == x->s) {
        x->s_closed = 1;
        x->s_status = ev->status;
    }
}

static int both_closed(void *p)
{
    round_ctx *x = (round_ctx *)p;
    return x->c_closed && x->s_closed;
}

int main(void)
{
    tl_init("send_vs_peer_fin");
    net_config cfg;
    tl_config(&cfg);
    cfg.close_timeout_ms = 200; /* a round whose queue never drains ends soon */
    net_engine ce = tl_engine_with(&cfg), se = tl_engine_with(&cfg);
    net_tcp_config raw;
    tl_tcp(&raw, NET_FRAMING_RAW, 0);
    uint16_t port;
    net_handle l = tl_listen(se, &raw, &port);
    int orderly = 0;
    for (int round = 0; round < ROUNDS; round++) {
        round_ctx x;
        memset(&x, 0, sizeof x);
        tl_pair(ce, se, l, port, &raw, &x.c, &x.s);
        sender t;
        memset(&t, 0, sizeof t);
        t.h = x.s;
        atomic_init(&t.accepted, 0);
        atomic_init(&t.stop, 0);
        tl_thread *th = tl_thread_start(sender_main, &t);
        CHECK_OK(net_shutdown(x.c));
        TL_RUN(on_event, &x, both_closed);
        atomic_store(&t.stop, 1);
        tl_thread_join(th);
        uint64_t accepted = atomic_load(&t.accepted);
        if (x.s_status == NET_OK) {
            orderly++;
            CHECKF(x.received == accepted,
                   "round %d: CLOSE status 0, but the peer received %llu of the %llu bytes net_send accepted", round,
                   (unsigned long long)x.received, (unsigned long long)accepted);
        } else {
            CHECKF(x.s_status == NET_E_TIMEDOUT, "round %d: server CLOSE status %d (%s)", round, x.s_status,
                   tl_errname(x.s_status));
            CHECK(x.received <= accepted);
        }
        CHECKF(t.last_rc == 0 || t.last_rc == NET_E_CLOSED || t.last_rc == NET_E_BADHANDLE,
               "round %d: net_send returned %d (%s)", round, t.last_rc, tl_errname(t.last_rc));
    }
    printf("%d of %d rounds ended in order, the rest timed out with data queued\n", orderly, ROUNDS);
    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
