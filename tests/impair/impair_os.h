/*
 * impair_os.h - the thin OS layer of the impairment proxy: UDP sockets,
 * waiting on several of them, a monotonic clock, one thread and one mutex.
 * impair_os.c is the only file of tests/impair that includes an OS header
 * (POSIX sockets and pthreads on Linux, Winsock and Win32 threads under
 * MinGW); impair.c is written against this interface only.
 */
#ifndef IMPAIR_OS_H
#define IMPAIR_OS_H

#include <stddef.h>
#include <stdint.h>

/* A socket: an int on POSIX, a SOCKET (an integer handle) on Windows. */
typedef intptr_t ios_sock;
#define IOS_BAD_SOCK ((ios_sock)-1)

/* An address as the OS passes it (sockaddr_in or sockaddr_in6 inside). */
typedef struct ios_addr {
    uint32_t len;
    union {
        uint8_t bytes[28];
        uint64_t align_;
    } u;
} ios_addr;

/* Once per process before the first socket (WSAStartup on Windows). 0 = ok. */
int ios_init(void);

/* Resolves host:port numerically or by name (loopback in every use here). */
int ios_resolve(const char *host, uint16_t port, ios_addr *out);
int ios_addr_family(const ios_addr *a);
uint16_t ios_addr_port(const ios_addr *a);
int ios_addr_eq(const ios_addr *a, const ios_addr *b);
/* "1.2.3.4:5" / "[::1]:5" into buf. */
void ios_addr_str(const ios_addr *a, char *buf, size_t cap);

/* A non-blocking UDP socket of a's family bound to a (port 0 = pick), with
 * large socket buffers so the proxy itself loses nothing it was not told to. */
ios_sock ios_udp_bind(const ios_addr *a);
/* A non-blocking UDP socket connected to target, bound to the wildcard of
 * its family: only the target's datagrams come back on it. */
ios_sock ios_udp_connect(const ios_addr *target);
void ios_close(ios_sock s);
int ios_local_addr(ios_sock s, ios_addr *out);

/* One datagram: its length (0 is a datagram), or -1 when none is waiting or
 * the call failed (a failure on a UDP socket, e.g. an ICMP report of an
 * earlier send, is nothing the proxy can act on). from may be NULL. */
long ios_recv(ios_sock s, void *buf, size_t cap, ios_addr *from);
/* 0 = sent; -1 = not sent (buffer full or an error). to NULL = connected. */
int ios_send(ios_sock s, const void *buf, size_t len, const ios_addr *to);

/* Waits up to timeout_ms for any of n sockets to be readable; ready[i] is
 * set to 1 for each readable one. Returns how many are ready (0 on timeout),
 * -1 on failure. */
int ios_wait(const ios_sock *socks, int n, uint8_t *ready, int timeout_ms);

uint64_t ios_now_ms(void); /* monotonic */
void ios_sleep_ms(int ms);

typedef struct ios_thread ios_thread;
ios_thread *ios_thread_start(void (*fn)(void *), void *arg); /* NULL on failure */
void ios_thread_join(ios_thread *t);                         /* and frees it */

typedef struct ios_mutex ios_mutex;
ios_mutex *ios_mutex_new(void);
void ios_mutex_free(ios_mutex *m);
void ios_lock(ios_mutex *m);
void ios_unlock(ios_mutex *m);

#endif /* IMPAIR_OS_H */
