/*
 * uv_broadcast.c - the game-style broadcast server on libuv, compared with
 * net_broadcast.c by bench/loads.py.
 *
 *   uv_broadcast [echo-server CLI of docs/CONVENTIONS.md] [--tick-ms MS] [--size BYTES]
 *
 * Written the way a careful libuv user writes it: a repeating uv_timer; per
 * tick one allocation holding the frame (built once, shared), a reference
 * count and one uv_write_t per connection, then one uv_write of that shared
 * buffer per connection; the last write callback frees the block. A client
 * whose write queue passed SEND_CAP (it stopped reading) misses the tick,
 * counted as "full", as net's send cap does. Clients' bytes are read into a
 * loop-wide buffer and dropped. Tick message: bcast_peer.h.
 */
#define _GNU_SOURCE /* uv.h needs POSIX types; the build is -std=c11 */
#include "bcast_peer.h"
#include "uv_peer.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* net's default send cap. */
#define SEND_CAP (16u << 20)

typedef struct conn {
    uv_tcp_t tcp;
    size_t index; /* in conns[] while open; SIZE_MAX once closing */
} conn;

/* One tick's writes: freed by the last callback. */
typedef struct tick_block {
    size_t refs;
    uv_buf_t buf;
    uv_write_t *reqs; /* one per connection written to */
} tick_block;

static bcast_opts opts;
static uv_loop_t *loop;
static uv_tcp_t server;
static uv_timer_t tick_timer;
static conn **conns;
static size_t n_conns, cap_conns;
static char read_buf[65536];
static unsigned long long n_ticks, n_out, n_full;
static uint64_t tick_due; /* loop time (ms) the next tick is due */

static void on_tick(uv_timer_t *t);

static void on_closed(uv_handle_t *h)
{
    free(h);
}

/* Swap-remove from conns[], then close. */
static void conn_close(conn *c)
{
    if (c->index != SIZE_MAX) {
        conn *last = conns[--n_conns];
        conns[c->index] = last;
        last->index = c->index;
        c->index = SIZE_MAX;
    }
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void block_release(tick_block *b)
{
    if (--b->refs == 0)
        free(b);
}

static void on_write(uv_write_t *req, int status)
{
    if (status < 0 && status != UV_ECANCELED)
        conn_close((conn *)req->handle);
    block_release(req->data);
}

/* The block: header, write requests, then the frame, in one allocation. */
static tick_block *block_new(size_t count)
{
    size_t frame = bcast_frame_len(&opts);
    tick_block *b = malloc(sizeof *b + count * sizeof(uv_write_t) + frame);
    if (!b)
        return NULL;
    b->reqs = (uv_write_t *)(b + 1);
    b->buf = uv_buf_init((char *)(b->reqs + count), (unsigned)frame);
    b->refs = 1; /* ours until every write is started */
    bcast_frame(&opts, n_ticks, (uint8_t *)b->buf.base);
    return b;
}

/* A fixed rate, as net's repeating timer keeps it: the next tick is due
 * tick_ms after the last one was due, however long this one took (once
 * behind by more than a tick, the schedule restarts from now). A repeating
 * uv_timer would count tick_ms from when the callback ran and drift. */
static void schedule_next_tick(uv_timer_t *t)
{
    uint64_t now = uv_now(loop);
    tick_due += opts.tick_ms;
    if (tick_due < now)
        tick_due = now + opts.tick_ms;
    uv_timer_start(t, on_tick, tick_due - now, 0);
}

static void on_tick(uv_timer_t *t)
{
    n_ticks++;
    schedule_next_tick(t);
    if (n_conns == 0)
        return;
    tick_block *b = block_new(n_conns);
    if (!b) {
        fprintf(stderr, "tick %llu: out of memory\n", n_ticks);
        return;
    }
    /* Walk backwards: a failed write closes (swap-removes) conns[i] only. */
    for (size_t i = n_conns; i-- > 0;) {
        uv_stream_t *s = (uv_stream_t *)&conns[i]->tcp;
        if (uv_stream_get_write_queue_size(s) > SEND_CAP) {
            n_full++;
            continue;
        }
        uv_write_t *req = &b->reqs[i];
        req->data = b;
        b->refs++;
        if (uv_write(req, s, &b->buf, 1, on_write) < 0) {
            b->refs--;
            conn_close(conns[i]);
            continue;
        }
        n_out++;
    }
    block_release(b);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(read_buf, sizeof read_buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread < 0)
        conn_close((conn *)s);
}

static int conns_add(conn *c)
{
    if (n_conns == cap_conns) {
        size_t cap = cap_conns ? cap_conns * 2 : 1024;
        conn **p = realloc(conns, cap * sizeof *p);
        if (!p)
            return -1;
        conns = p, cap_conns = cap;
    }
    c->index = n_conns;
    conns[n_conns++] = c;
    return 0;
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status < 0)
        return;
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->index = SIZE_MAX;
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0 || conns_add(c) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void print_stats(void)
{
    fprintf(stderr, "stats: conns=%zu ticks=%llu out=%llu full=%llu\n", n_conns, n_ticks, n_out, n_full);
}

int main(int argc, char **argv)
{
    bcast_parse_args(argc, argv, &opts);
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();

    struct sockaddr_storage ss;
    int r;
    if (uv_peer_addr(&opts.peer, &ss) < 0)
        return 1;
    uv_tcp_init(loop, &server);
    if ((r = uv_tcp_bind(&server, (const struct sockaddr *)&ss, 0)) < 0 ||
        (r = uv_listen((uv_stream_t *)&server, 511, on_connection)) < 0) {
        fprintf(stderr, "listen %s:%d: %s\n", opts.peer.host, opts.peer.port, uv_strerror(r));
        return 1;
    }
    uv_timer_init(loop, &tick_timer);
    tick_due = uv_now(loop) + opts.tick_ms;
    uv_timer_start(&tick_timer, on_tick, opts.tick_ms, 0);

    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &blen);
    peer_print_listening(&bound, "libuv", &opts.peer, "");

    uv_peer_run(loop, &opts.peer, print_stats);
    print_stats();
    free(conns);
    return 0;
}
