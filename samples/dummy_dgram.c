/*
 * dummy_dgram.c - what the UDP mode (dummy_udp.c) and the reliable-UDP mode
 * (dummy_rudp.c) of the dummy client share (see dummy.h): the message
 * layout, the ring of sequences sent, the tally of outcomes, and the run and
 * drain loops with the progress and SUMMARY lines.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dummy.h"
#include "net.h"

#define SWEEP_NS 10000000ull /* how often lost messages are looked for */
/* Sequences remembered per socket or session, for duplicate detection: when
 * the ring is full the sender waits instead of forgetting a pending one. */
#define MAX_TRACK (1u << 20)

/* ------------------------------------------------------ message content */

uint32_t dgram_size(const options *o, uint32_t id, uint64_t seq)
{
    uint64_t state;
    if (!o->vary_size || o->size == HEADER_SIZE)
        return o->size;
    state = ((uint64_t)id << 40) ^ seq ^ 0x51ce51ce51ceull;
    return HEADER_SIZE + (uint32_t)(splitmix64(&state) % (o->size - HEADER_SIZE + 1));
}

/* Over everything but the checksum field itself, so a damaged id, sequence
 * or send time shows as well as a damaged body. */
uint32_t dgram_checksum(const uint8_t *m, uint32_t len)
{
    return fnv1a_more(fnv1a(m, 4), m + 8, len - 8);
}

void dgram_build(uint8_t *m, uint32_t len, uint32_t id, uint64_t seq, uint64_t now)
{
    fill_body(m + HEADER_SIZE, len - HEADER_SIZE, id, seq);
    put_u32(m, id);
    put_u64(m + 8, seq);
    put_u64(m + 16, now);
    put_u32(m + 4, dgram_checksum(m, len));
}

/* ------------------------------------------------------ sequence tracking */

int seq_ring_init(seq_ring *r, uint32_t depth)
{
    uint32_t cap = 64;
    while (cap < 2 * depth && cap < MAX_TRACK)
        cap *= 2;
    r->sent_ns = (uint64_t *)calloc(cap, sizeof *r->sent_ns);
    r->st = (uint8_t *)calloc(cap, 1);
    r->mask = cap - 1;
    return r->sent_ns && r->st ? 0 : -1;
}

void seq_ring_free(seq_ring *r)
{
    free(r->sent_ns);
    free(r->st);
}

/* Doubles the ring. 0 when done, 1 when it is as large as allowed, -1 when
 * out of memory. */
static int seq_ring_grow(seq_ring *r)
{
    uint32_t ncap = (r->mask + 1) * 2, nmask = ncap - 1;
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
    for (uint64_t q = r->low; q < r->next_send; q++) {
        ns[q & nmask] = r->sent_ns[q & r->mask];
        nst[q & nmask] = r->st[q & r->mask];
    }
    free(r->sent_ns);
    free(r->st);
    r->sent_ns = ns;
    r->st = nst;
    r->mask = nmask;
    return 0;
}

int seq_ring_room(seq_ring *r)
{
    return r->next_send - r->low > r->mask ? seq_ring_grow(r) : 0;
}

/* --------------------------------------------------------------- outcomes */

void dgram_corrupt(dgram_tally *t, const char *fmt, ...)
{
    va_list ap;
    t->corrupted++;
    va_start(ap, fmt);
    dummy_vreport(&t->err, "error: corrupted", fmt, ap);
    va_end(ap);
}

void dgram_sent(dgram_tally *t, seq_ring *r, uint64_t now)
{
    uint32_t i = (uint32_t)(r->next_send & r->mask);
    r->st[i] = SEQ_PENDING;
    r->sent_ns[i] = now;
    r->next_send++;
    r->inflight++;
    t->inflight++;
    t->sent++;
}

static void resolve(dgram_tally *t, seq_ring *r, uint32_t i, int state)
{
    r->st[i] = (uint8_t)state;
    r->inflight--;
    t->inflight--;
}

int dgram_echoed(dgram_tally *t, seq_ring *r, const uint8_t *m, uint32_t len, uint64_t seq, uint64_t now,
                 const char *who, uint32_t id)
{
    uint32_t i;
    if (seq < r->low) {
        t->late++; /* forgotten already: cannot tell a duplicate from a late echo */
        return 0;
    }
    i = (uint32_t)(seq & r->mask);
    switch (r->st[i]) {
    case SEQ_PENDING: {
        uint64_t sent = get_u64(m + 16);
        resolve(t, r, i, SEQ_ECHOED);
        t->received++;
        t->bytes += len;
        t->last_echo_ns = now;
        hist_add_ns(now > sent ? now - sent : 0);
        return 1;
    }
    case SEQ_LOST:
        r->st[i] = SEQ_LATE;
        t->late++;
        return 0;
    default:
        dgram_corrupt(t, "%s %u: second echo of seq %llu", who, id, (unsigned long long)seq);
        return 0;
    }
}

void dgram_sweep(dgram_tally *t, seq_ring *r, uint64_t now, uint64_t timeout_ns, dgram_may_lose_fn may_lose,
                 const void *ctx)
{
    for (uint64_t q = r->pend; q < r->next_send; q++) {
        uint32_t i = (uint32_t)(q & r->mask);
        if (now - r->sent_ns[i] < timeout_ns)
            break; /* later sequences were sent later: none is overdue */
        if (r->st[i] == SEQ_PENDING && (!may_lose || may_lose(ctx, q))) {
            resolve(t, r, i, SEQ_LOST);
            t->lost++;
        }
    }
    while (r->pend < r->next_send && r->st[r->pend & r->mask] != SEQ_PENDING)
        r->pend++;
    while (r->low < r->pend && now - r->sent_ns[r->low & r->mask] >= 2 * timeout_ns) {
        r->st[r->low & r->mask] = SEQ_FREE;
        r->low++;
    }
}

uint32_t dgram_forfeit(dgram_tally *t, seq_ring *r)
{
    uint32_t n = r->inflight;
    t->lost += n;
    t->inflight -= n;
    r->inflight = 0;
    return n;
}

/* ------------------------------------------------------------ the run */

static void print_progress(const dgram_mode *m, uint64_t t, uint64_t t0, uint64_t *last_t, uint64_t *last_received)
{
    const dgram_tally *c = m->tally;
    double dt = (double)(t - *last_t) / 1e9;
    fprintf(stderr,
            "progress: t=%.1fs %s=%u sent=%llu received=%llu %s/s=%.0f lost=%llu late=%llu corrupted=%llu "
            "send_full=%llu p50_us=%.1f p99_us=%.1f errors=%llu\n",
            (double)(t - t0) / 1e9, m->units, c->open, (unsigned long long)c->sent, (unsigned long long)c->received,
            m->rate_units, dt > 0 ? (double)(c->received - *last_received) / dt : 0.0, (unsigned long long)c->lost,
            (unsigned long long)c->late, (unsigned long long)c->corrupted, (unsigned long long)c->send_full,
            hist_percentile_us(50), hist_percentile_us(99), (unsigned long long)c->err.count);
    fflush(stderr);
    *last_t = t;
    *last_received = c->received;
}

void dgram_run(const dgram_mode *m, double seconds, uint64_t t0)
{
    const dgram_tally *c = m->tally;
    uint64_t deadline = t0 + (uint64_t)(seconds * 1e9);
    uint64_t next_progress = t0 + 1000000000ull, next_sweep = t0 + SWEEP_NS;
    uint64_t last_t = t0, last_received = 0;
    for (;;) {
        uint64_t t = cli_now_ns(), wake;
        int wait_ms;
        if (t >= next_progress) {
            print_progress(m, t, t0, &last_t, &last_received);
            next_progress += 1000000000ull;
        }
        if (t >= deadline || cli_stop_requested() || c->open + c->connecting == 0)
            break;
        if (t >= next_sweep) {
            m->sweep(m->ctx, t);
            next_sweep = t + SWEEP_NS;
        }
        if (m->pace)
            m->pace(m->ctx, t);
        wake = next_sweep < deadline ? next_sweep : deadline;
        wait_ms = m->pace ? 1 : (int)((wake > t ? wake - t : 0) / 1000000) + 1;
        if (m->poll(m->ctx, wait_ms) < 0)
            break;
    }
}

void dgram_drain(const dgram_mode *m, uint64_t until)
{
    const dgram_tally *c = m->tally;
    while ((c->inflight > 0 || c->connecting) && cli_now_ns() < until) {
        m->sweep(m->ctx, cli_now_ns());
        if ((c->inflight == 0 && !c->connecting) || m->poll(m->ctx, 10) < 0)
            break;
    }
}

void dgram_summary(const dgram_tally *c, double seconds, uint64_t errors, const char *what)
{
    printf("SUMMARY messages=%llu seconds=%.3f msgs_per_s=%.1f mb_per_s=%.3f p50_us=%.1f p99_us=%.1f errors=%llu "
           "sent=%llu received=%llu lost=%llu late=%llu corrupted=%llu send_full=%llu\n",
           (unsigned long long)c->received, seconds, (double)c->received / seconds, (double)c->bytes / seconds / 1e6,
           hist_percentile_us(50), hist_percentile_us(99), (unsigned long long)errors, (unsigned long long)c->sent,
           (unsigned long long)c->received, (unsigned long long)c->lost, (unsigned long long)c->late,
           (unsigned long long)c->corrupted, (unsigned long long)c->send_full);
    fflush(stdout);
    if (c->received == 0 && errors == 0)
        fprintf(stderr, "error: no %s was echoed\n", what);
}
