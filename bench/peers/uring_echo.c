/*
 * uring_echo.c - a hand-rolled io_uring echo server (liburing), the "raw
 * io_uring loop" peer for bench/run.py and bench/suite.py.
 *
 * Written the way a careful liburing user writes an echo server, with no
 * library between the loop and the ring:
 *  - one ring, set up with SINGLE_ISSUER|DEFER_TASKRUN where the kernel has
 *    them (else COOP_TASKRUN, else nothing), a multishot accept;
 *  - per connection one receive buffer and exactly one operation in flight:
 *    a recv, or the send that echoes what that recv brought. A completed
 *    read is echoed with ONE send of exactly the bytes read; a partial send
 *    sends the rest; only once everything went out is the recv re-armed. So
 *    bytes never reorder and the buffer is never overwritten while a send
 *    still reads it;
 *  - all the operations a batch of completions queued are submitted with the
 *    next wait, in one io_uring_enter.
 * The echo is framing-agnostic: the bytes of framed messages come back as
 * they arrived, which is the echo of those messages. --framing is checked
 * for the listening line only. Accepted sockets get TCP_NODELAY, as in the
 * other peers.
 *
 * SIGINT/SIGTERM are blocked outside the ring wait and unblocked only inside
 * it (the ring's own sigmask argument, like ppoll), so a stop signal never
 * falls between the check of the flag and the wait.
 *
 * CLI: docs/CONVENTIONS.md (--backend and --io-threads accepted, ignored).
 */
#define _GNU_SOURCE
#include "peer_common.h"

#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { RECV_BUF_SIZE = 65536, RING_ENTRIES = 4096, RING_CQ_ENTRIES = 16384 };

typedef struct conn {
    int fd;
    int sending;    /* the op in flight is the echo's send (else the recv) */
    size_t pending; /* bytes of the echo not sent yet */
    size_t sent;    /* bytes of the echo already sent */
    uint8_t buf[RECV_BUF_SIZE];
} conn;

static peer_opts opts;
static struct io_uring ring;
static int listen_fd;
static unsigned long long n_conns, n_reads, n_bytes_in;

/* An SQE; when the submission queue is full, what is in it goes to the kernel first. */
static struct io_uring_sqe *get_sqe(void)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    if (!sqe) {
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
    }
    if (!sqe) {
        fprintf(stderr, "io_uring: no submission queue entry after a submit\n");
        exit(1);
    }
    return sqe;
}

/* user_data: ACCEPT_TAG the listener's accept, RETRY_TAG the pause before
 * re-arming it after an error, anything else a conn (malloc'd, so never 0 or 1). */
enum { ACCEPT_TAG = 0, RETRY_TAG = 1 };

static void arm_accept(void)
{
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ACCEPT_TAG);
}

/* After a failed accept (EMFILE & co) a new one at once would fail again at
 * once: it is re-armed 10 ms later, so the loop does not spin meanwhile. */
static void arm_accept_retry(void)
{
    static struct __kernel_timespec pause = {.tv_sec = 0, .tv_nsec = 10000000};
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_timeout(sqe, &pause, 0, 0);
    io_uring_sqe_set_data64(sqe, RETRY_TAG);
}

static void arm_recv(conn *c)
{
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_recv(sqe, c->fd, c->buf, sizeof c->buf, 0);
    io_uring_sqe_set_data(sqe, c);
    c->sending = 0;
}

static void arm_send(conn *c)
{
    struct io_uring_sqe *sqe = get_sqe();
    io_uring_prep_send(sqe, c->fd, c->buf + c->sent, c->pending, MSG_NOSIGNAL);
    io_uring_sqe_set_data(sqe, c);
    c->sending = 1;
}

/* Only called when the conn's single op has completed: nothing refers to it any more. */
static void conn_close(conn *c)
{
    close(c->fd);
    free(c);
    n_conns--;
}

static void on_accept(const struct io_uring_cqe *cqe)
{
    /* Without F_MORE the multishot accept has ended (an error, or the kernel dropped it). */
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        if (cqe->res < 0)
            arm_accept_retry();
        else
            arm_accept();
    }
    if (cqe->res < 0)
        return; /* EMFILE & co: the connection stays in the backlog for a later try */
    int fd = cqe->res;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn *c = malloc(sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    c->pending = c->sent = 0;
    n_conns++;
    arm_recv(c);
}

static void on_recv(conn *c, int res)
{
    if (res <= 0) { /* 0: the peer's FIN; < 0: reset or another error */
        conn_close(c);
        return;
    }
    n_reads++;
    n_bytes_in += (unsigned long long)res;
    c->pending = (size_t)res;
    c->sent = 0;
    arm_send(c);
}

static void on_send(conn *c, int res)
{
    if (res <= 0) {
        conn_close(c);
        return;
    }
    c->sent += (size_t)res;
    c->pending -= (size_t)res;
    if (c->pending > 0)
        arm_send(c); /* a partial send: the rest, from where it stopped */
    else
        arm_recv(c);
}

static void on_cqe(const struct io_uring_cqe *cqe)
{
    uint64_t tag = io_uring_cqe_get_data64(cqe);
    conn *c = io_uring_cqe_get_data(cqe);
    if (tag == ACCEPT_TAG)
        on_accept(cqe);
    else if (tag == RETRY_TAG)
        arm_accept(); /* the pause ended (-ETIME) */
    else if (c->sending)
        on_send(c, cqe->res);
    else
        on_recv(c, cqe->res);
}

static void print_stats(void)
{
    fprintf(stderr, "stats conns=%llu reads=%llu bytes_in=%llu\n", n_conns, n_reads, n_bytes_in);
}

static int open_listener(void)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (peer_sockaddr(&opts, &ss, &sl) < 0) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 511) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* The cheapest task-work mode the kernel takes, as a careful user would try them in turn. */
static int setup_ring(void)
{
    static const struct {
        unsigned flags;
        const char *name;
    } modes[] = {
        {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "single_issuer+defer_taskrun"},
        {IORING_SETUP_COOP_TASKRUN, "coop_taskrun"},
        {0, "plain"},
    };
    int r = -EINVAL;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = modes[i].flags | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
        p.cq_entries = RING_CQ_ENTRIES;
        r = io_uring_queue_init_params(RING_ENTRIES, &ring, &p);
        if (r == 0) {
            fprintf(stderr, "io_uring ring: %s, %u sq / %u cq entries\n", modes[i].name, p.sq_entries, p.cq_entries);
            return 0;
        }
    }
    fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-r));
    return -1;
}

/* Submits what is queued and waits for one completion, a timeout or a stop signal; then handles every CQE. */
static int run_once(double wait_sec, const sigset_t *wait_mask)
{
    if (wait_sec < 0.001)
        wait_sec = 0.001;
    struct __kernel_timespec ts;
    ts.tv_sec = (long long)wait_sec;
    ts.tv_nsec = (long long)((wait_sec - (double)ts.tv_sec) * 1e9);
    struct io_uring_cqe *cqe;
    int r = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, (sigset_t *)wait_mask);
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
        fprintf(stderr, "io_uring_submit_and_wait_timeout: %s\n", strerror(-r));
        return -1;
    }
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe)
    {
        on_cqe(cqe);
        seen++;
    }
    io_uring_cq_advance(&ring, seen);
    return 0;
}

int main(int argc, char **argv)
{
    peer_parse_args(argc, argv, &opts);
    peer_catch_stop();
    sigset_t stops, wait_mask;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    sigprocmask(SIG_BLOCK, &stops, &wait_mask);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);

    listen_fd = open_listener();
    if (listen_fd < 0) {
        fprintf(stderr, "listen %s:%d: %s\n", opts.host, opts.port, strerror(errno));
        return 1;
    }
    if (setup_ring() < 0)
        return 1;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(listen_fd, (struct sockaddr *)&bound, &blen);
    arm_accept();
    peer_print_listening(&bound, "uring-raw", &opts, "");

    double start = peer_now_sec();
    double deadline = opts.seconds > 0 ? start + opts.seconds : 0;
    double next_stats = start + 2.0;
    while (!peer_stop_signal()) {
        double t = peer_now_sec();
        if (deadline > 0 && t >= deadline)
            break;
        if (t >= next_stats) {
            print_stats();
            next_stats += 2.0;
        }
        double wake = next_stats;
        if (deadline > 0 && deadline < wake)
            wake = deadline;
        if (run_once(wake - t, &wait_mask) < 0)
            return 1;
    }
    if (peer_stop_signal())
        fprintf(stderr, "stopping on signal %d\n", peer_stop_signal());
    print_stats();
    io_uring_queue_exit(&ring);
    close(listen_fd);
    return 0;
}
