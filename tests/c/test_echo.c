/* echo: a client sends messages of many sizes, the server echoes every
 * DATA back; every framing, lengths with and without the header, server
 * and client in one engine and in two. */
#include "testlib.h"

static const char *const framing_names[] = {"raw", "u16le", "u16be", "u32le", "u32be"};

typedef struct echo {
    net_handle client, server;
    uint32_t framing;
    const uint32_t *sizes;
    int nmsg;
    int got;         /* framed: messages back; raw: unused */
    uint64_t off;    /* raw: bytes back so far */
    uint64_t total;  /* raw: bytes sent */
    int server_msgs; /* framed: messages the server saw */
} echo;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    echo *x = (echo *)p;
    (void)e;
    CHECKF(ev->type == NET_EV_DATA, "unexpected %s status %d (%s)", tl_evname(ev->type), (int)ev->status,
           tl_errname(ev->status));
    if (ev->handle == x->server) {
        if (x->framing != NET_FRAMING_RAW) {
            CHECKF(x->server_msgs < x->nmsg && ev->len == x->sizes[x->server_msgs], "server message %d: len %u",
                   x->server_msgs, (unsigned)ev->len);
            x->server_msgs++;
        }
        CHECK_OK(net_send(x->server, ev->data, ev->len));
        return;
    }
    CHECK(ev->handle == x->client);
    if (x->framing == NET_FRAMING_RAW) {
        long long bad = tl_mismatch(ev->data, ev->len, 0, x->off);
        CHECKF(bad < 0, "raw echo: wrong byte at stream offset %llu", (unsigned long long)(x->off + (uint64_t)bad));
        x->off += ev->len;
        CHECK(x->off <= x->total);
    } else {
        CHECKF(x->got < x->nmsg, "extra message of %u bytes", (unsigned)ev->len);
        CHECKF(ev->len == x->sizes[x->got], "echo %d: len %u, sent %u", x->got, (unsigned)ev->len,
               (unsigned)x->sizes[x->got]);
        long long bad = tl_mismatch(ev->data, ev->len, (uint64_t)x->got, 0);
        CHECKF(bad < 0, "echo %d (len %u): wrong byte at %lld", x->got, (unsigned)ev->len, bad);
        x->got++;
    }
}

static int done(void *p)
{
    echo *x = (echo *)p;
    return x->framing == NET_FRAMING_RAW ? x->off == x->total : x->got == x->nmsg;
}

static void run(uint32_t framing, uint32_t inc, int two_engines)
{
    printf("  %s%s, %s\n", framing_names[framing], inc ? "+header" : "", two_engines ? "two engines" : "one engine");
    net_engine se = tl_engine(), ce = two_engines ? tl_engine() : se;
    net_tcp_config tcp;
    tl_tcp(&tcp, framing, inc ? NET_TCP_LEN_INCLUDES_HEADER : 0);
    uint16_t port;
    net_handle l = tl_listen(se, &tcp, &port);
    echo x;
    memset(&x, 0, sizeof x);
    x.framing = framing;
    tl_pair(ce, se, l, port, &tcp, &x.client, &x.server);

    /* the largest message each header can describe */
    uint32_t biggest = 200000;
    if (framing == NET_FRAMING_U16LE || framing == NET_FRAMING_U16BE)
        biggest = inc ? 65535 - 2 : 65535;
    const uint32_t sizes[] = {1, 2, 3, 7, 100, 255, 256, 1000, 4096, 16000, 65000, biggest, 1};
    x.sizes = sizes;
    x.nmsg = (int)(sizeof sizes / sizeof sizes[0]);
    uint8_t *buf = (uint8_t *)tl_xmalloc(biggest);
    for (int i = 0; i < x.nmsg; i++) {
        if (framing == NET_FRAMING_RAW) {
            tl_fill(buf, sizes[i], 0, x.total);
        } else {
            tl_fill(buf, sizes[i], (uint64_t)i, 0);
        }
        CHECK_OK(net_send(x.client, buf, sizes[i]));
        x.total += sizes[i];
    }
    free(buf);
    TL_RUN(on_event, &x, done);
    /* nothing more arrives */
    tl_run(on_event, &x, NULL, 30);

    CHECK_EQ(tl_close_wait(ce, x.client), 0);
    net_event ev;
    TL_EXPECT(se, NET_EV_CLOSE, x.server, &ev);
    CHECK_EQ(ev.status, 0);
    CHECK_EQ(tl_close_wait(se, l), 0);
    if (two_engines)
        tl_engine_destroy(ce);
    tl_engine_destroy(se);
}

int main(void)
{
    tl_init("echo");
    for (uint32_t f = NET_FRAMING_RAW; f <= NET_FRAMING_U32BE; f++)
        for (uint32_t inc = 0; inc <= (f == NET_FRAMING_RAW ? 0u : 1u); inc++)
            for (int two = 0; two < 2; two++)
                run(f, inc, two);
    printf("ok\n");
    return 0;
}
