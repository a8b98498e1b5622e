/*
 * dummy_udp.c - the UDP mode of dummy_client (--udp), against a UDP echo
 * server such as samples/udp_echo: anything that sends each datagram back to
 * its sender.
 *
 *   dummy_client --udp [--connections N] [--depth D] [--size BYTES] [--vary-size]
 *                [--rate R] [--loss-timeout-ms T] [--udp-connect] [--seconds S]
 *                [--host H] [--port P] [--backend ...] [--io-threads N]
 *
 * N simulated clients, each its own UDP socket on net, keep up to D
 * datagrams in flight each; --rate R paces them to R datagrams/s in all
 * (0, the default: as fast as the windows allow). A datagram:
 *
 *   offset 0  u32 client id     offset 8   u64 sequence number
 *   offset 4  u32 checksum      offset 16  u64 send time (ns)
 *   offset 24 body: pseudo-random bytes, a function of (client id, sequence)
 *   (all little-endian)
 *
 * The checksum is FNV-1a over the whole datagram but its own 4 bytes. The
 * size is BYTES, or with --vary-size a function of (client id, sequence)
 * between 24 and BYTES, so a truncated or padded echo shows too. Sockets
 * send with net_sendto, or with --udp-connect are connected to the server
 * (net_udp_connect) and send with net_send.
 *
 * UDP may lose datagrams, and over loopback under load it does (a receive
 * buffer overflows on either side, or the server's send queue is full).
 * That is information, not failure: an echo not back within T ms
 * (--loss-timeout-ms, default 1000) is counted lost, and late as well if it
 * turns up after all. What must never happen is counted corrupted: a bad
 * checksum or body, a wrong length, another client's datagram, a sequence
 * never sent, a second echo of one datagram, a datagram from anyone but the
 * server. A corrupted echo is not received, so its datagram is counted
 * lost as well. Duplicates are recognised while a sequence is remembered,
 * 2 T after it was sent; an echo older than that counts as late.
 *
 * Ends with the SUMMARY line of docs/CONVENTIONS.md (UDP fields included)
 * and exits 1 on corruption, on a local failure (a call that should not
 * fail, an unexpected CLOSE), or when nothing came back at all. Loss alone
 * never fails the run.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dummy.h"
#include "net.h"

#define SWEEP_NS 10000000ull /* how often lost datagrams are looked for */
#define CLOSE_TIMEOUT_S 5.0
#define MAX_ERROR_EVENT_LINES 5
/* Sequences remembered per socket, for duplicate detection: when the ring is
 * full the socket waits instead of forgetting a pending datagram. */
#define MAX_TRACK (1u << 20)

enum { S_FREE = 0, S_PENDING, S_ECHOED, S_LOST, S_LATE };
enum { U_OPEN, U_CLOSING, U_DEAD };

typedef struct usock {
    net_handle h;
    uint32_t id;
    int state;
    int blocked;        /* the last send found the send queue full */
    int aborted;        /* closed with net_abort: its CLOSE may carry a status */
    uint64_t next_send; /* sequence of the next datagram */
    uint64_t pend;      /* every sequence before this one is echoed or lost */
    uint64_t low;       /* sequences before this one are forgotten */
    uint32_t inflight;  /* sent, neither echoed nor declared lost */
    uint32_t mask;      /* ring size - 1; seq & mask indexes sent_ns and st */
    uint64_t *sent_ns;
    uint8_t *st; /* S_* */
} usock;

typedef struct uclient {
    const options *opt;
    net_engine engine;
    usock *socks;
    net_addr server;
    uint8_t *scratch; /* outgoing datagram */
    uint8_t *expect;  /* regenerated body to compare against */
    int running;      /* new datagrams are sent */
    uint64_t timeout_ns;
    uint32_t open;
    uint64_t inflight;
    /* --rate pacing */
    double tokens;
    uint64_t tokens_at;
    uint32_t rr;
    /* outcome */
    uint64_t sent, received, bytes, lost, late, corrupted, send_full, error_events;
    uint64_t last_echo_ns;
    /* Corrupted echoes are counted apart, but share its line limit. */
    dummy_errors err;
    uint32_t error_event_lines;
} uclient;

/* An echo that cannot be what was sent. */
static void corrupt(uclient *cl, const char *fmt, ...)
{
    va_list ap;
    cl->corrupted++;
    va_start(ap, fmt);
    dummy_vreport(&cl->err, "error: corrupted", fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------ datagram content */

static uint32_t dgram_size(const options *o, uint32_t id, uint64_t seq)
{
    uint64_t state;
    if (!o->vary_size || o->size == HEADER_SIZE)
        return o->size;
    state = ((uint64_t)id << 40) ^ seq ^ 0x51ce51ce51ceull;
    return HEADER_SIZE + (uint32_t)(splitmix64(&state) % (o->size - HEADER_SIZE + 1));
}

/* Over everything but the checksum field itself, so a damaged id, sequence
 * or send time shows as well as a damaged body. */
static uint32_t dgram_checksum(const uint8_t *m, uint32_t len)
{
    return fnv1a_more(fnv1a(m, 4), m + 8, len - 8);
}

static int same_addr(const net_addr *a, const net_addr *b)
{
    size_t n = a->family == NET_AF_INET6 ? 16 : 4;
    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, n) == 0;
}

/* ------------------------------------------------------ sequence tracking */

static int ring_init(usock *s, uint32_t depth)
{
    uint32_t cap = 64;
    while (cap < 2 * depth && cap < MAX_TRACK)
        cap *= 2;
    s->sent_ns = (uint64_t *)calloc(cap, sizeof *s->sent_ns);
    s->st = (uint8_t *)calloc(cap, 1);
    s->mask = cap - 1;
    return s->sent_ns && s->st ? 0 : -1;
}

/* Doubles the ring. 0 when done, 1 when it is as large as allowed, -1 when
 * out of memory. */
static int ring_grow(usock *s)
{
    uint32_t cap = s->mask + 1, ncap = cap * 2, nmask = ncap - 1;
    uint64_t *ns;
    uint8_t *nst;
    if (ncap > MAX_TRACK)
        return 1;
    ns = (uint64_t *)calloc(ncap, sizeof *ns);
    nst = (uint8_t *)calloc(ncap, 1);
    if (!ns || !nst) {
        free(ns);
        free(nst);
        return -1;
    }
    for (uint64_t q = s->low; q < s->next_send; q++) {
        ns[q & nmask] = s->sent_ns[q & s->mask];
        nst[q & nmask] = s->st[q & s->mask];
    }
    free(s->sent_ns);
    free(s->st);
    s->sent_ns = ns;
    s->st = nst;
    s->mask = nmask;
    return 0;
}

/* Declares lost what is overdue, and forgets sequences resolved long ago. */
static void sweep(uclient *cl, usock *s, uint64_t now)
{
    while (s->pend < s->next_send) {
        uint32_t i = (uint32_t)(s->pend & s->mask);
        if (s->st[i] == S_PENDING) {
            if (now - s->sent_ns[i] < cl->timeout_ns)
                break; /* later sequences were sent later: none is overdue */
            s->st[i] = S_LOST;
            s->inflight--;
            cl->inflight--;
            cl->lost++;
        }
        s->pend++;
    }
    while (s->low < s->pend && now - s->sent_ns[s->low & s->mask] >= 2 * cl->timeout_ns) {
        s->st[s->low & s->mask] = S_FREE;
        s->low++;
    }
}

/* ---------------------------------------------------------------- sending */

static void close_sock(uclient *cl, usock *s, int abortive)
{
    int rc;
    if (s->state != U_OPEN)
        return;
    cl->open--;
    s->state = U_CLOSING;
    s->aborted = abortive;
    rc = abortive ? net_abort(s->h) : net_close(s->h);
    if (rc != NET_OK) {
        dummy_error(&cl->err, "client %u: %s: %s (%d)", s->id, abortive ? "net_abort" : "net_close", net_strerror(rc),
                    rc);
        s->state = U_DEAD;
    }
}

/* 1 sent, 0 not now (send queue full or ring at its limit), -1 failed. */
static int send_one(uclient *cl, usock *s, uint64_t now)
{
    const options *o = cl->opt;
    uint64_t seq = s->next_send;
    uint32_t len = dgram_size(o, s->id, seq);
    uint8_t *m = cl->scratch;
    uint32_t i;
    int rc;

    if (seq - s->low > s->mask) {
        rc = ring_grow(s);
        if (rc > 0)
            return 0;
        if (rc < 0) {
            dummy_error(&cl->err, "client %u: out of memory tracking %llu sequences", s->id,
                        (unsigned long long)(seq - s->low));
            close_sock(cl, s, 1);
            return -1;
        }
    }
    fill_body(m + HEADER_SIZE, len - HEADER_SIZE, s->id, seq);
    put_u32(m, s->id);
    put_u64(m + 8, seq);
    put_u64(m + 16, now);
    put_u32(m + 4, dgram_checksum(m, len));
    rc = o->udp_connect ? net_send(s->h, m, len) : net_sendto(s->h, &cl->server, m, len);
    if (rc == NET_E_WOULDBLOCK) {
        /* The engine has not flushed this socket's queue yet: try again
         * later rather than wait, as a game client would. */
        s->blocked = 1;
        cl->send_full++;
        return 0;
    }
    if (rc != NET_OK) {
        dummy_error(&cl->err, "client %u: %s seq %llu (%u bytes): %s (%d)", s->id,
                    o->udp_connect ? "net_send" : "net_sendto", (unsigned long long)seq, len, net_strerror(rc), rc);
        close_sock(cl, s, 1);
        return -1;
    }
    s->blocked = 0;
    i = (uint32_t)(seq & s->mask);
    s->st[i] = S_PENDING;
    s->sent_ns[i] = now;
    s->next_send++;
    s->inflight++;
    cl->inflight++;
    cl->sent++;
    return 1;
}

static int may_send(const uclient *cl, const usock *s)
{
    return cl->running && s->state == U_OPEN && s->inflight < cl->opt->depth;
}

/* Window mode: fills one socket's window. */
static void fill(uclient *cl, usock *s, uint64_t now)
{
    while (may_send(cl, s))
        if (send_one(cl, s, now) <= 0)
            break;
}

/* Sends what the windows (and --rate) allow now. */
static void pump(uclient *cl, uint64_t now)
{
    uint32_t n = cl->opt->connections;
    double burst;
    if (!cl->running)
        return;
    if (cl->opt->rate <= 0) {
        for (uint32_t k = 0; k < n; k++)
            fill(cl, &cl->socks[k], now);
        return;
    }
    /* Token bucket: a short stall is made up, a long one is not. */
    burst = cl->opt->rate * 0.02 + 1;
    cl->tokens += cl->opt->rate * (double)(now - cl->tokens_at) * 1e-9;
    cl->tokens_at = now;
    if (cl->tokens > burst)
        cl->tokens = burst;
    while (cl->tokens >= 1) {
        int progress = 0;
        for (uint32_t k = 0; k < n && cl->tokens >= 1; k++) {
            usock *s = &cl->socks[(cl->rr + k) % n];
            if (may_send(cl, s) && send_one(cl, s, now) > 0) {
                cl->tokens -= 1;
                progress = 1;
            }
        }
        cl->rr = (cl->rr + 1) % n;
        if (!progress)
            break;
    }
}

/* -------------------------------------------------------------- receiving */

/* Longer than a screen: the checks an echo must pass, in order, each
 * counting its own kind of corruption. */
static void on_datagram(uclient *cl, usock *s, const net_event *ev, uint64_t now)
{
    const uint8_t *m = (const uint8_t *)ev->data;
    uint32_t len = ev->len, id, i;
    uint64_t seq;

    if (!same_addr(&ev->addr, &cl->server)) {
        char from[80] = "?";
        net_addr_format(&ev->addr, from, sizeof from);
        corrupt(cl, "client %u: %u-byte datagram from %s, not the server", s->id, len, from);
        return;
    }
    if (len < HEADER_SIZE) {
        corrupt(cl, "client %u: %u-byte datagram, shorter than the %d-byte header", s->id, len, HEADER_SIZE);
        return;
    }
    id = get_u32(m);
    seq = get_u64(m + 8);
    if (get_u32(m + 4) != dgram_checksum(m, len)) {
        corrupt(cl, "client %u: bad checksum on a %u-byte datagram (claims client %u seq %llu)", s->id, len, id,
                (unsigned long long)seq);
        return;
    }
    if (id != s->id) {
        corrupt(cl, "client %u: got client %u's datagram seq %llu", s->id, id, (unsigned long long)seq);
        return;
    }
    if (seq >= s->next_send) {
        corrupt(cl, "client %u: echo of seq %llu, never sent (next is %llu)", s->id, (unsigned long long)seq,
                (unsigned long long)s->next_send);
        return;
    }
    if (len != dgram_size(cl->opt, id, seq)) {
        corrupt(cl, "client %u: seq %llu came back with %u bytes, sent %u", s->id, (unsigned long long)seq, len,
                dgram_size(cl->opt, id, seq));
        return;
    }
    fill_body(cl->expect, len - HEADER_SIZE, id, seq);
    if (memcmp(cl->expect, m + HEADER_SIZE, len - HEADER_SIZE) != 0) {
        uint32_t at = 0;
        while (cl->expect[at] == m[HEADER_SIZE + at])
            at++;
        corrupt(cl, "client %u: seq %llu body differs at byte %u", s->id, (unsigned long long)seq, HEADER_SIZE + at);
        return;
    }
    if (seq < s->low) {
        cl->late++; /* forgotten already: cannot tell a duplicate from a late echo */
        return;
    }
    i = (uint32_t)(seq & s->mask);
    switch (s->st[i]) {
    case S_PENDING: {
        uint64_t sent = get_u64(m + 16);
        s->st[i] = S_ECHOED;
        s->inflight--;
        cl->inflight--;
        cl->received++;
        cl->bytes += len;
        cl->last_echo_ns = now;
        hist_add_ns(now > sent ? now - sent : 0);
        if (cl->opt->rate <= 0)
            fill(cl, s, now);
        break;
    }
    case S_LOST:
        s->st[i] = S_LATE;
        cl->late++;
        break;
    default:
        corrupt(cl, "client %u: second echo of seq %llu", s->id, (unsigned long long)seq);
        break;
    }
}

/* A dummy_event_fn: ctx is the uclient. */
static void handle_event(void *ctx, const net_event *ev, uint64_t now)
{
    uclient *cl = (uclient *)ctx;
    usock *s;
    if (ev->type != NET_EV_DATAGRAM && ev->type != NET_EV_ERROR && ev->type != NET_EV_CLOSE)
        return;
    if (ev->user == 0 || ev->user > cl->opt->connections) {
        dummy_error(&cl->err, "event %u for unknown user data %llu", ev->type, (unsigned long long)ev->user);
        return;
    }
    s = &cl->socks[ev->user - 1];
    if (s->h != ev->handle || s->state == U_DEAD) {
        dummy_error(&cl->err, "client %u: event %u for handle %llx, expected %llx%s", s->id, ev->type,
                    (unsigned long long)ev->handle, (unsigned long long)s->h, s->state == U_DEAD ? " (closed)" : "");
        return;
    }
    switch (ev->type) {
    case NET_EV_DATAGRAM:
        on_datagram(cl, s, ev, now);
        break;
    case NET_EV_ERROR:
        /* E.g. ICMP port unreachable on a connected socket: the server is
         * gone or not there yet. Its datagrams will show as lost; no echo
         * will show as "nothing came back". */
        cl->error_events++;
        if (cl->error_event_lines++ < MAX_ERROR_EVENT_LINES)
            fprintf(stderr, "client %u: error event: %s (%d, os error %d)\n", s->id, net_strerror(ev->status),
                    ev->status, ev->os_error);
        break;
    case NET_EV_CLOSE:
        if (s->state == U_OPEN) {
            dummy_error(&cl->err, "client %u: closed unexpectedly: %s (%d, os error %d)", s->id,
                        net_strerror(ev->status), ev->status, ev->os_error);
            cl->open--;
        } else if (ev->status != 0 && !s->aborted) {
            dummy_error(&cl->err, "client %u: close ended with %s (%d, os error %d)", s->id, net_strerror(ev->status),
                        ev->status, ev->os_error);
        }
        /* What it still had in flight can no longer come back. */
        cl->lost += s->inflight;
        cl->inflight -= s->inflight;
        s->inflight = 0;
        s->state = U_DEAD;
        break;
    }
}

/* One poll, its events handled; also the dummy_closer's poll (ctx: the uclient). */
static int poll_once(void *ctx, int timeout_ms)
{
    uclient *cl = (uclient *)ctx;
    return dummy_poll(cl->engine, timeout_ms, handle_event, cl, &cl->err);
}

/* ------------------------------------------------------------------ run */

static int open_sockets(uclient *cl)
{
    const options *o = cl->opt;
    /* Bound to the wildcard of the server's family: the echo comes back to
     * whatever local address the route to the server picks. */
    const char *bind_host = cl->server.family == NET_AF_INET6 ? "::" : "0.0.0.0";
    for (uint32_t k = 0; k < o->connections; k++) {
        usock *s = &cl->socks[k];
        net_udp_config u;
        int rc;
        s->id = k + 1;
        s->state = U_DEAD;
        if (ring_init(s, o->depth) < 0) {
            dummy_error(&cl->err, "out of memory");
            return -1;
        }
        net_udp_config_init(&u);
        u.user = s->id;
        rc = net_udp_open(cl->engine, bind_host, 0, &u, &s->h);
        if (rc != NET_OK) {
            dummy_error(&cl->err, "client %u: net_udp_open %s: %s (%d)", s->id, bind_host, net_strerror(rc), rc);
            continue;
        }
        if (o->udp_connect && (rc = net_udp_connect(s->h, o->host, (uint16_t)o->port)) != NET_OK) {
            dummy_error(&cl->err, "client %u: net_udp_connect %s:%d: %s (%d)", s->id, o->host, o->port,
                        net_strerror(rc), rc);
            /* Its CLOSE event is still to come. */
            s->state = net_abort(s->h) == NET_OK ? U_CLOSING : U_DEAD;
            s->aborted = 1;
            continue;
        }
        s->state = U_OPEN;
        cl->open++;
    }
    return 0;
}

static void print_progress(uclient *cl, uint64_t t, uint64_t t0, uint64_t *last_t, uint64_t *last_received)
{
    double dt = (double)(t - *last_t) / 1e9;
    fprintf(stderr,
            "progress: t=%.1fs sockets=%u sent=%llu received=%llu dgrams/s=%.0f lost=%llu late=%llu "
            "corrupted=%llu send_full=%llu p50_us=%.1f p99_us=%.1f errors=%llu\n",
            (double)(t - t0) / 1e9, cl->open, (unsigned long long)cl->sent, (unsigned long long)cl->received,
            dt > 0 ? (double)(cl->received - *last_received) / dt : 0.0, (unsigned long long)cl->lost,
            (unsigned long long)cl->late, (unsigned long long)cl->corrupted, (unsigned long long)cl->send_full,
            hist_percentile_us(50), hist_percentile_us(99), (unsigned long long)cl->err.count);
    fflush(stderr);
    *last_t = t;
    *last_received = cl->received;
}

/* Looks for lost datagrams on every socket still open. */
static void sweep_all(uclient *cl, uint64_t now)
{
    for (uint32_t k = 0; k < cl->opt->connections; k++)
        if (cl->socks[k].state != U_DEAD)
            sweep(cl, &cl->socks[k], now);
}

/* Run: keep the windows full (or the pace) until the deadline. */
static void run(uclient *cl, uint64_t t0)
{
    const options *opt = cl->opt;
    uint64_t deadline = t0 + (uint64_t)(opt->seconds * 1e9);
    uint64_t next_progress = t0 + 1000000000ull;
    uint64_t next_sweep = t0 + SWEEP_NS;
    uint64_t last_t = t0, last_received = 0;
    cl->running = 1;
    cl->tokens_at = t0;
    pump(cl, t0);
    for (;;) {
        uint64_t t = cli_now_ns(), wake;
        int wait_ms;
        if (t >= next_progress) {
            print_progress(cl, t, t0, &last_t, &last_received);
            next_progress += 1000000000ull;
        }
        if (t >= deadline || cli_stop_requested() || cl->open == 0)
            break;
        if (t >= next_sweep) {
            sweep_all(cl, t);
            next_sweep = t + SWEEP_NS;
            if (opt->rate <= 0)
                pump(cl, t); /* windows that loss or a full queue left open */
        }
        if (opt->rate > 0)
            pump(cl, t);
        wake = next_sweep < deadline ? next_sweep : deadline;
        wait_ms = opt->rate > 0 ? 1 : (int)((wake > t ? wake - t : 0) / 1000000) + 1;
        if (poll_once(cl, wait_ms) < 0)
            break;
    }
}

/* Drain: nothing new; every datagram in flight comes back or times out. */
static void drain(uclient *cl, uint64_t t_run_end)
{
    uint64_t until = t_run_end + cl->timeout_ns + 1000000000ull;
    cl->running = 0;
    while (cl->inflight > 0 && cli_now_ns() < until) {
        sweep_all(cl, cli_now_ns());
        if (cl->inflight == 0 || poll_once(cl, 10) < 0)
            break;
    }
    if (cl->inflight > 0)
        dummy_error(&cl->err, "%llu datagrams neither echoed nor timed out after the run",
                    (unsigned long long)cl->inflight);
}

static uint32_t count_closing(void *ctx)
{
    const uclient *cl = (const uclient *)ctx;
    uint32_t waiting = 0;
    for (uint32_t k = 0; k < cl->opt->connections; k++)
        if (cl->socks[k].state == U_CLOSING)
            waiting++;
    return waiting;
}

/* Close: each socket must report exactly one CLOSE. */
static void close_all(uclient *cl)
{
    const dummy_closer closer = {count_closing, poll_once, cl};
    uint32_t waiting;
    for (uint32_t k = 0; k < cl->opt->connections; k++)
        close_sock(cl, &cl->socks[k], 0);
    waiting = dummy_await_closes(&closer, CLOSE_TIMEOUT_S);
    if (waiting)
        dummy_error(&cl->err, "%u sockets got no CLOSE event within %.0f s", waiting, CLOSE_TIMEOUT_S);
}

static void print_summary(const uclient *cl, double seconds, uint64_t errors)
{
    fprintf(stderr,
            "dummy_client: sent %llu, echoed %llu (%.2f%%), lost %llu, late %llu, corrupted %llu, "
            "send queue full %llu times, error events %llu\n",
            (unsigned long long)cl->sent, (unsigned long long)cl->received,
            cl->sent ? 100.0 * (double)cl->received / (double)cl->sent : 0.0, (unsigned long long)cl->lost,
            (unsigned long long)cl->late, (unsigned long long)cl->corrupted, (unsigned long long)cl->send_full,
            (unsigned long long)cl->error_events);
    printf("SUMMARY messages=%llu seconds=%.3f msgs_per_s=%.1f mb_per_s=%.3f p50_us=%.1f p99_us=%.1f errors=%llu "
           "sent=%llu received=%llu lost=%llu late=%llu corrupted=%llu send_full=%llu\n",
           (unsigned long long)cl->received, seconds, (double)cl->received / seconds, (double)cl->bytes / seconds / 1e6,
           hist_percentile_us(50), hist_percentile_us(99), (unsigned long long)errors, (unsigned long long)cl->sent,
           (unsigned long long)cl->received, (unsigned long long)cl->lost, (unsigned long long)cl->late,
           (unsigned long long)cl->corrupted, (unsigned long long)cl->send_full);
    fflush(stdout);
    if (cl->received == 0 && errors == 0)
        fprintf(stderr, "error: no datagram was echoed\n");
}

static void print_start(const uclient *cl)
{
    const options *opt = cl->opt;
    char server_text[80] = "?";
    char rate_text[32] = "unlimited";
    net_addr_format(&cl->server, server_text, sizeof server_text);
    if (opt->rate > 0)
        snprintf(rate_text, sizeof rate_text, "%.0f/s", opt->rate);
    fprintf(stderr,
            "dummy_client: udp%s, %u sockets x window %u, %s%u-byte datagrams, rate %s, loss timeout %u ms, "
            "%.1f s, server %s backend=%s io_threads=%u\n",
            opt->udp_connect ? " (connected)" : "", opt->connections, opt->depth, opt->vary_size ? "24.." : "",
            opt->size, rate_text, opt->timeout_ms, opt->seconds, server_text, net_backend_name(cl->engine),
            opt->io_threads);
}

/* Longer than a screen: the run's phases in order (set up, open, run,
 * drain, close, summary), each already a function of its own. */
int dummy_udp_run(const options *opt)
{
    uclient cl;
    uint64_t t0, t_run_end, t_end;
    double seconds;
    uint64_t errors;
    int rc;

    memset(&cl, 0, sizeof cl);
    cl.opt = opt;
    cl.timeout_ns = (uint64_t)opt->timeout_ms * 1000000ull;
    cli_catch_stop(0);

    rc = net_addr_parse(opt->host, (uint16_t)opt->port, &cl.server);
    if (rc != NET_OK) {
        fprintf(stderr, "net_addr_parse %s:%d: %s (%d)\n", opt->host, opt->port, net_strerror(rc), rc);
        return 1;
    }

    cl.socks = (usock *)calloc(opt->connections, sizeof(usock));
    cl.scratch = (uint8_t *)malloc(opt->size);
    cl.expect = (uint8_t *)malloc(opt->size);
    if (!cl.socks || !cl.scratch || !cl.expect) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }

    if (cli_engine_create(opt->backend, opt->io_threads, 0, &cl.engine) != NET_OK)
        return 1;
    print_start(&cl);

    t0 = cli_now_ns();
    if (open_sockets(&cl) == 0)
        run(&cl, t0);
    t_run_end = cli_now_ns();
    drain(&cl, t_run_end);
    t_end = cl.last_echo_ns > t_run_end ? cl.last_echo_ns : t_run_end;
    close_all(&cl);

    rc = net_engine_destroy(cl.engine);
    if (rc != NET_OK)
        dummy_error(&cl.err, "net_engine_destroy: %s (%d)", net_strerror(rc), rc);

    seconds = (double)(t_end - t0) / 1e9;
    if (seconds <= 0)
        seconds = 1e-9;
    errors = cl.err.count + cl.corrupted;
    print_summary(&cl, seconds, errors);

    for (uint32_t k = 0; k < opt->connections; k++) {
        free(cl.socks[k].sent_ns);
        free(cl.socks[k].st);
    }
    free(cl.socks);
    free(cl.scratch);
    free(cl.expect);
    return (errors > 0 || cl.received == 0) ? 1 : 0;
}
