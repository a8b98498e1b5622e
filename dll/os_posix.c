/* os_posix.c - os.h on Linux and other POSIX systems, with the hooks of
 * os_socket.h (the socket code both platforms share is in os_socket.c). */
#define _GNU_SOURCE
#include "os_socket.h"
#include "testhooks.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

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

uint64_t os_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void os_random(void *out, size_t len)
{
    uint8_t *w = out;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    while (fd >= 0 && len) {
        ssize_t n = read(fd, w, len);
        if (n <= 0)
            break;
        w += n;
        len -= (size_t)n;
    }
    if (fd >= 0)
        close(fd);
    /* No /dev/urandom (a chroot): the clock, which the caller stretches. */
    for (uint64_t t = os_now_us(); len; len--, t = t * 6364136223846793005ULL + 1442695040888963407ULL)
        *w++ = (uint8_t)(t >> 56);
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

int os_error_is_listener_broken(int e)
{
    return e == EBADF || e == ENOTSOCK || e == EINVAL || e == EOPNOTSUPP;
}

_Static_assert(sizeof(net_iov) == sizeof(struct iovec), "net_iov must match struct iovec");

/* One piece is the common case in a game, and a plain send is cheaper
 * than sendmsg. */
int os_sock_send_now(net_sock s, const net_iov *iov, int count, int *os_error)
{
    int fd = (int)s;
    ssize_t r;
    int fault = net__fault(NET_FAULT_SEND);
    if (fault) {
        errno = fault;
        r = -1;
    } else if (count == 1) {
        do
            r = send(fd, iov[0].base, iov[0].len, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (r < 0 && errno == EINTR);
    } else {
        struct msghdr m;
        memset(&m, 0, sizeof m);
        m.msg_iov = (struct iovec *)(void *)iov;
        m.msg_iovlen = (size_t)count;
        do
            r = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        while (r < 0 && errno == EINTR);
    }
    if (r >= 0)
        return r > 0x7FFFFFFF ? 0x7FFFFFFF : (int)r;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    *os_error = errno;
    return os_error_to_net(errno);
}

/* ---- os_socket.h hooks ---- */

/* The names os_error_by_name knows: here each error is itself. */
const os_sys_error_name os_sys_error_names[] = {
    {"EMFILE", EMFILE},         {"ENFILE", ENFILE}, {"ENOBUFS", ENOBUFS},
    {"ECONNRESET", ECONNRESET}, {"EBUSY", EBUSY},   {"EAGAIN", EAGAIN},
    {"EPIPE", EPIPE},           {"EPERM", EPERM},   {NULL, 0},
};

os_sys_sock os_sys_socket(int family, int type)
{
    return socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

int os_sys_set_nonblocking(os_sys_sock fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    if (fl & O_NONBLOCK)
        return 0;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 ? 0 : -1;
}

void os_sys_set_last_error(int os_error)
{
    errno = os_error;
}

int os_sys_reuseaddr_option(os_sys_sock fd)
{
    (void)fd;
    return SO_REUSEADDR;
}

int os_sys_setup_error_to_net(int os_error)
{
    return os_error_to_net(os_error);
}

net_addr os_sys_udp_peer(os_sys_sock fd, const net_addr *to)
{
    (void)fd;
    return *to;
}

void os_sys_udp_icmp_reports(os_sys_sock fd, int connected)
{
    (void)fd;
    (void)connected;
}
