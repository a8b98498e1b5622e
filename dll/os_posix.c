/* os_posix.c - os.h on Linux and other POSIX systems. */
#define _GNU_SOURCE
#include "os.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(os_mutex), "os_mutex too small");
_Static_assert(sizeof(pthread_cond_t) <= sizeof(os_cond), "os_cond too small");

int os_init(void)
{
    return 0;
}

uint64_t os_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t os_thread_self(void)
{
    return (uint64_t)pthread_self();
}

void os_yield(void)
{
    sched_yield();
}

void os_sleep_ms(uint32_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

struct os_thread {
    pthread_t id;
    void (*fn)(void *);
    void *arg;
};

static void *thread_main(void *p)
{
    os_thread *t = p;
    t->fn(t->arg);
    return NULL;
}

int os_thread_start(os_thread **out, void (*fn)(void *), void *arg)
{
    os_thread *t = calloc(1, sizeof *t);
    if (!t)
        return NET_E_NOMEM;
    t->fn = fn;
    t->arg = arg;
    if (pthread_create(&t->id, NULL, thread_main, t) != 0) {
        free(t);
        return NET_E_OS;
    }
    *out = t;
    return 0;
}

void os_thread_join(os_thread *t)
{
    if (!t)
        return;
    pthread_join(t->id, NULL);
    free(t);
}

void os_mutex_init(os_mutex *m)
{
    pthread_mutex_init((pthread_mutex_t *)m, NULL);
}
void os_mutex_destroy(os_mutex *m)
{
    pthread_mutex_destroy((pthread_mutex_t *)m);
}
void os_mutex_lock(os_mutex *m)
{
    pthread_mutex_lock((pthread_mutex_t *)m);
}
void os_mutex_unlock(os_mutex *m)
{
    pthread_mutex_unlock((pthread_mutex_t *)m);
}

void os_cond_init(os_cond *c)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init((pthread_cond_t *)c, &attr);
    pthread_condattr_destroy(&attr);
}
void os_cond_destroy(os_cond *c)
{
    pthread_cond_destroy((pthread_cond_t *)c);
}
void os_cond_signal(os_cond *c)
{
    pthread_cond_signal((pthread_cond_t *)c);
}
void os_cond_wait(os_cond *c, os_mutex *m, int timeout_ms)
{
    if (timeout_ms < 0) {
        pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, &ts);
}

const char *os_getenv(const char *name)
{
    return getenv(name);
}

int os_error_by_name(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } t[] = {{"EMFILE", EMFILE}, {"ENFILE", ENFILE}, {"ENOBUFS", ENOBUFS}, {"ECONNRESET", ECONNRESET},
             {"EBUSY", EBUSY},   {"EAGAIN", EAGAIN}, {"EPIPE", EPIPE}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(name, t[i].name) == 0)
            return t[i].code;
    return 0;
}

/* ---- sockets ---- */

int os_last_error(void)
{
    return errno;
}

int os_error_to_net(int e)
{
    switch (e) {
    case 0:
        return 0;
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
        return NET_E_RESET;
    case ECONNREFUSED:
        return NET_E_REFUSED;
    case ETIMEDOUT:
        return NET_E_TIMEDOUT;
    case EADDRINUSE:
        return NET_E_ADDRINUSE;
    case EADDRNOTAVAIL:
    case EAFNOSUPPORT:
        return NET_E_ADDR;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
        return NET_E_UNREACHABLE;
    case ENOMEM:
    case ENOBUFS:
        return NET_E_NOMEM;
    case EINVAL:
        return NET_E_INVAL;
    case EMSGSIZE:
        return NET_E_MSGSIZE;
    default:
        return NET_E_OS;
    }
}

int os_error_is_resource(int e)
{
    return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

int os_sockaddr_from_addr(const net_addr *a, void *storage, int *len)
{
    memset(storage, 0, sizeof(struct sockaddr_storage));
    if (a->family == NET_AF_INET) {
        struct sockaddr_in *sin = storage;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(a->port);
        memcpy(&sin->sin_addr, a->ip, 4);
        *len = (int)sizeof *sin;
        return 0;
    }
    if (a->family == NET_AF_INET6) {
        struct sockaddr_in6 *sin6 = storage;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(a->port);
        sin6->sin6_scope_id = a->scope_id;
        memcpy(&sin6->sin6_addr, a->ip, 16);
        *len = (int)sizeof *sin6;
        return 0;
    }
    return NET_E_ADDR;
}

void os_addr_from_sockaddr(const void *sa, net_addr *out)
{
    memset(out, 0, sizeof *out);
    const struct sockaddr *s = sa;
    if (s->sa_family == AF_INET) {
        const struct sockaddr_in *sin = sa;
        out->family = NET_AF_INET;
        out->port = ntohs(sin->sin_port);
        memcpy(out->ip, &sin->sin_addr, 4);
    } else if (s->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = sa;
        out->family = NET_AF_INET6;
        out->port = ntohs(sin6->sin6_port);
        out->scope_id = sin6->sin6_scope_id;
        memcpy(out->ip, &sin6->sin6_addr, 16);
    }
}

int os_resolve(const char *host, uint16_t port, net_addr *out, int *os_error)
{
    memset(out, 0, sizeof *out);
    out->port = port;
    if (!host || !*host) {
        out->family = NET_AF_INET;
        return 0;
    }
    /* Numeric addresses never touch the resolver. */
    if (inet_pton(AF_INET, host, out->ip) == 1) {
        out->family = NET_AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, host, out->ip) == 1) {
        out->family = NET_AF_INET6;
        return 0;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res) {
        if (os_error)
            *os_error = rc;
        return NET_E_ADDR;
    }
    os_addr_from_sockaddr(res->ai_addr, out);
    out->port = port;
    freeaddrinfo(res);
    return 0;
}

static int set_int_opt(int fd, int level, int name, int v)
{
    return setsockopt(fd, level, name, &v, sizeof v);
}

/* A socket call failed: closes fd (if any) and reports errno. */
static int sock_failed(int fd, int *os_error)
{
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (os_error)
        *os_error = e;
    return os_error_to_net(e);
}

int os_tcp_listen(const net_addr *addr, int backlog, uint32_t flags, net_sock *out, int *os_error)
{
    struct sockaddr_storage ss;
    int len;
    if (os_sockaddr_from_addr(addr, &ss, &len) != 0)
        return NET_E_ADDR;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if (flags & NET_TCP_REUSEADDR)
        set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (ss.ss_family == AF_INET6)
        set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, (flags & NET_TCP_IPV6ONLY) ? 1 : 0);
    if (bind(fd, (struct sockaddr *)&ss, (socklen_t)len) != 0)
        goto fail;
    if (listen(fd, backlog > 0 ? backlog : 511) != 0)
        goto fail;
    *out = fd;
    return 0;
fail:
    return sock_failed(fd, os_error);
}

int os_udp_open(const net_addr *addr, uint32_t flags, int rcvbuf, int sndbuf, net_sock *out, int *os_error)
{
    struct sockaddr_storage ss;
    int len;
    if (os_sockaddr_from_addr(addr, &ss, &len) != 0)
        return NET_E_ADDR;
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if ((flags & NET_UDP_REUSEADDR) && set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1) != 0)
        goto fail;
    if ((flags & NET_UDP_BROADCAST) && set_int_opt(fd, SOL_SOCKET, SO_BROADCAST, 1) != 0)
        goto fail;
    if (ss.ss_family == AF_INET6 && set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, (flags & NET_UDP_IPV6ONLY) ? 1 : 0) != 0)
        goto fail;
    if (rcvbuf > 0 && set_int_opt(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf) != 0)
        goto fail;
    if (sndbuf > 0 && set_int_opt(fd, SOL_SOCKET, SO_SNDBUF, sndbuf) != 0)
        goto fail;
    if (bind(fd, (struct sockaddr *)&ss, (socklen_t)len) != 0)
        goto fail;
    *out = fd;
    return 0;
fail:
    return sock_failed(fd, os_error);
}

int os_udp_connect(net_sock s, const net_addr *to, int *os_error)
{
    struct sockaddr_storage ss;
    int len;
    if (os_sockaddr_from_addr(to, &ss, &len) != 0)
        return NET_E_ADDR;
    if (connect((int)s, (struct sockaddr *)&ss, (socklen_t)len) == 0)
        return 0;
    return sock_failed(-1, os_error);
}

int os_tcp_socket(const net_addr *addr, net_sock *out, int *os_error)
{
    int fam = addr->family == NET_AF_INET6 ? AF_INET6 : AF_INET;
    int fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sock_failed(-1, os_error);
    *out = fd;
    return 0;
}

int os_tcp_prepare(net_sock s, uint32_t flags)
{
    int fd = (int)s;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (flags & NET_TCP_NODELAY)
        set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    if (flags & NET_TCP_KEEPALIVE)
        set_int_opt(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    return 0;
}

void os_sock_close(net_sock s)
{
    if (s != NET_BAD_SOCK)
        close((int)s);
}

int os_sock_shutdown_write(net_sock s)
{
    return shutdown((int)s, SHUT_WR) == 0 ? 0 : os_error_to_net(errno);
}

int os_sock_set_linger0(net_sock s)
{
    struct linger l = {1, 0};
    return setsockopt((int)s, SOL_SOCKET, SO_LINGER, &l, sizeof l) == 0 ? 0 : NET_E_OS;
}

int os_sock_set_option(net_sock s, int option, int64_t value, int *os_error)
{
    int fd = (int)s, rc;
    if (value < INT32_MIN || value > INT32_MAX)
        return NET_E_INVAL;
    switch (option) {
    case NET_OPT_NODELAY:
        rc = set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, value != 0);
        break;
    case NET_OPT_KEEPALIVE:
        rc = set_int_opt(fd, SOL_SOCKET, SO_KEEPALIVE, value != 0);
        break;
    case NET_OPT_SNDBUF:
        if (value <= 0)
            return NET_E_INVAL;
        rc = set_int_opt(fd, SOL_SOCKET, SO_SNDBUF, (int)value);
        break;
    case NET_OPT_RCVBUF:
        if (value <= 0)
            return NET_E_INVAL;
        rc = set_int_opt(fd, SOL_SOCKET, SO_RCVBUF, (int)value);
        break;
    case NET_OPT_REUSEADDR:
        rc = set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, value != 0);
        break;
    case NET_OPT_BROADCAST:
        rc = set_int_opt(fd, SOL_SOCKET, SO_BROADCAST, value != 0);
        break;
    case NET_OPT_LINGER: {
        struct linger l;
        l.l_onoff = value >= 0;
        l.l_linger = value >= 0 ? (int)value : 0;
        rc = setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        break;
    }
    default:
        return NET_E_INVAL;
    }
    if (rc != 0) {
        if (os_error)
            *os_error = errno;
        return os_error_to_net(errno);
    }
    return 0;
}

int os_sock_get_option(net_sock s, int option, int64_t *value, int *os_error)
{
    int fd = (int)s, v = 0, level = SOL_SOCKET, name;
    socklen_t len = sizeof v;
    switch (option) {
    case NET_OPT_NODELAY:
        level = IPPROTO_TCP;
        name = TCP_NODELAY;
        break;
    case NET_OPT_KEEPALIVE:
        name = SO_KEEPALIVE;
        break;
    case NET_OPT_SNDBUF:
        name = SO_SNDBUF;
        break;
    case NET_OPT_RCVBUF:
        name = SO_RCVBUF;
        break;
    case NET_OPT_REUSEADDR:
        name = SO_REUSEADDR;
        break;
    case NET_OPT_BROADCAST:
        name = SO_BROADCAST;
        break;
    case NET_OPT_LINGER: {
        struct linger l;
        socklen_t ll = sizeof l;
        if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &ll) != 0)
            goto fail;
        *value = l.l_onoff ? l.l_linger : -1;
        return 0;
    }
    default:
        return NET_E_INVAL;
    }
    if (getsockopt(fd, level, name, &v, &len) != 0)
        goto fail;
    *value = (option == NET_OPT_NODELAY || option == NET_OPT_KEEPALIVE || option == NET_OPT_REUSEADDR ||
              option == NET_OPT_BROADCAST)
                 ? (v != 0)
                 : v;
    return 0;
fail:
    if (os_error)
        *os_error = errno;
    return os_error_to_net(errno);
}

int os_sock_local_addr(net_sock s, net_addr *out)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname((int)s, (struct sockaddr *)&ss, &len) != 0)
        return os_error_to_net(errno);
    os_addr_from_sockaddr(&ss, out);
    return 0;
}

int os_sock_peer_addr(net_sock s, net_addr *out)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername((int)s, (struct sockaddr *)&ss, &len) != 0)
        return os_error_to_net(errno);
    os_addr_from_sockaddr(&ss, out);
    return 0;
}
