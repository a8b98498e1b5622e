/*
 * os.h - the few operating-system services the platform-neutral core needs.
 * os_posix.c and os_win.c implement it, with the socket code they share in
 * os_socket.c; backends use it too. Nothing here exposes a platform type:
 * sockets are intptr_t, locks are opaque storage.
 */
#ifndef NET_OS_H
#define NET_OS_H

#include <stddef.h>
#include <stdint.h>
#include "net.h"

typedef intptr_t net_sock;
#define NET_BAD_SOCK ((net_sock)-1)

/* One piece of a gathered write. POSIX: struct iovec's layout (asserted
 * where it is handed to the OS); IOCP converts to WSABUF. */
typedef struct net_iov {
    const void *base;
    size_t len;
} net_iov;

int os_init(void); /* once per process; idempotent */

uint64_t os_now_ms(void); /* monotonic */
uint64_t os_now_us(void); /* the same clock in microseconds: os_now_us() / 1000 == os_now_ms() */
/* len bytes from the OS's random generator (keys and ids; falls back to the clock where it has none). */
void os_random(void *out, size_t len);
uint64_t os_thread_self(void);
void os_yield(void);
void os_sleep_ms(uint32_t ms);

typedef struct os_thread os_thread;
int os_thread_start(os_thread **out, void (*fn)(void *), void *arg);
void os_thread_join(os_thread *t);

/* Opaque storage big enough for pthread or Windows primitives. */
typedef struct os_mutex {
    uint64_t opaque_[8];
} os_mutex;
typedef struct os_cond {
    uint64_t opaque_[8];
} os_cond;
void os_mutex_init(os_mutex *m);
void os_mutex_destroy(os_mutex *m);
void os_mutex_lock(os_mutex *m);
void os_mutex_unlock(os_mutex *m);
void os_cond_init(os_cond *c);
void os_cond_destroy(os_cond *c);
void os_cond_signal(os_cond *c);
/* Waits up to timeout_ms (-1 = forever) with m held. */
void os_cond_wait(os_cond *c, os_mutex *m, int timeout_ms);

const char *os_getenv(const char *name);
/* The OS error a name such as "EMFILE" or "ECONNRESET" stands for here
 * (Windows: its WSA twin); 0 for an unknown name. Fault injection only. */
int os_error_by_name(const char *name);

/* ---- the waitable of net_engine_waitable ----
 * One object another event loop waits on: Linux an epoll set (an eventfd
 * the core raises and clears, a timerfd for the deadline, and what
 * os_waitable_watch adds), Windows a manual-reset event and a pool timer.
 * raise and clear are the core's to call under its queue lock. */
typedef struct os_waitable os_waitable;
/* due(arg) runs (Windows, on a pool thread) when a deadline passes; Linux
 * keeps its timer in the set instead and never calls it. */
int os_waitable_open(os_waitable **out, void (*due)(void *), void *arg);
/* What net_engine_waitable hands out: the set's fd, or the event HANDLE. */
intptr_t os_waitable_handle(const os_waitable *w);
/* Linux: a descriptor the set also watches for readability (a backend's
 * epoll or ring fd). Windows: NET_E_UNSUPPORTED, nothing to add. */
int os_waitable_watch(os_waitable *w, intptr_t pollable);
void os_waitable_raise(os_waitable *w);
void os_waitable_clear(os_waitable *w);
/* Ready at deadline_ms (os_now_ms's clock; UINT64_MAX: never), one shot:
 * until the next call (Linux), or due() is called once (Windows). */
void os_waitable_deadline(os_waitable *w, uint64_t deadline_ms);
/* Stops the timer, waits for a due() under way, frees everything. */
void os_waitable_close(os_waitable *w);

/* ---- sockets ---- */
int os_last_error(void);
/* Maps an errno / WSA error to a NET_E_* code. */
int os_error_to_net(int os_error);
/* Errors that say "out of descriptors or buffers": accepting should back off. */
int os_error_is_resource(int os_error);
/* An accept failed because the listening socket itself is unusable (closed,
 * not a socket, not listening): another accept would fail alike. */
int os_error_is_listener_broken(int os_error);

/* host: numeric, a name, or NULL/"" for the any address. */
int os_resolve(const char *host, uint16_t port, net_addr *out, int *os_error);
int os_tcp_listen(const net_addr *addr, int backlog, uint32_t flags, net_sock *out, int *os_error);
/* A non-blocking TCP socket of addr's family, not yet connected. */
int os_tcp_socket(const net_addr *addr, net_sock *out, int *os_error);
/* Per-connection setup after accept/connect: non-blocking, NODELAY/KEEPALIVE from flags. */
int os_tcp_prepare(net_sock s, uint32_t flags);
/* A non-blocking UDP socket bound to addr with NET_UDP_* flags and buffer
 * sizes (0 = the OS default) applied. */
int os_udp_open(const net_addr *addr, uint32_t flags, int rcvbuf, int sndbuf, net_sock *out, int *os_error);
/* connect() on a UDP socket; on Windows it also turns ICMP error reporting
 * (SIO_UDP_CONNRESET) on, which os_udp_open turned off. */
int os_udp_connect(net_sock s, const net_addr *to, int *os_error);
void os_sock_close(net_sock s);
int os_sock_shutdown_write(net_sock s);
int os_sock_set_linger0(net_sock s);
int os_sock_set_option(net_sock s, int option, int64_t value, int *os_error);
int os_sock_get_option(net_sock s, int option, int64_t *value, int *os_error);
int os_sock_local_addr(net_sock s, net_addr *out);
int os_sock_peer_addr(net_sock s, net_addr *out);
/* POSIX only (the epoll and io_uring backends), any thread: writes what the
 * connected socket s takes now of count pieces (count >= 1, more than 0
 * bytes in all), without blocking and without SIGPIPE. Returns the bytes
 * written, 0 when the socket takes none now, or a NET_E_* code with the
 * OS error in *os_error. Test builds fail it as NET_TEST_FAULT's send site
 * asks. */
int os_sock_send_now(net_sock s, const net_iov *iov, int count, int *os_error);

/* a as a socket of family sock_family (NET_AF_*) must be given it: an IPv4
 * address for an IPv6 (dual-stack) socket in its v4-mapped form, the only
 * one Windows takes there (Linux takes either). */
static inline net_addr os_addr_for_family(const net_addr *a, uint16_t sock_family)
{
    net_addr m = *a;
    if (sock_family == NET_AF_INET6 && a->family == NET_AF_INET) {
        m.family = NET_AF_INET6;
        m.scope_id = 0;
        for (int i = 0; i < 10; i++)
            m.ip[i] = 0;
        m.ip[10] = m.ip[11] = 0xff;
        for (int i = 0; i < 4; i++)
            m.ip[12 + i] = a->ip[i];
    }
    return m;
}

/* sockaddr conversions for backends; storage must hold a sockaddr_storage (128 bytes). */
int os_sockaddr_from_addr(const net_addr *a, void *storage, int *len);
void os_addr_from_sockaddr(const void *sa, net_addr *out);

#endif
