/* udp_sendqueue: a UDP socket's send queue is bounded by its send cap
 * (bytes plus 64 per datagram). net_sendto in a loop without polling
 * reaches NET_E_WOULDBLOCK - it neither blocks nor grows the queue without
 * bound - and a refused datagram is not queued. Once the engine runs, the
 * queue drains, sends work again, and every accepted datagram arrives once,
 * intact. Several fill-and-drain cycles, the cap also changed by option. */
#include "testlib.h"

#define LEN 1000
#define MAX_SEQ 10000

typedef struct rx {
    net_handle server;
    uint8_t *seen; /* by sequence number */
    int got;
} rx;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    rx *r = (rx *)p;
    (void)e;
    CHECKF(ev->type == NET_EV_DATAGRAM && ev->handle == r->server, "unexpected %s on handle %llu, status %d (%s)",
           tl_evname(ev->type), (unsigned long long)ev->handle, (int)ev->status, tl_errname(ev->status));
    CHECKF(ev->len == LEN, "datagram of %u bytes", (unsigned)ev->len);
    int seq = (int)tl_get_le((const uint8_t *)ev->data, 4);
    CHECKF(seq >= 0 && seq < MAX_SEQ, "sequence number %d", seq);
    CHECKF(tl_mismatch((const uint8_t *)ev->data + 4, LEN - 4, 0, 0) < 0, "datagram %d corrupt", seq);
    CHECKF(!r->seen[seq], "datagram %d arrived twice (a refused send went out?)", seq);
    r->seen[seq] = 1;
    r->got++;
}

typedef struct want {
    rx *r;
    int n;
} want;

static int got_all(void *p)
{
    const want *w = (const want *)p;
    return w->r->got >= w->n;
}

/* Datagram seq: its number, then the same pattern in every datagram, so
 * making one costs no more than the copy net_sendto makes (an I/O thread
 * draining meanwhile must not keep pace with the loop). */
static const uint8_t *make(int seq)
{
    static uint8_t buf[LEN];
    static int ready;
    if (!ready) {
        tl_fill(buf + 4, LEN - 4, 0, 0);
        ready = 1;
    }
    tl_put_le(buf, (uint64_t)seq, 4);
    return buf;
}

static void handler(void *p, net_engine e, const net_event *ev)
{
    on_event(((want *)p)->r, e, ev);
}

/* Sends until NET_E_WOULDBLOCK without polling; returns how many went in. */
static int fill(net_handle u, const net_addr *to, int *seq, uint32_t cap)
{
    int accepted = 0;
    uint64_t t0 = tl_now_us();
    for (int tries = 0;; tries++) {
        CHECKF(tries < 1000, "no NET_E_WOULDBLOCK after %d sends of %d bytes, cap %u", tries, LEN, (unsigned)cap);
        CHECKF(*seq < MAX_SEQ, "sequence numbers exhausted");
        int rc = net_sendto(u, to, make(*seq), LEN);
        if (rc == NET_E_WOULDBLOCK)
            break;
        CHECKF(rc == NET_OK, "net_sendto returned %d (%s)", rc, tl_errname(rc));
        accepted++;
        (*seq)++;
    }
    uint64_t us = tl_now_us() - t0;
    CHECKF(us < 2000000, "filling the queue took %llu us: a send blocked?", (unsigned long long)us);
    /* with no I/O thread nothing drains while nobody polls: the queue holds
     * at most the cap; with one the thread may have sent some meanwhile */
    if (tl_io_threads() == 0) {
        CHECKF((uint64_t)accepted * (LEN + 64) <= cap, "%d datagrams of %d bytes queued under a cap of %u", accepted,
               LEN, (unsigned)cap);
        CHECKF((uint64_t)(accepted + 1) * (LEN + 64) > cap, "only %d datagrams of %d bytes queued under a cap of %u",
               accepted, LEN, (unsigned)cap);
    }
    CHECKF(accepted >= 1, "the first send of a cycle was refused (cap %u)", (unsigned)cap);
    return accepted;
}

int main(void)
{
    tl_init("udp_sendqueue");
    net_engine se = tl_engine(), ce = tl_engine();
    net_udp_config scfg, ccfg;
    net_udp_config_init(&scfg);
    scfg.rcvbuf = 1 << 20; /* headroom: the test is about the sender's queue */
    net_udp_config_init(&ccfg);
    ccfg.send_cap = 16 * 1024;
    rx r;
    memset(&r, 0, sizeof r);
    r.seen = (uint8_t *)calloc(MAX_SEQ, 1);
    CHECK(r.seen != NULL);
    net_addr sa;
    r.server = tl_udp(se, NULL, &scfg, &sa);
    net_handle u = tl_udp(ce, NULL, &ccfg, NULL);
    int64_t v = 0;
    CHECK_OK(net_get_option(u, NET_OPT_SEND_CAP, &v));
    CHECK_EQ(v, 16 * 1024);

    int seq = 0, total = 0;
    uint32_t cap = ccfg.send_cap;
    for (int cycle = 0; cycle < 4; cycle++) {
        if (cycle == 2) { /* a smaller cap by option */
            cap = 4 * 1024;
            CHECK_OK(net_set_option(u, NET_OPT_SEND_CAP, cap));
        }
        int n = fill(u, &sa, &seq, cap);
        total += n;
        printf("  cycle %d: cap %u, %d datagrams queued before NET_E_WOULDBLOCK\n", cycle, (unsigned)cap, n);
        /* the engine runs: the queue drains and everything arrives */
        want w = {&r, total};
        if (!tl_run(handler, &w, got_all, TL_TIMEOUT_MS))
            tl_fail(__FILE__, __LINE__, "drain", "cycle %d: %d of %d accepted datagrams arrived", cycle, r.got, total);
        uint64_t queued = 1;
        uint64_t end = tl_now_ms() + TL_TIMEOUT_MS;
        while (net_send_queued(u, &queued) == NET_OK && queued != 0 && tl_now_ms() < end)
            tl_pump(1);
        CHECK_OK(net_send_queued(u, &queued));
        CHECKF(queued == 0, "%llu bytes still queued after the drain", (unsigned long long)queued);
        /* and sends work again (delivered before the next cycle, which
         * starts from an empty queue) */
        CHECK_OK(net_sendto(u, &sa, make(seq), LEN));
        seq++;
        total++;
        w.n = total;
        TL_RUN(handler, &w, got_all);
    }
    want w = {&r, total};
    tl_run(handler, &w, NULL, 50);
    CHECK_EQ(r.got, total);
    CHECK_EQ(r.got, seq); /* no gaps: every refused send was retried under its number */

    CHECK_EQ(tl_close_wait(ce, u), 0);
    CHECK_EQ(tl_close_wait(se, r.server), 0);
    free(r.seen);
    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
