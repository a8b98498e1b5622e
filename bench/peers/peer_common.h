/*
 * peer_common.h - what the benchmark peers (uv_echo, epoll_echo and their
 * UDP counterparts uv_udp_echo, epoll_udp_echo) share:
 * the echo-server CLI of docs/CONVENTIONS.md and the frame-header decoder.
 * Deliberately independent of net.h: a peer must not lean on the library it
 * is compared against.
 */
#ifndef PEER_COMMON_H
#define PEER_COMMON_H

#include <stddef.h>
#include <stdint.h>

enum { PEER_RAW = 0, PEER_U16LE, PEER_U16BE, PEER_U32LE, PEER_U32BE };

typedef struct peer_opts {
    const char *host;     /* --host, default 127.0.0.1 */
    int port;             /* --port, default 7000, 0 = any free port */
    int framing;          /* PEER_* */
    int len_includes_hdr; /* --length-includes-header */
    const char *backend;  /* --backend: accepted, ignored */
    int io_threads;       /* --io-threads: accepted, ignored */
    uint32_t max_message; /* --max-message, default 1 MiB (payload bytes) */
    double seconds;       /* --seconds, 0 = until SIGINT/SIGTERM */
    int coalesce;         /* --coalesce (bench extension, not in CONVENTIONS): one write
                             per read for all the whole messages it brought */
    int mmsg;             /* --mmsg (bench extension, uv_udp_echo): libuv's recvmmsg receive path */
} peer_opts;

/* Parses argv into opts (defaults first). Prints usage and exits 2 on error. */
void peer_parse_args(int argc, char **argv, peer_opts *opts);

const char *peer_framing_name(int framing);

/* Header size of a framing: 0 for raw, else 2 or 4. */
size_t peer_header_size(int framing);

/*
 * Looks at the front of buf[0..len). Returns:
 *   0  not enough bytes yet for a whole message,
 *  >0  the whole message's size on the wire (header + payload),
 *  -1  malformed (length smaller than the header) or payload > max_message.
 */
long peer_frame_size(const peer_opts *opts, const uint8_t *buf, size_t len);

#endif
