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
 * the layout of the UDP mode's datagrams (dummy_udp.c: client id, checksum,
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dummy.h"
#include "net.h"

#define SWEEP_NS 10000000ull /* how often lost unreliable messages are looked for */
#define DRAIN_EXTRA_NS 10000000000ull
#define CLOSE_TIMEOUT_S 10.0
#define MAX_TRACK (1u << 20)

enum { M_FREE = 0, M_PENDING, M_ECHOED, M_LOST, M_LATE };
enum { R_CONNECTING, R_OPEN, R_CLOSING, R_DEAD };

typedef struct rsess {
    net_handle h;
    uint32_t id;
    int state;
    uint64_t next_send; /* sequence of the next message */
    uint64_t pend;      /* every sequence before this one is echoed or lost */
    uint64_t low;       /* sequences before this one are forgotten */
    uint32_t inflight;
    uint32_t mask; /* ring size - 1 */
    uint64_t *sent_ns;
    uint8_t *st;        /* M_* */
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
    uint32_t open, connecting;
    uint64_t inflight;
    uint64_t sent, received, bytes, lost, late, corrupted, send_full, error_events;
    uint64_t last_echo_ns;
    dummy_errors err;
} rclient;

static void corrupt(rclient *cl, const char *fmt, ...)
{
    va_list ap;
    cl->corrupted++;
    va_start(ap, fmt);
    dummy_vreport(&cl->err, "error: corrupted", fmt, ap);
    va_end(ap);
}

static uint32_t channel_of(const rclient *cl, uint64_t seq)
{
    return (uint32_t)(seq % cl->opt->channels);
}

static uint32_t mode_of(const rclient *cl, uint32_t channel)
{
    return cli_rudp_channel_mode(cl->opt->mode, channel);
}

static int seq_reliable(const rclient *cl, uint64_t seq)
{
    return cli_rudp_mode_reliable(mode_of(cl, channel_of(cl, seq)));
}

/* ------------------------------------------------------ message content */

static uint32_t msg_size(const options *o, uint32_t id, uint64_t seq)
{
    uint64_t state;
    if (!o->vary_size || o->size == HEADER_SIZE)
        return o->size;
    state = ((uint64_t)id << 40) ^ seq ^ 0x51ce51ce51ceull;
    return HEADER_SIZE + (uint32_t)(splitmix64(&state) % (o->size - HEADER_SIZE + 1));
}

static uint32_t msg_checksum(const uint8_t *m, uint32_t len)
{
    return fnv1a_more(fnv1a(m, 4), m + 8, len - 8);
}

/* ------------------------------------------------------ sequence tracking */

static int ring_init(rsess *s, uint32_t depth, uint32_t channels)
{
    uint32_t cap = 64;
    while (cap < 2 * depth && cap < MAX_TRACK)
        cap *= 2;
    s->sent_ns = (uint64_t *)calloc(cap, sizeof *s->sent_ns);
    s->st = (uint8_t *)calloc(cap, 1);
    s->expect = (uint64_t *)calloc(channels, sizeof *s->expect);
    s->mask = cap - 1;
    for (uint32_t c = 0; c < channels; c++)
        s->expect[c] = c;
    return s->sent_ns && s->st && s->expect ? 0 : -1;
}

/* Doubles the ring: 0 done, 1 at its limit, -1 out of memory. */
static int ring_grow(rsess *s)
{
    uint32_t ncap = (s->mask + 1) * 2, nmask = ncap - 1;
    if (ncap > MAX_TRACK)
        return 1;
    uint64_t *ns = (uint64_t *)calloc(ncap, sizeof *ns);
    uint8_t *nst = (uint8_t *)calloc(ncap, 1);
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

static void resolve(rclient *cl, rsess *s, uint32_t i, int state)
{
    s->st[i] = (uint8_t)state;
    s->inflight--;
    cl->inflight--;
}

/* Declares lost the overdue messages of unreliable channels (the reliable
 * ones wait for the end of the run), and forgets what was resolved long ago. */
static void sweep(rclient *cl, rsess *s, uint64_t now)
{
    for (uint64_t q = s->pend; q < s->next_send; q++) {
        uint32_t i = (uint32_t)(q & s->mask);
        if (now - s->sent_ns[i] < cl->timeout_ns)
            break; /* later sequences were sent later */
        if (s->st[i] == M_PENDING && !seq_reliable(cl, q)) {
            resolve(cl, s, i, M_LOST);
            cl->lost++;
        }
    }
    while (s->pend < s->next_send && s->st[s->pend & s->mask] != M_PENDING)
        s->pend++;
    while (s->low < s->pend && now - s->sent_ns[s->low & s->mask] >= 2 * cl->timeout_ns) {
        s->st[s->low & s->mask] = M_FREE;
        s->low++;
    }
}

/* ---------------------------------------------------------------- sending */

static void close_sess(rclient *cl, rsess *s)
{
    if (s->state != R_OPEN)
        return;
    memset(&s->fin, 0, sizeof s->fin);
    s->fin.size = sizeof s->fin;
    net_rudp_get_stats(s->h, &s->fin);
    cl->open--;
    s->state = R_CLOSING;
    int rc = net_close(s->h);
    if (rc != NET_OK) {
        dummy_error(&cl->err, "session %u: net_close: %s (%d)", s->id, net_strerror(rc), rc);
        s->state = R_DEAD;
    }
}

/* 1 sent, 0 not now (send queue full or ring at its limit), -1 failed. */
static int send_one(rclient *cl, rsess *s, uint64_t now)
{
    uint64_t seq = s->next_send;
    uint32_t len = msg_size(cl->opt, s->id, seq), channel = channel_of(cl, seq);
    uint8_t *m = cl->scratch;
    if (seq - s->low > s->mask) {
        int rc = ring_grow(s);
        if (rc > 0)
            return 0;
        if (rc < 0) {
            dummy_error(&cl->err, "session %u: out of memory tracking sequences", s->id);
            return -1;
        }
    }
    fill_body(m + HEADER_SIZE, len - HEADER_SIZE, s->id, seq);
    put_u32(m, s->id);
    put_u64(m + 8, seq);
    put_u64(m + 16, now);
    put_u32(m + 4, msg_checksum(m, len));
    int rc = net_rudp_send(s->h, channel, mode_of(cl, channel), m, len);
    if (rc == NET_E_WOULDBLOCK) {
        cl->send_full++; /* send_cap reached: tried again at the next sweep or echo */
        return 0;
    }
    if (rc != NET_OK) {
        dummy_error(&cl->err, "session %u: net_rudp_send seq %llu channel %u (%u bytes): %s (%d)", s->id,
                    (unsigned long long)seq, channel, len, net_strerror(rc), rc);
        return -1;
    }
    uint32_t i = (uint32_t)(seq & s->mask);
    s->st[i] = M_PENDING;
    s->sent_ns[i] = now;
    s->next_send++;
    s->inflight++;
    cl->inflight++;
    cl->sent++;
    return 1;
}

static void fill(rclient *cl, rsess *s, uint64_t now)
{
    while (cl->running && s->state == R_OPEN && s->inflight < cl->opt->depth)
        if (send_one(cl, s, now) <= 0)
            break;
}

/* -------------------------------------------------------------- receiving */

/* An intact echo of s: 0, or -1 (counted corrupted) with *seq_out unset. */
static int check_content(rclient *cl, rsess *s, const net_event *ev, uint64_t *seq_out)
{
    const uint8_t *m = (const uint8_t *)ev->data;
    uint32_t len = ev->len;
    if (len < HEADER_SIZE) {
        corrupt(cl, "session %u: %u-byte message, shorter than the %d-byte header", s->id, len, HEADER_SIZE);
        return -1;
    }
    uint32_t id = get_u32(m);
    uint64_t seq = get_u64(m + 8);
    if (get_u32(m + 4) != msg_checksum(m, len)) {
        corrupt(cl, "session %u: bad checksum on a %u-byte message (claims session %u seq %llu)", s->id, len, id,
                (unsigned long long)seq);
        return -1;
    }
    if (id != s->id || seq >= s->next_send) {
        corrupt(cl, "session %u: echo of session %u seq %llu, never sent here (next is %llu)", s->id, id,
                (unsigned long long)seq, (unsigned long long)s->next_send);
        return -1;
    }
    if (len != msg_size(cl->opt, id, seq)) {
        corrupt(cl, "session %u: seq %llu came back with %u bytes, sent %u", s->id, (unsigned long long)seq, len,
                msg_size(cl->opt, id, seq));
        return -1;
    }
    fill_body(cl->body, len - HEADER_SIZE, id, seq);
    if (memcmp(cl->body, m + HEADER_SIZE, len - HEADER_SIZE) != 0) {
        corrupt(cl, "session %u: seq %llu body differs", s->id, (unsigned long long)seq);
        return -1;
    }
    if (ev->parent != channel_of(cl, seq)) {
        corrupt(cl, "session %u: seq %llu came back on channel %llu, sent on %u", s->id, (unsigned long long)seq,
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
            corrupt(cl, "session %u: channel %u (reliable-ordered) delivered seq %llu, expected %llu", s->id, channel,
                    (unsigned long long)seq, (unsigned long long)*e);
        *e = seq + cl->opt->channels;
    } else if (mode == NET_RUDP_UNRELIABLE_SEQUENCED) {
        if (seq < *e)
            corrupt(cl, "session %u: channel %u (unreliable-sequenced) delivered seq %llu after a newer one", s->id,
                    channel, (unsigned long long)seq);
        else
            *e = seq + 1;
    }
}

static void on_message(rclient *cl, rsess *s, const net_event *ev, uint64_t now)
{
    uint64_t seq;
    if (check_content(cl, s, ev, &seq) != 0)
        return;
    if (seq < s->low) {
        cl->late++; /* forgotten already (unreliable, long lost): cannot tell a duplicate from a late echo */
        return;
    }
    uint32_t i = (uint32_t)(seq & s->mask);
    switch (s->st[i]) {
    case M_PENDING:
        check_order(cl, s, seq);
        resolve(cl, s, i, M_ECHOED);
        cl->received++;
        cl->bytes += ev->len;
        cl->last_echo_ns = now;
        {
            uint64_t sent = get_u64((const uint8_t *)ev->data + 16);
            hist_add_ns(now > sent ? now - sent : 0);
        }
        fill(cl, s, now);
        break;
    case M_LOST:
        s->st[i] = M_LATE;
        cl->late++;
        break;
    default:
        corrupt(cl, "session %u: second echo of seq %llu", s->id, (unsigned long long)seq);
        break;
    }
}

static void on_connect(rclient *cl, rsess *s, const net_event *ev, uint64_t now)
{
    if (s->state == R_CLOSING)
        return; /* closed while connecting (the run ended first): its CLOSE follows */
    if (s->state != R_CONNECTING) {
        dummy_error(&cl->err, "session %u: CONNECT in state %d", s->id, s->state);
        return;
    }
    cl->connecting--;
    if (ev->status != 0) {
        dummy_error(&cl->err, "session %u: connect failed: %s (%d)", s->id, net_strerror(ev->status), ev->status);
        s->state = R_CLOSING; /* its CLOSE follows */
        return;
    }
    s->state = R_OPEN;
    cl->open++;
    fill(cl, s, now);
}

static void on_close(rclient *cl, rsess *s, const net_event *ev)
{
    if (s->state == R_OPEN || s->state == R_CONNECTING) {
        dummy_error(&cl->err, "session %u: closed unexpectedly: %s (%d)", s->id, net_strerror(ev->status), ev->status);
        if (s->state == R_OPEN)
            cl->open--;
        else
            cl->connecting--;
    } else if (ev->status != 0 && cl->err.count == 0) {
        dummy_error(&cl->err, "session %u: close ended with %s (%d)", s->id, net_strerror(ev->status), ev->status);
    }
    /* What it still had in flight can no longer come back. */
    cl->lost += s->inflight;
    cl->inflight -= s->inflight;
    if (s->inflight)
        dummy_error(&cl->err, "session %u: closed with %u messages unechoed", s->id, s->inflight);
    s->inflight = 0;
    s->state = R_DEAD;
}

/* A dummy_event_fn: ctx is the rclient. */
static void handle_event(void *ctx, const net_event *ev, uint64_t now)
{
    rclient *cl = (rclient *)ctx;
    if (ev->type != NET_EV_DATA && ev->type != NET_EV_CONNECT && ev->type != NET_EV_CLOSE && ev->type != NET_EV_ERROR)
        return; /* SEND_HIGHWATER / SEND_DRAINED: the window already bounds what is queued */
    if (ev->user == 0 || ev->user > cl->opt->connections) {
        dummy_error(&cl->err, "event %u for unknown user data %llu", ev->type, (unsigned long long)ev->user);
        return;
    }
    rsess *s = &cl->sess[ev->user - 1];
    if (s->h != ev->handle || s->state == R_DEAD) {
        dummy_error(&cl->err, "session %u: event %u for handle %llx, expected %llx%s", s->id, ev->type,
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
        cl->error_events++;
        break;
    case NET_EV_CLOSE:
        on_close(cl, s, ev);
        break;
    }
}

static int poll_once(void *ctx, int timeout_ms)
{
    rclient *cl = (rclient *)ctx;
    return dummy_poll(cl->engine, timeout_ms, handle_event, cl, &cl->err);
}

/* ------------------------------------------------------------------ run */

static void connect_all(rclient *cl)
{
    const options *o = cl->opt;
    for (uint32_t k = 0; k < o->connections; k++) {
        rsess *s = &cl->sess[k];
        s->id = k + 1;
        s->state = R_DEAD;
        if (ring_init(s, o->depth, o->channels) < 0) {
            dummy_error(&cl->err, "out of memory");
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
            dummy_error(&cl->err, "session %u: net_rudp_connect %s:%d: %s (%d)", s->id, o->host, o->port,
                        net_strerror(rc), rc);
            continue;
        }
        s->state = R_CONNECTING;
        cl->connecting++;
    }
}

static void sweep_all(rclient *cl, uint64_t now)
{
    for (uint32_t k = 0; k < cl->opt->connections; k++)
        if (cl->sess[k].state != R_DEAD) {
            sweep(cl, &cl->sess[k], now);
            fill(cl, &cl->sess[k], now); /* windows a full send queue left open */
        }
}

static void print_progress(rclient *cl, uint64_t t, uint64_t t0, uint64_t *last_t, uint64_t *last_received)
{
    double dt = (double)(t - *last_t) / 1e9;
    fprintf(stderr,
            "progress: t=%.1fs sessions=%u sent=%llu received=%llu msgs/s=%.0f lost=%llu late=%llu corrupted=%llu "
            "send_full=%llu p50_us=%.1f p99_us=%.1f errors=%llu\n",
            (double)(t - t0) / 1e9, cl->open, (unsigned long long)cl->sent, (unsigned long long)cl->received,
            dt > 0 ? (double)(cl->received - *last_received) / dt : 0.0, (unsigned long long)cl->lost,
            (unsigned long long)cl->late, (unsigned long long)cl->corrupted, (unsigned long long)cl->send_full,
            hist_percentile_us(50), hist_percentile_us(99), (unsigned long long)cl->err.count);
    fflush(stderr);
    *last_t = t;
    *last_received = cl->received;
}

/* Keeps the windows full until the deadline. Sessions still connecting
 * when it passes fail the run (through their missing CONNECT). */
static void run(rclient *cl, uint64_t t0)
{
    uint64_t deadline = t0 + (uint64_t)(cl->opt->seconds * 1e9);
    uint64_t next_progress = t0 + 1000000000ull, next_sweep = t0 + SWEEP_NS;
    uint64_t last_t = t0, last_received = 0;
    cl->running = 1;
    for (;;) {
        uint64_t t = cli_now_ns();
        if (t >= next_progress) {
            print_progress(cl, t, t0, &last_t, &last_received);
            next_progress += 1000000000ull;
        }
        if (t >= deadline || cli_stop_requested() || cl->open + cl->connecting == 0)
            break;
        if (t >= next_sweep) {
            sweep_all(cl, t);
            next_sweep = t + SWEEP_NS;
        }
        uint64_t wake = next_sweep < deadline ? next_sweep : deadline;
        if (poll_once(cl, (int)((wake > t ? wake - t : 0) / 1000000) + 1) < 0)
            break;
    }
}

/* Nothing new; every message in flight comes back, or (unreliable) times
 * out; a session still in its handshake gets the same grace (through a
 * lossy path its HELLO and RESPONSE may each need several tries). */
static void drain(rclient *cl, uint64_t t_run_end)
{
    uint64_t until = t_run_end + cl->timeout_ns + DRAIN_EXTRA_NS;
    cl->running = 0;
    while ((cl->inflight > 0 || cl->connecting) && cli_now_ns() < until) {
        sweep_all(cl, cli_now_ns());
        if ((cl->inflight == 0 && !cl->connecting) || poll_once(cl, 10) < 0)
            break;
    }
    if (cl->inflight > 0) {
        dummy_error(&cl->err, "%llu reliable messages never echoed within %.1f s after the run",
                    (unsigned long long)cl->inflight, (double)(until - t_run_end) / 1e9);
        cl->lost += cl->inflight;
    }
    if (cl->connecting)
        dummy_error(&cl->err, "%u sessions never connected", cl->connecting);
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
 * The messages still counted in flight were counted lost by drain. */
static void close_all(rclient *cl)
{
    const dummy_closer closer = {count_closing, poll_once, cl};
    for (uint32_t k = 0; k < cl->opt->connections; k++) {
        rsess *s = &cl->sess[k];
        if (s->state == R_CONNECTING && net_close(s->h) == NET_OK) {
            s->state = R_CLOSING;
            cl->connecting--;
        }
        s->inflight = 0;
        close_sess(cl, s);
    }
    cl->inflight = 0;
    uint32_t waiting = dummy_await_closes(&closer, CLOSE_TIMEOUT_S);
    if (waiting)
        dummy_error(&cl->err, "%u sessions got no CLOSE event within %.0f s", waiting, CLOSE_TIMEOUT_S);
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

static void print_summary(const rclient *cl, double seconds, uint64_t errors)
{
    fprintf(stderr, "dummy_client: sent %llu, echoed %llu, lost %llu, late %llu, corrupted %llu, send full %llu\n",
            (unsigned long long)cl->sent, (unsigned long long)cl->received, (unsigned long long)cl->lost,
            (unsigned long long)cl->late, (unsigned long long)cl->corrupted, (unsigned long long)cl->send_full);
    printf("SUMMARY messages=%llu seconds=%.3f msgs_per_s=%.1f mb_per_s=%.3f p50_us=%.1f p99_us=%.1f errors=%llu "
           "sent=%llu received=%llu lost=%llu late=%llu corrupted=%llu send_full=%llu\n",
           (unsigned long long)cl->received, seconds, (double)cl->received / seconds, (double)cl->bytes / seconds / 1e6,
           hist_percentile_us(50), hist_percentile_us(99), (unsigned long long)errors, (unsigned long long)cl->sent,
           (unsigned long long)cl->received, (unsigned long long)cl->lost, (unsigned long long)cl->late,
           (unsigned long long)cl->corrupted, (unsigned long long)cl->send_full);
    fflush(stdout);
    if (cl->received == 0 && errors == 0)
        fprintf(stderr, "error: no message was echoed\n");
}

/* Longer than a screen: the run's phases in order (set up, connect, run,
 * drain, close, summary), each already a function of its own. */
int dummy_rudp_run(const options *opt)
{
    rclient cl;
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

    uint64_t t0 = cli_now_ns();
    connect_all(&cl);
    run(&cl, t0);
    uint64_t t_run_end = cli_now_ns();
    drain(&cl, t_run_end);
    uint64_t t_end = cl.last_echo_ns > t_run_end ? cl.last_echo_ns : t_run_end;
    close_all(&cl);
    int rc = net_engine_destroy(cl.engine);
    if (rc != NET_OK)
        dummy_error(&cl.err, "net_engine_destroy: %s (%d)", net_strerror(rc), rc);

    double seconds = (double)(t_end - t0) / 1e9;
    if (seconds <= 0)
        seconds = 1e-9;
    uint64_t errors = cl.err.count + cl.corrupted;
    print_protocol(&cl);
    print_summary(&cl, seconds, errors);
    for (uint32_t k = 0; k < opt->connections; k++) {
        free(cl.sess[k].sent_ns);
        free(cl.sess[k].st);
        free(cl.sess[k].expect);
    }
    free(cl.sess);
    free(cl.scratch);
    free(cl.body);
    return (errors > 0 || cl.received == 0) ? 1 : 0;
}
