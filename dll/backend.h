/*
 * backend.h - the contract between the platform-neutral core and a backend.
 *
 * Completion-shaped: the core submits work (accept, connect, receive, send,
 * close) and the backend reports each outcome by calling one of the net__*
 * functions below, always on the loop's own thread, from inside wait()
 * (net__released also from close() and loop_close()). IOCP and io_uring map
 * onto this directly; epoll performs the syscall when the socket is ready
 * and reports it the same way.
 *
 * The core hands a backend three kinds of object: connections, listeners
 * and UDP sockets. Each begins with a net_obj, the part they share: its
 * kind, its socket and a slot for the backend's per-socket state. What
 * differs by kind (accepting, receiving, sending) takes the typed object;
 * what every kind has (closing, releasing) takes the net_obj.
 *
 * Rules every backend keeps:
 * - every submit call is made on the loop's thread; only wake() and
 *   send_now() are called from other threads;
 * - a submit call that fails at once returns a NET_E_* code, and when an OS
 *   call failed behind it, stores that call's error (errno,
 *   WSAGetLastError()) in *os_error, which the core set to 0. The core never
 *   reads errno or the last WSA error after a submit call: whatever else the
 *   backend called since may have changed them;
 * - send() returns the bytes written at once (>= 0), NET__PENDING when the
 *   result will come through net__sent() later, or a NET_E_* code; at most
 *   one send is outstanding per connection and its iov stays valid until it
 *   completes;
 * - receiving, once started, reports data through net__received() until
 *   recv_stop(); a length of 0 means the peer sent FIN;
 * - after close() the backend cancels what is outstanding, closes the socket
 *   and, once the last completion for the object is in, calls
 *   net__released() exactly once: inside close() itself when nothing is
 *   outstanding. It reports nothing more for the object after close().
 * - the core finishes a released object at the end of the loop's turn (after
 *   wait() returns) and in loop teardown (after loop_close()): it calls
 *   sock_free() for the backend's state, then gives the object its CLOSE.
 *   Until then the backend's state stays valid, so a completion or an event
 *   of the same batch may still name it (it must see that it is closed).
 */
#ifndef NET_BACKEND_H
#define NET_BACKEND_H

#include <stddef.h>
#include "os.h"

#define NET__PENDING (-1000) /* not a byte count, not a NET_E_* code */

typedef struct net_loop net_loop;
typedef struct net_obj net_obj;
typedef struct net_conn net_conn;
typedef struct net_listener net_listener;
typedef struct net_udp net_udp;

/* What a net_obj is (net__obj_kind): the same numbers as the handle types of
 * handle.h, so the core turns one into the other without a table. */
enum { OBJ_CONN = 1, OBJ_LISTENER = 2, OBJ_UDP = 4, OBJ_RUDP = 6 /* a reliable-UDP session: no socket of its own */ };

/* net_conn, net_listener and net_udp each begin with their net_obj (core.h
 * asserts it), so one pointer names both: net__obj(p) converts a typed
 * pointer, and a backend that keeps one void * per socket hands it to the
 * typed completions and to net__released alike. */
#define net__obj(p)                                                                                                    \
    ((net_obj *)(void *)_Generic((p), net_conn * : (p), net_listener * : (p), net_udp * : (p), net_obj * : (p)))

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
    /* io_threads = 0, a waitable asked for (net_engine_waitable): from now
     * on what wait() would find must show in it. Either *pollable is set to
     * a descriptor the OS polls, readable while completions wait (Linux:
     * the epoll or ring fd), or it is left at -1 and the backend calls
     * net__loop_signal() whenever completions arrive. Loop thread. */
    int (*watch)(net_loop *loop, intptr_t *pollable);
    /* 1 when wait() has work at once that nothing readable announces:
     * sockets a turn left ready, queued submissions. Loop thread. */
    int (*has_work)(net_loop *loop);

    /* The object's backend state is gone with the socket: frees it. Called
     * once per released object whose bk slot is set, at the end of the turn
     * or after loop_close(), so it may not use the loop's own state then. */
    void (*sock_free)(net_loop *loop, net_obj *o);
    /* Every kind: see the rules above. */
    void (*close)(net_loop *loop, net_obj *o);

    int (*listener_open)(net_loop *loop, net_listener *l, int *os_error);
    void (*accept_start)(net_loop *loop, net_listener *l);
    void (*accept_stop)(net_loop *loop, net_listener *l);

    /* Adopts an accepted socket, or a new one before connect(). */
    int (*conn_open)(net_loop *loop, net_conn *c, int *os_error);
    int (*connect)(net_loop *loop, net_conn *c, const net_addr *to, int *os_error);
    void (*recv_start)(net_loop *loop, net_conn *c);
    void (*recv_stop)(net_loop *loop, net_conn *c);
    int (*send)(net_loop *loop, net_conn *c, const net_iov *iov, int count, int *os_error);
    /* Optional (NULL: a connection's bytes go out only through send() on
     * its loop): a write of what the socket takes at once, from a thread
     * other than the loop's, made by the core only under the connection's
     * slot lock with no send() of it outstanding (conn.c, "sending from
     * the script's thread"). Returns the bytes written, 0 when the socket
     * takes none now, or a NET_E_* code with *os_error; it leaves the
     * backend's state alone, so what it did not write the core hands to
     * send() as before. */
    int (*send_now)(net_sock s, const net_iov *iov, int count, int *os_error);

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
    int (*udp_open)(net_loop *loop, net_udp *u, int *os_error);
    void (*udp_recv_start)(net_loop *loop, net_udp *u);
    void (*udp_recv_stop)(net_loop *loop, net_udp *u);
    int (*udp_send)(net_loop *loop, net_udp *u, const net_dgram *d, int count, int *os_error);
} net_backend;

/* ---- what the backend may read of core objects ---- */
uint32_t net__obj_kind(const net_obj *o);
net_sock net__obj_sock(const net_obj *o);
/* Per-socket backend state slot, owned by the backend. */
void **net__obj_bk(net_obj *o);
/* Receive buffers must hold this plus one byte, so a larger datagram shows
 * as truncated instead of passing for a whole one. */
uint32_t net__udp_max_datagram(const net_udp *u);
/* Per-loop backend state slot. */
void **net__loop_bk(net_loop *loop);
uint32_t net__loop_index(const net_loop *loop);
uint32_t net__loop_batch(const net_loop *loop);
/* 1 when the loop runs on its own I/O thread (io_threads >= 1), 0 when net_poll drives it. */
int net__loop_threaded(const net_loop *loop);
/* 1 when released objects wait for the end of the turn: wait() must not
 * block then. The core checks before it calls wait(); a backend that may
 * release inside wait() before it blocks checks again. */
int net__loop_releasing(const net_loop *loop);

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
/* truncated: the datagram did not fit the buffer (MSG_TRUNC, WSAEMSGSIZE):
 * the core counts and drops it. data may be the backend's own memory: the
 * core copies what it keeps. */
void net__udp_received(net_udp *u, const void *data, size_t len, const net_addr *from, int truncated);
/* A non-fatal receive error (ECONNREFUSED from ICMP, WSAECONNRESET...). */
void net__udp_recv_error(net_udp *u, int err, int os_error);
void net__udp_send_failed(net_udp *u, const net_dgram *d, int err, int os_error);
void net__udp_sent(net_udp *u, int count);
/* Every kind: the last completion for o is in (see the rules above). */
void net__released(net_obj *o);
/* Completions arrived that wait() will hand over: the engine's waitable (see
 * watch) becomes ready. Any thread. */
void net__loop_signal(net_loop *loop);

/* The backends compiled in, in order of preference. */
extern const net_backend net__backend_epoll;
extern const net_backend net__backend_uring;
extern const net_backend net__backend_iocp;

#endif
