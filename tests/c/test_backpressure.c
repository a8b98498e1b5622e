/* backpressure: towards a peer that does not read, net_send fills the queue
 * up to the send cap and then fails with NET_E_WOULDBLOCK, queueing
 * nothing; SEND_HIGHWATER comes once past the high-water mark; when the
 * peer reads again everything arrives and SEND_DRAINED comes once under the
 * low-water mark. The limits come from the engine config or NET_OPT_*. */
#include "testlib.h"

#define MSG (16 * 1024)

typedef struct ctx {
    net_handle c, s;
    uint32_t sent, got;
    int high, drained;
    uint64_t high_len, drained_len;
} ctx;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    ctx *x = (ctx *)p;
    (void)e;
    if (ev->type == NET_EV_SEND_HIGHWATER && ev->handle == x->c) {
        CHECKF(x->high == x->drained, "HIGHWATER #%d while above the mark (DRAINED %d)", x->high + 1, x->drained);
        x->high++;
        x->high_len = ev->len;
    } else if (ev->type == NET_EV_SEND_DRAINED && ev->handle == x->c) {
        CHECKF(x->drained + 1 == x->high, "DRAINED #%d after %d HIGHWATER", x->drained + 1, x->high);
        x->drained++;
        x->drained_len = ev->len;
    } else if (ev->type == NET_EV_DATA && ev->handle == x->s) {
        CHECKF(ev->len == MSG && tl_get_le((const uint8_t *)ev->data, 4) == x->got, "message %u: len %u",
               (unsigned)x->got, (unsigned)ev->len);
        x->got++;
    } else {
        tl_fail(__FILE__, __LINE__, "unexpected event", "%s status %d handle %llu", tl_evname(ev->type),
                (int)ev->status, (unsigned long long)ev->handle);
    }
}

static int all_in_and_drained(void *p)
{
    ctx *x = (ctx *)p;
    return x->got == x->sent && x->drained == x->high;
}

static void scenario(net_engine ce, net_engine se, net_handle l, uint16_t port, uint32_t cap, uint32_t hw, uint32_t lw,
                     int by_option)
{
    printf("  cap %u, high %u, low %u, set by %s\n", (unsigned)cap, (unsigned)hw, (unsigned)lw,
           by_option ? "NET_OPT_*" : "engine config");
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U32LE, 0);
    ctx x;
    memset(&x, 0, sizeof x);
    tl_pair(ce, se, l, port, &tcp, &x.c, &x.s);
    /* Socket buffers of a set size: left to autotuning, loopback's grow by
     * megabytes while data flows, so a queue full at one refusal could
     * drain into them during the waits below (io_uring t1 under ASan: 2
     * failures in 30, 7 MiB sent and nothing left queued at the check). */
    CHECK_OK(net_set_option(x.c, NET_OPT_SNDBUF, 64 * 1024));
    CHECK_OK(net_set_option(x.s, NET_OPT_RCVBUF, 64 * 1024));
    if (by_option) {
        CHECK_OK(net_set_option(x.c, NET_OPT_SEND_CAP, cap));
        CHECK_OK(net_set_option(x.c, NET_OPT_HIGHWATER, hw));
        CHECK_OK(net_set_option(x.c, NET_OPT_LOWWATER, lw));
    }
    int64_t v;
    CHECK_OK(net_get_option(x.c, NET_OPT_SEND_CAP, &v));
    CHECK_EQ(v, cap);
    CHECK_OK(net_get_option(x.c, NET_OPT_HIGHWATER, &v));
    CHECK_EQ(v, hw);
    CHECK_OK(net_get_option(x.c, NET_OPT_LOWWATER, &v));
    CHECK_EQ(v, lw);

    /* the server stops reading; the client sends until refused, and until
     * still refused, the queue as it was at the last refusal, after the
     * engine had time to write: the kernel takes no more (with an I/O thread
     * the sender can outrun it: the cap is reached before the socket is
     * full). The queue is read at each refusal, not after the wait that
     * follows: the kernel may take more during it. */
    tl_engine_hold(se, 1);
    static uint8_t msg[MSG];
    int rc = NET_OK, refused = 0;
    uint64_t limit = 256u << 20; /* kernel buffers + cap are far below this */
    uint64_t q = 0, q_before = 0, give_up = tl_now_ms() + TL_TIMEOUT_MS;
    while (refused < 3 || q != q_before) {
        CHECKF((uint64_t)x.sent * MSG < limit, "%u messages accepted towards a peer that does not read",
               (unsigned)x.sent);
        CHECKF(tl_now_ms() < give_up, "the queue never settled at the cap (%llu bytes at the last refusal)",
               (unsigned long long)q);
        tl_put_le(msg, x.sent, 4);
        rc = net_send(x.c, msg, MSG);
        if (rc == NET_OK) {
            x.sent++;
            refused = 0;
            if (x.sent % 8 == 0)
                tl_run(on_event, &x, NULL, 0); /* lets a t0 engine write, takes the events */
            continue;
        }
        CHECKF(rc == NET_E_WOULDBLOCK, "net_send returned %d (%s) after %u messages", rc, tl_errname(rc),
               (unsigned)x.sent);
        refused++;
        q_before = q;
        CHECK_OK(net_send_queued(x.c, &q));
        tl_run(on_event, &x, NULL, 30);
    }
    printf("  refused after %u messages (%u KiB), %llu bytes queued\n", (unsigned)x.sent,
           (unsigned)(x.sent * (MSG / 1024)), (unsigned long long)q);
    CHECKF(q <= cap + 64 && q + MSG + 4 > cap - 256, "queued %llu at refusal, cap %u", (unsigned long long)q,
           (unsigned)cap);

    /* a refused send queues nothing: 10 in a row leave the count of
     * messages taken and the queue as they were. The kernel of a stalled
     * stream may still make room now and then (it takes more of it in
     * bursts: ASan, io_uring t1); a send accepted then is kept, and the
     * check starts over once the loop has taken it. */
    for (int attempt = 0;; attempt++) {
        CHECKF(attempt < 20, "the kernel kept taking more: %u messages accepted", (unsigned)x.sent);
        net_stats st0, st1;
        st0.size = st1.size = sizeof st0;
        uint64_t q1 = 0, q2 = 0;
        CHECK_OK(net_engine_stats(ce, &st0));
        CHECK_OK(net_send_queued(x.c, &q1));
        int refusals = 0;
        tl_put_le(msg, x.sent, 4);
        while (refusals < 10 && (rc = net_send(x.c, msg, MSG)) == NET_E_WOULDBLOCK)
            refusals++;
        if (refusals < 10) {
            CHECKF(rc == NET_OK, "net_send returned %d (%s)", rc, tl_errname(rc));
            x.sent++;
            tl_run(on_event, &x, NULL, 30);
            continue;
        }
        CHECK_OK(net_engine_stats(ce, &st1));
        CHECK_EQ(st1.messages_out, st0.messages_out);
        CHECK_OK(net_send_queued(x.c, &q2));
        CHECK(q2 <= q1);
        break;
    }

    /* above the mark now: the last event said so (while the kernel buffers
     * were still filling, the queue may have crossed both marks before) */
    tl_run(on_event, &x, NULL, 50);
    CHECKF(x.high >= 1 && x.high == x.drained + 1, "%d SEND_HIGHWATER and %d SEND_DRAINED at the cap", x.high,
           x.drained);
    CHECKF(x.high_len >= hw && x.high_len <= cap + 64, "HIGHWATER len %llu", (unsigned long long)x.high_len);
    int high_at_cap = x.high;

    /* the server reads again: every message arrives, DRAINED once */
    tl_engine_hold(se, 0);
    TL_RUN(on_event, &x, all_in_and_drained);
    tl_run(on_event, &x, NULL, 50);
    CHECK_EQ(x.got, x.sent);
    CHECK_EQ(x.high, high_at_cap); /* draining raises no HIGHWATER */
    CHECK_EQ(x.drained, x.high);
    printf("  %d HIGHWATER / DRAINED pairs\n", x.high);
    CHECKF(x.drained_len <= lw, "DRAINED len %llu, low-water %u", (unsigned long long)x.drained_len, (unsigned)lw);
    CHECK_OK(net_send_queued(x.c, &q));
    CHECK_EQ(q, 0);
    tl_put_le(msg, x.sent++, 4);
    CHECK_OK(net_send(x.c, msg, MSG)); /* accepted again */
    TL_RUN(on_event, &x, all_in_and_drained);

    CHECK_EQ(tl_close_wait(ce, x.c), 0);
    net_event ev;
    TL_EXPECT(se, NET_EV_CLOSE, x.s, &ev);
}

int main(void)
{
    tl_init("backpressure");
    net_config scfg, ccfg;
    tl_config(&scfg);
    scfg.recv_limit = 64 * 1024; /* a held server stops reading early (io_threads > 0) */
    net_engine se = tl_engine_with(&scfg);
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U32LE, 0);
    uint16_t port;
    net_handle l = tl_listen(se, &tcp, &port);

    net_engine ce = tl_engine();
    scenario(ce, se, l, port, 2u << 20, 512 * 1024, 128 * 1024, 1);
    tl_engine_destroy(ce);

    tl_config(&ccfg);
    ccfg.send_cap = 1u << 20;
    ccfg.max_message = 64 * 1024; /* a send cap must hold the largest message */
    ccfg.send_highwater = 256 * 1024;
    ccfg.send_lowwater = 32 * 1024;
    ce = tl_engine_with(&ccfg);
    scenario(ce, se, l, port, ccfg.send_cap, ccfg.send_highwater, ccfg.send_lowwater, 0);
    tl_engine_destroy(ce);

    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
