/* os_waitable_linux.c - the waitable of net_engine_waitable on Linux: an
 * epoll set that another loop polls for readability. It holds an eventfd
 * (raised while events wait), a timerfd (the engine's next deadline) and,
 * with io_threads = 0, the backend's own pollable descriptor. All three are
 * level-triggered, so the set stays readable as long as any of them is. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include "os.h"

struct os_waitable {
    int set;
    int evfd;
    int tfd;
};

static int watch_fd(int set, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    return epoll_ctl(set, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : NET_E_OS;
}

static void close_all(os_waitable *w)
{
    if (w->set >= 0)
        close(w->set);
    if (w->evfd >= 0)
        close(w->evfd);
    if (w->tfd >= 0)
        close(w->tfd);
    free(w);
}

int os_waitable_open(os_waitable **out, void (*due)(void *), void *arg)
{
    (void)due;
    (void)arg;
    os_waitable *w = malloc(sizeof *w);
    if (!w)
        return NET_E_NOMEM;
    w->set = epoll_create1(EPOLL_CLOEXEC);
    w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->set < 0 || w->evfd < 0 || w->tfd < 0 || watch_fd(w->set, w->evfd) != 0 || watch_fd(w->set, w->tfd) != 0) {
        int rc = errno == ENOMEM ? NET_E_NOMEM : NET_E_OS;
        close_all(w);
        return rc;
    }
    *out = w;
    return 0;
}

intptr_t os_waitable_handle(const os_waitable *w)
{
    return w->set;
}

int os_waitable_watch(os_waitable *w, intptr_t pollable)
{
    return watch_fd(w->set, (int)pollable);
}

/* A full counter (EAGAIN) is raised already. */
void os_waitable_raise(os_waitable *w)
{
    uint64_t one = 1;
    ssize_t r = write(w->evfd, &one, sizeof one);
    (void)r;
}

/* Reading an eventfd takes its whole count: one read clears it. */
void os_waitable_clear(os_waitable *w)
{
    uint64_t v;
    ssize_t r = read(w->evfd, &v, sizeof v);
    (void)r;
}

/* An absolute CLOCK_MONOTONIC time, the clock of os_now_ms: it cannot
 * expire before os_now_ms() reaches the deadline. Setting the timer again
 * also takes back an expiry not yet read, so an old deadline stops making
 * the set readable. An all-zero time would disarm it: 0 becomes 1 ns. */
void os_waitable_deadline(os_waitable *w, uint64_t deadline_ms)
{
    struct itimerspec its = {{0, 0}, {0, 0}};
    if (deadline_ms != UINT64_MAX) {
        its.it_value.tv_sec = (time_t)(deadline_ms / 1000u);
        its.it_value.tv_nsec = (long)(deadline_ms % 1000u) * 1000000L;
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1;
    }
    timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

void os_waitable_close(os_waitable *w)
{
    if (w)
        close_all(w);
}
