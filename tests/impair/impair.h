/*
 * impair.h - a UDP impairment proxy that runs in its own thread inside a
 * test process (or behind the udp_impair command line).
 *
 * The proxy listens on listen_host:listen_port (127.0.0.1, port 0 = pick) and
 * forwards every datagram between its clients and one target address. Each
 * client (a source address seen on the listening socket) gets its own
 * upstream socket connected to the target, so the target sees one peer per
 * client and its replies go back to the client they answer.
 *
 * On the way, in both directions unless `directions` says otherwise, each
 * datagram meets, in this order:
 *   burst    while a burst is on (impair_burst), everything is dropped;
 *   drop     dropped with probability `drop`;
 *   corrupt  with probability `corrupt`, 1 to 3 of its bytes are flipped
 *            (XORed with a non-zero value; the length is kept);
 *   dup      with probability `dup`, a second copy follows it;
 *   reorder  with probability `reorder` a copy is held back and released
 *            right after the next `reorder_gap` datagrams of the same client
 *            and direction (or after reorder_max_hold_ms when none come);
 *   delay    each copy leaves delay_ms + a uniform draw in
 *            [-jitter_ms, +jitter_ms] (never below 0) after it arrived;
 *            jitter alone can reorder too (those are not counted as reordered).
 * Rates are probabilities in [0, 1]. Every draw comes from one generator
 * seeded with `seed`, so the same datagrams in the same order meet the same
 * fate in every run.
 *
 * Thread-safety: every function may be called from any thread while the
 * proxy runs; impair_stop must be the last call on a proxy.
 */
#ifndef IMPAIR_H
#define IMPAIR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    IMPAIR_TO_TARGET = 1u, /* client -> target datagrams are impaired */
    IMPAIR_TO_CLIENT = 2u, /* target -> client datagrams are impaired */
    IMPAIR_BOTH = 3u
};

typedef struct impair_config {
    const char *listen_host; /* default "127.0.0.1" */
    uint16_t listen_port;    /* default 0: pick a free port (impair_port tells) */
    uint32_t directions;     /* IMPAIR_TO_TARGET | IMPAIR_TO_CLIENT (default both) */
    double drop;             /* rates, each in [0, 1]; default 0 */
    double dup;
    double reorder;
    double corrupt;
    uint32_t reorder_gap;         /* k: a held datagram follows the next k (default 3, at least 1) */
    uint32_t reorder_max_hold_ms; /* released after this even if fewer came (default 100) */
    uint32_t delay_ms;            /* default 0 */
    uint32_t jitter_ms;           /* default 0 */
    uint64_t seed;                /* default 1 */
    uint32_t max_clients;         /* client addresses remembered; the least recent is replaced (default 256) */
    uint32_t max_queued_bytes;    /* delayed or held datagrams above this are dropped (default 64 MiB) */
    uint32_t timeline_ms;         /* > 0: bytes sent on are also counted per interval of this many ms since
                                     the start, per direction (impair_timeline); default 0 = off */
    uint32_t timeline_buckets;    /* intervals kept (default 60000); later traffic is not counted */
} impair_config;

/* Counters since the start. A datagram received is dropped, lost to
 * overflow, or sent on (once, or twice when duplicated: forwarded counts
 * copies); a send the OS refuses counts in send_failed instead of forwarded.
 * With nothing in flight: forwarded + send_failed = received - dropped -
 * overflow + duplicated. */
typedef struct impair_counters {
    uint64_t received;      /* datagrams read, both directions */
    uint64_t to_target;     /* of them from clients */
    uint64_t to_client;     /* of them from the target */
    uint64_t forwarded;     /* datagrams sent on (copies included) */
    uint64_t dropped;       /* by the drop rate or a burst */
    uint64_t burst_dropped; /* of dropped, during a burst */
    uint64_t duplicated;    /* datagrams sent twice */
    uint64_t reordered;     /* copies held back behind later ones */
    uint64_t corrupted;     /* datagrams with flipped bytes */
    uint64_t overflow;      /* dropped because max_queued_bytes was reached */
    uint64_t send_failed;   /* a send the OS refused (counted, not retried) */
    uint64_t clients;       /* distinct client addresses seen */
} impair_counters;

typedef struct impair_proxy impair_proxy;

void impair_config_init(impair_config *cfg);

/* Resolves the target, binds the listening socket and starts the thread.
 * 0 on success (*out set); -1 with *out NULL on a bad argument (a rate out of
 * [0, 1], a NULL pointer), an unresolvable target, or a failed socket, bind
 * or thread; impair_last_error() then says which. */
int impair_start(const impair_config *cfg, const char *target_host, uint16_t target_port, impair_proxy **out);
/* What the last failed impair_start of this process said (not thread-local). */
const char *impair_last_error(void);

uint16_t impair_port(const impair_proxy *p);
void impair_stats(impair_proxy *p, impair_counters *out);
/* Replaces the rates, reorder, delay, jitter and direction settings (the
 * addresses, seed and limits stay); -1 when a rate is out of range. */
int impair_set_rates(impair_proxy *p, const impair_config *cfg);
/* With timeline_ms set: the bytes sent on towards `direction`
 * (IMPAIR_TO_TARGET or IMPAIR_TO_CLIENT) in each interval since the start,
 * into out[0..max). Returns how many intervals it wrote: those begun so far
 * (the current one included, still counting), at most max and
 * timeline_buckets; 0 when the timeline is off. */
size_t impair_timeline(impair_proxy *p, uint32_t direction, uint64_t *out, size_t max);
/* Drops every datagram, both directions, for the next ms milliseconds. */
void impair_burst(impair_proxy *p, uint32_t ms);
/* Stops the thread (datagrams still delayed or held are discarded), closes
 * every socket and frees the proxy. NULL is allowed. */
void impair_stop(impair_proxy *p);

#ifdef __cplusplus
}
#endif

#endif /* IMPAIR_H */
