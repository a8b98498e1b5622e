/*
 * bcast_peer.h - what the broadcast peers without net (uv_broadcast,
 * epoll_broadcast) share on top of peer_common.h: their two options beyond
 * the echo-server CLI, and the tick frame they send.
 *
 * The tick message is the one net_broadcast.c documents and
 * bench/bcast_client checks: a payload of --size bytes, the tick number as
 * u64 little-endian in bytes 0..7 (1 for the first tick), then byte i =
 * (uint8_t)(tick + i), behind the header of --framing (raw is refused:
 * a client could not tell the ticks apart).
 */
#ifndef BCAST_PEER_H
#define BCAST_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "peer_common.h"

typedef struct bcast_opts {
    peer_opts peer;   /* the echo-server CLI of docs/CONVENTIONS.md */
    uint32_t tick_ms; /* --tick-ms: time between ticks (default 10) */
    uint32_t size;    /* --size: payload bytes, 8..65000 (default 64) */
} bcast_opts;

/* Takes --tick-ms and --size out of argv, hands the rest to
 * peer_parse_args. Default framing u16le. Prints usage and exits 2 on a bad
 * option. */
void bcast_parse_args(int argc, char **argv, bcast_opts *o);

/* Header size + size: the bytes one tick takes on the wire. */
size_t bcast_frame_len(const bcast_opts *o);

/* Writes tick's whole frame (header and payload) to out[0..bcast_frame_len). */
void bcast_frame(const bcast_opts *o, uint64_t tick, uint8_t *out);

#endif
