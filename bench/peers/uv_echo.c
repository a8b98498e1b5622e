/*
 * uv_echo.c - the libuv baseline for bench/run.py.
 *
 * Written the way an ordinary libuv user writes an echo server, with no
 * tuning beyond that: one loop, uv_read_start on every connection, and one
 * uv_write (with its own malloc'd request holding a copy of the bytes) per
 * received chunk (raw) or per whole message (framed). Reads land in one
 * loop-wide 64 KiB buffer, which is safe because libuv calls read_cb right
 * after alloc_cb on the same thread and we copy before returning. Accepted
 * sockets get TCP_NODELAY, as net's do by default and as any game server
 * sets it.
 *
 * CLI: docs/CONVENTIONS.md (--backend and --io-threads accepted, ignored).
 */
#define _GNU_SOURCE /* uv.h needs POSIX types; the build is -std=c11 */
#include "peer_common.h"
#include "uv_peer.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct conn {
    uv_tcp_t tcp;
    peer_buf in; /* bytes of a message not complete yet (framed only) */
} conn;

typedef struct wreq {
    uv_write_t req;
    uv_buf_t buf;
    char data[];
} wreq;

static peer_opts opts;
static uv_loop_t *loop;
static uv_tcp_t server;
static char read_buf[65536];
static unsigned long long n_conns, n_msgs, n_bytes_in;

static void on_conn_closed(uv_handle_t *h)
{
    conn *c = (conn *)h;
    free(c->in.p);
    free(c);
    n_conns--;
}

static void conn_close(conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_write(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    if (status < 0)
        conn_close((conn *)req->handle);
    free(w);
}

static int echo(conn *c, const void *data, size_t len)
{
    wreq *w = malloc(sizeof *w + len);
    if (!w)
        return -1;
    memcpy(w->data, data, len);
    w->buf = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_write) < 0) {
        free(w);
        return -1;
    }
    return 0;
}

/*
 * Echoes every whole message at the front of p[0..n); returns the bytes used
 * or -1. One write per message, or with --coalesce one for all of them.
 */
static long echo_messages(conn *c, const uint8_t *p, size_t n)
{
    size_t off = 0;
    long sz;
    while ((sz = peer_frame_size(&opts, p + off, n - off)) > 0) {
        if (!opts.coalesce && echo(c, p + off, (size_t)sz) < 0)
            return -1;
        n_msgs++;
        off += (size_t)sz;
    }
    if (sz < 0)
        return -1;
    if (opts.coalesce && off > 0 && echo(c, p, off) < 0)
        return -1;
    return (long)off;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(read_buf, sizeof read_buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = (conn *)s;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    n_bytes_in += (unsigned long long)nread;
    const uint8_t *p = (const uint8_t *)buf->base;
    size_t n = (size_t)nread;

    if (opts.framing == PEER_RAW) {
        n_msgs++; /* a chunk */
        if (echo(c, p, n) < 0)
            conn_close(c);
        return;
    }
    long used;
    if (c->in.len == 0) {
        /* Common case: parse straight from the read buffer, keep only the tail. */
        used = echo_messages(c, p, n);
        if (used < 0 || peer_buf_append(&c->in, p + used, n - (size_t)used) < 0)
            conn_close(c);
        return;
    }
    if (peer_buf_append(&c->in, p, n) < 0 || (used = echo_messages(c, c->in.p, c->in.len)) < 0) {
        conn_close(c);
        return;
    }
    peer_buf_consume(&c->in, (size_t)used);
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status < 0)
        return;
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    uv_tcp_init(loop, &c->tcp);
    n_conns++;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void print_stats(void)
{
    fprintf(stderr, "stats conns=%llu messages=%llu bytes_in=%llu\n", n_conns, n_msgs, n_bytes_in);
}

int main(int argc, char **argv)
{
    peer_parse_args(argc, argv, &opts);
    signal(SIGPIPE, SIG_IGN); /* a peer that vanishes must cost an error, not the process */
    loop = uv_default_loop();

    struct sockaddr_storage ss;
    int r;
    if (uv_peer_addr(&opts, &ss) < 0)
        return 1;
    uv_tcp_init(loop, &server);
    if ((r = uv_tcp_bind(&server, (const struct sockaddr *)&ss, 0)) < 0 ||
        (r = uv_listen((uv_stream_t *)&server, 511, on_connection)) < 0) {
        fprintf(stderr, "listen %s:%d: %s\n", opts.host, opts.port, uv_strerror(r));
        return 1;
    }

    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &blen);
    peer_print_listening(&bound, "libuv", &opts, "");

    uv_peer_run(loop, &opts, print_stats);
    print_stats();
    return 0;
}
