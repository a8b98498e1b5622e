/* close_graceful: net_close right after queueing many megabytes: the peer
 * receives every byte, in order, then CLOSE with status 0; both ways. */
#include "testlib.h"

typedef struct ctx {
    net_handle c, s;
    int framed;
    uint64_t total, got; /* raw: bytes; framed: messages */
    int recv_closed, send_closed;
    int recv_status, send_status;
    net_handle receiver, sender;
} ctx;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    ctx *x = (ctx *)p;
    (void)e;
    if (ev->type == NET_EV_SEND_HIGHWATER || ev->type == NET_EV_SEND_DRAINED)
        return; /* megabytes queued at once pass the default high-water mark */
    if (ev->type == NET_EV_CLOSE) {
        if (ev->handle == x->receiver) {
            CHECKF(x->got == x->total, "receiver CLOSE (status %d %s) after %llu of %llu", (int)ev->status,
                   tl_errname(ev->status), (unsigned long long)x->got, (unsigned long long)x->total);
            x->recv_closed++;
            x->recv_status = ev->status;
        } else {
            CHECK(ev->handle == x->sender);
            x->send_closed++;
            x->send_status = ev->status;
        }
        return;
    }
    CHECKF(ev->type == NET_EV_DATA && ev->handle == x->receiver, "unexpected %s on %llu", tl_evname(ev->type),
           (unsigned long long)ev->handle);
    if (x->framed) {
        CHECKF(ev->len == 4096 && tl_get_le((const uint8_t *)ev->data, 4) == x->got, "message %llu: len %u",
               (unsigned long long)x->got, (unsigned)ev->len);
        CHECK(tl_mismatch((const uint8_t *)ev->data + 4, ev->len - 4, x->got, 0) < 0);
        x->got++;
    } else {
        long long bad = tl_mismatch(ev->data, ev->len, 42, x->got);
        CHECKF(bad < 0, "byte at offset %llu differs", (unsigned long long)(x->got + (uint64_t)bad));
        x->got += ev->len;
        CHECK(x->got <= x->total);
    }
}

static int both_closed(void *p)
{
    ctx *x = (ctx *)p;
    return x->recv_closed && x->send_closed;
}

int main(void)
{
    tl_init("close_graceful");
    net_engine ce = tl_engine(), se = tl_engine();
    uint16_t port;
    net_handle l = tl_listen(se, NULL, &port);
    ctx x;
    memset(&x, 0, sizeof x);
    tl_pair(ce, se, l, port, NULL, &x.c, &x.s);

    /* client -> server, raw, 24 MiB queued at once then closed */
    x.sender = x.c;
    x.receiver = x.s;
    x.total = 24u << 20;
    CHECK_OK(net_set_option(x.c, NET_OPT_SEND_CAP, 64 << 20));
    static uint8_t chunk[64 * 1024];
    for (uint64_t off = 0; off < x.total; off += sizeof chunk) {
        tl_fill(chunk, sizeof chunk, 42, off);
        CHECK_OK(net_send(x.c, chunk, sizeof chunk));
    }
    CHECK_OK(net_close(x.c));
    uint64_t t0 = tl_now_ms();
    TL_RUN(on_event, &x, both_closed);
    printf("raw: %llu bytes then CLOSE in %llu ms\n", (unsigned long long)x.got,
           (unsigned long long)(tl_now_ms() - t0));
    CHECK_EQ(x.recv_status, 0);
    CHECK_EQ(x.send_status, 0);
    tl_run(on_event, &x, NULL, 50);
    CHECK_EQ(x.recv_closed, 1);
    CHECK_EQ(x.send_closed, 1);

    /* server -> client, framed: 2048 messages of 4 KiB, then closed */
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U32LE, 0);
    net_handle lf = tl_listen(se, &tcp, &port);
    memset(&x, 0, sizeof x);
    x.framed = 1;
    tl_pair(ce, se, lf, port, &tcp, &x.c, &x.s);
    x.sender = x.s;
    x.receiver = x.c;
    x.total = 2048;
    for (uint64_t i = 0; i < x.total; i++) {
        tl_put_le(chunk, i, 4);
        tl_fill(chunk + 4, 4092, i, 0);
        CHECK_OK(net_send(x.s, chunk, 4096));
    }
    CHECK_OK(net_close(x.s));
    TL_RUN(on_event, &x, both_closed);
    CHECK_EQ(x.recv_status, 0);
    CHECK_EQ(x.send_status, 0);
    tl_run(on_event, &x, NULL, 50);
    CHECK_EQ(x.recv_closed, 1);
    CHECK_EQ(x.send_closed, 1);

    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
