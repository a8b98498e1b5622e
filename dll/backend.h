/*
 * backend.h - the contract between the platform-neutral core and a backend.
 *
 * Completion-shaped: the core submits work (accept, connect, receive, send,
 * close) and the backend reports each outcome by calling one of the net__*
 * functions below, always on the loop's own thread, from inside wait().
 * IOCP and io_uring map onto this directly; epoll performs the syscall when
 * the socket is ready and reports it the same way.
 *
 * Rules every backend keeps:
 * - every submit call is made on the loop's thread; only wake() is called
 *   from other threads;
 * - send() returns the bytes written at once (>= 0), NET__PENDING when the
 *   result will come through net__sent() later, or a NET_E_* code; at most
 *   one send is outstanding per connection and its iov stays valid until it
 *   completes;
 * - receiving, once started, reports data through net__received() until
 *   recv_stop(); a length of 0 means the peer sent FIN;
 * - after conn_close()/listener_close() the backend cancels what is
 *   outstanding, closes the socket and calls net__conn_released() /
 *   net__listener_released() exactly once, after the last completion, and
 *   never inside the close call itself.
 */
#ifndef NET_BACKEND_H
#define NET_BACKEND_H

#include <stddef.h>
#include "os.h"

#define NET__PENDING (-1000) /* not a byte count, not a NET_E_* code */

typedef struct net_loop net_loop;
typedef struct net_conn net_conn;
typedef struct net_listener net_listener;
typedef struct net_udp net_udp;

typedef struct net_iov {
    const void *base;
    size_t len;
} net_iov;

/* One datagram to send: to is ignored (NULL peer) on a connected socket. */
typedef struct net_dgram {
    const void *data;
    uint32_t len;
    uint32_t connected; /* 1: send to the connected peer, to is unused */
    net_addr to;
} net_dgram;

typedef struct net_backend {
    const char *name;
    /* 0 when this backend can run here, else a NET_E_* code. */
    int (*probe)(void);
    int (*loop_open)(net_loop *loop);
    void (*loop_close)(net_loop *loop);
    /* Waits up to timeout_ms for completions and reports them. */
    int (*wait)(net_loop *loop, int timeout_ms);
    /* Makes wait() return soon. Any thread. */
    void (*wake)(net_loop *loop);

    int (*listener_open)(net_loop *loop, net_listener *l);
    void (*accept_start)(net_loop *loop, net_listener *l);
    void (*accept_stop)(net_loop *loop, net_listener *l);
    void (*listener_close)(net_loop *loop, net_listener *l);

    /* Adopts an accepted socket, or a new one before connect(). */
    int (*conn_open)(net_loop *loop, net_conn *c);
    int (*connect)(net_loop *loop, net_conn *c, const net_addr *to);
    void (*recv_start)(net_loop *loop, net_conn *c);
    void (*recv_stop)(net_loop *loop, net_conn *c);
    int (*send)(net_loop *loop, net_conn *c, const net_iov *iov, int count);
    void (*conn_close)(net_loop *loop, net_conn *c);

    /* ---- UDP ----
     * udp_open adopts a bound, non-blocking datagram socket. Receiving,
     * once started, reports each datagram through net__udp_received until
     * udp_recv_stop; a backend keeps receiving after a non-fatal error
     * (reported through net__udp_recv_error), re-arming what it must.
     * udp_send is handed count datagrams (count >= 1); it returns count when
     * all went out at once, or NET__PENDING and then calls net__udp_sent(u,
     * count) exactly once when the batch is finished. The array and the
     * payloads stay valid until then; one batch is outstanding per socket.
     * A datagram the OS refuses is reported through net__udp_send_failed
     * and counts as finished: the batch goes on with the next one. */
    int (*udp_open)(net_loop *loop, net_udp *u);
    void (*udp_recv_start)(net_loop *loop, net_udp *u);
    void (*udp_recv_stop)(net_loop *loop, net_udp *u);
    int (*udp_send)(net_loop *loop, net_udp *u, const net_dgram *d, int count);
    void (*udp_close)(net_loop *loop, net_udp *u);
} net_backend;

/* ---- what the backend may read of core objects ---- */
net_sock net__conn_sock(const net_conn *c);
net_sock net__listener_sock(const net_listener *l);
/* Per-socket backend state slot, owned by the backend. */
void **net__conn_bk(net_conn *c);
void **net__listener_bk(net_listener *l);
void **net__udp_bk(net_udp *u);
net_sock net__udp_sock(const net_udp *u);
/* Receive buffers must hold this plus one byte, so a larger datagram shows
 * as truncated instead of passing for a whole one. */
uint32_t net__udp_max_datagram(const net_udp *u);
/* Per-loop backend state slot. */
void **net__loop_bk(net_loop *loop);
uint32_t net__loop_index(const net_loop *loop);
uint32_t net__loop_batch(const net_loop *loop);
/* 1 when the loop runs on its own I/O thread (io_threads >= 1), 0 when net_poll drives it. */
int net__loop_threaded(const net_loop *loop);

/* Where to receive: a window the core can hand to the script without a copy.
 * A backend that receives elsewhere (a kernel buffer ring) passes its own
 * pointer to net__received and the core copies. */
void *net__recv_window(net_loop *loop, size_t *cap);

/* ---- completions, called on the loop's thread ---- */
void net__accepted(net_listener *l, net_sock s, const net_addr *peer, int err, int os_error);
void net__connected(net_conn *c, int err, int os_error);
void net__received(net_conn *c, const void *data, size_t len);
void net__recv_failed(net_conn *c, int err, int os_error);
void net__sent(net_conn *c, size_t len, int err, int os_error);
void net__conn_released(net_conn *c);
void net__listener_released(net_listener *l);
/* truncated: the datagram did not fit the buffer (MSG_TRUNC, WSAEMSGSIZE):
 * the core counts and drops it. data may be the backend's own memory: the
 * core copies what it keeps. */
void net__udp_received(net_udp *u, const void *data, size_t len, const net_addr *from, int truncated);
/* A non-fatal receive error (ECONNREFUSED from ICMP, WSAECONNRESET...). */
void net__udp_recv_error(net_udp *u, int err, int os_error);
void net__udp_send_failed(net_udp *u, const net_dgram *d, int err, int os_error);
void net__udp_sent(net_udp *u, int count);
void net__udp_released(net_udp *u);

/* The backends compiled in, in order of preference. */
extern const net_backend net__backend_epoll;
extern const net_backend net__backend_uring;
extern const net_backend net__backend_iocp;

#endif
