/*
 * epoll_broadcast.c - the game-style broadcast server as a hand-rolled
 * epoll loop, the "no library at all" peer beside net_broadcast.c and
 * uv_broadcast.c.
 *
 *   epoll_broadcast [echo-server CLI of docs/CONVENTIONS.md] [--tick-ms MS] [--size BYTES]
 *
 * The loop one writes without a framework: a timerfd on a fixed schedule
 * (a late tick is sent once, never piled up), the frame built once per tick,
 * then one write() of it per connection. Only what a socket does not take is
 * copied into that connection's output buffer, and only then is EPOLLOUT
 * switched on (off again once drained). A connection with more than SEND_CAP
 * queued (it stopped reading) misses the tick, counted as "full". Clients'
 * bytes are read and dropped. Tick message: bcast_peer.h.
 */
#define _GNU_SOURCE
#include "bcast_peer.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

/* net's default send cap. */
#define SEND_CAP (16u << 20)

typedef struct conn {
    int fd;
    int want_out; /* EPOLLOUT registered */
    int dead;     /* failed: closed after the current batch of events */
    peer_buf out; /* bytes the socket did not take yet */
} conn;

static bcast_opts opts;
static int ep;
/* Markers in epoll_event.data for the two descriptors that are not connections. */
static conn listener_mark, timer_mark;
static conn **conns;
static size_t n_conns, cap_conns;
static uint8_t *frame;
static unsigned long long n_ticks, n_out, n_full;

static int set_out_interest(conn *c, int on)
{
    return peer_epoll_want_out(ep, c->fd, c, &c->want_out, on);
}

/* Writes what the socket takes, keeps the rest. -1 when the socket failed. */
static int send_frame(conn *c, const uint8_t *p, size_t n)
{
    if (c->out.len > 0)
        return peer_buf_append(&c->out, p, n);
    ssize_t w = write(c->fd, p, n);
    if (w < 0 && errno != EAGAIN)
        return -1;
    size_t done = w < 0 ? 0 : (size_t)w;
    if (done == n)
        return 0;
    if (peer_buf_append(&c->out, p + done, n - done) < 0)
        return -1;
    return set_out_interest(c, 1);
}

static int flush_out(conn *c)
{
    ssize_t w = write(c->fd, c->out.p, c->out.len);
    if (w < 0)
        return errno == EAGAIN ? 0 : -1;
    peer_buf_consume(&c->out, (size_t)w);
    return c->out.len ? 0 : set_out_interest(c, 0);
}

static void on_tick(int tfd)
{
    uint64_t expirations;
    if (read(tfd, &expirations, sizeof expirations) < 0)
        return; /* EAGAIN: nothing due after all */
    n_ticks++;
    bcast_frame(&opts, n_ticks, frame);
    size_t len = bcast_frame_len(&opts);
    for (size_t i = 0; i < n_conns; i++) {
        conn *c = conns[i];
        if (c->dead)
            continue;
        if (c->out.len > SEND_CAP) {
            n_full++;
            continue;
        }
        if (send_frame(c, frame, len) < 0)
            c->dead = 1;
        else
            n_out++;
    }
}

static int on_readable(conn *c)
{
    static uint8_t buf[65536];
    ssize_t r = read(c->fd, buf, sizeof buf);
    if (r < 0)
        return errno == EAGAIN ? 0 : -1;
    return r == 0 ? -1 : 0;
}

/* Room for one more connection in conns[]. 0 or -1. */
static int conns_reserve(void)
{
    if (n_conns < cap_conns)
        return 0;
    size_t cap = cap_conns ? cap_conns * 2 : 1024;
    conn **p = realloc(conns, cap * sizeof *p);
    if (!p)
        return -1;
    conns = p, cap_conns = cap;
    return 0;
}

static void on_acceptable(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a failure the next readiness retries */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (!c || conns_reserve() < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            continue;
        }
        c->fd = fd;
        conns[n_conns++] = c;
    }
}

/* Closes the connections that failed, swap-removing them from conns[]. */
static void reap_dead(void)
{
    for (size_t i = n_conns; i-- > 0;) {
        conn *c = conns[i];
        if (!c->dead)
            continue;
        conns[i] = conns[--n_conns];
        close(c->fd);
        free(c->out.p);
        free(c);
    }
}

static void print_stats(void)
{
    fprintf(stderr, "stats: conns=%zu ticks=%llu out=%llu full=%llu\n", n_conns, n_ticks, n_out, n_full);
}

static int open_listener(void)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (peer_sockaddr(&opts.peer, &ss, &sl) < 0)
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

static int open_timer(void)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec its = {.it_interval = {opts.tick_ms / 1000, (long)(opts.tick_ms % 1000) * 1000000L}};
    its.it_value = its.it_interval;
    if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) < 0)
        return -1;
    return fd;
}

static void dispatch(int lfd, int tfd, const struct epoll_event *ev)
{
    conn *c = ev->data.ptr;
    if (c == &listener_mark) {
        on_acceptable(lfd);
        return;
    }
    if (c == &timer_mark) {
        on_tick(tfd);
        return;
    }
    if (c->dead)
        return;
    if ((ev->events & EPOLLOUT) && flush_out(c) < 0)
        c->dead = 1;
    else if ((ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && on_readable(c) < 0)
        c->dead = 1;
}

static int run(int lfd, int tfd)
{
    double start = peer_now_sec(), next_stats = start + 2.0;
    struct epoll_event evs[256];
    while (!peer_stop_signal()) {
        double t = peer_now_sec();
        if (opts.peer.seconds > 0 && t - start >= opts.peer.seconds)
            break;
        if (t >= next_stats) {
            print_stats();
            next_stats += 2.0;
        }
        int n = peer_epoll_wait(ep, evs, 256, (int)((next_stats - t) * 1000.0) + 1);
        if (n < 0)
            return 1;
        for (int i = 0; i < n; i++)
            dispatch(lfd, tfd, &evs[i]);
        reap_dead();
    }
    if (peer_stop_signal())
        fprintf(stderr, "stopping on signal %d\n", peer_stop_signal());
    return 0;
}

int main(int argc, char **argv)
{
    bcast_parse_args(argc, argv, &opts);
    peer_catch_stop();
    frame = malloc(bcast_frame_len(&opts));
    int lfd = open_listener();
    if (!frame || lfd < 0) {
        fprintf(stderr, "listen %s:%d: %s\n", opts.peer.host, opts.peer.port, strerror(errno));
        return 1;
    }
    int tfd = open_timer();
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &listener_mark};
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = &timer_mark};
    if (tfd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev) < 0) {
        perror("epoll_broadcast: setup");
        return 1;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(lfd, (struct sockaddr *)&bound, &blen);
    peer_print_listening(&bound, "epoll-raw", &opts.peer, "");
    int rc = run(lfd, tfd);
    print_stats();
    for (size_t i = 0; i < n_conns; i++)
        conns[i]->dead = 1;
    reap_dead();
    free(conns);
    free(frame);
    return rc;
}
