/*
 * epoll_udp_echo.c - a hand-rolled epoll UDP echo server, the "no library at
 * all, batched" peer for bench/run.py --udp.
 *
 * One non-blocking socket in a level-triggered epoll set. On readiness it
 * takes up to 64 datagrams per recvmmsg call and sends the batch straight
 * back from the same buffers with sendmmsg (each to its sender), until
 * recvmmsg finds the socket empty. When the socket will not take the whole
 * batch (EAGAIN), the rest waits and receiving stops: the interest switches
 * to EPOLLOUT until the batch is out, then back. Nothing is dropped here;
 * the kernel drops at the receive buffer instead. Datagrams larger than
 * --max-message (or truncated) are dropped and counted.
 *
 * CLI: docs/CONVENTIONS.md (--backend and --io-threads accepted, ignored;
 * --framing must be raw). Prints the same "listening on" line as
 * samples/udp_echo and, at exit, its SUMMARY line.
 */
#define _GNU_SOURCE
#include "peer_common.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define DGRAM_MAX 65536

static peer_opts opts;
static int fd, ep;
static uint8_t bufs[BATCH][DGRAM_MAX];
static struct iovec rx_iov[BATCH], tx_iov[BATCH];
static struct sockaddr_storage addrs[BATCH];
static struct mmsghdr rx[BATCH], tx[BATCH];
static int tx_off, tx_count; /* a batch the socket did not take all of: tx[tx_off..tx_count) */
static unsigned long long n_in, n_echoed, n_oversize, n_send_errors, n_recv_errors, n_stalls;

static void set_interest(uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0) {
        perror("epoll_ctl");
        exit(1);
    }
}

/* Sends tx[tx_off..tx_count). 0 when all went out, -1 when the socket is full. */
static int flush(void)
{
    while (tx_off < tx_count) {
        int r = sendmmsg(fd, tx + tx_off, (unsigned)(tx_count - tx_off), 0);
        if (r > 0) {
            n_echoed += (unsigned long long)r;
            tx_off += r;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return -1;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else {
            /* The first datagram of the rest was refused (e.g. an ICMP error
             * reported late): skip it, the others still go. */
            n_send_errors++;
            tx_off++;
        }
    }
    tx_off = tx_count = 0;
    return 0;
}

/* Receives and echoes until the socket is empty or will not take more. */
static void on_readable(void)
{
    if (tx_count > 0)
        return; /* bufs still hold a batch waiting for EPOLLOUT */
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            rx[i].msg_hdr.msg_name = &addrs[i];
            rx[i].msg_hdr.msg_namelen = sizeof addrs[i];
            rx[i].msg_hdr.msg_flags = 0;
        }
        int n = recvmmsg(fd, rx, BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                n_recv_errors++; /* a socket error is reported once; level-triggered epoll calls again */
            return;
        }
        tx_count = tx_off = 0;
        for (int i = 0; i < n; i++) {
            n_in++;
            if ((rx[i].msg_hdr.msg_flags & MSG_TRUNC) || rx[i].msg_len > opts.max_message) {
                n_oversize++;
                continue;
            }
            struct mmsghdr *t = &tx[tx_count];
            tx_iov[tx_count].iov_base = bufs[i];
            tx_iov[tx_count].iov_len = rx[i].msg_len;
            memset(&t->msg_hdr, 0, sizeof t->msg_hdr);
            t->msg_hdr.msg_name = &addrs[i];
            t->msg_hdr.msg_namelen = rx[i].msg_hdr.msg_namelen;
            t->msg_hdr.msg_iov = &tx_iov[tx_count];
            t->msg_hdr.msg_iovlen = 1;
            tx_count++;
        }
        if (flush() < 0) {
            /* The rest of the batch still sits in bufs: stop receiving. */
            n_stalls++;
            set_interest(EPOLLOUT);
            return;
        }
        if (n < BATCH)
            return; /* emptied: saves the recvmmsg that would say EAGAIN */
    }
}

int main(int argc, char **argv)
{
    peer_parse_args(argc, argv, &opts);
    if (opts.framing != PEER_RAW) {
        fprintf(stderr, "a datagram is its own message: --framing must be raw\n");
        return 2;
    }
    peer_catch_stop();

    struct sockaddr_storage ss;
    socklen_t sslen;
    if (peer_sockaddr(&opts, &ss, &sslen) < 0) {
        fprintf(stderr, "bad host %s\n", opts.host);
        return 1;
    }
    fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sslen) < 0) {
        fprintf(stderr, "udp %s:%d: %s\n", opts.host, opts.port, strerror(errno));
        return 1;
    }
    for (int i = 0; i < BATCH; i++) {
        rx_iov[i].iov_base = bufs[i];
        rx_iov[i].iov_len = sizeof bufs[i];
        rx[i].msg_hdr.msg_iov = &rx_iov[i];
        rx[i].msg_hdr.msg_iovlen = 1;
    }

    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        perror("epoll");
        return 1;
    }

    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(fd, (struct sockaddr *)&bound, &blen);
    peer_print_listening(&bound, "epoll-raw", &opts, " transport=udp");

    double start = peer_now_sec(), next_stats = start + 2.0;
    while (!peer_stop_signal()) {
        double t = peer_now_sec();
        if (opts.seconds > 0 && t - start >= opts.seconds)
            break;
        if (t >= next_stats) {
            fprintf(stderr, "stats datagrams=%llu echoed=%llu oversize=%llu send_errors=%llu stalls=%llu\n", n_in,
                    n_echoed, n_oversize, n_send_errors, n_stalls);
            next_stats = t + 2.0;
        }
        struct epoll_event evs[4];
        int n = peer_epoll_wait(ep, evs, 4, 100);
        if (n < 0)
            return 1;
        for (int i = 0; i < n; i++) {
            if (evs[i].events & EPOLLOUT) {
                if (flush() == 0) {
                    set_interest(EPOLLIN);
                    on_readable();
                }
            } else if (evs[i].events & (EPOLLIN | EPOLLERR)) {
                on_readable();
            }
        }
    }
    printf("SUMMARY datagrams=%llu seconds=%.3f echoed=%llu queue_full=0 oversize_dropped=%llu send_errors=%llu "
           "recv_errors=%llu stalls=%llu\n",
           n_in, peer_now_sec() - start, n_echoed, n_oversize, n_send_errors, n_recv_errors, n_stalls);
    fflush(stdout);
    close(fd);
    close(ep);
    return 0;
}
