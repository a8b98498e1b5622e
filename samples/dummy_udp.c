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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dummy.h"
#include "net.h"

#define CLOSE_TIMEOUT_S 5.0
#define MAX_ERROR_EVENT_LINES 5

enum { U_OPEN, U_CLOSING, U_DEAD };

typedef struct usock {
    net_handle h;
    uint32_t id;
    int state;
    int blocked; /* the last send found the send queue full */
    int aborted; /* closed with net_abort: its CLOSE may carry a status */
    seq_ring r;
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
    /* --rate pacing */
    double tokens;
    uint64_t tokens_at;
    uint32_t rr;
    dgram_tally t;
    uint32_t error_event_lines;
} uclient;

static int same_addr(const net_addr *a, const net_addr *b)
{
    size_t n = a->family == NET_AF_INET6 ? 16 : 4;
    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, n) == 0;
}

/* ---------------------------------------------------------------- sending */

static void close_sock(uclient *cl, usock *s, int abortive)
{
    int rc;
    if (s->state != U_OPEN)
        return;
    cl->t.open--;
    s->state = U_CLOSING;
    s->aborted = abortive;
    rc = abortive ? net_abort(s->h) : net_close(s->h);
    if (rc != NET_OK) {
        dummy_error(&cl->t.err, "client %u: %s: %s (%d)", s->id, abortive ? "net_abort" : "net_close", net_strerror(rc),
                    rc);
        s->state = U_DEAD;
    }
}

/* 1 sent, 0 not now (send queue full or ring at its limit), -1 failed. */
static int send_one(uclient *cl, usock *s, uint64_t now)
{
    const options *o = cl->opt;
    uint64_t seq = s->r.next_send;
    uint32_t len = dgram_size(o, s->id, seq);
    uint8_t *m = cl->scratch;
    int rc;

    rc = seq_ring_room(&s->r);
    if (rc > 0)
        return 0;
    if (rc < 0) {
        dummy_error(&cl->t.err, "client %u: out of memory tracking %llu sequences", s->id,
                    (unsigned long long)(seq - s->r.low));
        close_sock(cl, s, 1);
        return -1;
    }
    dgram_build(m, len, s->id, seq, now);
    rc = o->udp_connect ? net_send(s->h, m, len) : net_sendto(s->h, &cl->server, m, len);
    if (rc == NET_E_WOULDBLOCK) {
        /* The engine has not flushed this socket's queue yet: try again
         * later rather than wait, as a game client would. */
        s->blocked = 1;
        cl->t.send_full++;
        return 0;
    }
    if (rc != NET_OK) {
        dummy_error(&cl->t.err, "client %u: %s seq %llu (%u bytes): %s (%d)", s->id,
                    o->udp_connect ? "net_send" : "net_sendto", (unsigned long long)seq, len, net_strerror(rc), rc);
        close_sock(cl, s, 1);
        return -1;
    }
    s->blocked = 0;
    dgram_sent(&cl->t, &s->r, now);
    return 1;
}

static int may_send(const uclient *cl, const usock *s)
{
    return cl->running && s->state == U_OPEN && s->r.inflight < cl->opt->depth;
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
    dgram_tally *t = &cl->t;
    const uint8_t *m = (const uint8_t *)ev->data;
    uint32_t len = ev->len, id;
    uint64_t seq;

    if (!same_addr(&ev->addr, &cl->server)) {
        char from[80] = "?";
        net_addr_format(&ev->addr, from, sizeof from);
        dgram_corrupt(t, "client %u: %u-byte datagram from %s, not the server", s->id, len, from);
        return;
    }
    if (len < HEADER_SIZE) {
        dgram_corrupt(t, "client %u: %u-byte datagram, shorter than the %d-byte header", s->id, len, HEADER_SIZE);
        return;
    }
    id = get_u32(m);
    seq = get_u64(m + 8);
    if (get_u32(m + 4) != dgram_checksum(m, len)) {
        dgram_corrupt(t, "client %u: bad checksum on a %u-byte datagram (claims client %u seq %llu)", s->id, len, id,
                      (unsigned long long)seq);
        return;
    }
    if (id != s->id) {
        dgram_corrupt(t, "client %u: got client %u's datagram seq %llu", s->id, id, (unsigned long long)seq);
        return;
    }
    if (seq >= s->r.next_send) {
        dgram_corrupt(t, "client %u: echo of seq %llu, never sent (next is %llu)", s->id, (unsigned long long)seq,
                      (unsigned long long)s->r.next_send);
        return;
    }
    if (len != dgram_size(cl->opt, id, seq)) {
        dgram_corrupt(t, "client %u: seq %llu came back with %u bytes, sent %u", s->id, (unsigned long long)seq, len,
                      dgram_size(cl->opt, id, seq));
        return;
    }
    fill_body(cl->expect, len - HEADER_SIZE, id, seq);
    if (memcmp(cl->expect, m + HEADER_SIZE, len - HEADER_SIZE) != 0) {
        uint32_t at = 0;
        while (cl->expect[at] == m[HEADER_SIZE + at])
            at++;
        dgram_corrupt(t, "client %u: seq %llu body differs at byte %u", s->id, (unsigned long long)seq,
                      HEADER_SIZE + at);
        return;
    }
    if (dgram_echoed(t, &s->r, m, len, seq, now, "client", s->id) && cl->opt->rate <= 0)
        fill(cl, s, now);
}

/* A dummy_event_fn: ctx is the uclient. */
static void handle_event(void *ctx, const net_event *ev, uint64_t now)
{
    uclient *cl = (uclient *)ctx;
    usock *s;
    if (ev->type != NET_EV_DATAGRAM && ev->type != NET_EV_ERROR && ev->type != NET_EV_CLOSE)
        return;
    if (ev->user == 0 || ev->user > cl->opt->connections) {
        dummy_error(&cl->t.err, "event %u for unknown user data %llu", ev->type, (unsigned long long)ev->user);
        return;
    }
    s = &cl->socks[ev->user - 1];
    if (s->h != ev->handle || s->state == U_DEAD) {
        dummy_error(&cl->t.err, "client %u: event %u for handle %llx, expected %llx%s", s->id, ev->type,
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
        cl->t.error_events++;
        if (cl->error_event_lines++ < MAX_ERROR_EVENT_LINES)
            fprintf(stderr, "client %u: error event: %s (%d, os error %d)\n", s->id, net_strerror(ev->status),
                    ev->status, ev->os_error);
        break;
    case NET_EV_CLOSE:
        if (s->state == U_OPEN) {
            dummy_error(&cl->t.err, "client %u: closed unexpectedly: %s (%d, os error %d)", s->id,
                        net_strerror(ev->status), ev->status, ev->os_error);
            cl->t.open--;
        } else if (ev->status != 0 && !s->aborted) {
            dummy_error(&cl->t.err, "client %u: close ended with %s (%d, os error %d)", s->id, net_strerror(ev->status),
                        ev->status, ev->os_error);
        }
        /* What it still had in flight can no longer come back. */
        dgram_forfeit(&cl->t, &s->r);
        s->state = U_DEAD;
        break;
    }
}

/* One poll, its events handled; also the dummy_closer's poll (ctx: the uclient). */
static int poll_once(void *ctx, int timeout_ms)
{
    uclient *cl = (uclient *)ctx;
    return dummy_poll(cl->engine, timeout_ms, handle_event, cl, &cl->t.err);
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
        if (seq_ring_init(&s->r, o->depth) < 0) {
            dummy_error(&cl->t.err, "out of memory");
            return -1;
        }
        net_udp_config_init(&u);
        u.user = s->id;
        rc = net_udp_open(cl->engine, bind_host, 0, &u, &s->h);
        if (rc != NET_OK) {
            dummy_error(&cl->t.err, "client %u: net_udp_open %s: %s (%d)", s->id, bind_host, net_strerror(rc), rc);
            continue;
        }
        if (o->udp_connect && (rc = net_udp_connect(s->h, o->host, (uint16_t)o->port)) != NET_OK) {
            dummy_error(&cl->t.err, "client %u: net_udp_connect %s:%d: %s (%d)", s->id, o->host, o->port,
                        net_strerror(rc), rc);
            /* Its CLOSE event is still to come. */
            s->state = net_abort(s->h) == NET_OK ? U_CLOSING : U_DEAD;
            s->aborted = 1;
            continue;
        }
        s->state = U_OPEN;
        cl->t.open++;
    }
    return 0;
}

/* A dgram_mode's sweep (ctx: the uclient): looks for lost datagrams on every
 * socket still open, then in window mode fills the windows that loss or a
 * full queue left open. */
static void sweep_all(void *ctx, uint64_t now)
{
    uclient *cl = (uclient *)ctx;
    for (uint32_t k = 0; k < cl->opt->connections; k++)
        if (cl->socks[k].state != U_DEAD)
            dgram_sweep(&cl->t, &cl->socks[k].r, now, cl->timeout_ns, NULL, NULL);
    if (cl->opt->rate <= 0)
        pump(cl, now);
}

/* A dgram_mode's pace (ctx: the uclient). */
static void pace(void *ctx, uint64_t now)
{
    pump((uclient *)ctx, now);
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
    for (uint32_t k = 0; k < cl->opt->connections; k++)
        close_sock(cl, &cl->socks[k], 0);
    dummy_await_closes(&closer, CLOSE_TIMEOUT_S, &cl->t.err, "sockets");
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
    const dgram_tally *t = &cl.t;
    const dgram_mode mode = {&cl, &cl.t, "sockets", "dgrams", sweep_all, opt->rate > 0 ? pace : NULL, poll_once};
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

    /* Run: keep the windows full (or the pace) until the deadline. */
    t0 = cli_now_ns();
    if (open_sockets(&cl) == 0) {
        cl.running = 1;
        cl.tokens_at = t0;
        pump(&cl, t0);
        dgram_run(&mode, opt->seconds, t0);
    }
    /* Drain: nothing new; every datagram in flight comes back or times out. */
    t_run_end = cli_now_ns();
    cl.running = 0;
    dgram_drain(&mode, t_run_end + cl.timeout_ns + 1000000000ull);
    if (t->inflight > 0)
        dummy_error(&cl.t.err, "%llu datagrams neither echoed nor timed out after the run",
                    (unsigned long long)t->inflight);
    t_end = t->last_echo_ns > t_run_end ? t->last_echo_ns : t_run_end;
    close_all(&cl);
    seconds = dummy_finish(cl.engine, t0, t_end, &cl.t.err);

    errors = t->err.count + t->corrupted;
    fprintf(stderr,
            "dummy_client: sent %llu, echoed %llu (%.2f%%), lost %llu, late %llu, corrupted %llu, "
            "send queue full %llu times, error events %llu\n",
            (unsigned long long)t->sent, (unsigned long long)t->received,
            t->sent ? 100.0 * (double)t->received / (double)t->sent : 0.0, (unsigned long long)t->lost,
            (unsigned long long)t->late, (unsigned long long)t->corrupted, (unsigned long long)t->send_full,
            (unsigned long long)t->error_events);
    dgram_summary(t, seconds, errors, "datagram");

    for (uint32_t k = 0; k < opt->connections; k++)
        seq_ring_free(&cl.socks[k].r);
    free(cl.socks);
    free(cl.scratch);
    free(cl.expect);
    return (errors > 0 || t->received == 0) ? 1 : 0;
}
