/* send_threads: several threads net_send on the same and on different
 * connections while the main thread polls; every message arrives intact,
 * each thread's messages in the order it sent them. */
#include "testlib.h"

#define NTHREADS 4
#define NCONN 3
#define PER 2000 /* messages per thread per connection it uses */

typedef struct sender {
    int id;
    net_handle conns[2];
    int nconns;
} sender;

static uint32_t msg_len(int id, uint32_t seq)
{
    return 5u + (seq * 131u + (uint32_t)id * 17u) % 1500u;
}

static void sender_main(void *arg)
{
    sender *t = (sender *)arg;
    uint8_t buf[2000];
    for (uint32_t seq = 0; seq < PER; seq++) {
        for (int k = 0; k < t->nconns; k++) {
            uint32_t len = msg_len(t->id, seq);
            buf[0] = (uint8_t)t->id;
            tl_put_le(buf + 1, seq, 4);
            tl_fill(buf + 5, len - 5, ((uint64_t)t->id << 32) | seq, 0);
            uint64_t end = tl_now_ms() + TL_TIMEOUT_MS;
            int rc;
            while ((rc = net_send(t->conns[k], buf, len)) == NET_E_WOULDBLOCK) {
                CHECKF(tl_now_ms() < end, "thread %d: send cap never drained", t->id);
                tl_sleep_ms(1);
            }
            CHECKF(rc == NET_OK, "thread %d: net_send returned %d (%s)", t->id, rc, tl_errname(rc));
        }
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

    /* threads 0, 1, 3 share connection 0; thread 2 has 1; thread 3 also 2 */
    sender s[NTHREADS] = {{0, {cli[0], 0}, 1}, {1, {cli[0], 0}, 1}, {2, {cli[1], 0}, 1}, {3, {cli[0], cli[2]}, 2}};
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

    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
