/*
 * dummy_common.c - what all modes of the dummy client share (see dummy.h):
 * message content, the latency histogram, error lines, waiting for CLOSE
 * events and the end of a run.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dummy.h"
#include "net.h"

/* ------------------------------------------------------ message content */

void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void fill_body(uint8_t *body, uint32_t len, uint32_t conn, uint64_t seq)
{
    uint64_t state = ((uint64_t)conn << 40) ^ seq ^ 0x5eed5eed5eedull;
    uint32_t i = 0;
    while (i + 8 <= len) {
        put_u64(body + i, splitmix64(&state));
        i += 8;
    }
    if (i < len) {
        uint8_t tail[8];
        put_u64(tail, splitmix64(&state));
        memcpy(body + i, tail, len - i);
    }
}

uint32_t fnv1a_more(uint32_t h, const uint8_t *p, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

uint32_t fnv1a(const uint8_t *p, uint32_t len)
{
    return fnv1a_more(2166136261u, p, len);
}

/* ------------------------------------------- latency histogram (in ns) */

/*
 * Log-linear over nanoseconds: exact below 128 ns, then 64 buckets per power
 * of two, so a bucket is under 1.6 % of its value wide (0.4 us at a 25 us
 * loopback round trip; whole microseconds were 4 % there, truncated).
 */
#define HIST_SUB_BITS 6
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_BUCKETS (2 * HIST_SUB + (64 - HIST_SUB_BITS - 1) * HIST_SUB)
static uint64_t g_hist[HIST_BUCKETS];
static uint64_t g_hist_count;

static int hist_index(uint64_t v)
{
    int msb = 0, e;
    if (v < 2 * HIST_SUB)
        return (int)v;
    for (uint64_t x = v; x > 1; x >>= 1)
        msb++;
    e = msb - HIST_SUB_BITS;
    return 2 * HIST_SUB + (e - 1) * HIST_SUB + (int)((v >> e) - HIST_SUB);
}

/* The middle of bucket idx, in ns. */
static double hist_value(int idx)
{
    int e;
    uint64_t m;
    if (idx < 2 * HIST_SUB)
        return (double)idx;
    e = (idx - 2 * HIST_SUB) / HIST_SUB + 1;
    m = (uint64_t)((idx - 2 * HIST_SUB) % HIST_SUB + HIST_SUB);
    return (double)(m << e) + (double)(1ull << e) / 2.0;
}

void hist_add_ns(uint64_t ns)
{
    g_hist[hist_index(ns)]++;
    g_hist_count++;
}

double hist_percentile_us(double p)
{
    uint64_t rank, seen = 0;
    if (!g_hist_count)
        return 0;
    rank = (uint64_t)(p / 100.0 * (double)g_hist_count);
    if (rank >= g_hist_count)
        rank = g_hist_count - 1;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += g_hist[i];
        if (seen > rank)
            return hist_value(i) / 1000.0;
    }
    return hist_value(HIST_BUCKETS - 1) / 1000.0;
}

/* ---------------------------------------------------------- reporting */

void dummy_vreport(dummy_errors *e, const char *what, const char *fmt, va_list ap)
{
    if (e->lines >= DUMMY_MAX_ERROR_LINES) {
        if (e->lines == DUMMY_MAX_ERROR_LINES) {
            fprintf(stderr, "error: (further errors not shown)\n");
            e->lines++;
        }
        return;
    }
    e->lines++;
    fprintf(stderr, "%s: ", what);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void dummy_error(dummy_errors *e, const char *fmt, ...)
{
    va_list ap;
    e->count++;
    va_start(ap, fmt);
    dummy_vreport(e, "error", fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------- polling */

#define EVENT_BATCH 512

int dummy_poll(net_engine engine, int timeout_ms, dummy_event_fn on_event, void *ctx, dummy_errors *e)
{
    /* One array for the process: a run is either TCP or UDP, one thread. */
    static net_event events[EVENT_BATCH];
    int n = net_poll(engine, events, EVENT_BATCH, timeout_ms);
    uint64_t now;
    if (n < 0) {
        dummy_error(e, "net_poll: %s (%d)", net_strerror(n), n);
        return -1;
    }
    now = cli_now_ns();
    for (int i = 0; i < n; i++)
        on_event(ctx, &events[i], now);
    return n;
}

/* ------------------------------------------------------------- closing */

void dummy_await_closes(const dummy_closer *c, double timeout_s, dummy_errors *e, const char *units)
{
    uint64_t until = cli_now_ns() + (uint64_t)(timeout_s * 1e9);
    uint32_t waiting;
    for (;;) {
        waiting = c->closing(c->ctx);
        if (waiting == 0 || cli_now_ns() >= until || c->poll(c->ctx, 50) < 0)
            break;
    }
    if (waiting)
        dummy_error(e, "%u %s got no CLOSE event within %.0f s", waiting, units, timeout_s);
}

/* ---------------------------------------------------------- the end */

double dummy_finish(net_engine engine, uint64_t t0, uint64_t t_end, dummy_errors *e)
{
    double seconds;
    int rc = net_engine_destroy(engine);
    if (rc != NET_OK)
        dummy_error(e, "net_engine_destroy: %s (%d)", net_strerror(rc), rc);
    seconds = (double)(t_end - t0) / 1e9;
    return seconds > 0 ? seconds : 1e-9;
}
