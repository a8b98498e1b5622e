/* recv_backpressure: an engine whose events are not polled stops reading
 * once recv_limit bytes wait for net_poll (stats.recv_paused > 0), so its
 * memory stays bounded while the peer keeps sending; once polled again,
 * everything arrives, in order. */
#include "testlib.h"

#define MSG (64 * 1024)
#define NMSG 512 /* 32 MiB */
#define LIMIT (256 * 1024)

typedef struct ctx {
    net_handle s;
    uint32_t got;
} ctx;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    ctx *x = (ctx *)p;
    (void)e;
    if (ev->type == NET_EV_SEND_HIGHWATER || ev->type == NET_EV_SEND_DRAINED)
        return; /* the sender's queue: 32 MiB at once */
    CHECKF(ev->type == NET_EV_DATA && ev->handle == x->s, "unexpected %s", tl_evname(ev->type));
    CHECKF(ev->len == MSG && tl_get_le((const uint8_t *)ev->data, 4) == x->got, "message %u: len %u", (unsigned)x->got,
           (unsigned)ev->len);
    CHECK(tl_mismatch((const uint8_t *)ev->data + 4, MSG - 4, x->got, 0) < 0);
    x->got++;
}

static int all_in(void *p)
{
    return ((ctx *)p)->got == NMSG;
}

int main(void)
{
    tl_init("recv_backpressure");
    net_config scfg, ccfg;
    tl_config(&scfg);
    scfg.recv_limit = LIMIT;
    tl_config(&ccfg);
    ccfg.send_cap = 64u << 20;
    net_engine se = tl_engine_with(&scfg), ce = tl_engine_with(&ccfg);
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U32LE, 0);
    uint16_t port;
    net_handle l = tl_listen(se, &tcp, &port);
    ctx x;
    memset(&x, 0, sizeof x);
    net_handle c;
    tl_pair(ce, se, l, port, &tcp, &c, &x.s);

    tl_engine_hold(se, 1); /* nobody polls the server engine from now on */
    static uint8_t msg[MSG];
    for (uint32_t i = 0; i < NMSG; i++) {
        tl_put_le(msg, i, 4);
        tl_fill(msg + 4, MSG - 4, i, 0);
        CHECK_OK(net_send(c, msg, MSG));
    }
    /* with I/O threads the server reads on its own until the limit;
     * without, nothing reads it at all: either way it stays bounded */
    uint64_t end = tl_now_ms() + 5000;
    while (tl_io_threads() > 0 && tl_stats(se).recv_paused == 0 && tl_now_ms() < end)
        tl_pump(10);
    tl_pump(200); /* the client keeps pushing; the server must not keep reading */
    net_stats st = tl_stats(se);
    uint64_t queued = 0;
    CHECK_OK(net_send_queued(c, &queued));
    printf("held: server bytes_in %llu, queue_depth %llu, recv_paused %llu; client still queues %llu\n",
           (unsigned long long)st.bytes_in, (unsigned long long)st.queue_depth, (unsigned long long)st.recv_paused,
           (unsigned long long)queued);
    if (tl_io_threads() > 0)
        CHECKF(st.recv_paused >= 1, "recv_paused %llu with %u KiB unpolled", (unsigned long long)st.recv_paused,
               (unsigned)(st.bytes_in / 1024));
    CHECKF(st.bytes_in <= LIMIT + (1u << 20), "server read %llu bytes nobody polled (recv_limit %u)",
           (unsigned long long)st.bytes_in, LIMIT);
    CHECK(queued > 0); /* the rest waits on the sender's side */

    /* polled again: all of it, in order; reading resumes */
    tl_engine_hold(se, 0);
    uint64_t t0 = tl_now_ms();
    TL_RUN(on_event, &x, all_in);
    printf("the remaining %u KiB arrived in %llu ms\n", (unsigned)((NMSG * (uint64_t)MSG - st.bytes_in) / 1024),
           (unsigned long long)(tl_now_ms() - t0));
    tl_pump(50); /* the engine sees at its next poll that the events were taken */
    st = tl_stats(se);
    CHECK_EQ(st.recv_paused, 0);
    CHECKF(st.bytes_in >= (uint64_t)NMSG * MSG && st.bytes_in <= (uint64_t)NMSG * (MSG + 4), "bytes_in %llu",
           (unsigned long long)st.bytes_in);

    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
