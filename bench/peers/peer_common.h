/*
 * peer_common.h - what the benchmark peers (uv_echo, epoll_echo and their
 * UDP counterparts uv_udp_echo, epoll_udp_echo) share: the echo-server CLI
 * of docs/CONVENTIONS.md, its "listening on" line, the frame-header decoder,
 * and for the epoll peers the address, stop signals and clock (the libuv
 * peers take those from libuv: uv_peer.h). Deliberately independent of
 * net.h: a peer must not lean on the library it is compared against.
 * POSIX only, as the peers are (bench/ is not built on Windows).
 */
#ifndef PEER_COMMON_H
#define PEER_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

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

/* Prints, flushed, on stdout
 *   listening on HOST:PORT backend=BACKEND io_threads=0 framing=NAME<tail>
 * for the bound address (tail: "" or " transport=udp"). */
void peer_print_listening(const struct sockaddr_storage *bound, const char *backend, const peer_opts *o,
                          const char *tail);

/* opts' --host (numeric: IPv6 when it has a colon) and --port as a socket
 * address. -1 when the host is not a numeric address. */
int peer_sockaddr(const peer_opts *o, struct sockaddr_storage *ss, socklen_t *len);

/* epoll_wait, for the epoll peers' loops: the count, 0 when a signal
 * interrupted it (the loop then looks at peer_stop_signal), or -1 after
 * printing why it failed. */
struct epoll_event;
int peer_epoll_wait(int ep, struct epoll_event *evs, int max, int timeout_ms);

/* Watches fd (registered with data.ptr = ptr) for writability too, or no
 * longer, and remembers it in *want_out; no call when nothing changes.
 * epoll_ctl's result. */
int peer_epoll_want_out(int ep, int fd, void *ptr, int *want_out, int on);

/* SIGINT and SIGTERM set the stop signal, without SA_RESTART so a blocked
 * epoll_wait returns (EINTR); SIGPIPE is ignored, so a peer that vanishes
 * costs an error, not the process. */
void peer_catch_stop(void);
/* The signal that asked to stop, or 0. */
int peer_stop_signal(void);

/* A growable byte buffer: a partial message, or output not yet written. */
typedef struct peer_buf {
    uint8_t *p;
    size_t len, cap;
} peer_buf;
/* Appends n bytes at p (growing by doubling). 0, or -1 when out of memory. */
int peer_buf_append(peer_buf *b, const void *p, size_t n);
/* Drops the first n bytes. */
void peer_buf_consume(peer_buf *b, size_t n);

/* Monotonic clock, in seconds. */
double peer_now_sec(void);

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
