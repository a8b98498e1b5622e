/*
 * dummy.h - what the TCP mode (dummy_client.c), the UDP mode (dummy_udp.c)
 * and the reliable-UDP mode (dummy_rudp.c) of the dummy client share:
 * options, and from dummy_common.c message content, checksums, the latency
 * histogram, error lines, waiting for CLOSE events and the end of a run;
 * from dummy_dgram.c what the two UDP modes share.
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
 * those still waiting then are an error in e ("N units got no CLOSE event"). */
void dummy_await_closes(const dummy_closer *c, double timeout_s, dummy_errors *e, const char *units);

/* The end of every mode's run: destroys engine (a failure is an error in e)
 * and returns the seconds from t0 to t_end (never 0, a divisor). */
double dummy_finish(net_engine engine, uint64_t t0, uint64_t t_end, dummy_errors *e);

/* ---------------- what the UDP and reliable-UDP modes share (dummy_dgram.c)
 *
 * A message (a datagram, or a reliable-UDP message):
 *   offset 0  u32 client id     offset 8   u64 sequence number
 *   offset 4  u32 checksum      offset 16  u64 send time (ns)
 *   offset 24 body: fill_body of (client id, sequence)
 */

/* The size of message seq of client id: o->size, or with --vary-size a
 * function of (id, seq) from HEADER_SIZE to o->size. */
uint32_t dgram_size(const options *o, uint32_t id, uint64_t seq);
/* FNV-1a over the whole message but its own 4 bytes. */
uint32_t dgram_checksum(const uint8_t *m, uint32_t len);
/* Writes message seq of client id, len bytes, sent at now, into m. */
void dgram_build(uint8_t *m, uint32_t len, uint32_t id, uint64_t seq, uint64_t now);

/* The state of a sequence sent. */
enum { SEQ_FREE = 0, SEQ_PENDING, SEQ_ECHOED, SEQ_LOST, SEQ_LATE };

/* The sequences one socket or session has sent: a ring indexed by
 * seq & mask, from low (what is older is forgotten) to next_send. */
typedef struct seq_ring {
    uint64_t next_send; /* sequence of the next message */
    uint64_t pend;      /* every sequence before this one is echoed or lost */
    uint64_t low;       /* sequences before this one are forgotten */
    uint32_t inflight;  /* sent, neither echoed nor declared lost */
    uint32_t mask;      /* ring size - 1 */
    uint64_t *sent_ns;
    uint8_t *st; /* SEQ_* */
} seq_ring;
/* A ring for a window of depth: 0, or -1 when out of memory. */
int seq_ring_init(seq_ring *r, uint32_t depth);
void seq_ring_free(seq_ring *r);
/* Makes room for next_send, growing the ring when it is full: 0 done, 1 when
 * it is as large as allowed (the sender waits), -1 out of memory. */
int seq_ring_room(seq_ring *r);

/* The outcome of a run, over all sockets or sessions. */
typedef struct dgram_tally {
    uint32_t open, connecting; /* sockets or sessions */
    uint64_t inflight;
    uint64_t sent, received, bytes, lost, late, corrupted, send_full, error_events;
    uint64_t last_echo_ns;
    /* Corrupted echoes are counted apart, but share its line limit. */
    dummy_errors err;
} dgram_tally;

/* An echo that cannot be what was sent: counted, and "error: corrupted: ...". */
void dgram_corrupt(dgram_tally *t, const char *fmt, ...);
/* Records r's next_send as sent at now. */
void dgram_sent(dgram_tally *t, seq_ring *r, uint64_t now);
/* An intact echo m (len bytes) of seq: 1 when it is the first, counted
 * received with its round trip; 0 when it is late or (corrupted) a second
 * echo, "WHO ID: second echo". */
int dgram_echoed(dgram_tally *t, seq_ring *r, const uint8_t *m, uint32_t len, uint64_t seq, uint64_t now,
                 const char *who, uint32_t id);
/* Whether sequence seq may be declared lost when overdue (NULL: all may). */
typedef int (*dgram_may_lose_fn)(const void *ctx, uint64_t seq);
/* Declares lost the pending sequences sent timeout_ns or more before now
 * that may be, and forgets those resolved more than 2 timeout_ns ago. */
void dgram_sweep(dgram_tally *t, seq_ring *r, uint64_t now, uint64_t timeout_ns, dgram_may_lose_fn may_lose,
                 const void *ctx);
/* The socket or session closed: what it had in flight is lost. Returns how many. */
uint32_t dgram_forfeit(dgram_tally *t, seq_ring *r);

/* A mode's side of the run and drain loops; ctx is its client. */
typedef struct dgram_mode {
    void *ctx;
    const dgram_tally *tally;
    const char *units;                      /* the progress line's "sockets=" or "sessions=" */
    const char *rate_units;                 /* its "dgrams/s=" or "msgs/s=" */
    void (*sweep)(void *ctx, uint64_t now); /* looks for lost messages, every 10 ms */
    void (*pace)(void *ctx, uint64_t now);  /* paced sending (--rate), each turn; NULL: none */
    int (*poll)(void *ctx, int timeout_ms); /* < 0: polling failed */
} dgram_mode;
/* Polls for seconds from t0 (a progress line a second) or until no socket or
 * session is open or connecting, or a stop is asked for. */
void dgram_run(const dgram_mode *m, double seconds, uint64_t t0);
/* Sweeps and polls until nothing is in flight or connecting, or until. */
void dgram_drain(const dgram_mode *m, uint64_t until);
/* The SUMMARY line with the UDP fields, and "error: no WHAT was echoed"
 * when nothing came back without an error to say why. */
void dgram_summary(const dgram_tally *t, double seconds, uint64_t errors, const char *what);

/* The UDP mode: runs the whole test and returns the exit code. */
int dummy_udp_run(const options *opt);
/* The reliable-UDP mode (dummy_rudp.c): the same. */
int dummy_rudp_run(const options *opt);

#endif
