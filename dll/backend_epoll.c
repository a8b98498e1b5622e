/*
 * backend_epoll.c - the Linux fallback, adapted to the completion-shaped
 * contract: each socket is registered once, edge-triggered, for input and
 * output; when the kernel says a socket is ready we perform the syscall the
 * core asked for and report it as a completion.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "testhooks.h"
#include "backend.h"

/* Per socket and wait() turn: recv calls (recvmmsg batches on UDP), and
 * accept4 calls, so that one busy socket cannot starve the others. */
#define READS_PER_TURN 16
#define ACCEPTS_PER_TURN 64
/* Datagrams per recvmmsg/sendmmsg. */
#define DGRAM_BATCH 32
/* A receive slot larger than any UDP payload: what does not fit is
 * truncated, then dropped. */
#define DGRAM_SLOT 65536

typedef struct ep_sock {
    int fd;
    /* The core's net_conn, net_listener or net_udp: each begins with its
     * net_obj, so this one pointer serves the typed calls and
     * net__released alike. */
    void *obj;
    /* The last read did not drain the socket. Edge-triggered: no new edge
     * will say so, the flag remembers it. */
    int readable;
    /* The peer's FIN (or an error) is waiting behind the data. */
    int rdhup;
    int writable;
    int reading, accepting, connecting, closed;
    /* A send waiting for EPOLLOUT. */
    const net_iov *pend_iov;
    int pend_n;
    /* A UDP batch waiting for EPOLLOUT: pend_done of its pend_n datagrams
     * are finished. */
    const net_dgram *pend_dg;
    int pend_done;
    int in_ready;
    struct ep_sock *ready_next;
} ep_sock;

typedef struct ep_loop {
    int epfd;
    int evfd;
    int nevents;
    struct epoll_event *events;
    /* Sockets with work the last wait did not report. */
    ep_sock *ready;
    /* UDP scratch, used within one call: receive slots are only touched as
     * far as datagrams reach, so the address space costs little memory. */
    uint8_t *dg_buf;
    struct mmsghdr dg_msgs[DGRAM_BATCH];
    struct iovec dg_iov[DGRAM_BATCH];
    struct sockaddr_storage dg_addr[DGRAM_BATCH];
} ep_loop;

static ep_loop *L(net_loop *loop)
{
    return *net__loop_bk(loop);
}

static int ep_probe(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0)
        return NET_E_UNSUPPORTED;
    close(fd);
    return 0;
}

static int ep_loop_open(net_loop *loop)
{
    ep_loop *l = net__calloc(1, sizeof *l);
    if (!l)
        return NET_E_NOMEM;
    l->nevents = (int)net__loop_batch(loop);
    l->events = net__calloc((size_t)l->nevents, sizeof *l->events);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (!l->events || l->epfd < 0 || l->evfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) != 0) {
        if (l->epfd >= 0)
            close(l->epfd);
        if (l->evfd >= 0)
            close(l->evfd);
        free(l->events);
        free(l);
        return NET_E_OS;
    }
    *net__loop_bk(loop) = l;
    return 0;
}

static void ep_loop_close(net_loop *loop)
{
    ep_loop *l = L(loop);
    if (!l)
        return;
    close(l->epfd);
    close(l->evfd);
    free(l->events);
    free(l->dg_buf);
    free(l);
    *net__loop_bk(loop) = NULL;
}

/* EAGAIN (the counter is full) means a wake-up is already pending: the
 * write needs no check. */
static void ep_wake(net_loop *loop)
{
    uint64_t one = 1;
    ssize_t r = write(L(loop)->evfd, &one, sizeof one);
    (void)r;
}

static void make_ready(ep_loop *l, ep_sock *s)
{
    if (s->in_ready || s->closed)
        return;
    s->in_ready = 1;
    s->ready_next = l->ready;
    l->ready = s;
}

static ep_sock *sock_new(int fd, void *obj)
{
    ep_sock *s = net__calloc(1, sizeof *s);
    if (s) {
        s->fd = fd;
        s->obj = obj;
    }
    return s;
}

/* The last step of every open function: s (NULL when sock_new failed)
 * joins the epoll set, edge-triggered, for events, and goes into its
 * object's slot. On failure s is freed; the socket stays the core's to
 * close. */
static int sock_attach(ep_loop *l, ep_sock *s, uint32_t events, int *os_error)
{
    if (!s)
        return NET_E_NOMEM;
    struct epoll_event ev = {.events = events | EPOLLET, .data.ptr = s};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->fd, &ev) != 0) {
        *os_error = errno;
        free(s);
        return os_error_to_net(*os_error);
    }
    *net__obj_bk(s->obj) = s;
    return 0;
}

/* Nothing is outstanding on an epoll socket: it is released at once. An
 * event for it may still wait in this turn's batch (closed says to skip
 * it); the core frees it after the turn. */
static void ep_close(net_loop *loop, net_obj *o)
{
    (void)loop;
    ep_sock *s = *net__obj_bk(o);
    /* Without s it was never registered. */
    if (s) {
        s->closed = 1;
        s->pend_dg = NULL;
        /* Closing the fd also takes it out of the epoll set. */
        close(s->fd);
        s->fd = -1;
    }
    net__released(o);
}

/* After the turn that closed it (backend.h): no event names s any more. */
static void ep_sock_free(net_loop *loop, net_obj *o)
{
    (void)loop;
    free(*net__obj_bk(o));
}

/* ---- listeners ---- */

static int ep_listener_open(net_loop *loop, net_listener *ls, int *os_error)
{
    ep_sock *s = sock_new((int)net__obj_sock(net__obj(ls)), ls);
    return sock_attach(L(loop), s, EPOLLIN, os_error);
}

/* accept4, or in test builds now and then the error NET_TEST_FAULT asks
 * for. */
static int accept_one(int fd, struct sockaddr_storage *ss, socklen_t *len)
{
    int fault = net__fault(NET_FAULT_ACCEPT);
    if (fault) {
        errno = fault;
        return -1;
    }
    return accept4(fd, (struct sockaddr *)ss, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

/* Takes what the backlog holds. A connection aborted before we took it is
 * skipped. After ACCEPTS_PER_TURN more may wait, and no new edge will say
 * so: the listener comes back next turn. */
static void do_accept(ep_loop *l, ep_sock *s)
{
    for (int i = 0; i < ACCEPTS_PER_TURN && s->accepting && !s->closed; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept_one(s->fd, &ss, &len);
        if (fd >= 0) {
            net_addr peer;
            os_addr_from_sockaddr(&ss, &peer);
            net__accepted(s->obj, fd, &peer, 0, 0);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            s->readable = 0;
            return;
        }
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            continue;
        int e = errno;
        net__accepted(s->obj, NET_BAD_SOCK, NULL, os_error_to_net(e), e);
        /* A broken listening socket: no retry. Out of descriptors (or
         * errors that keep coming) the core stopped accepting, and
         * accept_start comes back. Anything else cost that attempt: the
         * backlog is tried again next turn, as no new edge may come for it. */
        if (!s->accepting || os_error_is_listener_broken(e))
            return;
        break;
    }
    s->readable = 1;
    make_ready(l, s);
}

/* Connections may already wait in the backlog, with no new edge to come. */
static void ep_accept_start(net_loop *loop, net_listener *ls)
{
    ep_sock *s = *net__obj_bk(net__obj(ls));
    s->accepting = 1;
    make_ready(L(loop), s);
}

static void ep_accept_stop(net_loop *loop, net_listener *ls)
{
    (void)loop;
    ep_sock *s = *net__obj_bk(net__obj(ls));
    s->accepting = 0;
}

/* ---- connections ---- */

static int ep_conn_open(net_loop *loop, net_conn *c, int *os_error)
{
    ep_sock *s = sock_new((int)net__obj_sock(net__obj(c)), c);
    return sock_attach(L(loop), s, EPOLLIN | EPOLLOUT | EPOLLRDHUP, os_error);
}

static int ep_connect(net_loop *loop, net_conn *c, const net_addr *to, int *os_error)
{
    ep_sock *s = *net__obj_bk(net__obj(c));
    struct sockaddr_storage ss;
    int len;
    if (os_sockaddr_from_addr(to, &ss, &len) != 0)
        return NET_E_ADDR;
    s->connecting = 1;
    if (connect(s->fd, (struct sockaddr *)&ss, (socklen_t)len) == 0) {
        s->writable = 1;
        make_ready(L(loop), s);
        return 0;
    }
    if (errno == EINPROGRESS || errno == EINTR)
        return 0;
    s->connecting = 0;
    *os_error = errno;
    return os_error_to_net(errno);
}

static void finish_connect(ep_sock *s)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    /* Not yet: wait for the next edge. */
    if (err == EINPROGRESS || err == EALREADY)
        return;
    s->connecting = 0;
    net__connected(s->obj, err ? os_error_to_net(err) : 0, err);
}

/* recv, or in test builds now and then the error NET_TEST_FAULT asks for. */
static ssize_t recv_some(int fd, void *buf, size_t cap)
{
    int fault = net__fault(NET_FAULT_RECV);
    if (fault) {
        errno = fault;
        return -1;
    }
    return recv(fd, buf, cap, 0);
}

/* Reading ends: with the peer's FIN (e == 0) or with the error e. */
static void read_ended(ep_sock *s, void *buf, int e)
{
    s->readable = 0;
    s->reading = 0;
    if (e)
        net__recv_failed(s->obj, os_error_to_net(e), e);
    else
        net__received(s->obj, buf, 0);
}

/* Reads what the socket has into the core's window. After READS_PER_TURN
 * reads the socket waits on the ready list, so the others get their turn
 * first. */
static void do_read(net_loop *loop, ep_loop *l, ep_sock *s)
{
    for (int i = 0; i < READS_PER_TURN; i++) {
        if (!s->reading || s->closed)
            return;
        size_t cap;
        void *buf = net__recv_window(loop, &cap);
        /* Out of memory now: try again next turn. */
        if (!buf) {
            make_ready(l, s);
            return;
        }
        ssize_t n = recv_some(s->fd, buf, cap);
        if (n > 0) {
            net__received(s->obj, buf, (size_t)n);
            /* Edge-triggered: a short read drained the socket, and new
             * data raises a new edge, unless a FIN is already queued
             * behind this data: then read on until it shows. */
            if ((size_t)n < cap && !s->rdhup) {
                s->readable = 0;
                return;
            }
            continue;
        }
        if (n == 0) {
            read_ended(s, buf, 0);
            return;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            s->readable = 0;
            return;
        }
        if (errno == EINTR)
            continue;
        read_ended(s, buf, errno);
        return;
    }
    make_ready(l, s);
}

static void ep_recv_start(net_loop *loop, net_conn *c)
{
    ep_sock *s = *net__obj_bk(net__obj(c));
    s->reading = 1;
    if (s->readable || s->rdhup)
        make_ready(L(loop), s);
}

static void ep_recv_stop(net_loop *loop, net_conn *c)
{
    (void)loop;
    ep_sock *s = *net__obj_bk(net__obj(c));
    s->reading = 0;
}

static int ep_send(net_loop *loop, net_conn *c, const net_iov *iov, int count, int *os_error)
{
    (void)loop;
    ep_sock *s = *net__obj_bk(net__obj(c));
    int r = os_sock_send_now(s->fd, iov, count, os_error);
    if (r != 0)
        return r;
    s->pend_iov = iov;
    s->pend_n = count;
    s->writable = 0;
    return NET__PENDING;
}

static void finish_send(ep_sock *s)
{
    int os_error = 0;
    int r = os_sock_send_now(s->fd, s->pend_iov, s->pend_n, &os_error);
    if (r == 0) {
        s->writable = 0;
        return;
    }
    s->pend_iov = NULL;
    net__sent(s->obj, r > 0 ? (size_t)r : 0, r < 0 ? r : 0, os_error);
}

/* ---- UDP ---- */

static int ep_udp_open(net_loop *loop, net_udp *u, int *os_error)
{
    ep_loop *l = L(loop);
    /* The loop's datagram slots come with its first UDP socket. */
    if (!l->dg_buf)
        l->dg_buf = net__malloc((size_t)DGRAM_BATCH * DGRAM_SLOT);
    if (!l->dg_buf)
        return NET_E_NOMEM;
    ep_sock *s = sock_new((int)net__obj_sock(net__obj(u)), u);
    return sock_attach(l, s, EPOLLIN | EPOLLOUT, os_error);
}

/* Points each message of the loop's scratch at its slot and address for
 * recvmmsg, which overwrites the lengths and flags: done before each call. */
static void dgram_recv_prepare(ep_loop *l)
{
    for (int i = 0; i < DGRAM_BATCH; i++) {
        l->dg_iov[i].iov_base = l->dg_buf + (size_t)i * DGRAM_SLOT;
        l->dg_iov[i].iov_len = DGRAM_SLOT;
        struct msghdr *m = &l->dg_msgs[i].msg_hdr;
        memset(m, 0, sizeof *m);
        m->msg_name = &l->dg_addr[i];
        m->msg_namelen = sizeof l->dg_addr[i];
        m->msg_iov = &l->dg_iov[i];
        m->msg_iovlen = 1;
    }
}

/* The n datagrams recvmmsg received, to the core (which may close the
 * socket from a callback). */
static void dgram_deliver(ep_loop *l, ep_sock *s, int n)
{
    for (int i = 0; i < n && !s->closed; i++) {
        net_addr from;
        os_addr_from_sockaddr(&l->dg_addr[i], &from);
        net__udp_received(s->obj, l->dg_iov[i].iov_base, l->dg_msgs[i].msg_len, &from,
                          (l->dg_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0);
    }
}

/* Receives DGRAM_BATCH datagrams a call; a short batch drained the socket.
 * An error (ICMP news such as ECONNREFUSED on a connected socket) is
 * consumed by the call that returns it, and reported; the socket goes on
 * receiving, next turn when short of memory rather than spin. After
 * READS_PER_TURN batches the socket waits on the ready list, so the others
 * get their turn first. */
static void do_udp_read(ep_loop *l, ep_sock *s)
{
    for (int batch = 0; batch < READS_PER_TURN; batch++) {
        if (!s->reading || s->closed)
            return;
        dgram_recv_prepare(l);
        int n = recvmmsg(s->fd, l->dg_msgs, DGRAM_BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK) {
                s->readable = 0;
                return;
            }
            if (e == EINTR)
                continue;
            net__udp_recv_error(s->obj, os_error_to_net(e), e);
            if (e == ENOMEM || e == ENOBUFS) {
                make_ready(l, s);
                return;
            }
            continue;
        }
        dgram_deliver(l, s, n);
        if (n < DGRAM_BATCH) {
            s->readable = 0;
            return;
        }
    }
    make_ready(l, s);
}

/* Datagrams may have queued while we were not reading, with no new edge to
 * come: look once. */
static void ep_udp_recv_start(net_loop *loop, net_udp *u)
{
    ep_sock *s = *net__obj_bk(net__obj(u));
    s->reading = 1;
    s->readable = 1;
    make_ready(L(loop), s);
}

static void ep_udp_recv_stop(net_loop *loop, net_udp *u)
{
    (void)loop;
    ep_sock *s = *net__obj_bk(net__obj(u));
    s->reading = 0;
}

/* Fills the loop's scratch with k datagrams for sendmmsg. One whose
 * address does not convert goes without one: the kernel refuses it unless
 * the socket is connected. */
static void dgram_send_prepare(ep_loop *l, const net_dgram *d, int k)
{
    for (int i = 0; i < k; i++) {
        const net_dgram *g = &d[i];
        struct msghdr *m = &l->dg_msgs[i].msg_hdr;
        memset(m, 0, sizeof *m);
        l->dg_iov[i].iov_base = (void *)g->data;
        l->dg_iov[i].iov_len = g->len;
        m->msg_iov = &l->dg_iov[i];
        m->msg_iovlen = 1;
        if (!g->connected) {
            int len;
            if (os_sockaddr_from_addr(&g->to, &l->dg_addr[i], &len) == 0) {
                m->msg_name = &l->dg_addr[i];
                m->msg_namelen = (socklen_t)len;
            }
        }
    }
}

/* Sends d[s->pend_done..n); returns 1 when all are finished, 0 when the
 * socket is full. When sendmmsg sends nothing, the first datagram of the
 * call was refused (a return of 0 without an error counts as EIO): it is
 * reported, counts as finished, and the rest go on. */
static int udp_send_some(ep_loop *l, ep_sock *s, const net_dgram *d, int n)
{
    while (s->pend_done < n) {
        int k = n - s->pend_done;
        if (k > DGRAM_BATCH)
            k = DGRAM_BATCH;
        dgram_send_prepare(l, &d[s->pend_done], k);
        int r = sendmmsg(s->fd, l->dg_msgs, (unsigned)k, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r > 0) {
            s->pend_done += r;
            continue;
        }
        int e = r < 0 ? errno : EIO;
        if (e == EINTR)
            continue;
        if (e == EAGAIN || e == EWOULDBLOCK) {
            s->writable = 0;
            return 0;
        }
        net__udp_send_failed(s->obj, &d[s->pend_done], os_error_to_net(e), e);
        s->pend_done++;
    }
    return 1;
}

/* A datagram the OS refuses is reported on its own (net__udp_send_failed)
 * and the batch goes on: the batch itself never fails, so no OS error is
 * left for os_error. */
static int ep_udp_send(net_loop *loop, net_udp *u, const net_dgram *d, int count, int *os_error)
{
    (void)os_error;
    ep_sock *s = *net__obj_bk(net__obj(u));
    s->pend_done = 0;
    if (udp_send_some(L(loop), s, d, count))
        return count;
    s->pend_dg = d;
    s->pend_n = count;
    return NET__PENDING;
}

static void finish_udp_send(ep_loop *l, ep_sock *s)
{
    if (!udp_send_some(l, s, s->pend_dg, s->pend_n))
        return;
    s->pend_dg = NULL;
    net__udp_sent(s->obj, s->pend_n);
}

/* ---- the wait ---- */

/* Does the work s is ready for. A callback may close s, so each step
 * checks again. */
static void service(net_loop *loop, ep_loop *l, ep_sock *s)
{
    if (s->closed)
        return;
    uint32_t kind = net__obj_kind(s->obj);
    if (kind == OBJ_LISTENER) {
        if (s->accepting && s->readable)
            do_accept(l, s);
        return;
    }
    if (kind == OBJ_UDP) {
        if (s->pend_dg && s->writable)
            finish_udp_send(l, s);
        if (s->reading && s->readable && !s->closed)
            do_udp_read(l, s);
        return;
    }
    if (s->connecting && s->writable)
        finish_connect(s);
    if (s->pend_iov && s->writable && !s->closed)
        finish_send(s);
    if (s->reading && (s->readable || s->rdhup) && !s->closed)
        do_read(loop, l, s);
}

/* What an event says, kept until the work it allows is done: no new edge
 * repeats it. An error or a hang-up lets every waiting call run and meet
 * it. */
static void note_events(ep_sock *s, uint32_t ev)
{
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
        s->readable = 1;
    if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        s->rdhup = 1;
    if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
        s->writable = 1;
}

/* Reads the wake-up eventfd back to zero: it is level-triggered, and would
 * report again. */
static void wake_reset(ep_loop *l)
{
    uint64_t v;
    ssize_t r = read(l->evfd, &v, sizeof v);
    (void)r;
}

/* Work the kernel will not report again: started reads on sockets already
 * readable, accepts resumed, turns cut short for fairness. */
static void drain_ready(net_loop *loop, ep_loop *l)
{
    ep_sock *ready = l->ready;
    l->ready = NULL;
    while (ready) {
        ep_sock *s = ready;
        ready = s->ready_next;
        s->in_ready = 0;
        service(loop, l, s);
    }
}

static int ep_wait(net_loop *loop, int timeout_ms)
{
    ep_loop *l = L(loop);
    /* Work already waiting: only look, do not block. */
    if (l->ready)
        timeout_ms = 0;
    int n = epoll_wait(l->epfd, l->events, l->nevents, timeout_ms);
    for (int i = 0; i < n; i++) {
        ep_sock *s = l->events[i].data.ptr;
        /* The wake-up eventfd is the one entry with no socket. */
        if (!s) {
            wake_reset(l);
            continue;
        }
        if (s->closed)
            continue;
        note_events(s, l->events[i].events);
        service(loop, l, s);
    }
    drain_ready(loop, l);
    return n < 0 ? 0 : n;
}

/* ---- a waitable (io_threads = 0) ---- */

/* The epoll set is itself pollable: readable while a socket's event or a
 * wake-up waits in it. */
static int ep_watch(net_loop *loop, intptr_t *pollable)
{
    *pollable = L(loop)->epfd;
    return 0;
}

/* Edge-triggered sockets a turn left ready get no new edge. */
static int ep_has_work(net_loop *loop)
{
    return L(loop)->ready != NULL;
}

const net_backend net__backend_epoll = {
    .name = "epoll",
    .probe = ep_probe,
    .loop_open = ep_loop_open,
    .loop_close = ep_loop_close,
    .wait = ep_wait,
    .wake = ep_wake,
    .watch = ep_watch,
    .has_work = ep_has_work,
    .sock_free = ep_sock_free,
    .close = ep_close,
    .listener_open = ep_listener_open,
    .accept_start = ep_accept_start,
    .accept_stop = ep_accept_stop,
    .conn_open = ep_conn_open,
    .connect = ep_connect,
    .recv_start = ep_recv_start,
    .recv_stop = ep_recv_stop,
    .send = ep_send,
    .send_now = os_sock_send_now,
    .udp_open = ep_udp_open,
    .udp_recv_start = ep_udp_recv_start,
    .udp_recv_stop = ep_udp_recv_stop,
    .udp_send = ep_udp_send,
};
