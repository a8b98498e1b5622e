/*
 * uv_udp_echo.c - the libuv baseline for bench/run.py --udp.
 *
 * Written the way an ordinary libuv user writes a UDP echo server: one loop,
 * uv_udp_recv_start, and each datagram sent straight back to its sender with
 * uv_udp_try_send from the receive buffer. Only when that cannot go out at
 * once (UV_EAGAIN: the socket buffer is full, or earlier sends are still
 * queued) is the datagram copied into a uv_udp_send request. Like
 * samples/udp_echo, the queue is bounded (1 MiB, net's default send cap):
 * past it an echo is dropped and counted instead of growing memory.
 *
 * --mmsg (bench extension, not in CONVENTIONS) creates the handle with
 * UV_UDP_RECVMMSG, so libuv receives up to 20 datagrams per recvmmsg call:
 * the most batching libuv offers a careful user on the receive side.
 *
 * CLI: docs/CONVENTIONS.md (--backend and --io-threads accepted, ignored;
 * --framing must be raw). Prints the same "listening on" line as
 * samples/udp_echo and, at exit, its SUMMARY line.
 */
#define _GNU_SOURCE /* uv.h needs POSIX types; the build is -std=c11 */
#include "peer_common.h"
#include "uv_peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define SEND_CAP (1u << 20)
#define DGRAM_MAX 65536 /* libuv's own per-datagram chunk (UV__UDP_DGRAM_MAXSIZE) */
#define MMSG_WIDTH 20   /* libuv's recvmmsg batch (UV__MMSG_MAXWIDTH) */

typedef struct sreq {
    uv_udp_send_t req;
    uv_buf_t buf;
    char data[];
} sreq;

static peer_opts opts;
static uv_loop_t *loop;
static uv_udp_t sock;
/* One buffer for the whole loop: libuv calls recv_cb right after alloc_cb on
 * this thread, and a datagram is either sent from it at once or copied. */
static char recv_buf[DGRAM_MAX * MMSG_WIDTH];
static unsigned long long n_in, n_echoed, n_queued, n_queue_full, n_oversize, n_send_errors, n_recv_errors;
static uint64_t t_start;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    /* With UV_UDP_RECVMMSG libuv cuts a bigger buffer into 64 KiB chunks. */
    *buf = uv_buf_init(recv_buf, opts.mmsg ? sizeof recv_buf : DGRAM_MAX);
}

static void on_sent(uv_udp_send_t *req, int status)
{
    if (status < 0)
        n_send_errors++;
    free(req);
}

static void echo(uv_udp_t *h, const char *data, size_t len, const struct sockaddr *to)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int r = uv_udp_try_send(h, &b, 1, to);
    if (r >= 0) {
        n_echoed++;
        return;
    }
    if (r != UV_EAGAIN) {
        n_send_errors++;
        return;
    }
    if (uv_udp_get_send_queue_size(h) + len > SEND_CAP) {
        n_queue_full++;
        return;
    }
    sreq *q = malloc(sizeof *q + len);
    if (!q) {
        n_queue_full++;
        return;
    }
    memcpy(q->data, data, len);
    q->buf = uv_buf_init(q->data, (unsigned)len);
    if (uv_udp_send(&q->req, h, &q->buf, 1, to, on_sent) < 0) {
        free(q);
        n_send_errors++;
        return;
    }
    n_echoed++;
    n_queued++;
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr, unsigned flags)
{
    if (nread < 0) {
        n_recv_errors++; /* not fatal to a UDP server: the socket goes on */
        return;
    }
    if (!addr)
        return; /* nothing more to read now (or the end of a recvmmsg batch) */
    n_in++;
    if ((flags & UV_UDP_PARTIAL) || (size_t)nread > opts.max_message) {
        n_oversize++;
        return;
    }
    echo(h, buf->base, (size_t)nread, addr);
}

static void print_stats(void)
{
    fprintf(stderr, "stats datagrams=%llu echoed=%llu queued=%llu queue_full=%llu oversize=%llu send_errors=%llu\n",
            n_in, n_echoed, n_queued, n_queue_full, n_oversize, n_send_errors);
}

int main(int argc, char **argv)
{
    peer_parse_args(argc, argv, &opts);
    if (opts.framing != PEER_RAW) {
        fprintf(stderr, "a datagram is its own message: --framing must be raw\n");
        return 2;
    }
    loop = uv_default_loop();

    struct sockaddr_storage ss;
    int r;
    if (uv_peer_addr(&opts, &ss) < 0)
        return 1;
    unsigned flags = ss.ss_family | (opts.mmsg ? UV_UDP_RECVMMSG : 0);
    if ((r = uv_udp_init_ex(loop, &sock, flags)) < 0 || (r = uv_udp_bind(&sock, (const struct sockaddr *)&ss, 0)) < 0 ||
        (r = uv_udp_recv_start(&sock, on_alloc, on_recv)) < 0) {
        fprintf(stderr, "udp %s:%d: %s\n", opts.host, opts.port, uv_strerror(r));
        return 1;
    }
    if (opts.mmsg && !uv_udp_using_recvmmsg(&sock)) {
        fprintf(stderr, "--mmsg: this libuv does not use recvmmsg here\n");
        return 1;
    }

    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_udp_getsockname(&sock, (struct sockaddr *)&bound, &blen);
    peer_print_listening(&bound, "libuv", &opts, " transport=udp");

    t_start = uv_hrtime();
    uv_peer_run(loop, &opts, print_stats);
    print_stats();
    printf("SUMMARY datagrams=%llu seconds=%.3f echoed=%llu queue_full=%llu oversize_dropped=%llu send_errors=%llu "
           "recv_errors=%llu\n",
           n_in, (double)(uv_hrtime() - t_start) / 1e9, n_echoed, n_queue_full, n_oversize, n_send_errors,
           n_recv_errors);
    fflush(stdout);
    return 0;
}
