/* send_batch: net_send_batch queues each item as net_send would, in order,
 * with every item's outcome in results: a closing, a stale and a zero
 * handle in the middle of a batch, bytes outside the payload and a message
 * over max_message fail alone and queue nothing, and the items around them
 * arrive intact, also inside one connection's run of items and at the
 * batch's end. Bad arguments are refused before anything is sent. */
#include <limits.h>

#include "testlib.h"

#define NCLI 8
#define PER 3          /* messages per client in the first batch */
#define MAX_MSG 4096u  /* max_message of every connection here */
#define MARK_SEED 999u /* the marker that follows each batch */

static uint32_t size_of(int i, int m)
{
    return (uint32_t)(1 + (i * 37 + m * 501) % 3000);
}

/* Sends a marker to each server connection and checks that it is the next
 * message its client gets: nothing more came before it. */
static void expect_marker(net_engine ce, const net_handle *cli, const net_handle *srv, int n)
{
    uint8_t mark[16];
    tl_fill(mark, sizeof mark, MARK_SEED, 0);
    for (int i = 0; i < n; i++)
        CHECK_OK(net_send(srv[i], mark, sizeof mark));
    for (int i = 0; i < n; i++)
        tl_expect_pattern(ce, cli[i], sizeof mark, MARK_SEED);
}

/* Contiguous layout (offsets NULL): PER messages per client, interleaved. */
static void batch_contiguous(net_engine ce, const net_handle *cli, const net_handle *srv)
{
    net_handle conns[NCLI * PER];
    uint32_t lens[NCLI * PER];
    int results[NCLI * PER];
    uint8_t *payload = (uint8_t *)tl_xmalloc(NCLI * PER * 3000);
    size_t fill = 0;
    for (int m = 0; m < PER; m++)
        for (int i = 0; i < NCLI; i++) {
            int k = m * NCLI + i;
            conns[k] = srv[i];
            lens[k] = size_of(i, m);
            tl_fill(payload + fill, lens[k], (uint64_t)(i * 16 + m), 0);
            fill += lens[k];
            results[k] = 12345;
        }
    CHECK_RC(net_send_batch(conns, NULL, lens, NCLI * PER, payload, fill, results), NCLI * PER);
    for (int k = 0; k < NCLI * PER; k++)
        CHECKF(results[k] == NET_OK, "item %d: %d (%s)", k, results[k], tl_errname(results[k]));
    for (int i = 0; i < NCLI; i++)
        for (int m = 0; m < PER; m++)
            tl_expect_pattern(ce, cli[i], size_of(i, m), (uint64_t)(i * 16 + m));
    expect_marker(ce, cli, srv, NCLI);
    free(payload);
}

enum { GOOD_A, CLOSING, GOOD_B, STALE, ZERO, OUTSIDE, FAR_OUTSIDE, TOO_BIG, GOOD_C, NITEMS };

/* Explicit offsets, bad items in the middle: each fails alone. */
static void batch_with_failures(net_engine ce, const net_handle *cli, const net_handle *srv, net_handle closing,
                                net_handle stale)
{
    static uint8_t payload[MAX_MSG + 200];
    const size_t size = sizeof payload;
    tl_fill(payload, 100, 7, 0);
    tl_fill(payload + 100, 50, 8, 0);
    net_handle conns[NITEMS] = {srv[0], closing, srv[1], stale, 0, srv[2], srv[3], srv[4], srv[0]};
    uint32_t offsets[NITEMS] = {0, 0, 100, 0, 0, (uint32_t)size - 1, 0xFFFFFFFFu, 0, 100};
    uint32_t lens[NITEMS] = {100, 100, 50, 100, 100, 2, 1, MAX_MSG + 1, 50};
    int results[NITEMS];
    for (int k = 0; k < NITEMS; k++)
        results[k] = 12345;
    /* closed just now, with no poll since: closing, not stale yet */
    CHECK_OK(net_close(closing));
    CHECK_RC(net_send_batch(conns, offsets, lens, NITEMS, payload, size, results), 3);
    const int want[NITEMS] = {NET_OK,      NET_E_CLOSED, NET_OK,        NET_E_BADHANDLE, NET_E_BADHANDLE,
                              NET_E_INVAL, NET_E_INVAL,  NET_E_MSGSIZE, NET_OK};
    for (int k = 0; k < NITEMS; k++)
        CHECKF(results[k] == want[k], "item %d: %d (%s), want %d (%s)", k, results[k], tl_errname(results[k]), want[k],
               tl_errname(want[k]));
    /* the good ones arrive, in order, and the failed ones sent nothing */
    tl_expect_pattern(ce, cli[0], 100, 7);
    tl_expect_pattern(ce, cli[0], 50, 8);
    tl_expect_pattern(ce, cli[1], 50, 8);
    expect_marker(ce, cli, srv, 5);
}

/* A connection's items in a row go out together, after the last of them:
 * items that send nothing between them (bytes outside the payload) do not
 * end the run, one that fails after queueing nothing (over max_message)
 * still sends the run, and neither does at the end of the batch. Every
 * good item arrives, in order; a lost run would never arrive. */
static void runs_across_failures(net_engine ce, const net_handle *cli, const net_handle *srv, net_handle stale)
{
    enum { N = 12 };
    static uint8_t payload[MAX_MSG + 200];
    const size_t size = sizeof payload;
    for (int m = 0; m < 4; m++)
        tl_fill(payload + 40 * m, 40, 300 + (uint64_t)m, 0);
    const uint32_t bad = (uint32_t)size - 1;
    net_handle conns[N] = {srv[0], srv[0], srv[0], srv[0], srv[0], stale,
                           srv[0], srv[1], srv[1], srv[1], srv[2], srv[2]};
    uint32_t offsets[N] = {0, bad, 40, 0, 80, 0, 120, 0, 40, bad, 80, 0};
    uint32_t lens[N] = {40, 2, 40, MAX_MSG + 1, 40, 40, 40, 40, 40, 2, 40, MAX_MSG + 1};
    const int want[N] = {NET_OK, NET_E_INVAL, NET_OK, NET_E_MSGSIZE, NET_OK, NET_E_BADHANDLE,
                         NET_OK, NET_OK,      NET_OK, NET_E_INVAL,   NET_OK, NET_E_MSGSIZE};
    int results[N];
    CHECK_RC(net_send_batch(conns, offsets, lens, N, payload, size, results), 7);
    for (int k = 0; k < N; k++)
        CHECKF(results[k] == want[k], "item %d: %d (%s), want %d (%s)", k, results[k], tl_errname(results[k]), want[k],
               tl_errname(want[k]));
    for (int m = 0; m < 4; m++)
        tl_expect_pattern(ce, cli[0], 40, 300 + (uint64_t)m);
    tl_expect_pattern(ce, cli[1], 40, 300);
    tl_expect_pattern(ce, cli[1], 40, 301);
    tl_expect_pattern(ce, cli[2], 40, 302);
    expect_marker(ce, cli, srv, 3);
}

/* Bad arguments: refused as a whole, results untouched, nothing sent. */
static void bad_arguments(net_engine ce, const net_handle *cli, const net_handle *srv)
{
    uint32_t len = 4;
    int res = 12345;
    CHECK_RC(net_send_batch(NULL, NULL, NULL, 0, NULL, 0, NULL), 0); /* the empty batch */
    CHECK_RC(net_send_batch(srv, NULL, &len, 0, "abcd", 4, &res), 0);
    CHECK_RC(net_send_batch(NULL, NULL, &len, 1, "abcd", 4, &res), NET_E_INVAL);
    CHECK_RC(net_send_batch(srv, NULL, NULL, 1, "abcd", 4, &res), NET_E_INVAL);
    CHECK_RC(net_send_batch(srv, NULL, &len, 1, "abcd", 4, NULL), NET_E_INVAL);
    CHECK_RC(net_send_batch(srv, NULL, &len, 1, NULL, 4, &res), NET_E_INVAL);
    /* a count the int result could not express: refused before reading any item */
    CHECK_RC(net_send_batch(srv, NULL, &len, (uint32_t)INT_MAX + 1u, "abcd", 4, &res), NET_E_INVAL);
    CHECK_RC(net_send_batch(srv, NULL, &len, UINT32_MAX, "abcd", 4, &res), NET_E_INVAL);
    CHECK_EQ(res, 12345);
    expect_marker(ce, cli, srv, 1);
}

/* An empty message needs no payload buffer; it arrives as an empty DATA. */
static void empty_item(net_engine ce, const net_handle *cli, const net_handle *srv)
{
    uint32_t len = 0;
    int res = 12345;
    CHECK_RC(net_send_batch(srv, NULL, &len, 1, NULL, 0, &res), 1);
    CHECK_EQ(res, NET_OK);
    tl_expect_pattern(ce, cli[0], 0, 0);
    expect_marker(ce, cli, srv, 1);
}

int main(void)
{
    tl_init("send_batch");
    net_engine ce = tl_engine(), se = tl_engine();
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U32BE, 0);
    tcp.max_message = MAX_MSG;
    uint16_t port;
    net_handle l = tl_listen(se, &tcp, &port);
    net_handle cli[NCLI], srv[NCLI], closing, stale;
    tl_pairs(ce, se, l, port, &tcp, NCLI, cli, srv);
    /* one connection to close just before a batch, one stale */
    tl_closing_and_stale(ce, se, l, port, &tcp, &closing, &stale);

    batch_contiguous(ce, cli, srv);
    batch_with_failures(ce, cli, srv, closing, stale);
    runs_across_failures(ce, cli, srv, stale);
    bad_arguments(ce, cli, srv);
    empty_item(ce, cli, srv);

    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
