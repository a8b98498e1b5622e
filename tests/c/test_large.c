/* large: framed messages near and at max_message (900 KiB, 1 MiB) and an
 * 8 MiB raw write, echoed back intact. */
#include "testlib.h"

typedef struct big {
    net_handle c, s;
    int framed;
    int nmsg, got, srv_got;
    const uint32_t *sizes;
    uint64_t total, off, srv_off;
} big;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    big *x = (big *)p;
    (void)e;
    if (ev->type == NET_EV_SEND_HIGHWATER || ev->type == NET_EV_SEND_DRAINED)
        return; /* megabytes queued at once pass the default high-water mark */
    CHECKF(ev->type == NET_EV_DATA, "unexpected %s status %d (%s)", tl_evname(ev->type), (int)ev->status,
           tl_errname(ev->status));
    if (ev->handle == x->s) {
        if (x->framed) {
            CHECKF(ev->len == x->sizes[x->srv_got], "server got message %d of %u bytes, sent %u", x->srv_got,
                   (unsigned)ev->len, (unsigned)x->sizes[x->srv_got]);
            x->srv_got++;
        } else {
            x->srv_off += ev->len;
        }
        CHECK_OK(net_send(x->s, ev->data, ev->len));
        return;
    }
    CHECK(ev->handle == x->c);
    if (x->framed) {
        CHECKF(x->got < x->nmsg && ev->len == x->sizes[x->got], "echo %d: %u bytes", x->got, (unsigned)ev->len);
        long long bad = tl_mismatch(ev->data, ev->len, (uint64_t)x->got + 100, 0);
        CHECKF(bad < 0, "echo %d: wrong byte at %lld", x->got, bad);
        x->got++;
    } else {
        long long bad = tl_mismatch(ev->data, ev->len, 7, x->off);
        CHECKF(bad < 0, "raw echo: wrong byte at offset %llu", (unsigned long long)(x->off + (uint64_t)bad));
        x->off += ev->len;
    }
}

static int done(void *p)
{
    big *x = (big *)p;
    return x->framed ? x->got == x->nmsg : x->off == x->total;
}

int main(void)
{
    tl_init("large");
    net_engine ce = tl_engine(), se = tl_engine();
    uint16_t port;

    /* framed */
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U32LE, 0);
    net_handle l = tl_listen(se, &tcp, &port);
    big x;
    memset(&x, 0, sizeof x);
    x.framed = 1;
    const uint32_t sizes[] = {900 * 1024, 900 * 1024 + 1, 1u << 20, 5, 900 * 1024, 1u << 20};
    x.sizes = sizes;
    x.nmsg = (int)(sizeof sizes / sizeof sizes[0]);
    tl_pair(ce, se, l, port, &tcp, &x.c, &x.s);
    uint8_t *buf = (uint8_t *)tl_xmalloc(8u << 20);
    uint64_t t0 = tl_now_ms();
    for (int i = 0; i < x.nmsg; i++) {
        tl_fill(buf, sizes[i], (uint64_t)i + 100, 0);
        CHECK_OK(net_send(x.c, buf, sizes[i]));
    }
    TL_RUN(on_event, &x, done);
    printf("framed: %d messages echoed in %llu ms\n", x.nmsg, (unsigned long long)(tl_now_ms() - t0));
    CHECK_EQ(tl_close_wait(ce, x.c), 0);
    net_event ev;
    TL_EXPECT(se, NET_EV_CLOSE, x.s, &ev);

    /* raw: 8 MiB in one call (max_message does not apply to raw streams) */
    net_tcp_config raw;
    tl_tcp(&raw, NET_FRAMING_RAW, 0);
    net_handle lr = tl_listen(se, &raw, &port);
    memset(&x, 0, sizeof x);
    tl_pair(ce, se, lr, port, &raw, &x.c, &x.s);
    x.total = 8u << 20;
    tl_fill(buf, (size_t)x.total, 7, 0);
    t0 = tl_now_ms();
    CHECK_OK(net_send(x.c, buf, (uint32_t)x.total));
    TL_RUN(on_event, &x, done);
    printf("raw: %llu bytes echoed in %llu ms\n", (unsigned long long)x.total, (unsigned long long)(tl_now_ms() - t0));
    CHECK_EQ(x.srv_off, x.total);
    free(buf);

    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
