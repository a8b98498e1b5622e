/* send_held: an echo references the received block its payload sits in
 * rather than copying it, and a block holds whatever the loop read, up to
 * 64 KiB; a peer that never reads must not make the server keep a whole
 * block alive for each small echo stuck in its queue. Here one client never
 * reads (its engine is not polled, its receive limit tiny) while another
 * streams 24 KiB messages between each of its 2000-byte ones, so that every
 * few small messages land in a different block. The echoes queued for the
 * non-reader keep alive (NET_OPT_SEND_HELD) no more than its send cap, 4 MiB
 * here (without the bound, the ~1,400 echoes the OS's buffers do not take
 * would hold ~35 MiB of blocks); and once it reads, every echo arrives once,
 * in order, byte for byte, whether it was referenced or copied. */
#include "testlib.h"

#define SMALL 2000
#define SMALL_COUNT 1500 /* the OS's socket buffers take the first few hundred echoes */
#define FILLER (24 * 1024)
#define SEND_CAP (4 * 1024 * 1024)

typedef struct test {
    net_engine se, ce;
    net_handle listener, reader_srv, streamer_srv, reader, streamer;
    int reader_got;   /* small messages the server received */
    int streamer_got; /* filler messages the server received */
    int echoes;       /* echoes the non-reader received, once it reads */
    int accepted;
    int want; /* messages of each kind the server is to have received */
} test;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    test *t = p;
    CHECKF(ev->status == 0, "%s status %s", tl_evname(ev->type), tl_errname(ev->status));
    if (ev->type == NET_EV_ACCEPT) {
        CHECK_EQ(ev->parent, t->listener);
        t->accepted++;
    } else if (ev->type == NET_EV_DATA && e == t->se && ev->handle == t->reader_srv) {
        CHECK_EQ(ev->len, SMALL);
        CHECKF(tl_mismatch(ev->data, ev->len, 1, (uint64_t)t->reader_got * SMALL) < 0, "message %d garbled",
               t->reader_got);
        t->reader_got++;
        CHECK_OK(net_send(ev->handle, ev->data, ev->len)); /* the echo: referenced or copied */
    } else if (ev->type == NET_EV_DATA && e == t->se) {
        CHECK_EQ(ev->handle, t->streamer_srv);
        CHECK_EQ(ev->len, FILLER);
        t->streamer_got++;
    } else if (ev->type == NET_EV_DATA) {
        CHECK_EQ(ev->handle, t->reader);
        CHECK_EQ(ev->len, SMALL);
        long long bad = tl_mismatch(ev->data, ev->len, 1, (uint64_t)t->echoes * SMALL);
        CHECKF(bad < 0, "echo %d: wrong byte at %lld", t->echoes, bad);
        t->echoes++;
    } else {
        CHECKF(ev->type == NET_EV_CONNECT || ev->type == NET_EV_SEND_HIGHWATER || ev->type == NET_EV_SEND_DRAINED,
               "unexpected %s", tl_evname(ev->type));
    }
}

static int small_arrived(void *p)
{
    const test *t = p;
    return t->reader_got == t->want && t->streamer_got == t->want;
}

static int all_echoed(void *p)
{
    return ((const test *)p)->echoes == SMALL_COUNT;
}

static int64_t option(net_handle h, int opt)
{
    int64_t v = -1;
    CHECK_OK(net_get_option(h, opt, &v));
    return v;
}

int main(void)
{
    tl_init("send_held");
    test t;
    memset(&t, 0, sizeof t);
    t.se = tl_engine();
    /* The non-reader's engine: an I/O thread that sends what it is given
     * and stops reading after 1 KiB nobody polled. */
    net_config ccfg;
    tl_config(&ccfg);
    ccfg.io_threads = 1;
    ccfg.recv_limit = 1024;
    t.ce = tl_engine_with(&ccfg);

    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U32LE, 0);
    uint16_t port = 0;
    t.listener = tl_listen(t.se, &tcp, &port);
    tl_pair(t.ce, t.se, t.listener, port, &tcp, &t.reader, &t.reader_srv);
    tl_pair(t.se, t.se, t.listener, port, &tcp, &t.streamer, &t.streamer_srv);
    tl_engine_hold(t.ce, 1);
    CHECK_OK(net_set_option(t.reader_srv, NET_OPT_SEND_CAP, SEND_CAP));
    CHECK_OK(net_set_option(t.reader_srv, NET_OPT_SNDBUF, 16384)); /* the OS takes fewer echoes */
    CHECK_EQ(option(t.reader_srv, NET_OPT_SEND_HELD), 0);

    uint8_t *filler = tl_xmalloc(FILLER);
    tl_fill(filler, FILLER, 2, 0);
    uint8_t small[SMALL];
    int64_t most = 0;
    for (int i = 0; i < SMALL_COUNT; i++) {
        /* A filler first: the small ones land a block or so apart. */
        tl_send(t.streamer, filler, FILLER);
        tl_fill(small, SMALL, 1, (uint64_t)i * SMALL);
        CHECK_OK(net_send(t.reader, small, SMALL));
        t.want = i + 1;
        if (!tl_run(on_event, &t, small_arrived, TL_TIMEOUT_MS)) {
            uint64_t cq = 0, sq = 0;
            net_send_queued(t.reader, &cq);
            net_send_queued(t.reader_srv, &sq);
            tl_fail(__FILE__, __LINE__, "messages",
                    "the server has %d of %d small and %d filler messages (queued: client %llu, server %llu)",
                    t.reader_got, t.want, t.streamer_got, (unsigned long long)cq, (unsigned long long)sq);
        }
        int64_t held = option(t.reader_srv, NET_OPT_SEND_HELD);
        most = held > most ? held : most;
        CHECKF(held <= SEND_CAP, "after %d echoes the queue keeps %lld bytes of blocks alive (send cap %d)", i + 1,
               (long long)held, SEND_CAP);
    }
    free(filler);
    uint64_t queued = 0;
    CHECK_OK(net_send_queued(t.reader_srv, &queued));
    printf("  %d echoes to a peer that does not read: %llu bytes queued, at most %lld bytes of blocks held\n",
           SMALL_COUNT, (unsigned long long)queued, (long long)most);
    CHECKF(most > 0, "no echo was referenced in its block");
    CHECKF(queued > 0, "the non-reader took every echo: nothing was queued");

    /* It reads now: every echo, once, in order, intact. */
    tl_engine_hold(t.ce, 0);
    TL_RUN(on_event, &t, all_echoed);
    CHECK_EQ(tl_close_wait(t.ce, t.reader), 0);
    CHECK_EQ(tl_close_wait(t.se, t.streamer), 0);
    tl_engine_destroy(t.ce);
    tl_engine_destroy(t.se);
    printf("ok\n");
    return 0;
}
