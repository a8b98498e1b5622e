/*
 * dummy.h - what the TCP mode (dummy_client.c) and the UDP mode
 * (dummy_udp.c) of the dummy client share: options, and from
 * dummy_common.c message content, checksums, the latency histogram, error
 * lines and waiting for CLOSE events.
 */
#ifndef SAMPLES_DUMMY_H
#define SAMPLES_DUMMY_H

#include <stdarg.h>
#include <stdint.h>

#include "net.h"

#define HEADER_SIZE 24 /* verification header at the front of every message or datagram */

typedef struct options {
    const char *host;
    int port;
    uint32_t connections; /* TCP connections, or UDP sockets (one simulated client each) */
    uint32_t depth;       /* messages in flight per connection / datagrams per socket (the window) */
    uint32_t size;        /* message size; with --vary-size (UDP) the largest */
    double seconds;
    uint32_t framing;
    int len_includes_header;
    uint32_t backend;
    uint32_t io_threads;
    uint32_t max_message;
    /* UDP mode */
    int udp;             /* --udp */
    int udp_connect;     /* --udp-connect: net_udp_connect + net_send instead of net_sendto */
    int vary_size;       /* --vary-size: datagram sizes HEADER_SIZE..size, a function of (client, seq) */
    double rate;         /* --rate: datagrams/s over all sockets, 0 = as fast as the window allows */
    uint32_t timeout_ms; /* --loss-timeout-ms: an echo not back after this is counted lost */
    /* reliable-UDP mode (--udp --reliable) */
    int reliable;      /* --reliable: sessions of net_rudp_connect instead of sockets */
    uint32_t channels; /* --channels: message seq goes on channel seq % channels (default 1) */
    uint32_t mode;     /* --mode: NET_RUDP_* or CLI_RUDP_MIXED (cli.h) */
    int rudp_given;    /* --channels or --mode was given */
} options;

void put_u32(uint8_t *p, uint32_t v);
void put_u64(uint8_t *p, uint64_t v);
uint32_t get_u32(const uint8_t *p);
uint64_t get_u64(const uint8_t *p);
uint64_t splitmix64(uint64_t *state);

/* The body of message (conn, seq): the same bytes on send and on verify. */
void fill_body(uint8_t *body, uint32_t len, uint32_t conn, uint64_t seq);
uint32_t fnv1a(const uint8_t *p, uint32_t len);
/* Continues an FNV-1a hash over more bytes. */
uint32_t fnv1a_more(uint32_t h, const uint8_t *p, uint32_t len);

/* Round-trip latency histogram, one per process: samples in nanoseconds
 * (resolution under 1.6 %), percentiles in microseconds (print them with
 * one decimal: p50_us=23.4). */
void hist_add_ns(uint64_t ns);
double hist_percentile_us(double p);

/* Error accounting, the same in both modes: the errors counted (local
 * failures: calls that should have worked, unexpected CLOSE events; in TCP
 * mode bad echoes too) and the error lines printed on stderr, at most
 * DUMMY_MAX_ERROR_LINES a run, then one "further errors not shown". */
#define DUMMY_MAX_ERROR_LINES 20
typedef struct dummy_errors {
    uint64_t count;
    uint32_t lines;
} dummy_errors;
/* Counts an error and prints "error: message". */
void dummy_error(dummy_errors *e, const char *fmt, ...);
/* Prints "WHAT: message" within the line limit, counting nothing (UDP
 * corruption has a count of its own). */
void dummy_vreport(dummy_errors *e, const char *what, const char *fmt, va_list ap);

/* Hands one event to a mode, with the time (cli_now_ns) its batch came. */
typedef void (*dummy_event_fn)(void *ctx, const net_event *ev, uint64_t now);
/* One net_poll of engine waiting up to timeout_ms, each event handed to
 * on_event. Returns the count, or -1 when net_poll failed (an error in e). */
int dummy_poll(net_engine engine, int timeout_ms, dummy_event_fn on_event, void *ctx, dummy_errors *e);

/* Waiting for the CLOSE event of every socket a mode closed. The modes keep
 * their sockets in structs of their own, so they say through these how many
 * still wait and how to poll (handling what comes). */
typedef struct dummy_closer {
    uint32_t (*closing)(void *ctx);
    int (*poll)(void *ctx, int timeout_ms); /* < 0: polling failed */
    void *ctx;
} dummy_closer;
/* Polls until no socket waits or timeout_s have passed (or polling fails);
 * returns how many still wait. */
uint32_t dummy_await_closes(const dummy_closer *c, double timeout_s);

/* The UDP mode: runs the whole test and returns the exit code. */
int dummy_udp_run(const options *opt);
/* The reliable-UDP mode (dummy_rudp.c): the same. */
int dummy_rudp_run(const options *opt);

#endif
