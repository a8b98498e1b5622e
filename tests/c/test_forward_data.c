/* forward_data: net_forward_data sends every DATA payload of a polled
 * batch on, as net_send would: back to its own connection (an echo) or to
 * one handle, in order, every payload intact whether it is referenced
 * (256 bytes or more) or copied, and under the framing of the connection
 * it goes to. The other events of the batch are left to
 * the caller (result 1), a failed send fails alone with net_send's code,
 * a batch may name connections of several engines, and bad arguments are
 * refused before anything is sent. */
#include "testlib.h"

#define NCLI 4
#define PER 12 /* messages per client */
#define BATCH 16

static uint32_t size_of(int i, int m)
{
    static const uint32_t sizes[] = {1, 64, 255, 256, 700, 3000, 0, 9000};
    return sizes[(i + m) % 8];
}

static uint64_t seed_of(int i, int m)
{
    return (uint64_t)(1000 + i * 100 + m);
}

/* to_one tells the clients' messages apart by their bytes: none is empty. */
static uint32_t size_nonempty(int i, int m)
{
    uint32_t n = size_of(i, m);
    return n ? n : 2;
}

static void send_all(const net_handle *cli, uint32_t (*size)(int, int))
{
    static uint8_t buf[9000];
    for (int m = 0; m < PER; m++)
        for (int i = 0; i < NCLI; i++) {
            tl_fill(buf, size(i, m), seed_of(i, m), 0);
            tl_send(cli[i], buf, size(i, m));
        }
}

/* Each payload back to the connection it came on. */
static void echo(net_engine ce, net_engine se, const net_handle *cli)
{
    send_all(cli, size_of);
    tl_forward_until(se, 0, NCLI * PER, BATCH);
    for (int i = 0; i < NCLI; i++)
        for (int m = 0; m < PER; m++)
            tl_expect_pattern(ce, cli[i], size_of(i, m), seed_of(i, m));
}

/* Every client's messages, sized by size, arrive at the client `at` in
 * each client's order (the clients' streams interleave there). */
static void expect_interleaved(net_engine ce, net_handle at, uint32_t (*size)(int, int))
{
    int next[NCLI] = {0};
    for (int k = 0; k < NCLI * PER; k++) {
        net_event ev;
        TL_EXPECT(ce, NET_EV_DATA, at, &ev);
        int from = -1;
        for (int i = 0; i < NCLI && from < 0; i++)
            if (next[i] < PER && ev.len == size(i, next[i]) && tl_mismatch(ev.data, ev.len, seed_of(i, next[i]), 0) < 0)
                from = i;
        CHECKF(from >= 0, "message %d (%u bytes) is no client's next one", k, (unsigned)ev.len);
        next[from]++;
    }
}

/* Every payload of every connection to one of them. */
static void to_one(net_engine ce, net_engine se, const net_handle *cli, const net_handle *srv)
{
    send_all(cli, size_nonempty);
    tl_forward_until(se, srv[0], NCLI * PER, BATCH);
    expect_interleaved(ce, cli[0], size_nonempty);
}

/* Referenced sizes only; 257 and 514 (0x0101, 0x0202) are the two whose
 * header reads the same in both byte orders. */
static uint32_t size_referenced(int i, int m)
{
    static const uint32_t sizes[] = {256, 257, 700, 3000, 514, 9000};
    return sizes[(i + m) % 6];
}

/* Every payload to a connection framed u16be. The clients frame u16le:
 * the payloads of one read lie a header of the same size apart, as they
 * do for an echo, where the next one continues the piece the queue ends
 * with, but that header is not the one to send (except for 257 and
 * 514). Each arrives intact, under the framing of the connection it went
 * to. */
static void to_other_framing(net_engine ce, net_engine se, const net_handle *cli)
{
    net_tcp_config be;
    tl_tcp(&be, NET_FRAMING_U16BE, 0);
    uint16_t port;
    net_handle l = tl_listen(se, &be, &port), c, s;
    tl_pair(ce, se, l, port, &be, &c, &s);
    send_all(cli, size_referenced);
    tl_forward_until(se, s, NCLI * PER, BATCH);
    expect_interleaved(ce, c, size_referenced);
    CHECK_RC(net_close(l), NET_OK);
}

/* A USER event and DATA events for a stale handle, a closing one and with
 * no data: each has its own result, the good ones go. */
static void failures(net_engine ce, net_engine se, const net_handle *cli, const net_handle *srv, net_handle closing,
                     net_handle stale)
{
    static const char hello[] = "hello";
    net_event evs[6];
    memset(evs, 0, sizeof evs);
    evs[0].type = NET_EV_USER;
    evs[1].type = NET_EV_DATA, evs[1].handle = srv[1], evs[1].data = hello, evs[1].len = 5;
    evs[2].type = NET_EV_DATA, evs[2].handle = stale, evs[2].data = hello, evs[2].len = 5;
    evs[3].type = NET_EV_DATA, evs[3].handle = closing, evs[3].data = hello, evs[3].len = 5;
    evs[4].type = NET_EV_DATA, evs[4].handle = srv[1], evs[4].data = NULL, evs[4].len = 5;
    evs[5].type = NET_EV_DATA, evs[5].handle = srv[1], evs[5].data = hello + 1, evs[5].len = 3;
    int results[6];
    CHECK_OK(net_close(closing)); /* closed just now, with no poll since: closing, not stale yet */
    CHECK_RC(net_forward_data(evs, 6, 0, results), 2);
    const int want[6] = {1, NET_OK, NET_E_BADHANDLE, NET_E_CLOSED, NET_E_INVAL, NET_OK};
    for (int i = 0; i < 6; i++)
        CHECKF(results[i] == want[i], "event %d: %d (%s), want %d (%s)", i, results[i], tl_errname(results[i]), want[i],
               tl_errname(want[i]));
    net_event ev;
    TL_EXPECT(ce, NET_EV_DATA, cli[1], &ev);
    CHECK(ev.len == 5 && memcmp(ev.data, "hello", 5) == 0);
    TL_EXPECT(ce, NET_EV_DATA, cli[1], &ev);
    CHECK(ev.len == 3 && memcmp(ev.data, "ell", 3) == 0);
    /* a stale `to` fails every DATA event alike */
    CHECK_RC(net_forward_data(evs + 1, 1, stale, results), 0);
    CHECK_EQ(results[0], NET_E_BADHANDLE);
    (void)se;
}

/* One batch naming connections of two engines, alternately: each payload
 * goes on its own connection, whichever engine it is on. */
static void across_engines(net_engine ce, net_engine se, const net_handle *cli, const net_handle *srv)
{
    net_event evs[3];
    memset(evs, 0, sizeof evs);
    evs[0].type = NET_EV_DATA, evs[0].handle = srv[3], evs[0].data = "a", evs[0].len = 1;
    evs[1].type = NET_EV_DATA, evs[1].handle = cli[3], evs[1].data = "b", evs[1].len = 1;
    evs[2].type = NET_EV_DATA, evs[2].handle = srv[3], evs[2].data = "c", evs[2].len = 1;
    int results[3] = {12345, 12345, 12345};
    CHECK_RC(net_forward_data(evs, 3, 0, results), 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(results[i], NET_OK);
    net_event ev;
    TL_EXPECT(ce, NET_EV_DATA, cli[3], &ev);
    CHECK(ev.len == 1 && ((const char *)ev.data)[0] == 'a');
    TL_EXPECT(ce, NET_EV_DATA, cli[3], &ev);
    CHECK(ev.len == 1 && ((const char *)ev.data)[0] == 'c');
    TL_EXPECT(se, NET_EV_DATA, srv[3], &ev);
    CHECK(ev.len == 1 && ((const char *)ev.data)[0] == 'b');
}

/* Bad arguments: refused as a whole, results untouched, nothing sent. */
static void bad_arguments(net_engine ce, const net_handle *cli, const net_handle *srv)
{
    net_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = NET_EV_DATA, ev.handle = srv[2], ev.data = "x", ev.len = 1;
    int res = 12345;
    CHECK_RC(net_forward_data(NULL, 0, 0, NULL), 0); /* the empty batch */
    CHECK_RC(net_forward_data(&ev, -1, 0, &res), NET_E_INVAL);
    CHECK_RC(net_forward_data(NULL, 1, 0, &res), NET_E_INVAL);
    CHECK_RC(net_forward_data(&ev, 1, 0, NULL), NET_E_INVAL);
    CHECK_EQ(res, 12345);
    /* nothing went: the next message cli[2] gets is this one */
    CHECK_RC(net_forward_data(&ev, 1, 0, &res), 1);
    CHECK_EQ(res, NET_OK);
    net_event got;
    TL_EXPECT(ce, NET_EV_DATA, cli[2], &got);
    CHECK(got.len == 1 && ((const uint8_t *)got.data)[0] == 'x');
}

int main(void)
{
    tl_init("forward_data");
    net_engine ce = tl_engine(), se = tl_engine();
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U16LE, 0);
    uint16_t port;
    net_handle l = tl_listen(se, &tcp, &port);
    net_handle cli[NCLI], srv[NCLI], closing, stale;
    tl_pairs(ce, se, l, port, &tcp, NCLI, cli, srv);
    tl_closing_and_stale(ce, se, l, port, &tcp, &closing, &stale);

    echo(ce, se, cli);
    to_one(ce, se, cli, srv);
    to_other_framing(ce, se, cli);
    failures(ce, se, cli, srv, closing, stale);
    across_engines(ce, se, cli, srv);
    bad_arguments(ce, cli, srv);

    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
