/* send_ref: sending a payload the last poll handed out (an echo, a forward
 * to another connection, a slice of it) goes out byte for byte, whatever
 * the path the library takes for it: the received block referenced with the
 * peer's own header in front (an echo with the same framing), referenced
 * with a header of its own (a forward to another framing, a slice), or
 * copied (small payloads). Every message is checked on arrival, in order. */
#include "testlib.h"

#define MSGS 240
static const uint32_t sizes[] = {300, 256, 700, 1500, 4000, 20000, 100, 255, 9000};
#define NSIZES (sizeof sizes / sizeof sizes[0])
#define SLICE 7

typedef struct ctx {
    net_handle ca, sa; /* u16le pair: echo and slice */
    net_handle cb, sb; /* u32be pair: forward */
    net_handle cr, sr; /* raw pair: chunk echo */
    uint32_t echoed, sliced, forwarded;
    uint64_t raw_back;
    int failed;
} ctx;

static uint32_t size_of(uint32_t i)
{
    return sizes[i % NSIZES];
}

static void check_msg(const net_event *ev, uint32_t i, uint32_t skip)
{
    uint32_t want = size_of(i) - skip;
    CHECKF(ev->len == want, "message %u: %u bytes, expected %u", (unsigned)i, (unsigned)ev->len, (unsigned)want);
    long long bad = tl_mismatch(ev->data, ev->len, i, skip);
    CHECKF(bad < 0, "message %u (skip %u): byte %lld differs", (unsigned)i, (unsigned)skip, bad);
}

static void on_event(void *p, net_engine e, const net_event *ev)
{
    ctx *x = (ctx *)p;
    (void)e;
    if (ev->type != NET_EV_DATA)
        return;
    if (ev->handle == x->sa) { /* the server: echo, forward, slice */
        CHECK_OK(net_send(x->sa, ev->data, ev->len));
        CHECK_OK(net_send(x->sb, ev->data, ev->len));
        CHECK_OK(net_send(x->sa, (const uint8_t *)ev->data + SLICE, ev->len - SLICE));
    } else if (ev->handle == x->sr) {
        CHECK_OK(net_send(x->sr, ev->data, ev->len));
    } else if (ev->handle == x->ca) { /* echo and slice alternate per message */
        uint32_t i = x->echoed;
        if (x->sliced < x->echoed) {
            check_msg(ev, x->sliced, SLICE);
            x->sliced++;
        } else {
            check_msg(ev, i, 0);
            x->echoed++;
        }
    } else if (ev->handle == x->cb) {
        check_msg(ev, x->forwarded, 0);
        x->forwarded++;
    } else if (ev->handle == x->cr) {
        long long bad = tl_mismatch(ev->data, ev->len, 77, x->raw_back);
        CHECKF(bad < 0, "raw echo: byte %llu differs", (unsigned long long)(x->raw_back + (uint64_t)bad));
        x->raw_back += ev->len;
    }
}

#define RAW_BYTES (256 * 1024)

static int all_back(void *p)
{
    ctx *x = (ctx *)p;
    return x->echoed == MSGS && x->sliced == MSGS && x->forwarded == MSGS && x->raw_back == RAW_BYTES;
}

int main(void)
{
    tl_init("send_ref");
    net_engine ce = tl_engine(), se = tl_engine();
    net_tcp_config u16, u32, raw;
    tl_tcp(&u16, NET_FRAMING_U16LE, 0);
    tl_tcp(&u32, NET_FRAMING_U32BE, 0);
    tl_tcp(&raw, NET_FRAMING_RAW, 0);
    uint16_t p16, p32, praw;
    net_handle l16 = tl_listen(se, &u16, &p16), l32 = tl_listen(se, &u32, &p32), lraw = tl_listen(se, &raw, &praw);
    ctx x;
    memset(&x, 0, sizeof x);
    tl_pair(ce, se, l16, p16, &u16, &x.ca, &x.sa);
    tl_pair(ce, se, l32, p32, &u32, &x.cb, &x.sb);
    tl_pair(ce, se, lraw, praw, &raw, &x.cr, &x.sr);

    /* Pipelined, so that one read often brings several messages. */
    static uint8_t buf[20000];
    for (uint32_t i = 0; i < MSGS; i++) {
        tl_fill(buf, size_of(i), i, 0);
        tl_send(x.ca, buf, size_of(i));
    }
    static uint8_t stream[RAW_BYTES];
    tl_fill(stream, sizeof stream, 77, 0);
    for (uint32_t off = 0; off < RAW_BYTES; off += 16384)
        tl_send(x.cr, stream + off, 16384);

    TL_RUN(on_event, &x, all_back);
    CHECK_EQ(x.echoed, MSGS);
    CHECK_EQ(x.forwarded, MSGS);
    CHECK_EQ(x.raw_back, RAW_BYTES);
    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
