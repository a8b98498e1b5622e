/* caller_writes: with io_threads >= 1 on Linux, net_forward_data and
 * net_send_batch write a connection's run of payloads themselves, on the
 * calling thread, when the connection's I/O thread sleeps
 * (net_stats.caller_writes counts those writes). What a user checks,
 * however the writing was split between the caller and the I/O thread:
 * every payload arrives intact and in order, also through a socket that
 * takes part of a run or nothing while its peer does not read; bytes_out
 * counts every byte once; a connection the script only writes to is not
 * closed as idle while it is written to, and is once it is not. With
 * io_threads 0, or on IOCP, nothing is written on the calling thread and
 * the count stays 0. */
#include "testlib.h"

#define NCONN 3
#define PER_ROUND 4     /* messages per connection per echo round */
#define MIN_ROUNDS 8    /* echo rounds at least */
#define MAX_ROUNDS 2000 /* and at most, waiting for a write on the calling thread */
#define HDR 4           /* u32le framing */

static int writes_on_caller_expected(net_engine e)
{
    const char *b = net_backend_name(e);
    return tl_io_threads() >= 1 && (strcmp(b, "epoll") == 0 || strcmp(b, "io_uring") == 0);
}

static uint32_t size_of(int round, int i, int m)
{
    static const uint32_t sizes[] = {1, 64, 300, 512, 4096, 20000, 65000, 9};
    return sizes[(round * 7 + i * 3 + m) % 8];
}

static uint64_t seed_of(int round, int i, int m)
{
    return (uint64_t)round * 1000 + (uint64_t)i * 100 + (uint64_t)m + 1;
}

/* The server's bytes_out less base, once it reaches want or after 5 s: a
 * write the I/O thread made is counted when it handles the completion,
 * which may come a moment after the peer has the bytes (test_stats
 * settles the same way). An overcount still shows. */
static uint64_t bytes_out_settled(net_engine se, uint64_t base, uint64_t want)
{
    uint64_t end = tl_now_ms() + 5000;
    for (;;) {
        uint64_t out = tl_stats(se).bytes_out - base;
        if (out >= want || tl_now_ms() >= end)
            return out;
        tl_pump(5);
    }
}

/* Rounds of an echo over NCONN connections, until the calling thread has
 * written (when it is expected to) and MIN_ROUNDS are done: every message
 * comes back intact and in order, and the server's bytes_out is exactly
 * what it echoed. */
static void echo(net_engine ce, net_engine se, const net_handle *cli)
{
    static uint8_t buf[65000];
    int expected = writes_on_caller_expected(se);
    uint64_t echoed = 0;
    int round = 0;
    for (;; round++) {
        uint64_t writes = tl_stats(se).caller_writes;
        if (round >= MIN_ROUNDS && (!expected || writes > 0))
            break;
        CHECKF(round < MAX_ROUNDS, "%d echo rounds with io_threads %d on %s and no write on the calling thread", round,
               tl_io_threads(), net_backend_name(se));
        for (int m = 0; m < PER_ROUND; m++)
            for (int i = 0; i < NCONN; i++) {
                uint32_t len = size_of(round, i, m);
                tl_fill(buf, len, seed_of(round, i, m), 0);
                tl_send(cli[i], buf, len);
                echoed += len + HDR;
            }
        tl_forward_until(se, 0, NCONN * PER_ROUND, 64);
        for (int i = 0; i < NCONN; i++)
            for (int m = 0; m < PER_ROUND; m++)
                tl_expect_pattern(ce, cli[i], size_of(round, i, m), seed_of(round, i, m));
    }
    net_stats st = tl_stats(se);
    printf("  echo: %d rounds, %llu bytes, %llu writes on the calling thread\n", round, (unsigned long long)echoed,
           (unsigned long long)st.caller_writes);
    CHECK_EQ(bytes_out_settled(se, 0, echoed), echoed);
    if (!expected)
        CHECK_EQ(st.caller_writes, 0);
}

/* net_send_batch takes the same path: a batch of a few connections' runs
 * (each connection's messages in a row) is written on the calling thread
 * while their I/O thread sleeps, and every message arrives intact and in
 * order, with bytes_out counting each byte once. */
static void batch(net_engine ce, net_engine se, const net_handle *cli, const net_handle *srv)
{
    enum { PER = 3, MAX_LEN = 3000 };
    static uint8_t payload[NCONN * PER * MAX_LEN];
    int expected = writes_on_caller_expected(se);
    uint64_t writes_before = tl_stats(se).caller_writes, bytes_before = tl_stats(se).bytes_out, sent = 0;
    int round = 0;
    for (;; round++) {
        uint64_t writes = tl_stats(se).caller_writes - writes_before;
        if (round >= MIN_ROUNDS && (!expected || writes > 0))
            break;
        CHECKF(round < MAX_ROUNDS, "%d batches with io_threads %d on %s and no write on the calling thread", round,
               tl_io_threads(), net_backend_name(se));
        net_handle conns[NCONN * PER];
        uint32_t lens[NCONN * PER];
        int results[NCONN * PER];
        size_t fill = 0;
        for (int i = 0; i < NCONN; i++)
            for (int m = 0; m < PER; m++) {
                int k = i * PER + m;
                conns[k] = srv[i];
                lens[k] = 1 + (uint32_t)((round * 131 + k * 977) % MAX_LEN);
                tl_fill(payload + fill, lens[k], seed_of(round, i, m), 0);
                fill += lens[k];
                sent += lens[k] + HDR;
            }
        CHECK_RC(net_send_batch(conns, NULL, lens, NCONN * PER, payload, fill, results), NCONN * PER);
        for (int k = 0; k < NCONN * PER; k++)
            CHECK_EQ(results[k], NET_OK);
        for (int i = 0; i < NCONN; i++)
            for (int m = 0; m < PER; m++)
                tl_expect_pattern(ce, cli[i], lens[i * PER + m], seed_of(round, i, m));
    }
    net_stats st = tl_stats(se);
    printf("  batch: %d rounds, %llu writes on the calling thread\n", round,
           (unsigned long long)(st.caller_writes - writes_before));
    CHECK_EQ(bytes_out_settled(se, bytes_before, sent), sent);
    if (!expected)
        CHECK_EQ(st.caller_writes, 0);
}

/* A peer that does not read: the socket takes part of what is forwarded to
 * it, then nothing; the rest waits in the queue, and once the peer reads
 * again everything arrives, in order. */
static void stalled_peer(net_engine ce, net_engine se, net_handle l, uint16_t port, const net_tcp_config *tcp)
{
    enum { MSGS = 256, LEN = 8000 };
    net_config cfg;
    tl_config(&cfg);
    cfg.recv_limit = 64 * 1024; /* with an I/O thread, reading pauses soon while nobody polls */
    net_engine slow = tl_engine_with(&cfg);
    net_handle src_c, src_s, dst_c, dst_s;
    tl_pair(ce, se, l, port, tcp, &src_c, &src_s);
    tl_pair(slow, se, l, port, tcp, &dst_c, &dst_s);
    CHECK_OK(net_set_option(dst_c, NET_OPT_RCVBUF, 64 * 1024));
    CHECK_OK(net_set_option(dst_s, NET_OPT_SNDBUF, 64 * 1024));
    tl_engine_hold(slow, 1);
    static uint8_t buf[LEN];
    uint64_t most_queued = 0;
    for (int m = 0; m < MSGS; m++) {
        tl_fill(buf, LEN, 5000 + (uint64_t)m, 0);
        tl_send(src_c, buf, LEN);
        tl_forward_until(se, dst_s, 1, 64);
        uint64_t q = 0;
        CHECK_OK(net_send_queued(dst_s, &q));
        if (q > most_queued)
            most_queued = q;
    }
    printf("  stalled peer: up to %llu bytes queued\n", (unsigned long long)most_queued);
    /* 2 MB towards 64 KiB socket buffers and a 64 KiB receive limit */
    CHECKF(most_queued > 256 * 1024, "only %llu bytes ever queued towards a peer that does not read",
           (unsigned long long)most_queued);
    tl_engine_hold(slow, 0);
    for (int m = 0; m < MSGS; m++)
        tl_expect_pattern(slow, dst_c, LEN, 5000 + (uint64_t)m);
    uint64_t q = 1;
    uint64_t give_up = tl_now_ms() + TL_TIMEOUT_MS;
    while (q != 0) {
        CHECKF(tl_now_ms() < give_up, "%llu bytes still queued after the peer read everything", (unsigned long long)q);
        tl_pump(5);
        CHECK_OK(net_send_queued(dst_s, &q));
    }
    tl_close_wait(ce, src_c);
    tl_close_wait(slow, dst_c);
    tl_engine_destroy(slow);
}

/* A connection the script only writes to (its peer sends nothing), with
 * an idle timeout: kept open while payloads are forwarded to it for
 * several timeouts, closed with NET_E_TIMEDOUT once they stop. The
 * payloads are the script's own (an event it made): the server's I/O
 * thread has nothing else to do and sleeps, so with io_threads the writes
 * are the calling thread's, which the I/O thread does not see. */
static void written_only(net_engine ce, net_engine se, net_handle l, uint16_t port, const net_tcp_config *tcp)
{
    enum { IDLE_MS = 300 };
    net_handle dst_c, dst_s;
    tl_pair(ce, se, l, port, tcp, &dst_c, &dst_s);
    CHECK_OK(net_set_option(dst_s, NET_OPT_IDLE_TIMEOUT, IDLE_MS));
    static uint8_t buf[100];
    net_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = NET_EV_DATA;
    ev.handle = dst_s;
    ev.data = buf;
    ev.len = sizeof buf;
    uint64_t writes_before = tl_stats(se).caller_writes;
    int sent = 0;
    uint64_t until = tl_now_ms() + 4 * IDLE_MS;
    while (tl_now_ms() < until) {
        tl_fill(buf, sizeof buf, 9000 + (uint64_t)sent, 0);
        int rc = 12345;
        CHECK_RC(net_forward_data(&ev, 1, 0, &rc), 1);
        CHECK_EQ(rc, NET_OK);
        tl_expect_pattern(ce, dst_c, sizeof buf, 9000 + (uint64_t)sent);
        sent++;
        CHECKF(tl_pending(se, NET_EV_CLOSE, dst_s) == 0, "closed after %d messages written to it", sent);
    }
    uint64_t writes = tl_stats(se).caller_writes - writes_before;
    printf("  written only: %d messages over %d ms (%llu written on the calling thread), still open\n", sent,
           4 * IDLE_MS, (unsigned long long)writes);
    CHECKF(tl_wait(se, NET_EV_CLOSE, dst_s, &ev, 10 * IDLE_MS + 2000), "no idle CLOSE once the writes stopped");
    CHECKF(ev.status == NET_E_TIMEDOUT, "CLOSE status %d (%s)", (int)ev.status, tl_errname(ev.status));
    TL_EXPECT(ce, NET_EV_CLOSE, dst_c, &ev);
}

int main(void)
{
    tl_init("caller_writes");
    net_engine ce = tl_engine(), se = tl_engine();
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U32LE, 0);
    uint16_t port;
    net_handle l = tl_listen(se, &tcp, &port);
    net_handle cli[NCONN], srv[NCONN];
    tl_pairs(ce, se, l, port, &tcp, NCONN, cli, srv);

    echo(ce, se, cli);
    batch(ce, se, cli, srv);
    stalled_peer(ce, se, l, port, &tcp);
    written_only(ce, se, l, port, &tcp);

    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
