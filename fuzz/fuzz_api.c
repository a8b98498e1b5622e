/* fuzz_api.c - libFuzzer target for the whole public API (include/net.h) on
 * a real loopback engine, built from every dll/ source with ASan and UBSan.
 *
 * Each input is a small program: it creates an engine, runs up to MAX_OPS
 * calls with arguments taken from the input (live, closing, stale, forged,
 * zero and wrong-type handles; NULL pointers; zero and huge sizes; config
 * and stats structs whose size field is wrong), drains the events, destroys
 * the engine and checks that no descriptor outlived it. LeakSanitizer then
 * finds any allocation the destroy left behind.
 *
 * Input (missing bytes read as 0):
 *   header: one byte, bits 0-2 backend (0-3 epoll, 4-5 io_uring, 6 auto,
 *     7 a raw value from the next byte), bits 3-4 io_threads (0, 1, 2, or 3:
 *     the next byte picks 0-4 or a count over the limit), bit 5 mutate config
 *     fields (a 16-bit field mask, then a value for each field set; mask bit
 *     15: a wrong size field), bits 6-7 = 3: NULL config. If that engine
 *     cannot be created, a default epoll engine is used.
 *   then operations: an opcode byte (mod OP_COUNT, see the g_ops table near
 *     the end; api_seeds.py writes programs by name) and its operands.
 *
 * Checked after every call and event (a failure prints the decoded calls of
 * the input and traps, so libFuzzer saves the input):
 * - each return is 0, a count where net.h documents one, or a NET_E_* code;
 * - a handle the model knows to be dead (zero, forged, stale, of a destroyed
 *   engine, or of a type the call never takes) answers NET_E_BADHANDLE
 *   (NET_E_INVAL/NET_E_ADDR also when an argument is bad too); a live handle
 *   of a type the call takes never answers NET_E_BADHANDLE; a forged engine
 *   handle never succeeds;
 * - nothing more is queued on a handle after net_close, net_abort or
 *   net_shutdown succeeded on it; after net_close/net_abort, calls that
 *   reach its socket answer NET_E_CLOSED, closing again answers 0 and
 *   net_get_user still works (net.h's "Closing" rule);
 * - NET_E_NOTCONN for net_send* on a UDP socket without a fixed peer;
 *   NET_E_WOULDBLOCK never for a message over the send cap nor (io_threads
 *   0) on an empty queue;
 * - events: known type and status; only for handles the model knows; none
 *   after a handle's CLOSE (or after a timer was closed or a one-shot timer
 *   fired); ACCEPT names a live listener; CONNECT only once and only for
 *   net_connect's handles; no DATA after EOF; one TIMER per timer per poll;
 *   posted USER values come back once each, in order; payload bytes are
 *   readable (ASan) until the next poll;
 * - net_get_user answers what was set; net_local_addr of a listener or UDP
 *   socket answers its own port (a reused descriptor would not);
 * - net_addr_format writes a NUL-terminated string of the length returned
 *   that net_addr_parse reads back to the same address;
 * - config and stats structs are passed in buffers exactly as long as their
 *   size field claims, so ASan reports any access past it;
 * - after net_engine_destroy every handle answers NET_E_BADHANDLE and the
 *   process holds no more descriptors than before the input.
 *
 * Traffic stays on this host: hosts are loopback or unresolvable, ports are
 * 0, 1 or ours. getaddrinfo is replaced below by a stub that knows only
 * "localhost", "ip6-localhost" and numeric IPv6 with a numeric scope, so
 * random host names never reach DNS.
 *
 * Replaying: `FUZZ_API_TRACE=1 ./fuzz_api crash-file` prints every call and
 * event of the input in plain words as it runs.
 */
#define _GNU_SOURCE /* getaddrinfo, strnlen under -std=c11 */
#include <arpa/inet.h>
#include <dirent.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "net.h"

#define MAX_OPS 64    /* calls per input */
#define MAX_OBJS 1024 /* handles the model tracks per input */
#define MAX_POSTS 256 /* net_post values per engine */
#define MAX_CYCLES 3  /* engine destroy/create cycles per input */
#define MAX_EXTRA 2   /* extra engines created and destroyed per input */
#define MAX_POLL 4096 /* largest max given to net_poll, see op_poll */
#define MAX_CFG 8192  /* config/stats buffers claiming more get this much */
#define HOST_MAX 300  /* random host strings */
#define PAYLOAD_MAX ((2u << 20) + 64)

/* The last code of net.h's error enum and event enum: keep in step. */
#define LAST_CODE NET_E_NOTCONN
#define LAST_EVENT NET_EV_EOF

/* ------------------------------------------------------------------------ */
/* input reader                                                             */

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static uint8_t rd8(reader *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static uint16_t rd16(reader *r)
{
    uint16_t v = rd8(r);
    return (uint16_t)(v | rd8(r) << 8);
}

static uint32_t rd32(reader *r)
{
    uint32_t v = rd16(r);
    return v | (uint32_t)rd16(r) << 16;
}

static uint64_t rd64(reader *r)
{
    uint64_t v = rd32(r);
    return v | (uint64_t)rd32(r) << 32;
}

/* A 32-bit value shifted right by 0-31 bits: small values as often as big. */
static uint32_t rd32_scaled(reader *r)
{
    uint8_t shift = rd8(r) & 31;
    return rd32(r) >> shift;
}

/* ------------------------------------------------------------------------ */
/* trace and failure                                                        */

static char g_trace[1 << 18];
static size_t g_trace_len;
static int g_trace_live; /* FUZZ_API_TRACE=1: print each line as it happens */

static void tr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tr(const char *fmt, ...)
{
    char line[640];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = (int)sizeof line - 1;
    if (g_trace_live)
        fprintf(stderr, "  %s\n", line);
    if (g_trace_len + (size_t)n + 4 < sizeof g_trace) {
        g_trace[g_trace_len++] = ' ';
        g_trace[g_trace_len++] = ' ';
        memcpy(g_trace + g_trace_len, line, (size_t)n);
        g_trace_len += (size_t)n;
        g_trace[g_trace_len++] = '\n';
    }
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\nfuzz_api: FAILED: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (!g_trace_live)
        fprintf(stderr, "fuzz_api: the calls of this input:\n%.*s", (int)g_trace_len, g_trace);
    __builtin_trap();
}

/* ------------------------------------------------------------------------ */
/* the model: every handle this input was given                              */

enum { K_LISTENER = 1, K_CONN, K_UDP, K_TIMER };
#define KB(k) (1u << (k))
#define K_ALL (KB(K_LISTENER) | KB(K_CONN) | KB(K_UDP) | KB(K_TIMER))

enum { S_LIVE, S_CLOSING, S_STALE };

typedef struct obj {
    net_handle h;
    uint8_t kind, state;
    uint8_t from_connect; /* made by net_connect: one CONNECT event due */
    uint8_t got_connect;
    uint8_t wr_shut; /* net_shutdown succeeded */
    uint8_t oneshot; /* timer with repeat 0: its handle ends with its event */
    uint8_t got_eof;
    uint8_t udp_connected; /* net_udp_connect succeeded */
    uint32_t timer_batch;  /* the poll batch of its last TIMER event */
    uint16_t port;         /* listener or UDP socket: its local port (0 unknown) */
    uint32_t id;           /* for the trace: L3, C7, U2, T1 */
    uint64_t user;         /* what net_get_user must answer, if user_known */
    uint8_t user_known;
} obj;

static obj g_obj[MAX_OBJS];
static int g_nobj;
static uint32_t g_next_id;

static net_engine g_eng;       /* the current engine */
static uint32_t g_eng_threads; /* its io_threads */
static uint32_t g_eng_want;    /* its backend as asked: AUTO = any */
static net_engine g_dead[8];   /* engines destroyed during this input */
static int g_ndead;
static int g_cycles, g_extras;
static int g_armed; /* a wakeup or post is pending: net_poll(-1) returns */

static uint64_t g_posted[MAX_POSTS]; /* net_post values accepted, in order */
static int g_nposted, g_nseen;

static uint8_t g_payload[PAYLOAD_MAX];
static net_event g_ev[MAX_POLL];
static int g_uring_ok;

static obj *find(net_handle h)
{
    if (!h)
        return NULL;
    for (int i = 0; i < g_nobj; i++)
        if (g_obj[i].h == h)
            return &g_obj[i];
    return NULL;
}

static int room(void)
{
    return g_nobj < MAX_OBJS - 4;
}

static obj *add_obj(net_handle h, int kind, uint64_t user)
{
    if (!h)
        fail("a call that succeeded gave handle 0");
    if (find(h))
        fail("handle 0x%016llx was issued twice", (unsigned long long)h);
    if (g_nobj == MAX_OBJS)
        fail("model full (fuzzer bug)");
    obj *o = &g_obj[g_nobj++];
    memset(o, 0, sizeof *o);
    o->h = h;
    o->kind = (uint8_t)kind;
    o->state = S_LIVE;
    o->id = ++g_next_id;
    o->user = user;
    o->user_known = 1;
    return o;
}

static const char *hname(net_handle h)
{
    static char bufs[8][48];
    static unsigned k;
    char *b = bufs[k++ & 7];
    obj *o = find(h);
    if (!h)
        return "0";
    if (o)
        snprintf(b, 48, "%c%u%s", "?LCUT"[o->kind], o -> id,
                 o -> state == S_STALE        ? "(stale)"
                      : o->state == S_CLOSING ? "(closing)"
                                              : "");
    else
        snprintf(b, 48, "0x%016llx", (unsigned long long)h);
    return b;
}

static const char *ename(net_engine e)
{
    static char bufs[4][40];
    static unsigned k;
    char *b = bufs[k++ & 3];
    if (e && e == g_eng)
        return "E";
    for (int i = 0; i < g_ndead; i++)
        if (e == g_dead[i])
            return "E(destroyed)";
    snprintf(b, 40, "0x%016llx", (unsigned long long)e);
    return b;
}

static const char *rcname(int rc)
{
    static const char *const names[] = {"OK",     "BADHANDLE", "INVAL",     "NOMEM",       "WOULDBLOCK",
                                        "CLOSED", "MSGSIZE",   "BUSY",      "UNSUPPORTED", "OS",
                                        "ADDR",   "TIMEDOUT",  "RESET",     "REFUSED",     "LIMIT",
                                        "PROTO",  "ABORTED",   "ADDRINUSE", "UNREACHABLE", "NOTCONN"};
    static char b[24];
    if (rc <= 0 && rc >= LAST_CODE)
        return names[-rc];
    snprintf(b, sizeof b, "%d", rc);
    return b;
}

/* ------------------------------------------------------------------------ */
/* what a call may answer                                                   */

static int is_code(int rc)
{
    return rc <= NET_E_BADHANDLE && rc >= LAST_CODE;
}

static void want_status(const char *call, int rc)
{
    if (rc != 0 && !is_code(rc))
        fail("%s returned %d: neither 0 nor a NET_E_* code of net.h", call, rc);
}

static void want_count(const char *call, int rc)
{
    if (rc < 0 && !is_code(rc))
        fail("%s returned %d: neither a count nor a NET_E_* code of net.h", call, rc);
}

enum { H_OK, H_BAD, H_ANY };

/* H_BAD: the handle names nothing the call may act on (zero, forged, stale,
 * or of a kind in `bad`); H_OK: a live handle of a kind in `ok`. Handles of
 * other kinds are left to the library (net.h does not settle them). */
static int classify(net_handle h, unsigned ok, unsigned bad)
{
    obj *o = find(h);
    if (!o || o->state == S_STALE)
        return H_BAD;
    if (ok & KB(o->kind))
        return H_OK;
    return bad & KB(o->kind) ? H_BAD : H_ANY;
}

static void want_handle(const char *call, int rc, int cls, int bad_arg)
{
    want_status(call, rc);
    if (cls == H_BAD && rc != NET_E_BADHANDLE && !(bad_arg && (rc == NET_E_INVAL || rc == NET_E_ADDR)))
        fail("%s returned %s for a dead, forged or wrong-type handle: net.h promises NET_E_BADHANDLE", call,
             rcname(rc));
    if (cls == H_OK && rc == NET_E_BADHANDLE)
        fail("%s returned NET_E_BADHANDLE for a live handle of a type it takes", call);
}

/* A call taking an engine: the current one is never BADHANDLE; any other
 * value must fail (argument checks may come before the engine lookup). */
static void want_engine(const char *call, int rc, net_engine e)
{
    want_count(call, rc);
    if (e && e == g_eng) {
        if (rc == NET_E_BADHANDLE)
            fail("%s returned NET_E_BADHANDLE for the live engine", call);
    } else if (rc != NET_E_BADHANDLE && rc != NET_E_INVAL) {
        fail("%s returned %s for a dead or forged engine handle", call, rcname(rc));
    }
}

/* Nothing may be queued after net_close / net_abort / net_shutdown. */
static void want_not_queued(const char *call, int rc, net_handle h, uint64_t total)
{
    obj *o = find(h);
    if (rc == 0 && o && (o->state == S_CLOSING || o->wr_shut) && (total > 0 || o->kind == K_UDP))
        fail("%s queued %llu bytes on %s after it was closed or shut down", call, (unsigned long long)total, hname(h));
}

/* net.h: once net_close or net_abort succeeded on a connection, UDP socket or
 * listener, every call that would reach its socket answers NET_E_CLOSED
 * (NET_E_INVAL where an argument is bad too). `kinds`: those the call takes. */
static void want_closed(const char *call, int rc, net_handle h, unsigned kinds, int bad_arg)
{
    obj *o = find(h);
    if (o && o->state == S_CLOSING && (kinds & KB(o->kind)) && rc != NET_E_CLOSED && !(bad_arg && rc == NET_E_INVAL))
        fail("%s on %s after net_close/net_abort returned %s: net.h says NET_E_CLOSED", call, hname(h), rcname(rc));
}

/* net.h "Sizes": NET_E_WOULDBLOCK only when waiting for the queue to drain
 * would help: never for a message over the send cap, never on an empty
 * queue. The queue is looked at only with io_threads = 0, where nothing
 * drains it between two calls. */
static void want_wouldblock_sane(const char *call, int rc, net_handle h, uint64_t total)
{
    if (rc != NET_E_WOULDBLOCK)
        return;
    int64_t cap = 0;
    if (net_get_option(h, NET_OPT_SEND_CAP, &cap) == 0 && total > (uint64_t)cap)
        fail("%s of %llu bytes on %s returned NET_E_WOULDBLOCK with a send cap of %lld: net.h says NET_E_MSGSIZE", call,
             (unsigned long long)total, hname(h), (long long)cap);
    uint64_t queued = 0;
    if (g_eng_threads == 0 && net_send_queued(h, &queued) == 0 && queued == 0)
        fail("%s on %s returned NET_E_WOULDBLOCK with an empty send queue: waiting cannot help", call, hname(h));
}

/* net.h: net_send/net_sendv, and net_sendto with to = NULL, on a UDP socket
 * that has no fixed peer answer NET_E_NOTCONN. */
static void want_notconn(const char *call, int rc, net_handle h, int bad_arg)
{
    obj *o = find(h);
    if (!o || o->kind != K_UDP || o->state != S_LIVE || o->udp_connected)
        return;
    if (rc != NET_E_NOTCONN && rc != NET_E_MSGSIZE && !(bad_arg && rc == NET_E_INVAL))
        fail("%s on unconnected UDP socket %s returned %s: net.h says NET_E_NOTCONN", call, hname(h), rcname(rc));
}

/* ------------------------------------------------------------------------ */
/* picking arguments                                                        */

/* One of the handles the model knows whose kind is in `kinds`, any state. */
static net_handle pick_known(reader *r, unsigned kinds)
{
    int n = 0;
    for (int i = 0; i < g_nobj; i++)
        n += (kinds & KB(g_obj[i].kind)) != 0;
    if (!n)
        return g_nobj ? g_obj[rd8(r) % g_nobj].h : 0;
    int want = rd8(r) % n;
    for (int i = 0; i < g_nobj; i++)
        if ((kinds & KB(g_obj[i].kind)) && want-- == 0)
            return g_obj[i].h;
    return 0;
}

/* A handle: mostly one of the kinds the call takes; also any known one,
 * random bits, a known one with one bit flipped, or with its type or engine
 * index rewritten, zero and all ones. */
static net_handle pick_handle(reader *r, unsigned kinds)
{
    uint8_t b = rd8(r);
    switch (b & 7) {
    default:
        return pick_known(r, kinds);
    case 4:
        return pick_known(r, K_ALL);
    case 5:
        return rd64(r);
    case 6: {
        net_handle h = pick_known(r, K_ALL);
        return h ^ (1ull << (rd8(r) & 63));
    }
    case 7: {
        uint8_t how = rd8(r) & 3;
        net_handle h = pick_known(r, K_ALL);
        if (how == 0)
            return 0;
        if (how == 1)
            return ~0ull;
        if (how == 2)
            return (h & ~(0xFull << 56)) | ((uint64_t)(rd8(r) & 15) << 56);
        return (h & ~(0xFFull << 24)) | ((uint64_t)rd8(r) << 24);
    }
    }
}

static net_engine pick_engine(reader *r)
{
    uint8_t b = rd8(r);
    if ((b & 7) != 7)
        return g_eng;
    switch (rd8(r) & 7) {
    case 0:
        return 0;
    case 1:
        return rd64(r);
    case 2:
        return g_eng ^ (1ull << (rd8(r) & 63));
    case 3:
        return g_ndead ? g_dead[rd8(r) % g_ndead] : g_eng + (1ull << 32);
    case 4:
        return g_eng + (1ull << 32); /* the next generation of its index */
    case 5:
        return g_eng & 0xFFFFFFFFu; /* generation 0 */
    case 6:
        return ~0ull;
    default:
        return g_eng + 1; /* the next index */
    }
}

/* A local port of ours (listener or UDP, live or closing) or 1, where nothing
 * listens: traffic never goes to somebody else's socket. */
static uint16_t our_port(reader *r, unsigned kinds)
{
    int n = 0;
    for (int i = 0; i < g_nobj; i++)
        n += (kinds & KB(g_obj[i].kind)) && g_obj[i].state != S_STALE && g_obj[i].port;
    if (!n)
        return 1;
    int want = rd8(r) % n;
    for (int i = 0; i < g_nobj; i++)
        if ((kinds & KB(g_obj[i].kind)) && g_obj[i].state != S_STALE && g_obj[i].port && want-- == 0)
            return g_obj[i].port;
    return 1;
}

/* A destination port: ours, 1 or 0 (invalid). */
static uint16_t pick_port(reader *r, unsigned kinds)
{
    switch (rd8(r) & 7) {
    case 5:
        return our_port(r, K_ALL);
    case 6:
        return 1;
    case 7:
        return 0;
    default:
        return our_port(r, kinds);
    }
}

/* Keeps a random host string on this machine: a numeric address that is not
 * loopback or unspecified becomes 127.0.0.1. Names go to the stub resolver. */
static void keep_local(char *host)
{
    uint8_t a[16];
    if (inet_pton(AF_INET, host, a) == 1) {
        if (a[0] != 127 && (a[0] | a[1] | a[2] | a[3]) != 0)
            strcpy(host, "127.0.0.1");
    } else if (inet_pton(AF_INET6, host, a) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        int any = 1, lo = 1;
        for (int i = 0; i < 16; i++) {
            any &= a[i] == 0;
            lo &= a[i] == (i == 15);
        }
        if (!any && !lo && !(memcmp(a, mapped, 12) == 0 && a[12] == 127))
            strcpy(host, "::1");
    }
}

static void read_string(reader *r, char *buf, size_t cap)
{
    size_t len = rd8(r);
    if (len >= cap)
        len = cap - 1;
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)rd8(r);
    buf[len] = 0;
}

/* A host for listen/connect/udp: loopback in several spellings, the
 * unspecified addresses, NULL and "", names, junk, or a random string. */
static const char *pick_host(reader *r, char *buf)
{
    static const char *const table[] = {"127.0.0.1",
                                        "::1",
                                        "localhost",
                                        "0.0.0.0",
                                        "::",
                                        "::ffff:127.0.0.1",
                                        "ip6-localhost",
                                        "no.such.host.invalid",
                                        "256.0.0.1",
                                        "[::1]",
                                        "127.0.0.1 ",
                                        "::1%lo",
                                        "127.0.0.1:80",
                                        "-1",
                                        NULL,
                                        ""};
    uint8_t b = rd8(r);
    if (b < 0xE0)
        return table[b % (sizeof table / sizeof table[0])];
    if (b == 0xFF) { /* longer than any name */
        memset(buf, 'a', HOST_MAX - 1);
        buf[HOST_MAX - 1] = 0;
        return buf;
    }
    read_string(r, buf, HOST_MAX);
    keep_local(buf);
    return buf;
}

static const char *q(const char *s)
{
    static char bufs[4][80];
    static unsigned k;
    if (!s)
        return "NULL";
    char *b = bufs[k++ & 3];
    size_t j = 0;
    b[j++] = '"';
    for (size_t i = 0; s[i] && j < sizeof bufs[0] - 8; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
            b[j++] = (char)c;
        else
            j += (size_t)snprintf(b + j, 5, "\\x%02x", c);
    }
    if (strlen(s) > 40 && j >= sizeof bufs[0] - 8)
        j += (size_t)snprintf(b + j, 4, "...");
    b[j++] = '"';
    b[j] = 0;
    return b;
}

/* A payload length and pointer: zero, small, framing and datagram limits,
 * the default max_message, and huge lengths with NULL data; `small` keeps
 * lengths with data under 64 KiB. *data is NULL or g_payload, which holds
 * len bytes. */
static uint32_t pick_len(reader *r, const void **data, int small)
{
    uint8_t b = rd8(r);
    uint32_t len;
    *data = g_payload;
    switch (b & 15) {
    case 0:
    case 1:
    case 2:
        return rd8(r);
    case 3:
        return 0;
    case 4:
        *data = NULL;
        return 0;
    case 5:
        return 1;
    case 6:
        return rd16(r);
    case 7:
        return 65533 + (rd8(r) & 3); /* the u16 header's limit */
    case 8:
        return 65507 + (rd8(r) & 1); /* NET_UDP_MAX_PAYLOAD */
    case 9:
        len = (1u << 20) - 1 + (rd8(r) % 3); /* the default max_message */
        break;
    case 10:
        len = rd32_scaled(r) % PAYLOAD_MAX;
        break;
    case 11:
        *data = NULL;
        return rd32(r) | 1;
    case 12:
        *data = NULL;
        return UINT32_MAX;
    case 13:
        return 1200;
    default:
        return rd8(r) * 16u;
    }
    return small ? len & 0xFFFF : len;
}

/* Up to 8 leading payload bytes from the input: headers a framed peer reads. */
static void fill_payload(reader *r)
{
    uint8_t n = rd8(r) & 7;
    for (uint8_t i = 0; i < n; i++)
        g_payload[i] = rd8(r);
}

/* A config or stats struct as a caller of another header version would pass
 * it: in a heap buffer exactly as long as its size field claims (capped at
 * MAX_CFG), the bytes past the struct from the input. */
static void *cfg_blob(const void *s, size_t ssize, uint32_t claim, reader *r)
{
    size_t alloc = claim > MAX_CFG ? MAX_CFG : claim < 4 ? 4 : claim;
    uint8_t *b = malloc(alloc);
    if (!b)
        fail("out of memory (fuzzer)");
    memcpy(b, s, alloc < ssize ? alloc : ssize);
    for (size_t i = ssize; i < alloc; i++)
        b[i] = (uint8_t)(i < ssize + 16 ? rd8(r) : 0);
    memcpy(b, &claim, sizeof claim); /* the size field leads every struct */
    return b;
}

static uint32_t pick_size(reader *r, uint32_t real)
{
    switch (rd8(r) & 15) {
    case 0:
        return 0;
    case 1:
        return 4;
    case 2:
        return 8;
    case 3:
        return real - 1;
    case 4:
        return real + 1;
    case 5:
        return real + 8;
    case 6:
        return 4096;
    case 7:
        return 4097;
    case 8:
        return UINT32_MAX;
    case 9:
        return rd8(r);
    case 10:
        return rd32(r);
    default:
        return real;
    }
}

/* A TCP config: NULL, or the defaults with fields and size from the input;
 * *blob is what to free, *user the user data it carries, desc its text. */
static const net_tcp_config *pick_tcp_config(reader *r, void **blob, uint64_t *user, int *user_known, char *desc,
                                             size_t dn)
{
    uint8_t b = rd8(r);
    *blob = NULL;
    net_tcp_config c;
    net_tcp_config_init(&c);
    *user = 0;
    *user_known = 1;
    if ((b & 3) == 0) {
        snprintf(desc, dn, "NULL");
        return NULL;
    }
    if (b & 4)
        c.framing = (b & 8) ? rd32(r) : rd8(r) % 5;
    if (b & 16)
        c.flags = rd8(r);
    if (b & 32)
        c.max_message = rd32_scaled(r);
    if (b & 64)
        c.backlog = (int32_t)rd32_scaled(r); /* negative ones too */
    c.user = rd64(r);
    uint32_t size = (b & 128) ? pick_size(r, sizeof c) : sizeof c;
    /* A caller whose struct ends before user has none: the new handle's is 0.
     * A size that cuts the field leaves it to the library. */
    *user = size >= offsetof(net_tcp_config, user) + sizeof c.user ? c.user : 0;
    *user_known = size <= offsetof(net_tcp_config, user) || size >= offsetof(net_tcp_config, user) + sizeof c.user;
    snprintf(desc, dn, "tcp{size=%u framing=%u flags=0x%x max_message=%u backlog=%d user=0x%llx}", size, c.framing,
             c.flags, c.max_message, c.backlog, (unsigned long long)c.user);
    *blob = cfg_blob(&c, sizeof c, size, r);
    return *blob;
}

static const net_udp_config *pick_udp_config(reader *r, void **blob, uint64_t *user, int *user_known, char *desc,
                                             size_t dn)
{
    uint8_t b = rd8(r);
    *blob = NULL;
    net_udp_config c;
    net_udp_config_init(&c);
    *user = 0;
    *user_known = 1;
    if ((b & 3) == 0) {
        snprintf(desc, dn, "NULL");
        return NULL;
    }
    if (b & 4)
        c.flags = rd8(r);
    if (b & 8)
        c.max_datagram = rd32_scaled(r);
    if (b & 16)
        c.send_cap = rd32_scaled(r);
    if (b & 32)
        c.rcvbuf = (int32_t)rd32_scaled(r);
    if (b & 64)
        c.sndbuf = (int32_t)rd32_scaled(r);
    c.user = rd64(r);
    uint32_t size = (b & 128) ? pick_size(r, sizeof c) : sizeof c;
    *user = size >= offsetof(net_udp_config, user) + sizeof c.user ? c.user : 0;
    *user_known = size <= offsetof(net_udp_config, user) || size >= offsetof(net_udp_config, user) + sizeof c.user;
    snprintf(desc, dn, "udp{size=%u flags=0x%x max_datagram=%u send_cap=%u rcvbuf=%d sndbuf=%d user=0x%llx}", size,
             c.flags, c.max_datagram, c.send_cap, c.rcvbuf, c.sndbuf, (unsigned long long)c.user);
    *blob = cfg_blob(&c, sizeof c, size, r);
    return *blob;
}

/* Out pointers: mostly real, sometimes NULL. */
static int pick_null(reader *r)
{
    return (rd8(r) & 15) == 15;
}

/* ------------------------------------------------------------------------ */
/* events                                                                   */

static const char *evname(uint32_t t)
{
    static const char *const names[] = {"NONE",         "ACCEPT", "CONNECT", "DATA",     "CLOSE", "SEND_HIGHWATER",
                                        "SEND_DRAINED", "TIMER",  "USER",    "DATAGRAM", "ERROR", "EOF"};
    return t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* The object an event is about: known, not dead, of a kind in `kinds`. */
static obj *event_obj(const net_event *ev, unsigned kinds)
{
    obj *o = find(ev->handle);
    if (!o)
        fail("%s event for handle 0x%016llx, which this engine never gave out", evname(ev->type),
             (unsigned long long)ev->handle);
    if (o->state == S_STALE)
        fail("%s event for %s after its CLOSE (or after the timer was closed or fired once)", evname(ev->type),
             hname(ev->handle));
    if (!(kinds & KB(o->kind)))
        fail("%s event for %s, a handle of the wrong kind", evname(ev->type), hname(ev->handle));
    return o;
}

static void check_addr(const char *what, const net_addr *a)
{
    if (a->family != NET_AF_INET && a->family != NET_AF_INET6)
        fail("%s carries address family %u", what, a->family);
}

static volatile uint8_t g_sink;

/* Reads every payload byte, so ASan objects if the pointer is not valid. */
static void touch(const net_event *ev)
{
    if (ev->len && !ev->data)
        fail("%s event with len %u and a NULL data pointer", evname(ev->type), ev->len);
    const uint8_t *p = ev->data;
    uint8_t x = 0;
    for (uint32_t i = 0; i < ev->len; i++)
        x ^= p[i];
    g_sink ^= x;
}

static void on_events(const net_event *evs, int n)
{
    static uint32_t batch;
    batch++;
    for (int i = 0; i < n; i++) {
        const net_event *ev = &evs[i];
        if (ev->type == NET_EV_NONE || ev->type > LAST_EVENT)
            fail("event of unknown type %u", ev->type);
        if (ev->status != 0 && !is_code(ev->status))
            fail("%s event with status %d, not a NET_E_* code", evname(ev->type), ev->status);
        tr("    ev %s %s%s%s status=%s len=%u user=0x%llx", evname(ev->type),
           ev->type == NET_EV_USER ? "" : hname(ev->handle), ev->parent ? " parent=" : "",
           ev->parent ? hname(ev->parent) : "", rcname(ev->status), ev->len, (unsigned long long)ev->user);
        obj *o;
        switch (ev->type) {
        case NET_EV_ACCEPT: {
            obj *l = find(ev->parent);
            if (!l || l->kind != K_LISTENER || l->state == S_STALE)
                fail("ACCEPT names parent %s, not a live listener", hname(ev->parent));
            check_addr("ACCEPT", &ev->addr);
            o = add_obj(ev->handle, K_CONN, ev->user);
            tr("      (the new connection is %s)", hname(o->h));
            break;
        }
        case NET_EV_CONNECT:
            o = event_obj(ev, KB(K_CONN));
            if (!o->from_connect || o->got_connect)
                fail("CONNECT event for %s, which is not a net_connect handle waiting for one", hname(ev->handle));
            o->got_connect = 1;
            if (ev->status == 0)
                check_addr("CONNECT", &ev->addr);
            break;
        case NET_EV_DATA:
            o = event_obj(ev, KB(K_CONN));
            if (o->got_eof)
                fail("DATA event for %s after its EOF", hname(ev->handle));
            touch(ev);
            break;
        case NET_EV_EOF:
            o = event_obj(ev, KB(K_CONN));
            if (o->got_eof)
                fail("a second EOF event for %s", hname(ev->handle));
            o->got_eof = 1;
            break;
        case NET_EV_SEND_HIGHWATER:
        case NET_EV_SEND_DRAINED:
            event_obj(ev, KB(K_CONN) | KB(K_UDP));
            break;
        case NET_EV_CLOSE:
            o = event_obj(ev, KB(K_CONN) | KB(K_LISTENER) | KB(K_UDP));
            o->state = S_STALE;
            break;
        case NET_EV_TIMER:
            o = event_obj(ev, KB(K_TIMER));
            /* net.h: a repeating timer does not pile up ticks. */
            if (o->timer_batch == batch)
                fail("two TIMER events for %s in one poll", hname(ev->handle));
            o->timer_batch = batch;
            if (o->oneshot)
                o->state = S_STALE;
            break;
        case NET_EV_USER:
            if (g_nseen >= g_nposted || ev->user != g_posted[g_nseen])
                fail("USER event 0x%llx: expected %s", (unsigned long long)ev->user,
                     g_nseen < g_nposted ? "the next posted value in order" : "none (nothing else was posted)");
            g_nseen++;
            break;
        case NET_EV_DATAGRAM:
            event_obj(ev, KB(K_UDP));
            check_addr("DATAGRAM", &ev->addr);
            touch(ev);
            break;
        case NET_EV_ERROR:
            event_obj(ev, KB(K_UDP));
            if (ev->status == 0)
                fail("ERROR event for %s with status 0", hname(ev->handle));
            break;
        }
    }
    /* Every payload of the batch must still be readable now. */
    for (int i = 0; i < n; i++)
        if (evs[i].type == NET_EV_DATA || evs[i].type == NET_EV_DATAGRAM)
            touch(&evs[i]);
}

/* ------------------------------------------------------------------------ */
/* engines                                                                  */

static const char *backend_arg(uint32_t b)
{
    return b == NET_BACKEND_EPOLL      ? "epoll"
           : b == NET_BACKEND_IO_URING ? "io_uring"
           : b == NET_BACKEND_AUTO     ? "auto"
                                       : "?";
}

/* A config from the input (see the header comment); *claim its size field. */
static void read_engine_config(reader *r, net_config *c, uint32_t *claim, int *null_cfg)
{
    uint8_t b = rd8(r);
    net_config_init(c);
    *claim = sizeof *c;
    *null_cfg = (b >> 6) == 3;
    switch (b & 7) {
    case 4:
    case 5:
        c->backend = NET_BACKEND_IO_URING;
        break;
    case 6:
        c->backend = NET_BACKEND_AUTO;
        break;
    case 7:
        c->backend = rd8(r);
        break;
    default:
        c->backend = NET_BACKEND_EPOLL;
    }
    switch ((b >> 3) & 3) {
    case 3: {
        uint8_t v = rd8(r);
        c->io_threads = v <= 64 ? v % 5u : v; /* up to 4 threads, or over the limit */
        break;
    }
    default:
        c->io_threads = (b >> 3) & 3;
    }
    if (b & 32) {
        uint16_t mask = rd16(r);
        uint32_t *f[] = {&c->max_connections, &c->max_message,      &c->send_cap,
                         &c->send_highwater,  &c->send_lowwater,    &c->recv_limit,
                         &c->idle_timeout_ms, &c->close_timeout_ms, &c->event_batch};
        for (unsigned i = 0; i < sizeof f / sizeof f[0]; i++)
            if (mask & (1u << i))
                *f[i] = rd32_scaled(r);
        if (mask & 0x8000)
            *claim = pick_size(r, sizeof *c);
    }
}

static void describe_config(const net_config *c, uint32_t claim, char *out, size_t n)
{
    snprintf(out, n,
             "cfg{size=%u backend=%u io_threads=%u max_connections=%u max_message=%u send_cap=%u highwater=%u "
             "lowwater=%u recv_limit=%u idle_timeout_ms=%u close_timeout_ms=%u event_batch=%u}",
             claim, c->backend, c->io_threads, c->max_connections, c->max_message, c->send_cap, c->send_highwater,
             c->send_lowwater, c->recv_limit, c->idle_timeout_ms, c->close_timeout_ms, c->event_batch);
}

/* Creates the input's engine; one it cannot have becomes a default epoll one. */
static void engine_open(reader *r)
{
    net_config c;
    uint32_t claim;
    int null_cfg;
    read_engine_config(r, &c, &claim, &null_cfg);
    char desc[400];
    describe_config(&c, claim, desc, sizeof desc);
    void *blob = null_cfg ? NULL : cfg_blob(&c, sizeof c, claim, r);
    net_engine e = 0;
    int rc = net_engine_create(blob, &e);
    tr("net_engine_create(%s, &e) = %s", null_cfg ? "NULL" : desc, rcname(rc));
    free(blob);
    want_status("net_engine_create", rc);
    if (rc == 0 && !e)
        fail("net_engine_create succeeded with engine handle 0");
    g_eng_want = null_cfg ? NET_BACKEND_AUTO : c.backend;
    g_eng_threads = null_cfg ? 0 : c.io_threads;
    if (rc != 0) {
        uint32_t threads = c.io_threads > 2 ? 0 : c.io_threads;
        net_config_init(&c);
        c.backend = NET_BACKEND_EPOLL;
        c.io_threads = threads;
        g_eng_threads = threads;
        g_eng_want = NET_BACKEND_EPOLL;
        rc = net_engine_create(&c, &e);
        tr("net_engine_create(default epoll config, &e) = %s", rcname(rc));
        if (rc != 0)
            fail("net_engine_create of a default epoll engine returned %s", rcname(rc));
    }
    g_eng = e;
    g_nposted = g_nseen = 0;
    g_armed = 0;
    tr("  engine E = 0x%016llx, backend %s", (unsigned long long)e, net_backend_name(e));
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Destroys the current engine: every handle it gave is stale from now on. */
static void engine_close(void)
{
    int rc = net_engine_destroy(g_eng);
    tr("net_engine_destroy(E) = %s", rcname(rc));
    if (rc != 0)
        fail("net_engine_destroy of the live engine returned %s", rcname(rc));
    for (int i = 0; i < g_nobj; i++)
        g_obj[i].state = S_STALE;
    /* Every handle and the engine itself are dead now. */
    for (int i = 0; i < g_nobj; i++) {
        uint64_t u;
        rc = net_get_user(g_obj[i].h, &u);
        if (rc != NET_E_BADHANDLE)
            fail("net_get_user(%s) after the engine was destroyed returned %s", hname(g_obj[i].h), rcname(rc));
    }
    if ((rc = net_poll(g_eng, g_ev, 1, 0)) != NET_E_BADHANDLE)
        fail("net_poll on a destroyed engine returned %s", rcname(rc));
    if ((rc = net_engine_destroy(g_eng)) != NET_E_BADHANDLE)
        fail("a second net_engine_destroy returned %s", rcname(rc));
    if (g_ndead < (int)(sizeof g_dead / sizeof g_dead[0]))
        g_dead[g_ndead++] = g_eng;
    g_eng = 0;
}

/* ------------------------------------------------------------------------ */
/* operations                                                               */

static void local_port_of(obj *o)
{
    net_addr a;
    if (net_local_addr(o->h, &a) == 0)
        o->port = a.port;
}

static void op_listen(reader *r)
{
    net_engine e = pick_engine(r);
    char hb[HOST_MAX];
    const char *host = pick_host(r, hb);
    uint16_t port = (rd8(r) & 7) == 7 ? our_port(r, KB(K_LISTENER) | KB(K_UDP)) : 0;
    void *blob;
    uint64_t user;
    int user_known;
    char desc[200];
    const net_tcp_config *cfg = pick_tcp_config(r, &blob, &user, &user_known, desc, sizeof desc);
    int null_out = pick_null(r);
    if (!room()) {
        free(blob);
        return;
    }
    net_handle h = 0;
    int rc = net_listen(e, host, port, cfg, null_out ? NULL : &h);
    free(blob);
    want_engine("net_listen", rc, e);
    if (rc == 0) {
        if (null_out)
            fail("net_listen with a NULL out pointer succeeded");
        obj *o = add_obj(h, K_LISTENER, user);
        o->user_known = (uint8_t)user_known;
        local_port_of(o);
    }
    tr("net_listen(%s, %s, %u, %s, %s) = %s -> %s", ename(e), q(host), port, desc, null_out ? "NULL" : "&h", rcname(rc),
       rc == 0 ? hname(h) : "-");
}

static void op_connect(reader *r)
{
    net_engine e = pick_engine(r);
    char hb[HOST_MAX];
    const char *host = pick_host(r, hb);
    uint16_t port = pick_port(r, KB(K_LISTENER));
    void *blob;
    uint64_t user;
    int user_known;
    char desc[200];
    const net_tcp_config *cfg = pick_tcp_config(r, &blob, &user, &user_known, desc, sizeof desc);
    int null_out = pick_null(r);
    if (!room()) {
        free(blob);
        return;
    }
    net_handle h = 0;
    int rc = net_connect(e, host, port, cfg, null_out ? NULL : &h);
    free(blob);
    want_engine("net_connect", rc, e);
    if (rc == 0) {
        if (null_out)
            fail("net_connect with a NULL out pointer succeeded");
        obj *o = add_obj(h, K_CONN, user);
        o->user_known = (uint8_t)user_known;
        o->from_connect = 1;
    }
    tr("net_connect(%s, %s, %u, %s, %s) = %s -> %s", ename(e), q(host), port, desc, null_out ? "NULL" : "&h",
       rcname(rc), rc == 0 ? hname(h) : "-");
}

static void op_udp_open(reader *r)
{
    net_engine e = pick_engine(r);
    char hb[HOST_MAX];
    const char *host = pick_host(r, hb);
    uint16_t port = (rd8(r) & 7) == 7 ? our_port(r, KB(K_UDP)) : 0;
    void *blob;
    uint64_t user;
    int user_known;
    char desc[200];
    const net_udp_config *cfg = pick_udp_config(r, &blob, &user, &user_known, desc, sizeof desc);
    int null_out = pick_null(r);
    if (!room()) {
        free(blob);
        return;
    }
    net_handle h = 0;
    int rc = net_udp_open(e, host, port, cfg, null_out ? NULL : &h);
    free(blob);
    want_engine("net_udp_open", rc, e);
    if (rc == 0) {
        if (null_out)
            fail("net_udp_open with a NULL out pointer succeeded");
        obj *o = add_obj(h, K_UDP, user);
        o->user_known = (uint8_t)user_known;
        local_port_of(o);
    }
    tr("net_udp_open(%s, %s, %u, %s, %s) = %s -> %s", ename(e), q(host), port, desc, null_out ? "NULL" : "&h",
       rcname(rc), rc == 0 ? hname(h) : "-");
}

static int host_resolves(const char *host)
{
    uint8_t a[16];
    return host && *host &&
           (inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1 || strcmp(host, "localhost") == 0 ||
            strcmp(host, "ip6-localhost") == 0);
}

static void op_udp_connect(reader *r)
{
    net_handle h = pick_handle(r, KB(K_UDP));
    char hb[HOST_MAX];
    const char *host = pick_host(r, hb);
    uint16_t port = pick_port(r, KB(K_UDP));
    int rc = net_udp_connect(h, host, port);
    obj *o = find(h);
    if (o && rc != NET_E_BADHANDLE)
        o->udp_connected = 1; /* maybe: the model stops checking NET_E_NOTCONN on it */
    tr("net_udp_connect(%s, %s, %u) = %s", hname(h), q(host), port, rcname(rc));
    want_handle("net_udp_connect", rc, classify(h, KB(K_UDP), KB(K_CONN) | KB(K_LISTENER) | KB(K_TIMER)),
                !host_resolves(host) || port == 0);
}

static void op_send(reader *r)
{
    net_handle h = pick_handle(r, KB(K_CONN) | KB(K_UDP));
    const void *data;
    uint32_t len = pick_len(r, &data, 0);
    fill_payload(r);
    int rc = net_send(h, data, len);
    tr("net_send(%s, %s, %u) = %s", hname(h), data ? "buf" : "NULL", len, rcname(rc));
    want_handle("net_send", rc, classify(h, KB(K_CONN) | KB(K_UDP), KB(K_LISTENER) | KB(K_TIMER)), !data && len);
    want_closed("net_send", rc, h, KB(K_CONN) | KB(K_UDP), !data && len);
    want_notconn("net_send", rc, h, !data && len);
    want_wouldblock_sane("net_send", rc, h, len);
    want_not_queued("net_send", rc, h, len);
}

static void op_sendv(reader *r)
{
    net_handle h = pick_handle(r, KB(K_CONN) | KB(K_UDP));
    uint8_t b = rd8(r);
    uint32_t count;
    net_buf *bufs = NULL;
    int bad = 0;
    uint64_t total = 0;
    switch (b & 7) {
    case 5:
        count = 0;
        break;
    case 6:
        count = rd32(r) | 1; /* huge count, NULL array */
        bad = 1;
        break;
    default:
        count = (b & 7) == 4 ? 0 : 1 + rd8(r) % 80; /* past the 64-entry gather limit too */
        bufs = malloc((count ? count : 1) * sizeof *bufs);
        if (!bufs)
            fail("out of memory (fuzzer)");
        for (uint32_t i = 0; i < count; i++) {
            const void *d;
            uint32_t len = pick_len(r, &d, 1);
            if ((rd8(r) & 31) == 31) { /* a NULL entry with the largest length */
                d = NULL;
                len = UINT32_MAX;
            }
            bufs[i].data = d;
            bufs[i].len = len;
            bad |= !d && len;
            total += len;
        }
    }
    fill_payload(r);
    int rc = net_sendv(h, bufs, count);
    tr("net_sendv(%s, %s, %u) = %s  (total %llu bytes%s)", hname(h), bufs ? "bufs" : "NULL", count, rcname(rc),
       (unsigned long long)total, bad ? ", with a NULL entry" : "");
    free(bufs);
    want_handle("net_sendv", rc, classify(h, KB(K_CONN) | KB(K_UDP), KB(K_LISTENER) | KB(K_TIMER)), bad);
    want_closed("net_sendv", rc, h, KB(K_CONN) | KB(K_UDP), bad);
    want_notconn("net_sendv", rc, h, bad);
    want_wouldblock_sane("net_sendv", rc, h, total);
    want_not_queued("net_sendv", rc, h, total);
}

static void op_broadcast(reader *r)
{
    uint8_t b = rd8(r);
    uint32_t count;
    net_handle *conns = NULL;
    int bad = 0;
    if ((b & 7) == 6) {
        count = 0;
    } else if ((b & 7) == 7) {
        count = rd32(r) | 1;
        bad = 1;
    } else {
        count = rd8(r) % 17;
        conns = malloc((count ? count : 1) * sizeof *conns);
        if (!conns)
            fail("out of memory (fuzzer)");
        for (uint32_t i = 0; i < count; i++)
            conns[i] = pick_handle(r, KB(K_CONN));
    }
    const void *data;
    uint32_t len = pick_len(r, &data, 1);
    bad |= !data && len;
    fill_payload(r);
    int *results = NULL;
    if ((b & 8) && conns) {
        results = malloc((count ? count : 1) * sizeof *results);
        if (!results)
            fail("out of memory (fuzzer)");
        for (uint32_t i = 0; i < count; i++)
            results[i] = 12345; /* must be overwritten */
    }
    int rc = net_broadcast(conns, count, data, len, results);
    tr("net_broadcast(%s, %u, %s, %u, %s) = %s", conns ? "conns" : "NULL", count, data ? "buf" : "NULL", len,
       results ? "results" : "NULL", rc >= 0 ? "count" : rcname(rc));
    want_count("net_broadcast", rc);
    if (rc >= 0 && (uint32_t)rc > count)
        fail("net_broadcast returned %d for %u connections", rc, count);
    if (rc < 0 && !bad && rc != NET_E_NOMEM)
        fail("net_broadcast failed as a whole with %s on valid arguments", rcname(rc));
    if (rc >= 0 && conns) {
        int ok = 0;
        for (uint32_t i = 0; i < count; i++) {
            int cls = classify(conns[i], KB(K_CONN), KB(K_LISTENER) | KB(K_TIMER));
            if (results) {
                tr("    to %s: %s", hname(conns[i]), rcname(results[i]));
                if (results[i] == 12345)
                    fail("net_broadcast left results[%u] unwritten", i);
                want_handle("net_broadcast (one result)", results[i], cls, 0);
                want_closed("net_broadcast (one result)", results[i], conns[i], KB(K_CONN), 0);
                want_not_queued("net_broadcast", results[i], conns[i], len);
                ok += results[i] == 0;
            } else if (cls == H_BAD && rc == (int)count && count > 0) {
                fail("net_broadcast queued to all %u connections, %s among them", count, hname(conns[i]));
            }
        }
        if (results && ok != rc)
            fail("net_broadcast returned %d but %d results are 0", rc, ok);
    }
    free(conns);
    free(results);
}

static void pick_addr(reader *r, net_addr *a, const net_addr **to, char *desc, size_t dn)
{
    memset(a, 0, sizeof *a);
    *to = a;
    uint8_t b = rd8(r);
    switch (b & 7) {
    case 7:
        *to = NULL;
        snprintf(desc, dn, "NULL");
        return;
    case 0:
    case 1:
        a->family = NET_AF_INET;
        a->ip[0] = 127;
        a->ip[3] = 1;
        break;
    case 3:
        a->family = NET_AF_INET6;
        a->ip[15] = 1;
        break;
    case 4: /* v4-mapped 127.0.0.1 */
        a->family = NET_AF_INET6;
        a->ip[10] = a->ip[11] = 0xff;
        a->ip[12] = 127;
        a->ip[15] = 1;
        break;
    case 5:
        a->family = NET_AF_INET; /* 0.0.0.0: this host */
        break;
    case 6: /* a family net.h does not know, random address bytes */
        a->family = rd16(r);
        if (a->family == NET_AF_INET || a->family == NET_AF_INET6)
            a->family = 5;
        for (int i = 0; i < 16; i++)
            a->ip[i] = rd8(r);
        break;
    default:
        a->family = NET_AF_UNSPEC;
    }
    a->port = pick_port(r, KB(K_UDP));
    if (b & 8)
        a->scope_id = rd32(r);
    char s[64] = "?";
    if (net_addr_format(a, s, sizeof s) < 0)
        snprintf(s, sizeof s, "family %u", a->family);
    snprintf(desc, dn, "{%s scope %u}", s, a->scope_id);
}

static void op_sendto(reader *r)
{
    net_handle h = pick_handle(r, KB(K_UDP));
    net_addr a;
    const net_addr *to;
    char desc[96];
    pick_addr(r, &a, &to, desc, sizeof desc);
    const void *data;
    uint32_t len = pick_len(r, &data, 0);
    if (len > 70000 && data)
        len = 65508;
    fill_payload(r);
    int rc = net_sendto(h, to, data, len);
    tr("net_sendto(%s, %s, %s, %u) = %s", hname(h), desc, data ? "buf" : "NULL", len, rcname(rc));
    int bad = (!data && len) || (to && to->family != NET_AF_INET && to->family != NET_AF_INET6);
    want_handle("net_sendto", rc, classify(h, KB(K_UDP), KB(K_CONN) | KB(K_LISTENER) | KB(K_TIMER)), bad);
    want_closed("net_sendto", rc, h, KB(K_UDP), bad);
    if (!to)
        want_notconn("net_sendto", rc, h, bad);
    want_wouldblock_sane("net_sendto", rc, h, len);
    want_not_queued("net_sendto", rc, h, len);
}

static void op_close(reader *r)
{
    net_handle h = pick_handle(r, K_ALL);
    int rc = net_close(h);
    tr("net_close(%s) = %s", hname(h), rcname(rc));
    want_handle("net_close", rc, classify(h, K_ALL, 0), 0);
    obj *o = find(h);
    if (o && o->state == S_CLOSING && rc != 0)
        fail("a second net_close(%s) returned %s: net.h says 0", hname(h), rcname(rc));
    if (rc == 0 && o && o->state != S_STALE)
        o->state = o->kind == K_TIMER ? S_STALE : S_CLOSING;
}

static void op_abort(reader *r)
{
    net_handle h = pick_handle(r, KB(K_CONN) | KB(K_UDP));
    int rc = net_abort(h);
    tr("net_abort(%s) = %s", hname(h), rcname(rc));
    want_handle("net_abort", rc, classify(h, KB(K_CONN) | KB(K_UDP), KB(K_TIMER)), 0);
    obj *o = find(h);
    if (o && o->state == S_CLOSING && o->kind != K_LISTENER && rc != 0)
        fail("net_abort(%s) after net_close/net_abort returned %s: net.h says 0", hname(h), rcname(rc));
    if (rc == 0 && o && o->state == S_LIVE && o->kind != K_TIMER)
        o->state = S_CLOSING;
}

static void op_shutdown(reader *r)
{
    net_handle h = pick_handle(r, KB(K_CONN));
    int rc = net_shutdown(h);
    tr("net_shutdown(%s) = %s", hname(h), rcname(rc));
    want_handle("net_shutdown", rc, classify(h, KB(K_CONN), KB(K_TIMER)), 0);
    want_closed("net_shutdown", rc, h, KB(K_CONN), 0);
    obj *o = find(h);
    if (rc == 0 && o && o->kind == K_CONN)
        o->wr_shut = 1;
}

static int pick_option(reader *r)
{
    uint8_t b = rd8(r);
    return b < 0xF0 ? b % 20 : (int)rd32(r);
}

/* The kinds on which `opt` is a socket-level option (it reaches the socket). */
static unsigned socket_option_kinds(int opt)
{
    switch (opt) {
    case NET_OPT_NODELAY:
    case NET_OPT_KEEPALIVE:
    case NET_OPT_LINGER:
        return KB(K_CONN) | KB(K_LISTENER);
    case NET_OPT_SNDBUF:
    case NET_OPT_RCVBUF:
    case NET_OPT_REUSEADDR:
        return KB(K_CONN) | KB(K_LISTENER) | KB(K_UDP);
    case NET_OPT_BROADCAST:
        return KB(K_UDP);
    default:
        return 0;
    }
}

static int64_t pick_value(reader *r)
{
    switch (rd8(r) & 15) {
    case 0:
        return 0;
    case 1:
        return 1;
    case 2:
        return -1;
    case 3:
        return rd8(r);
    case 4:
        return rd16(r);
    case 5:
        return rd32_scaled(r);
    case 6:
        return INT64_MIN;
    case 7:
        return INT64_MAX;
    case 8:
        return (int64_t)UINT32_MAX + 1;
    case 9:
        return INT32_MIN;
    case 10:
        return INT32_MAX;
    case 11:
        return (int64_t)rd64(r);
    default:
        return rd8(r) * 1024;
    }
}

static void op_set_option(reader *r)
{
    net_handle h = pick_handle(r, KB(K_CONN) | KB(K_LISTENER) | KB(K_UDP));
    int opt = pick_option(r);
    int64_t v = pick_value(r);
    int rc = net_set_option(h, opt, v);
    tr("net_set_option(%s, %d, %lld) = %s", hname(h), opt, (long long)v, rcname(rc));
    int bad = opt < NET_OPT_NODELAY || opt > NET_OPT_DROPPED || v < -1 || v > INT32_MAX;
    want_handle("net_set_option", rc, classify(h, KB(K_CONN) | KB(K_LISTENER) | KB(K_UDP), KB(K_TIMER)), bad);
    want_closed("net_set_option", rc, h, socket_option_kinds(opt), 1);
}

static void op_get_option(reader *r)
{
    net_handle h = pick_handle(r, KB(K_CONN) | KB(K_LISTENER) | KB(K_UDP));
    int opt = pick_option(r);
    int null_out = pick_null(r);
    int64_t v = 0;
    int rc = net_get_option(h, opt, null_out ? NULL : &v);
    tr("net_get_option(%s, %d, %s) = %s value %lld", hname(h), opt, null_out ? "NULL" : "&v", rcname(rc), (long long)v);
    int bad = null_out || opt < NET_OPT_NODELAY || opt > NET_OPT_DROPPED;
    want_handle("net_get_option", rc, classify(h, KB(K_CONN) | KB(K_LISTENER) | KB(K_UDP), KB(K_TIMER)), bad);
    want_closed("net_get_option", rc, h, socket_option_kinds(opt), bad);
    if (rc == 0 && null_out)
        fail("net_get_option with a NULL value pointer succeeded");
}

static void op_user(reader *r)
{
    net_handle h = pick_handle(r, K_ALL);
    obj *o = find(h);
    if (rd8(r) & 1) {
        uint64_t v = rd64(r);
        int rc = net_set_user(h, v);
        tr("net_set_user(%s, 0x%llx) = %s", hname(h), (unsigned long long)v, rcname(rc));
        want_handle("net_set_user", rc, classify(h, K_ALL, 0), 0);
        if (rc == 0 && o) {
            o->user = v;
            o->user_known = 1;
        }
    } else {
        int null_out = pick_null(r);
        uint64_t v = 0;
        int rc = net_get_user(h, null_out ? NULL : &v);
        tr("net_get_user(%s, %s) = %s value 0x%llx", hname(h), null_out ? "NULL" : "&v", rcname(rc),
           (unsigned long long)v);
        want_handle("net_get_user", rc, classify(h, K_ALL, 0), null_out);
        if (o && o->state == S_CLOSING && !null_out && rc != 0)
            fail("net_get_user(%s) after net_close returned %s: net.h says user data stays readable", hname(h),
                 rcname(rc));
        if (rc == 0 && (null_out || !o || (o->user_known && v != o->user)))
            fail("net_get_user(%s) answered 0x%llx, but the user data is 0x%llx", hname(h), (unsigned long long)v,
                 (unsigned long long)(o ? o->user : 0));
    }
}

static void op_query(reader *r)
{
    uint8_t which = rd8(r) % 3;
    net_handle h = pick_handle(r, which == 0 ? KB(K_CONN) | KB(K_LISTENER) | KB(K_UDP) : KB(K_CONN) | KB(K_UDP));
    int null_out = pick_null(r);
    obj *o = find(h);
    net_addr a;
    memset(&a, 0, sizeof a);
    char s[64] = "-";
    int rc;
    if (which == 0) {
        rc = net_local_addr(h, null_out ? NULL : &a);
        if (rc == 0)
            net_addr_format(&a, s, sizeof s);
        tr("net_local_addr(%s, %s) = %s %s", hname(h), null_out ? "NULL" : "&a", rcname(rc), s);
        want_handle("net_local_addr", rc, classify(h, KB(K_CONN) | KB(K_LISTENER) | KB(K_UDP), KB(K_TIMER)), null_out);
        want_closed("net_local_addr", rc, h, KB(K_CONN) | KB(K_LISTENER) | KB(K_UDP), null_out);
        if (rc == 0) {
            check_addr("net_local_addr", &a);
            /* A closing listener's descriptor may already name another
             * socket: its address must not come back as the listener's. */
            if (o && o->port && o->kind != K_CONN && a.port != o->port)
                fail("net_local_addr(%s) answered port %u, but the socket is bound to port %u", hname(h), a.port,
                     o->port);
        }
    } else if (which == 1) {
        rc = net_peer_addr(h, null_out ? NULL : &a);
        if (rc == 0)
            net_addr_format(&a, s, sizeof s);
        tr("net_peer_addr(%s, %s) = %s %s", hname(h), null_out ? "NULL" : "&a", rcname(rc), s);
        want_handle("net_peer_addr", rc, classify(h, KB(K_CONN) | KB(K_UDP), KB(K_TIMER)), null_out);
        want_closed("net_peer_addr", rc, h, KB(K_CONN) | KB(K_UDP), null_out);
        if (rc == 0)
            check_addr("net_peer_addr", &a);
    } else {
        uint64_t bytes = 0;
        rc = net_send_queued(h, null_out ? NULL : &bytes);
        tr("net_send_queued(%s, %s) = %s bytes %llu", hname(h), null_out ? "NULL" : "&n", rcname(rc),
           (unsigned long long)bytes);
        want_handle("net_send_queued", rc, classify(h, KB(K_CONN) | KB(K_UDP), KB(K_TIMER)), null_out);
    }
    if (rc == 0 && null_out)
        fail("a query with a NULL out pointer succeeded");
}

static uint32_t pick_ms(reader *r)
{
    switch (rd8(r) & 7) {
    case 0:
    case 1:
        return 0;
    case 2:
    case 3:
        return 1;
    case 4:
        return 2 + rd8(r) % 4;
    case 5:
        return UINT32_MAX;
    case 6:
        return rd32(r);
    default:
        return 0x7FFFFFFF;
    }
}

static void op_timer(reader *r)
{
    net_engine e = pick_engine(r);
    uint32_t delay = pick_ms(r), repeat = pick_ms(r);
    uint64_t user = rd64(r);
    int null_out = pick_null(r);
    if (!room())
        return;
    net_handle h = 0;
    int rc = net_timer_start(e, delay, repeat, user, null_out ? NULL : &h);
    want_engine("net_timer_start", rc, e);
    if (rc == 0) {
        if (null_out)
            fail("net_timer_start with a NULL out pointer succeeded");
        obj *o = add_obj(h, K_TIMER, user);
        o->oneshot = repeat == 0;
    }
    tr("net_timer_start(%s, %u, %u, 0x%llx, %s) = %s -> %s", ename(e), delay, repeat, (unsigned long long)user,
       null_out ? "NULL" : "&h", rcname(rc), rc == 0 ? hname(h) : "-");
}

static void op_post(reader *r)
{
    net_engine e = pick_engine(r);
    uint64_t v = rd64(r);
    if (g_nposted == MAX_POSTS)
        return;
    int rc = net_post(e, v);
    tr("net_post(%s, 0x%llx) = %s", ename(e), (unsigned long long)v, rcname(rc));
    want_engine("net_post", rc, e);
    if (rc > 0)
        fail("net_post returned %d", rc);
    if (rc == 0) {
        g_posted[g_nposted++] = v;
        g_armed = 1;
    }
}

static void op_wakeup(reader *r)
{
    net_engine e = pick_engine(r);
    int rc = net_wakeup(e);
    tr("net_wakeup(%s) = %s", ename(e), rcname(rc));
    want_engine("net_wakeup", rc, e);
    if (rc > 0)
        fail("net_wakeup returned %d", rc);
    if (rc == 0)
        g_armed = 1;
}

static void op_poll(reader *r)
{
    net_engine e = pick_engine(r);
    uint8_t b = rd8(r);
    int max;
    switch (b & 15) {
    case 8:
        max = 0;
        break;
    case 9:
        max = -1;
        break;
    case 10:
        max = INT_MIN;
        break;
    case 11:
        max = 1;
        break;
    case 12:
        max = 2;
        break;
    case 13:
        /* The largest max this caller can honestly pass: g_ev holds
         * MAX_POLL events. (net_poll itself needs nothing in proportion to
         * max; tests/c/test_api_rules.c polls with INT_MAX.) */
        max = MAX_POLL;
        break;
    case 14:
        max = 1 + rd16(r) % MAX_POLL;
        break;
    default:
        max = 256;
    }
    int null_events = (b & 0x70) == 0x70;
    int timeout;
    switch ((b >> 7) | (rd8(r) & 3) << 1) {
    case 0:
    case 1:
    case 2:
        timeout = 0;
        break;
    case 3:
        timeout = 1;
        break;
    case 4:
        timeout = 2;
        break;
    case 5: /* forever: only where a pending wakeup or post ends the wait */
        timeout = g_armed && e == g_eng && max > 0 && !null_events ? -1 : 0;
        break;
    case 6:
        timeout = g_armed && e == g_eng && max > 0 && !null_events ? INT_MAX : 2;
        break;
    default:
        timeout = g_armed && e == g_eng && max > 0 && !null_events ? -5 : 1;
    }
    int rc = net_poll(e, null_events ? NULL : g_ev, max, timeout);
    if (rc >= 0)
        tr("net_poll(%s, %s, %d, %d) = %d events", ename(e), null_events ? "NULL" : "ev", max, timeout, rc);
    else
        tr("net_poll(%s, %s, %d, %d) = %s", ename(e), null_events ? "NULL" : "ev", max, timeout, rcname(rc));
    want_engine("net_poll", rc, e);
    if (e == g_eng) {
        if ((null_events || max <= 0) && rc != NET_E_INVAL)
            fail("net_poll(events %s, max %d) returned %s, not NET_E_INVAL", null_events ? "NULL" : "ev", max,
                 rcname(rc));
        if (rc > 0 && rc > max)
            fail("net_poll returned %d events for max %d", rc, max);
        if (rc > 0)
            on_events(g_ev, rc);
        if (rc >= 0)
            g_armed = 0;
    }
}

/* A random address, formatted into a buffer exactly `size` long, then
 * parsed back. */
static void op_addr_format(reader *r)
{
    net_addr a;
    memset(&a, 0, sizeof a);
    uint8_t b = rd8(r);
    a.family = (b & 3) == 0 ? NET_AF_INET : (b & 3) == 1 ? NET_AF_INET6 : (b & 3) == 2 ? NET_AF_UNSPEC : rd16(r);
    a.port = rd16(r);
    a.scope_id = (b & 4) ? rd32(r) : 0;
    for (int i = 0; i < 16; i++)
        a.ip[i] = (b & 8) ? rd8(r) : 0;
    if ((b & 0x30) == 0x10) /* runs of zero groups: the "::" cases */
        for (int i = 0; i < 16; i++)
            if (rd8(r) & 1)
                a.ip[i] = 0;
    size_t size;
    switch (b >> 6) {
    case 0:
        size = 64;
        break;
    case 1:
        size = rd8(r) % 56;
        break;
    case 2:
        size = 0;
        break;
    default:
        size = 1 + rd8(r);
    }
    int null_addr = pick_null(r), null_buf = pick_null(r);
    char *buf = null_buf ? NULL : malloc(size ? size : 1);
    int rc = net_addr_format(null_addr ? NULL : &a, buf, size);
    tr("net_addr_format(%s{family %u port %u scope %u}, %s, %zu) = %d %s", null_addr ? "NULL" : "", a.family, a.port,
       a.scope_id, buf ? "buf" : "NULL", size, rc, rc >= 0 ? q(buf) : "");
    if (rc < 0 && rc != NET_E_INVAL)
        fail("net_addr_format returned %s: net.h promises the length or NET_E_INVAL", rcname(rc));
    if (rc >= 0) {
        if (null_addr || !buf || size == 0)
            fail("net_addr_format succeeded with a NULL pointer or size 0");
        if (a.family != NET_AF_INET && a.family != NET_AF_INET6)
            fail("net_addr_format formatted family %u", a.family);
        if ((size_t)rc >= size || buf[rc] != 0 || strlen(buf) != (size_t)rc)
            fail("net_addr_format returned %d but wrote %zu characters into %zu bytes", rc, strnlen(buf, size), size);
        /* Parse it back: "1.2.3.4:80" or "[::1]:80". */
        char host[64];
        char *colon = strrchr(buf, ':');
        if (!colon)
            fail("net_addr_format wrote %s without a port", q(buf));
        const char *start = buf;
        size_t hl = (size_t)(colon - buf);
        if (a.family == NET_AF_INET6) {
            if (buf[0] != '[' || colon[-1] != ']')
                fail("net_addr_format wrote IPv6 %s without brackets", q(buf));
            start++;
            hl -= 2;
        }
        memcpy(host, start, hl);
        host[hl] = 0;
        net_addr back;
        int prc = net_addr_parse(host, (uint16_t)strtoul(colon + 1, NULL, 10), &back);
        if (prc != 0 || back.family != a.family || back.port != a.port ||
            memcmp(back.ip, a.ip, a.family == NET_AF_INET ? 4 : 16) != 0 ||
            back.scope_id != (a.family == NET_AF_INET6 ? a.scope_id : 0))
            fail("net_addr_parse(%s) of net_addr_format's %s gave %s, family %u, port %u, scope %u: not the same "
                 "address",
                 q(host), q(buf), rcname(prc), back.family, back.port, back.scope_id);
    }
    free(buf);
}

static void op_addr_parse(reader *r)
{
    char hb[HOST_MAX];
    const char *host;
    uint8_t b = rd8(r);
    if (b & 1) {
        read_string(r, hb, sizeof hb);
        host = hb;
    } else if (b & 2) {
        host = pick_host(r, hb);
    } else {
        host = (b & 4) ? NULL : "";
    }
    uint16_t port = rd16(r);
    int null_out = pick_null(r);
    net_addr a;
    memset(&a, 0xA5, sizeof a);
    int rc = net_addr_parse(host, port, null_out ? NULL : &a);
    tr("net_addr_parse(%s, %u, %s) = %s", q(host), port, null_out ? "NULL" : "&a", rcname(rc));
    want_status("net_addr_parse", rc);
    if (rc == 0) {
        if (null_out)
            fail("net_addr_parse with a NULL out pointer succeeded");
        check_addr("net_addr_parse", &a);
        if (a.port != port)
            fail("net_addr_parse(%s, %u) answered port %u", q(host), port, a.port);
        char s[64];
        int n = net_addr_format(&a, s, sizeof s);
        if (n < 0)
            fail("net_addr_format of net_addr_parse(%s)'s answer returned %s", q(host), rcname(n));
    }
}

static void op_strerror(reader *r)
{
    uint8_t b = rd8(r);
    int code = (b & 1) ? (int)rd32(r) : (int)(b >> 1) - 64;
    const char *s = net_strerror(code);
    if (!s)
        fail("net_strerror(%d) returned NULL", code);
    size_t n = strlen(s); /* ASan checks it is a string */
    if (n == 0 || n > 200)
        fail("net_strerror(%d) returned %zu characters", code, n);
}

static void op_stats(reader *r)
{
    net_engine e = pick_engine(r);
    uint32_t claim = pick_size(r, sizeof(net_stats));
    int null_out = pick_null(r);
    net_stats st;
    memset(&st, 0, sizeof st);
    void *blob = null_out ? NULL : cfg_blob(&st, sizeof st, claim, r);
    int rc = net_engine_stats(e, blob);
    tr("net_engine_stats(%s, %s size %u) = %s", ename(e), null_out ? "NULL" : "stats", claim, rcname(rc));
    want_engine("net_engine_stats", rc, e);
    if (rc > 0)
        fail("net_engine_stats returned %d", rc);
    if (rc == 0 && null_out)
        fail("net_engine_stats with NULL succeeded");
    free(blob);
}

static void op_info(reader *r)
{
    net_engine e = pick_engine(r);
    const char *name = net_backend_name(e);
    if (!name)
        fail("net_backend_name returned NULL");
    if (e != g_eng && *name)
        fail("net_backend_name(%s) of a dead or forged engine returned %s, not \"\"", ename(e), q(name));
    if (e == g_eng) {
        if (strcmp(name, "epoll") != 0 && strcmp(name, "io_uring") != 0)
            fail("net_backend_name of the live engine returned %s", q(name));
        if (g_eng_want != NET_BACKEND_AUTO && strcmp(name, backend_arg(g_eng_want)) != 0)
            fail("asked for backend %s, net_backend_name says %s", backend_arg(g_eng_want), q(name));
    }
    if (net_version() != NET_VERSION)
        fail("net_version() = 0x%x, net.h says 0x%x", net_version(), NET_VERSION);
    const char *v = net_version_string();
    if (!v || !*v)
        fail("net_version_string returned nothing");
    /* The init functions take NULL and fill in their size. */
    net_config_init(NULL);
    net_tcp_config_init(NULL);
    net_udp_config_init(NULL);
    net_config c;
    net_tcp_config t;
    net_udp_config u;
    net_config_init(&c);
    net_tcp_config_init(&t);
    net_udp_config_init(&u);
    if (c.size != sizeof c || t.size != sizeof t || u.size != sizeof u)
        fail("a *_config_init left a wrong size field");
}

/* Destroys the engine and creates another from the input: every handle of
 * the old one must be dead, none of the new one may answer to them. */
static void op_engine_cycle(reader *r)
{
    if (g_cycles >= MAX_CYCLES) {
        rd8(r);
        return;
    }
    g_cycles++;
    engine_close();
    engine_open(r);
}

/* A second engine from random config, destroyed at once. */
static void op_engine_extra(reader *r)
{
    net_config c;
    uint32_t claim;
    int null_cfg;
    read_engine_config(r, &c, &claim, &null_cfg);
    int null_out = pick_null(r);
    if (g_extras >= MAX_EXTRA)
        return;
    g_extras++;
    char desc[400];
    describe_config(&c, claim, desc, sizeof desc);
    void *blob = null_cfg ? NULL : cfg_blob(&c, sizeof c, claim, r);
    net_engine e = 0;
    int rc = net_engine_create(blob, null_out ? NULL : &e);
    tr("net_engine_create(%s, %s) = %s (extra engine)", null_cfg ? "NULL" : desc, null_out ? "NULL" : "&e2",
       rcname(rc));
    free(blob);
    want_status("net_engine_create", rc);
    if (rc == 0) {
        if (null_out || !e || e == g_eng)
            fail("net_engine_create succeeded with a NULL out pointer or a handle in use");
        rc = net_engine_destroy(e);
        if (rc != 0)
            fail("net_engine_destroy of a fresh engine returned %s", rcname(rc));
        if (net_post(e, 1) != NET_E_BADHANDLE)
            fail("net_post on a destroyed extra engine did not return NET_E_BADHANDLE");
    }
}

static void op_destroy_forged(reader *r)
{
    net_engine e = pick_engine(r);
    if (e == g_eng)
        e = g_eng ^ (1ull << (rd8(r) & 63));
    int rc = net_engine_destroy(e);
    tr("net_engine_destroy(%s) = %s", ename(e), rcname(rc));
    if (rc != NET_E_BADHANDLE)
        fail("net_engine_destroy of a dead or forged engine handle returned %s", rcname(rc));
}

/* Opcode = index here (mod OP_COUNT); api_seeds.py writes programs in it. */
static void (*const g_ops[])(reader *r) = {
    op_listen,         /*  0 */
    op_connect,        /*  1 */
    op_udp_open,       /*  2 */
    op_udp_connect,    /*  3 */
    op_send,           /*  4 */
    op_sendv,          /*  5 */
    op_broadcast,      /*  6 */
    op_sendto,         /*  7 */
    op_close,          /*  8 */
    op_abort,          /*  9 */
    op_shutdown,       /* 10 */
    op_set_option,     /* 11 */
    op_get_option,     /* 12 */
    op_user,           /* 13 */
    op_query,          /* 14 */
    op_timer,          /* 15 */
    op_post,           /* 16 */
    op_wakeup,         /* 17 */
    op_poll,           /* 18 */
    op_poll,           /* 19: polls twice as often, so I/O gets its turns */
    op_addr_format,    /* 20 */
    op_addr_parse,     /* 21 */
    op_strerror,       /* 22 */
    op_stats,          /* 23 */
    op_info,           /* 24 */
    op_engine_cycle,   /* 25 */
    op_engine_extra,   /* 26 */
    op_destroy_forged, /* 27 */
};
#define OP_COUNT (sizeof g_ops / sizeof g_ops[0])

/* ------------------------------------------------------------------------ */
/* the input                                                                */

/* Polls until the queue is empty (bounded), after closing the repeating
 * timers that would keep it full; then every posted value must be back. */
static void drain(void)
{
    for (int i = 0; i < g_nobj; i++)
        if (g_obj[i].kind == K_TIMER && g_obj[i].state != S_STALE) {
            int rc = net_close(g_obj[i].h);
            if (rc != 0)
                fail("net_close of live timer %s returned %s", hname(g_obj[i].h), rcname(rc));
            g_obj[i].state = S_STALE;
        }
    tr("drain:");
    for (int i = 0; i < 400; i++) {
        int n = net_poll(g_eng, g_ev, 256, 0);
        want_count("net_poll", n);
        if (n < 0)
            fail("net_poll while draining returned %s", rcname(n));
        if (n == 0) {
            if (g_nseen != g_nposted)
                fail("%d of %d posted USER events never came", g_nposted - g_nseen, g_nposted);
            return;
        }
        on_events(g_ev, n);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *t = getenv("FUZZ_API_TRACE");
    g_trace_live = t && *t && strcmp(t, "0") != 0;
    for (size_t i = 0; i < PAYLOAD_MAX; i++)
        g_payload[i] = (uint8_t)(i * 131 + 7);
    net_config c;
    net_config_init(&c);
    c.backend = NET_BACKEND_IO_URING;
    net_engine e;
    g_uring_ok = net_engine_create(&c, &e) == 0;
    if (g_uring_ok)
        net_engine_destroy(e);
    fprintf(stderr, "fuzz_api: io_uring backend %s\n", g_uring_ok ? "available" : "not available here: epoll only");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    g_trace_len = 0;
    g_nobj = 0;
    g_next_id = 0;
    g_ndead = g_cycles = g_extras = 0;
    int fds_before = count_fds();
    if (g_trace_live)
        fprintf(stderr, "fuzz_api: input of %zu bytes\n", size);

    engine_open(&r);
    for (int i = 0; i < MAX_OPS && r.n; i++)
        g_ops[rd8(&r) % OP_COUNT](&r);
    drain();
    engine_close();

    int fds_after = count_fds();
    if (fds_after > fds_before)
        fail("%d descriptors before this input, %d after its engines were destroyed", fds_before, fds_after);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* resolver stub                                                            */

/* "fe80::1%2": a numeric IPv6 address with a numeric scope, as libc's
 * getaddrinfo reads it (net_addr_format writes scopes so). */
static int numeric_scoped(const char *node, const struct addrinfo *hints, struct addrinfo **res)
{
    const char *pct = strchr(node, '%');
    char ip[64];
    if (!pct || (size_t)(pct - node) >= sizeof ip || pct[1] < '0' || pct[1] > '9')
        return EAI_NONAME;
    memcpy(ip, node, (size_t)(pct - node));
    ip[pct - node] = 0;
    char *end;
    unsigned long long scope = strtoull(pct + 1, &end, 10);
    struct in6_addr a6;
    if (*end || scope > UINT32_MAX || inet_pton(AF_INET6, ip, &a6) != 1)
        return EAI_NONAME;
    if (hints && hints->ai_family != AF_UNSPEC && hints->ai_family != AF_INET6)
        return EAI_FAMILY;
    struct {
        struct addrinfo ai;
        struct sockaddr_in6 s6;
    } *p = calloc(1, sizeof *p);
    if (!p)
        return EAI_MEMORY;
    p->s6.sin6_family = AF_INET6;
    p->s6.sin6_addr = a6;
    p->s6.sin6_scope_id = (uint32_t)scope;
    p->ai.ai_family = AF_INET6;
    p->ai.ai_socktype = hints ? hints->ai_socktype : 0;
    p->ai.ai_addrlen = sizeof p->s6;
    p->ai.ai_addr = (struct sockaddr *)&p->s6;
    *res = &p->ai;
    return 0;
}

/* The library resolves names with getaddrinfo; random strings must not turn
 * into DNS queries (slow, and traffic off this host). This definition in the
 * executable takes the place of libc's: it knows two names and scoped
 * numeric IPv6, and answers everything else "no such name", as a resolver
 * does. */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res)
{
    (void)service;
    int v6;
    if (!node || !res)
        return EAI_NONAME;
    int scoped = numeric_scoped(node, hints, res);
    if (scoped != EAI_NONAME)
        return scoped;
    if (strcmp(node, "localhost") == 0)
        v6 = hints && hints->ai_family == AF_INET6;
    else if (strcmp(node, "ip6-localhost") == 0)
        v6 = 1;
    else
        return EAI_NONAME;
    if (hints && hints->ai_family != AF_UNSPEC && hints->ai_family != (v6 ? AF_INET6 : AF_INET))
        return EAI_FAMILY;
    struct {
        struct addrinfo ai;
        struct sockaddr_storage ss;
    } *p = calloc(1, sizeof *p);
    if (!p)
        return EAI_MEMORY;
    if (v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&p->ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
        p->ai.ai_addrlen = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&p->ss;
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        p->ai.ai_addrlen = sizeof *s4;
    }
    p->ai.ai_family = v6 ? AF_INET6 : AF_INET;
    p->ai.ai_socktype = hints ? hints->ai_socktype : 0;
    p->ai.ai_addr = (struct sockaddr *)&p->ss;
    *res = &p->ai;
    return 0;
}

void freeaddrinfo(struct addrinfo *res)
{
    free(res); /* the addrinfo leads the block getaddrinfo allocated */
}
