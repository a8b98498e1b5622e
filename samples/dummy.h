/*
 * dummy.h - what the TCP mode (dummy_client.c) and the UDP mode
 * (dummy_udp.c) of the dummy client share: options, message content,
 * checksums and the latency histogram.
 */
#ifndef SAMPLES_DUMMY_H
#define SAMPLES_DUMMY_H

#include <stdint.h>

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

/* Round-trip latency histogram (microseconds), one per process. */
void hist_add(uint64_t us);
uint64_t hist_percentile(double p);

/* The UDP mode: runs the whole test and returns the exit code. */
int dummy_udp_run(const options *opt);

#endif
