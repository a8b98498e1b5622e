/*
 * dummy_rudp.c - the reliable-UDP mode of dummy_client (--udp --reliable),
 * against samples/udp_echo --reliable: anything that sends each message
 * back to its session on the channel it came on, in that channel's mode.
 *
 *   dummy_client --udp --reliable [--connections N] [--depth D] [--size BYTES]
 *                [--vary-size] [--channels K] [--mode MODE] [--loss-timeout-ms T]
 *                [--seconds S] [--host H] [--port P] [--backend ...] [--io-threads N]
 *
 * N sessions (net_rudp_connect), each keeping up to D messages in flight.
 * Message seq of a session goes on channel seq % K in that channel's mode
 * (--mode, the rule of cli.h: one mode for all, or "mixed"). A message has
 * the layout of the UDP mode's datagrams (dummy.h: client id, checksum,
 * sequence, send time, then a body that is a function of id and sequence;
 * BYTES may exceed a datagram: the library fragments it).
 *
 * What each mode promises is what is checked, per session and channel:
 *   reliable-ordered      every echo, once, and in send order on its channel
 *   reliable-unordered    every echo, once
 *   unreliable-sequenced  once at most, and never older than one already echoed
 *   unreliable            once at most
 * On every channel an echo must be intact (checksum, length, body, its
 * session's, a sequence sent) and carry its channel. Breaking any of these
 * counts as corrupted: an error. On the unreliable channels an echo not back
 * within T ms (--loss-timeout-ms) is counted lost (information, as in the UDP
 * mode), and late if it comes after all. On the reliable ones nothing times
 * out during the run; after it the client waits (at most T ms + 10 s) for
 * every reliable echo still due, and each that never comes is lost and an
 * error: `lost` is 0 in any run where the reliable channels kept their word.
 *
 * Ends with the UDP SUMMARY line of docs/CONVENTIONS.md and exits 1 on any
 * error (corruption, a reliable echo missing, a session that failed to
 * connect or closed unexpectedly, a failed call) or when nothing came back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dummy.h"
#include "net.h"

#define DRAIN_EXTRA_NS 10000000000ull
#define CLOSE_TIMEOUT_S 10.0

enum { R_CONNECTING, R_OPEN, R_CLOSING, R_DEAD };

typedef struct rsess {
    net_handle h;
    uint32_t id;
    int state;
    seq_ring r;
    uint64_t *expect;   /* per channel: ordered, the sequence the next echo must carry; sequenced, newest + 1 */
    net_rudp_stats fin; /* read before closing */
} rsess;

typedef struct rclient {
    const options *opt;
    net_engine engine;
    rsess *sess;
    uint8_t *scratch, *body;
    int running;
    uint64_t timeout_ns;
    dgram_tally t;
} rclient;

static uint32_t channel_of(const rclient *cl, uint64_t seq)
{
    return (uint32_t)(seq % cl->opt->channels);
}

static uint32_t mode_of(const rclient *cl, uint32_t channel)
{
    return cli_rudp_channel_mode(cl->opt->mode, channel);
}

/* A dgram_may_lose_fn (ctx: the rclient): the reliable channels' messages
 * are not lost by timing out; they wait for the end of the run. */
static int seq_unreliable(const void *ctx, uint64_t seq)
{
    const rclient *cl = (const rclient *)ctx;
    return !cli_rudp_mode_reliable(mode_of(cl, channel_of(cl, seq)));
}

/* ---------------------------------------------------------------- sending */

static void close_sess(rclient *cl, rsess *s)
{
    if (s->state != R_OPEN)
        return;
    memset(&s->fin, 0, sizeof s->fin);
    s->fin.size = sizeof s->fin;
    net_rudp_get_stats(s->h, &s->fin);
    cl->t.open--;
    s->state = R_CLOSING;
    int rc = net_close(s->h);
    if (rc != NET_OK) {
        dummy_error(&cl->t.err, "session %u: net_close: %s (%d)", s->id, net_strerror(rc), rc);
        s->state = R_DEAD;
    }
}

/* 1 sent, 0 not now (send queue full or ring at its limit), -1 failed. */
static int send_one(rclient *cl, rsess *s, uint64_t now)
{
    uint64_t seq = s->r.next_send;
    uint32_t len = dgram_size(cl->opt, s->id, seq), channel = channel_of(cl, seq);
    uint8_t *m = cl->scratch;
    int rc = seq_ring_room(&s->r);
    if (rc > 0)
        return 0;
    if (rc < 0) {
        dummy_error(&cl->t.err, "session %u: out of memory tracking sequences", s->id);
        return -1;
    }
    dgram_build(m, len, s->id, seq, now);
    rc = net_rudp_send(s->h, channel, mode_of(cl, channel), m, len);
    if (rc == NET_E_WOULDBLOCK) {
        cl->t.send_full++; /* send_cap reached: tried again at the next sweep or echo */
        return 0;
    }
    if (rc != NET_OK) {
        dummy_error(&cl->t.err, "session %u: net_rudp_send seq %llu channel %u (%u bytes): %s (%d)", s->id,
                    (unsigned long long)seq, channel, len, net_strerror(rc), rc);
        return -1;
    }
    dgram_sent(&cl->t, &s->r, now);
    return 1;
}

static void fill(rclient *cl, rsess *s, uint64_t now)
{
    while (cl->running && s->state == R_OPEN && s->r.inflight < cl->opt->depth)
        if (send_one(cl, s, now) <= 0)
            break;
}

/* -------------------------------------------------------------- receiving */

/* An intact echo of s: 0, or -1 (counted corrupted) with *seq_out unset. */
static int check_content(rclient *cl, rsess *s, const net_event *ev, uint64_t *seq_out)
{
    dgram_tally *t = &cl->t;
    const uint8_t *m = (const uint8_t *)ev->data;
    uint32_t len = ev->len;
    if (len < HEADER_SIZE) {
        dgram_corrupt(t, "session %u: %u-byte message, shorter than the %d-byte header", s->id, len, HEADER_SIZE);
        return -1;
    }
    uint32_t id = get_u32(m);
    uint64_t seq = get_u64(m + 8);
    if (get_u32(m + 4) != dgram_checksum(m, len)) {
        dgram_corrupt(t, "session %u: bad checksum on a %u-byte message (claims session %u seq %llu)", s->id, len, id,
                      (unsigned long long)seq);
        return -1;
    }
    if (id != s->id || seq >= s->r.next_send) {
        dgram_corrupt(t, "session %u: echo of session %u seq %llu, never sent here (next is %llu)", s->id, id,
                      (unsigned long long)seq, (unsigned long long)s->r.next_send);
        return -1;
    }
    if (len != dgram_size(cl->opt, id, seq)) {
        dgram_corrupt(t, "session %u: seq %llu came back with %u bytes, sent %u", s->id, (unsigned long long)seq, len,
                      dgram_size(cl->opt, id, seq));
        return -1;
    }
    fill_body(cl->body, len - HEADER_SIZE, id, seq);
    if (memcmp(cl->body, m + HEADER_SIZE, len - HEADER_SIZE) != 0) {
        dgram_corrupt(t, "session %u: seq %llu body differs", s->id, (unsigned long long)seq);
        return -1;
    }
    if (ev->parent != channel_of(cl, seq)) {
        dgram_corrupt(t, "session %u: seq %llu came back on channel %llu, sent on %u", s->id, (unsigned long long)seq,
                      (unsigned long long)ev->parent, channel_of(cl, seq));
        return -1;
    }
    *seq_out = seq;
    return 0;
}

/* The channel's promise about order, for a first echo of seq. */
static void check_order(rclient *cl, rsess *s, uint64_t seq)
{
    uint32_t channel = channel_of(cl, seq), mode = mode_of(cl, channel);
    uint64_t *e = &s->expect[channel];
    if (mode == NET_RUDP_RELIABLE_ORDERED) {
        if (seq != *e)
            dgram_corrupt(&cl->t, "session %u: channel %u (reliable-ordered) delivered seq %llu, expected %llu", s->id,
                          channel, (unsigned long long)seq, (unsigned long long)*e);
        *e = seq + cl->opt->channels;
    } else if (mode == NET_RUDP_UNRELIABLE_SEQUENCED) {
        if (seq < *e)
            dgram_corrupt(&cl->t, "session %u: channel %u (unreliable-sequenced) delivered seq %llu after a newer one",
                          s->id, channel, (unsigned long long)seq);
        else
            *e = seq + 1;
    }
}

static void on_message(rclient *cl, rsess *s, const net_event *ev, uint64_t now)
{
    uint64_t seq;
    if (check_content(cl, s, ev, &seq) != 0)
        return;
    /* A message of an unreliable channel long lost may be forgotten already
     * when it comes: counted late. */
    if (dgram_echoed(&cl->t, &s->r, (const uint8_t *)ev->data, ev->len, seq, now, "session", s->id)) {
        check_order(cl, s, seq);
        fill(cl, s, now);
    }
}

static void on_connect(rclient *cl, rsess *s, const net_event *ev, uint64_t now)
{
    if (s->state == R_CLOSING)
        return; /* closed while connecting (the run ended first): its CLOSE follows */
    if (s->state != R_CONNECTING) {
        dummy_error(&cl->t.err, "session %u: CONNECT in state %d", s->id, s->state);
        return;
    }
    cl->t.connecting--;
    if (ev->status != 0) {
        dummy_error(&cl->t.err, "session %u: connect failed: %s (%d)", s->id, net_strerror(ev->status), ev->status);
        s->state = R_CLOSING; /* its CLOSE follows */
        return;
    }
    s->state = R_OPEN;
    cl->t.open++;
    fill(cl, s, now);
}

static void on_close(rclient *cl, rsess *s, const net_event *ev)
{
    uint32_t unechoed;
    if (s->state == R_OPEN || s->state == R_CONNECTING) {
        dummy_error(&cl->t.err, "session %u: closed unexpectedly: %s (%d)", s->id, net_strerror(ev->status),
                    ev->status);
        if (s->state == R_OPEN)
            cl->t.open--;
        else
            cl->t.connecting--;
    } else if (ev->status != 0 && cl->t.err.count == 0) {
        dummy_error(&cl->t.err, "session %u: close ended with %s (%d)", s->id, net_strerror(ev->status), ev->status);
    }
    /* What it still had in flight can no longer come back. */
    unechoed = dgram_forfeit(&cl->t, &s->r);
    if (unechoed)
        dummy_error(&cl->t.err, "session %u: closed with %u messages unechoed", s->id, unechoed);
    s->state = R_DEAD;
}

/* A dummy_event_fn: ctx is the rclient. */
static void handle_event(void *ctx, const net_event *ev, uint64_t now)
{
    rclient *cl = (rclient *)ctx;
    if (ev->type != NET_EV_DATA && ev->type != NET_EV_CONNECT && ev->type != NET_EV_CLOSE && ev->type != NET_EV_ERROR)
        return; /* SEND_HIGHWATER / SEND_DRAINED: the window already bounds what is queued */
    if (ev->user == 0 || ev->user > cl->opt->connections) {
        dummy_error(&cl->t.err, "event %u for unknown user data %llu", ev->type, (unsigned long long)ev->user);
        return;
    }
    rsess *s = &cl->sess[ev->user - 1];
    if (s->h != ev->handle || s->state == R_DEAD) {
        dummy_error(&cl->t.err, "session %u: event %u for handle %llx, expected %llx%s", s->id, ev->type,
                    (unsigned long long)ev->handle, (unsigned long long)s->h, s->state == R_DEAD ? " (closed)" : "");
        return;
    }
    switch (ev->type) {
    case NET_EV_DATA:
        on_message(cl, s, ev, now);
        break;
    case NET_EV_CONNECT:
        on_connect(cl, s, ev, now);
        break;
    case NET_EV_ERROR:
        cl->t.error_events++;
        break;
    case NET_EV_CLOSE:
        on_close(cl, s, ev);
        break;
    }
}

static int poll_once(void *ctx, int timeout_ms)
{
    rclient *cl = (rclient *)ctx;
    return dummy_poll(cl->engine, timeout_ms, handle_event, cl, &cl->t.err);
}

/* ------------------------------------------------------------------ run */

static int session_init(rsess *s, uint32_t id, const options *o)
{
    s->id = id;
    s->state = R_DEAD;
    s->expect = (uint64_t *)calloc(o->channels, sizeof *s->expect);
    if (seq_ring_init(&s->r, o->depth) < 0 || !s->expect)
        return -1;
    for (uint32_t c = 0; c < o->channels; c++)
        s->expect[c] = c;
    return 0;
}

static void connect_all(rclient *cl)
{
    const options *o = cl->opt;
    for (uint32_t k = 0; k < o->connections; k++) {
        rsess *s = &cl->sess[k];
        if (session_init(s, k + 1, o) < 0) {
            dummy_error(&cl->t.err, "out of memory");
            return;
        }
        net_rudp_config cfg;
        net_rudp_config_init(&cfg);
        cfg.channels = o->channels;
        if (o->size > cfg.max_message)
            cfg.max_message = o->size;
        if (cfg.max_message > cfg.recv_window)
            cfg.recv_window = cfg.max_message;
        if (cfg.max_message > cfg.send_cap)
            cfg.send_cap = cfg.max_message;
        cfg.user = s->id;
        int rc = net_rudp_connect(cl->engine, o->host, (uint16_t)o->port, &cfg, &s->h);
        if (rc != NET_OK) {
            dummy_error(&cl->t.err, "session %u: net_rudp_connect %s:%d: %s (%d)", s->id, o->host, o->port,
                        net_strerror(rc), rc);
            continue;
        }
        s->state = R_CONNECTING;
        cl->t.connecting++;
    }
}

/* A dgram_mode's sweep (ctx: the rclient): declares lost the overdue
 * messages of unreliable channels, then fills the windows a full send queue
 * left open. */
static void sweep_all(void *ctx, uint64_t now)
{
    rclient *cl = (rclient *)ctx;
    for (uint32_t k = 0; k < cl->opt->connections; k++)
        if (cl->sess[k].state != R_DEAD) {
            dgram_sweep(&cl->t, &cl->sess[k].r, now, cl->timeout_ns, seq_unreliable, cl);
            fill(cl, &cl->sess[k], now);
        }
}

static uint32_t count_closing(void *ctx)
{
    const rclient *cl = (const rclient *)ctx;
    uint32_t waiting = 0;
    for (uint32_t k = 0; k < cl->opt->connections; k++)
        if (cl->sess[k].state == R_CLOSING || cl->sess[k].state == R_CONNECTING)
            waiting++;
    return waiting;
}

/* Graceful closes: each session must end with exactly one CLOSE, status 0.
 * The messages still counted in flight were counted lost by the drain. */
static void close_all(rclient *cl)
{
    const dummy_closer closer = {count_closing, poll_once, cl};
    for (uint32_t k = 0; k < cl->opt->connections; k++) {
        rsess *s = &cl->sess[k];
        if (s->state == R_CONNECTING && net_close(s->h) == NET_OK) {
            s->state = R_CLOSING;
            cl->t.connecting--;
        }
        s->r.inflight = 0;
        close_sess(cl, s);
    }
    cl->t.inflight = 0;
    dummy_await_closes(&closer, CLOSE_TIMEOUT_S, &cl->t.err, "sessions");
}

/* The protocol's own view of the run, summed over the sessions (stderr). */
static void print_protocol(const rclient *cl)
{
    uint64_t retransmits = 0, lost = 0, dups = 0, sent = 0, rtt = 0, n = 0;
    for (uint32_t k = 0; k < cl->opt->connections; k++) {
        const net_rudp_stats *f = &cl->sess[k].fin;
        retransmits += f->retransmits;
        lost += f->packets_lost;
        dups += f->duplicates_dropped;
        sent += f->packets_sent;
        if (f->rtt_us) {
            rtt += f->rtt_us;
            n++;
        }
    }
    fprintf(stderr,
            "dummy_client: sessions' packets_sent=%llu retransmits=%llu packets_lost=%llu duplicates_dropped=%llu "
            "mean_rtt_us=%llu\n",
            (unsigned long long)sent, (unsigned long long)retransmits, (unsigned long long)lost,
            (unsigned long long)dups, (unsigned long long)(n ? rtt / n : 0));
}

/* Longer than a screen: the run's phases in order (set up, connect, run,
 * drain, close, summary), each already a function of its own. */
int dummy_rudp_run(const options *opt)
{
    rclient cl;
    const dgram_tally *t = &cl.t;
    const dgram_mode mode = {&cl, &cl.t, "sessions", "msgs", sweep_all, NULL, poll_once};
    memset(&cl, 0, sizeof cl);
    cl.opt = opt;
    cl.timeout_ns = (uint64_t)opt->timeout_ms * 1000000ull;
    cli_catch_stop(0);
    cl.sess = (rsess *)calloc(opt->connections, sizeof(rsess));
    cl.scratch = (uint8_t *)malloc(opt->size);
    cl.body = (uint8_t *)malloc(opt->size);
    if (!cl.sess || !cl.scratch || !cl.body) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    if (cli_engine_create(opt->backend, opt->io_threads, 0, &cl.engine) != NET_OK)
        return 1;
    fprintf(stderr,
            "dummy_client: rudp, %u sessions x window %u, %s%u-byte messages, %u channels, mode %s, loss timeout %u "
            "ms, %.1f s, server %s:%d backend=%s io_threads=%u\n",
            opt->connections, opt->depth, opt->vary_size ? "24.." : "", opt->size, opt->channels,
            cli_rudp_mode_name(opt->mode), opt->timeout_ms, opt->seconds, opt->host, opt->port,
            net_backend_name(cl.engine), opt->io_threads);

    /* Keeps the windows full until the deadline. Sessions still connecting
     * when it passes fail the run (through their missing CONNECT). */
    uint64_t t0 = cli_now_ns();
    connect_all(&cl);
    cl.running = 1;
    dgram_run(&mode, opt->seconds, t0);

    /* Nothing new; every message in flight comes back, or (unreliable) times
     * out; a session still in its handshake gets the same grace (through a
     * lossy path its HELLO and RESPONSE may each need several tries). */
    uint64_t t_run_end = cli_now_ns(), until = t_run_end + cl.timeout_ns + DRAIN_EXTRA_NS;
    cl.running = 0;
    dgram_drain(&mode, until);
    if (t->inflight > 0) {
        dummy_error(&cl.t.err, "%llu reliable messages never echoed within %.1f s after the run",
                    (unsigned long long)t->inflight, (double)(until - t_run_end) / 1e9);
        cl.t.lost += t->inflight;
    }
    if (t->connecting)
        dummy_error(&cl.t.err, "%u sessions never connected", t->connecting);

    uint64_t t_end = t->last_echo_ns > t_run_end ? t->last_echo_ns : t_run_end;
    close_all(&cl);
    double seconds = dummy_finish(cl.engine, t0, t_end, &cl.t.err);
    uint64_t errors = t->err.count + t->corrupted;
    print_protocol(&cl);
    fprintf(stderr, "dummy_client: sent %llu, echoed %llu, lost %llu, late %llu, corrupted %llu, send full %llu\n",
            (unsigned long long)t->sent, (unsigned long long)t->received, (unsigned long long)t->lost,
            (unsigned long long)t->late, (unsigned long long)t->corrupted, (unsigned long long)t->send_full);
    dgram_summary(t, seconds, errors, "message");
    for (uint32_t k = 0; k < opt->connections; k++) {
        seq_ring_free(&cl.sess[k].r);
        free(cl.sess[k].expect);
    }
    free(cl.sess);
    free(cl.scratch);
    free(cl.body);
    return (errors > 0 || t->received == 0) ? 1 : 0;
}
