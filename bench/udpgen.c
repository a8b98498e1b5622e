/*
 * udpgen.c - the UDP load generator of bench/run.py --udp: plain sockets,
 * no library, so it stays cheap next to the server it measures.
 *
 *   udpgen --port P [--host H] [--sockets K] [--window W] [--size BYTES]
 *          [--seconds S] [--loss-timeout-ms T]
 *
 * K sockets, each connect()ed to the server, keep W datagrams of BYTES
 * bytes (>= 24) in flight each: every echo that comes back lets one more
 * go. Sockets sit in one level-triggered epoll set; a ready socket is
 * drained with recvmmsg (64 at a time) and its window refilled with one
 * sendmmsg. A datagram carries (socket index, sequence, send time) in its
 * first 24 bytes; the rest is zeros. Echoes are checked for length, socket
 * and sequence only: byte-for-byte verification is samples/dummy_client's
 * job (--udp), not a load generator's.
 *
 * A datagram whose echo is not back after T ms (default 200) counts as
 * lost and frees its window slot, so loss costs throughput for a moment,
 * not for the rest of the run; an echo arriving after that counts as late.
 *
 * Ends with the SUMMARY line of docs/CONVENTIONS.md (messages = echoes
 * received, plus sent, lost and late) and exits 1 when an echo was malformed
 * or none came back. Linux only (recvmmsg/sendmmsg).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define HDR 24
#define SCAN_NS 10000000ull /* how often overdue datagrams are looked for */

typedef struct gsock {
    int fd;
    uint32_t outstanding;
    uint64_t next_seq;
    /* Window slots, indexed by seq & mask: which sequence holds the slot
     * and when it was sent; pending 0 = free. */
    uint64_t *seq;
    uint64_t *sent_ns;
    uint8_t *pending;
} gsock;

static struct {
    const char *host;
    int port;
    uint32_t sockets, window, size, timeout_ms;
    double seconds;
} opt = {"127.0.0.1", 0, 100, 4, 64, 200, 5.0};

static gsock *socks;
static uint32_t mask;
static uint8_t *txbuf, *rxbuf; /* BATCH datagrams each */
static uint32_t rx_size;       /* a little over --size, so a longer echo shows */
static struct mmsghdr tx[BATCH], rx[BATCH];
static struct iovec tx_iov[BATCH], rx_iov[BATCH];
static volatile sig_atomic_t g_stop;
static unsigned long long n_sent, n_received, n_bytes, n_lost, n_late, n_bad, n_sock_errors;
static uint64_t total_outstanding, last_rx_ns;

/* ---------------------------------------------------------------- utils */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8); /* the generator only talks to itself through the echo: native order is fine */
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Latency histogram in µs: exact below 64, then 32 buckets per power of two. */
#define HIST_BUCKETS (64 + 58 * 32)
static uint64_t hist[HIST_BUCKETS], hist_count;

static void hist_add(uint64_t v)
{
    int idx, msb = 0, e;
    if (v < 64) {
        idx = (int)v;
    } else {
        for (uint64_t x = v; x > 1; x >>= 1)
            msb++;
        e = msb - 5;
        idx = 64 + (e - 1) * 32 + (int)((v >> e) - 32);
        if (idx >= HIST_BUCKETS)
            idx = HIST_BUCKETS - 1;
    }
    hist[idx]++;
    hist_count++;
}

static uint64_t hist_percentile(double p)
{
    uint64_t rank, seen = 0;
    if (!hist_count)
        return 0;
    rank = (uint64_t)(p / 100.0 * (double)hist_count);
    if (rank >= hist_count)
        rank = hist_count - 1;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += hist[i];
        if (seen > rank) {
            int e;
            if (i < 64)
                return (uint64_t)i;
            e = (i - 64) / 32 + 1;
            return ((uint64_t)((i - 64) % 32 + 32) << e) + ((1ull << e) >> 1);
        }
    }
    return 0;
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s --port P [--host H] [--sockets K] [--window W] [--size BYTES]\n"
            "          [--seconds S] [--loss-timeout-ms T]\n"
            "BYTES: %d..65507 (the first %d carry socket, sequence and send time).\n",
            prog, HDR, HDR);
    exit(2);
}

static unsigned long parse_num(const char *prog, const char *s, unsigned long lo, unsigned long hi)
{
    char *end;
    unsigned long v;
    if (!s || !*s || *s == '-')
        usage(prog);
    v = strtoul(s, &end, 10);
    if (*end || v < lo || v > hi)
        usage(prog);
    return v;
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || !v)
            usage(argv[0]);
        i++;
        if (strcmp(a, "--host") == 0) {
            opt.host = v;
        } else if (strcmp(a, "--port") == 0) {
            opt.port = (int)parse_num(argv[0], v, 1, 65535);
        } else if (strcmp(a, "--sockets") == 0) {
            opt.sockets = (uint32_t)parse_num(argv[0], v, 1, 100000);
        } else if (strcmp(a, "--window") == 0) {
            opt.window = (uint32_t)parse_num(argv[0], v, 1, 4096);
        } else if (strcmp(a, "--size") == 0) {
            opt.size = (uint32_t)parse_num(argv[0], v, HDR, 65507);
        } else if (strcmp(a, "--loss-timeout-ms") == 0) {
            opt.timeout_ms = (uint32_t)parse_num(argv[0], v, 1, 600000);
        } else if (strcmp(a, "--seconds") == 0) {
            char *end;
            opt.seconds = strtod(v, &end);
            if (*end || !(opt.seconds > 0))
                usage(argv[0]);
        } else {
            fprintf(stderr, "unknown option: %s\n", a);
            usage(argv[0]);
        }
    }
    if (!opt.port)
        usage(argv[0]);
}

/* ------------------------------------------------------------ the load */

/* Sends up to n datagrams on socket k, each in a free window slot. */
static void send_some(uint32_t k, uint32_t n, uint64_t now)
{
    gsock *g = &socks[k];
    uint32_t count = 0;
    if (n > BATCH)
        n = BATCH;
    while (count < n) {
        uint64_t seq = g->next_seq + count;
        uint8_t *d = txbuf + (size_t)count * opt.size;
        if (g->pending[seq & mask])
            break; /* an older datagram holds the slot until it comes back or times out */
        memcpy(d, &k, 4);
        put_u64(d + 8, seq);
        put_u64(d + 16, now);
        tx_iov[count].iov_base = d;
        tx_iov[count].iov_len = opt.size;
        count++;
    }
    for (;;) {
        int r;
        if (count == 0)
            return;
        r = sendmmsg(g->fd, tx, count, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                n_sock_errors++; /* ECONNREFUSED: ICMP about an earlier datagram (no server there) */
            return;              /* the window stays open: refilled on the next echo or scan */
        }
        for (int i = 0; i < r; i++) {
            uint64_t seq = g->next_seq++;
            g->seq[seq & mask] = seq;
            g->sent_ns[seq & mask] = now;
            g->pending[seq & mask] = 1;
        }
        g->outstanding += (uint32_t)r;
        total_outstanding += (uint64_t)r;
        n_sent += (unsigned long long)r;
        return; /* fewer than count: the socket buffer is full, the rest goes later */
    }
}

static void on_readable(uint32_t k, int running)
{
    gsock *g = &socks[k];
    for (;;) {
        uint64_t now;
        int n;
        for (int i = 0; i < BATCH; i++)
            rx[i].msg_hdr.msg_flags = 0;
        n = recvmmsg(g->fd, rx, BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                n_sock_errors++; /* ECONNREFUSED and the like, reported once */
            break;
        }
        now = now_ns();
        for (int i = 0; i < n; i++) {
            const uint8_t *d = rxbuf + (size_t)i * rx_size;
            uint32_t idx;
            uint64_t seq, slot;
            if (rx[i].msg_len != opt.size || (rx[i].msg_hdr.msg_flags & MSG_TRUNC)) {
                n_bad++;
                continue;
            }
            memcpy(&idx, d, 4);
            seq = get_u64(d + 8);
            if (idx != k || seq >= g->next_seq) {
                n_bad++;
                continue;
            }
            slot = seq & mask;
            if (!g->pending[slot] || g->seq[slot] != seq) {
                n_late++; /* already counted lost (or a duplicate) */
                continue;
            }
            g->pending[slot] = 0;
            g->outstanding--;
            total_outstanding--;
            n_received++;
            n_bytes += opt.size;
            last_rx_ns = now;
            hist_add((now - get_u64(d + 16)) / 1000);
        }
        if (n < BATCH)
            break;
    }
    if (running && g->outstanding < opt.window)
        send_some(k, opt.window - g->outstanding, now_ns());
}

/* Frees the slots of datagrams overdue, and refills windows left open. */
static void scan(uint64_t now, int running)
{
    uint64_t timeout = (uint64_t)opt.timeout_ms * 1000000ull;
    for (uint32_t k = 0; k < opt.sockets; k++) {
        gsock *g = &socks[k];
        if (g->outstanding > 0) {
            for (uint32_t s = 0; s <= mask; s++) {
                if (g->pending[s] && now - g->sent_ns[s] >= timeout) {
                    g->pending[s] = 0;
                    g->outstanding--;
                    total_outstanding--;
                    n_lost++;
                }
            }
        }
        if (running && g->outstanding < opt.window)
            send_some(k, opt.window - g->outstanding, now);
    }
}

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

int main(int argc, char **argv)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    struct epoll_event evs[256];
    uint64_t t0, deadline, next_scan, t_end;
    double seconds;
    uint32_t slots = 4;
    int ep;

    parse_args(argc, argv);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    memset(&ss, 0, sizeof ss);
    if (strchr(opt.host, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)opt.port);
        sslen = sizeof *a;
        if (inet_pton(AF_INET6, opt.host, &a->sin6_addr) != 1)
            usage(argv[0]);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)opt.port);
        sslen = sizeof *a;
        if (inet_pton(AF_INET, opt.host, &a->sin_addr) != 1)
            usage(argv[0]);
    }

    /* Room for the window plus datagrams waiting out their timeout. */
    while (slots < 2 * opt.window)
        slots *= 2;
    mask = slots - 1;
    rx_size = opt.size + 64;
    socks = calloc(opt.sockets, sizeof *socks);
    txbuf = calloc(BATCH, opt.size);
    rxbuf = calloc(BATCH, rx_size);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!socks || !txbuf || !rxbuf || ep < 0) {
        perror("udpgen: setup");
        return 1;
    }
    for (int i = 0; i < BATCH; i++) {
        tx[i].msg_hdr.msg_iov = &tx_iov[i];
        tx[i].msg_hdr.msg_iovlen = 1;
        rx_iov[i].iov_base = rxbuf + (size_t)i * rx_size;
        rx_iov[i].iov_len = rx_size;
        rx[i].msg_hdr.msg_iov = &rx_iov[i];
        rx[i].msg_hdr.msg_iovlen = 1;
    }
    for (uint32_t k = 0; k < opt.sockets; k++) {
        gsock *g = &socks[k];
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = k};
        g->seq = calloc(slots, sizeof *g->seq);
        g->sent_ns = calloc(slots, sizeof *g->sent_ns);
        g->pending = calloc(slots, 1);
        g->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (!g->seq || !g->sent_ns || !g->pending || g->fd < 0 || connect(g->fd, (struct sockaddr *)&ss, sslen) < 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, g->fd, &ev) < 0) {
            fprintf(stderr, "udpgen: socket %u: %s\n", k, strerror(errno));
            return 1;
        }
    }

    fprintf(stderr, "udpgen: %u sockets x window %u, %u-byte datagrams, %.1f s, %s:%d, loss timeout %u ms\n",
            opt.sockets, opt.window, opt.size, opt.seconds, opt.host, opt.port, opt.timeout_ms);
    t0 = now_ns();
    deadline = t0 + (uint64_t)(opt.seconds * 1e9);
    for (uint32_t k = 0; k < opt.sockets; k++)
        send_some(k, opt.window, t0);
    next_scan = t0 + SCAN_NS;
    for (;;) {
        uint64_t t = now_ns();
        int n;
        if (t >= deadline || g_stop)
            break;
        if (t >= next_scan) {
            scan(t, 1);
            next_scan = t + SCAN_NS;
        }
        n = epoll_wait(ep, evs, 256, 10);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++)
            on_readable(evs[i].data.u32, 1);
    }
    t_end = now_ns();

    /* Drain: what is in flight comes back or times out. */
    while (total_outstanding > 0 && !g_stop) {
        uint64_t t = now_ns();
        int n;
        scan(t, 0);
        if (total_outstanding == 0 || t > t_end + (uint64_t)opt.timeout_ms * 1000000ull + 1000000000ull)
            break;
        n = epoll_wait(ep, evs, 256, 10);
        for (int i = 0; i < n; i++)
            on_readable(evs[i].data.u32, 0);
    }
    n_lost += total_outstanding;
    if (last_rx_ns > t_end)
        t_end = last_rx_ns;
    seconds = (double)(t_end - t0) / 1e9;

    printf("SUMMARY messages=%llu seconds=%.3f msgs_per_s=%.1f mb_per_s=%.3f p50_us=%llu p99_us=%llu errors=%llu "
           "sent=%llu lost=%llu late=%llu sock_errors=%llu\n",
           n_received, seconds, (double)n_received / seconds, (double)n_bytes / seconds / 1e6,
           (unsigned long long)hist_percentile(50), (unsigned long long)hist_percentile(99), n_bad, n_sent, n_lost,
           n_late, n_sock_errors);
    fflush(stdout);
    if (n_received == 0)
        fprintf(stderr, "udpgen: no echo came back\n");
    return n_bad > 0 || n_received == 0 ? 1 : 0;
}
