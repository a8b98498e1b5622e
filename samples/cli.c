/* cli.c - the common sample command line, engine, stop signals and clock (see cli.h). */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#    define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#endif

#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#    define WIN32_LEAN_AND_MEAN
#    include <windows.h>
#else
#    include <time.h>
#endif

#include "net.h"

static const char *const framing_names[] = {"raw", "u16le", "u16be", "u32le", "u32be"};
static const char *const backend_names[] = {"auto", "epoll", "io_uring", "iocp"};

const char *cli_framing_name(uint32_t framing)
{
    return framing < sizeof framing_names / sizeof framing_names[0] ? framing_names[framing] : "?";
}

static const char *const rudp_mode_names[] = {"reliable-ordered", "reliable-unordered", "unreliable-sequenced",
                                              "unreliable", "mixed"};

int cli_parse_rudp_mode(const char *s, uint32_t *mode)
{
    for (uint32_t i = 0; i <= CLI_RUDP_MIXED; i++)
        if (strcmp(s, rudp_mode_names[i]) == 0) {
            *mode = i;
            return 0;
        }
    return -1;
}

const char *cli_rudp_mode_name(uint32_t mode)
{
    return mode <= CLI_RUDP_MIXED ? rudp_mode_names[mode] : "?";
}

uint32_t cli_rudp_channel_mode(uint32_t mode, uint32_t channel)
{
    return mode == CLI_RUDP_MIXED ? channel % 4 : mode;
}

int cli_rudp_mode_reliable(uint32_t channel_mode)
{
    return channel_mode == NET_RUDP_RELIABLE_ORDERED || channel_mode == NET_RUDP_RELIABLE_UNORDERED;
}

static int engine_create(uint32_t backend, uint32_t io_threads, uint32_t max_message, uint32_t max_connections,
                         net_engine *engine)
{
    net_config cfg;
    int rc;
    net_config_init(&cfg);
    cfg.backend = backend;
    cfg.io_threads = io_threads;
    if (max_message)
        cfg.max_message = max_message;
    if (max_connections)
        cfg.max_connections = max_connections;
    rc = net_engine_create(&cfg, engine);
    if (rc != NET_OK)
        fprintf(stderr, "net_engine_create: %s (%d)\n", net_strerror(rc), rc);
    return rc;
}

int cli_engine_create(uint32_t backend, uint32_t io_threads, uint32_t max_message, net_engine *engine)
{
    return engine_create(backend, io_threads, max_message, 0, engine);
}

int cli_engine_create_opts(const cli_opts *o, uint32_t max_message, net_engine *engine)
{
    return engine_create(o->backend, o->io_threads, max_message, o->max_conns, engine);
}

int cli_engine_destroy(net_engine engine)
{
    int rc = net_engine_destroy(engine);
    if (rc == NET_OK)
        return 0;
    fprintf(stderr, "net_engine_destroy: %s (%d)\n", net_strerror(rc), rc);
    return 1;
}

static volatile sig_atomic_t g_stop = 0;
#ifdef _WIN32
static volatile net_engine g_stop_engine = 0;
#endif

static void on_stop_signal(int sig)
{
    (void)sig;
    g_stop = 1;
#ifdef _WIN32
    if (g_stop_engine)
        net_wakeup(g_stop_engine);
#endif
}

void cli_catch_stop(net_engine engine)
{
#ifdef _WIN32
    g_stop_engine = engine;
#else
    (void)engine;
#endif
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
#ifdef SIGBREAK
    signal(SIGBREAK, on_stop_signal); /* Ctrl+Break / CTRL_BREAK_EVENT on Windows */
#endif
}

int cli_stop_requested(void)
{
    return g_stop != 0;
}

void cli_request_stop(void)
{
    g_stop = 1;
}

int cli_period_due(double *next, double period, double now)
{
    if (now < *next)
        return 0;
    *next += period;
    if (*next < now)
        *next = now + period;
    return 1;
}

int cli_poll_wait_ms(double until, double now)
{
    int ms = (int)((until - now) * 1000.0) + 1;
    return ms > CLI_POLL_SLICE_MS ? CLI_POLL_SLICE_MS : ms;
}

uint64_t cli_now_ns(void)
{
#ifdef _WIN32
    static LARGE_INTEGER freq;
    LARGE_INTEGER t;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&t);
    /* Split to avoid overflowing 64 bits on long uptimes. */
    return (uint64_t)(t.QuadPart / freq.QuadPart) * 1000000000ull +
           (uint64_t)(t.QuadPart % freq.QuadPart) * 1000000000ull / (uint64_t)freq.QuadPart;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
#endif
}

double cli_now_sec(void)
{
    return (double)cli_now_ns() * 1e-9;
}

void cli_usage(const char *prog, const cli_spec *spec)
{
    fprintf(stderr, "usage: %s %s", prog, spec->usage);
    exit(2);
}

int cli_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;
    if (!s || !*s || *s == '-')
        return -1;
    v = strtoul(s, &end, 10);
    if (*end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int lookup(const char *s, const char *const *names, int count)
{
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static int is_flag(const cli_spec *spec, const char *name)
{
    if (strcmp(name, "--length-includes-header") == 0)
        return 1;
    for (const char *const *f = spec->flags; f && *f; f++)
        if (strcmp(name, *f) == 0)
            return 1;
    return 0;
}

void cli_defaults(cli_opts *o)
{
    o->host = "127.0.0.1";
    o->port = 7000;
    o->framing = NET_FRAMING_RAW;
    o->len_includes_header = 0;
    o->backend = NET_BACKEND_AUTO;
    o->io_threads = 0;
    o->max_message = 1048576;
    o->seconds = 0;
    o->max_conns = 0;
}

/* Longer than a screen: one branch per option of the shared CLI
 * (docs/CONVENTIONS.md), which reads best as one list. */
void cli_parse(int argc, char **argv, const cli_spec *spec, cli_opts *o)
{
    for (int i = 1; i < argc; i++) {
        /* "--name value" and "--name=value" both work. */
        char name[64];
        const char *arg = argv[i];
        const char *val = NULL;
        const char *eq = strchr(arg, '=');
        unsigned long u;
        int k;
        if (eq && (size_t)(eq - arg) < sizeof name) {
            memcpy(name, arg, (size_t)(eq - arg));
            name[eq - arg] = '\0';
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", arg);
        }
        if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
            cli_usage(argv[0], spec);
        if (is_flag(spec, name)) {
            if (strcmp(name, "--length-includes-header") == 0)
                o->len_includes_header = 1;
            else if (spec->option(spec->ctx, name, NULL) != CLI_OK)
                cli_usage(argv[0], spec);
            continue;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s needs a value\n", name);
                cli_usage(argv[0], spec);
            }
            val = argv[++i];
        }
        if (strcmp(name, "--port") == 0) {
            if (cli_parse_uint(val, 65535, &u) || (u == 0 && !spec->port_may_be_zero))
                cli_usage(argv[0], spec);
            o->port = (int)u;
        } else if (strcmp(name, "--host") == 0) {
            o->host = val;
        } else if (strcmp(name, "--framing") == 0) {
            if ((k = lookup(val, framing_names, 5)) < 0)
                cli_usage(argv[0], spec);
            o->framing = (uint32_t)k;
        } else if (strcmp(name, "--backend") == 0) {
            if ((k = lookup(val, backend_names, 4)) < 0)
                cli_usage(argv[0], spec);
            o->backend = (uint32_t)k;
        } else if (strcmp(name, "--io-threads") == 0) {
            if (cli_parse_uint(val, 1024, &u))
                cli_usage(argv[0], spec);
            o->io_threads = (uint32_t)u;
        } else if (strcmp(name, "--max-message") == 0) {
            if (cli_parse_uint(val, 0xffffffffUL, &u) || u == 0)
                cli_usage(argv[0], spec);
            o->max_message = (uint32_t)u;
        } else if (strcmp(name, "--max-connections") == 0) {
            if (cli_parse_uint(val, 0xffffffffUL, &u) || u == 0)
                cli_usage(argv[0], spec);
            o->max_conns = (uint32_t)u;
        } else if (strcmp(name, "--seconds") == 0) {
            char *end;
            o->seconds = strtod(val, &end);
            if (*end || (spec->seconds_must_be_positive ? !(o->seconds > 0) : o->seconds < 0))
                cli_usage(argv[0], spec);
        } else {
            int r = spec->option ? spec->option(spec->ctx, name, val) : CLI_UNKNOWN;
            if (r == CLI_UNKNOWN)
                fprintf(stderr, "unknown option: %s\n", arg);
            if (r != CLI_OK)
                cli_usage(argv[0], spec);
        }
    }
}
