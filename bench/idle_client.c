/*
 * idle_client.c - opens N connections to an echo server and holds them idle,
 * so that the server's memory per idle connection can be read.
 *
 *   idle_client --port P --connections N [--host H] [--window W]
 *               [--framing raw|u16le] [--length-includes-header]
 *               [--timeout S] [--per-source M]
 *
 * Each connection comes from a source address 127.0.0.2, 127.0.0.3, ...
 * (M connections each, default 20,000), because one source address has only the
 * ~28k ports of ip_local_port_range towards one server address: 100,000
 * connections from 127.0.0.1 alone cannot exist. IP_BIND_ADDRESS_NO_PORT
 * lets the port be chosen at connect time, from the whole 4-tuple. At most
 * W connects are in flight at once, so the server's accept backlog never
 * overflows. Each connection then sends one small message and checks its
 * echo, proving the server serves it; after that it is silent. When all are
 * up, one line on stdout (flushed):
 *   IDLE connections=N seconds=S errors=0
 * then it waits, watching for the server closing any of them, until stdin
 * reaches EOF or SIGINT/SIGTERM arrives, and ends with
 *   IDLE_END connections=N lost=L errors=E
 * Exit 1 on any error or lost connection, 2 on bad usage.
 *
 * RLIMIT_NOFILE is raised to N + 64: the soft limit up to the hard one, and
 * past the hard one (up to fs.nr_open) when the process may (root, or
 * CAP_SYS_RESOURCE). The sockets close with SO_LINGER 0 (RST), so 100,000
 * of them leave no TIME_WAIT behind to block the next run.
 */
#define _GNU_SOURCE
#include "client_common.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Under the 28,232 ports of the default range 32768-60999, with room to spare. */
#define PER_SOURCE_DEFAULT 20000
/* 127.0.0.2 .. 127.0.0.254 */
#define MAX_SOURCES 253
#define PROBE_SIZE 16

enum { ST_CONNECTING, ST_ECHO, ST_IDLE, ST_DONE };

typedef struct conn {
    int fd;
    int state;
    size_t got; /* echo bytes received */
} conn;

typedef struct options {
    struct sockaddr_in server;
    long count, window, per_source;
    int framed, lih;
    double timeout;
} options;

static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: idle_client --port P --connections N [--host H] [--window W]\n"
                    "                   [--framing raw|u16le] [--length-includes-header] [--timeout S]\n"
                    "                   [--per-source M]\n");
    exit(2);
}

static void parse_args(int argc, char **argv, options *o)
{
    const char *host = "127.0.0.1";
    long port = -1;
    memset(o, 0, sizeof *o);
    o->count = -1, o->window = 256, o->framed = 1, o->timeout = 120, o->per_source = PER_SOURCE_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--length-includes-header") == 0) {
            o->lih = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "idle_client: %s needs a value\n", a);
            usage();
        }
        const char *v = argv[++i];
        if (strcmp(a, "--host") == 0)
            host = v;
        else if (strcmp(a, "--port") == 0)
            port = client_parse_long("idle_client", a, v, 1, 65535, usage);
        else if (strcmp(a, "--connections") == 0)
            o->count = client_parse_long("idle_client", a, v, 1, 10000000, usage);
        else if (strcmp(a, "--per-source") == 0)
            o->per_source = client_parse_long("idle_client", a, v, 1, 65535, usage);
        else if (strcmp(a, "--window") == 0)
            o->window = client_parse_long("idle_client", a, v, 1, 65536, usage);
        else if (strcmp(a, "--timeout") == 0)
            o->timeout = (double)client_parse_long("idle_client", a, v, 1, 3600, usage);
        else if (strcmp(a, "--framing") == 0) {
            if (strcmp(v, "raw") && strcmp(v, "u16le")) {
                fprintf(stderr, "idle_client: bad --framing: '%s' (raw or u16le)\n", v);
                usage();
            }
            o->framed = strcmp(v, "u16le") == 0;
        } else {
            fprintf(stderr, "idle_client: unknown option %s\n", a);
            usage();
        }
    }
    if (port < 0 || o->count < 0) {
        fprintf(stderr, "idle_client: --port and --connections are required\n");
        usage();
    }
    if ((o->count + o->per_source - 1) / o->per_source > MAX_SOURCES) {
        fprintf(stderr, "idle_client: --connections %ld needs more than %d source addresses at --per-source %ld\n",
                o->count, MAX_SOURCES, o->per_source);
        usage();
    }
    o->server.sin_family = AF_INET;
    o->server.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &o->server.sin_addr) != 1) {
        fprintf(stderr, "idle_client: bad --host: '%s' (numeric IPv4)\n", host);
        usage();
    }
}

/* Soft limit to need; past the hard limit too when allowed (root). */
static int raise_nofile(rlim_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        struct rlimit up = {need, need};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            return 0;
        fprintf(stderr, "idle_client: RLIMIT_NOFILE hard limit %llu < %llu and cannot be raised (%s)\n",
                (unsigned long long)rl.rlim_max, (unsigned long long)need, strerror(errno));
        return -1;
    }
    rl.rlim_cur = need;
    return setrlimit(RLIMIT_NOFILE, &rl);
}

/* The probe: header and bytes that tell connection i's echo from another's. */
static size_t probe(const options *o, long i, uint8_t *m)
{
    size_t hdr = o->framed ? 2 : 0, n = hdr + PROBE_SIZE;
    if (o->framed) {
        unsigned len = o->lih ? (unsigned)n : PROBE_SIZE;
        m[0] = (uint8_t)len, m[1] = (uint8_t)(len >> 8);
    }
    for (size_t k = hdr; k < n; k++)
        m[k] = (uint8_t)(i * 7 + (long)k);
    return n;
}

static int open_one(const options *o, int ep, long i, conn *c)
{
    static const struct linger rst = {1, 0};
    static const int one = 1;
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i / o->per_source));
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (c->fd < 0)
        return perror("idle_client: socket"), -1;
    c->state = ST_CONNECTING, c->got = 0;
    if (setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst) < 0 ||
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) < 0 ||
        bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0)
        return perror("idle_client: source address"), -1;
    if (connect(c->fd, (const struct sockaddr *)&o->server, sizeof o->server) < 0 && errno != EINPROGRESS)
        return perror("idle_client: connect"), -1;
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        return perror("idle_client: epoll_ctl"), -1;
    return 0;
}

/* Connected (EPOLLOUT): send the probe and wait for its echo. */
static int on_connected(const options *o, int ep, long i, conn *c, uint32_t events)
{
    uint8_t m[PROBE_SIZE + 2];
    size_t n = probe(o, i, m);
    if (events & (EPOLLERR | EPOLLHUP)) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        fprintf(stderr, "idle_client: connect #%ld: %s\n", i, strerror(err ? err : ECONNRESET));
        return -1;
    }
    if (send(c->fd, m, n, MSG_NOSIGNAL) != (ssize_t)n)
        return perror("idle_client: send"), -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
    c->state = ST_ECHO;
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0 ? (perror("idle_client: epoll_ctl"), -1) : 0;
}

/* Echo bytes: 1 when the probe is all back (the connection is now idle),
 * 0 for more to come, -1 on a mismatch, a close or an error. */
static int on_echo(const options *o, long i, conn *c)
{
    uint8_t m[PROBE_SIZE + 2], buf[64];
    size_t n = probe(o, i, m);
    ssize_t r = recv(c->fd, buf, sizeof buf, 0);
    if (r < 0 && errno == EAGAIN)
        return 0;
    if (r <= 0) {
        fprintf(stderr, "idle_client: #%ld: %s before its echo\n", i, r < 0 ? strerror(errno) : "closed");
        return -1;
    }
    if (c->got + (size_t)r > n || memcmp(buf, m + c->got, (size_t)r) != 0) {
        fprintf(stderr, "idle_client: #%ld: echo differs from what was sent\n", i);
        return -1;
    }
    c->got += (size_t)r;
    return c->got == n;
}

/* Opens every connection, W at a time, and sees each echo. 0 or -1. */
static int establish(const options *o, int ep, conn *cs)
{
    struct epoll_event evs[512];
    long opened = 0, idle = 0, pending = 0;
    double deadline = client_now_sec() + o->timeout;
    while (idle < o->count) {
        for (; pending < o->window && opened < o->count; opened++, pending++)
            if (open_one(o, ep, opened, &cs[opened]) < 0)
                return -1;
        if (g_stop || client_now_sec() > deadline) {
            fprintf(stderr, "idle_client: %s with %ld of %ld connections idle\n", g_stop ? "stopped" : "timed out",
                    idle, o->count);
            return -1;
        }
        int n = epoll_wait(ep, evs, 512, 100);
        if (n < 0 && errno != EINTR)
            return perror("idle_client: epoll_wait"), -1;
        for (int k = 0; k < n; k++) {
            long i = (long)evs[k].data.u64;
            conn *c = &cs[i];
            int r = c->state == ST_CONNECTING ? on_connected(o, ep, i, c, evs[k].events) : on_echo(o, i, c);
            if (r < 0)
                return -1;
            if (r > 0)
                c->state = ST_IDLE, idle++, pending--;
        }
    }
    return 0;
}

/* Idle: any readiness now means the server closed (or sent) something. */
static long hold(int ep, conn *cs)
{
    struct epoll_event evs[256];
    long lost = 0;
    struct pollfd in = {.fd = 0, .events = POLLIN};
    while (!g_stop) {
        if (poll(&in, 1, 0) > 0) {
            char b[256];
            if (read(0, b, sizeof b) <= 0)
                break; /* stdin closed: the harness is done measuring */
        }
        int n = epoll_wait(ep, evs, 256, 100);
        for (int k = 0; k < n; k++) {
            conn *c = &cs[(long)evs[k].data.u64];
            if (c->state == ST_IDLE) {
                lost++;
                c->state = ST_DONE;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            }
        }
    }
    return lost;
}

int main(int argc, char **argv)
{
    options o;
    parse_args(argc, argv, &o);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (raise_nofile((rlim_t)o.count + 64) < 0)
        return 1;
    conn *cs = calloc((size_t)o.count, sizeof *cs);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!cs || ep < 0)
        return perror("idle_client: setup"), 1;
    for (long i = 0; i < o.count; i++)
        cs[i].fd = -1;
    double t0 = client_now_sec();
    int rc = establish(&o, ep, cs);
    long lost = 0;
    if (rc == 0) {
        printf("IDLE connections=%ld seconds=%.3f errors=0\n", o.count, client_now_sec() - t0);
        fflush(stdout);
        lost = hold(ep, cs);
    }
    for (long i = 0; i < o.count; i++)
        if (cs[i].fd >= 0)
            close(cs[i].fd);
    printf("IDLE_END connections=%ld lost=%ld errors=%d\n", o.count, lost, rc < 0);
    free(cs);
    close(ep);
    return rc < 0 || lost ? 1 : 0;
}
