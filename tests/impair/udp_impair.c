/*
 * udp_impair - the impairment proxy of impair.h as a program, to put between
 * two processes (e.g. samples/udp_echo and samples/dummy_client):
 *
 *   udp_impair --target HOST:PORT [--listen-port P] [--listen-host H]
 *              [--drop R] [--dup R] [--reorder R] [--reorder-gap K]
 *              [--corrupt R] [--delay-ms MS] [--jitter-ms MS]
 *              [--direction both|to-target|to-client] [--seed N]
 *              [--burst-after-ms MS --burst-ms MS] [--timeline-ms MS] [--seconds S]
 *
 * A rate R is a fraction in [0, 1] ("0.1") or a percentage ("10%").
 * On start it prints exactly one line to stdout, flushed at once:
 *     listening on HOST:PORT target=HOST:PORT
 * (--listen-port 0, the default, picks the port). It runs until --seconds
 * pass or SIGINT/SIGTERM (SIGBREAK on Windows), then prints its counters on
 * one line to stdout and exits 0:
 *     IMPAIR received=N to_target=N to_client=N forwarded=N dropped=N burst_dropped=N
 *            duplicated=N reordered=N corrupted=N overflow=N send_failed=N clients=N
 * With --timeline-ms, one more line follows: the bytes sent on in each
 * interval of MS ms since the start, per direction, and when the burst began:
 *     TIMELINE bucket_ms=MS burst_at_ms=A burst_ms=B to_client=N,N,... to_target=N,N,...
 * (burst_at_ms is -1 without a burst).
 * Bad usage exits 2 with a message naming the bad argument; a proxy that
 * cannot start exits 1.
 */
#if defined(__MINGW32__) && !defined(__USE_MINGW_ANSI_STDIO)
#    define __USE_MINGW_ANSI_STDIO 1 /* %llu */
#endif

#include "impair.h"
#include "impair_os.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(const char *fmt, const char *arg)
{
    if (fmt) {
        fprintf(stderr, "udp_impair: ");
        fprintf(stderr, fmt, arg);
        fprintf(stderr, "\n");
    }
    fprintf(stderr, "usage: udp_impair --target HOST:PORT [--listen-port P] [--listen-host H]\n"
                    "       [--drop R] [--dup R] [--reorder R] [--reorder-gap K] [--corrupt R]\n"
                    "       [--delay-ms MS] [--jitter-ms MS] [--direction both|to-target|to-client]\n"
                    "       [--seed N] [--burst-after-ms MS --burst-ms MS] [--timeline-ms MS] [--seconds S]\n"
                    "  R: a fraction in [0, 1] or a percentage (10%%)\n");
    exit(2);
}

static double parse_rate(const char *name, const char *s)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (end != s && *end == '%' && end[1] == '\0')
        v /= 100.0;
    else if (end == s || *end != '\0')
        v = -1.0;
    if (!(v >= 0.0 && v <= 1.0))
        usage("%s: a rate is a fraction in [0, 1] or a percentage up to 100%%", name);
    return v;
}

static unsigned long long parse_uint(const char *name, const char *s, unsigned long long max)
{
    char *end = NULL;
    if (*s < '0' || *s > '9')
        usage("%s: not a non-negative integer", name);
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v > max)
        usage("%s: not a non-negative integer in range", name);
    return v;
}

/* "host:port" or "[v6]:port" into host (a static copy) and port. */
static void parse_target(const char *s, const char **host, uint16_t *port)
{
    static char buf[256];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || strlen(s) >= sizeof buf)
        usage("--target %s: expected HOST:PORT", s);
    size_t hlen = (size_t)(colon - s);
    memcpy(buf, s, hlen);
    buf[hlen] = '\0';
    if (buf[0] == '[' && hlen >= 2 && buf[hlen - 1] == ']') {
        buf[hlen - 1] = '\0';
        memmove(buf, buf + 1, hlen - 1);
    }
    *host = buf;
    *port = (uint16_t)parse_uint("--target port", colon + 1, 65535);
    if (*port == 0)
        usage("--target %s: the port must not be 0", s);
}

typedef struct cli {
    impair_config cfg;
    const char *target_host;
    uint16_t target_port;
    double seconds;
    long long burst_after_ms; /* -1: no burst */
    uint32_t burst_ms;
} cli;

static void parse_option(cli *c, const char *name, const char *val)
{
    impair_config *cfg = &c->cfg;
    if (strcmp(name, "--target") == 0)
        parse_target(val, &c->target_host, &c->target_port);
    else if (strcmp(name, "--listen-port") == 0)
        cfg->listen_port = (uint16_t)parse_uint(name, val, 65535);
    else if (strcmp(name, "--listen-host") == 0)
        cfg->listen_host = val;
    else if (strcmp(name, "--drop") == 0)
        cfg->drop = parse_rate(name, val);
    else if (strcmp(name, "--dup") == 0)
        cfg->dup = parse_rate(name, val);
    else if (strcmp(name, "--reorder") == 0)
        cfg->reorder = parse_rate(name, val);
    else if (strcmp(name, "--corrupt") == 0)
        cfg->corrupt = parse_rate(name, val);
    else if (strcmp(name, "--reorder-gap") == 0)
        cfg->reorder_gap = (uint32_t)parse_uint(name, val, 1000000);
    else if (strcmp(name, "--delay-ms") == 0)
        cfg->delay_ms = (uint32_t)parse_uint(name, val, 600000);
    else if (strcmp(name, "--jitter-ms") == 0)
        cfg->jitter_ms = (uint32_t)parse_uint(name, val, 600000);
    else if (strcmp(name, "--seed") == 0)
        cfg->seed = parse_uint(name, val, ~0ull);
    else if (strcmp(name, "--burst-after-ms") == 0)
        c->burst_after_ms = (long long)parse_uint(name, val, 86400000ull);
    else if (strcmp(name, "--timeline-ms") == 0)
        cfg->timeline_ms = (uint32_t)parse_uint(name, val, 60000);
    else if (strcmp(name, "--burst-ms") == 0)
        c->burst_ms = (uint32_t)parse_uint(name, val, 86400000ull);
    else if (strcmp(name, "--direction") == 0) {
        if (strcmp(val, "both") == 0)
            cfg->directions = IMPAIR_BOTH;
        else if (strcmp(val, "to-target") == 0)
            cfg->directions = IMPAIR_TO_TARGET;
        else if (strcmp(val, "to-client") == 0)
            cfg->directions = IMPAIR_TO_CLIENT;
        else
            usage("--direction %s: expected both, to-target or to-client", val);
    } else if (strcmp(name, "--seconds") == 0) {
        char *end = NULL;
        c->seconds = strtod(val, &end);
        if (end == val || *end != '\0' || !(c->seconds >= 0.0))
            usage("--seconds %s: expected a non-negative number", val);
    } else
        usage("unknown option %s", name);
}

static void parse_args(int argc, char **argv, cli *c)
{
    for (int i = 1; i < argc; i++) {
        char name[64];
        const char *arg = argv[i], *val;
        const char *eq = strchr(arg, '=');
        if (strncmp(arg, "--", 2) != 0)
            usage("unexpected argument %s", arg);
        if (strcmp(arg, "--help") == 0)
            usage(NULL, NULL);
        if (eq) {
            size_t n = (size_t)(eq - arg) < sizeof name - 1 ? (size_t)(eq - arg) : sizeof name - 1;
            memcpy(name, arg, n);
            name[n] = '\0';
            val = eq + 1;
        } else {
            if (i + 1 >= argc)
                usage("%s needs a value", arg);
            snprintf(name, sizeof name, "%s", arg);
            val = argv[++i];
        }
        parse_option(c, name, val);
    }
    if (!c->target_host)
        usage("--target HOST:PORT is required%s", "");
    if ((c->burst_after_ms >= 0) != (c->burst_ms > 0))
        usage("--burst-after-ms and --burst-ms (> 0) go together%s", "");
}

static void print_counters(const impair_counters *s)
{
    printf("IMPAIR received=%llu to_target=%llu to_client=%llu forwarded=%llu dropped=%llu burst_dropped=%llu "
           "duplicated=%llu reordered=%llu corrupted=%llu overflow=%llu send_failed=%llu clients=%llu\n",
           (unsigned long long)s->received, (unsigned long long)s->to_target, (unsigned long long)s->to_client,
           (unsigned long long)s->forwarded, (unsigned long long)s->dropped, (unsigned long long)s->burst_dropped,
           (unsigned long long)s->duplicated, (unsigned long long)s->reordered, (unsigned long long)s->corrupted,
           (unsigned long long)s->overflow, (unsigned long long)s->send_failed, (unsigned long long)s->clients);
    fflush(stdout);
}

static void print_timeline_dir(impair_proxy *p, uint32_t dir, const char *name)
{
    size_t max = 60000;
    uint64_t *t = (uint64_t *)malloc(max * sizeof *t);
    size_t n = t ? impair_timeline(p, dir, t, max) : 0;
    printf(" %s=", name);
    for (size_t i = 0; i < n; i++)
        printf(i ? ",%llu" : "%llu", (unsigned long long)t[i]);
    free(t);
}

static void print_timeline(impair_proxy *p, const cli *c, long long burst_at_ms)
{
    printf("TIMELINE bucket_ms=%u burst_at_ms=%lld burst_ms=%u", (unsigned)c->cfg.timeline_ms, burst_at_ms,
           (unsigned)c->burst_ms);
    print_timeline_dir(p, IMPAIR_TO_CLIENT, "to_client");
    print_timeline_dir(p, IMPAIR_TO_TARGET, "to_target");
    printf("\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    cli c;
    memset(&c, 0, sizeof c);
    impair_config_init(&c.cfg);
    c.burst_after_ms = -1;
    parse_args(argc, argv, &c);

    impair_proxy *p = NULL;
    if (impair_start(&c.cfg, c.target_host, c.target_port, &p) != 0) {
        fprintf(stderr, "udp_impair: %s\n", impair_last_error());
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
#ifdef SIGBREAK
    signal(SIGBREAK, on_signal);
#endif
    printf("listening on %s:%u target=%s:%u\n", c.cfg.listen_host, (unsigned)impair_port(p), c.target_host,
           (unsigned)c.target_port);
    fflush(stdout);

    uint64_t start = ios_now_ms();
    uint64_t end = c.seconds > 0 ? start + (uint64_t)(c.seconds * 1000.0) : 0;
    int burst_done = c.burst_after_ms < 0;
    long long burst_at_ms = -1;
    while (!g_stop) {
        uint64_t now = ios_now_ms();
        if (end && now >= end)
            break;
        if (!burst_done && now >= start + (uint64_t)c.burst_after_ms) {
            impair_burst(p, c.burst_ms);
            burst_done = 1;
            burst_at_ms = (long long)(now - start);
        }
        ios_sleep_ms(10);
    }
    impair_counters s;
    impair_stats(p, &s);
    print_counters(&s);
    if (c.cfg.timeline_ms)
        print_timeline(p, &c, burst_at_ms);
    impair_stop(p);
    return 0;
}
