/*
 * backend_uring.c - the preferred Linux backend, on liburing.
 *
 * One ring per loop. Everything is a completion:
 * - listeners: one multishot accept (single-shot accept where the kernel
 *   lacks multishot), re-armed when a CQE comes without IORING_CQE_F_MORE;
 * - receiving: one multishot recv per connection drawing from a provided
 *   buffer ring shared by the whole loop (single-shot recv with buffer select
 *   where multishot is missing). Idle connections pin no buffer. The core
 *   copies out of our buffer inside net__received and the buffer goes back to
 *   the ring at once. -ENOBUFS ends a multishot: the ring grows (up to a
 *   bound) and the recv is re-armed at the end of the batch;
 * - sending: one sendmsg over the core's iov (a plain send for one piece),
 *   MSG_WAITALL so the kernel finishes partial writes itself, at most one in
 *   flight per connection;
 * - connecting: IORING_OP_CONNECT;
 * - UDP: one multishot recvmsg per socket drawing from a second buffer ring,
 *   also shared by the loop, whose buffers hold the largest datagram IP can
 *   carry plus the header and sender address recvmsg puts in front of it.
 *   Where multishot recvmsg is missing, 32 single-shot recvmsgs stay
 *   posted per socket, selecting from the same ring. A send batch goes out with
 *   sendmmsg from the loop thread while the socket takes it; what it cannot
 *   take yet becomes one linked sendmsg per datagram (in order), and the batch
 *   is finished when all have completed.
 *   See "UDP" below for why the ring is per loop, not per socket;
 * - wake-ups: an eventfd with a read always pending on the ring.
 * SQEs are only queued by the submit calls; wait() submits them all and
 * waits in one io_uring_enter (io_uring_submit_and_wait*), then handles up to
 * event_batch CQEs.
 *
 * Every SQE we queue is counted on its socket (ops) until its final CQE has
 * been handled, cancels included. A closed socket is cancelled (cancel by fd,
 * or one cancel per operation), and only when its count reaches zero is the
 * core told (net__released); the descriptor is closed when the core frees
 * the socket at the end of the turn: no CQE can then name freed memory or a
 * reused descriptor.
 *
 * Threads: the ring of a loop driven by its own I/O thread is set up with
 * SINGLE_ISSUER|DEFER_TASKRUN (created disabled, enabled by the loop thread
 * on its first call; loop_close, run by the thread that joined it, only
 * unmaps). A loop driven by net_poll (io_threads = 0) may be driven by
 * different threads over its life, which SINGLE_ISSUER forbids: it gets
 * COOP_TASKRUN instead. The backend learns the mode from
 * net__loop_threaded(). NET_URING_DEFER=0|1 overrides (1 is for
 * measurements: with io_threads = 0 it breaks if another thread polls).
 *
 * Probing: probe() creates a ring and checks every opcode we use and the
 * buffer ring; without those, io_uring is "unsupported" and auto falls back
 * to epoll. Setup flags (SUBMIT_ALL, COOP_TASKRUN, SINGLE_ISSUER,
 * DEFER_TASKRUN), cancel-by-fd, incremental buffer consumption and the
 * multishot variants degrade one by one (multishot on its first -EINVAL).
 *
 * Rings: SQ 1024, CQ 65536 (the kernel's maximum). Between two reaps a
 * connection typically posts a receive, a send and a cancel completion, so
 * ~20000 busy connections per loop fit; past that (or with a flood of tiny
 * reads) the kernel's NODROP overflow list keeps it lossless, only slower.
 *
 * Test hooks (the "test hooks" section below): NET_TEST_DISABLE_URING=1
 * makes probe fail as a seccomp profile would; NET_TEST_URING_DEGRADE=1 (or
 * a list of features) runs with every optional feature (or those) off;
 * NET_TEST_URING_CQ=N shrinks the rings so CQ overflow and a full SQ are
 * exercised. NET_URING_DEBUG=1 prints what a loop uses, or why io_uring is
 * unavailable.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "testhooks.h"

#include "backend.h"

_Static_assert(sizeof(net_iov) == sizeof(struct iovec), "net_iov must match struct iovec");

/* ThreadSanitizer: liburing (Debian's is built without libc) maps and unmaps
 * its rings with raw syscalls TSan never sees, so a ring mapped where another
 * thread's ring was unmapped looks like a race with the old ring's accesses.
 * The unmap really happens before the new map: tell TSan so. */
#if defined(__SANITIZE_THREAD__)
#    define NET__UR_TSAN 1
#elif defined(__has_feature)
#    if __has_feature(thread_sanitizer)
#        define NET__UR_TSAN 1
#    endif
#endif
#ifdef NET__UR_TSAN
#    include <sanitizer/tsan_interface.h>
static char g_ring_remap;
#    define RING_MAPPED() __tsan_acquire(&g_ring_remap)
#    define RING_UNMAPPING() __tsan_release(&g_ring_remap)
#else
#    define RING_MAPPED() ((void)0)
#    define RING_UNMAPPING() ((void)0)
#endif
static void ring_exit(struct io_uring *ring)
{
    RING_UNMAPPING();
    io_uring_queue_exit(ring);
}

#define SQ_ENTRIES 1024u
/* The kernel's maximum; IORING_SETUP_CLAMP gives less where it is lower. */
#define CQ_ENTRIES 65536u
/* Receive buffers: a chunk of buffers at start, another whenever a recv
 * finds the ring empty, up to BUF_CHUNKS_MAX chunks (4 MiB per loop).
 * Incremental consumption (6.12) packs many small reads into one large
 * buffer; without it, each read takes a whole (small) buffer. */
#define BUF_CHUNK_BYTES (256u * 1024u)
#define BUF_CHUNKS_INIT 1u
#define BUF_CHUNKS_MAX 16u
#define BUF_SIZE_INC (64u * 1024u)
#define BUF_SIZE_FIXED 4096u
#define BR_ENTRIES 1024u
#define BGID 0
_Static_assert(BR_ENTRIES >= BUF_CHUNKS_MAX * (BUF_CHUNK_BYTES / BUF_SIZE_FIXED), "the ring holds every buffer we add");
/* UDP receive buffers (group UBGID): the recvmsg header, the sender's
 * address, then room for any UDP payload (65527 at most, over IPv6) and
 * more. The kernel writes only what arrives, so a buffer costs memory for
 * the pages its largest datagram touched. 32 buffers (2.2 MiB of address
 * space) at first, 32 more whenever a recvmsg finds the ring empty, up to
 * 256. Never incremental: a datagram needs one whole buffer. */
#define UBGID 1
#define UBUF_SIZE (68u * 1024u)
#define UBUF_CHUNK_BUFS 32u
#define UBUF_CHUNKS_MAX 8u
#define UBR_ENTRIES (UBUF_CHUNK_BUFS * UBUF_CHUNKS_MAX)
/* Without multishot recvmsg, this many single-shot recvmsgs stay posted per
 * socket: a burst's worth. */
#define URX_SLOTS 32
_Static_assert(URX_SLOTS <= 32, "single-shot receive slots are bits of a uint32_t");
#ifndef IOU_PBUF_RING_INC
#    define IOU_PBUF_RING_INC 2
#endif
#ifndef IORING_CQE_F_BUF_MORE
#    define IORING_CQE_F_BUF_MORE (1U << 4)
#endif

/* user_data: socket pointer | generation << 48 | operation in the low bits.
 * UDP sockets use UD_RECV and UD_SEND too; the 16 bits above say which
 * operation: the datagram's index in the batch for a send, for a receive
 * URX_SINGLE | slot or the multishot's generation. */
enum { UD_WAKE = 1, UD_ACCEPT, UD_RECV, UD_SEND, UD_CONNECT, UD_CANCEL, UD_IGNORE };
#define UD_OP_MASK 7ull
#define UD_PTR_MASK 0x0000FFFFFFFFFFF8ull
#define UD_GEN_SHIFT 48
#define URX_SINGLE 0x8000u

/* feature bits */
enum {
    F_SUBMIT_ALL = 1u << 0,
    F_COOP = 1u << 1,
    F_SINGLE_ISSUER = 1u << 2,
    F_DEFER = 1u << 3,
    F_CANCEL_FD = 1u << 4,
    F_MS_ACCEPT = 1u << 5,
    F_MS_RECV = 1u << 6,
    F_EXT_ARG = 1u << 7,
    F_NODROP = 1u << 8,
    F_BUF_INC = 1u << 9,
    F_MS_RECVMSG = 1u << 10,
    F_PROBED = 1u << 30
};

/* A listener's or connection's state (and the first part of a UDP
 * socket's), kept in its object's backend slot. */
typedef struct ur_sock {
    /* The core's object: its net_obj, which every completion takes. */
    void *obj;
    /* The retry list. */
    struct ur_sock *next;
    /* The closing list. */
    struct ur_sock *cprev, *cnext;
    int fd;
    /* SQEs queued or in flight, cancels included. */
    uint32_t ops;
    /* Generation of the current receive / accept: a CQE of an older one is
     * recognised as stale. */
    uint16_t gen;
    /* Receive (accept, for a listener): wanted, queued, its cancel queued. */
    uint8_t want_rx, rx_on, rx_cxl;
    uint8_t send_want, send_on;
    uint8_t conn_want, conn_on;
    /* released: net__released was called; the core frees the socket at the
     * end of the turn. */
    uint8_t closed, close_cxl, released, in_retry, eof;
    uint8_t addrlen;
    /* A connection sends only once connected: the two never overlap. */
    union {
        /* The send in flight. */
        struct msghdr msg;
        /* The connect target. */
        struct sockaddr_in6 addr;
    } u;
} ur_sock;

/* One single-shot recvmsg (no multishot): the buffer comes from the ring,
 * the sender's address and the flags come back here. */
typedef struct ur_urx {
    struct msghdr msg;
    struct iovec iov;
    struct sockaddr_in6 name;
} ur_urx;

/* One datagram of the batch in flight: what its sendmsg reads. */
typedef struct ur_utx {
    struct msghdr msg;
    struct iovec iov;
    struct sockaddr_storage to;
} ur_utx;

enum { TX_WAIT = 0, TX_FLIGHT, TX_DONE };

/* A UDP socket. s.rx_on / s.rx_cxl / s.gen describe the multishot recvmsg;
 * s.ops counts every SQE, sends and cancels included. */
typedef struct ur_udp {
    ur_sock s;
    /* Bit i of rx_busy: single-shot slot i is in flight; of rx_cxl_mask: its
     * cancel is queued. */
    uint32_t rx_busy, rx_cxl_mask;
    /* The core's batch, valid until net__udp_sent. */
    const net_dgram *tx_batch;
    ur_utx *tx;
    /* TX_* per datagram. */
    uint8_t *tx_state;
    /* Slots allocated; batch size; next to queue; unfinished. */
    uint32_t tx_cap, tx_count, tx_next, tx_left;
    /* sendmsgs queued or in flight. */
    uint32_t tx_flight;
    /* URX_SLOTS, allocated once multishot recvmsg turns out missing. */
    ur_urx *rx;
} ur_udp;

typedef struct ur_loop {
    struct io_uring ring;
    unsigned features;
    /* A ring created disabled (SINGLE_ISSUER) is enabled by the loop thread on
     * its first call: the thread that enables it becomes its only issuer. */
    int enabled;
    int evfd;
    uint64_t evbuf;
    int wake_on;
    int wake_rearm;
    /* Test hook: UDP sends never try sendmmsg first. */
    int udp_sqe_only;
    /* A recv ran out of buffers this batch. */
    int starved;
    /* A single-shot receive may have left data in its socket: another round. */
    int again;
    /* ENOBUFS seen, for NET_URING_DEBUG. */
    uint64_t nobufs;
    /* The provided buffer ring and its buffers' geometry (incremental or
     * fixed); with incremental consumption, buf_off[bid] counts the bytes of
     * buffer bid consumed so far. br_pending: buffers added since the last
     * advance. */
    struct io_uring_buf_ring *br;
    uint8_t *chunks[BUF_CHUNKS_MAX];
    unsigned nchunks;
    unsigned buf_size, chunk_bufs;
    uint32_t *buf_off;
    unsigned br_pending;
    /* The UDP buffer ring, set up by the first UDP socket; ustarved: a
     * recvmsg ran out of buffers this batch; urx_msg: the layout of what a
     * multishot recvmsg puts in front of a payload. */
    struct io_uring_buf_ring *ubr;
    uint8_t *uchunks[UBUF_CHUNKS_MAX];
    unsigned unchunks, ubr_pending;
    int ustarved;
    struct msghdr urx_msg;
    /* Lists: retry, sockets with work that found no SQE, or starved (FIFO);
     * closing, closed with operations still in flight. */
    ur_sock *retry, **retry_tail;
    ur_sock *closing;
    unsigned batch;
    struct io_uring_cqe **cqes;
    int warned;
} ur_loop;

/* What the kernel offers, probed once per process (0: not yet). */
static _Atomic unsigned g_features;

static ur_loop *L(net_loop *loop)
{
    return *net__loop_bk(loop);
}

/* ---- test hooks ----
 * Switches read from the environment only by a library configured with
 * NET_TEST_HOOKS (elsewhere net__test_env is NULL and they fold away): they
 * reach the paths that older kernels, seccomp profiles and full rings take.
 * The fault injection of testhooks.h (net__fault) stays at the places whose
 * failure it plays: submit, accept, recv, send and the wait. */

static int env_on(const char *name)
{
    const char *v = net__test_env(name);
    return v && *v && strcmp(v, "0") != 0;
}

/* Whether name is a whole word of list ("ms_recv" is not in "ms_recvmsg"). */
static int list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += n) {
        int before = p == list || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int after = !(isalnum((unsigned char)p[n]) || p[n] == '_');
        if (before && after)
            return 1;
    }
    return 0;
}

/* NET_TEST_DISABLE_URING=1: probe fails as under a seccomp profile that
 * answers EPERM. */
static int test_uring_disabled(void)
{
    return env_on("NET_TEST_DISABLE_URING");
}

/* NET_TEST_URING_DEGRADE: "1" turns every optional feature off, a list of
 * coop,defer,submit_all,cancel_fd,ms_accept,ms_recv,ms_recvmsg,inc,
 * udp_direct turns off those. Returns the feature bits to leave out;
 * udp_direct (UDP sends go through the ring only) is l->udp_sqe_only. */
static unsigned test_degraded(ur_loop *l)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {
        {"coop", F_COOP},           {"defer", F_DEFER},     {"submit_all", F_SUBMIT_ALL}, {"cancel_fd", F_CANCEL_FD},
        {"ms_accept", F_MS_ACCEPT}, {"ms_recv", F_MS_RECV}, {"ms_recvmsg", F_MS_RECVMSG}, {"inc", F_BUF_INC},
    };
    const char *dg = net__test_env("NET_TEST_URING_DEGRADE");
    if (!dg || !*dg || strcmp(dg, "0") == 0)
        return 0;
    int all = strcmp(dg, "1") == 0;
    unsigned off = 0;
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (all || list_has(dg, names[i].name))
            off |= names[i].bit;
    l->udp_sqe_only = all || list_has(dg, "udp_direct");
    return off;
}

/* NET_TEST_URING_CQ=N (8 or more): rings of N entries, so that CQ overflow
 * and a full SQ are exercised. */
static void test_ring_size(unsigned *sq, unsigned *cq)
{
    const char *v = net__test_env("NET_TEST_URING_CQ");
    if (v && atoi(v) >= 8)
        *sq = *cq = (unsigned)atoi(v);
}

/* NET_URING_DEFER=0|1 forces DEFER_TASKRUN off or on (1 is for
 * measurements: with io_threads = 0 it breaks if another thread polls).
 * -1: not forced. */
static int test_defer(void)
{
    const char *v = net__test_env("NET_URING_DEFER");
    if (v && *v)
        return strcmp(v, "0") != 0;
    return -1;
}

/* NET_URING_DEBUG=1: why io_uring is unavailable (err: the failed call's
 * -errno, or 0). */
static void debug_unavailable(const char *why, int err)
{
    if (env_on("NET_URING_DEBUG"))
        fprintf(stderr, "net io_uring: unavailable: %s%s%s\n", why, err ? ": " : "", err ? strerror(-err) : "");
}

/* NET_URING_DEBUG=1: what a new loop uses. */
static void debug_loop_opened(net_loop *loop, const ur_loop *l)
{
    if (env_on("NET_URING_DEBUG"))
        fprintf(
            stderr, "net io_uring loop %u: %s%s%s%s%s%s%s%s%s%s cq=%u sq=%u bufs=%ux%u..%u\n", net__loop_index(loop),
            (l->features & F_DEFER) ? "defer_taskrun " : "", (l->features & F_SINGLE_ISSUER) ? "single_issuer " : "",
            (l->features & F_COOP) ? "coop_taskrun " : "", (l->features & F_SUBMIT_ALL) ? "submit_all " : "",
            (l->features & F_CANCEL_FD) ? "cancel_fd " : "", (l->features & F_MS_ACCEPT) ? "multishot_accept " : "",
            (l->features & F_MS_RECV) ? "multishot_recv " : "",
            (l->features & F_MS_RECVMSG) ? "multishot_recvmsg " : "", (l->features & F_BUF_INC) ? "buf_ring_inc " : "",
            (l->features & F_EXT_ARG) ? "ext_arg" : "", l->ring.cq.ring_entries, l->ring.sq.ring_entries,
            l->chunk_bufs * BUF_CHUNKS_INIT, l->buf_size, l->chunk_bufs * BUF_CHUNKS_MAX);
}

/* ---- rings ---- */

static int try_ring(struct io_uring *ring, unsigned entries, unsigned cq, unsigned flags, unsigned *features)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = flags | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    p.cq_entries = cq;
    int rc = io_uring_queue_init_params(entries, ring, &p);
    if (rc == 0)
        RING_MAPPED();
    if (rc == 0 && features)
        *features = p.features;
    return rc;
}

static void *map_pages(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Registers mem as provided buffer ring bgid of the given entries; flags is
 * IOU_PBUF_RING_INC (incremental consumption) or 0. */
static int register_buf_ring(struct io_uring *ring, void *mem, unsigned entries, int bgid, unsigned flags)
{
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)mem;
    reg.ring_entries = entries;
    reg.bgid = (uint16_t)bgid;
    /* The flags field, named pad in older headers. */
    reg.pad = (uint16_t)flags;
    return io_uring_register_buf_ring(ring, &reg, 0);
}

/* ---- probing ----
 * Once per process: a small ring tells what the kernel offers. What we
 * cannot do without (the opcodes, provided buffer rings) decides whether
 * io_uring is usable at all; the rest become feature bits. */

/* Richest first: probe_ring keeps the first set the kernel takes. */
static const unsigned flag_sets[] = {
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
    IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
    IORING_SETUP_SUBMIT_ALL,
    0,
};

static unsigned flags_to_features(unsigned flags)
{
    unsigned f = 0;
    if (flags & IORING_SETUP_SUBMIT_ALL)
        f |= F_SUBMIT_ALL;
    if (flags & IORING_SETUP_COOP_TASKRUN)
        f |= F_COOP;
    if (flags & IORING_SETUP_SINGLE_ISSUER)
        f |= F_SINGLE_ISSUER;
    if (flags & IORING_SETUP_DEFER_TASKRUN)
        f |= F_DEFER | F_SINGLE_ISSUER;
    return f;
}

/* A small ring with the richest setup flags the kernel takes: 0 and the
 * features those flags stand for, or setup's -errno. */
static int probe_ring(struct io_uring *ring, unsigned *f, unsigned *kfeat)
{
    int rc = -EINVAL;
    for (unsigned i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) {
        rc = try_ring(ring, 8, 64, flag_sets[i], kfeat);
        if (rc == 0) {
            *f = flags_to_features(flag_sets[i]);
            /* DEFER_TASKRUN (6.1) implies COOP_TASKRUN (5.19). */
            if (*f & F_DEFER)
                *f |= F_COOP;
            return 0;
        }
        /* Only EINVAL says "not these flags"; EPERM (seccomp,
         * kernel.io_uring_disabled), ENOSYS, ENOMEM... say no ring at all. */
        if (rc != -EINVAL)
            return rc;
    }
    return rc;
}

static int probe_opcodes(struct io_uring *ring)
{
    static const int ops[] = {IORING_OP_ACCEPT,  IORING_OP_RECV, IORING_OP_SENDMSG,     IORING_OP_RECVMSG,
                              IORING_OP_CONNECT, IORING_OP_READ, IORING_OP_ASYNC_CANCEL};
    struct io_uring_probe *pr = io_uring_get_probe_ring(ring);
    if (!pr)
        return 0;
    int ok = 1;
    for (unsigned i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!io_uring_opcode_supported(pr, ops[i]))
            ok = 0;
    io_uring_free_probe(pr);
    return ok;
}

/* Provided buffer rings (5.19). */
static int probe_buf_ring(struct io_uring *ring)
{
    size_t len = 4096;
    void *mem = map_pages(len);
    if (!mem)
        return 0;
    int ok = register_buf_ring(ring, mem, 8, BGID, 0) == 0;
    if (ok)
        io_uring_unregister_buf_ring(ring, BGID);
    munmap(mem, len);
    return ok;
}

/* Cancel by fd (5.19): a cancel that matches nothing says -ENOENT where it
 * is known, -EINVAL where not. */
static int probe_cancel_fd(struct io_uring *ring)
{
    int fds[2], ok = 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
        return 0;
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    io_uring_prep_cancel_fd(sqe, fds[0], IORING_ASYNC_CANCEL_ALL);
    struct io_uring_cqe *cqe;
    if (io_uring_submit_and_wait(ring, 1) >= 0 && io_uring_peek_cqe(ring, &cqe) == 0) {
        ok = cqe->res == -ENOENT || cqe->res >= 0;
        io_uring_cqe_seen(ring, cqe);
    }
    close(fds[0]);
    close(fds[1]);
    return ok;
}

/* Returns the feature bits, 0 when io_uring cannot be used at all. */
static unsigned probe_features(void)
{
    struct io_uring ring;
    unsigned kfeat = 0, f = 0;
    int rc = probe_ring(&ring, &f, &kfeat);
    if (rc != 0) {
        debug_unavailable("io_uring_setup", rc);
        return 0;
    }
    int ok = probe_opcodes(&ring) && probe_buf_ring(&ring);
    if (ok && probe_cancel_fd(&ring))
        f |= F_CANCEL_FD;
    ring_exit(&ring);
    if (!ok) {
        debug_unavailable("an opcode or provided buffer rings are missing", 0);
        return 0;
    }
    if (kfeat & IORING_FEAT_EXT_ARG)
        f |= F_EXT_ARG;
    if (kfeat & IORING_FEAT_NODROP)
        f |= F_NODROP;
    /* Multishot accept (5.19), recv and recvmsg (6.0) cannot be asked for:
     * assume them and fall back on the -EINVAL of the first try. */
    f |= F_MS_ACCEPT | F_MS_RECV | F_MS_RECVMSG;
    return f | F_PROBED;
}

static int ur_probe(void)
{
    if (test_uring_disabled())
        return NET_E_UNSUPPORTED;
    unsigned f = atomic_load(&g_features);
    if (!f) {
        f = probe_features();
        if (!f)
            return NET_E_UNSUPPORTED;
        atomic_store(&g_features, f);
    }
    return 0;
}

/* ---- buffers ---- */

static uint8_t *buf_ptr(ur_loop *l, unsigned bid)
{
    return l->chunks[bid / l->chunk_bufs] + (size_t)(bid % l->chunk_bufs) * l->buf_size;
}

static void buf_put(ur_loop *l, unsigned bid)
{
    io_uring_buf_ring_add(l->br, buf_ptr(l, bid), l->buf_size, (unsigned short)bid, io_uring_buf_ring_mask(BR_ENTRIES),
                          (int)l->br_pending);
    l->br_pending++;
}

static void buf_flush(ur_loop *l)
{
    if (l->br_pending) {
        io_uring_buf_ring_advance(l->br, (int)l->br_pending);
        l->br_pending = 0;
    }
    if (l->ubr_pending) {
        io_uring_buf_ring_advance(l->ubr, (int)l->ubr_pending);
        l->ubr_pending = 0;
    }
}

static int buf_grow(ur_loop *l)
{
    if (l->nchunks >= BUF_CHUNKS_MAX)
        return -1;
    uint8_t *mem = map_pages(BUF_CHUNK_BYTES);
    if (!mem)
        return -1;
    unsigned first = l->nchunks * l->chunk_bufs;
    l->chunks[l->nchunks++] = mem;
    for (unsigned i = 0; i < l->chunk_bufs; i++)
        buf_put(l, first + i);
    buf_flush(l);
    return 0;
}

static uint8_t *ubuf_ptr(ur_loop *l, unsigned bid)
{
    return l->uchunks[bid / UBUF_CHUNK_BUFS] + (size_t)(bid % UBUF_CHUNK_BUFS) * UBUF_SIZE;
}

static void ubuf_put(ur_loop *l, unsigned bid)
{
    io_uring_buf_ring_add(l->ubr, ubuf_ptr(l, bid), UBUF_SIZE, (unsigned short)bid, io_uring_buf_ring_mask(UBR_ENTRIES),
                          (int)l->ubr_pending);
    l->ubr_pending++;
}

static int ubuf_grow(ur_loop *l)
{
    if (l->unchunks >= UBUF_CHUNKS_MAX)
        return -1;
    uint8_t *mem = map_pages((size_t)UBUF_CHUNK_BUFS * UBUF_SIZE);
    if (!mem)
        return -1;
    unsigned first = l->unchunks * UBUF_CHUNK_BUFS;
    l->uchunks[l->unchunks++] = mem;
    for (unsigned i = 0; i < UBUF_CHUNK_BUFS; i++)
        ubuf_put(l, first + i);
    buf_flush(l);
    return 0;
}

static void loop_free(ur_loop *l)
{
    for (unsigned i = 0; i < l->nchunks; i++)
        munmap(l->chunks[i], BUF_CHUNK_BYTES);
    if (l->br)
        munmap(l->br, (size_t)BR_ENTRIES * sizeof(struct io_uring_buf));
    for (unsigned i = 0; i < l->unchunks; i++)
        munmap(l->uchunks[i], (size_t)UBUF_CHUNK_BUFS * UBUF_SIZE);
    if (l->ubr)
        munmap(l->ubr, (size_t)UBR_ENTRIES * sizeof(struct io_uring_buf));
    if (l->evfd >= 0)
        close(l->evfd);
    free(l->buf_off);
    free(l->cqes);
    free(l);
}

/* ---- opening a loop ---- */

/* DEFER_TASKRUN for a loop driven by its own I/O thread (see "Threads"
 * above), unless a test forces it. */
static int use_defer(net_loop *loop)
{
    int forced = test_defer();
    return forced >= 0 ? forced : net__loop_threaded(loop);
}

/* The setup flags of a loop's ring: what the kernel offers (gf) less what
 * is turned off. */
static unsigned ring_flags(net_loop *loop, unsigned gf, unsigned off)
{
    unsigned flags = 0;
    if (!(off & F_DEFER) && (gf & F_DEFER) && use_defer(loop))
        flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED;
    else if (!(off & F_COOP) && (gf & F_COOP))
        flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    if (!(off & F_SUBMIT_ALL) && (gf & F_SUBMIT_ALL))
        flags |= IORING_SETUP_SUBMIT_ALL;
    return flags;
}

/* The loop's ring, and the features it uses: those of its setup flags, and
 * those the kernel offers (gf) less what is turned off. */
static int ring_open(ur_loop *l, unsigned flags, unsigned gf, unsigned off)
{
    unsigned sq = SQ_ENTRIES, cq = CQ_ENTRIES;
    test_ring_size(&sq, &cq);
    int rc;
    /* Where ring memory is short (memlock-accounted kernels, cgroups),
     * settle for a smaller CQ: overflow is then still lossless (NODROP). */
    while ((rc = try_ring(&l->ring, sq, cq, flags, NULL)) == -ENOMEM && cq > 4096) {
        cq /= 4;
        sq = sq < cq ? sq : cq;
    }
    if (rc != 0)
        return rc == -ENOMEM ? NET_E_NOMEM : NET_E_UNSUPPORTED;
    l->features = flags_to_features(flags) | (gf & (F_EXT_ARG | F_NODROP));
    l->features |= gf & (F_CANCEL_FD | F_MS_ACCEPT | F_MS_RECV | F_MS_RECVMSG) & ~off;
    l->enabled = !(flags & IORING_SETUP_R_DISABLED);
    return 0;
}

/* The receive buffer ring, with incremental consumption where the kernel
 * has it (6.12) and fixed-size buffers where not, and its first buffers. */
static int br_open(ur_loop *l, unsigned off)
{
    l->br = map_pages((size_t)BR_ENTRIES * sizeof(struct io_uring_buf));
    if (!l->br)
        return NET_E_OS;
    if (!(off & F_BUF_INC) && register_buf_ring(&l->ring, l->br, BR_ENTRIES, BGID, IOU_PBUF_RING_INC) == 0) {
        l->buf_off = net__calloc(BR_ENTRIES, sizeof *l->buf_off);
        if (!l->buf_off)
            return NET_E_NOMEM;
        l->features |= F_BUF_INC;
        l->buf_size = BUF_SIZE_INC;
    } else if (register_buf_ring(&l->ring, l->br, BR_ENTRIES, BGID, 0) == 0) {
        l->buf_size = BUF_SIZE_FIXED;
    } else {
        return NET_E_OS;
    }
    l->chunk_bufs = BUF_CHUNK_BYTES / l->buf_size;
    io_uring_buf_ring_init(l->br);
    for (unsigned i = 0; i < BUF_CHUNKS_INIT; i++)
        if (buf_grow(l) != 0)
            return NET_E_NOMEM;
    return 0;
}

static int ur_loop_open(net_loop *loop)
{
    if (!atomic_load(&g_features) && ur_probe() != 0)
        return NET_E_UNSUPPORTED;
    unsigned gf = atomic_load(&g_features);
    ur_loop *l = net__calloc(1, sizeof *l);
    if (!l)
        return NET_E_NOMEM;
    l->evfd = -1;
    l->retry_tail = &l->retry;
    l->batch = net__loop_batch(loop);
    if (l->batch == 0)
        l->batch = 256;
    int rc = NET_E_NOMEM;
    l->cqes = net__calloc(l->batch, sizeof *l->cqes);
    if (!l->cqes)
        goto fail;
    unsigned off = test_degraded(l);
    rc = ring_open(l, ring_flags(loop, gf, off), gf, off);
    if (rc != 0)
        goto fail;
    rc = NET_E_OS;
    l->evfd = eventfd(0, EFD_CLOEXEC);
    if (l->evfd < 0)
        goto fail_ring;
    rc = br_open(l, off);
    if (rc != 0)
        goto fail_ring;
    /* The eventfd's read is queued by the first wait(): an SQE queued here
     * would enable a SINGLE_ISSUER ring on this thread, not the loop's. */
    l->wake_rearm = 1;
    debug_loop_opened(loop, l);
    *net__loop_bk(loop) = l;
    return 0;
fail_ring:
    ring_exit(&l->ring);
fail:
    loop_free(l);
    return rc;
}

/* ---- submission ---- */

static void ensure_enabled(ur_loop *l)
{
    if (!l->enabled) {
        l->enabled = 1;
        /* io_uring_enable_rings() is declared but not exported by liburing 2.3 */
        int rc = io_uring_register(l->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
        if (rc < 0 && !l->warned) {
            l->warned = 1;
            fprintf(stderr, "net io_uring: enabling the ring failed: %s\n", strerror(-rc));
        }
    }
}

static void submit_error(ur_loop *l, int rc)
{
    if (rc == -EEXIST && !l->warned) {
        l->warned = 1;
        fprintf(stderr, "net io_uring: ring used from a second thread with SINGLE_ISSUER "
                        "(DEFER_TASKRUN forced with io_threads = 0?)\n");
    }
}

/* io_uring_submit, or in test builds now and then the EBUSY/EAGAIN a
 * kernel short of memory or with a full completion queue answers. */
static int submit(ur_loop *l)
{
    int fault = net__fault(NET_FAULT_SUBMIT);
    return fault ? -fault : io_uring_submit(&l->ring);
}

static struct io_uring_sqe *get_sqe(ur_loop *l)
{
    ensure_enabled(l);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    if (!sqe) {
        buf_flush(l);
        int rc = submit(l);
        if (rc < 0)
            submit_error(l, rc);
        sqe = io_uring_get_sqe(&l->ring);
    }
    return sqe;
}

static uint64_t ud_make(ur_sock *s, unsigned op, unsigned gen)
{
    return (uint64_t)(uintptr_t)s | ((uint64_t)gen << UD_GEN_SHIFT) | op;
}

/* An SQE of socket s: its CQE names s, op and tag, and s counts it until
 * that CQE (the last, for a multishot) has been handled. */
static void sqe_tag(ur_sock *s, struct io_uring_sqe *sqe, unsigned op, unsigned tag)
{
    io_uring_sqe_set_data64(sqe, ud_make(s, op, tag));
    s->ops++;
}

static void retry_later(ur_loop *l, ur_sock *s)
{
    if (!s->in_retry) {
        s->in_retry = 1;
        s->next = NULL;
        *l->retry_tail = s;
        l->retry_tail = &s->next;
    }
}

static void closing_add(ur_loop *l, ur_sock *s)
{
    s->cprev = NULL;
    s->cnext = l->closing;
    if (l->closing)
        l->closing->cprev = s;
    l->closing = s;
}

static void closing_remove(ur_loop *l, ur_sock *s)
{
    if (s->cprev)
        s->cprev->cnext = s->cnext;
    else if (l->closing == s)
        l->closing = s->cnext;
    if (s->cnext)
        s->cnext->cprev = s->cprev;
    s->cprev = s->cnext = NULL;
}

/* A closed socket with nothing in flight: the core frees it at the end of
 * the turn. One still on the retry list (which links it) is retired by the
 * retry pass. */
static void maybe_retire(ur_loop *l, ur_sock *s)
{
    if (!s->closed || s->ops || s->released || s->in_retry)
        return;
    s->released = 1;
    closing_remove(l, s);
    net__released(s->obj);
}

static int cancel_ud(ur_loop *l, ur_sock *s, uint64_t target)
{
    struct io_uring_sqe *sqe = get_sqe(l);
    if (!sqe)
        return -1;
    io_uring_prep_cancel64(sqe, target, 0);
    sqe_tag(s, sqe, UD_CANCEL, 0);
    return 0;
}

/* One cancel for every request on s's fd (F_CANCEL_FD). */
static int cancel_fd(ur_loop *l, ur_sock *s)
{
    struct io_uring_sqe *sqe = get_sqe(l);
    if (!sqe)
        return -1;
    io_uring_prep_cancel_fd(sqe, s->fd, IORING_ASYNC_CANCEL_ALL);
    sqe_tag(s, sqe, UD_CANCEL, 0);
    return 0;
}

/* The receive (accept, for a listener) of generation s->gen is queued. */
static void rx_queued(ur_sock *s, struct io_uring_sqe *sqe, unsigned op)
{
    sqe_tag(s, sqe, op, s->gen);
    s->rx_on = 1;
    s->rx_cxl = 0;
}

/* Cancels the receive (accept, for a listener) in flight, once. */
static int cancel_rx(ur_loop *l, ur_sock *s, unsigned op)
{
    if (s->rx_on && !s->rx_cxl) {
        if (cancel_ud(l, s, ud_make(s, op, s->gen)) != 0)
            return -1;
        s->rx_cxl = 1;
    }
    return 0;
}

/* The kernel picks a buffer of ring group for each completion. */
static void select_buffer(struct io_uring_sqe *sqe, int group)
{
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = (uint16_t)group;
}

static int sync_udp(ur_loop *l, ur_udp *u);
static int udp_cancel_rx(ur_loop *l, ur_udp *u);

/* Whether a closed socket has an operation left to cancel. */
static int in_flight(const ur_sock *s)
{
    if (net__obj_kind(s->obj) == OBJ_UDP) {
        const ur_udp *u = (const ur_udp *)s;
        return s->rx_on || u->rx_busy || u->tx_flight;
    }
    return s->rx_on || s->send_on || s->conn_on;
}

/* Without cancel by fd: one cancel per operation, each matching exactly one
 * request. A UDP socket's sends are left to finish: a sendmsg waits at most
 * for the socket's buffer to drain onto the wire. */
static int cancel_each(ur_loop *l, ur_sock *s)
{
    uint32_t kind = net__obj_kind(s->obj);
    if (kind == OBJ_UDP)
        return udp_cancel_rx(l, (ur_udp *)s);
    if (cancel_rx(l, s, kind == OBJ_CONN ? UD_RECV : UD_ACCEPT) != 0)
        return -1;
    if (s->send_on && cancel_ud(l, s, ud_make(s, UD_SEND, 0)) != 0)
        return -1;
    if (s->conn_on && cancel_ud(l, s, ud_make(s, UD_CONNECT, 0)) != 0)
        return -1;
    return 0;
}

/* A closed socket: what is in flight is cancelled once; with nothing left,
 * the socket retires. */
static int sync_closed(ur_loop *l, ur_sock *s)
{
    if (s->close_cxl || !in_flight(s)) {
        maybe_retire(l, s);
        return 0;
    }
    if (l->features & F_CANCEL_FD) {
        if (cancel_fd(l, s) != 0)
            return -1;
    } else if (cancel_each(l, s) != 0) {
        return -1;
    }
    s->close_cxl = 1;
    return 0;
}

/* A listener: one accept armed (multishot where the kernel has it) while
 * accepting is wanted, cancelled when not. */
static int sync_accept(ur_loop *l, ur_sock *s)
{
    if (!s->want_rx)
        return cancel_rx(l, s, UD_ACCEPT);
    if (s->rx_on)
        return 0;
    struct io_uring_sqe *sqe = get_sqe(l);
    if (!sqe)
        return -1;
    s->gen++;
    if (l->features & F_MS_ACCEPT)
        io_uring_prep_multishot_accept(sqe, s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    else
        io_uring_prep_accept(sqe, s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    rx_queued(s, sqe, UD_ACCEPT);
    return 0;
}

static int queue_connect(ur_loop *l, ur_sock *s)
{
    struct io_uring_sqe *sqe = get_sqe(l);
    if (!sqe)
        return -1;
    io_uring_prep_connect(sqe, s->fd, (struct sockaddr *)&s->u.addr, s->addrlen);
    sqe_tag(s, sqe, UD_CONNECT, 0);
    s->conn_want = 0;
    s->conn_on = 1;
    return 0;
}

/* MSG_WAITALL: the kernel finishes a partial write itself. One piece goes as
 * a plain send: no msghdr for the kernel to copy. */
static int queue_send(ur_loop *l, ur_sock *s)
{
    struct io_uring_sqe *sqe = get_sqe(l);
    if (!sqe)
        return -1;
    if (s->u.msg.msg_iovlen == 1)
        io_uring_prep_send(sqe, s->fd, s->u.msg.msg_iov[0].iov_base, s->u.msg.msg_iov[0].iov_len,
                           MSG_NOSIGNAL | MSG_WAITALL);
    else
        io_uring_prep_sendmsg(sqe, s->fd, &s->u.msg, MSG_NOSIGNAL | MSG_WAITALL);
    sqe_tag(s, sqe, UD_SEND, 0);
    s->send_want = 0;
    s->send_on = 1;
    return 0;
}

static int queue_recv(ur_loop *l, ur_sock *s)
{
    struct io_uring_sqe *sqe = get_sqe(l);
    if (!sqe)
        return -1;
    s->gen++;
    if (l->features & F_MS_RECV)
        io_uring_prep_recv_multishot(sqe, s->fd, NULL, 0, 0);
    else
        io_uring_prep_recv(sqe, s->fd, NULL, 0, 0);
    select_buffer(sqe, BGID);
    rx_queued(s, sqe, UD_RECV);
    return 0;
}

/* A connection: its connect, its send, and a receive while one is wanted
 * (none after the end of the stream: nothing more will come). */
static int sync_conn(ur_loop *l, ur_sock *s)
{
    if (s->conn_want && !s->conn_on && queue_connect(l, s) != 0)
        return -1;
    if (s->send_want && !s->send_on && queue_send(l, s) != 0)
        return -1;
    if (!s->want_rx)
        return cancel_rx(l, s, UD_RECV);
    if (s->rx_on || s->eof)
        return 0;
    return queue_recv(l, s);
}

/* Queues whatever the socket's state asks for and is not queued yet; what
 * finds no SQE waits for the retry pass. A socket already waiting for it is
 * left alone: one starved of buffers must not re-arm before the batch has
 * given them back. */
static void sync_sock(ur_loop *l, ur_sock *s)
{
    int rc;
    if (s->in_retry)
        return;
    uint32_t kind = net__obj_kind(s->obj);
    if (s->closed)
        rc = sync_closed(l, s);
    else if (kind == OBJ_UDP)
        rc = sync_udp(l, (ur_udp *)s);
    else if (kind == OBJ_LISTENER)
        rc = sync_accept(l, s);
    else
        rc = sync_conn(l, s);
    if (rc != 0)
        retry_later(l, s);
}

static void run_retry(ur_loop *l)
{
    ur_sock *list = l->retry;
    l->retry = NULL;
    l->retry_tail = &l->retry;
    while (list) {
        ur_sock *s = list;
        list = s->next;
        s->in_retry = 0;
        s->next = NULL;
        sync_sock(l, s);
    }
}

static void arm_wake(ur_loop *l)
{
    if (l->wake_on)
        return;
    struct io_uring_sqe *sqe = get_sqe(l);
    if (!sqe) {
        l->wake_rearm = 1;
        return;
    }
    io_uring_prep_read(sqe, l->evfd, &l->evbuf, sizeof l->evbuf, 0);
    io_uring_sqe_set_data64(sqe, UD_WAKE);
    l->wake_on = 1;
    l->wake_rearm = 0;
}

/* ---- loop life ---- */

/* The descriptor is closed only now, after the last CQE: a reused number
 * cannot be hit by an operation of this socket. */
static void ur_sock_free(net_loop *loop, net_obj *o)
{
    (void)loop;
    ur_sock *s = *net__obj_bk(o);
    if (s->fd >= 0)
        close(s->fd);
    if (net__obj_kind(o) == OBJ_UDP) {
        ur_udp *u = (ur_udp *)s;
        free(u->tx);
        free(u->tx_state);
        free(u->rx);
    }
    free(s);
}

static void ur_loop_close(net_loop *loop)
{
    ur_loop *l = L(loop);
    if (!l)
        return;
    /* Tearing the ring down cancels whatever is still in flight; no CQE is
     * read after this, so what remains can be released. No submission here:
     * this may run on the thread that joined the loop thread. */
    if (env_on("NET_URING_DEBUG"))
        fprintf(stderr, "net io_uring loop %u: %u buffer chunks, %u UDP buffer chunks, %llu ENOBUFS\n",
                net__loop_index(loop), l->nchunks, l->unchunks, (unsigned long long)l->nobufs);
    ring_exit(&l->ring);
    while (l->retry) {
        ur_sock *s = l->retry;
        l->retry = s->next;
        s->in_retry = 0;
        if (s->closed && !s->released) {
            s->ops = 0;
            maybe_retire(l, s);
        }
    }
    while (l->closing) {
        ur_sock *s = l->closing;
        s->ops = 0;
        maybe_retire(l, s);
        /* Not retirable: should not happen, but the loop must end. */
        if (l->closing == s)
            closing_remove(l, s);
    }
    loop_free(l);
    *net__loop_bk(loop) = NULL;
}

static void ur_wake(net_loop *loop)
{
    uint64_t one = 1;
    ssize_t r = write(L(loop)->evfd, &one, sizeof one);
    (void)r;
}

/* ---- listeners ---- */

/* A socket's state names its object (the net_obj: the typed completions
 * and net__released take the same pointer) and adopts its descriptor. */
static void sock_init(ur_sock *s, net_obj *o)
{
    s->fd = (int)net__obj_sock(o);
    s->obj = o;
}

/* A listener's or connection's state, kept in its backend slot. */
static int sock_open(net_obj *o)
{
    ur_sock *s = net__calloc(1, sizeof *s);
    if (!s)
        return NET_E_NOMEM;
    sock_init(s, o);
    *net__obj_bk(o) = s;
    return 0;
}

/* Receiving (accepting, for a listener) wanted or not: sync_sock queues or
 * cancels it. */
static void set_want_rx(net_loop *loop, ur_sock *s, int want)
{
    s->want_rx = (uint8_t)want;
    sync_sock(L(loop), s);
}

static int ur_listener_open(net_loop *loop, net_listener *ls, int *os_error)
{
    (void)loop;
    (void)os_error;
    return sock_open(net__obj(ls));
}

static void ur_accept_start(net_loop *loop, net_listener *ls)
{
    set_want_rx(loop, *net__obj_bk(net__obj(ls)), 1);
}

static void ur_accept_stop(net_loop *loop, net_listener *ls)
{
    set_want_rx(loop, *net__obj_bk(net__obj(ls)), 0);
}

/* Every kind closes alike: nothing more is wanted, what is in flight is
 * cancelled, and the socket waits on the closing list until its last CQE. */
static void close_sock(ur_loop *l, ur_sock *s)
{
    s->closed = 1;
    s->want_rx = 0;
    s->send_want = 0;
    s->conn_want = 0;
    closing_add(l, s);
    sync_sock(l, s);
}

static void ur_close(net_loop *loop, net_obj *o)
{
    ur_sock *s = *net__obj_bk(o);
    /* Never registered: nothing can be in flight. */
    if (!s) {
        net__released(o);
        return;
    }
    close_sock(L(loop), s);
}

/* ---- connections ---- */

static int ur_conn_open(net_loop *loop, net_conn *c, int *os_error)
{
    (void)loop;
    (void)os_error;
    return sock_open(net__obj(c));
}

static int ur_connect(net_loop *loop, net_conn *c, const net_addr *to, int *os_error)
{
    /* The connect itself is a completion: nothing fails at once. */
    (void)os_error;
    ur_sock *s = *net__obj_bk(net__obj(c));
    struct sockaddr_storage ss;
    int len;
    if (os_sockaddr_from_addr(to, &ss, &len) != 0 || len <= 0 || (size_t)len > sizeof s->u.addr)
        return NET_E_ADDR;
    memcpy(&s->u.addr, &ss, (size_t)len);
    s->addrlen = (uint8_t)len;
    s->conn_want = 1;
    sync_sock(L(loop), s);
    return 0;
}

static void ur_recv_start(net_loop *loop, net_conn *c)
{
    set_want_rx(loop, *net__obj_bk(net__obj(c)), 1);
}

static void ur_recv_stop(net_loop *loop, net_conn *c)
{
    set_want_rx(loop, *net__obj_bk(net__obj(c)), 0);
}

static int ur_send(net_loop *loop, net_conn *c, const net_iov *iov, int count, int *os_error)
{
    /* Always a completion: nothing fails at once. */
    (void)os_error;
    ur_sock *s = *net__obj_bk(net__obj(c));
    memset(&s->u.msg, 0, sizeof s->u.msg);
    s->u.msg.msg_iov = (struct iovec *)(void *)iov;
    s->u.msg.msg_iovlen = (size_t)count;
    s->send_want = 1;
    sync_sock(L(loop), s);
    return NET__PENDING;
}

/* ---- UDP ----
 * The receive buffers are one ring per loop rather than per socket: a
 * datagram holds a buffer only from its CQE until the core has copied it out
 * (inside net__udp_received), so what a loop needs depends on how many
 * datagrams arrive between two reaps, not on how many sockets it has. A ring
 * per socket sized to its max_datagram would cost a registration and a few
 * dozen buffers for each socket (2 MiB apiece at the default 65507), and
 * would be too small once NET_OPT_MAX_DATAGRAM raises the limit. Here any
 * buffer holds any datagram, which also leaves more than max_datagram + 1
 * bytes for the payload: the core drops what exceeds the socket's limit of
 * the moment, and MSG_TRUNC would still mark what did not fit. A busy socket
 * can drain the ring for the others: their multishot ends with -ENOBUFS and
 * is re-armed once the batch has given its buffers back (and the ring grown).
 */

static int ubuf_setup(ur_loop *l, int *os_error)
{
    if (l->ubr)
        return 0;
    /* From the loop thread: a SINGLE_ISSUER ring takes registrations only
     * from it. */
    ensure_enabled(l);
    size_t len = (size_t)UBR_ENTRIES * sizeof(struct io_uring_buf);
    struct io_uring_buf_ring *br = map_pages(len);
    if (!br)
        return NET_E_NOMEM;
    int rc = register_buf_ring(&l->ring, br, UBR_ENTRIES, UBGID, 0);
    if (rc != 0) {
        munmap(br, len);
        *os_error = -rc;
        return rc == -ENOMEM ? NET_E_NOMEM : NET_E_OS;
    }
    io_uring_buf_ring_init(br);
    l->ubr = br;
    if (ubuf_grow(l) != 0) {
        io_uring_unregister_buf_ring(&l->ring, UBGID);
        munmap(br, len);
        l->ubr = NULL;
        return NET_E_NOMEM;
    }
    /* What a multishot recvmsg puts in front of each payload: the sender's
     * address (IPv4 or IPv6), no control data. */
    memset(&l->urx_msg, 0, sizeof l->urx_msg);
    l->urx_msg.msg_namelen = sizeof(struct sockaddr_in6);
    return 0;
}

/* Queues a cancel for every receive in flight not cancelled yet. */
static int udp_cancel_rx(ur_loop *l, ur_udp *u)
{
    ur_sock *s = &u->s;
    if (cancel_rx(l, s, UD_RECV) != 0)
        return -1;
    for (unsigned i = 0; i < URX_SLOTS; i++) {
        uint32_t bit = 1u << i;
        if ((u->rx_busy & bit) && !(u->rx_cxl_mask & bit)) {
            if (cancel_ud(l, s, ud_make(s, UD_RECV, URX_SINGLE | i)) != 0)
                return -1;
            u->rx_cxl_mask |= bit;
        }
    }
    return 0;
}

/* The sends of a batch are linked so they leave in the order queued: a
 * sendmsg that has to wait for buffer space would otherwise be overtaken
 * by the next one. A refused datagram breaks the chain; the rest come
 * back -ECANCELED and are queued again. */
static int udp_queue_sends(ur_loop *l, ur_udp *u)
{
    ur_sock *s = &u->s;
    struct io_uring_sqe *prev = NULL;
    for (; u->tx_next < u->tx_count; u->tx_next++) {
        uint32_t i = u->tx_next;
        if (u->tx_state[i] != TX_WAIT)
            continue;
        struct io_uring_sqe *sqe = get_sqe(l);
        if (!sqe)
            return -1;
        /* A full SQ made get_sqe submit prev already: the chain starts over. */
        if (prev && io_uring_sq_ready(&l->ring) > 1)
            prev->flags |= IOSQE_IO_LINK;
        io_uring_prep_sendmsg(sqe, s->fd, &u->tx[i].msg, MSG_NOSIGNAL);
        sqe_tag(s, sqe, UD_SEND, i);
        prev = sqe;
        u->tx_state[i] = TX_FLIGHT;
        u->tx_flight++;
    }
    return 0;
}

/* MSG_TRUNC: each datagram's header says its real length (payloadlen). */
static int udp_queue_multishot(ur_loop *l, ur_udp *u)
{
    ur_sock *s = &u->s;
    struct io_uring_sqe *sqe = get_sqe(l);
    if (!sqe)
        return -1;
    /* The generation shares user_data's 16 bits with URX_SINGLE. */
    s->gen = (uint16_t)((s->gen + 1) & (URX_SINGLE - 1));
    io_uring_prep_recvmsg_multishot(sqe, s->fd, &l->urx_msg, MSG_TRUNC);
    select_buffer(sqe, UBGID);
    rx_queued(s, sqe, UD_RECV);
    return 0;
}

/* Without multishot recvmsg (its first try said -EINVAL): every free slot
 * gets a single-shot recvmsg. MSG_TRUNC: res says the datagram's real
 * length. Out of memory for the slots, the retry pass tries again. */
static int udp_queue_singles(ur_loop *l, ur_udp *u)
{
    ur_sock *s = &u->s;
    if (!u->rx && !(u->rx = net__malloc(URX_SLOTS * sizeof *u->rx)))
        return -1;
    for (unsigned i = 0; i < URX_SLOTS; i++) {
        uint32_t bit = 1u << i;
        if (u->rx_busy & bit)
            continue;
        struct io_uring_sqe *sqe = get_sqe(l);
        if (!sqe)
            return -1;
        ur_urx *x = &u->rx[i];
        memset(&x->msg, 0, sizeof x->msg);
        /* No buffer of ours: the kernel picks one of the ring's. */
        x->iov.iov_base = NULL;
        x->iov.iov_len = UBUF_SIZE;
        x->msg.msg_name = &x->name;
        x->msg.msg_namelen = sizeof x->name;
        x->msg.msg_iov = &x->iov;
        x->msg.msg_iovlen = 1;
        io_uring_prep_recvmsg(sqe, s->fd, &x->msg, MSG_TRUNC);
        select_buffer(sqe, UBGID);
        sqe_tag(s, sqe, UD_RECV, URX_SINGLE | i);
        u->rx_busy |= bit;
        u->rx_cxl_mask &= ~bit;
    }
    return 0;
}

/* An open UDP socket: the sends of its batch, and its receives while they
 * are wanted. */
static int sync_udp(ur_loop *l, ur_udp *u)
{
    if (udp_queue_sends(l, u) != 0)
        return -1;
    if (!u->s.want_rx)
        return udp_cancel_rx(l, u);
    if (u->s.rx_on)
        return 0;
    if (l->features & F_MS_RECVMSG)
        return udp_queue_multishot(l, u);
    return udp_queue_singles(l, u);
}

static int ur_udp_open(net_loop *loop, net_udp *nu, int *os_error)
{
    ur_loop *l = L(loop);
    int rc = ubuf_setup(l, os_error);
    if (rc)
        return rc;
    ur_udp *u = net__calloc(1, sizeof *u);
    if (!u)
        return NET_E_NOMEM;
    sock_init(&u->s, net__obj(nu));
    *net__obj_bk(net__obj(nu)) = u;
    return 0;
}

static void ur_udp_recv_start(net_loop *loop, net_udp *nu)
{
    ur_udp *u = *net__obj_bk(net__obj(nu));
    set_want_rx(loop, &u->s, 1);
}

static void ur_udp_recv_stop(net_loop *loop, net_udp *nu)
{
    ur_udp *u = *net__obj_bk(net__obj(nu));
    set_want_rx(loop, &u->s, 0);
}

/* Points m at datagram g: its one piece and, unless the socket is
 * connected, its address, converted into *to. An address that does not
 * convert leaves no name: sendmsg then refuses the datagram and it is
 * reported. */
static void dgram_msg(struct msghdr *m, struct iovec *iov, struct sockaddr_storage *to, const net_dgram *g)
{
    memset(m, 0, sizeof *m);
    iov->iov_base = (void *)g->data;
    iov->iov_len = g->len;
    m->msg_iov = iov;
    m->msg_iovlen = 1;
    int len;
    if (!g->connected && os_sockaddr_from_addr(&g->to, to, &len) == 0) {
        m->msg_name = to;
        m->msg_namelen = (socklen_t)len;
    }
}

/* Sends d[0..count) with sendmmsg while the socket takes them, in order;
 * returns how many are finished (sent, or refused and reported). What
 * waits for buffer space goes through the ring. */
static int udp_send_direct(ur_udp *u, const net_dgram *d, int count)
{
    enum { CHUNK = 64 };
    struct mmsghdr mm[CHUNK];
    struct iovec iov[CHUNK];
    struct sockaddr_storage to[CHUNK];
    int done = 0;
    while (done < count) {
        int k = count - done < CHUNK ? count - done : CHUNK;
        for (int i = 0; i < k; i++)
            dgram_msg(&mm[i].msg_hdr, &iov[i], &to[i], &d[done + i]);
        int r = sendmmsg(u->s.fd, mm, (unsigned)k, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r > 0) {
            done += r;
            continue;
        }
        int e = r < 0 ? errno : EIO;
        if (e == EINTR)
            continue;
        if (e == EAGAIN || e == EWOULDBLOCK)
            break;
        net__udp_send_failed(u->s.obj, &d[done], os_error_to_net(e), e);
        done++;
    }
    return done;
}

/* Room for a batch of count datagrams. Called with no batch in flight:
 * nothing points into the old arrays. */
static int udp_tx_reserve(ur_udp *u, uint32_t count)
{
    if (count <= u->tx_cap)
        return 0;
    ur_utx *tx = net__malloc((size_t)count * sizeof *tx);
    uint8_t *st = net__malloc((size_t)count);
    if (!tx || !st) {
        free(tx);
        free(st);
        return -1;
    }
    free(u->tx);
    free(u->tx_state);
    u->tx = tx;
    u->tx_state = st;
    u->tx_cap = count;
    return 0;
}

static int ur_udp_send(net_loop *loop, net_udp *nu, const net_dgram *d, int count, int *os_error)
{
    /* A refused datagram is reported on its own (net__udp_send_failed). */
    (void)os_error;
    ur_udp *u = *net__obj_bk(net__obj(nu));
    if (count <= 0)
        return 0;
    /* A datagram's index must fit the 16 bits of user_data. */
    if (count > 65536)
        return NET_E_INVAL;
    /* A datagram send does not wait on the peer: straight from this thread
     * it costs one syscall per batch and no completion per datagram. Only
     * what the socket cannot take now goes through the ring. */
    int first = L(loop)->udp_sqe_only ? 0 : udp_send_direct(u, d, count);
    if (first == count)
        return count;
    if (udp_tx_reserve(u, (uint32_t)count) != 0)
        return NET_E_NOMEM;
    memset(u->tx_state, TX_DONE, (size_t)first);
    for (int i = first; i < count; i++) {
        dgram_msg(&u->tx[i].msg, &u->tx[i].iov, &u->tx[i].to, &d[i]);
        u->tx_state[i] = TX_WAIT;
    }
    u->tx_batch = d;
    u->tx_count = (uint32_t)count;
    u->tx_left = (uint32_t)(count - first);
    u->tx_next = (uint32_t)first;
    sync_sock(L(loop), &u->s);
    return NET__PENDING;
}

/* ---- completions ---- */

/* The final CQE of a receive (accept, for a listener): none in flight now. */
static void rx_ended(ur_sock *s)
{
    s->rx_on = 0;
    s->rx_cxl = 0;
    s->ops--;
}

static void on_accept(ur_loop *l, ur_sock *s, int res, unsigned flags)
{
    int more = (flags & IORING_CQE_F_MORE) != 0;
    if (!more)
        rx_ended(s);
    int fault = res >= 0 ? net__fault(NET_FAULT_ACCEPT) : 0;
    /* Test builds: as if the accept had failed. */
    if (fault) {
        close(res);
        res = -fault;
    }
    if (res >= 0) {
        net_addr peer;
        memset(&peer, 0, sizeof peer);
        /* Multishot accept cannot return addresses, so the peer's comes from
         * getpeername. That fails once the peer has reset the connection
         * while it waited in the queue: such a connection is dropped, as
         * accept4's ECONNABORTED is, rather than handed out nameless. */
        if (s->closed || os_sock_peer_addr(res, &peer) != NET_OK)
            close(res);
        else
            net__accepted(s->obj, res, &peer, 0, 0);
    } else if (!s->closed) {
        int e = -res;
        if (e == EINVAL && !more && (l->features & F_MS_ACCEPT)) {
            /* No multishot accept here: single shots from now on. */
            l->features &= ~F_MS_ACCEPT;
        } else if (e == ECANCELED || e == EINTR || e == EAGAIN || e == ECONNABORTED || e == EPROTO) {
            /* re-arm below */
        } else {
            net__accepted(s->obj, NET_BAD_SOCK, NULL, os_error_to_net(e), e);
            /* A broken listener: do not spin on it. */
            if (os_error_is_listener_broken(e))
                s->want_rx = 0;
        }
    }
    if (!more)
        sync_sock(l, s);
}

/* Hands the bytes in buffer bid to the core, which copies them out; the
 * buffer then goes back to the ring, unless the kernel still fills the rest
 * of it (incremental consumption). */
static void recv_buffer(ur_loop *l, ur_sock *s, int res, unsigned flags)
{
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    uint8_t *p = buf_ptr(l, bid);
    if (l->buf_off)
        p += l->buf_off[bid];
    if (res > 0 && !s->closed)
        net__received(s->obj, p, (size_t)res);
    if (l->buf_off && (flags & IORING_CQE_F_BUF_MORE)) {
        l->buf_off[bid] += res > 0 ? (uint32_t)res : 0;
    } else {
        if (l->buf_off)
            l->buf_off[bid] = 0;
        buf_put(l, bid);
    }
}

static void recv_error(ur_loop *l, ur_sock *s, int e, int more)
{
    if (e == ENOBUFS) {
        l->starved = 1;
        l->nobufs++;
        /* Re-armed by the retry pass, once the ring has buffers again. */
        if (s->want_rx)
            retry_later(l, s);
    } else if (e == EINVAL && !more && (l->features & F_MS_RECV)) {
        /* No multishot recv here: single shots from now on. */
        l->features &= ~F_MS_RECV;
    } else if (e == ECANCELED || e == EINTR || e == EAGAIN) {
        /* ours (recv_stop), or the submitting thread exited: re-arm if wanted */
    } else {
        s->want_rx = 0;
        net__recv_failed(s->obj, os_error_to_net(e), e);
    }
}

static void on_recv(ur_loop *l, ur_sock *s, int res, unsigned flags)
{
    int more = (flags & IORING_CQE_F_MORE) != 0;
    int fault = res > 0 ? net__fault(NET_FAULT_RECV) : 0;
    /* Test builds: the data is lost to a reset, as it would be. */
    if (fault == ECONNRESET)
        res = -fault;
    if (!more)
        rx_ended(s);
    if (flags & IORING_CQE_F_BUFFER)
        recv_buffer(l, s, res, flags);
    /* A single shot that left data behind: ur_wait reads on this turn. */
    if (!more && res > 0 && (flags & IORING_CQE_F_SOCK_NONEMPTY))
        l->again = 1;
    if (res == 0) {
        /* The end of the stream, said once: nothing more will come. */
        if (!s->closed && !s->eof) {
            s->eof = 1;
            net__received(s->obj, NULL, 0);
        }
    } else if (res < 0 && !s->closed) {
        recv_error(l, s, -res, more);
    }
    if (!more)
        sync_sock(l, s);
}

static void on_send(ur_loop *l, ur_sock *s, int res)
{
    s->send_on = 0;
    s->ops--;
    int fault = res >= 0 ? net__fault(NET_FAULT_SEND) : 0;
    /* Test builds: the connection failed under the send. */
    if (fault == ECONNRESET || fault == EPIPE)
        res = -fault;
    if (s->closed) {
        sync_sock(l, s);
        return;
    }
    if (res >= 0) {
        net__sent(s->obj, (size_t)res, 0, 0);
    } else if (res == -EAGAIN || res == -EINTR || res == -ECANCELED) {
        /* Nothing was sent: again. */
        s->send_want = 1;
    } else {
        net__sent(s->obj, 0, os_error_to_net(-res), -res);
    }
    sync_sock(l, s);
}

static void on_connect(ur_loop *l, ur_sock *s, int res)
{
    s->conn_on = 0;
    s->ops--;
    if (!s->closed)
        net__connected(s->obj, res < 0 ? os_error_to_net(-res) : 0, res < 0 ? -res : 0);
    sync_sock(l, s);
}

/* One datagram in buffer buf (res bytes of CQE): x is the single-shot slot
 * it came through, NULL for multishot (header and address in the buffer).
 * An empty datagram through a single shot takes no buffer: buf is NULL. */
static void udp_deliver(ur_loop *l, ur_udp *u, const ur_urx *x, uint8_t *buf, int res)
{
    const void *data, *name;
    size_t len, namelen;
    int trunc;
    if (x) {
        data = buf ? (const void *)buf : (const void *)"";
        /* MSG_TRUNC made res the real length, even past the buffer. */
        len = (size_t)res;
        trunc = (x->msg.msg_flags & MSG_TRUNC) || len > UBUF_SIZE;
        if (len > UBUF_SIZE)
            len = UBUF_SIZE;
        name = &x->name;
        namelen = x->msg.msg_namelen;
    } else {
        struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, res, &l->urx_msg);
        /* Shorter than the header the kernel always writes. */
        if (!o)
            return;
        data = io_uring_recvmsg_payload(o, &l->urx_msg);
        len = io_uring_recvmsg_payload_length(o, res, &l->urx_msg);
        trunc = (o->flags & MSG_TRUNC) || o->payloadlen > len;
        name = io_uring_recvmsg_name(o);
        namelen = o->namelen;
    }
    net_addr from;
    if (namelen >= sizeof(sa_family_t))
        os_addr_from_sockaddr(name, &from);
    else
        memset(&from, 0, sizeof from);
    net__udp_received(u->s.obj, data, len, &from, trunc);
}

static void udp_recv_error(ur_loop *l, ur_udp *u, int e, int single, int more)
{
    ur_sock *s = &u->s;
    if (e == ENOBUFS) {
        l->ustarved = 1;
        l->nobufs++;
        /* Re-armed by the retry pass, once the ring has buffers again. */
        if (s->want_rx)
            retry_later(l, s);
    } else if (e == EINVAL && !single && !more && (l->features & F_MS_RECVMSG)) {
        /* No multishot recvmsg here: single shots from now on. */
        l->features &= ~F_MS_RECVMSG;
    } else if (e == ECANCELED || e == EINTR || e == EAGAIN) {
        /* ours (recv_stop), or the submitting thread exited: re-arm if wanted */
    } else {
        /* ICMP news (ECONNREFUSED on a connected socket...) ends the
         * multishot; the socket goes on receiving. A broken socket stops:
         * do not spin on it. */
        net__udp_recv_error(s->obj, os_error_to_net(e), e);
        if (e == ENOMEM) {
            if (s->want_rx)
                retry_later(l, s);
        } else if (e == EBADF || e == ENOTSOCK || e == EFAULT || e == EINVAL) {
            s->want_rx = 0;
        }
    }
}

static void on_udp_recv(ur_loop *l, ur_udp *u, unsigned tag, int res, unsigned flags)
{
    ur_sock *s = &u->s;
    int single = (tag & URX_SINGLE) != 0;
    unsigned slot = tag & (URX_SINGLE - 1);
    int more = !single && (flags & IORING_CQE_F_MORE);
    if (single) {
        u->rx_busy &= ~(1u << slot);
        u->rx_cxl_mask &= ~(1u << slot);
        s->ops--;
    } else if (!more) {
        rx_ended(s);
    }
    if (flags & IORING_CQE_F_BUFFER) {
        unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
        if (res >= 0 && !s->closed)
            udp_deliver(l, u, single ? &u->rx[slot] : NULL, ubuf_ptr(l, bid), res);
        ubuf_put(l, bid);
    } else if (single && res == 0 && !s->closed) {
        /* The kernel takes no buffer for an empty datagram. */
        udp_deliver(l, u, &u->rx[slot], NULL, 0);
    }
    /* UDP does not say whether more datagrams wait: ur_wait re-posts the
     * single shot and reads on this turn. */
    if (single && res >= 0)
        l->again = 1;
    if (res < 0 && !s->closed)
        udp_recv_error(l, u, -res, single, more);
    if (!more)
        sync_sock(l, s);
}

static void on_udp_send(ur_loop *l, ur_udp *u, unsigned idx, int res)
{
    ur_sock *s = &u->s;
    s->ops--;
    u->tx_flight--;
    if (s->closed || !u->tx_batch || idx >= u->tx_count) {
        sync_sock(l, s);
        return;
    }
    if (res == -EAGAIN || res == -EINTR || res == -ECANCELED) {
        /* Nothing was sent: again. */
        u->tx_state[idx] = TX_WAIT;
        if (idx < u->tx_next)
            u->tx_next = idx;
        sync_sock(l, s);
        return;
    }
    u->tx_state[idx] = TX_DONE;
    if (res < 0)
        net__udp_send_failed(s->obj, &u->tx_batch[idx], os_error_to_net(-res), -res);
    if (--u->tx_left == 0 && !s->closed) {
        int n = (int)u->tx_count;
        u->tx_batch = NULL;
        u->tx_count = u->tx_next = 0;
        /* This may hand us the next batch at once. */
        net__udp_sent(s->obj, n);
    }
    sync_sock(l, s);
}

static void on_cancel(ur_loop *l, ur_sock *s, int res)
{
    s->ops--;
    /* Cancel by fd is unknown here: one cancel per operation from now on. */
    if (res == -EINVAL && s->closed && (l->features & F_CANCEL_FD)) {
        l->features &= ~F_CANCEL_FD;
        s->close_cxl = 0;
    }
    sync_sock(l, s);
}

static void handle(ur_loop *l, uint64_t ud, int res, unsigned flags)
{
    unsigned op = (unsigned)(ud & UD_OP_MASK);
    ur_sock *s = (ur_sock *)(uintptr_t)(ud & UD_PTR_MASK);
    switch (op) {
    case UD_WAKE:
        l->wake_on = 0;
        arm_wake(l);
        return;
    case UD_ACCEPT:
        on_accept(l, s, res, flags);
        break;
    case UD_RECV:
        if (net__obj_kind(s->obj) == OBJ_UDP)
            on_udp_recv(l, (ur_udp *)s, (unsigned)(ud >> UD_GEN_SHIFT), res, flags);
        else
            on_recv(l, s, res, flags);
        break;
    case UD_SEND:
        if (net__obj_kind(s->obj) == OBJ_UDP)
            on_udp_send(l, (ur_udp *)s, (unsigned)(ud >> UD_GEN_SHIFT), res);
        else
            on_send(l, s, res);
        break;
    case UD_CONNECT:
        on_connect(l, s, res);
        break;
    case UD_CANCEL:
        on_cancel(l, s, res);
        break;
    default:
        return;
    }
    maybe_retire(l, s);
}

/* Submits what is queued and waits for a completion up to timeout_ms (-1:
 * no limit), in one io_uring_enter. */
static void enter(ur_loop *l, int timeout_ms)
{
    int rc;
    int fault = net__fault(NET_FAULT_SUBMIT);
    if (fault) {
        /* Test builds: this enter fails; the SQEs wait for the next turn. */
        rc = -fault;
        timeout_ms = timeout_ms < 0 || timeout_ms > 10 ? 10 : timeout_ms;
        os_sleep_ms((uint32_t)timeout_ms);
    } else if (timeout_ms == 0) {
        rc = io_uring_submit_and_get_events(&l->ring);
    } else if (timeout_ms < 0) {
        rc = io_uring_submit_and_wait(&l->ring, 1);
    } else {
        struct __kernel_timespec ts;
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
        struct io_uring_cqe *cqe;
        rc = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
    }
    if (rc < 0)
        submit_error(l, rc);
}

/* After a batch: a ring that ran dry grows (at the bound, the recycled
 * buffers have to do), and the buffers given back are published. */
static void refill(ur_loop *l)
{
    if (l->starved) {
        l->starved = 0;
        buf_grow(l);
    }
    if (l->ustarved) {
        l->ustarved = 0;
        ubuf_grow(l);
    }
    buf_flush(l);
}

/* Handles up to l->batch CQEs; returns how many. */
static unsigned reap(ur_loop *l)
{
    unsigned total = 0;
    for (int round = 0;; round++) {
        l->again = 0;
        unsigned n = io_uring_peek_batch_cqe(&l->ring, l->cqes, l->batch - total);
        for (unsigned i = 0; i < n; i++) {
            struct io_uring_cqe *cqe = l->cqes[i];
            handle(l, cqe->user_data, cqe->res, cqe->flags);
        }
        io_uring_cq_advance(&l->ring, n);
        total += n;
        refill(l);
        run_retry(l);
        /* Single-shot receives (no multishot here) that left data behind,
         * or single-shot recvmsgs that got a datagram (UDP does not say
         * whether more wait): read on now, as epoll reads a socket several
         * times a turn. */
        if (!l->again || round >= 8 || total >= l->batch)
            break;
        int rc = io_uring_submit_and_get_events(&l->ring);
        if (rc < 0) {
            submit_error(l, rc);
            break;
        }
    }
    return total;
}

static int ur_wait(net_loop *loop, int timeout_ms)
{
    ur_loop *l = L(loop);
    ensure_enabled(l);
    if (l->wake_rearm)
        arm_wake(l);
    run_retry(l);
    buf_flush(l);
    /* run_retry may have released sockets: the core finishes them at the
     * end of this turn and waits for them, so no sleeping. */
    if (net__loop_releasing(loop))
        timeout_ms = 0;
    enter(l, timeout_ms);
    unsigned total = reap(l);
    return (int)total;
}

/* ---- a waitable (io_threads = 0) ---- */

/* The ring's descriptor polls readable while CQEs (or their task work, or
 * an overflow) wait. */
static int ur_watch(net_loop *loop, intptr_t *pollable)
{
    *pollable = L(loop)->ring.ring_fd;
    return 0;
}

/* What only the next wait() submits: queued SQEs, sockets waiting for an
 * SQE, the wake-up read to queue again. */
static int ur_has_work(net_loop *loop)
{
    ur_loop *l = L(loop);
    return io_uring_sq_ready(&l->ring) > 0 || l->retry != NULL || l->wake_rearm;
}

const net_backend net__backend_uring = {
    .name = "io_uring",
    .probe = ur_probe,
    .loop_open = ur_loop_open,
    .loop_close = ur_loop_close,
    .wait = ur_wait,
    .wake = ur_wake,
    .watch = ur_watch,
    .has_work = ur_has_work,
    .sock_free = ur_sock_free,
    .close = ur_close,
    .listener_open = ur_listener_open,
    .accept_start = ur_accept_start,
    .accept_stop = ur_accept_stop,
    .conn_open = ur_conn_open,
    .connect = ur_connect,
    .recv_start = ur_recv_start,
    .recv_stop = ur_recv_stop,
    .send = ur_send,
    .send_now = os_sock_send_now,
    .udp_open = ur_udp_open,
    .udp_recv_start = ur_udp_recv_start,
    .udp_recv_stop = ur_udp_recv_stop,
    .udp_send = ur_udp_send,
};
