/* send_threads: several threads send on the same and on different
 * connections while the main thread polls, two of them with net_send and
 * two with net_forward_data (which, with io_threads, may write on the
 * calling thread while the others' sends go through the I/O thread):
 * every message arrives intact, each thread's messages in the order it
 * sent them. Then a thread forwards to a connection while the main thread
 * aborts it, again and again: every call fails alone with NET_E_CLOSED or
 * NET_E_BADHANDLE once the abort is in, the peer gets an in-order prefix of
 * whole messages and its CLOSE, and no descriptor is left behind. */
#include <stdatomic.h>

#include "testlib.h"

#define NTHREADS 4
#define NCONN 3
#define PER 2000 /* messages per thread per connection it uses */

typedef struct sender {
    int id;
    net_handle conns[2];
    int nconns;
    int forward; /* net_forward_data: one call per seq, one payload per connection */
} sender;

static uint32_t msg_len(int id, uint32_t seq)
{
    return 5u + (seq * 131u + (uint32_t)id * 17u) % 1500u;
}

/* net_forward_data of one payload per event, each retried alone while
 * the send cap refuses it: a connection gets one payload per call, so a
 * retry keeps its order. */
static void forward_each(const sender *t, net_event *evs, int n)
{
    int results[2];
    CHECK(n <= 2);
    net_forward_data(evs, n, 0, results);
    for (int k = 0; k < n; k++) {
        uint64_t end = tl_now_ms() + TL_TIMEOUT_MS;
        while (results[k] == NET_E_WOULDBLOCK) {
            CHECKF(tl_now_ms() < end, "thread %d: send cap never drained", t->id);
            tl_sleep_ms(1);
            net_forward_data(&evs[k], 1, 0, &results[k]);
        }
        CHECKF(results[k] == NET_OK, "thread %d: net_forward_data gave %d (%s)", t->id, results[k],
               tl_errname(results[k]));
    }
}

static void sender_main(void *arg)
{
    sender *t = (sender *)arg;
    uint8_t buf[2000];
    net_event evs[2];
    memset(evs, 0, sizeof evs);
    for (uint32_t seq = 0; seq < PER; seq++) {
        uint32_t len = msg_len(t->id, seq);
        buf[0] = (uint8_t)t->id;
        tl_put_le(buf + 1, seq, 4);
        tl_fill(buf + 5, len - 5, ((uint64_t)t->id << 32) | seq, 0);
        for (int k = 0; k < t->nconns; k++) {
            if (t->forward) {
                evs[k].type = NET_EV_DATA;
                evs[k].handle = t->conns[k];
                evs[k].data = buf;
                evs[k].len = len;
                continue;
            }
            uint64_t end = tl_now_ms() + TL_TIMEOUT_MS;
            int rc;
            while ((rc = net_send(t->conns[k], buf, len)) == NET_E_WOULDBLOCK) {
                CHECKF(tl_now_ms() < end, "thread %d: send cap never drained", t->id);
                tl_sleep_ms(1);
            }
            CHECKF(rc == NET_OK, "thread %d: net_send returned %d (%s)", t->id, rc, tl_errname(rc));
        }
        if (t->forward)
            forward_each(t, evs, t->nconns);
    }
}

typedef struct ctx {
    net_handle srv[NCONN];
    uint32_t next[NCONN][NTHREADS]; /* next seq expected per connection and thread */
    uint32_t want_total, got_total;
} ctx;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    ctx *x = (ctx *)p;
    (void)e;
    if (ev->type == NET_EV_SEND_HIGHWATER || ev->type == NET_EV_SEND_DRAINED)
        return; /* the threads may outrun the socket */
    CHECKF(ev->type == NET_EV_DATA, "unexpected %s status %d", tl_evname(ev->type), (int)ev->status);
    int ci = -1;
    for (int i = 0; i < NCONN; i++)
        if (ev->handle == x->srv[i])
            ci = i;
    CHECK(ci >= 0);
    const uint8_t *d = (const uint8_t *)ev->data;
    CHECK(ev->len >= 5 && d[0] < NTHREADS);
    int id = d[0];
    uint32_t seq = (uint32_t)tl_get_le(d + 1, 4);
    CHECKF(seq == x->next[ci][id], "connection %d thread %d: seq %u, expected %u", ci, id, (unsigned)seq,
           (unsigned)x->next[ci][id]);
    CHECKF(ev->len == msg_len(id, seq), "connection %d thread %d seq %u: len %u", ci, id, (unsigned)seq,
           (unsigned)ev->len);
    CHECKF(tl_mismatch(d + 5, ev->len - 5, ((uint64_t)id << 32) | seq, 0) < 0,
           "connection %d thread %d seq %u: corrupt", ci, id, (unsigned)seq);
    x->next[ci][id]++;
    x->got_total++;
}

static int all_in(void *p)
{
    ctx *x = (ctx *)p;
    return x->got_total == x->want_total;
}

/* ---- forwarding to a connection while it is aborted ---- */

#define RACE_ROUNDS 20
#define RACE_LEN 300 /* past the size below which forwarded payloads are copied at once */
#define RACE_SEEN 20 /* messages the peer has before the abort */

typedef struct racer {
    net_handle to;     /* the server side, which the thread forwards to */
    atomic_uint taken; /* messages queued before the first refusal */
} racer;

static void racer_main(void *arg)
{
    racer *r = (racer *)arg;
    uint8_t buf[RACE_LEN];
    net_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = NET_EV_DATA;
    ev.handle = r->to;
    ev.data = buf;
    ev.len = RACE_LEN;
    uint32_t seq = 0;
    uint64_t end = tl_now_ms() + TL_TIMEOUT_MS;
    for (;;) {
        CHECKF(tl_now_ms() < end, "%u messages forwarded and the abort never refused one", (unsigned)seq);
        tl_put_le(buf, seq, 4);
        tl_fill(buf + 4, RACE_LEN - 4, seq, 0);
        int rc = 12345;
        net_forward_data(&ev, 1, 0, &rc);
        if (rc == NET_OK) {
            atomic_store(&r->taken, ++seq);
        } else if (rc == NET_E_WOULDBLOCK) {
            tl_sleep_ms(1); /* the same message again */
        } else {
            CHECKF(rc == NET_E_CLOSED || rc == NET_E_BADHANDLE, "forward after %u messages: %d (%s)", (unsigned)seq, rc,
                   tl_errname(rc));
            return;
        }
    }
}

typedef struct peer {
    net_handle c, s;
    uint32_t got;
    int closed_c, closed_s;
} peer;

static void on_race_event(void *p, net_engine e, const net_event *ev)
{
    peer *x = (peer *)p;
    (void)e;
    if (ev->type == NET_EV_CLOSE) {
        CHECK(ev->handle == x->c || ev->handle == x->s);
        *(ev->handle == x->c ? &x->closed_c : &x->closed_s) += 1;
        return;
    }
    if (ev->type == NET_EV_SEND_HIGHWATER || ev->type == NET_EV_SEND_DRAINED)
        return;
    CHECKF(ev->type == NET_EV_DATA && ev->handle == x->c, "unexpected %s status %d", tl_evname(ev->type),
           (int)ev->status);
    const uint8_t *d = (const uint8_t *)ev->data;
    CHECKF(ev->len == RACE_LEN && tl_get_le(d, 4) == x->got, "message %u: %u bytes, seq %llu", (unsigned)x->got,
           (unsigned)ev->len, (unsigned long long)(ev->len >= 4 ? tl_get_le(d, 4) : 0));
    CHECKF(tl_mismatch(d + 4, RACE_LEN - 4, x->got, 0) < 0, "message %u: corrupt", (unsigned)x->got);
    x->got++;
}

static int seen_enough(void *p)
{
    return ((peer *)p)->got >= RACE_SEEN;
}

static int both_closed(void *p)
{
    peer *x = (peer *)p;
    return x->closed_c && x->closed_s;
}

static void forward_while_aborted(net_engine ce, net_engine se, net_handle l, uint16_t port, const net_tcp_config *tcp)
{
    int before = tl_open_descriptors();
    uint32_t got = 0, taken = 0;
    for (int round = 0; round < RACE_ROUNDS; round++) {
        peer x;
        memset(&x, 0, sizeof x);
        tl_pair(ce, se, l, port, tcp, &x.c, &x.s);
        racer r;
        r.to = x.s;
        atomic_init(&r.taken, 0);
        tl_thread *th = tl_thread_start(racer_main, &r);
        TL_RUN(on_race_event, &x, seen_enough);
        CHECK_OK(net_abort(x.s));
        tl_thread_join(th); /* it stops at its first refusal, which the abort makes at once */
        TL_RUN(on_race_event, &x, both_closed);
        tl_run(on_race_event, &x, NULL, 20); /* a second CLOSE would show here */
        CHECK_EQ(x.closed_c, 1);
        CHECK_EQ(x.closed_s, 1);
        CHECKF(x.got <= atomic_load(&r.taken), "the peer got %u messages of %u", (unsigned)x.got,
               (unsigned)atomic_load(&r.taken));
        got += x.got;
        taken += atomic_load(&r.taken);
    }
    int after = tl_open_descriptors();
    printf("forward while aborted: %d rounds, %u messages queued, %u arrived before the RST\n", RACE_ROUNDS,
           (unsigned)taken, (unsigned)got);
    if (before >= 0)
        CHECKF(after == before, "%d descriptors before, %d after", before, after);
}

int main(void)
{
    tl_init("send_threads");
    net_engine ce = tl_engine(), se = tl_engine();
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U32LE, 0);
    uint16_t port;
    net_handle l = tl_listen(se, &tcp, &port);
    ctx x;
    memset(&x, 0, sizeof x);
    net_handle cli[NCONN];
    for (int i = 0; i < NCONN; i++)
        tl_pair(ce, se, l, port, &tcp, &cli[i], &x.srv[i]);

    /* threads 0, 1, 3 share connection 0; thread 2 has 1; thread 3 also 2;
     * 1 and 3 forward */
    sender s[NTHREADS] = {
        {0, {cli[0], 0}, 1, 0}, {1, {cli[0], 0}, 1, 1}, {2, {cli[1], 0}, 1, 0}, {3, {cli[0], cli[2]}, 2, 1}};
    for (int i = 0; i < NTHREADS; i++)
        x.want_total += (uint32_t)(PER * s[i].nconns);
    uint64_t t0 = tl_now_ms();
    tl_thread *th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        th[i] = tl_thread_start(sender_main, &s[i]);
    TL_RUN(on_event, &x, all_in);
    for (int i = 0; i < NTHREADS; i++)
        tl_thread_join(th[i]);
    tl_run(on_event, &x, NULL, 50);
    CHECK_EQ(x.got_total, x.want_total);
    printf("%u messages from %d threads in %llu ms\n", (unsigned)x.got_total, NTHREADS,
           (unsigned long long)(tl_now_ms() - t0));
    CHECK_EQ(x.next[0][0] + x.next[0][1] + x.next[0][3], 3 * PER);
    CHECK_EQ(x.next[1][2], PER);
    CHECK_EQ(x.next[2][3], PER);

    forward_while_aborted(ce, se, l, port, &tcp);

    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
