/*
 * net.h - the whole public ABI of the net networking engine.
 *
 * One engine owns a backend (IOCP, io_uring or epoll), its I/O threads, a
 * handle table and an event queue. Everything the user holds is a 64-bit
 * handle: a stale, closed, zero or made-up handle is never dereferenced and
 * every call given one returns NET_E_BADHANDLE.
 *
 * Threads: one thread drains events with net_poll(). net_send*, net_close,
 * net_abort, net_shutdown, option calls, net_post and net_wakeup are safe
 * from any thread. Payload pointers in events stay valid until the next
 * net_poll() on the same engine.
 *
 * Config structs carry their own size (set by the *_init functions) so the
 * ABI can grow: a newer library reads only what an older caller filled in.
 *
 * Rules every call keeps:
 * - Handles: a handle stays stale once its object is gone. Freed slots are
 *   reused oldest first and only behind 65536 other free ones, and a slot's
 *   26-bit generation must go all the way round before an old handle could
 *   match again: that takes over 4e12 handles made in one engine (more than
 *   a century at 1000 new connections or timers a second). A handle of a
 *   destroyed engine is refused too (engine tag, and per-engine generations).
 * - Closing: once net_close or net_abort was called on a connection, UDP
 *   socket or listener, every call that would reach its socket (options,
 *   net_local_addr, net_peer_addr, sends, net_shutdown) returns
 *   NET_E_CLOSED; net_close/net_abort again return 0; user data stays
 *   readable. After its CLOSE event the handle is stale (NET_E_BADHANDLE).
 * - Sizes: NET_E_MSGSIZE for a message or datagram that can never be
 *   queued (over max_message / max_datagram, or over the send cap even on
 *   an empty queue); NET_E_WOULDBLOCK only when waiting for the queue to
 *   drain would help.
 * - Events: ACCEPT, CONNECT, CLOSE, a connection's SEND_HIGHWATER/DRAINED,
 *   a UDP socket's ERROR and a TIMER have their room in the event queue
 *   reserved with their object, so running out of memory never loses them
 *   (the object's creation fails instead). At most one water-mark event per
 *   connection, one ERROR per UDP socket and one TIMER per timer wait to be
 *   polled at a time: a crossing meanwhile is reported after that one is
 *   polled, further UDP errors are counted (NET_OPT_ERRORS_DROPPED), and a
 *   repeating timer does not pile up ticks. DATA and DATAGRAM are bounded by
 *   recv_limit per socket.
 */
#ifndef NET_H
#define NET_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) || defined(__CYGWIN__)
#    if defined(NET_BUILDING_DLL)
#        define NET_API __declspec(dllexport)
#    elif defined(NET_STATIC)
#        define NET_API
#    else
#        define NET_API __declspec(dllimport)
#    endif
#elif defined(__GNUC__)
#    define NET_API __attribute__((visibility("default")))
#else
#    define NET_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define NET_VERSION_MAJOR 0
#define NET_VERSION_MINOR 6
#define NET_VERSION_PATCH 0
/* (major << 16) | (minor << 8) | patch, as net_version() returns it. */
#define NET_VERSION ((NET_VERSION_MAJOR << 16) | (NET_VERSION_MINOR << 8) | NET_VERSION_PATCH)

typedef uint64_t net_handle; /* listener, connection, UDP socket, timer, rudp listener or session; 0 is never valid */
typedef uint64_t net_engine; /* an engine; 0 is never valid */

/* ---- errors: every call returns 0 (or a count) on success, else one of these ---- */
enum {
    NET_OK = 0,
    NET_E_BADHANDLE = -1,    /* zero, closed, stale, forged or wrong-type handle */
    NET_E_INVAL = -2,        /* bad argument */
    NET_E_NOMEM = -3,        /* allocation failed or a configured memory limit was hit */
    NET_E_WOULDBLOCK = -4,   /* send cap reached: nothing was queued */
    NET_E_CLOSED = -5,       /* the connection is closing or closed */
    NET_E_MSGSIZE = -6,      /* message larger than max_message */
    NET_E_BUSY = -7,         /* net_poll already running on another thread */
    NET_E_UNSUPPORTED = -8,  /* backend or feature not available here */
    NET_E_OS = -9,           /* operating-system failure; see os_error */
    NET_E_ADDR = -10,        /* address could not be parsed or resolved */
    NET_E_TIMEDOUT = -11,    /* idle timeout or graceful-close timeout */
    NET_E_RESET = -12,       /* connection reset by peer */
    NET_E_REFUSED = -13,     /* connection refused */
    NET_E_LIMIT = -14,       /* max_connections (or another count limit) reached */
    NET_E_PROTO = -15,       /* malformed frame header from the peer */
    NET_E_ABORTED = -16,     /* aborted locally (net_abort or engine destroyed) */
    NET_E_ADDRINUSE = -17,   /* address already in use */
    NET_E_UNREACHABLE = -18, /* network or host unreachable */
    NET_E_NOTCONN = -19      /* UDP socket has no fixed peer: use net_sendto */
};

/* ---- event record: fixed layout, 72 bytes on every platform, blittable ---- */
enum {
    NET_EV_NONE = 0,
    NET_EV_ACCEPT = 1,         /* handle = new connection, parent = listener, addr = peer */
    NET_EV_CONNECT = 2,        /* status 0 = connected (addr = peer), else failed; a CLOSE follows a failure */
    NET_EV_DATA = 3,           /* data/len = one whole message (framed) or a chunk (raw) */
    NET_EV_CLOSE = 4,          /* exactly one per connection, listener and UDP socket; status = reason; handle
                                  stale after */
    NET_EV_SEND_HIGHWATER = 5, /* send queue passed the high-water mark; len = bytes queued */
    NET_EV_SEND_DRAINED = 6,   /* send queue fell back under the low-water mark; len = bytes queued */
    NET_EV_TIMER = 7,          /* handle = timer, user = its user data */
    NET_EV_USER = 8,           /* from net_post: user = the posted value */
    NET_EV_DATAGRAM = 9,       /* UDP: data/len = one whole datagram, addr = its sender */
    NET_EV_ERROR = 10,         /* UDP: a non-fatal error (status, os_error; addr = the peer it concerns
                                  where known), e.g. NET_E_REFUSED from an ICMP port unreachable on a
                                  connected socket. The handle stays open. */
    NET_EV_EOF = 11            /* TCP with NET_TCP_HALF_OPEN: the peer finished sending (its FIN), after its
                                  last DATA; the connection stays open for sending until net_close or
                                  net_shutdown */
};

enum { NET_AF_UNSPEC = 0, NET_AF_INET = 4, NET_AF_INET6 = 6 };

typedef struct net_addr {
    uint16_t family;   /* NET_AF_INET, NET_AF_INET6 or NET_AF_UNSPEC */
    uint16_t port;     /* host byte order */
    uint32_t scope_id; /* IPv6 scope, else 0 */
    uint8_t ip[16];    /* IPv4 in the first 4 bytes, network byte order */
} net_addr;

typedef struct net_event {
    uint32_t type;     /* NET_EV_* */
    int32_t status;    /* 0 or NET_E_* */
    net_handle handle; /* connection, listener, UDP socket or timer; 0 for USER */
    net_handle parent; /* listener for ACCEPT, else 0 */
    uint64_t user;     /* user data of handle, or the posted value */
    union {
        const void *data; /* payload of DATA, valid until the next net_poll */
        uint64_t data_bits_;
    };
    uint32_t len;
    int32_t os_error; /* errno / WSA error behind status, else 0 */
    net_addr addr;    /* the peer for ACCEPT and CONNECT (on failure the one tried), the sender for DATAGRAM,
                         the peer an ERROR concerns where known; else zeroed */
} net_event;

/* ---- engine ---- */
enum { NET_BACKEND_AUTO = 0, NET_BACKEND_EPOLL = 1, NET_BACKEND_IO_URING = 2, NET_BACKEND_IOCP = 3 };

typedef struct net_config {
    uint32_t size;             /* sizeof(net_config): set by net_config_init */
    uint32_t backend;          /* NET_BACKEND_*; AUTO honours NET_BACKEND=epoll|io_uring|iocp */
    uint32_t io_threads;       /* 0: I/O runs inside net_poll; N: N engine I/O threads */
    uint32_t max_connections;  /* open connections; extra accepts are closed (default 100000) */
    uint32_t max_message;      /* largest framed message in either direction (default 1 MiB, at most 2^31-1) */
    uint32_t send_cap;         /* per connection queued bytes; past it net_send fails (default 16 MiB); must hold
                                  max_message + 4 (a header): net_engine_create refuses less with NET_E_INVAL */
    uint32_t send_highwater;   /* SEND_HIGHWATER when queued bytes pass this (default 1 MiB) */
    uint32_t send_lowwater;    /* SEND_DRAINED when queued bytes fall under this (default 64 KiB; not above
                                  send_highwater, here or through NET_OPT_LOWWATER/HIGHWATER) */
    uint32_t recv_limit;       /* per connection unpolled bytes before reading pauses (default 4 MiB) */
    uint32_t idle_timeout_ms;  /* close connections silent this long; 0 = never (default 0) */
    uint32_t close_timeout_ms; /* bound on a graceful close waiting for the peer (default 5000) */
    uint32_t event_batch;      /* completions handled per backend wait (default 256) */
} net_config;

typedef struct net_stats {
    uint32_t size; /* caller sets sizeof(net_stats) */
    uint32_t reserved_;
    uint64_t connections;       /* open now */
    uint64_t connections_total; /* accepted + connected since start */
    uint64_t accepts_rejected;  /* closed at once because of max_connections */
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t messages_in;  /* DATA events produced (reliable-UDP sessions' included) */
    uint64_t messages_out; /* messages accepted by net_send* and net_rudp_send, per receiver; counted (like
                              send_queued) when the I/O loop takes them from the queue, a loop turn after the
                              call (net_send_queued is exact at once) */
    uint64_t queue_depth;  /* events waiting for net_poll */
    uint64_t send_queued;  /* bytes waiting in send queues, all connections */
    uint64_t recv_paused;  /* connections whose reading is paused by backpressure */
    /* UDP (since 0.2) */
    uint64_t udp_sockets;          /* open now */
    uint64_t datagrams_in;         /* DATAGRAM events produced, and every datagram a reliable-UDP socket
                                      received (handshakes, acks and bad ones included; bytes_in counts them) */
    uint64_t datagrams_out;        /* datagrams the OS accepted, reliable-UDP sockets' included (bytes_out too) */
    uint64_t datagrams_dropped;    /* arrived larger than the socket's max_datagram: dropped, never truncated */
    uint64_t datagram_send_errors; /* datagrams the OS refused (unreachable, refused, too big) */
    /* since 0.5 */
    uint64_t accepts_failed; /* accepts the OS failed (out of descriptors, refused by a firewall...); a
                                connection reset before it was accepted is not counted */
    /* since 0.6 */
    uint64_t caller_writes; /* io_threads >= 1: socket writes net_forward_data and net_send_batch made on
                               the calling thread instead of waking an I/O thread (see net_forward_data) */
} net_stats;

NET_API uint32_t net_version(void);
NET_API const char *net_version_string(void);
NET_API const char *net_strerror(int code);
/* The OS error (errno / WSA error) behind the failure of the last
 * net_listen, net_connect, net_udp_open or net_udp_connect this thread made,
 * e.g. EADDRINUSE beside NET_E_ADDRINUSE; 0 when that call succeeded or
 * failed for a reason of the library's own (NET_E_INVAL, NET_E_BADHANDLE, a
 * name that does not resolve...).
 * Thread-local: each thread sees its own calls. Failures that happen later,
 * on an I/O thread, carry their OS error in the event (os_error). */
NET_API int net_last_os_error(void);

NET_API void net_config_init(net_config *cfg);
NET_API int net_engine_create(const net_config *cfg, net_engine *out);
/* Closes every socket at once (no graceful flush), stops the I/O threads and
 * frees everything. Not to be called while another thread is inside net_poll. */
NET_API int net_engine_destroy(net_engine engine);
/* "epoll", "io_uring" or "iocp"; "" for a bad engine. */
NET_API const char *net_backend_name(net_engine engine);
NET_API int net_engine_stats(net_engine engine, net_stats *stats);

/* Fills events[0..max) and returns how many; waits up to timeout_ms
 * (-1 = forever, 0 = not at all) when nothing is ready. NET_E_BUSY when
 * another thread is polling this engine. Any max >= 1 is fine: the engine
 * needs no memory of its own in proportion to it. NET_E_NOMEM when memory
 * to keep the payloads readable runs out: the events stay queued. */
NET_API int net_poll(net_engine engine, net_event *events, int max, int timeout_ms);
/* Makes a blocking net_poll return (possibly with 0 events). Any thread. */
NET_API int net_wakeup(net_engine engine);
/* Queues a NET_EV_USER event carrying value. Any thread. */
NET_API int net_post(net_engine engine, uint64_t value);

/* ---- waiting on an engine from another event loop ---- */
/* A descriptor another loop (asyncio, luv, epoll, select, a .NET wait)
 * watches in place of a blocking net_poll. Linux: *out = a file descriptor
 * to poll for readability only (an epoll set; never read, write or close
 * it). Windows: *out = a HANDLE of a manual-reset event to wait on
 * (WaitForSingleObject, RegisterWaitForSingleObject); never set, reset or
 * close it. The engine owns it: net_engine_destroy closes it, so take it out
 * of your loop before destroying the engine (the number may then name
 * something else).
 *
 * Level-style, with no lost wake-up: it is ready whenever net_poll(engine,
 * ev, max, 0) would return an event or has work due, io_threads = 0
 * included (then it also covers the backend's completions and the engine's
 * next timer or housekeeping tick: every 100 ms while sockets are open).
 * The rule is: when it is ready, call net_poll(engine, ev, max, 0) until it
 * returns fewer than max (0 is fine), then wait again. Whatever arrives
 * after that makes it ready again; it stays ready while events are left.
 * A spurious readiness may happen (net_poll then returns 0), a missed one
 * never. net_wakeup makes it ready too. It is ready when first handed out.
 *
 * The first call makes it; later calls return the same one. Only the
 * polling thread's net_poll clears it, so one thread waits and polls.
 * Cost: nothing until asked for; then one eventfd write per burst of
 * events, a timerfd and, with io_threads = 0, one epoll set more (Linux).
 * Windows with io_threads = 0: a completion port cannot be waited on, so a
 * thread of the engine's becomes the port's only reader and hands each
 * batch of completions to net_poll (one thread switch per batch); with
 * io_threads >= 1 no thread is added. Errors: NET_E_BADHANDLE, NET_E_INVAL
 * (NULL out), NET_E_OS, NET_E_NOMEM. */
NET_API int net_engine_waitable(net_engine engine, intptr_t *out);

/* ---- TCP ---- */
enum {
    NET_FRAMING_RAW = 0,   /* DATA carries stream chunks as they arrive */
    NET_FRAMING_U16LE = 1, /* 2-byte little-endian length header */
    NET_FRAMING_U16BE = 2,
    NET_FRAMING_U32LE = 3,
    NET_FRAMING_U32BE = 4
};

enum {
    NET_TCP_NODELAY = 1u << 0,             /* TCP_NODELAY (default on) */
    NET_TCP_REUSEADDR = 1u << 1,           /* SO_REUSEADDR on listeners (default on) */
    NET_TCP_KEEPALIVE = 1u << 2,           /* SO_KEEPALIVE */
    NET_TCP_IPV6ONLY = 1u << 3,            /* listeners on "::" take IPv6 only */
    NET_TCP_LEN_INCLUDES_HEADER = 1u << 4, /* framed lengths count the header (the seeds' u16) */
    NET_TCP_HALF_OPEN = 1u << 5 /* the peer's FIN comes as NET_EV_EOF and the connection stays open for sending
                                   until the script closes or shuts it down (default: it closes by itself once
                                   the script had its turn; see net_shutdown) */
};

typedef struct net_tcp_config {
    uint32_t size;        /* sizeof(net_tcp_config): set by net_tcp_config_init */
    uint32_t framing;     /* NET_FRAMING_*; accepted connections inherit the listener's */
    uint32_t flags;       /* NET_TCP_* */
    uint32_t max_message; /* 0 = the engine's; else at most 2^31-1 and what the engine's send_cap holds with a
                             4-byte header (NET_E_INVAL otherwise) */
    int32_t backlog;      /* listen backlog; 0 = default (511) */
    uint32_t reserved_;
    uint64_t user; /* user data of the new handle */
} net_tcp_config;

NET_API void net_tcp_config_init(net_tcp_config *cfg);

/* host: numeric IPv4/IPv6 or a name (resolved synchronously), NULL or "" for
 * any IPv4 address. port 0 picks a free port: ask it with net_local_addr. */
NET_API int net_listen(net_engine engine, const char *host, uint16_t port, const net_tcp_config *cfg, net_handle *out);
/* Starts connecting; a NET_EV_CONNECT event reports the outcome. Sends,
 * net_shutdown and net_close may follow at once: what is queued goes out
 * once connected, and a close or shutdown asked for meanwhile happens after
 * it (CONNECT, then CLOSE). net_peer_addr is NET_E_NOTCONN until CONNECT. */
NET_API int net_connect(net_engine engine, const char *host, uint16_t port, const net_tcp_config *cfg, net_handle *out);

typedef struct net_buf {
    const void *data;
    size_t len;
} net_buf;

/* Copies len bytes into the send queue as one message (the framing header
 * is added) and returns at once. NET_E_WOULDBLOCK past the send cap;
 * NET_E_MSGSIZE when it could never fit (see "Sizes" above).
 * Echoes and forwards cost no copy: sent by the polling thread before its
 * next net_poll, a payload (256 bytes or more) of the last poll's events is
 * referenced where the engine holds it, never to change, and goes out from
 * there; an echo with the peer's own framing goes out as received. The
 * caller sees no difference: the bytes at data when net_send was called
 * are the bytes sent. */
NET_API int net_send(net_handle conn, const void *data, uint32_t len);
/* Gathers count buffers into one message. */
NET_API int net_sendv(net_handle conn, const net_buf *bufs, uint32_t count);
/* Queues one shared, ref-counted copy of data to every connection in conns.
 * results (optional) receives each connection's outcome. Returns how many
 * connections it was queued to. */
NET_API int net_broadcast(const net_handle *conns, uint32_t count, const void *data, uint32_t len, int *results);

/* Graceful: everything queued is delivered, then FIN; a CLOSE event follows.
 * Also closes listeners (CLOSE event) and timers (no event). */
NET_API int net_close(net_handle h);
/* Abortive: queued data is dropped and the peer gets RST. */
NET_API int net_abort(net_handle conn);
/* Half-close: FIN after what is queued; receiving goes on.
 * When the peer half-closes (its FIN), the script gets the DATA before it;
 * a reply queued before the next net_poll still goes out, then the
 * connection closes gracefully (CLOSE status 0): reply in the same turn.
 * With NET_TCP_HALF_OPEN the script gets NET_EV_EOF instead and the
 * connection waits for its net_close or net_shutdown, however long. */
NET_API int net_shutdown(net_handle conn);

NET_API int net_set_user(net_handle h, uint64_t user);
NET_API int net_get_user(net_handle h, uint64_t *user);

enum {
    NET_OPT_NODELAY = 1,         /* 0/1 */
    NET_OPT_KEEPALIVE = 2,       /* 0/1 */
    NET_OPT_SNDBUF = 3,          /* bytes */
    NET_OPT_RCVBUF = 4,          /* bytes */
    NET_OPT_LINGER = 5,          /* seconds, -1 = off */
    NET_OPT_REUSEADDR = 6,       /* 0/1 */
    NET_OPT_SEND_CAP = 7,        /* bytes: this connection's send cap */
    NET_OPT_HIGHWATER = 8,       /* bytes */
    NET_OPT_LOWWATER = 9,        /* bytes */
    NET_OPT_IDLE_TIMEOUT = 10,   /* ms, 0 = never */
    NET_OPT_BROADCAST = 11,      /* UDP: 0/1, SO_BROADCAST */
    NET_OPT_MAX_DATAGRAM = 12,   /* UDP: bytes; set: 1 up to the value the socket was opened with */
    NET_OPT_DROPPED = 13,        /* UDP, read only: datagrams dropped for exceeding max_datagram */
    NET_OPT_ERRORS_DROPPED = 14, /* UDP, read only: errors not reported because an ERROR
                                    event of the socket was still waiting to be polled */
    NET_OPT_SEND_HELD = 15       /* connection, read only (since 0.5): bytes of received blocks its send queue
                                    keeps alive by referencing echoed payloads instead of copying them; kept
                                    within its send cap (past it payloads are copied) */
};
NET_API int net_set_option(net_handle h, int option, int64_t value);
NET_API int net_get_option(net_handle h, int option, int64_t *value);

NET_API int net_local_addr(net_handle h, net_addr *addr);
/* A connection's peer, or a connected UDP socket's (NET_E_NOTCONN if none). */
NET_API int net_peer_addr(net_handle conn, net_addr *addr);
/* "1.2.3.4:80" or "[::1]:80"; an IPv6 address with a scope (scope_id != 0)
 * carries it as a number, "[fe80::1%2]:80", which net_addr_parse reads back
 * ("fe80::1%2"). Returns the length written (without the NUL), or
 * NET_E_INVAL for an unknown family or a buffer too small. */
NET_API int net_addr_format(const net_addr *addr, char *buf, size_t size);
/* Bytes accepted by net_send* and not yet written to the socket. */
NET_API int net_send_queued(net_handle conn, uint64_t *bytes);

/* ---- UDP ----
 * A UDP socket is a handle like a connection: net_close (queued datagrams
 * still go out, then exactly one CLOSE), net_abort (dropped at once),
 * user data, options, net_local_addr. Each arriving datagram is one
 * NET_EV_DATAGRAM event with the sender in addr. Sends are queued and go out
 * in batches from the I/O loop. */
enum {
    NET_UDP_REUSEADDR = 1u << 0, /* SO_REUSEADDR before bind */
    NET_UDP_IPV6ONLY = 1u << 1,  /* a socket bound to "::" takes IPv6 only */
    NET_UDP_BROADCAST = 1u << 2  /* SO_BROADCAST: may send to broadcast addresses */
};

#define NET_UDP_MAX_PAYLOAD 65507u /* the largest IPv4 UDP payload */

typedef struct net_udp_config {
    uint32_t size;         /* sizeof(net_udp_config): set by net_udp_config_init */
    uint32_t flags;        /* NET_UDP_* */
    uint32_t max_datagram; /* largest datagram either way (default and maximum 65507): bigger arrivals are
                              counted and dropped, bigger sends fail with NET_E_MSGSIZE */
    uint32_t send_cap;     /* bytes queued (plus 64 per datagram) before net_sendto fails (default 1 MiB) */
    int32_t rcvbuf;        /* SO_RCVBUF in bytes; 0 = the OS default */
    int32_t sndbuf;        /* SO_SNDBUF in bytes; 0 = the OS default */
    uint64_t user;         /* user data of the new handle */
} net_udp_config;

NET_API void net_udp_config_init(net_udp_config *cfg);
/* Opens a UDP socket bound to host:port (NULL or "" = any IPv4 address,
 * "::" = any IPv6; port 0 picks a free port: ask it with net_local_addr).
 * Datagrams are reported from then on. */
NET_API int net_udp_open(net_engine engine, const char *host, uint16_t port, const net_udp_config *cfg,
                         net_handle *out);
/* Fixes the peer: net_send/net_sendv then send to it, only its datagrams
 * arrive, and ICMP errors about it come as NET_EV_ERROR. Takes effect at
 * once (no event). */
NET_API int net_udp_connect(net_handle udp, const char *host, uint16_t port);
/* Queues one datagram for `to` (on a connected socket `to` must be its peer
 * or NULL). NET_E_MSGSIZE past max_datagram or past what send_cap can ever
 * hold, NET_E_WOULDBLOCK when the send queue is full: nothing is queued
 * then. net_send/net_sendv on a connected UDP socket send one datagram
 * each; on an unconnected one, like net_sendto with to = NULL,
 * NET_E_NOTCONN. */
NET_API int net_sendto(net_handle udp, const net_addr *to, const void *data, uint32_t len);
/* Resolves host (numeric or a name) and port into an address for net_sendto. */
NET_API int net_addr_parse(const char *host, uint16_t port, net_addr *out);

/* ---- timers ---- */
/* Fires after delay_ms, then every repeat_ms (0 = once). Stop with net_close.
 * A one-shot timer's handle ends with its TIMER event (stale once polled);
 * a repeating one keeps its handle until net_close. */
NET_API int net_timer_start(net_engine engine, uint32_t delay_ms, uint32_t repeat_ms, uint64_t user, net_handle *out);

/* ---- packed events: a polled batch as plain records and one payload buffer ----
 * For bindings that pay for every field and pointer they read through an FFI
 * (Python's cffi): net_events_pack turns what net_poll returned into records
 * without pointers and copies the payloads into a buffer the caller owns, so
 * the binding decodes one record array and slices one buffer of its own,
 * with a single call per batch.
 *
 * records[i] is events[i] with the payload pointer replaced by an offset:
 * the payload of a DATA or DATAGRAM event is bytes [offset, offset + len) of
 * the payload buffer. Payloads are copied one after another in event order,
 * without gaps or alignment, the first at offset 0; an empty one takes no
 * room (its offset is where the next one starts). Other events copy nothing
 * and have offset 0; their len keeps its meaning (the queued bytes of
 * SEND_HIGHWATER / SEND_DRAINED). Every other field is the event's, addr as
 * the packed net_addr (net_addr_host gives its host as text).
 *
 * The records are an array of their own, not a header of the payload
 * buffer, so that payloads can be copied straight into memory a binding
 * hands out as it is (Python's payload views) with no record taking room
 * there. */
typedef struct net_packed_event {
    uint32_t type;      /* NET_EV_* */
    int32_t status;     /* 0 or NET_E_* */
    net_handle handle;  /* as in net_event */
    net_handle parent;  /* listener for ACCEPT, else 0 */
    uint64_t user;      /* user data of handle, or the posted value */
    uint32_t offset;    /* DATA, DATAGRAM: where the payload starts in the payload buffer; else 0 */
    uint32_t len;       /* as in net_event: the payload's length for DATA and DATAGRAM */
    int32_t os_error;   /* errno / WSA error behind status, else 0 */
    uint32_t reserved_; /* 0 */
    net_addr addr;      /* as in net_event */
} net_packed_event;     /* 72 bytes on every platform */

/* Packs events[0..count) - as net_poll returned them, before the next
 * net_poll on their engine, while their payloads are valid - into
 * records[0..count) and payload[0..size). Returns how many it packed, k:
 * records[0..k) are written and the payloads of events[0..k) fill
 * payload[0..*used). It stops before the first event it cannot pack, the
 * first whose payload does not fit in what is left of the buffer (or, from a
 * caller that made it up, a DATA/DATAGRAM with len > 0 and no data). Then
 * k < count and events[k..count) are untouched: pack them with another call,
 * into another buffer or into this one once it was read; nothing is lost.
 * When that is events[0], the result says why: NET_E_MSGSIZE with *used set
 * to the room its payload needs, or NET_E_INVAL. NET_E_INVAL also for NULL
 * events, records or used, count < 0, and a NULL payload with size > 0.
 * Touches nothing but its arguments: any thread. */
NET_API int net_events_pack(const net_event *events, int count, net_packed_event *records, void *payload, uint32_t size,
                            uint32_t *used);

/* The host part of an address as text: "1.2.3.4", "2001:db8::1" (what
 * net_addr_format writes without brackets, port or scope), except that an
 * IPv6 address carrying an IPv4 one ends in it dotted, as inet_ntop writes
 * it: IPv4-mapped "::ffff:1.2.3.4", IPv4-compatible "::1.2.3.4". Returns the
 * length written (a NUL follows) or NET_E_INVAL (NULL addr or buf, a family
 * other than NET_AF_INET/INET6, size too small for the text and its NUL). */
NET_API int net_addr_host(const net_addr *addr, char *buf, size_t size);

/* ---- batched sends: many net_send calls in one ----
 * For bindings that pay for every call through an FFI (Python's cffi):
 * net_send_batch queues count messages with one call, from flat arrays and
 * one payload buffer a binding builds cheaply (Python: array('Q') of
 * handles, array('I') of lengths, one bytes object).
 *
 * Item i is bytes [offsets[i], offsets[i] + lens[i]) of payload[0..size),
 * sent to conns[i] exactly as net_send(conns[i], that, lens[i]) sends it:
 * copied, framing header added, returns at once, same rules and codes.
 * offsets NULL: the payloads follow one another without gaps, the first at
 * offset 0 (the layout of net_events_pack's payload buffer). Items go in
 * order, so several for one connection arrive in order; one failing stops
 * nothing: results[i] receives item i's outcome, 0 or what net_send
 * returned (NET_E_BADHANDLE, NET_E_CLOSED, NET_E_WOULDBLOCK...), or
 * NET_E_INVAL when its bytes are not all inside payload[0..size).
 * Returns how many items were queued (count when all were), or NET_E_INVAL
 * before sending anything for count > INT_MAX, NULL conns, lens or results
 * with count > 0, or a NULL payload with size > 0. Any thread, like
 * net_send. A connection's items in a row are queued together and go out
 * once, after the last of them; with io_threads >= 1 a batch of at most 8
 * such runs is written on the calling thread as net_forward_data's is
 * (since 0.6; net_stats.caller_writes). */
NET_API int net_send_batch(const net_handle *conns, const uint32_t *offsets, const uint32_t *lens, uint32_t count,
                           const void *payload, size_t size, int *results);

/* ---- forwarding a poll's payloads (since 0.5) ----
 * For code that relays or echoes messages without looking at them (an echo
 * server in C or a binding, a proxy): net_forward_data sends the payload of every
 * DATA event of events[0..count) - a net_poll's output, before the next
 * net_poll on that engine - to `to`, or with to = 0 to the event's own
 * connection, exactly as net_send(that handle, data, len) sends it (framing
 * header added, returns at once, same rules and codes), in order. From the
 * thread that polled, a payload of 256 bytes or more is referenced where
 * it lies, not copied, as net_send of a payload the last poll handed out
 * always is; the binding needs no copy of it either. results[i] receives
 * event i's outcome: 0 queued, what net_send returned (NET_E_CLOSED,
 * NET_E_WOULDBLOCK, NET_E_BADHANDLE...), NET_E_INVAL for a DATA event with
 * len > 0 and no data, or 1 for an event that is not DATA (nothing done;
 * the caller handles it). A DATA event whose connection's CLOSE is in the
 * same batch fails with NET_E_BADHANDLE: polling the CLOSE ended the
 * handle, as it does for net_send. Returns how many payloads were queued, or
 * NET_E_INVAL before doing anything for count < 0, or NULL events or
 * results with count > 0. Any thread, like net_send. Cheaper per payload
 * than a loop of net_send: the engine is entered, and the last poll's
 * payloads looked into, once per call rather than once per send.
 * With io_threads >= 1, a call whose payloads make at most 8 runs (a run:
 * payloads in a row for one connection) writes each run itself, on the
 * calling thread, when that connection's I/O thread sleeps with nothing of
 * it in flight: waking the thread to write would cost more
 * (net_stats.caller_writes counts these writes). What the socket does not
 * take at once goes through the I/O thread as before. */
NET_API int net_forward_data(const net_event *events, int count, net_handle to, int *results);

/* ---- reliable UDP sessions (since 0.4) ----
 * A connection over UDP with channels, as game networking libraries give it
 * (docs/rudp-protocol.md is the wire format). A listener owns one UDP
 * socket and demultiplexes its sessions; a client session owns its own.
 * A session is a handle like a TCP connection: ACCEPT (parent = the rudp
 * listener, addr = the peer), CONNECT (status 0, or a failure and then
 * CLOSE), DATA (one whole message; parent = its channel number), exactly
 * one CLOSE with its reason: 0 (we or the peer closed gracefully),
 * NET_E_TIMEDOUT (connect timeout, idle timeout, close timeout),
 * NET_E_REFUSED (listener full, or none there), NET_E_RESET (the peer
 * aborted), NET_E_PROTO (the peer broke the protocol), NET_E_ABORTED
 * (net_abort, the listener aborted or the engine destroyed), NET_E_NOMEM.
 * net_close is graceful: every reliable message queued before it is
 * delivered and acknowledged first (bounded by close_timeout_ms), then the
 * peer is told; net_abort drops the queue and tells the peer at once.
 * Closing a listener closes its sessions the same way, then its socket
 * (its CLOSE comes last). net_set_user/get_user, net_local_addr,
 * net_peer_addr (NET_E_NOTCONN until CONNECT), net_send / net_sendv
 * (= channel 0, reliable-ordered), net_send_queued and SEND_HIGHWATER /
 * SEND_DRAINED work as on a TCP connection (queued bytes = messages not yet
 * acknowledged, or not yet sent for the unreliable modes).
 * Protocol state lives on the I/O loop that owns the UDP socket: acks,
 * retransmits and keep-alives go on while the script is busy. */
enum {                                    /* delivery modes of net_rudp_send */
       NET_RUDP_RELIABLE_ORDERED = 0,     /* every message, once, in send order per channel */
       NET_RUDP_RELIABLE_UNORDERED = 1,   /* every message, once, in arrival order */
       NET_RUDP_UNRELIABLE_SEQUENCED = 2, /* may be lost; never older than one already delivered on the channel */
       NET_RUDP_UNRELIABLE = 3            /* may be lost, duplicated never, any order */
};

#define NET_RUDP_MAX_CHANNELS 64u

/* 0 in a field means its default. A message larger than one datagram
 * travels as fragments, which are always sent reliably (an unreliable one
 * keeps its mode's delivery rule: a sequenced one older than what the
 * channel delivered meanwhile is dropped when it completes). */
typedef struct net_rudp_config {
    uint32_t size;               /* sizeof(net_rudp_config): set by net_rudp_config_init */
    uint32_t channels;           /* channels per session, 1..NET_RUDP_MAX_CHANNELS (default 8); a session uses
                                    the smaller of its two ends' counts */
    uint32_t mtu;                /* UDP payload bytes per datagram, headers included, 128..65507 (default
                                    1200); a session uses the smaller of its two ends' */
    uint32_t max_message;        /* largest message, fragmented above a datagram (default 256 KiB, at most
                                    16 MiB and at most recv_window) */
    uint32_t send_cap;           /* bytes queued per session before NET_E_WOULDBLOCK (default 4 MiB; at least
                                    max_message) */
    uint32_t recv_window;        /* bytes a session holds for the script: delivered and not yet polled, held
                                    for order and reassembly; the peer is told to stop sending there (default
                                    1 MiB) */
    uint32_t max_sessions;       /* listener: open sessions; more are refused (default 4096) */
    uint32_t connect_timeout_ms; /* default 5000 */
    uint32_t idle_timeout_ms;    /* no datagram from the peer this long: CLOSE NET_E_TIMEDOUT (default 10000) */
    uint32_t keepalive_ms;       /* a quiet session sends a keep-alive this often (default 1000) */
    uint32_t close_timeout_ms;   /* bound on a graceful close (default 5000) */
    uint32_t rto_min_ms;         /* retransmit timeout bounds (default 20 and 3000) */
    uint32_t rto_max_ms;
    uint32_t cookie_period_ms; /* listener: the handshake cookie's secret key stays the same this long; a
                                  cookie is good for two periods (default 10000) */
    uint64_t user;             /* user data of the new handle */
} net_rudp_config;

NET_API void net_rudp_config_init(net_rudp_config *cfg);
/* Opens a UDP socket bound to host:port (NULL or "" = any IPv4 address;
 * port 0 picks one: net_local_addr) and accepts sessions on it: each comes
 * as an ACCEPT event. NET_E_INVAL for a config out of bounds. */
NET_API int net_rudp_listen(net_engine engine, const char *host, uint16_t port, const net_rudp_config *cfg,
                            net_handle *out);
/* Starts a session to host:port on a socket of its own; CONNECT reports the
 * outcome. Sends may follow at once: they are queued and go out once
 * connected (net_close meanwhile closes after CONNECT). */
NET_API int net_rudp_connect(net_engine engine, const char *host, uint16_t port, const net_rudp_config *cfg,
                             net_handle *out);
/* Queues one message (copied) on a channel in a mode; returns at once.
 * NET_E_BADHANDLE, NET_E_CLOSED (closing or closed), NET_E_INVAL (channel
 * >= the session's channels, unknown mode, NULL data with len > 0),
 * NET_E_MSGSIZE (len > max_message), NET_E_WOULDBLOCK (send_cap reached:
 * nothing queued). Allowed while connecting (queued). Any thread. */
NET_API int net_rudp_send(net_handle session, uint32_t channel, uint32_t mode, const void *data, uint32_t len);

/* A session's figures, or a listener's. A listener's are its own socket's
 * counters, not sums over its sessions: packets_* and bytes_* (every
 * datagram of the socket, handshakes included), the listener fields,
 * datagrams_dropped (its own drops and its sessions') and
 * checksum_failures; the rest are 0. Read any time from any thread. */
typedef struct net_rudp_stats {
    uint32_t size; /* caller sets sizeof(net_rudp_stats) */
    uint32_t reserved_;
    uint64_t rtt_us;             /* smoothed round-trip time */
    uint64_t rttvar_us;          /* its variance (RFC 6298) */
    uint64_t rto_ms;             /* the retransmit timeout now, backoff included */
    uint64_t cwnd;               /* congestion window, bytes */
    uint64_t bytes_in_flight;    /* sent, neither acknowledged nor declared lost */
    uint64_t send_queued;        /* bytes queued: not yet acknowledged (reliable) or sent (unreliable) */
    uint64_t peer_window;        /* what the peer last said it can take, bytes */
    uint64_t packets_sent;       /* DATA datagrams sent, acks and keep-alives included (a listener: every
                                    datagram of its socket, handshakes included) */
    uint64_t packets_received;   /* DATA datagrams received (a listener: every datagram with a valid header) */
    uint64_t retransmits;        /* reliable pieces sent again */
    uint64_t packets_lost;       /* numbered datagrams declared lost */
    uint64_t duplicates_dropped; /* pieces or datagrams received twice */
    uint64_t messages_sent;      /* messages taken from the queue and sent whole */
    uint64_t messages_received;  /* DATA events produced */
    uint64_t bytes_sent;         /* UDP payload bytes */
    uint64_t bytes_received;
    /* listener only (0 for a session) */
    uint64_t sessions;         /* open now */
    uint64_t handshakes;       /* sessions accepted since start */
    uint64_t cookies_rejected; /* handshake answers with a cookie that is forged, stale or not theirs */
    uint64_t sessions_refused; /* handshakes refused: max_sessions reached */
    /* both */
    uint64_t datagrams_dropped; /* malformed, unknown or stale session, wrong sender, bad version, no room,
                                   bad checksum; a listener's include what its sessions dropped */
    uint64_t checksum_failures; /* datagrams whose CRC32C did not match (corrupted on the way), also in
                                   datagrams_dropped: a listener counts those its socket received, a client's
                                   session those its own socket received, a listener's session 0 */
} net_rudp_stats;

/* Fills what fits in out->size bytes (an older, smaller struct gets its
 * fields); NET_E_INVAL for NULL out or a size under 16. */
NET_API int net_rudp_get_stats(net_handle h, net_rudp_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* NET_H */
