/*
 * cli.h - what the C samples share: the command line of docs/CONVENTIONS.md
 * (the options every echo server and load generator understands, parsed the
 * same way everywhere), the engine those options ask for, stopping on a
 * signal, and a monotonic clock.
 *
 * Each program names its own extra options through cli_spec; the common
 * ones are parsed here, so "--name value" and "--name=value", the error
 * messages and the exit code 2 on bad usage are the same in every sample.
 */
#ifndef SAMPLES_CLI_H
#define SAMPLES_CLI_H

#include <stdint.h>

#include "net.h"

typedef struct cli_opts {
    const char *host;        /* --host (default 127.0.0.1) */
    int port;                /* --port (default 7000) */
    uint32_t framing;        /* --framing: NET_FRAMING_* (default raw) */
    int len_includes_header; /* --length-includes-header */
    uint32_t backend;        /* --backend: NET_BACKEND_* (default auto) */
    uint32_t io_threads;     /* --io-threads (default 0) */
    uint32_t max_message;    /* --max-message (default 1048576) */
    double seconds;          /* --seconds (default 0; the program may change it before parsing) */
    uint32_t max_conns;      /* --max-connections (default 0: the engine's, 100000) */
} cli_opts;

/* What a program's own option handler returns. */
enum { CLI_OK = 0, CLI_BAD = -1, CLI_UNKNOWN = 1 };

typedef struct cli_spec {
    /* Printed after "usage: PROG ", newline-terminated; exit status 2 follows. */
    const char *usage;
    int port_may_be_zero;         /* servers: --port 0 picks a free port */
    int seconds_must_be_positive; /* clients run for a time; servers take 0 as "until signalled" */
    /* NULL-terminated names of the program's options that take no value
     * (like --length-includes-header); NULL for none. */
    const char *const *flags;
    /* The program's other options: val is NULL for a flag. Returns CLI_OK,
     * CLI_BAD (prints usage) or CLI_UNKNOWN. May be NULL. */
    int (*option)(void *ctx, const char *name, const char *val);
    void *ctx;
} cli_spec;

/* Sets the common defaults. */
void cli_defaults(cli_opts *o);

/* Parses argv over the values already in o (call cli_defaults first). Prints
 * the usage and exits 2 on a bad or unknown option, or on --help. */
void cli_parse(int argc, char **argv, const cli_spec *spec, cli_opts *o);

/* Prints "usage: PROG ..." to stderr and exits 2. */
void cli_usage(const char *prog, const cli_spec *spec);

/* Decimal, no sign, at most max. 0 on success, -1 otherwise. */
int cli_parse_uint(const char *s, unsigned long max, unsigned long *out);

/* "raw", "u16le", ...; "?" for an unknown value. */
const char *cli_framing_name(uint32_t framing);

/* net_engine_create with the command line's backend and io_threads, and
 * max_message unless it is 0, which keeps the engine's default: the UDP
 * programs pass 0, since the engine's max_message is about framed TCP
 * messages (and one past the send cap would make net_engine_create refuse).
 * Prints "net_engine_create: ..." to stderr on failure; returns the code. */
int cli_engine_create(uint32_t backend, uint32_t io_threads, uint32_t max_message, net_engine *engine);
/* The same with the command line's --max-connections too (0: the engine's default). */
int cli_engine_create_opts(const cli_opts *o, uint32_t max_message, net_engine *engine);
/* net_engine_destroy, printing "net_engine_destroy: ..." on failure: 0, or
 * 1 (an exit code) when it failed. */
int cli_engine_destroy(net_engine engine);

/* SIGINT and SIGTERM (SIGBREAK on Windows) ask the program to stop:
 * cli_stop_requested() turns true. The handler only sets a flag, without
 * calling into the library (net_wakeup is not documented as
 * async-signal-safe), so a poll loop waits at most CLI_POLL_SLICE_MS at a
 * time to see it promptly. On Windows, where the handler runs on a thread of
 * its own, it also wakes engine's net_poll (engine 0: none). */
#define CLI_POLL_SLICE_MS 100
void cli_catch_stop(net_engine engine);
int cli_stop_requested(void);
/* What the handler does: the program's own reasons to stop end the loop the same way. */
void cli_request_stop(void);

/* A periodic deadline (stats lines): 1 when now has reached *next, which
 * then moves on by period (past now, if the loop fell behind). */
int cli_period_due(double *next, double period, double now);
/* How long a poll may wait for until (seconds, cli_now_sec), in ms: at least
 * 1 and at most CLI_POLL_SLICE_MS, so a stop request is seen. */
int cli_poll_wait_ms(double until, double now);

/* Reliable UDP (--reliable): which delivery mode each channel uses, one
 * rule on both ends, since a message carries its channel but not its mode:
 * --mode names one NET_RUDP_* mode for every channel, or "mixed", where
 * channel c uses mode c % 4. The echo server answers each message on its
 * channel in that channel's mode, so client and server must get the same
 * --mode. */
#define CLI_RUDP_MIXED 4u
/* "reliable-ordered", "reliable-unordered", "unreliable-sequenced",
 * "unreliable" or "mixed" into *mode; 0, or -1 for anything else. */
int cli_parse_rudp_mode(const char *s, uint32_t *mode);
const char *cli_rudp_mode_name(uint32_t mode);
uint32_t cli_rudp_channel_mode(uint32_t mode, uint32_t channel);
/* NET_RUDP_RELIABLE_ORDERED and NET_RUDP_RELIABLE_UNORDERED. */
int cli_rudp_mode_reliable(uint32_t channel_mode);

/* Monotonic clock. */
uint64_t cli_now_ns(void);
double cli_now_sec(void);

#endif
