/*
 * model.c - randomized lifecycle model test (issue 12).
 *
 * One engine (backend from --backend / NET_BACKEND, io_threads from
 * --io-threads / NET_TEST_IO_THREADS). The main thread runs net_poll and the
 * model; worker threads call random send / sendv / broadcast / close /
 * abort / shutdown / set_option / get_option / timers / post / connect on the
 * handles the model hands them, and also call stale handles. The remote side
 * of every connection is a peer implemented with plain non-blocking sockets
 * on one peer thread (poll()), independent of the library: it connects to
 * the engine's listeners (inbound) and accepts the engine's net_connect
 * (outbound), and behaves per connection as one of
 *   echo       echoes everything (whole frames), sometimes sends its own FIN
 *   sink       reads and verifies everything, sends its own stream
 *   halfclose  sends its own stream, then shutdown(SHUT_WR), reads to EOF
 *   reset      reads/sends a while, then SO_LINGER 0 + close (RST)
 *   stopread   does not read for a while (backpressure, send cap, close
 *              timeout), then reads again or resets
 *   trickle    reads and writes a few bytes at a time with pauses
 *
 * Streams are verifiable: every message the engine side sends is logged
 * (seed, length) under the connection's model lock around the net_send* call
 * and kept only when the call returned 0, so the accepted stream is known
 * exactly and the peer (and, for echo peers, the model) checks every byte
 * against it. The peers' own streams are deterministic from a per-connection
 * seed. Connections the engine makes start with an 8-byte hello (the model's
 * connection id) so the peer can tell which one it accepted; connections the
 * peer makes are matched to their ACCEPT by source address (127.0.0.x:port).
 *
 * What the model checks (any failure prints MODEL VIOLATION with the seed,
 * the connection, expected vs seen and the connection's recent history, and
 * exits 1):
 *   - exactly one CLOSE per handle, no event for a handle after its CLOSE,
 *     no event for a handle never returned; CONNECT only for net_connect
 *     handles, at most once, before any DATA; ACCEPT only from an open
 *     listener; HIGHWATER/DRAINED alternate; event user data is the handle's;
 *   - bytes: what arrives (at the peer, or back at the engine) is exactly the
 *     accepted stream, in order, never a byte that was not accepted;
 *   - CLOSE status 0 with a peer that reads everything: the peer got every
 *     accepted byte and then EOF; a peer EOF always means every accepted byte
 *     arrived; CLOSE status 0 after the peer's orderly close (and no local
 *     net_close/net_abort): the engine delivered every byte the peer sent;
 *   - CLOSE status is explained: RESET only after the peer reset, ABORTED
 *     only after net_abort, TIMEDOUT only with a close/idle timeout in play;
 *   - return codes: every call returns a documented code allowed in the
 *     state the model knows (send after close/shutdown returned 0 is CLOSED;
 *     a call on a handle after its CLOSE is BADHANDLE; a BADHANDLE before
 *     the CLOSE was delivered is an error; WOULDBLOCK for a message larger
 *     than the send cap is an error: it can never succeed);
 *   - timers fire once (one-shot) / keep firing (repeating), never after
 *     net_close; every net_post value arrives exactly once;
 *   - after the end (graceful drain, or an abrupt destroy while everything
 *     is live), the engine is destroyed and the process's descriptor count is
 *     back to the baseline taken before the engine was created. Under ASan,
 *     LeakSanitizer checks memory at exit.
 *
 * Replay: the seed is printed first; --seed N replays the same random
 * decisions of every thread, but thread interleavings are not replayable.
 */
#include "model_os.h"
#include "testlib.h"

#include <stdarg.h>
#include <stdatomic.h>

/* ------------------------------------------------------------------ misc */

#define HELLO_BIT (1ull << 63)
#define TRACE_N 48
#define TRACE_W 96
#define MAX_WORKERS 8
#define MAX_LISTENERS 4
#define GRACE_MS 5000 /* wait for the other side of a connection to show up */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rnd(rng *r)
{
    return mix64(r->s += 0x9E3779B97F4A7C15ull);
}

static uint32_t rn(rng *r, uint32_t n)
{
    return n ? (uint32_t)(rnd(r) % n) : 0;
}

static uint32_t rrange(rng *r, uint32_t lo, uint32_t hi) /* inclusive */
{
    return lo + rn(r, hi - lo + 1);
}

static int chance(rng *r, unsigned pct)
{
    return rn(r, 1000) < pct * 10;
}

static uint64_t now_ms(void)
{
    return tl_now_ms();
}

/* Byte `off` of a logged message: a hello carries its 8-byte seed. */
static inline uint8_t content(uint64_t seed, uint64_t off)
{
    if ((seed & HELLO_BIT) && off < 8)
        return (uint8_t)(seed >> (8 * off));
    return tl_pat(seed, off);
}

static void fill_content(uint8_t *p, uint32_t len, uint64_t seed)
{
    if (seed & HELLO_BIT) {
        for (uint32_t i = 0; i < len; i++)
            p[i] = content(seed, i);
    } else {
        tl_fill(p, len, seed, 0);
    }
}

/* Payload length of the peer's k-th frame on a framed connection. */
static uint32_t peer_fsize(uint64_t pseed, uint64_t k, int incl)
{
    uint64_t x = mix64(pseed ^ (k + 1) * 0xD6E8FEB86659FD93ull);
    uint32_t r = (uint32_t)(x % 100), maxp = incl ? 65533u : 65535u;
    x >>= 8;
    if (r < 4)
        return 0;
    if (r < 74)
        return 1 + (uint32_t)(x % 256);
    if (r < 95)
        return 257 + (uint32_t)(x % 3840);
    return 4097 + (uint32_t)(x % (maxp - 4096));
}

/* ------------------------------------------------------------- options */

enum {
    AV_ECHO = 1 << 0,
    AV_SINK = 1 << 1,
    AV_HALFCLOSE = 1 << 2,
    AV_RESET = 1 << 3,
    AV_STOPREAD = 1 << 4,
    AV_TRICKLE = 1 << 5,
    AV_OVERSIZE = 1 << 6,   /* sends larger than the connection's send cap */
    AV_PRECONNECT = 1 << 7, /* close/shutdown/abort/sends before CONNECT */
    AV_RACYCLOSE = 1 << 8,  /* close/abort without the model's connection lock */
    AV_CHURN = 1 << 9,      /* closing and reopening engine listeners */
    AV_STALL = 1 << 10,     /* the model not polling for a while */
    AV_IDLE = 1 << 11,      /* NET_OPT_IDLE_TIMEOUT */
    AV_TIMERS = 1 << 12,
    AV_POSTS = 1 << 13,
    AV_BROADCAST = 1 << 14,
    AV_STALE = 1 << 15,
    AV_DESTROYRACE = 1 << 16, /* worker calls racing net_engine_destroy (abrupt end) */
    AV_INBOUND = 1 << 17,     /* connections the peer makes */
    AV_OUTBOUND = 1 << 18,    /* connections the engine makes */
    AV_SHUTDOWN = 1 << 19,
    AV_ABORT = 1 << 20,
    AV_OPTIONS = 1 << 21, /* option, user data and address calls */
};
static const struct {
    const char *name;
    unsigned bit;
} g_avoid_names[] = {{"echo", AV_ECHO},
                     {"sink", AV_SINK},
                     {"halfclose", AV_HALFCLOSE},
                     {"reset", AV_RESET},
                     {"stopread", AV_STOPREAD},
                     {"trickle", AV_TRICKLE},
                     {"oversize", AV_OVERSIZE},
                     {"preconnect", AV_PRECONNECT},
                     {"racyclose", AV_RACYCLOSE},
                     {"churn", AV_CHURN},
                     {"stall", AV_STALL},
                     {"idle", AV_IDLE},
                     {"timers", AV_TIMERS},
                     {"posts", AV_POSTS},
                     {"broadcast", AV_BROADCAST},
                     {"stale", AV_STALE},
                     {"destroyrace", AV_DESTROYRACE},
                     {"inbound", AV_INBOUND},
                     {"outbound", AV_OUTBOUND},
                     {"shutdown", AV_SHUTDOWN},
                     {"abort", AV_ABORT},
                     {"options", AV_OPTIONS}};

static struct {
    uint64_t seed;
    double seconds;
    double soak_min;
    const char *backend;
    int io_threads;
    int workers;
    int verbose;
    unsigned avoid;
    int end_mode; /* -1 random, 0 graceful, 1 abrupt */
    int report_s;
} O = {0, 8.0, 0, NULL, 0, 3, 0, 0, -1, 30};

static struct {
    uint32_t close_timeout_ms, send_cap, highwater, lowwater, recv_limit, event_batch;
    int target_in, target_out, abrupt;
} P; /* per-run parameters drawn from the seed */

static int avoid(unsigned bit)
{
    return (O.avoid & bit) != 0;
}

/* ------------------------------------------------------------ hash map */

typedef struct hmap {
    uint64_t *k;
    void **v;
    size_t cap, n;
} hmap;

static size_t hm_slot(uint64_t k, size_t cap)
{
    return (size_t)(mix64(k)) & (cap - 1);
}

static void hm_put(hmap *m, uint64_t k, void *v);

static void hm_grow(hmap *m)
{
    hmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->k = (uint64_t *)calloc(m->cap, sizeof *m->k);
    m->v = (void **)calloc(m->cap, sizeof *m->v);
    if (!m->k || !m->v) {
        fprintf(stderr, "model: out of memory\n");
        _Exit(2);
    }
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.k[i])
            hm_put(m, old.k[i], old.v[i]);
    free(old.k);
    free(old.v);
}

static void *hm_get(const hmap *m, uint64_t k)
{
    if (!m->cap)
        return NULL;
    for (size_t i = hm_slot(k, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->k[i] == k)
            return m->v[i];
        if (!m->k[i])
            return NULL;
    }
}

static void hm_put(hmap *m, uint64_t k, void *v)
{
    if ((m->n + 1) * 2 > m->cap)
        hm_grow(m);
    size_t i = hm_slot(k, m->cap);
    while (m->k[i] && m->k[i] != k)
        i = (i + 1) & (m->cap - 1);
    if (!m->k[i])
        m->n++;
    m->k[i] = k;
    m->v[i] = v;
}

static void hm_del(hmap *m, uint64_t k)
{
    if (!m->cap)
        return;
    size_t i = hm_slot(k, m->cap);
    while (m->k[i] != k) {
        if (!m->k[i])
            return;
        i = (i + 1) & (m->cap - 1);
    }
    m->k[i] = 0;
    m->v[i] = NULL;
    m->n--;
    /* backward-shift the run after it */
    for (size_t j = (i + 1) & (m->cap - 1); m->k[j]; j = (j + 1) & (m->cap - 1)) {
        uint64_t kk = m->k[j];
        void *vv = m->v[j];
        m->k[j] = 0;
        m->v[j] = NULL;
        m->n--;
        hm_put(m, kk, vv);
    }
}

static void hm_free(hmap *m)
{
    free(m->k);
    free(m->v);
    memset(m, 0, sizeof *m);
}

/* ----------------------------------------------------------- the model */

enum { B_ECHO, B_SINK, B_HALFCLOSE, B_RESET, B_STOPREAD, B_TRICKLE, B_COUNT };
static const char *const g_bname[B_COUNT] = {"echo", "sink", "halfclose", "reset", "stopread", "trickle"};
static int reads_all(int b)
{
    return b == B_ECHO || b == B_SINK || b == B_HALFCLOSE || b == B_TRICKLE;
}

enum { S_NONE, S_LIVE, S_DONE, S_DESTROYED };
enum { K_CONN = 1, K_TIMER, K_LISTENER };

typedef struct logent {
    uint64_t seed;
    uint32_t len;
    uint32_t pad_;
} logent;

typedef struct cursor {
    uint64_t idx; /* absolute message index */
    uint32_t off; /* bytes of it consumed */
} cursor;

typedef struct conn {
    int kind; /* K_CONN */
    uint64_t id;
    int outbound; /* the engine connected (net_connect) */
    int framing;  /* 0 raw, 1 u16le */
    int incl;     /* NET_TCP_LEN_INCLUDES_HEADER */
    int behaviour;
    uint64_t pseed; /* the peer's own stream */
    net_handle listener;
    mo_mutex mu;
    atomic_int busy; /* workers holding a pointer */
    struct conn *next, *prev;
    int live_idx;

    /* engine side (state changes under g_reg and mu) */
    int eng_state;
    net_handle h;
    uint64_t created_ms, eng_done_ms, close_pollno;
    int close_status, close_os;

    /* the accepted outgoing stream (mu) */
    logent *log;
    uint64_t log_base, log_n;
    size_t log_cap;
    uint64_t out_payload, out_msgs;
    cursor pcur, ecur; /* the peer's and (echo) the model's position */

    /* what the model knows for return codes (mu) */
    uint32_t send_cap, hw, lw;
    int idle_set;
    atomic_int close_called, abort_called, shutdown_called; /* set before the call */
    int closed_known;                                       /* close/abort returned 0 under mu */
    int shut_known;                                         /* shutdown returned 0 under mu */
    uint64_t first_bad_pollno;                              /* earliest BADHANDLE before CLOSE */
    const char *first_bad_call;
    uint32_t user_ver;
    uint64_t user_cur, user_prev;

    /* events (model thread) */
    atomic_int got_connect;
    int hw_state;
    int unknown;        /* an ACCEPT nobody we know connected from */
    uint64_t end_ok_ms; /* workers may end it from then on */
    uint64_t in_payload, in_msgs;

    /* peer side (mu) */
    int peer_state;
    uint64_t peer_done_ms;
    uint64_t peer_rx_payload, peer_rx_msgs;
    uint64_t peer_fin_payload, peer_fin_msgs; /* what it had sent when it sent FIN */
    int peer_fin, peer_may_rst, peer_got_eof, peer_err, peer_resumed;
    const char *peer_end; /* how the peer's socket ended */
    uint32_t peer_ip;
    uint16_t peer_port;
    uint64_t port_key;

    char trace[TRACE_N][TRACE_W];
    uint32_t trace_n;
} conn;

typedef struct mtimer {
    int kind; /* K_TIMER */
    net_handle h;
    uint64_t user, start_ms, delay_ms, repeat_ms, last_fire_ms, closed_pollno;
    uint64_t fires, bad_pollno;
    int closed, live_idx;
} mtimer;

typedef struct mlistener {
    int kind; /* K_LISTENER */
    net_handle h;
    uint16_t port;
    int framing, incl;
    int closing, closed;
} mlistener;

/* Everything below is under g_reg. */
static mo_mutex g_reg;
static hmap g_handles; /* handle -> conn / mtimer / mlistener */
static hmap g_dead;    /* handle -> kind, after its CLOSE (or a timer's end) */
static hmap g_ports;   /* peer source ip<<16|port -> conn (inbound, before ACCEPT) */
static hmap g_ids;     /* conn id -> conn */
static conn *g_all;    /* every conn record */
static conn **g_live;  /* engine side live */
static size_t g_nlive, g_caplive;
static mtimer **g_timers;
static size_t g_ntimers, g_captimers;
static mlistener g_lst[MAX_LISTENERS];
static uint16_t g_used_ports[4096];
static size_t g_nused_ports;
static net_handle g_deadring[256];
static size_t g_ndead;
static uint16_t g_peer_port[3]; /* peer listeners: raw, u16, u16 incl */
static int g_live_in, g_live_out;

/* counters */
static atomic_uint_fast64_t g_pollno;
static atomic_uint_fast64_t g_bytes_verified, g_conns_total, g_calls, g_events;
static atomic_uint_fast64_t g_peeraddr_os;
static atomic_uint_fast64_t g_unknown_accepts, g_late_hellos, g_anon, g_refused, g_wouldblock;
static atomic_uint_fast64_t g_closes_by_status[20];
static atomic_int g_phase;     /* 0 run, 1 drain, 2 stop */
static atomic_int g_destroyed; /* net_engine_destroy returned */
static atomic_int g_destroying;
static atomic_uint_fast64_t g_next_id;
static net_engine g_eng;
static uint64_t g_start_ms;
static rng g_arng; /* model thread: accept-time choices */
static const char *g_backend_name = "?";

/* posts */
typedef struct poststate {
    atomic_uint_fast64_t issued; /* values handed to net_post (counted before the call) */
    uint64_t ok;                 /* calls that returned 0 */
    uint8_t *seen;               /* bitset, model thread */
    size_t seen_cap;
    uint64_t seen_n;
} poststate;
static poststate g_posts[MAX_WORKERS];

/* ------------------------------------------------------------- failing */

static atomic_int g_dying;

static const char *errname(int rc)
{
    return tl_errname(rc);
}

static void conn_describe(const conn *c, char *buf, size_t n)
{
    snprintf(buf, n,
             "conn #%llu handle=0x%llx %s %s%s peer=%s pseed=%llu | engine: %s status=%d (%s) out=%llu B/%llu "
             "msgs in=%llu B/%llu msgs close_called=%d abort_called=%d shutdown_called=%d | peer: %s rx=%llu B/%llu "
             "msgs fin=%d (sent %llu B) eof=%d err=%d may_rst=%d end=%s",
             (unsigned long long)c->id, (unsigned long long)c->h,
             c->outbound ? "outbound(net_connect)" : "inbound(ACCEPT)", c->framing ? "u16le" : "raw",
             c->framing && c->incl ? "+incl" : "", g_bname[c->behaviour], (unsigned long long)c->pseed,
             c->eng_state == S_NONE   ? "none"
             : c->eng_state == S_LIVE ? "live"
             : c->eng_state == S_DONE ? "closed"
                                      : "destroyed",
             c->close_status, errname(c->close_status), (unsigned long long)c->out_payload,
             (unsigned long long)c->out_msgs, (unsigned long long)c->in_payload, (unsigned long long)c->in_msgs,
             atomic_load(&c->close_called), atomic_load(&c->abort_called), atomic_load(&c->shutdown_called),
             c->peer_state == S_NONE   ? "never attached"
             : c->peer_state == S_LIVE ? "live"
                                       : "done",
             (unsigned long long)c->peer_rx_payload, (unsigned long long)c->peer_rx_msgs, c->peer_fin,
             (unsigned long long)c->peer_fin_payload, c->peer_got_eof, c->peer_err, c->peer_may_rst,
             c->peer_end ? c->peer_end : "-");
}

TL_NORETURN static void die(conn *c, const char *fmt, ...) TL_PRINTF(2, 3);
static void die(conn *c, const char *fmt, ...)
{
    if (atomic_exchange(&g_dying, 1)) {
        for (;;)
            mo_sleep_us(1000000);
    }
    fflush(stdout);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nMODEL VIOLATION seed=%llu backend=%s io_threads=%d at %.3f s: %s\n", (unsigned long long)O.seed,
            g_backend_name, O.io_threads, (double)(now_ms() - g_start_ms) / 1000.0, msg);
    if (c) {
        char d[1024];
        conn_describe(c, d, sizeof d);
        fprintf(stderr, "  %s\n  recent history of conn #%llu (oldest first):\n", d, (unsigned long long)c->id);
        uint32_t n = c->trace_n < TRACE_N ? c->trace_n : TRACE_N;
        for (uint32_t i = c->trace_n - n; i < c->trace_n; i++)
            fprintf(stderr, "    %s\n", c->trace[i % TRACE_N]);
    }
    fprintf(stderr,
            "  replay the same random choices (not the same interleaving): model --seed %llu --backend %s "
            "--io-threads %d --seconds %g\n",
            (unsigned long long)O.seed, g_backend_name, O.io_threads, O.seconds);
    fflush(stderr);
    _Exit(1);
}

TL_NORETURN static void fatal(const char *fmt, ...) TL_PRINTF(1, 2);
static void fatal(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    die(NULL, "%s", msg);
}

/* Appends to c's history (mu held, or c not shared yet). */
static void tr(conn *c, const char *fmt, ...) TL_PRINTF(2, 3);
static void tr(conn *c, const char *fmt, ...)
{
    char *p = c->trace[c->trace_n % TRACE_N];
    int k = snprintf(p, TRACE_W, "%8.3f ", (double)(now_ms() - g_start_ms) / 1000.0);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p + k, TRACE_W - (size_t)k, fmt, ap);
    va_end(ap);
    c->trace_n++;
}

/* ------------------------------------------------------- conn records */

static logent *log_at(conn *c, uint64_t idx)
{
    return &c->log[idx - c->log_base];
}

static void log_push(conn *c, uint64_t seed, uint32_t len)
{
    size_t used = (size_t)(c->log_n - c->log_base);
    if (used == c->log_cap) {
        size_t cap = c->log_cap ? c->log_cap * 2 : 16;
        logent *nl = (logent *)realloc(c->log, cap * sizeof *nl);
        if (!nl)
            fatal("out of memory");
        c->log = nl;
        c->log_cap = cap;
    }
    c->log[used].seed = seed;
    c->log[used].len = len;
    c->log_n++;
}

/* Removes message idx (a send that was refused). */
static void log_remove(conn *c, uint64_t idx)
{
    if (c->pcur.idx > idx || (c->pcur.idx == idx && c->pcur.off > 0) || c->ecur.idx > idx ||
        (c->ecur.idx == idx && c->ecur.off > 0))
        die(c, "bytes of message #%llu were received although its send was refused", (unsigned long long)idx);
    size_t at = (size_t)(idx - c->log_base), used = (size_t)(c->log_n - c->log_base);
    memmove(&c->log[at], &c->log[at + 1], (used - at - 1) * sizeof *c->log);
    c->log_n--;
}

/* Drops what every reader has passed. */
static void log_trim(conn *c)
{
    uint64_t keep = c->pcur.idx;
    if (c->behaviour == B_ECHO && c->ecur.idx < keep)
        keep = c->ecur.idx;
    if (keep - c->log_base < 256 || (keep - c->log_base) * 2 < c->log_n - c->log_base)
        return;
    size_t drop = (size_t)(keep - c->log_base), used = (size_t)(c->log_n - c->log_base);
    memmove(c->log, c->log + drop, (used - drop) * sizeof *c->log);
    c->log_base = keep;
}

/* Checks n raw stream bytes at cur against the accepted stream. */
static void verify_raw(conn *c, cursor *cur, const uint8_t *p, size_t n, uint64_t *pos, const char *who)
{
    size_t i = 0;
    while (i < n) {
        if (cur->idx >= c->log_n)
            die(c, "%s received byte %llu of the stream but only %llu bytes were accepted by net_send*", who,
                (unsigned long long)*pos, (unsigned long long)c->out_payload);
        logent *e = log_at(c, cur->idx);
        if (cur->off == e->len) {
            cur->idx++;
            cur->off = 0;
            continue;
        }
        size_t take = e->len - cur->off;
        if (take > n - i)
            take = n - i;
        for (size_t j = 0; j < take; j++)
            if (p[i + j] != content(e->seed, cur->off + j))
                die(c, "%s: stream byte %llu (byte %u of message #%llu, len %u) is 0x%02x, expected 0x%02x", who,
                    (unsigned long long)(*pos + j), (unsigned)(cur->off + j), (unsigned long long)cur->idx,
                    (unsigned)e->len, p[i + j], content(e->seed, cur->off + j));
        cur->off += (uint32_t)take;
        i += take;
        *pos += take;
    }
}

static const char *kind_name(int kind)
{
    return kind == K_CONN ? "connection" : kind == K_TIMER ? "timer" : kind == K_LISTENER ? "listener" : "?";
}

static uint64_t user_tag(conn *c, uint32_t ver)
{
    return 0xC000000000000000ull | (c->id << 16) | (ver & 0xFFFF);
}

/* A new record, registered in g_all and g_ids (g_reg held). */
static conn *conn_new(int outbound, int framing, int incl, int behaviour, uint64_t pseed)
{
    conn *c = (conn *)calloc(1, sizeof *c);
    if (!c)
        fatal("out of memory");
    c->kind = K_CONN;
    c->id = atomic_fetch_add(&g_next_id, 1) + 1;
    c->outbound = outbound;
    c->framing = framing;
    c->incl = framing ? incl : 0;
    c->behaviour = behaviour;
    c->pseed = pseed & ~HELLO_BIT;
    mo_mutex_init(&c->mu);
    c->live_idx = -1;
    c->send_cap = P.send_cap;
    c->hw = P.highwater;
    c->lw = P.lowwater;
    c->first_bad_pollno = UINT64_MAX;
    c->created_ms = now_ms();
    c->user_cur = user_tag(c, 0);
    c->next = g_all;
    if (g_all)
        g_all->prev = c;
    g_all = c;
    hm_put(&g_ids, c->id, c);
    atomic_fetch_add(&g_conns_total, 1);
    return c;
}

static void live_remove(conn *c);

static void conn_free(conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        g_all = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (hm_get(&g_ids, c->id) == c)
        hm_del(&g_ids, c->id);
    if (c->port_key && hm_get(&g_ports, c->port_key) == c)
        hm_del(&g_ports, c->port_key);
    if (c->h && hm_get(&g_handles, c->h) == c) /* the engine was destroyed under it */
        hm_del(&g_handles, c->h);
    live_remove(c);
    free(c->log);
    mo_mutex_destroy(&c->mu);
    free(c);
}

static void live_add(conn *c)
{
    if (g_nlive == g_caplive) {
        g_caplive = g_caplive ? g_caplive * 2 : 64;
        g_live = (conn **)realloc(g_live, g_caplive * sizeof *g_live);
        if (!g_live)
            fatal("out of memory");
    }
    c->live_idx = (int)g_nlive;
    g_live[g_nlive++] = c;
    if (c->outbound)
        g_live_out++;
    else
        g_live_in++;
}

static void live_remove(conn *c)
{
    if (c->live_idx < 0)
        return;
    conn *last = g_live[--g_nlive];
    g_live[c->live_idx] = last;
    last->live_idx = c->live_idx;
    c->live_idx = -1;
    if (c->outbound)
        g_live_out--;
    else
        g_live_in--;
}

static void dead_add(net_handle h, int kind)
{
    hm_put(&g_dead, h, (void *)(intptr_t)kind);
    g_deadring[g_ndead++ % 256] = h;
}

/* ------------------------------------------------ return-code checking */

/* A call on a connection returned BADHANDLE: legal only if its CLOSE is
 * being (or was) delivered by net_poll; the model checks that when the CLOSE
 * arrives (mu held). */
static void note_badhandle(conn *c, const char *call)
{
    uint64_t p = atomic_load(&g_pollno);
    if (p < c->first_bad_pollno) {
        c->first_bad_pollno = p;
        c->first_bad_call = call;
    }
}

/* Is rc one of the codes net.h documents? */
static int documented(int rc)
{
    return rc <= 0 && rc >= NET_E_NOTCONN;
}

/* Result of queueing `need` bytes (header included) on c (mu held). */
static void check_send_rc(conn *c, int rc, uint32_t len, const char *call)
{
    uint32_t hdr = c->framing ? 2 : 0;
    uint64_t need = (uint64_t)hdr + len;
    if (!documented(rc))
        die(c, "%s(len %u) returned %d, not a documented NET_E_* code", call, len, rc);
    if (atomic_load(&g_destroying))
        return;
    if (c->eng_state == S_DONE) {
        if (rc != NET_E_BADHANDLE)
            die(c, "%s(len %u) after the CLOSE was delivered returned %s, expected NET_E_BADHANDLE", call, len,
                errname(rc));
        return;
    }
    switch (rc) {
    case NET_OK:
        if (c->closed_known || c->shut_known)
            die(c, "%s(len %u) returned NET_OK after net_%s returned 0 on this handle; expected NET_E_CLOSED", call,
                len, c->closed_known ? "close/net_abort" : "shutdown");
        break;
    case NET_E_WOULDBLOCK:
        atomic_fetch_add(&g_wouldblock, 1);
        if (need > c->send_cap)
            die(c,
                "%s of a %llu-byte message (header included) returned NET_E_WOULDBLOCK although the connection's send "
                "cap is %u: it can never succeed, expected NET_E_MSGSIZE (issue 12, defect 5)",
                call, (unsigned long long)need, c->send_cap);
        break;
    case NET_E_MSGSIZE:
        if (need <= c->send_cap && !(c->framing && len > (c->incl ? 65533u : 65535u)))
            die(c, "%s(len %u) returned NET_E_MSGSIZE; the send cap is %u and the framing allows it", call, len,
                c->send_cap);
        break;
    case NET_E_CLOSED:
        break;
    case NET_E_BADHANDLE:
        note_badhandle(c, call);
        break;
    default:
        die(c, "%s(len %u) returned %s, expected NET_OK, NET_E_WOULDBLOCK, NET_E_CLOSED", call, len, errname(rc));
    }
}

/* A call whose only outcomes are `ok_rc` or the connection being gone. */
static void check_simple_rc(conn *c, int rc, int ok_rc, int closed_allowed, const char *call)
{
    if (!documented(rc))
        die(c, "%s returned %d, not a documented NET_E_* code", call, rc);
    if (atomic_load(&g_destroying))
        return;
    if (c->eng_state == S_DONE) {
        if (rc != NET_E_BADHANDLE)
            die(c, "%s after the CLOSE was delivered returned %s, expected NET_E_BADHANDLE", call, errname(rc));
        return;
    }
    if (rc == ok_rc)
        return;
    if (rc == NET_E_CLOSED && closed_allowed)
        return;
    if (rc == NET_E_BADHANDLE) {
        note_badhandle(c, call);
        return;
    }
    die(c, "%s returned %s, expected %s%s or (racing its CLOSE) NET_E_BADHANDLE", call, errname(rc), errname(ok_rc),
        closed_allowed ? " or NET_E_CLOSED" : "");
}

/* ------------------------------------------------------- engine events */

static void timer_remove_live(mtimer *t)
{
    if (t->live_idx < 0)
        return;
    mtimer *last = g_timers[--g_ntimers];
    g_timers[t->live_idx] = last;
    last->live_idx = t->live_idx;
    t->live_idx = -1;
}

static void on_close(conn *c, const net_event *ev, uint64_t pollno)
{
    mo_lock(&c->mu);
    tr(c, "model: CLOSE status %d %s os_error %d", ev->status, errname(ev->status), ev->os_error);
    c->eng_state = S_DONE;
    c->eng_done_ms = now_ms();
    c->close_status = ev->status;
    c->close_os = ev->os_error;
    c->close_pollno = pollno;
    if (-ev->status >= 0 && -ev->status < 20)
        atomic_fetch_add(&g_closes_by_status[-ev->status], 1);
    if (c->first_bad_pollno < pollno)
        die(c, "%s returned NET_E_BADHANDLE during poll #%llu but the CLOSE came only with poll #%llu",
            c->first_bad_call, (unsigned long long)c->first_bad_pollno, (unsigned long long)pollno);
    int st = ev->status;
    int closed = atomic_load(&c->close_called), aborted = atomic_load(&c->abort_called);
    switch (st) {
    case 0:
        /* graceful: the engine had the peer's FIN or was asked to close */
        if (!closed && !aborted) {
            if (!c->peer_fin)
                die(c, "CLOSE status 0 although neither net_close was called nor the peer sent FIN");
            /* the peer's orderly close: everything it sent must have arrived */
            if (c->in_payload != c->peer_fin_payload || (c->framing && c->in_msgs != c->peer_fin_msgs))
                die(c,
                    "CLOSE status 0 after the peer's orderly close, but the engine delivered %llu bytes / %llu "
                    "messages of the %llu bytes / %llu messages the peer sent before its FIN",
                    (unsigned long long)c->in_payload, (unsigned long long)c->in_msgs,
                    (unsigned long long)c->peer_fin_payload, (unsigned long long)c->peer_fin_msgs);
        }
        break;
    case NET_E_RESET:
        if (!c->peer_may_rst)
            die(c, "CLOSE status NET_E_RESET (os_error %d) but the peer never reset the connection", ev->os_error);
        break;
    case NET_E_ABORTED:
        if (!aborted)
            die(c, "CLOSE status NET_E_ABORTED but net_abort was never called on it");
        break;
    case NET_E_TIMEDOUT:
        if (!c->idle_set && !closed && !c->peer_fin && !atomic_load(&c->shutdown_called))
            die(c, "CLOSE status NET_E_TIMEDOUT with no idle timeout set, no net_close and no FIN from the peer");
        break;
    default:
        die(c, "CLOSE status %d (%s, os_error %d) is not explained by anything the peer or the model did", st,
            errname(st), ev->os_error);
    }
    mo_unlock(&c->mu);
    live_remove(c);
    hm_del(&g_handles, c->h);
    dead_add(c->h, K_CONN);
}

static void on_data(conn *c, const net_event *ev)
{
    const uint8_t *p = (const uint8_t *)ev->data;
    if (ev->len && !p)
        die(c, "DATA len %u with a NULL pointer", ev->len);
    if (c->outbound && !c->got_connect)
        die(c, "DATA before CONNECT");
    if (c->unknown) /* an ACCEPT nobody we know connected: nothing to verify against */
        return;
    mo_lock(&c->mu);
    if (c->behaviour == B_ECHO) {
        if (c->framing) {
            if (c->ecur.idx >= c->log_n)
                die(c, "echoed message %llu (len %u) was never accepted by net_send*", (unsigned long long)c->in_msgs,
                    ev->len);
            logent *e = log_at(c, c->ecur.idx);
            if (e->len != ev->len)
                die(c, "echoed message #%llu has length %u, the message sent had %u", (unsigned long long)c->ecur.idx,
                    ev->len, e->len);
            for (uint32_t i = 0; i < ev->len; i++)
                if (p[i] != content(e->seed, i))
                    die(c, "echoed message #%llu byte %u is 0x%02x, expected 0x%02x", (unsigned long long)c->ecur.idx,
                        i, p[i], content(e->seed, i));
            c->ecur.idx++;
            c->in_payload += ev->len;
        } else {
            verify_raw(c, &c->ecur, p, ev->len, &c->in_payload, "engine (echo back)");
        }
        log_trim(c);
    } else {
        if (c->framing) {
            uint32_t want = peer_fsize(c->pseed, c->in_msgs, c->incl);
            if (ev->len != want)
                die(c, "message #%llu from the peer has length %u, the peer sent %u", (unsigned long long)c->in_msgs,
                    ev->len, want);
        }
        long long bad = tl_mismatch(p, ev->len, c->pseed, c->in_payload);
        if (bad >= 0)
            die(c, "byte %llu of the peer's stream (DATA len %u) differs from what the peer sent",
                (unsigned long long)(c->in_payload + (uint64_t)bad), ev->len);
        c->in_payload += ev->len;
    }
    c->in_msgs++;
    mo_unlock(&c->mu);
    atomic_fetch_add(&g_bytes_verified, ev->len);
}

static void check_user(conn *c, const net_event *ev, const char *what)
{
    if ((ev->user & ~0xFFFFull) == (0xC000000000000000ull | (c->id << 16)))
        return; /* this connection's tag (some version of it) */
    if (!c->outbound && (ev->user >> 56) == 0xA0)
        return; /* its listener's user data, before the model tagged it */
    die(c, "%s event carries user data 0x%llx, not this connection's", what, (unsigned long long)ev->user);
}

static mlistener *listener_of(net_handle h)
{
    for (int i = 0; i < MAX_LISTENERS; i++)
        if (g_lst[i].h == h)
            return &g_lst[i];
    return NULL;
}

static void on_accept(const net_event *ev)
{
    mlistener *l = listener_of(ev->parent);
    if (!l || l->closed)
        fatal("ACCEPT (handle 0x%llx) from parent 0x%llx, which is not an open listener%s",
              (unsigned long long)ev->handle, (unsigned long long)ev->parent,
              l ? " (its CLOSE was already delivered)" : "");
    if (hm_get(&g_handles, ev->handle) || hm_get(&g_dead, ev->handle))
        fatal("ACCEPT returned handle 0x%llx, which is already known (%s)", (unsigned long long)ev->handle,
              hm_get(&g_handles, ev->handle) ? "live" : "closed");
    uint32_t ip = 0;
    if (ev->addr.family == NET_AF_INET)
        ip = (uint32_t)ev->addr.ip[0] << 24 | (uint32_t)ev->addr.ip[1] << 16 | (uint32_t)ev->addr.ip[2] << 8 |
             ev->addr.ip[3];
    uint64_t key = (uint64_t)ip << 16 | ev->addr.port;
    conn *c = (conn *)hm_get(&g_ports, key);
    if (c && c->eng_state == S_NONE) {
        hm_del(&g_ports, key);
        if (c->framing != l->framing || c->incl != l->incl)
            die(c,
                "accepted on listener 0x%llx (framing %d incl %d) but the peer connected to one with framing %d incl "
                "%d",
                (unsigned long long)ev->parent, l->framing, l->incl, c->framing, c->incl);
    } else {
        /* nobody we know connected from there (the peer gave up on it) */
        atomic_fetch_add(&g_unknown_accepts, 1);
        c = conn_new(0, l->framing, l->incl, B_SINK, 0);
        c->unknown = 1;
        c->peer_state = S_NONE;
        tr(c, "model: ACCEPT from an unknown peer address %s", tl_addr_str(&ev->addr));
    }
    mo_lock(&c->mu);
    c->h = ev->handle;
    c->listener = ev->parent;
    c->eng_state = S_LIVE;
    tr(c, "model: ACCEPT handle 0x%llx on listener 0x%llx", (unsigned long long)ev->handle,
       (unsigned long long)ev->parent);
    c->user_prev = ev->user;
    c->user_cur = user_tag(c, 1);
    c->user_ver = 1;
    c->end_ok_ms = now_ms() + rn(&g_arng, 3000);
    int rc = net_set_user(c->h, c->user_cur);
    check_simple_rc(c, rc, NET_OK, 0, "net_set_user");
    if (atomic_load(&g_phase) >= 1) { /* the end: listeners are closing, so is this */
        atomic_store(&c->close_called, 1);
        rc = net_close(c->h);
        tr(c, "model (drain): net_close -> %s", errname(rc));
        check_simple_rc(c, rc, NET_OK, 0, "net_close (drain)");
    }
    mo_unlock(&c->mu);
    hm_put(&g_handles, c->h, c);
    live_add(c);
}

static void on_post(const net_event *ev)
{
    uint64_t w = ev->user >> 48, seq = ev->user & 0xFFFFFFFFFFFFull;
    if (w == 0 || w > (uint64_t)O.workers)
        fatal("USER event with value 0x%llx that no thread posted", (unsigned long long)ev->user);
    poststate *ps = &g_posts[w - 1];
    if (seq >= atomic_load(&ps->issued))
        fatal("USER event for post %llu of worker %llu, which was not posted yet", (unsigned long long)seq,
              (unsigned long long)w);
    size_t byte = (size_t)(seq / 8);
    if (byte >= ps->seen_cap) {
        size_t cap = ps->seen_cap ? ps->seen_cap : 1024;
        while (cap <= byte)
            cap *= 2;
        uint8_t *s = (uint8_t *)realloc(ps->seen, cap);
        if (!s)
            fatal("out of memory");
        memset(s + ps->seen_cap, 0, cap - ps->seen_cap);
        ps->seen = s;
        ps->seen_cap = cap;
    }
    if (ps->seen[byte] & (1u << (seq % 8)))
        fatal("USER event value 0x%llx delivered twice", (unsigned long long)ev->user);
    ps->seen[byte] |= (uint8_t)(1u << (seq % 8));
    ps->seen_n++;
}

static void on_timer(const net_event *ev, uint64_t pollno)
{
    mtimer *t = (mtimer *)hm_get(&g_handles, ev->handle);
    if (!t || t->kind != K_TIMER) {
        void *d = hm_get(&g_dead, ev->handle);
        fatal("TIMER event for handle 0x%llx, %s", (unsigned long long)ev->handle,
              d ? "a timer already ended (one-shot fired, or closed two polls ago)" : "not a timer");
    }
    if (t->closed && pollno > t->closed_pollno)
        fatal("TIMER event for timer 0x%llx in poll #%llu although net_close on it returned 0 during poll #%llu",
              (unsigned long long)t->h, (unsigned long long)pollno, (unsigned long long)t->closed_pollno);
    if (ev->user != t->user)
        fatal("TIMER event for 0x%llx with user 0x%llx, started with 0x%llx", (unsigned long long)t->h,
              (unsigned long long)ev->user, (unsigned long long)t->user);
    uint64_t now = now_ms();
    if (t->fires == 0 && now + 2 < t->start_ms + t->delay_ms)
        fatal("timer 0x%llx fired %llu ms after its start, its delay is %llu ms", (unsigned long long)t->h,
              (unsigned long long)(now - t->start_ms), (unsigned long long)t->delay_ms);
    t->fires++;
    t->last_fire_ms = now;
    if (t->repeat_ms == 0 && !t->closed) { /* a one-shot's handle ends with its event */
        if (t->fires > 1)
            fatal("one-shot timer 0x%llx fired twice", (unsigned long long)t->h);
        timer_remove_live(t);
        hm_del(&g_handles, t->h);
        dead_add(t->h, K_TIMER);
        free(t);
    }
}

static void handle_event(const net_event *ev, uint64_t pollno)
{
    atomic_fetch_add(&g_events, 1);
    switch (ev->type) {
    case NET_EV_ACCEPT:
        on_accept(ev);
        return;
    case NET_EV_USER:
        on_post(ev);
        return;
    case NET_EV_TIMER:
        on_timer(ev, pollno);
        return;
    case NET_EV_CONNECT:
    case NET_EV_DATA:
    case NET_EV_CLOSE:
    case NET_EV_SEND_HIGHWATER:
    case NET_EV_SEND_DRAINED:
        break;
    default:
        fatal("event of type %u (%s) for handle 0x%llx: never expected here (no UDP in this test)", ev->type,
              tl_evname(ev->type), (unsigned long long)ev->handle);
    }
    void *o = hm_get(&g_handles, ev->handle);
    if (!o) {
        void *d = hm_get(&g_dead, ev->handle);
        if (d)
            fatal("%s event (status %d %s) for %s handle 0x%llx after its CLOSE", tl_evname(ev->type), ev->status,
                  errname(ev->status), kind_name((int)(intptr_t)d), (unsigned long long)ev->handle);
        fatal("%s event for handle 0x%llx, which no ACCEPT or net_connect returned", tl_evname(ev->type),
              (unsigned long long)ev->handle);
    }
    if (*(int *)o == K_LISTENER) {
        mlistener *l = (mlistener *)o;
        if (ev->type != NET_EV_CLOSE)
            fatal("%s event for listener 0x%llx", tl_evname(ev->type), (unsigned long long)l->h);
        if (!l->closing)
            fatal("listener 0x%llx closed (status %d %s) without net_close", (unsigned long long)l->h, ev->status,
                  errname(ev->status));
        if (ev->status != 0)
            fatal("listener 0x%llx CLOSE status %d (%s), expected 0", (unsigned long long)l->h, ev->status,
                  errname(ev->status));
        l->closed = 1;
        hm_del(&g_handles, l->h);
        dead_add(l->h, K_LISTENER);
        memset(l, 0, sizeof *l);
        return;
    }
    if (*(int *)o != K_CONN)
        fatal("%s event for timer handle 0x%llx", tl_evname(ev->type), (unsigned long long)ev->handle);
    conn *c = (conn *)o;
    check_user(c, ev, tl_evname(ev->type));
    switch (ev->type) {
    case NET_EV_CONNECT:
        if (!c->outbound)
            die(c, "CONNECT event for an accepted connection");
        if (c->got_connect)
            die(c, "second CONNECT event");
        c->got_connect = 1;
        mo_lock(&c->mu);
        tr(c, "model: CONNECT status %d %s", ev->status, errname(ev->status));
        mo_unlock(&c->mu);
        if (ev->status != 0) {
            if (!(ev->status == NET_E_ABORTED && atomic_load(&c->abort_called)))
                die(c, "CONNECT to the peer's listener failed with %s (os_error %d); the listener is up",
                    errname(ev->status), ev->os_error);
        } else if (ev->addr.port != g_peer_port[c->framing ? 1 + c->incl : 0]) {
            die(c, "CONNECT address port %u, the peer listens on %u", ev->addr.port,
                g_peer_port[c->framing ? 1 + c->incl : 0]);
        }
        break;
    case NET_EV_DATA:
        on_data(c, ev);
        break;
    case NET_EV_SEND_HIGHWATER:
    case NET_EV_SEND_DRAINED: {
        int hi = ev->type == NET_EV_SEND_HIGHWATER;
        if (hi == c->hw_state)
            die(c, "%s twice in a row", tl_evname(ev->type));
        c->hw_state = hi;
        mo_lock(&c->mu);
        tr(c, "model: %s len %u", tl_evname(ev->type), ev->len);
        mo_unlock(&c->mu);
        break;
    }
    case NET_EV_CLOSE:
        on_close(c, ev, pollno);
        break;
    }
}

/* ------------------------------------------------------------ listeners */

static void listener_open(rng *r)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        int slot = -1;
        for (int i = 0; i < MAX_LISTENERS; i++)
            if (!g_lst[i].h) {
                slot = i;
                break;
            }
        if (slot < 0)
            return;
        net_tcp_config tc;
        net_tcp_config_init(&tc);
        int framing = (int)rn(r, 2), incl = framing && chance(r, 50);
        tc.framing = framing ? NET_FRAMING_U16LE : NET_FRAMING_RAW;
        if (incl)
            tc.flags |= NET_TCP_LEN_INCLUDES_HEADER;
        tc.user = 0xA000000000000000ull | (uint64_t)slot;
        net_handle h;
        int rc = net_listen(g_eng, "127.0.0.1", 0, &tc, &h);
        if (rc != 0)
            fatal("net_listen returned %s", errname(rc));
        net_addr a;
        rc = net_local_addr(h, &a);
        if (rc != 0)
            fatal("net_local_addr(listener) returned %s", errname(rc));
        mlistener *l = &g_lst[slot];
        l->kind = K_LISTENER;
        l->h = h;
        l->port = a.port;
        l->framing = framing;
        l->incl = incl;
        hm_put(&g_handles, h, l);
        int reused = 0;
        for (size_t i = 0; i < g_nused_ports; i++)
            if (g_used_ports[i] == a.port)
                reused = 1;
        if (reused) { /* a port an older listener had: peers could mix them up; its CLOSE frees the slot */
            l->closing = 1;
            rc = net_close(h);
            if (rc != 0)
                fatal("net_close(listener) returned %s", errname(rc));
            continue;
        }
        if (g_nused_ports < sizeof g_used_ports / sizeof g_used_ports[0])
            g_used_ports[g_nused_ports++] = a.port;
        return;
    }
}

static int listeners_open(void)
{
    int n = 0;
    for (int i = 0; i < MAX_LISTENERS; i++)
        if (g_lst[i].h && !g_lst[i].closing)
            n++;
    return n;
}

static void listener_close(mlistener *l)
{
    l->closing = 1;
    int rc = net_close(l->h);
    if (rc != 0)
        fatal("net_close(listener 0x%llx) returned %s", (unsigned long long)l->h, errname(rc));
    net_addr a;
    rc = net_local_addr(l->h, &a);
    if (rc != NET_E_CLOSED && rc != NET_E_BADHANDLE)
        fatal(
            "net_local_addr on listener 0x%llx after net_close returned %s, expected NET_E_CLOSED (issue 12, defect 2)",
            (unsigned long long)l->h, errname(rc));
    rc = net_set_option(l->h, NET_OPT_RCVBUF, 65536);
    if (rc != NET_E_CLOSED && rc != NET_E_BADHANDLE)
        fatal("net_set_option(RCVBUF) on listener 0x%llx after net_close returned %s, expected NET_E_CLOSED",
              (unsigned long long)l->h, errname(rc));
}

/* ---------------------------------------------------------- connecting */

static void pick_conn_shape(rng *r, int *framing, int *incl, int *behaviour)
{
    *framing = (int)rn(r, 2);
    *incl = *framing && chance(r, 50);
    for (int tries = 0; tries < 100; tries++) {
        int b = (int)rn(r, B_COUNT);
        if (!avoid(1u << b)) {
            *behaviour = b;
            return;
        }
    }
    *behaviour = B_SINK;
}

/* The largest message pick_len picks: every buffer handed to
 * do_send_locked holds this many bytes. */
#define MAX_SEND_LEN 262144u

static void do_send_locked(conn *c, rng *r, uint8_t *buf, int mode);

/* net_connect to the peer, then the hello (g_reg held). */
static void connect_one(rng *r, const char *who)
{
    int framing, incl, b;
    pick_conn_shape(r, &framing, &incl, &b);
    conn *c = conn_new(1, framing, incl, b, rnd(r));
    net_tcp_config tc;
    net_tcp_config_init(&tc);
    tc.framing = framing ? NET_FRAMING_U16LE : NET_FRAMING_RAW;
    if (c->incl)
        tc.flags |= NET_TCP_LEN_INCLUDES_HEADER;
    tc.user = c->user_cur;
    net_handle h = 0;
    int rc = net_connect(g_eng, "127.0.0.1", g_peer_port[framing ? 1 + c->incl : 0], &tc, &h);
    atomic_fetch_add(&g_calls, 1);
    if (rc != 0 || h == 0)
        die(c, "%s: net_connect returned %s (handle 0x%llx)", who, errname(rc), (unsigned long long)h);
    mo_lock(&c->mu);
    c->h = h;
    c->eng_state = S_LIVE;
    c->end_ok_ms = now_ms() + rn(r, 3000);
    tr(c, "%s: net_connect -> handle 0x%llx", who, (unsigned long long)h);
    uint8_t hello[8];
    uint64_t seed = HELLO_BIT | c->id;
    fill_content(hello, 8, seed);
    log_push(c, seed, 8);
    rc = net_send(h, hello, 8);
    tr(c, "%s: net_send(hello 8) -> %s", who, errname(rc));
    if (rc != 0)
        die(c, "net_send of the 8-byte hello right after net_connect returned %s", errname(rc));
    c->out_payload += 8;
    c->out_msgs++;
    if (!avoid(AV_PRECONNECT) && chance(r, 12)) { /* act before CONNECT */
        uint32_t what = rn(r, 100);
        if (what < 40) {
            static uint8_t pbuf[MAX_SEND_LEN]; /* g_reg is held: one caller at a time */
            do_send_locked(c, r, pbuf, 0);
        } else if (what < 75) {
            atomic_store(&c->close_called, 1);
            rc = net_close(h);
            tr(c, "%s: net_close before CONNECT -> %s", who, errname(rc));
            check_simple_rc(c, rc, NET_OK, 0, "net_close");
            if (rc == 0)
                c->closed_known = 1;
        } else if (what < 90 && !avoid(AV_SHUTDOWN)) {
            atomic_store(&c->shutdown_called, 1);
            rc = net_shutdown(h);
            tr(c, "%s: net_shutdown before CONNECT -> %s", who, errname(rc));
            check_simple_rc(c, rc, NET_OK, 1, "net_shutdown");
            if (rc == 0)
                c->shut_known = 1;
        } else if (!avoid(AV_ABORT)) {
            atomic_store(&c->abort_called, 1);
            rc = net_abort(h);
            tr(c, "%s: net_abort before CONNECT -> %s", who, errname(rc));
            check_simple_rc(c, rc, NET_OK, 0, "net_abort");
            if (rc == 0)
                c->closed_known = 1;
        }
    }
    mo_unlock(&c->mu);
    hm_put(&g_handles, h, c);
    live_add(c);
}

/* -------------------------------------------------------------- workers */

typedef struct worker {
    int id;
    rng r;
    tl_thread *t;
    uint8_t *buf;
    uint64_t actions;
} worker;

static atomic_int g_workers_stop;

static uint32_t pick_len(conn *c, rng *r)
{
    uint32_t x = rn(r, 1000), len;
    if (x < 30)
        len = 0;
    else if (x < 700)
        len = rrange(r, 1, 256);
    else if (x < 950)
        len = rrange(r, 257, 4096);
    else if (x < 995)
        len = rrange(r, 4097, 65533);
    else
        len = c->framing ? rrange(r, 60000, 65533) : rrange(r, 65536, MAX_SEND_LEN);
    if (c->framing && len > (c->incl ? 65533u : 65535u))
        len = c->incl ? 65533u : 65535u;
    if (avoid(AV_OVERSIZE)) {
        uint32_t hdr = c->framing ? 2 : 0;
        if ((uint64_t)len + hdr > c->send_cap)
            len = c->send_cap > hdr ? c->send_cap - hdr : 0;
    }
    return len;
}

/* send (mode 0) or sendv (mode 1) of one random message (mu held). */
static void do_send_locked(conn *c, rng *r, uint8_t *buf, int mode)
{
    uint32_t len = pick_len(c, r);
    uint64_t seed = rnd(r) & ~HELLO_BIT;
    fill_content(buf, len, seed);
    int logged = c->framing || len > 0; /* a raw send of 0 bytes queues nothing */
    uint64_t idx = c->log_n;
    if (logged)
        log_push(c, seed, len);
    int rc;
    const char *call;
    if (mode == 0) {
        call = "net_send";
        rc = net_send(c->h, buf, len);
    } else {
        call = "net_sendv";
        net_buf b[8];
        uint32_t n = rrange(r, 1, 8), off = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t part = i == n - 1 ? len - off : rn(r, len - off + 1);
            b[i].data = buf + off;
            b[i].len = part;
            off += part;
        }
        rc = net_sendv(c->h, b, n);
    }
    atomic_fetch_add(&g_calls, 1);
    tr(c, "%s(len %u) -> %s", call, len, errname(rc));
    check_send_rc(c, rc, len, call);
    if (rc == 0) {
        c->out_payload += len;
        if (logged)
            c->out_msgs++;
    } else if (logged) {
        log_remove(c, idx);
    }
}

/* Picks a live connection and holds it (busy) for the caller; g_reg not
 * held. mode 1: for an ending call (only once its life has been long enough). */
static conn *grab(rng *r, int mode)
{
    conn *c = NULL;
    uint64_t now = now_ms();
    mo_lock(&g_reg);
    for (int tries = 0; tries < 4 && g_nlive; tries++) {
        conn *x = g_live[rn(r, (uint32_t)g_nlive)];
        if (x->outbound && !atomic_load(&x->got_connect) && avoid(AV_PRECONNECT))
            continue;
        if (mode == 1 && now < x->end_ok_ms)
            continue;
        c = x;
        break;
    }
    if (c)
        atomic_fetch_add(&c->busy, 1);
    mo_unlock(&g_reg);
    return c;
}

static void release(conn *c)
{
    atomic_fetch_sub(&c->busy, 1);
}

static int cmp_conn_id(const void *a, const void *b)
{
    const conn *x = *(conn *const *)a, *y = *(conn *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void do_broadcast(worker *w)
{
    conn *targets[10];
    net_handle hs[12];
    int results[12];
    int n = (int)rrange(&w->r, 1, 8), nt = 0;
    for (int i = 0; i < n; i++) {
        conn *c = grab(&w->r, 0);
        if (!c)
            break;
        targets[nt++] = c;
    }
    if (!nt)
        return;
    net_handle stale_h = 0, lst_h = 0;
    mo_lock(&g_reg);
    if (!avoid(AV_STALE) && g_ndead && chance(&w->r, 20))
        stale_h = g_deadring[rn(&w->r, (uint32_t)(g_ndead < 256 ? g_ndead : 256))];
    if (chance(&w->r, 10))
        for (int i = 0; i < MAX_LISTENERS; i++)
            if (g_lst[i].h) {
                lst_h = g_lst[i].h;
                break;
            }
    mo_unlock(&g_reg);
    /* lock each distinct conn once, in id order */
    conn *sorted[10];
    memcpy(sorted, targets, (size_t)nt * sizeof *sorted);
    qsort(sorted, (size_t)nt, sizeof *sorted, cmp_conn_id);
    for (int i = 0; i < nt; i++)
        if (i == 0 || sorted[i] != sorted[i - 1])
            mo_lock(&sorted[i]->mu);
    uint32_t len = rrange(&w->r, 0, 4096);
    uint64_t seed = rnd(&w->r) & ~HELLO_BIT;
    fill_content(w->buf, len, seed);
    int nh = 0, stale_at = -1, lst_at = -1;
    uint64_t idx[10];
    for (int i = 0; i < nt; i++) {
        conn *c = targets[i];
        if (avoid(AV_OVERSIZE) && (uint64_t)len + (c->framing ? 2 : 0) > c->send_cap)
            len = 0; /* keep the shared payload under every cap */
    }
    for (int i = 0; i < nt; i++) {
        conn *c = targets[i];
        idx[i] = c->log_n;
        if (c->framing || len > 0)
            log_push(c, seed, len);
        hs[nh++] = c->h;
    }
    if (stale_h) {
        stale_at = nh;
        hs[nh++] = stale_h;
    }
    if (lst_h) {
        lst_at = nh;
        hs[nh++] = lst_h;
    }
    for (int i = 0; i < nh; i++)
        results[i] = 12345;
    int q = net_broadcast(hs, (uint32_t)nh, w->buf, len, results);
    atomic_fetch_add(&g_calls, 1);
    int okcount = 0;
    for (int i = 0; i < nh; i++)
        if (results[i] == 0)
            okcount++;
    if (q != okcount && !atomic_load(&g_destroying))
        die(targets[0], "net_broadcast returned %d but %d results are 0", q, okcount);
    if (stale_at >= 0 && results[stale_at] != NET_E_BADHANDLE && !atomic_load(&g_destroying))
        die(targets[0], "net_broadcast result for a handle closed earlier (0x%llx) is %s, expected NET_E_BADHANDLE",
            (unsigned long long)hs[stale_at], errname(results[stale_at]));
    if (lst_at >= 0 && results[lst_at] != NET_E_BADHANDLE && !atomic_load(&g_destroying))
        die(targets[0], "net_broadcast result for a listener handle is %s, expected NET_E_BADHANDLE",
            errname(results[lst_at]));
    /* remove refused entries, last first so indices stay valid */
    for (int i = nt - 1; i >= 0; i--) {
        conn *c = targets[i];
        tr(c, "net_broadcast(len %u, %d targets) result %s", len, nh, errname(results[i]));
        check_send_rc(c, results[i], len, "net_broadcast");
        if (results[i] == 0) {
            c->out_payload += len;
            if (c->framing || len > 0)
                c->out_msgs++;
        } else if (c->framing || len > 0) {
            log_remove(c, idx[i]);
        }
    }
    for (int i = 0; i < nt; i++)
        if (i == 0 || sorted[i] != sorted[i - 1])
            mo_unlock(&sorted[i]->mu);
    for (int i = 0; i < nt; i++)
        release(targets[i]);
}

static void do_option(worker *w, conn *c)
{
    rng *r = &w->r;
    uint32_t x = rn(r, 13);
    int rc;
    int64_t v = 0;
    switch (x) {
    case 0:
    case 1:
    case 2:
    case 3: { /* socket options */
        static const int opts[] = {NET_OPT_NODELAY, NET_OPT_KEEPALIVE, NET_OPT_SNDBUF, NET_OPT_RCVBUF};
        int opt = opts[x];
        v = opt == NET_OPT_SNDBUF || opt == NET_OPT_RCVBUF ? (int64_t)rrange(r, 4096, 1 << 20) : (int64_t)rn(r, 2);
        rc = net_set_option(c->h, opt, v);
        tr(c, "net_set_option(%d, %lld) -> %s", opt, (long long)v, errname(rc));
        check_simple_rc(c, rc, NET_OK, 1, "net_set_option(socket option)");
        if (rc == 0 && c->closed_known)
            die(c, "net_set_option(%d) reached the socket after net_close/net_abort returned 0 (issue 12, defect 2)",
                opt);
        break;
    }
    case 4:
        rc = net_set_option(c->h, NET_OPT_LINGER, -1);
        tr(c, "net_set_option(LINGER, -1) -> %s", errname(rc));
        check_simple_rc(c, rc, NET_OK, 1, "net_set_option(LINGER)");
        break;
    case 5: { /* send cap */
        uint32_t caps[] = {1024, 8192, 32768, 65536, 262144, 1u << 20, 4u << 20, 16u << 20};
        uint32_t cap = caps[chance(r, 20) ? rn(r, 4) : 4 + rn(r, 4)];
        rc = net_set_option(c->h, NET_OPT_SEND_CAP, cap);
        tr(c, "net_set_option(SEND_CAP, %u) -> %s", cap, errname(rc));
        if (!(rc == NET_E_INVAL && cap < 65536 + 4)) /* a cap under max_message + header may be refused */
            check_simple_rc(c, rc, NET_OK, 1, "net_set_option(SEND_CAP)");
        if (rc == 0)
            c->send_cap = cap;
        break;
    }
    case 6:
    case 7: { /* water marks */
        int opt = x == 6 ? NET_OPT_HIGHWATER : NET_OPT_LOWWATER;
        uint32_t val = rrange(r, 1024, 1 << 20);
        rc = net_set_option(c->h, opt, val);
        int valid = opt == NET_OPT_HIGHWATER ? val >= c->lw : val <= c->hw;
        tr(c, "net_set_option(%s, %u) -> %s", x == 6 ? "HIGHWATER" : "LOWWATER", val, errname(rc));
        check_simple_rc(c, rc, valid ? NET_OK : NET_E_INVAL, 1, "net_set_option(water mark)");
        if (rc == 0) {
            if (opt == NET_OPT_HIGHWATER)
                c->hw = val;
            else
                c->lw = val;
        }
        break;
    }
    case 8:
        if (avoid(AV_IDLE))
            break;
        v = chance(r, 50) ? 0 : (int64_t)rrange(r, 1500, 4000);
        rc = net_set_option(c->h, NET_OPT_IDLE_TIMEOUT, v);
        tr(c, "net_set_option(IDLE_TIMEOUT, %lld) -> %s", (long long)v, errname(rc));
        check_simple_rc(c, rc, NET_OK, 1, "net_set_option(IDLE_TIMEOUT)");
        if (rc == 0 && v)
            c->idle_set = 1;
        break;
    case 9: /* UDP-only option on TCP */
        rc = net_set_option(c->h, chance(r, 50) ? NET_OPT_BROADCAST : NET_OPT_MAX_DATAGRAM, 1);
        tr(c, "net_set_option(UDP-only) -> %s", errname(rc));
        check_simple_rc(c, rc, NET_E_INVAL, 0, "net_set_option(UDP-only option)");
        break;
    case 10: { /* reads */
        int64_t got = -1;
        int opt = chance(r, 50) ? NET_OPT_SEND_CAP : NET_OPT_HIGHWATER;
        rc = net_get_option(c->h, opt, &got);
        check_simple_rc(c, rc, NET_OK, 0, "net_get_option");
        if (rc == 0 && got != (opt == NET_OPT_SEND_CAP ? (int64_t)c->send_cap : (int64_t)c->hw))
            die(c, "net_get_option(%d) = %lld, the model set %u", opt, (long long)got,
                opt == NET_OPT_SEND_CAP ? c->send_cap : c->hw);
        uint64_t q = 0;
        rc = net_send_queued(c->h, &q);
        check_simple_rc(c, rc, NET_OK, 0, "net_send_queued");
        break;
    }
    case 11: { /* user data */
        uint64_t u = 0;
        rc = net_get_user(c->h, &u);
        check_simple_rc(c, rc, NET_OK, 0, "net_get_user");
        if (rc == 0 && u != c->user_cur)
            die(c, "net_get_user = 0x%llx, the model set 0x%llx", (unsigned long long)u,
                (unsigned long long)c->user_cur);
        uint64_t nu = user_tag(c, ++c->user_ver);
        rc = net_set_user(c->h, nu);
        check_simple_rc(c, rc, NET_OK, 0, "net_set_user");
        if (rc == 0) {
            c->user_prev = c->user_cur;
            c->user_cur = nu;
        }
        break;
    }
    default: { /* addresses */
        net_addr a;
        rc = net_peer_addr(c->h, &a);
        tr(c, "net_peer_addr -> %s", errname(rc));
        if (rc == NET_E_NOTCONN && c->outbound && !atomic_load(&c->got_connect))
            break;
        if (rc == NET_E_OS && (c->peer_may_rst || c->peer_fin || c->peer_state == S_DONE)) {
            /* getpeername on a socket whose peer already closed or reset it: ENOTCONN before the engine
             * noticed. A documented code; counted and reported at the end (the address is known since
             * ACCEPT/CONNECT, so NET_E_CLOSED or the address would be kinder). */
            atomic_fetch_add(&g_peeraddr_os, 1);
            break;
        }
        check_simple_rc(c, rc, NET_OK, 1, "net_peer_addr");
        if (rc == 0) {
            uint16_t want = c->outbound ? g_peer_port[c->framing ? 1 + c->incl : 0] : c->peer_port;
            if (a.port != want && c->port_key)
                die(c, "net_peer_addr port %u, the peer's is %u", a.port, want);
        }
        rc = net_local_addr(c->h, &a);
        check_simple_rc(c, rc, NET_OK, 1, "net_local_addr");
        if (rc == 0 && c->closed_known)
            die(c, "net_local_addr reached the socket after net_close/net_abort returned 0 (issue 12, defect 2)");
        break;
    }
    }
    atomic_fetch_add(&g_calls, 1);
}

static void do_end(worker *w, conn *c, int what)
{
    /* what: 0 close, 1 abort, 2 shutdown */
    static const char *const names[] = {"net_close", "net_abort", "net_shutdown"};
    int racy = !avoid(AV_RACYCLOSE) && what != 2 && chance(&w->r, 30);
    if (!racy)
        mo_lock(&c->mu);
    if (what == 0)
        atomic_store(&c->close_called, 1);
    else if (what == 1)
        atomic_store(&c->abort_called, 1);
    else
        atomic_store(&c->shutdown_called, 1);
    int rc = what == 0 ? net_close(c->h) : what == 1 ? net_abort(c->h) : net_shutdown(c->h);
    atomic_fetch_add(&g_calls, 1);
    if (racy) {
        if (!documented(rc) || (rc != 0 && rc != NET_E_BADHANDLE))
            die(c, "%s (without the model lock) returned %s, expected NET_OK or NET_E_BADHANDLE", names[what],
                errname(rc));
        mo_lock(&c->mu);
        tr(c, "%s (racy) -> %s", names[what], errname(rc));
        if (rc == NET_E_BADHANDLE && c->eng_state != S_DONE)
            note_badhandle(c, names[what]);
        mo_unlock(&c->mu);
        return;
    }
    tr(c, "%s -> %s", names[what], errname(rc));
    check_simple_rc(c, rc, NET_OK, what == 2, names[what]);
    if (rc == 0) {
        if (what == 2)
            c->shut_known = 1;
        else
            c->closed_known = 1;
    }
    if (rc == 0 && what != 2 && chance(&w->r, 50)) {
        /* a send right after must be refused */
        int rc2 = net_send(c->h, "x", 1);
        tr(c, "net_send after %s -> %s", names[what], errname(rc2));
        if (rc2 != NET_E_CLOSED && rc2 != NET_E_BADHANDLE)
            die(c, "net_send after %s returned 0 returned %s, expected NET_E_CLOSED", names[what], errname(rc2));
        if (rc2 == NET_E_BADHANDLE && c->eng_state != S_DONE)
            note_badhandle(c, "net_send after close");
        int rc3 = net_close(c->h); /* closing twice is harmless */
        tr(c, "net_close again -> %s", errname(rc3));
        check_simple_rc(c, rc3, NET_OK, 0, "second net_close");
    }
    mo_unlock(&c->mu);
}

static void do_stale(worker *w)
{
    net_handle h;
    mo_lock(&g_reg);
    if (!g_ndead || chance(&w->r, 10)) {
        h = chance(&w->r, 50) ? 0 : (rnd(&w->r) | 1);
    } else {
        h = g_deadring[rn(&w->r, (uint32_t)(g_ndead < 256 ? g_ndead : 256))];
    }
    mo_unlock(&g_reg);
    int64_t v;
    uint64_t u;
    net_addr a;
    net_buf b = {"x", 1};
    int rcs[10];
    rcs[0] = net_send(h, "x", 1);
    rcs[1] = net_sendv(h, &b, 1);
    rcs[2] = net_close(h);
    rcs[3] = net_abort(h);
    rcs[4] = net_shutdown(h);
    rcs[5] = net_set_option(h, NET_OPT_NODELAY, 1);
    rcs[6] = net_get_option(h, NET_OPT_SEND_CAP, &v);
    rcs[7] = net_get_user(h, &u);
    rcs[8] = net_local_addr(h, &a);
    rcs[9] = net_set_user(h, 7);
    atomic_fetch_add(&g_calls, 10);
    for (int i = 0; i < 10; i++)
        if (rcs[i] != NET_E_BADHANDLE)
            fatal("call %d on stale/forged handle 0x%llx returned %s, expected NET_E_BADHANDLE", i,
                  (unsigned long long)h, errname(rcs[i]));
}

/* net_close on a live timer (g_reg held). A one-shot whose event net_poll
 * is handing out right now is already stale: BADHANDLE, and its event must
 * be in the batch being delivered (checked by sweep). */
static void timer_close(mtimer *t)
{
    int rc = net_close(t->h);
    if (rc == 0) {
        t->closed = 1;
        t->closed_pollno = atomic_load(&g_pollno);
        timer_remove_live(t); /* stays in g_handles until two polls later (late events show) */
        return;
    }
    if (rc == NET_E_BADHANDLE && t->repeat_ms == 0) {
        if (!t->bad_pollno)
            t->bad_pollno = atomic_load(&g_pollno);
        return;
    }
    fatal("net_close(timer 0x%llx, %s, %llu fires) returned %s", (unsigned long long)t->h,
          t->repeat_ms ? "repeating" : "one-shot", (unsigned long long)t->fires, errname(rc));
}

static void do_timer(worker *w)
{
    rng *r = &w->r;
    mo_lock(&g_reg);
    if (g_ntimers < 24 && (g_ntimers == 0 || chance(r, 60))) {
        mtimer *t = (mtimer *)calloc(1, sizeof *t);
        if (!t)
            fatal("out of memory");
        t->kind = K_TIMER;
        t->delay_ms = rn(r, 200);
        t->repeat_ms = chance(r, 40) ? rrange(r, 5, 100) : 0;
        t->user = rnd(r);
        t->start_ms = now_ms();
        int rc = net_timer_start(g_eng, (uint32_t)t->delay_ms, (uint32_t)t->repeat_ms, t->user, &t->h);
        if (rc != 0 || !t->h)
            fatal("net_timer_start returned %s", errname(rc));
        hm_put(&g_handles, t->h, t);
        if (g_ntimers == g_captimers) {
            g_captimers = g_captimers ? g_captimers * 2 : 32;
            g_timers = (mtimer **)realloc(g_timers, g_captimers * sizeof *g_timers);
        }
        t->live_idx = (int)g_ntimers;
        g_timers[g_ntimers++] = t;
    } else if (g_ntimers) {
        timer_close(g_timers[rn(r, (uint32_t)g_ntimers)]);
    }
    atomic_fetch_add(&g_calls, 1);
    mo_unlock(&g_reg);
}

static void do_post(worker *w)
{
    poststate *ps = &g_posts[w->id];
    uint64_t seq = atomic_fetch_add(&ps->issued, 1);
    int rc = net_post(g_eng, (uint64_t)(w->id + 1) << 48 | seq);
    atomic_fetch_add(&g_calls, 1);
    if (rc != 0 && !atomic_load(&g_destroying))
        fatal("net_post returned %s", errname(rc));
    if (rc == 0)
        ps->ok++;
}

static void worker_main(void *arg)
{
    worker *w = (worker *)arg;
    while (!atomic_load(&g_workers_stop)) {
        w->actions++;
        uint32_t x = rn(&w->r, 1000);
        int phase = atomic_load(&g_phase);
        if (x < 420) {
            conn *c = grab(&w->r, 0);
            if (c) {
                mo_lock(&c->mu);
                do_send_locked(c, &w->r, w->buf, chance(&w->r, 25));
                mo_unlock(&c->mu);
                release(c);
            }
        } else if (x < 480) {
            if (!avoid(AV_BROADCAST))
                do_broadcast(w);
        } else if (x < 500) {
            conn *c = grab(&w->r, 1);
            if (c) {
                uint32_t y = rn(&w->r, 100);
                int what = y < 70 ? 0 : y < 85 ? 1 : 2;
                if ((what == 1 && avoid(AV_ABORT)) || (what == 2 && avoid(AV_SHUTDOWN)))
                    what = 0;
                do_end(w, c, what);
                release(c);
            }
        } else if (x < 640) {
            conn *c = avoid(AV_OPTIONS) ? NULL : grab(&w->r, 0);
            if (c) {
                mo_lock(&c->mu);
                do_option(w, c);
                mo_unlock(&c->mu);
                release(c);
            }
        } else if (x < 680) {
            if (!avoid(AV_TIMERS) && phase == 0)
                do_timer(w);
        } else if (x < 740) {
            if (!avoid(AV_POSTS))
                do_post(w);
        } else if (x < 790) {
            if (!avoid(AV_STALE))
                do_stale(w);
        } else if (x < 800) {
            int rc = net_wakeup(g_eng);
            if (rc != 0 && !atomic_load(&g_destroying))
                fatal("net_wakeup returned %s", errname(rc));
            net_event ev;
            rc = net_poll(g_eng, &ev, 0, 0); /* max 0: refused before anything else */
            if (rc != NET_E_INVAL && !atomic_load(&g_destroying))
                fatal("net_poll(max 0) from a worker returned %s, expected NET_E_INVAL", errname(rc));
        } else if (x < 830) {
            if (phase == 0 && !avoid(AV_OUTBOUND)) {
                mo_lock(&g_reg);
                if (g_live_out < P.target_out)
                    connect_one(&w->r, "worker");
                mo_unlock(&g_reg);
            }
        }
        mo_sleep_us(rrange(&w->r, 50, 400));
    }
}

/* ----------------------------------------------------------------- peer */

typedef struct pconn {
    mo_sock fd;
    conn *c; /* NULL while an accepted socket has not shown its hello */
    int outbound, framing, incl, behaviour;
    int connecting, reading, rd_eof, wr_fin, closing;
    uint64_t act_ms, next_io_ms;
    int acted;
    /* framed receive */
    uint8_t hdr[2];
    int hdr_have, in_msg;
    uint32_t msg_len, msg_have;
    /* hello of an accepted socket */
    uint8_t hello[10];
    int hello_have;
    /* sending */
    uint8_t *tx;
    size_t tx_len, tx_off, tx_cap;
    uint64_t own_target, own_gen, own_k, enq_payload, enq_msgs;
    uint8_t *efr; /* echo: the frame being received, whole frames are echoed */
    size_t efr_len, efr_cap;
    int echo_stopped, hup;
    rng r;
} pconn;

static pconn **g_pc;
static size_t g_npc, g_cappc;
static mo_sock g_plist[3] = {MO_BAD_SOCK, MO_BAD_SOCK, MO_BAD_SOCK};
static atomic_int g_peer_stop, g_peer_drain;
static atomic_int g_peer_burst, g_peer_burst_done; /* connects to fire at once (abrupt end) */
static atomic_int g_peer_open;                     /* sockets the peer has open */
static rng g_prng;
static uint32_t g_next_ip = 2;

static void buf_append(uint8_t **b, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (*len + n > *cap) {
        size_t nc = *cap ? *cap : 4096;
        while (nc < *len + n)
            nc *= 2;
        uint8_t *nb = (uint8_t *)realloc(*b, nc);
        if (!nb)
            fatal("out of memory");
        *b = nb;
        *cap = nc;
    }
    memcpy(*b + *len, p, n);
    *len += n;
}

static void pc_add(pconn *pc)
{
    if (g_npc == g_cappc) {
        g_cappc = g_cappc ? g_cappc * 2 : 64;
        g_pc = (pconn **)realloc(g_pc, g_cappc * sizeof *g_pc);
        if (!g_pc)
            fatal("out of memory");
    }
    g_pc[g_npc++] = pc;
    atomic_fetch_add(&g_peer_open, 1);
}

static int pick_behaviour_peer(rng *r)
{
    for (int t = 0; t < 100; t++) {
        int b = (int)rn(r, B_COUNT);
        if (!avoid(1u << b))
            return b;
    }
    return B_SINK;
}

static void pc_setup_behaviour(pconn *pc)
{
    rng *r = &pc->r;
    uint64_t now = now_ms();
    pc->reading = pc->behaviour != B_STOPREAD;
    uint32_t sz = rn(r, 100);
    pc->own_target = pc->behaviour == B_ECHO ? 0
                     : sz < 30               ? 0
                     : sz < 60               ? rrange(r, 1, 4096)
                     : sz < 92               ? rrange(r, 4097, 65536)
                                             : rrange(r, 65537, 1 << 20);
    switch (pc->behaviour) {
    case B_ECHO:
        pc->act_ms = chance(r, 30) ? now + rrange(r, 200, 2000) : 0; /* its own FIN */
        break;
    case B_HALFCLOSE:
        pc->own_target = pc->own_target > 65536 ? 65536 : pc->own_target;
        pc->act_ms = now + rrange(r, 0, 500);
        break;
    case B_RESET:
        pc->act_ms = now + rrange(r, 20, 1500);
        break;
    case B_STOPREAD:
        pc->act_ms = now + rrange(r, 300, 3000);
        break;
    default:
        pc->act_ms = 0;
    }
}

/* Closes the peer's socket. mode: PF_ORDERLY (FIN after everything it
 * enqueued, all written), PF_RST (SO_LINGER 0) or PF_ABANDON (after an
 * error: no claim about what it sent). */
enum { PF_ORDERLY, PF_RST, PF_ABANDON };
static void pc_finish(pconn *pc, const char *how, int mode)
{
    conn *c = pc->c;
    if (c) {
        mo_lock(&c->mu);
        if (mode == PF_RST)
            c->peer_may_rst = 1;
        if (mode == PF_ORDERLY && !c->peer_fin && pc->tx_off == pc->tx_len) {
            c->peer_fin = 1; /* close() sends FIN after everything written */
            c->peer_fin_payload = pc->enq_payload;
            c->peer_fin_msgs = pc->enq_msgs;
        }
        if (!c->peer_end)
            c->peer_end = how;
        tr(c, "peer: socket closed (%s)", how);
        mo_unlock(&c->mu);
    }
    if (mode == PF_RST)
        mo_linger0(pc->fd);
    mo_close(pc->fd);
    pc->fd = MO_BAD_SOCK;
    atomic_fetch_sub(&g_peer_open, 1);
    if (c) {
        mo_lock(&g_reg);
        mo_lock(&c->mu);
        c->peer_state = S_DONE;
        c->peer_done_ms = now_ms();
        mo_unlock(&c->mu);
        mo_unlock(&g_reg);
        pc->c = NULL;
    }
}

static void pc_free(pconn *pc)
{
    free(pc->tx);
    free(pc->efr);
    free(pc);
}

/* Starts a connection to an engine listener. */
static void peer_connect_one(void)
{
    rng *r = &g_prng;
    mo_lock(&g_reg);
    int open[MAX_LISTENERS], n = 0;
    for (int i = 0; i < MAX_LISTENERS; i++)
        if (g_lst[i].h && !g_lst[i].closing)
            open[n++] = i;
    if (!n) {
        mo_unlock(&g_reg);
        return;
    }
    mlistener l = g_lst[open[rn(r, (uint32_t)n)]];
    mo_unlock(&g_reg);

    mo_sock s = socket(AF_INET, SOCK_STREAM, 0);
    if (s == MO_BAD_SOCK)
        fatal("peer: socket() failed: %d", mo_err());
    mo_nonblock(s);
    mo_nodelay(s);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    uint32_t ip = 0x7F000000u | g_next_ip;
    g_next_ip = g_next_ip >= 250 ? 2 : g_next_ip + 1;
    sa.sin_addr.s_addr = htonl(ip);
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        ip = 0x7F000001u;
        sa.sin_addr.s_addr = htonl(ip);
        if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0)
            fatal("peer: bind failed: %d", mo_err());
    }
#if defined(_WIN32)
    int alen = sizeof sa;
#else
    socklen_t alen = sizeof sa;
#endif
    getsockname(s, (struct sockaddr *)&sa, &alen);
    uint16_t port = ntohs(sa.sin_port);

    pconn *pc = (pconn *)calloc(1, sizeof *pc);
    if (!pc)
        fatal("out of memory");
    pc->fd = s;
    pc->r.s = rnd(r);
    pc->outbound = 0;
    pc->framing = l.framing;
    pc->incl = l.incl;
    pc->behaviour = pick_behaviour_peer(r);
    pc_setup_behaviour(pc);

    mo_lock(&g_reg);
    conn *c = conn_new(0, l.framing, l.incl, pc->behaviour, rnd(r));
    c->peer_ip = ip;
    c->peer_port = port;
    c->port_key = (uint64_t)ip << 16 | port;
    c->peer_state = S_LIVE;
    hm_put(&g_ports, c->port_key, c);
    pc->c = c;
    tr(c, "peer: connecting from %u.%u.%u.%u:%u to listener port %u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
       ip & 255, port, l.port);
    mo_unlock(&g_reg);

    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(0x7F000001u);
    to.sin_port = htons(l.port);
    pc_add(pc);
    if (connect(s, (struct sockaddr *)&to, sizeof to) != 0) {
        int e = mo_err();
        if (mo_err_inprogress(e)) {
            pc->connecting = 1;
        } else {
            atomic_fetch_add(&g_refused, 1);
            pc_finish(pc, mo_err_refused(e) ? "connect refused" : "connect failed", PF_ABANDON);
        }
    }
}

/* The peer's own stream: generates the next piece into tx. */
static void pc_generate(pconn *pc)
{
    conn *c = pc->c;
    if (!c || pc->own_gen >= pc->own_target || pc->wr_fin || pc->rd_eof)
        return;
    if (pc->framing) {
        uint32_t len = peer_fsize(c->pseed, pc->own_k, pc->incl);
        uint8_t hdr[2];
        uint32_t v = len + (pc->incl ? 2 : 0);
        hdr[0] = (uint8_t)v;
        hdr[1] = (uint8_t)(v >> 8);
        buf_append(&pc->tx, &pc->tx_len, &pc->tx_cap, hdr, 2);
        uint8_t *tmp = (uint8_t *)malloc(len ? len : 1);
        if (!tmp)
            fatal("out of memory");
        tl_fill(tmp, len, c->pseed, pc->own_gen);
        buf_append(&pc->tx, &pc->tx_len, &pc->tx_cap, tmp, len);
        free(tmp);
        pc->own_gen += len;
        pc->own_k++;
        pc->enq_payload += len;
        pc->enq_msgs++;
    } else {
        uint32_t len = pc->behaviour == B_TRICKLE ? rrange(&pc->r, 1, 64) : rrange(&pc->r, 1, 16384);
        if (len > pc->own_target - pc->own_gen)
            len = (uint32_t)(pc->own_target - pc->own_gen);
        uint8_t tmp[16384];
        tl_fill(tmp, len, c->pseed, pc->own_gen);
        buf_append(&pc->tx, &pc->tx_len, &pc->tx_cap, tmp, len);
        pc->own_gen += len;
        pc->enq_payload += len;
    }
}

/* Sends its FIN after everything enqueued (tx must be empty). */
static void pc_fin(pconn *pc, const char *why)
{
    conn *c = pc->c;
    if (pc->wr_fin)
        return;
    mo_lock(&c->mu);
    c->peer_fin = 1;
    c->peer_fin_payload = pc->enq_payload;
    c->peer_fin_msgs = pc->enq_msgs;
    tr(c, "peer: shutdown(SHUT_WR) after %llu bytes (%s)", (unsigned long long)pc->enq_payload, why);
    mo_unlock(&c->mu);
    mo_shutdown_wr(pc->fd);
    pc->wr_fin = 1;
}

/* Verifies bytes the engine sent (c->mu held); echo frames are collected. */
static void pc_verify(pconn *pc, const uint8_t *p, size_t n)
{
    conn *c = pc->c;
    if (!pc->framing) {
        verify_raw(c, &c->pcur, p, n, &c->peer_rx_payload, "peer");
        atomic_fetch_add(&g_bytes_verified, n);
        if (pc->behaviour == B_ECHO && !pc->echo_stopped) {
            buf_append(&pc->tx, &pc->tx_len, &pc->tx_cap, p, n);
            pc->enq_payload += n;
        }
        log_trim(c);
        return;
    }
    size_t i = 0;
    while (i < n) {
        if (!pc->in_msg) {
            pc->hdr[pc->hdr_have++] = p[i++];
            if (pc->hdr_have < 2)
                continue;
            pc->hdr_have = 0;
            uint32_t v = (uint32_t)pc->hdr[0] | (uint32_t)pc->hdr[1] << 8;
            if (pc->incl && v < 2)
                die(c, "peer: frame header %u smaller than the header itself", v);
            pc->msg_len = pc->incl ? v - 2 : v;
            pc->msg_have = 0;
            pc->in_msg = 1;
            if (c->pcur.idx >= c->log_n)
                die(c, "peer: message #%llu (len %u) arrived but only %llu messages were accepted by net_send*",
                    (unsigned long long)c->pcur.idx, pc->msg_len, (unsigned long long)c->out_msgs);
            logent *e = log_at(c, c->pcur.idx);
            if (e->len != pc->msg_len)
                die(c, "peer: message #%llu has length %u, the accepted message has %u",
                    (unsigned long long)c->pcur.idx, pc->msg_len, e->len);
            pc->efr_len = 0;
            if (pc->behaviour == B_ECHO && !pc->echo_stopped)
                buf_append(&pc->efr, &pc->efr_len, &pc->efr_cap, pc->hdr, 2);
        } else {
            logent *e = log_at(c, c->pcur.idx);
            size_t take = pc->msg_len - pc->msg_have;
            if (take > n - i)
                take = n - i;
            for (size_t j = 0; j < take; j++)
                if (p[i + j] != content(e->seed, pc->msg_have + j))
                    die(c, "peer: message #%llu byte %u is 0x%02x, expected 0x%02x", (unsigned long long)c->pcur.idx,
                        (unsigned)(pc->msg_have + j), p[i + j], content(e->seed, pc->msg_have + j));
            if (pc->behaviour == B_ECHO && !pc->echo_stopped)
                buf_append(&pc->efr, &pc->efr_len, &pc->efr_cap, p + i, take);
            pc->msg_have += (uint32_t)take;
            c->pcur.off = pc->msg_have;
            i += take;
            c->peer_rx_payload += take;
            atomic_fetch_add(&g_bytes_verified, take);
        }
        if (pc->in_msg && pc->msg_have == pc->msg_len) {
            pc->in_msg = 0;
            c->pcur.idx++;
            c->pcur.off = 0;
            c->peer_rx_msgs++;
            if (pc->behaviour == B_ECHO && !pc->echo_stopped) {
                buf_append(&pc->tx, &pc->tx_len, &pc->tx_cap, pc->efr, pc->efr_len);
                pc->enq_payload += pc->msg_len;
                pc->enq_msgs++;
            }
            pc->efr_len = 0;
        }
    }
    log_trim(c);
}

/* An accepted socket's first bytes name the connection (g_reg not held). */
static int pc_identify(pconn *pc)
{
    size_t need = pc->framing ? 10 : 8;
    while ((size_t)pc->hello_have < need) {
        long k = mo_recv(pc->fd, pc->hello + pc->hello_have, need - (size_t)pc->hello_have);
        if (k > 0) {
            pc->hello_have += (int)k;
            continue;
        }
        if (k < 0 && mo_err_wouldblock(mo_err()))
            return 0;
        atomic_fetch_add(&g_anon, 1);
        pc_finish(pc, "anonymous: closed before its hello", PF_ABANDON);
        return -1;
    }
    const uint8_t *h = pc->hello + (pc->framing ? 2 : 0);
    uint64_t seed = 0;
    for (int i = 0; i < 8; i++)
        seed |= (uint64_t)h[i] << (8 * i);
    if (!(seed & HELLO_BIT))
        fatal("peer: an accepted connection (framing %d) started with 0x%016llx, not a hello", pc->framing,
              (unsigned long long)seed);
    uint64_t id = seed & ~HELLO_BIT;
    mo_lock(&g_reg);
    conn *c = (conn *)hm_get(&g_ids, id);
    if (!c) {
        mo_unlock(&g_reg);
        atomic_fetch_add(&g_late_hellos, 1);
        pc_finish(pc, "hello of a connection already reaped", PF_ABANDON);
        return -1;
    }
    if (!c->outbound || c->peer_state != S_NONE)
        die(c, "peer: a second connection carried the hello of conn #%llu", (unsigned long long)id);
    if (c->framing != pc->framing || c->incl != pc->incl)
        die(c, "peer: the hello arrived on the peer listener for framing %d incl %d", pc->framing, pc->incl);
    mo_lock(&c->mu);
    c->peer_state = S_LIVE;
    tr(c, "peer: accepted, hello read");
    mo_unlock(&c->mu);
    mo_unlock(&g_reg);
    pc->c = c;
    pc->behaviour = c->behaviour;
    pc_setup_behaviour(pc);
    mo_lock(&c->mu);
    pc_verify(pc, pc->hello, need);
    mo_unlock(&c->mu);
    return 1;
}

/* Reads what is there (bounded); returns -1 when the socket was finished. */
static int pc_read(pconn *pc)
{
    static uint8_t buf[65536];
    size_t cap = sizeof buf;
    int trickle = pc->behaviour == B_TRICKLE && !atomic_load(&g_peer_drain); /* the end: read up */
    if (trickle)
        cap = rrange(&pc->r, 1, 64);
    for (int round = 0; round < 8; round++) {
        long k = mo_recv(pc->fd, buf, cap);
        if (k > 0) {
            conn *c = pc->c;
            mo_lock(&c->mu);
            if (O.verbose > 1)
                tr(c, "peer: read %ld", k);
            pc_verify(pc, buf, (size_t)k);
            mo_unlock(&c->mu);
            if (trickle) {
                pc->next_io_ms = now_ms() + rrange(&pc->r, 1, 10);
                return 0;
            }
            if (pc->tx_len - pc->tx_off > (1u << 20))
                return 0; /* echo backlog: let it drain first */
            continue;
        }
        if (k == 0) {
            conn *c = pc->c;
            mo_lock(&c->mu);
            /* Under Wine the engine's abortive close (close timeout) arrives
             * as a FIN: a cut stream is judged once its CLOSE is seen (the
             * end-of-connection check below), not here. */
            if (pc->framing && (pc->in_msg || pc->hdr_have) && !tl_under_wine())
                die(c, "peer: EOF inside message #%llu (%u of %u bytes, header %d/2)", (unsigned long long)c->pcur.idx,
                    pc->msg_have, pc->msg_len, pc->hdr_have);
            c->peer_got_eof = 1;
            tr(c, "peer: EOF after %llu bytes", (unsigned long long)c->peer_rx_payload);
            mo_unlock(&c->mu);
            pc->rd_eof = 1;
            pc->closing = 1; /* flush what is enqueued, then close */
            return 0;
        }
        int e = mo_err();
        if (mo_err_wouldblock(e))
            return 0;
        conn *c = pc->c;
        mo_lock(&c->mu);
        c->peer_err = e;
        tr(c, "peer: recv error %d after %llu bytes", e, (unsigned long long)c->peer_rx_payload);
        mo_unlock(&c->mu);
        pc_finish(pc, "recv error", PF_ABANDON);
        return -1;
    }
    return 0;
}

static int pc_write(pconn *pc)
{
    int trickle = pc->behaviour == B_TRICKLE && !atomic_load(&g_peer_drain);
    while (pc->tx_off < pc->tx_len) {
        size_t n = pc->tx_len - pc->tx_off;
        if (trickle && n > 64)
            n = 64;
        long k = mo_send(pc->fd, pc->tx + pc->tx_off, n);
        if (k > 0) {
            pc->tx_off += (size_t)k;
            if (O.verbose > 1) {
                mo_lock(&pc->c->mu);
                tr(pc->c, "peer: wrote %ld", k);
                mo_unlock(&pc->c->mu);
            }
            if (trickle) {
                pc->next_io_ms = now_ms() + rrange(&pc->r, 1, 10);
                break;
            }
            continue;
        }
        int e = mo_err();
        if (k < 0 && mo_err_wouldblock(e))
            break;
        conn *c = pc->c;
        mo_lock(&c->mu);
        c->peer_err = e;
        tr(c, "peer: send error %d", e);
        mo_unlock(&c->mu);
        pc_finish(pc, "send error", PF_ABANDON);
        return -1;
    }
    if (pc->tx_off == pc->tx_len) {
        pc->tx_off = pc->tx_len = 0;
    }
    return 0;
}

/* Timed behaviour; -1 when the socket was finished. */
static int pc_act(pconn *pc, uint64_t now)
{
    conn *c = pc->c;
    if (atomic_load(&g_peer_drain) && pc->behaviour == B_STOPREAD && !pc->reading) {
        pc->reading = 1; /* the end: read what is left */
        mo_lock(&c->mu);
        c->peer_resumed = 1;
        tr(c, "peer: stopread resumes reading (drain)");
        mo_unlock(&c->mu);
    }
    if (!pc->act_ms || now < pc->act_ms || pc->acted)
        return 0;
    switch (pc->behaviour) {
    case B_RESET:
        pc->acted = 1;
        pc_finish(pc, "reset (SO_LINGER 0)", PF_RST);
        return -1;
    case B_STOPREAD:
        pc->acted = 1;
        if (chance(&pc->r, 50)) {
            pc_finish(pc, "stopread then reset", PF_RST);
            return -1;
        }
        pc->reading = 1;
        mo_lock(&c->mu);
        c->peer_resumed = 1;
        tr(c, "peer: stopread resumes reading");
        mo_unlock(&c->mu);
        return 0;
    case B_HALFCLOSE:
        if (pc->tx_len == 0 && pc->own_gen >= pc->own_target) {
            pc->acted = 1;
            pc_fin(pc, "halfclose");
        }
        return 0;
    case B_ECHO:
        if (pc->tx_len == 0 && !pc->in_msg && !pc->hdr_have) {
            pc->acted = 1;
            pc->echo_stopped = 1;
            pc_fin(pc, "echo peer's own FIN");
        }
        return 0;
    }
    return 0;
}

static void peer_main(void *arg)
{
    (void)arg;
    mo_pollfd *pfd = NULL;
    size_t pfd_cap = 0;
    int *pidx = NULL;
    size_t pidx_cap = 0;
    uint64_t next_connect = 0;
    while (!atomic_load(&g_peer_stop)) {
        uint64_t now = now_ms();
        int burst = atomic_exchange(&g_peer_burst, 0);
        for (int k = 0; k < burst; k++) { /* connections arriving while the engine is destroyed */
            peer_connect_one();
            if (k == burst / 4)
                atomic_store(&g_peer_burst_done, 1); /* the model destroys from here on */
        }
        if (!atomic_load(&g_peer_drain) && !avoid(AV_INBOUND) && now >= next_connect) {
            int live_in = 0;
            for (size_t i = 0; i < g_npc; i++)
                if (!g_pc[i]->outbound && g_pc[i]->fd != MO_BAD_SOCK)
                    live_in++;
            if (live_in < P.target_in)
                peer_connect_one();
            next_connect = now + rn(&g_prng, 15);
        }
        if (pfd_cap < g_npc + 3) {
            pfd_cap = (g_npc + 3) * 2;
            pfd = (mo_pollfd *)realloc(pfd, pfd_cap * sizeof *pfd);
            if (!pfd)
                fatal("out of memory");
        }
        unsigned n = 0;
        for (int i = 0; i < 3; i++) {
            pfd[n].fd = g_plist[i];
            pfd[n].events = POLLIN;
            pfd[n].revents = 0;
            n++;
        }
        int timeout = 10;
        size_t polled = g_npc;
        if (pidx_cap < polled + 1) {
            pidx_cap = (polled + 1) * 2;
            pidx = (int *)realloc(pidx, pidx_cap * sizeof *pidx);
            if (!pidx)
                fatal("out of memory");
        }
        for (size_t i = 0; i < polled; i++) {
            pconn *pc = g_pc[i];
            pidx[i] = -1;
            if (pc->fd == MO_BAD_SOCK || pc->hup)
                continue;
            short ev = 0;
            int paced = pc->behaviour == B_TRICKLE && pc->next_io_ms > now;
            if (pc->connecting)
                ev = POLLOUT;
            else {
                if (!pc->c || (pc->reading && !pc->rd_eof && !paced && pc->tx_len - pc->tx_off <= (1u << 20)))
                    ev |= POLLIN;
                if (pc->tx_len > pc->tx_off && !paced)
                    ev |= POLLOUT;
            }
            if (paced) {
                if ((int)(pc->next_io_ms - now) < timeout)
                    timeout = (int)(pc->next_io_ms - now);
                if (!ev)
                    continue; /* nothing to wait for (a hang-up would spin) */
            }
            if (pc->act_ms && !pc->acted && pc->act_ms > now && (int)(pc->act_ms - now) < timeout)
                timeout = (int)(pc->act_ms - now);
            pidx[i] = (int)n;
            pfd[n].fd = pc->fd;
            pfd[n].events = ev;
            pfd[n].revents = 0;
            n++;
        }
        if (timeout < 0)
            timeout = 0;
        int pr = mo_poll(pfd, n, timeout);
        if (pr < 0 && !mo_err_wouldblock(mo_err()))
            fatal("peer: poll failed: %d", mo_err());
        now = now_ms();
        /* accept on the peer listeners */
        for (int i = 0; i < 3; i++) {
            if (!(pfd[i].revents & POLLIN))
                continue;
            for (int k = 0; k < 16; k++) {
                mo_sock s = accept(g_plist[i], NULL, NULL);
                if (s == MO_BAD_SOCK)
                    break;
                mo_nonblock(s);
                mo_nodelay(s);
                pconn *pc = (pconn *)calloc(1, sizeof *pc);
                if (!pc)
                    fatal("out of memory");
                pc->fd = s;
                pc->outbound = 1;
                pc->framing = i > 0;
                pc->incl = i == 2;
                pc->r.s = rnd(&g_prng);
                pc->reading = 1;
                pc_add(pc);
            }
        }
        /* the sockets polled (those accepted just now come next round) */
        for (size_t i = 0; i < polled; i++) {
            pconn *pc = g_pc[i];
            if (pc->fd == MO_BAD_SOCK)
                continue;
            short re = pidx[i] >= 0 ? pfd[pidx[i]].revents : 0;
            if (pc->connecting) {
                if (!re)
                    continue;
                int e = mo_so_error(pc->fd);
                if (e) {
                    atomic_fetch_add(&g_refused, 1);
                    pc_finish(pc, mo_err_refused(e) ? "connect refused" : "connect failed", PF_ABANDON);
                    continue;
                }
                pc->connecting = 0;
                continue;
            }
            if (!pc->c) {
                if (re)
                    pc_identify(pc);
                continue;
            }
            if (pc_act(pc, now) < 0)
                continue;
            int paced = pc->behaviour == B_TRICKLE && pc->next_io_ms > now;
            if ((re & (POLLIN | POLLHUP | POLLERR)) && pc->reading && !pc->rd_eof && !paced)
                if (pc_read(pc) < 0)
                    continue;
            if (pc->tx_len == 0 && !pc->closing)
                pc_generate(pc);
            paced = pc->behaviour == B_TRICKLE && pc->next_io_ms > now_ms();
            if (pc->tx_len > pc->tx_off && !paced && !(re & POLLNVAL))
                if (pc_write(pc) < 0)
                    continue;
            if (pc->closing && pc->tx_len == 0) {
                pc_finish(pc, "orderly close after EOF", PF_ORDERLY);
                continue;
            }
            if ((re & (POLLERR | POLLHUP)) && !pc->reading) {
                /* a stopread peer's connection failed under it: stop polling it until it acts */
                pc->hup = 1;
                conn *c = pc->c;
                mo_lock(&c->mu);
                tr(c, "peer: hang-up/error seen while not reading");
                mo_unlock(&c->mu);
            }
            if (pc->hup && pc->reading)
                pc->hup = 0;
        }
        /* drop finished sockets */
        size_t j = 0;
        for (size_t i = 0; i < g_npc; i++) {
            if (g_pc[i]->fd == MO_BAD_SOCK)
                pc_free(g_pc[i]);
            else
                g_pc[j++] = g_pc[i];
        }
        g_npc = j;
    }
    /* the end: every socket goes (after the engine was destroyed) */
    for (size_t i = 0; i < g_npc; i++) {
        if (g_pc[i]->fd != MO_BAD_SOCK)
            pc_finish(g_pc[i], "end of the test", PF_RST);
        pc_free(g_pc[i]);
    }
    g_npc = 0;
    free(pfd);
    free(pidx);
}

static void peer_listen(void)
{
    for (int i = 0; i < 3; i++) {
        mo_sock s = socket(AF_INET, SOCK_STREAM, 0);
        if (s == MO_BAD_SOCK)
            fatal("peer: socket() failed");
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(0x7F000001u);
        if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(s, 1024) != 0)
            fatal("peer: bind/listen failed: %d", mo_err());
        mo_nonblock(s);
#if defined(_WIN32)
        int alen = sizeof sa;
#else
        socklen_t alen = sizeof sa;
#endif
        getsockname(s, (struct sockaddr *)&sa, &alen);
        g_plist[i] = s;
        g_peer_port[i] = ntohs(sa.sin_port);
    }
}

/* -------------------------------------------------------------- sweeping */

/* What must hold once both sides of a connection are over (g_reg + mu). */
static void final_check(conn *c)
{
    if (c->eng_state == S_DONE) {
        if (c->close_status == 0 && reads_all(c->behaviour) && !c->peer_may_rst && !c->unknown) {
            if (c->peer_state == S_NONE)
                die(c, "CLOSE status 0, but the peer never received the connection's first bytes (%llu bytes accepted)",
                    (unsigned long long)c->out_payload);
            if (c->peer_err && !c->peer_got_eof)
                die(c,
                    "CLOSE status 0, but the peer's socket failed (error %d) after %llu of the %llu accepted bytes, "
                    "before EOF: a graceful close must deliver everything",
                    c->peer_err, (unsigned long long)c->peer_rx_payload, (unsigned long long)c->out_payload);
            if (!c->peer_got_eof)
                die(c, "CLOSE status 0, but the peer (which reads everything) never saw EOF (socket ended: %s)",
                    c->peer_end ? c->peer_end : "-");
        }
        if (c->close_status == 0 && c->peer_state == S_DONE && reads_all(c->behaviour) && !c->peer_may_rst &&
            (c->peer_rx_payload != c->out_payload || (c->framing && c->peer_rx_msgs != c->out_msgs)))
            die(c,
                "CLOSE status 0, but the peer received %llu bytes / %llu messages of the %llu bytes / %llu messages "
                "accepted by net_send*",
                (unsigned long long)c->peer_rx_payload, (unsigned long long)c->peer_rx_msgs,
                (unsigned long long)c->out_payload, (unsigned long long)c->out_msgs);
    }
    /* Under Wine an abortive close (SO_LINGER 0, then closesocket) reaches
     * the Linux peer as a FIN rather than a reset, where Windows sends RST:
     * there a stream cut short may end in EOF, as long as the engine's own
     * CLOSE said it failed (the contract: delivered, or CLOSE says why not). */
    int wine_abort = c->close_status != 0 && tl_under_wine();
    if (c->peer_got_eof && c->eng_state == S_DONE && !wine_abort &&
        (c->peer_rx_payload != c->out_payload || (c->framing && c->peer_rx_msgs != c->out_msgs)))
        die(c,
            "the peer saw EOF after %llu bytes / %llu messages, but %llu bytes / %llu messages were accepted by "
            "net_send* (EOF must come after everything accepted)",
            (unsigned long long)c->peer_rx_payload, (unsigned long long)c->peer_rx_msgs,
            (unsigned long long)c->out_payload, (unsigned long long)c->out_msgs);
}

static void sweep(int final)
{
    uint64_t now = now_ms();
    for (conn *c = g_all, *next; c; c = next) {
        next = c->next;
        if (c->eng_state == S_LIVE || c->peer_state == S_LIVE || atomic_load(&c->busy))
            continue;
        if (!final && c->eng_state == S_DONE && c->peer_state == S_NONE && c->outbound &&
            now - c->eng_done_ms < GRACE_MS)
            continue; /* its hello may still be on the way */
        if (!final && c->eng_state == S_NONE && c->peer_state == S_DONE && now - c->peer_done_ms < GRACE_MS)
            continue; /* its ACCEPT may still come */
        mo_lock(&c->mu);
        if (c->eng_state != S_DESTROYED)
            final_check(c);
        mo_unlock(&c->mu);
        conn_free(c);
    }
    /* closed timers: gone from the table two polls later */
    uint64_t pn = atomic_load(&g_pollno);
    for (size_t i = 0; i < g_handles.cap; i++) {
        if (!g_handles.k[i])
            continue;
        mtimer *t = (mtimer *)g_handles.v[i];
        if (t->kind == K_TIMER && t->closed && pn > t->closed_pollno + 2) {
            net_handle h = t->h;
            hm_del(&g_handles, h);
            dead_add(h, K_TIMER);
            free(t);
            i = (size_t)-1; /* the table moved: start over */
        }
    }
    /* live timers must keep their promises */
    for (size_t i = 0; i < g_ntimers; i++) {
        mtimer *t = g_timers[i];
        if (t->bad_pollno && t->bad_pollno <= atomic_load(&g_pollno))
            fatal("net_close(one-shot timer 0x%llx) returned NET_E_BADHANDLE during poll #%llu, but no TIMER event "
                  "for it came with that poll",
                  (unsigned long long)t->h, (unsigned long long)t->bad_pollno);
        uint64_t due = t->fires ? t->last_fire_ms + t->repeat_ms : t->start_ms + t->delay_ms;
        if (now > due + 3000)
            fatal("timer 0x%llx (%s, delay %llu, repeat %llu) is %llu ms late (fired %llu times)",
                  (unsigned long long)t->h, t->repeat_ms ? "repeating" : "one-shot", (unsigned long long)t->delay_ms,
                  (unsigned long long)t->repeat_ms, (unsigned long long)(now - due), (unsigned long long)t->fires);
    }
}

/* --------------------------------------------------------------- main loop */

static uint64_t g_stall_until;

static int poll_once(net_event *evs, int max, int timeout)
{
    uint64_t pn = atomic_fetch_add(&g_pollno, 1) + 1;
    int n = net_poll(g_eng, evs, max, timeout);
    if (n < 0)
        fatal("net_poll returned %s", errname(n));
    mo_lock(&g_reg);
    for (int i = 0; i < n; i++)
        handle_event(&evs[i], pn);
    mo_unlock(&g_reg);
    return n;
}

static void report(const char *tag, double elapsed)
{
    net_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    if (g_eng && !atomic_load(&g_destroyed))
        net_engine_stats(g_eng, &st);
    printf("%s elapsed=%.0fs rss_kb=%ld fds=%d conns_open=%llu conns_total=%llu model_conns=%llu bytes_verified=%llu "
           "events=%llu calls=%llu send_queued=%llu\n",
           tag, elapsed, mo_rss_kb(), mo_fd_count(), (unsigned long long)st.connections,
           (unsigned long long)st.connections_total, (unsigned long long)atomic_load(&g_conns_total),
           (unsigned long long)atomic_load(&g_bytes_verified), (unsigned long long)atomic_load(&g_events),
           (unsigned long long)atomic_load(&g_calls), (unsigned long long)st.send_queued);
    fflush(stdout);
}

static void watchdog_main(void *arg)
{
    double limit = *(double *)arg;
    uint64_t end = now_ms() + (uint64_t)(limit * 1000);
    while (now_ms() < end)
        mo_sleep_us(200000);
    fatal("still running %.0f s after the start (phase %d, destroyed %d): a hang (a CLOSE or a destroy that never "
          "returns?)",
          limit, atomic_load(&g_phase), atomic_load(&g_destroyed));
}

static void usage(void)
{
    fprintf(stderr,
            "usage: model [--seed N] [--seconds S] [--soak MINUTES] [--backend epoll|io_uring|iocp] [--io-threads N]\n"
            "             [--workers N] [--end graceful|abrupt] [--avoid a,b,...] [--report-every S] [-v]\n"
            "  --avoid names behaviours not to provoke (to isolate a failure): ");
    for (size_t i = 0; i < sizeof g_avoid_names / sizeof g_avoid_names[0]; i++)
        fprintf(stderr, "%s%s", i ? "," : "", g_avoid_names[i].name);
    fprintf(stderr, "\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    const char *env = getenv("NET_BACKEND");
    O.backend = env && *env ? env : NULL;
    env = getenv("NET_TEST_IO_THREADS");
    O.io_threads = env && *env ? atoi(env) : 0;
    O.seed = (tl_now_us() ^ (uint64_t)(uintptr_t)&O ^ ((uint64_t)tl_now_ms() << 20)) % 1000000000ull;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-v") || !strcmp(a, "-vv")) {
            O.verbose = a[2] ? 2 : 1; /* -vv: the peer's reads and writes go into the histories too */
            continue;
        }
        if (!v)
            usage();
        if (!strcmp(a, "--seed"))
            O.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--seconds"))
            O.seconds = atof(v);
        else if (!strcmp(a, "--soak"))
            O.soak_min = atof(v);
        else if (!strcmp(a, "--backend"))
            O.backend = v;
        else if (!strcmp(a, "--io-threads"))
            O.io_threads = atoi(v);
        else if (!strcmp(a, "--workers"))
            O.workers = atoi(v);
        else if (!strcmp(a, "--report-every"))
            O.report_s = atoi(v);
        else if (!strcmp(a, "--end"))
            O.end_mode = !strcmp(v, "abrupt") ? 1 : !strcmp(v, "graceful") ? 0 : (usage(), 0);
        else if (!strcmp(a, "--avoid")) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s", v);
            for (char *tok = strtok(tmp, ","); tok; tok = strtok(NULL, ",")) {
                size_t k;
                for (k = 0; k < sizeof g_avoid_names / sizeof g_avoid_names[0]; k++)
                    if (!strcmp(tok, g_avoid_names[k].name)) {
                        O.avoid |= g_avoid_names[k].bit;
                        break;
                    }
                if (k == sizeof g_avoid_names / sizeof g_avoid_names[0])
                    usage();
            }
        } else
            usage();
        i++;
    }
    if (O.workers < 1 || O.workers > MAX_WORKERS)
        usage();
    if (O.soak_min > 0)
        O.seconds = O.soak_min * 60.0;
    if ((O.avoid & (AV_ECHO | AV_SINK | AV_HALFCLOSE | AV_RESET | AV_STOPREAD | AV_TRICKLE)) ==
        (AV_ECHO | AV_SINK | AV_HALFCLOSE | AV_RESET | AV_STOPREAD | AV_TRICKLE))
        usage();
}

/* Polls until pred or timeout; returns pred's last value. */
static int poll_until(int (*pred)(void), uint64_t ms)
{
    static net_event evs[256];
    uint64_t end = now_ms() + ms;
    while (!pred()) {
        if (now_ms() >= end)
            return 0;
        poll_once(evs, 256, 10);
        mo_lock(&g_reg);
        sweep(0);
        mo_unlock(&g_reg);
    }
    return 1;
}

static int all_engine_closed(void)
{
    mo_lock(&g_reg);
    int open = (int)g_nlive;
    for (int i = 0; i < MAX_LISTENERS; i++)
        if (g_lst[i].h)
            open++;
    mo_unlock(&g_reg);
    return open == 0;
}

static int peers_done(void)
{
    mo_lock(&g_reg);
    int live = 0;
    for (conn *c = g_all; c; c = c->next)
        if (c->peer_state == S_LIVE)
            live++;
    mo_unlock(&g_reg);
    return live == 0;
}

static int queue_empty(void)
{
    net_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    net_engine_stats(g_eng, &st);
    int all_posts = 1;
    for (int i = 0; i < O.workers; i++)
        if (g_posts[i].seen_n != g_posts[i].ok)
            all_posts = 0;
    return st.queue_depth == 0 && all_posts;
}

#if !defined(_WIN32)
static void describe_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[300], target[256];
        snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
        ssize_t k = readlink(path, target, sizeof target - 1);
        if (k < 0)
            continue;
        target[k] = 0;
        char extra[160] = "";
        unsigned long ino;
        if (sscanf(target, "socket:[%lu]", &ino) == 1) { /* its TCP endpoints, from /proc/net/tcp */
            FILE *f = fopen("/proc/net/tcp", "r");
            char line[512];
            while (f && fgets(line, sizeof line, f)) {
                unsigned la, lp, ra, rp, st;
                unsigned long in;
                if (sscanf(line, " %*d: %x:%x %x:%x %x %*s %*s %*s %*s %*s %lu", &la, &lp, &ra, &rp, &st, &in) == 6 &&
                    in == ino)
                    snprintf(extra, sizeof extra, " tcp local port %u remote port %u state %u", lp, rp, st);
            }
            if (f)
                fclose(f);
        }
        fprintf(stderr, "    fd %s -> %s%s\n", de->d_name, target, extra);
    }
    closedir(d);
}
#endif

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    parse_args(argc, argv);
    if (mo_net_init() != 0)
        fatal("WSAStartup failed");
    tl_raise_fd_limit(8192);
    rng mr = {O.seed * 0x2545F4914F6CDD1Dull + 1};
    /* per-run parameters: all from the seed */
    static const uint32_t cto[] = {300, 1000, 2000};
    static const uint32_t caps[] = {131072, 262144, 1u << 20}; /* each holds max_message + a header */
    P.close_timeout_ms = cto[rn(&mr, 3)];
    P.send_cap = caps[rn(&mr, 3)];
    P.highwater = P.send_cap / (2 + rn(&mr, 6));
    P.lowwater = P.highwater / (2 + rn(&mr, 8));
    P.recv_limit = chance(&mr, 50) ? 65536 : 1u << 20;
    P.event_batch = chance(&mr, 50) ? 16 : 256;
    P.target_in = avoid(AV_INBOUND) ? 0 : (int)rrange(&mr, 4, 20);
    P.target_out = avoid(AV_OUTBOUND) ? 0 : (int)rrange(&mr, 4, 20);
    P.abrupt = O.end_mode >= 0 ? O.end_mode : chance(&mr, 30);
    g_prng.s = mix64(O.seed ^ 0x5EED);

    printf("model: seed=%llu backend=%s io_threads=%d workers=%d seconds=%g end=%s close_timeout_ms=%u send_cap=%u "
           "highwater=%u lowwater=%u recv_limit=%u event_batch=%u targets in=%d out=%d\n",
           (unsigned long long)O.seed, O.backend ? O.backend : "(auto)", O.io_threads, O.workers, O.seconds,
           P.abrupt ? "abrupt" : "graceful", P.close_timeout_ms, P.send_cap, P.highwater, P.lowwater, P.recv_limit,
           P.event_batch, P.target_in, P.target_out);
    printf("model: --seed replays the same random choices; thread interleavings are not replayable\n");

    mo_mutex_init(&g_reg);
    int fd_base = mo_fd_count();
    long rss_base = mo_rss_kb();

    net_config cfg;
    net_config_init(&cfg);
    cfg.io_threads = (uint32_t)O.io_threads;
    if (O.backend) {
        if (!strcmp(O.backend, "epoll"))
            cfg.backend = NET_BACKEND_EPOLL;
        else if (!strcmp(O.backend, "io_uring"))
            cfg.backend = NET_BACKEND_IO_URING;
        else if (!strcmp(O.backend, "iocp"))
            cfg.backend = NET_BACKEND_IOCP;
    }
    cfg.close_timeout_ms = P.close_timeout_ms;
    cfg.max_message = 65536;
    cfg.send_cap = P.send_cap;
    cfg.send_highwater = P.highwater;
    cfg.send_lowwater = P.lowwater;
    cfg.recv_limit = P.recv_limit;
    cfg.event_batch = P.event_batch;
    int rc = net_engine_create(&cfg, &g_eng);
    if (rc == NET_E_UNSUPPORTED) {
        printf("SKIP model: backend %s unavailable here\n", O.backend ? O.backend : "(auto)");
        return 77;
    }
    if (rc != 0)
        fatal("net_engine_create returned %s", errname(rc));
    g_backend_name = net_backend_name(g_eng);
    if (O.backend && strcmp(O.backend, g_backend_name) != 0) {
        printf("SKIP model: asked for %s, the engine runs %s\n", O.backend, g_backend_name);
        net_engine_destroy(g_eng);
        return 77;
    }
    g_start_ms = now_ms();
    static double wd_limit;
    wd_limit = O.seconds + 45.0;
    tl_thread_start(watchdog_main, &wd_limit); /* never joined */

    peer_listen();
    mo_lock(&g_reg);
    listener_open(&mr);
    listener_open(&mr);
    mo_unlock(&g_reg);
    tl_thread *peer = tl_thread_start(peer_main, NULL);
    worker ws[MAX_WORKERS];
    for (int i = 0; i < O.workers; i++) {
        ws[i].id = i;
        ws[i].r.s = mix64(O.seed + 1000003ull * (uint64_t)(i + 1));
        ws[i].buf = (uint8_t *)malloc(MAX_SEND_LEN);
        ws[i].actions = 0;
        ws[i].t = tl_thread_start(worker_main, &ws[i]);
    }

    static net_event evs[256];
    uint64_t end = g_start_ms + (uint64_t)(O.seconds * 1000);
    uint64_t next_sweep = 0, next_report = g_start_ms + (uint64_t)O.report_s * 1000, next_churn = g_start_ms + 500;
    if (O.soak_min > 0)
        report("soak:", 0);
    while (now_ms() < end) {
        uint64_t now = now_ms();
        if (now < g_stall_until) {
            mo_sleep_us(2000);
            continue;
        }
        poll_once(evs, (int)rrange(&mr, 1, 256), (int)rn(&mr, 20));
        now = now_ms();
        if (now >= next_sweep) {
            mo_lock(&g_reg);
            sweep(0);
            if (!avoid(AV_OUTBOUND) && g_live_out < P.target_out)
                connect_one(&mr, "model");
            if (!avoid(AV_CHURN) && now >= next_churn) {
                next_churn = now + rrange(&mr, 300, 2000);
                int pick = (int)rn(&mr, MAX_LISTENERS);
                if (g_lst[pick].h && !g_lst[pick].closing && listeners_open() > 1)
                    listener_close(&g_lst[pick]);
                else if (listeners_open() < 3)
                    listener_open(&mr);
            }
            if (listeners_open() == 0)
                listener_open(&mr);
            mo_unlock(&g_reg);
            if (!avoid(AV_STALL) && chance(&mr, 1))
                g_stall_until = now + rrange(&mr, 20, 300);
            next_sweep = now + 50;
        }
        if (O.soak_min > 0 && now >= next_report) {
            report("soak:", (double)(now - g_start_ms) / 1000.0);
            next_report += (uint64_t)O.report_s * 1000;
        } else if (O.verbose && now >= next_report) {
            report("model:", (double)(now - g_start_ms) / 1000.0);
            next_report += (uint64_t)O.report_s * 1000;
        }
    }

    /* ---- the end ---- */
    atomic_store(&g_phase, 1);
    if (P.abrupt) {
        /* destroy with everything live: peers still connecting, workers still calling */
        printf("model: abrupt end: net_engine_destroy with %zu connections live\n", g_nlive);
        if (avoid(AV_DESTROYRACE)) {
            atomic_store(&g_workers_stop, 1);
            for (int i = 0; i < O.workers; i++)
                tl_thread_join(ws[i].t);
        }
        if (!avoid(AV_INBOUND)) {
            /* a burst of connections still arriving when destroy starts */
            uint64_t t0 = now_ms();
            atomic_store(&g_peer_burst, (int)rrange(&mr, 32, 160));
            while (!atomic_load(&g_peer_burst_done) && now_ms() - t0 < 2000)
                mo_sleep_us(100);
            mo_sleep_us(rn(&mr, 1500));
        }
        atomic_store(&g_destroying, 1);
        rc = net_engine_destroy(g_eng);
        atomic_store(&g_destroyed, 1);
        if (rc != 0)
            fatal("net_engine_destroy returned %s", errname(rc));
        if (!avoid(AV_DESTROYRACE)) {
            mo_sleep_us(20000);
            /* every call on the destroyed engine's handles must be BADHANDLE now */
            mo_lock(&g_reg);
            for (size_t i = 0; i < g_nlive; i++) {
                int r1 = net_send(g_live[i]->h, "x", 1), r2 = net_close(g_live[i]->h);
                if (r1 != NET_E_BADHANDLE || r2 != NET_E_BADHANDLE)
                    die(g_live[i],
                        "after net_engine_destroy: net_send -> %s, net_close -> %s, expected NET_E_BADHANDLE",
                        errname(r1), errname(r2));
            }
            mo_unlock(&g_reg);
            rc = net_post(g_eng, 1);
            if (rc != NET_E_BADHANDLE)
                fatal("net_post on a destroyed engine returned %s", errname(rc));
            atomic_store(&g_workers_stop, 1);
            for (int i = 0; i < O.workers; i++)
                tl_thread_join(ws[i].t);
        }
        atomic_store(&g_peer_drain, 1);
        atomic_store(&g_peer_stop, 1);
        tl_thread_join(peer);
        mo_lock(&g_reg);
        for (conn *c = g_all; c; c = c->next)
            if (c->eng_state == S_LIVE)
                c->eng_state = S_DESTROYED;
        mo_unlock(&g_reg);
    } else {
        atomic_store(&g_workers_stop, 1);
        for (int i = 0; i < O.workers; i++)
            tl_thread_join(ws[i].t);
        atomic_store(&g_peer_drain, 1);
        /* close everything gracefully */
        mo_lock(&g_reg);
        for (int i = 0; i < MAX_LISTENERS; i++)
            if (g_lst[i].h && !g_lst[i].closing)
                listener_close(&g_lst[i]);
        for (size_t i = 0; i < g_nlive; i++) {
            conn *c = g_live[i];
            mo_lock(&c->mu);
            atomic_store(&c->close_called, 1);
            rc = net_close(c->h);
            tr(c, "model (drain): net_close -> %s", errname(rc));
            check_simple_rc(c, rc, NET_OK, 0, "net_close (drain)");
            mo_unlock(&c->mu);
        }
        for (size_t i = g_ntimers; i-- > 0;)
            timer_close(g_timers[i]);
        mo_unlock(&g_reg);
        uint64_t budget = P.close_timeout_ms + 5000;
        if (!poll_until(all_engine_closed, budget)) {
            mo_lock(&g_reg);
            if (g_nlive)
                die(g_live[0], "no CLOSE within %llu ms of net_close (%zu connections still open)",
                    (unsigned long long)budget, g_nlive);
            fatal("a listener's CLOSE did not come within %llu ms of net_close", (unsigned long long)budget);
        }
        if (!poll_until(peers_done, 5000)) {
            mo_lock(&g_reg);
            for (conn *c = g_all; c; c = c->next)
                if (c->peer_state == S_LIVE)
                    die(c, "the peer's socket is still open 5 s after the engine's CLOSE (no FIN or RST came)");
            mo_unlock(&g_reg);
        }
        if (!poll_until(queue_empty, 3000)) {
            for (int i = 0; i < O.workers; i++)
                if (g_posts[i].seen_n != g_posts[i].ok)
                    fatal("worker %d: %llu net_post calls returned 0, %llu USER events arrived", i,
                          (unsigned long long)g_posts[i].ok, (unsigned long long)g_posts[i].seen_n);
            fatal("events still queued 3 s after everything closed");
        }
        net_stats st;
        memset(&st, 0, sizeof st);
        st.size = sizeof st;
        net_engine_stats(g_eng, &st);
        if (st.connections != 0 || st.send_queued != 0)
            fatal("after every CLOSE: stats say %llu connections open, %llu bytes queued",
                  (unsigned long long)st.connections, (unsigned long long)st.send_queued);
        mo_lock(&g_reg);
        sweep(1);
        mo_unlock(&g_reg);
        report("model: before destroy:", (double)(now_ms() - g_start_ms) / 1000.0);
        atomic_store(&g_destroying, 1);
        rc = net_engine_destroy(g_eng);
        atomic_store(&g_destroyed, 1);
        if (rc != 0)
            fatal("net_engine_destroy returned %s", errname(rc));
        atomic_store(&g_peer_stop, 1);
        tl_thread_join(peer);
    }
    for (int i = 0; i < 3; i++)
        mo_close(g_plist[i]);
    mo_lock(&g_reg);
    sweep(1);
    mo_unlock(&g_reg);

    int fd_end = mo_fd_count();
    long rss_end = mo_rss_kb();
    printf("model: end: fds baseline=%d now=%d rss_kb start=%ld end=%ld\n", fd_base, fd_end, rss_base, rss_end);
#if !defined(_WIN32)
    if (fd_end != fd_base) {
        fprintf(stderr, "open descriptors now:\n");
        describe_fds();
        fatal("%d descriptors open after net_engine_destroy and closing every peer socket, %d before the engine was "
              "created (%s end)",
              fd_end, fd_base, P.abrupt ? "abrupt" : "graceful");
    }
#endif
    unsigned long long cs[20];
    for (int i = 0; i < 20; i++)
        cs[i] = atomic_load(&g_closes_by_status[i]);
    printf("model: ok seed=%llu backend=%s io_threads=%d end=%s conns=%llu bytes_verified=%llu events=%llu calls=%llu "
           "wouldblock=%llu close_status{ok=%llu reset=%llu aborted=%llu timedout=%llu} unknown_accepts=%llu "
           "late_hellos=%llu anonymous=%llu refused=%llu peer_addr_os_after_peer_close=%llu\n",
           (unsigned long long)O.seed, g_backend_name, O.io_threads, P.abrupt ? "abrupt" : "graceful",
           (unsigned long long)atomic_load(&g_conns_total), (unsigned long long)atomic_load(&g_bytes_verified),
           (unsigned long long)atomic_load(&g_events), (unsigned long long)atomic_load(&g_calls),
           (unsigned long long)atomic_load(&g_wouldblock), cs[0], cs[-NET_E_RESET], cs[-NET_E_ABORTED],
           cs[-NET_E_TIMEDOUT], (unsigned long long)atomic_load(&g_unknown_accepts),
           (unsigned long long)atomic_load(&g_late_hellos), (unsigned long long)atomic_load(&g_anon),
           (unsigned long long)atomic_load(&g_refused), (unsigned long long)atomic_load(&g_peeraddr_os));
    for (int i = 0; i < O.workers; i++)
        free(ws[i].buf);
    for (int i = 0; i < O.workers; i++)
        free(g_posts[i].seen);
    mo_lock(&g_reg);
    for (size_t i = 0; i < g_handles.cap; i++)
        if (g_handles.k[i] && *(int *)g_handles.v[i] == K_TIMER)
            free(g_handles.v[i]);
    while (g_all)
        conn_free(g_all);
    mo_unlock(&g_reg);
    hm_free(&g_handles);
    hm_free(&g_dead);
    hm_free(&g_ports);
    hm_free(&g_ids);
    free(g_live);
    free(g_timers);
    free(g_pc);
    fflush(stdout);
    return 0;
}
