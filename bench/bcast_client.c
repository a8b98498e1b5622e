/*
 * bcast_client.c - the client side of the game-style broadcast load: N
 * connections that only listen, each checking every tick message the
 * server sends (bench/peers/net_broadcast.c documents the message).
 *
 *   bcast_client --port P --connections N --seconds S [--host H] [--size BYTES]
 *                [--framing u16le] [--length-includes-header]
 *
 * Once every connection is up and has had one tick, it prints (flushed)
 *   BCAST_READY tick=T
 * and measures for S seconds; then
 *   BCAST_MARK tick=E
 * (E: the newest tick seen), waits up to DRAIN_S for every connection to
 * reach E, and ends with
 *   BCAST ticks=T conns=N delivered=D missed=M seconds=S errors=X
 * ticks: E minus the READY tick; delivered: tick messages after the READY
 * tick, all connections; missed: ticks a connection skipped (a gap, or not
 * reaching E). A harness reads the server's CPU at READY and at MARK.
 * errors: a connection closed, a malformed, reordered or repeated tick.
 * Exit 1 when errors or misses > 0 or nothing was delivered, 2 on bad usage.
 */
#define _GNU_SOURCE
#include "client_common.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READY_TIMEOUT_S 20.0
#define DRAIN_S 2.0
#define MAX_CONNS 20000 /* one source address: well under the ephemeral port range */

typedef struct conn {
    int fd;
    int connected;
    uint64_t first, last; /* ticks; 0 = none yet */
    uint8_t *part;        /* a partial frame */
    size_t part_len;
} conn;

typedef struct client {
    struct sockaddr_in server;
    long count;
    uint32_t size;
    int lih;
    double seconds;
    size_t frame;
    int ep;
    conn *cs;
    uint64_t ready_tick, newest, delivered, missed, errors;
    uint64_t mark; /* the last tick measured: UINT64_MAX until the mark */
    long n_connected, n_ticked;
} client;

static void usage(void)
{
    fprintf(stderr, "usage: bcast_client --port P --connections N --seconds S [--host H] [--size BYTES]\n"
                    "                    [--framing u16le] [--length-includes-header]\n");
    exit(2);
}

static void parse_args(int argc, char **argv, client *c)
{
    const char *host = "127.0.0.1";
    long port = -1;
    c->count = -1, c->size = 64, c->seconds = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--length-includes-header") == 0) {
            c->lih = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bcast_client: %s needs a value\n", a);
            usage();
        }
        const char *v = argv[++i];
        if (strcmp(a, "--host") == 0)
            host = v;
        else if (strcmp(a, "--port") == 0)
            port = client_parse_long("bcast_client", a, v, 1, 65535, usage);
        else if (strcmp(a, "--connections") == 0)
            c->count = client_parse_long("bcast_client", a, v, 1, MAX_CONNS, usage);
        else if (strcmp(a, "--size") == 0)
            c->size = (uint32_t)client_parse_long("bcast_client", a, v, 8, 65000, usage);
        else if (strcmp(a, "--seconds") == 0) {
            char *end;
            c->seconds = strtod(v, &end);
            if (*end || !(c->seconds > 0 && c->seconds <= 3600)) {
                fprintf(stderr, "bcast_client: bad --seconds: '%s' (want 0 < S <= 3600)\n", v);
                usage();
            }
        } else if (strcmp(a, "--framing") == 0) {
            if (strcmp(v, "u16le")) {
                fprintf(stderr, "bcast_client: bad --framing: '%s' (only u16le)\n", v);
                usage();
            }
        } else {
            fprintf(stderr, "bcast_client: unknown option %s\n", a);
            usage();
        }
    }
    if (port < 0 || c->count < 0 || c->seconds < 0) {
        fprintf(stderr, "bcast_client: --port, --connections and --seconds are required\n");
        usage();
    }
    c->frame = 2 + c->size;
    c->server.sin_family = AF_INET;
    c->server.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &c->server.sin_addr) != 1) {
        fprintf(stderr, "bcast_client: bad --host: '%s' (numeric IPv4)\n", host);
        usage();
    }
}

/* Checks one whole frame of connection k and accounts for its tick. */
static void on_frame(client *c, conn *cn, const uint8_t *f)
{
    unsigned want = c->size + (c->lih ? 2u : 0u);
    unsigned len = (unsigned)f[0] | (unsigned)f[1] << 8;
    const uint8_t *p = f + 2;
    uint64_t tick = 0;
    for (int i = 7; i >= 0; i--)
        tick = tick << 8 | p[i];
    int bad = len != want || tick == 0;
    for (uint32_t i = 8; i < c->size && !bad; i++)
        bad = p[i] != (uint8_t)(tick + i);
    if (bad || tick <= cn->last) {
        if (c->errors++ < 5)
            fprintf(stderr, "bcast_client: %s tick %llu (after %llu)\n", bad ? "malformed" : "repeated or reordered",
                    (unsigned long long)tick, (unsigned long long)cn->last);
        return;
    }
    /* Past the mark, ticks are neither delivered nor missed. */
    uint64_t upto = tick <= c->mark ? tick : c->mark + 1;
    if (cn->last == 0) {
        cn->first = tick;
        c->n_ticked++;
    } else if (upto > cn->last + 1) {
        c->missed += upto - cn->last - 1;
    }
    cn->last = tick;
    if (tick > c->newest)
        c->newest = tick;
    if (c->ready_tick && tick > c->ready_tick && tick <= c->mark)
        c->delivered++;
}

/* Everything readable on connection k, cut into frames. -1 when it closed. */
static int on_readable(client *c, conn *cn)
{
    static uint8_t buf[65536];
    for (;;) {
        ssize_t r = recv(cn->fd, buf, sizeof buf, 0);
        if (r < 0)
            return errno == EAGAIN ? 0 : -1;
        if (r == 0)
            return -1;
        size_t off = 0, n = (size_t)r;
        if (cn->part_len) {
            size_t take = c->frame - cn->part_len < n ? c->frame - cn->part_len : n;
            memcpy(cn->part + cn->part_len, buf, take);
            cn->part_len += take, off = take;
            if (cn->part_len < c->frame)
                continue;
            on_frame(c, cn, cn->part);
            cn->part_len = 0;
        }
        for (; n - off >= c->frame; off += c->frame)
            on_frame(c, cn, buf + off);
        memcpy(cn->part, buf + off, n - off);
        cn->part_len = n - off;
    }
}

static int open_all(client *c)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)c->count + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (long k = 0; k < c->count; k++) {
        conn *cn = &c->cs[k];
        cn->part = malloc(c->frame);
        cn->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (!cn->part || cn->fd < 0)
            return perror("bcast_client: socket"), -1;
        if (connect(cn->fd, (const struct sockaddr *)&c->server, sizeof c->server) < 0 && errno != EINPROGRESS)
            return perror("bcast_client: connect"), -1;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)k};
        if (epoll_ctl(c->ep, EPOLL_CTL_ADD, cn->fd, &ev) < 0)
            return perror("bcast_client: epoll_ctl"), -1;
    }
    return 0;
}

/* One epoll round, up to timeout_ms. -1 on a fatal error. */
static int pump(client *c, int timeout_ms)
{
    struct epoll_event evs[512];
    int n = epoll_wait(c->ep, evs, 512, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : (perror("bcast_client: epoll_wait"), -1);
    for (int i = 0; i < n; i++) {
        conn *cn = &c->cs[evs[i].data.u64];
        if (cn->fd < 0)
            continue;
        if (!cn->connected && (evs[i].events & EPOLLOUT) && !(evs[i].events & EPOLLERR)) {
            struct epoll_event ev = {.events = EPOLLIN, .data.u64 = evs[i].data.u64};
            cn->connected = 1, c->n_connected++;
            epoll_ctl(c->ep, EPOLL_CTL_MOD, cn->fd, &ev);
        }
        if ((evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && on_readable(c, cn) < 0) {
            if (c->errors++ < 5)
                fprintf(stderr, "bcast_client: connection #%ld closed: %s\n", (long)evs[i].data.u64,
                        errno ? strerror(errno) : "by the server");
            close(cn->fd);
            cn->fd = -1;
        }
    }
    return 0;
}

/* Ticks up to the mark that connections never got. */
static uint64_t shortfall(const client *c)
{
    uint64_t s = 0;
    for (long k = 0; k < c->count; k++)
        s += c->cs[k].last < c->mark ? c->mark - c->cs[k].last : 0;
    return s;
}

static int run(client *c)
{
    double deadline = client_now_sec() + READY_TIMEOUT_S;
    while (c->n_connected < c->count || c->n_ticked < c->count) {
        if (pump(c, 50) < 0 || c->errors)
            return -1;
        if (client_now_sec() > deadline) {
            fprintf(stderr, "bcast_client: %ld of %ld connected, %ld had a tick, after %.0f s\n", c->n_connected,
                    c->count, c->n_ticked, READY_TIMEOUT_S);
            return -1;
        }
    }
    c->ready_tick = c->newest;
    c->missed = 0; /* gaps count from READY on: before it, clients were still joining */
    printf("BCAST_READY tick=%llu\n", (unsigned long long)c->ready_tick);
    fflush(stdout);
    double t0 = client_now_sec(), end = t0 + c->seconds;
    for (double t = t0; t < end; t = client_now_sec())
        if (pump(c, (int)((end - t) * 1000) + 1) < 0)
            return -1;
    uint64_t mark = c->mark = c->newest;
    printf("BCAST_MARK tick=%llu\n", (unsigned long long)mark);
    fflush(stdout);
    double secs = client_now_sec() - t0;
    /* The server goes on ticking while the connections behind catch up. */
    for (double stop = client_now_sec() + DRAIN_S; client_now_sec() < stop;) {
        uint64_t behind = 0;
        for (long k = 0; k < c->count; k++)
            behind += c->cs[k].last < mark;
        if (!behind || pump(c, 10) < 0)
            break;
    }
    c->missed += shortfall(c);
    printf("BCAST ticks=%llu conns=%ld delivered=%llu missed=%llu seconds=%.3f errors=%llu\n",
           (unsigned long long)(mark - c->ready_tick), c->count, (unsigned long long)c->delivered,
           (unsigned long long)c->missed, secs, (unsigned long long)c->errors);
    return 0;
}

int main(int argc, char **argv)
{
    client c;
    memset(&c, 0, sizeof c);
    c.mark = UINT64_MAX;
    parse_args(argc, argv, &c);
    c.cs = calloc((size_t)c.count, sizeof *c.cs);
    c.ep = epoll_create1(EPOLL_CLOEXEC);
    if (!c.cs || c.ep < 0)
        return perror("bcast_client: setup"), 1;
    for (long k = 0; k < c.count; k++)
        c.cs[k].fd = -1;
    int rc = open_all(&c) < 0 ? -1 : run(&c);
    for (long k = 0; k < c.count; k++) {
        if (c.cs[k].fd >= 0)
            close(c.cs[k].fd);
        free(c.cs[k].part);
    }
    close(c.ep);
    free(c.cs);
    return rc < 0 || c.errors || c.missed || !c.delivered ? 1 : 0;
}
