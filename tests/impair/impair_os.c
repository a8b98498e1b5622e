/* impair_os.c - see impair_os.h. The only #if _WIN32 of tests/impair. */
#if !defined(_WIN32)
#    define _POSIX_C_SOURCE 200809L
#endif

#include "impair_os.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
/* select() on Windows takes up to FD_SETSIZE sockets (64 unless raised):
 * one per proxied client plus the listening socket. */
#    define FD_SETSIZE 1100
#    ifndef WIN32_LEAN_AND_MEAN
#        define WIN32_LEAN_AND_MEAN
#    endif
#    include <winsock2.h>
#    include <ws2tcpip.h>
#    include <windows.h>
typedef int ios_socklen;
#    define OS_SOCK(s) ((SOCKET)(s))
#else
#    include <arpa/inet.h>
#    include <errno.h>
#    include <fcntl.h>
#    include <netdb.h>
#    include <netinet/in.h>
#    include <poll.h>
#    include <pthread.h>
#    include <sys/socket.h>
#    include <time.h>
#    include <unistd.h>
typedef socklen_t ios_socklen;
#    define OS_SOCK(s) ((int)(s))
#endif

#define IOS_SOCKBUF (4 << 20)

/* ------------------------------------------------------------ platform */

#if defined(_WIN32)
int ios_init(void)
{
    WSADATA wsa;
    return WSAStartup(MAKEWORD(2, 2), &wsa) == 0 ? 0 : -1;
}

static int set_nonblocking(ios_sock s)
{
    u_long on = 1;
    return ioctlsocket((SOCKET)s, FIONBIO, &on) == 0 ? 0 : -1;
}

/* A UDP socket on Windows reports an ICMP "port unreachable" for an earlier
 * send as WSAECONNRESET on the next receive; the proxy wants none of that. */
static void no_connreset(ios_sock s)
{
    BOOL off = FALSE;
    DWORD ret = 0;
    WSAIoctl((SOCKET)s, _WSAIOW(IOC_VENDOR, 12), &off, sizeof off, NULL, 0, &ret, NULL, NULL);
}

void ios_close(ios_sock s)
{
    if (s != IOS_BAD_SOCK)
        closesocket((SOCKET)s);
}

uint64_t ios_now_ms(void)
{
    return (uint64_t)GetTickCount64();
}

void ios_sleep_ms(int ms)
{
    Sleep((DWORD)ms);
}

int ios_wait(const ios_sock *socks, int n, uint8_t *ready, int timeout_ms)
{
    fd_set rd;
    FD_ZERO(&rd);
    for (int i = 0; i < n && i < FD_SETSIZE; i++)
        FD_SET((SOCKET)socks[i], &rd);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    int rc = select(0, &rd, NULL, NULL, &tv);
    if (rc < 0)
        return -1;
    for (int i = 0; i < n; i++)
        ready[i] = FD_ISSET((SOCKET)socks[i], &rd) ? 1 : 0;
    return rc;
}

struct ios_thread {
    HANDLE h;
    void (*fn)(void *);
    void *arg;
};

static DWORD WINAPI thread_main(LPVOID p)
{
    ios_thread *t = (ios_thread *)p;
    t->fn(t->arg);
    return 0;
}

ios_thread *ios_thread_start(void (*fn)(void *), void *arg)
{
    ios_thread *t = (ios_thread *)calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->fn = fn;
    t->arg = arg;
    t->h = CreateThread(NULL, 0, thread_main, t, 0, NULL);
    if (!t->h) {
        free(t);
        return NULL;
    }
    return t;
}

void ios_thread_join(ios_thread *t)
{
    WaitForSingleObject(t->h, INFINITE);
    CloseHandle(t->h);
    free(t);
}

struct ios_mutex {
    CRITICAL_SECTION cs;
};

ios_mutex *ios_mutex_new(void)
{
    ios_mutex *m = (ios_mutex *)calloc(1, sizeof *m);
    if (m)
        InitializeCriticalSection(&m->cs);
    return m;
}

void ios_mutex_free(ios_mutex *m)
{
    if (!m)
        return;
    DeleteCriticalSection(&m->cs);
    free(m);
}

void ios_lock(ios_mutex *m)
{
    EnterCriticalSection(&m->cs);
}

void ios_unlock(ios_mutex *m)
{
    LeaveCriticalSection(&m->cs);
}

#else /* POSIX */

int ios_init(void)
{
    return 0;
}

static int set_nonblocking(ios_sock s)
{
    int fl = fcntl((int)s, F_GETFL, 0);
    return fl >= 0 && fcntl((int)s, F_SETFL, fl | O_NONBLOCK) == 0 ? 0 : -1;
}

static void no_connreset(ios_sock s)
{
    (void)s;
}

void ios_close(ios_sock s)
{
    if (s != IOS_BAD_SOCK)
        close((int)s);
}

uint64_t ios_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void ios_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int ios_wait(const ios_sock *socks, int n, uint8_t *ready, int timeout_ms)
{
    struct pollfd stackfds[64];
    struct pollfd *fds = n <= 64 ? stackfds : (struct pollfd *)malloc(sizeof *fds * (size_t)n);
    if (!fds)
        return -1;
    for (int i = 0; i < n; i++) {
        fds[i].fd = (int)socks[i];
        fds[i].events = POLLIN;
        fds[i].revents = 0;
    }
    int rc = poll(fds, (nfds_t)n, timeout_ms);
    for (int i = 0; i < n; i++)
        ready[i] = rc > 0 && (fds[i].revents & (POLLIN | POLLERR)) ? 1 : 0;
    if (fds != stackfds)
        free(fds);
    if (rc < 0)
        return errno == EINTR ? 0 : -1;
    return rc;
}

struct ios_thread {
    pthread_t t;
    void (*fn)(void *);
    void *arg;
};

static void *thread_main(void *p)
{
    ios_thread *t = (ios_thread *)p;
    t->fn(t->arg);
    return NULL;
}

ios_thread *ios_thread_start(void (*fn)(void *), void *arg)
{
    ios_thread *t = (ios_thread *)calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->fn = fn;
    t->arg = arg;
    if (pthread_create(&t->t, NULL, thread_main, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void ios_thread_join(ios_thread *t)
{
    pthread_join(t->t, NULL);
    free(t);
}

struct ios_mutex {
    pthread_mutex_t m;
};

ios_mutex *ios_mutex_new(void)
{
    ios_mutex *m = (ios_mutex *)calloc(1, sizeof *m);
    if (m && pthread_mutex_init(&m->m, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void ios_mutex_free(ios_mutex *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->m);
    free(m);
}

void ios_lock(ios_mutex *m)
{
    pthread_mutex_lock(&m->m);
}

void ios_unlock(ios_mutex *m)
{
    pthread_mutex_unlock(&m->m);
}
#endif

/* ------------------------------------------------- the same on both */

int ios_resolve(const char *host, uint16_t port, ios_addr *out)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    if (getaddrinfo(host, service, &hints, &res) != 0 || !res)
        return -1;
    int rc = -1;
    if (res->ai_addrlen <= sizeof out->u.bytes) {
        memset(out, 0, sizeof *out);
        memcpy(out->u.bytes, res->ai_addr, res->ai_addrlen);
        out->len = (uint32_t)res->ai_addrlen;
        rc = 0;
    }
    freeaddrinfo(res);
    return rc;
}

int ios_addr_family(const ios_addr *a)
{
    return ((const struct sockaddr *)a->u.bytes)->sa_family;
}

uint16_t ios_addr_port(const ios_addr *a)
{
    if (ios_addr_family(a) == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)a->u.bytes)->sin6_port);
    return ntohs(((const struct sockaddr_in *)a->u.bytes)->sin_port);
}

int ios_addr_eq(const ios_addr *a, const ios_addr *b)
{
    if (ios_addr_family(a) != ios_addr_family(b))
        return 0;
    if (ios_addr_family(a) == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a->u.bytes;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b->u.bytes;
        return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0 &&
               x->sin6_scope_id == y->sin6_scope_id;
    }
    const struct sockaddr_in *x = (const struct sockaddr_in *)a->u.bytes;
    const struct sockaddr_in *y = (const struct sockaddr_in *)b->u.bytes;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

void ios_addr_str(const ios_addr *a, char *buf, size_t cap)
{
    char host[64] = "?";
    if (ios_addr_family(a) == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a->u.bytes)->sin6_addr, host, sizeof host);
        snprintf(buf, cap, "[%s]:%u", host, (unsigned)ios_addr_port(a));
    } else {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)a->u.bytes)->sin_addr, host, sizeof host);
        snprintf(buf, cap, "%s:%u", host, (unsigned)ios_addr_port(a));
    }
}

static ios_sock udp_socket(int family)
{
    /* INVALID_SOCKET and POSIX's -1 both become IOS_BAD_SOCK. */
    ios_sock s = (ios_sock)socket(family, SOCK_DGRAM, 0);
    if (s == IOS_BAD_SOCK)
        return IOS_BAD_SOCK;
    int size = IOS_SOCKBUF;
    /* Best effort: the OS may cap them lower (Linux: net.core.rmem_max). */
    setsockopt(OS_SOCK(s), SOL_SOCKET, SO_RCVBUF, (const char *)&size, sizeof size);
    setsockopt(OS_SOCK(s), SOL_SOCKET, SO_SNDBUF, (const char *)&size, sizeof size);
    if (set_nonblocking(s) != 0) {
        ios_close(s);
        return IOS_BAD_SOCK;
    }
    no_connreset(s);
    return s;
}

ios_sock ios_udp_bind(const ios_addr *a)
{
    ios_sock s = udp_socket(ios_addr_family(a));
    if (s != IOS_BAD_SOCK && bind(OS_SOCK(s), (const struct sockaddr *)a->u.bytes, (ios_socklen)a->len) != 0) {
        ios_close(s);
        return IOS_BAD_SOCK;
    }
    return s;
}

ios_sock ios_udp_connect(const ios_addr *target)
{
    ios_sock s = udp_socket(ios_addr_family(target));
    if (s != IOS_BAD_SOCK &&
        connect(OS_SOCK(s), (const struct sockaddr *)target->u.bytes, (ios_socklen)target->len) != 0) {
        ios_close(s);
        return IOS_BAD_SOCK;
    }
    return s;
}

int ios_local_addr(ios_sock s, ios_addr *out)
{
    ios_socklen len = (ios_socklen)sizeof out->u.bytes;
    memset(out, 0, sizeof *out);
    if (getsockname(OS_SOCK(s), (struct sockaddr *)out->u.bytes, &len) != 0)
        return -1;
    out->len = (uint32_t)len;
    return 0;
}

long ios_recv(ios_sock s, void *buf, size_t cap, ios_addr *from)
{
    struct sockaddr_storage ss;
    ios_socklen len = (ios_socklen)sizeof ss;
    long n = (long)recvfrom(OS_SOCK(s), (char *)buf, (int)cap, 0, (struct sockaddr *)&ss, &len);
    if (n < 0)
        return -1;
    if (from) {
        memset(from, 0, sizeof *from);
        from->len = (uint32_t)len <= sizeof from->u.bytes ? (uint32_t)len : (uint32_t)sizeof from->u.bytes;
        memcpy(from->u.bytes, &ss, from->len);
    }
    return n;
}

int ios_send(ios_sock s, const void *buf, size_t len, const ios_addr *to)
{
    long n;
    if (to)
        n = (long)sendto(OS_SOCK(s), (const char *)buf, (int)len, 0, (const struct sockaddr *)to->u.bytes,
                         (ios_socklen)to->len);
    else
        n = (long)send(OS_SOCK(s), (const char *)buf, (int)len, 0);
    return n == (long)len ? 0 : -1;
}
