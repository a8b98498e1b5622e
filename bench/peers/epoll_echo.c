/*
 * epoll_echo.c - a hand-rolled epoll echo server, the "no library at all"
 * peer for bench/run.py.
 *
 * The straightforward loop one writes without a framework: level-triggered
 * epoll, non-blocking sockets, one read() of up to 64 KiB per readiness
 * event, and one write() per received chunk (raw) or per whole message
 * (framed). Only what the socket will not take right now is kept in a
 * per-connection output buffer, and only then is EPOLLOUT switched on (and
 * off again once drained). Accepted sockets get TCP_NODELAY.
 *
 * CLI: docs/CONVENTIONS.md (--backend and --io-threads accepted, ignored).
 */
#define _GNU_SOURCE
#include "peer_common.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    int want_out; /* EPOLLOUT currently registered */
    peer_buf in;  /* partial message (framed only) */
    peer_buf out; /* bytes the socket did not take yet */
} conn;

static peer_opts opts;
static int ep;
static uint8_t read_buf[65536];
static unsigned long long n_conns, n_msgs, n_bytes_in;

static void conn_close(conn *c)
{
    close(c->fd); /* also removes it from the epoll set */
    free(c->in.p);
    free(c->out.p);
    free(c);
    n_conns--;
}

static int set_out_interest(conn *c, int on)
{
    return peer_epoll_want_out(ep, c->fd, c, &c->want_out, on);
}

/* Writes now what the socket takes, queues the rest behind what is already queued. */
static int send_bytes(conn *c, const uint8_t *p, size_t n)
{
    if (c->out.len == 0) {
        ssize_t w = write(c->fd, p, n);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -1;
            w = 0;
        }
        p += w;
        n -= (size_t)w;
        if (n == 0)
            return 0;
    }
    if (peer_buf_append(&c->out, p, n) < 0)
        return -1;
    return set_out_interest(c, 1);
}

static int flush_out(conn *c)
{
    ssize_t w = write(c->fd, c->out.p, c->out.len);
    if (w < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    peer_buf_consume(&c->out, (size_t)w);
    return c->out.len == 0 ? set_out_interest(c, 0) : 0;
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
        if (!opts.coalesce && send_bytes(c, p + off, (size_t)sz) < 0)
            return -1;
        n_msgs++;
        off += (size_t)sz;
    }
    if (sz < 0)
        return -1;
    if (opts.coalesce && off > 0 && send_bytes(c, p, off) < 0)
        return -1;
    return (long)off;
}

/* Returns -1 when the connection must be closed. */
static int on_readable(conn *c)
{
    ssize_t r = read(c->fd, read_buf, sizeof read_buf);
    if (r == 0)
        return -1;
    if (r < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    n_bytes_in += (unsigned long long)r;
    size_t n = (size_t)r;

    if (opts.framing == PEER_RAW) {
        n_msgs++;
        return send_bytes(c, read_buf, n);
    }
    long used;
    if (c->in.len == 0) {
        used = echo_messages(c, read_buf, n);
        if (used < 0)
            return -1;
        return peer_buf_append(&c->in, read_buf + used, n - (size_t)used);
    }
    if (peer_buf_append(&c->in, read_buf, n) < 0 || (used = echo_messages(c, c->in.p, c->in.len)) < 0)
        return -1;
    peer_buf_consume(&c->in, (size_t)used);
    return 0;
}

static void on_acceptable(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or EMFILE & co: try again on the next event */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            continue;
        }
        n_conns++;
    }
}

static void print_stats(void)
{
    fprintf(stderr, "stats conns=%llu messages=%llu bytes_in=%llu\n", n_conns, n_msgs, n_bytes_in);
}

static int open_listener(void)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (peer_sockaddr(&opts, &ss, &sl) < 0)
        return -1;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 511) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    peer_parse_args(argc, argv, &opts);
    peer_catch_stop();

    int lfd = open_listener();
    if (lfd < 0) {
        fprintf(stderr, "listen %s:%d: %s\n", opts.host, opts.port, strerror(errno));
        return 1;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(lfd, (struct sockaddr *)&bound, &blen);
    peer_print_listening(&bound, "epoll-raw", &opts, "");

    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL}; /* NULL marks the listener */
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) {
        perror("epoll");
        return 1;
    }

    double start = peer_now_sec();
    double deadline = opts.seconds > 0 ? start + opts.seconds : 0;
    double next_stats = start + 2.0;
    struct epoll_event evs[256];
    while (!peer_stop_signal()) {
        double t = peer_now_sec();
        if (deadline > 0 && t >= deadline)
            break;
        if (t >= next_stats) {
            print_stats();
            next_stats += 2.0;
        }
        double wake = next_stats;
        if (deadline > 0 && deadline < wake)
            wake = deadline;
        int timeout_ms = (int)((wake - t) * 1000.0) + 1;
        int n = peer_epoll_wait(ep, evs, 256, timeout_ms);
        if (n < 0)
            return 1;
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (!c) {
                on_acceptable(lfd);
                continue;
            }
            uint32_t e = evs[i].events;
            int bad = 0;
            if (e & EPOLLOUT)
                bad = flush_out(c) < 0;
            if (!bad && (e & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                bad = on_readable(c) < 0;
            if (bad)
                conn_close(c);
        }
    }
    if (peer_stop_signal())
        fprintf(stderr, "stopping on signal %d\n", peer_stop_signal());
    print_stats();
    return 0;
}
