/*
 * connrate.c - connection-rate load for an echo server (docs/CONVENTIONS.md).
 *
 *   connrate --port P [--host H] [--parallel K] [--seconds S] [--size BYTES]
 *            [--threads T] [--framing raw|u16le] [--length-includes-header]
 *
 * K connections are kept in flight (over T threads, each with its own epoll
 * loop). One cycle: connect, send one message, wait for its echo and check
 * every byte, close. Cycles that complete before S seconds count; the ones
 * still in flight then are dropped uncounted. Ends with one line on stdout
 *   CONNRATE cycles=N seconds=S cycles_per_s=R errors=E
 * and exits 1 when errors > 0 or no cycle completed, 2 on bad usage.
 *
 * The client closes with SO_LINGER 0 (RST). A graceful close from the client
 * leaves its side in TIME_WAIT for 60 s: at tens of thousands of cycles a
 * second that is millions of sockets, far past tcp_max_tw_buckets (the
 * kernel then drops them with a warning) and past the ~28k ephemeral ports a
 * source address has. RST keeps the run steady however long it lasts and
 * costs the server the same work (one readiness, one close) as a FIN. The
 * server never closes first (it echoes and waits), so it holds no TIME_WAIT
 * either. Plain sockets, no dependency: it must not be the library measured.
 */
#define _GNU_SOURCE
#include "client_common.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_MSG 4096
/* A cycle that takes longer than this is an error (a lost SYN is retried after 1 s). */
#define CYCLE_TIMEOUT_S 5.0

typedef struct options {
    struct sockaddr_in server;
    int parallel, threads, size, framed, lih;
    double seconds;
} options;

typedef struct slot {
    int fd;
    uint32_t gen;   /* tells a stale epoll event of the slot's last socket from this one */
    int sent;       /* the message went out (else waiting for EPOLLOUT) */
    size_t got;     /* echo bytes received so far */
    uint64_t seq;   /* this cycle's number within the thread, written into the message */
    double started; /* cycle start, for the timeout */
    uint8_t msg[MAX_MSG];
} slot;

typedef struct worker {
    const options *o;
    int id, nslots, ep;
    slot *slots;
    uint64_t cycles, errors, seq;
    double stop_at;
    pthread_t thread;
} worker;

/* The first few errors are printed; a refused port would otherwise print one per slot. */
#define ERRORS_PRINTED 5
static atomic_int g_printed;

static void report(const char *fmt, ...)
{
    va_list ap;
    if (atomic_fetch_add(&g_printed, 1) >= ERRORS_PRINTED)
        return;
    va_start(ap, fmt);
    fputs("connrate: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void usage(void)
{
    fprintf(stderr, "usage: connrate --port P [--host H] [--parallel K] [--seconds S] [--size BYTES]\n"
                    "                [--threads T] [--framing raw|u16le] [--length-includes-header]\n");
    exit(2);
}

static void parse_args(int argc, char **argv, options *o)
{
    const char *host = "127.0.0.1";
    long port = -1;
    memset(o, 0, sizeof *o);
    o->parallel = 64, o->threads = 1, o->size = 32, o->framed = 1, o->seconds = 2.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--length-includes-header") == 0) {
            o->lih = 1;
            continue;
        }
        if (i + 1 >= argc) {
            report("%s needs a value", a);
            usage();
        }
        const char *v = argv[++i];
        if (strcmp(a, "--host") == 0)
            host = v;
        else if (strcmp(a, "--port") == 0)
            port = client_parse_long("connrate", a, v, 1, 65535, usage);
        else if (strcmp(a, "--parallel") == 0)
            o->parallel = (int)client_parse_long("connrate", a, v, 1, 100000, usage);
        else if (strcmp(a, "--threads") == 0)
            o->threads = (int)client_parse_long("connrate", a, v, 1, 64, usage);
        else if (strcmp(a, "--size") == 0)
            o->size = (int)client_parse_long("connrate", a, v, 16, MAX_MSG - 2, usage);
        else if (strcmp(a, "--seconds") == 0) {
            char *end;
            o->seconds = strtod(v, &end);
            if (*end || !(o->seconds > 0)) {
                report("bad --seconds: '%s'", v);
                usage();
            }
        } else if (strcmp(a, "--framing") == 0) {
            if (strcmp(v, "raw") && strcmp(v, "u16le")) {
                report("bad --framing: '%s' (raw or u16le)", v);
                usage();
            }
            o->framed = strcmp(v, "u16le") == 0;
        } else {
            report("unknown option %s", a);
            usage();
        }
    }
    if (port < 0) {
        report("--port is required");
        usage();
    }
    if (o->threads > o->parallel)
        o->threads = o->parallel;
    o->server.sin_family = AF_INET;
    o->server.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &o->server.sin_addr) != 1) {
        report("bad --host: '%s' (numeric IPv4)", host);
        usage();
    }
}

/* Header (u16le, counting itself with --length-includes-header) and a body
 * no other cycle sends: thread, sequence, then bytes derived from both. */
static size_t build_message(const options *o, int thread, uint64_t seq, uint8_t *m)
{
    size_t hdr = o->framed ? 2 : 0, n = hdr + (size_t)o->size;
    if (o->framed) {
        unsigned len = (unsigned)(o->lih ? n : (size_t)o->size);
        m[0] = (uint8_t)(len & 0xff), m[1] = (uint8_t)(len >> 8);
    }
    memcpy(m + hdr, &seq, 8);
    m[hdr + 8] = (uint8_t)thread;
    for (size_t i = hdr + 9; i < n; i++)
        m[i] = (uint8_t)(seq * 131 + i);
    return n;
}

static size_t msg_len(const options *o)
{
    return (o->framed ? 2u : 0u) + (size_t)o->size;
}

static void slot_close(slot *s)
{
    if (s->fd >= 0)
        close(s->fd); /* SO_LINGER 0: RST, no TIME_WAIT */
    s->fd = -1;
}

static int watch(worker *w, slot *s, int op, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.u64 = ((uint64_t)s->gen << 32) | (uint64_t)(s - w->slots)};
    if (epoll_ctl(w->ep, op, s->fd, &ev) == 0)
        return 0;
    report("epoll_ctl: %s", strerror(errno));
    return -1;
}

/* Sends the whole message (tiny: one send does it) or reports EAGAIN as 0. */
static int try_send(worker *w, slot *s)
{
    size_t n = msg_len(w->o);
    ssize_t r = send(s->fd, s->msg, n, MSG_NOSIGNAL);
    if (r == (ssize_t)n) {
        s->sent = 1;
        return 1;
    }
    if (r < 0 && (errno == EAGAIN || errno == ENOTCONN))
        return 0;
    report("send: %s", r < 0 ? strerror(errno) : "short");
    return -1;
}

/* One new cycle in slot s. On loopback the handshake has usually finished
 * by the time a non-blocking connect returns, so the send is tried at once
 * and EPOLLOUT is waited for only when it was not. */
static int cycle_start(worker *w, slot *s)
{
    static const struct linger rst = {1, 0};
    s->gen++, s->sent = 0, s->got = 0, s->seq = w->seq++;
    s->started = client_now_sec();
    build_message(w->o, w->id, s->seq, s->msg);
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (s->fd < 0) {
        report("socket: %s", strerror(errno));
        return -1;
    }
    if (setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst) < 0) {
        report("SO_LINGER: %s", strerror(errno));
        return -1;
    }
    if (connect(s->fd, (const struct sockaddr *)&w->o->server, sizeof w->o->server) < 0 && errno != EINPROGRESS) {
        report("connect: %s", strerror(errno));
        return -1;
    }
    int sent = try_send(w, s);
    if (sent < 0)
        return -1;
    return watch(w, s, EPOLL_CTL_ADD, sent ? EPOLLIN : EPOLLOUT);
}

/* Reads what the echo brought and compares it with what was sent. 1 when
 * the whole echo is in, 0 for more to come, -1 on any error. */
static int read_echo(worker *w, slot *s)
{
    uint8_t buf[MAX_MSG];
    size_t want = msg_len(w->o);
    ssize_t r = recv(s->fd, buf, sizeof buf, 0);
    if (r < 0)
        return errno == EAGAIN ? 0 : (report("recv: %s", strerror(errno)), -1);
    if (r == 0) {
        report("server closed before the echo was complete");
        return -1;
    }
    if (s->got + (size_t)r > want || memcmp(buf, s->msg + s->got, (size_t)r) != 0) {
        report("echo differs from what was sent");
        return -1;
    }
    s->got += (size_t)r;
    return s->got == want;
}

/* One readiness of slot s: returns 1 when the cycle completed, 0 when it
 * goes on, -1 on an error. */
static int on_ready(worker *w, slot *s, uint32_t events)
{
    if (!s->sent) {
        if (events & (EPOLLERR | EPOLLHUP)) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            report("connect: %s", strerror(err ? err : ECONNRESET));
            return -1;
        }
        int sent = try_send(w, s);
        if (sent <= 0)
            return sent;
        return watch(w, s, EPOLL_CTL_MOD, EPOLLIN) < 0 ? -1 : 0;
    }
    return read_echo(w, s);
}

/* Closes cycles older than CYCLE_TIMEOUT_S as errors and starts new ones. */
static void reap_timeouts(worker *w, double t)
{
    for (int i = 0; i < w->nslots; i++) {
        slot *s = &w->slots[i];
        if (s->fd >= 0 && t - s->started > CYCLE_TIMEOUT_S) {
            report("cycle timed out after %.0f s", CYCLE_TIMEOUT_S);
            w->errors++;
            slot_close(s);
            if (cycle_start(w, s) < 0)
                w->errors++, slot_close(s);
        }
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    struct epoll_event evs[256];
    double next_reap = client_now_sec() + 1.0;
    for (int i = 0; i < w->nslots; i++)
        if (cycle_start(w, &w->slots[i]) < 0)
            w->errors++, slot_close(&w->slots[i]);
    while (w->errors == 0) {
        double t = client_now_sec();
        if (t >= w->stop_at)
            break;
        int n = epoll_wait(w->ep, evs, 256, (int)((w->stop_at - t) * 1000) + 1);
        if (n < 0 && errno != EINTR) {
            report("epoll_wait: %s", strerror(errno));
            w->errors++;
            break;
        }
        for (int i = 0; i < n; i++) {
            slot *s = &w->slots[(uint32_t)evs[i].data.u64];
            if (s->fd < 0 || s->gen != (uint32_t)(evs[i].data.u64 >> 32))
                continue; /* the socket this event was for is gone */
            int r = on_ready(w, s, evs[i].events);
            if (r == 0)
                continue;
            if (r > 0 && client_now_sec() < w->stop_at)
                w->cycles++;
            else if (r < 0)
                w->errors++;
            slot_close(s);
            if (cycle_start(w, s) < 0)
                w->errors++, slot_close(s);
        }
        if (t >= next_reap) {
            reap_timeouts(w, t);
            next_reap = t + 1.0;
        }
    }
    for (int i = 0; i < w->nslots; i++)
        slot_close(&w->slots[i]);
    return NULL;
}

/* K connections need K descriptors and then some. */
static void raise_nofile(rlim_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    options o;
    uint64_t cycles = 0, errors = 0;
    parse_args(argc, argv, &o);
    raise_nofile((rlim_t)o.parallel + 64);
    worker *ws = calloc((size_t)o.threads, sizeof *ws);
    if (!ws)
        return report("calloc: %s", strerror(errno)), 1;
    double start = client_now_sec();
    for (int t = 0; t < o.threads; t++) {
        worker *w = &ws[t];
        w->o = &o, w->id = t, w->stop_at = start + o.seconds;
        w->nslots = o.parallel / o.threads + (t < o.parallel % o.threads);
        w->slots = calloc((size_t)w->nslots, sizeof *w->slots);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (!w->slots || w->ep < 0)
            return report("setup: %s", strerror(errno)), 1;
        for (int i = 0; i < w->nslots; i++)
            w->slots[i].fd = -1;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            return report("pthread_create failed"), 1;
    }
    for (int t = 0; t < o.threads; t++) {
        pthread_join(ws[t].thread, NULL);
        cycles += ws[t].cycles, errors += ws[t].errors;
        close(ws[t].ep);
        free(ws[t].slots);
    }
    double secs = client_now_sec() - start;
    if (secs > o.seconds)
        secs = o.seconds; /* cycles finishing after the deadline were not counted */
    printf("CONNRATE cycles=%llu seconds=%.3f cycles_per_s=%.1f errors=%llu\n", (unsigned long long)cycles, secs,
           (double)cycles / secs, (unsigned long long)errors);
    free(ws);
    if (!cycles && !errors)
        report("no cycle completed in %.1f s: does the server use the same framing?", o.seconds);
    return errors || !cycles ? 1 : 0;
}
