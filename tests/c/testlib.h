/*
 * testlib.h - the small shared helper of the C integration tests.
 *
 * Every test is one executable that exercises net.h over loopback, port 0
 * only. The environment picks the backend (NET_BACKEND, honoured by the
 * library when the config says NET_BACKEND_AUTO) and the thread mode
 * (NET_TEST_IO_THREADS). A test exits 0 on success, 1 on the first failed
 * CHECK (printing file:line and the expression) and TL_SKIP (77) when the
 * platform cannot run it.
 *
 * Events: engines made with tl_engine*() are registered here. tl_wait,
 * tl_next, tl_run and tl_pump poll every registered engine that is not held
 * (with io_threads = 0 an engine does no I/O unless polled, so waiting on one
 * engine must keep the others moving) and park each event in its engine's
 * mailbox, DATA and DATAGRAM payloads copied, so a test can wait for one
 * event while the others stay queued in order. While pumping, testlib also
 * checks what must hold for every event: a known type, and no event at all
 * for a connection, listener or UDP socket after its CLOSE (so a second
 * CLOSE fails any test).
 * TL_TRACE=1 in the environment prints every event as it is polled.
 */
#ifndef NET_TESTLIB_H
#define NET_TESTLIB_H

/* MinGW: C99 printf (%zu, %lld) rather than the old msvcrt one */
#if defined(__MINGW32__) && !defined(__USE_MINGW_ANSI_STDIO)
#    define __USE_MINGW_ANSI_STDIO 1
#endif

#include "net.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TL_SKIP 77
#define TL_TIMEOUT_MS 10000 /* default bound of every wait */

/* ---- failing ---- */
#if defined(__MINGW32__)
#    define TL_NORETURN __attribute__((noreturn))
#    define TL_PRINTF(a, b) __attribute__((format(gnu_printf, a, b)))
#elif defined(__GNUC__)
#    define TL_NORETURN __attribute__((noreturn))
#    define TL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#    define TL_NORETURN
#    define TL_PRINTF(a, b)
#endif

TL_NORETURN void tl_fail(const char *file, int line, const char *expr, const char *fmt, ...) TL_PRINTF(4, 5);
TL_NORETURN void tl_skip(const char *fmt, ...) TL_PRINTF(1, 2);

#define CHECK(e)                                                                                                       \
    do {                                                                                                               \
        if (!(e))                                                                                                      \
            tl_fail(__FILE__, __LINE__, #e, NULL);                                                                     \
    } while (0)

/* CHECK with a printf-style explanation of the values involved. */
#define CHECKF(e, ...)                                                                                                 \
    do {                                                                                                               \
        if (!(e))                                                                                                      \
            tl_fail(__FILE__, __LINE__, #e, __VA_ARGS__);                                                              \
    } while (0)

#define CHECK_EQ(a, b)                                                                                                 \
    do {                                                                                                               \
        long long tl_a_ = (long long)(a), tl_b_ = (long long)(b);                                                      \
        if (tl_a_ != tl_b_)                                                                                            \
            tl_fail(__FILE__, __LINE__, #a " == " #b, "%lld != %lld", tl_a_, tl_b_);                                   \
    } while (0)

/* A net call that must return exactly `want` (a code or a count). */
#define CHECK_RC(call, want)                                                                                           \
    do {                                                                                                               \
        int tl_rc_ = (call), tl_want_ = (want);                                                                        \
        if (tl_rc_ != tl_want_)                                                                                        \
            tl_fail(__FILE__, __LINE__, #call, "returned %d (%s), expected %d (%s)", tl_rc_, tl_errname(tl_rc_),       \
                    tl_want_, tl_errname(tl_want_));                                                                   \
    } while (0)

#define CHECK_OK(call) CHECK_RC(call, NET_OK)

/* "NET_E_RESET" etc.; "NET_OK" for 0, "?" for others (counts print as "?"). */
const char *tl_errname(int code);
const char *tl_evname(uint32_t type);

/* ---- setup ---- */
/* Prints the test's name and mode, starts a watchdog that fails the test
 * (instead of letting it hang until ctest kills it) after ~50 s. */
void tl_init(const char *name);
int tl_io_threads(void);      /* NET_TEST_IO_THREADS, default 0 */
const char *tl_backend(void); /* NET_BACKEND or "" */

/* ---- time, threads ---- */
uint64_t tl_now_ms(void); /* monotonic */
uint64_t tl_now_us(void);
void tl_sleep_ms(int ms);

typedef struct tl_thread tl_thread;
tl_thread *tl_thread_start(void (*fn)(void *), void *arg);
void tl_thread_join(tl_thread *t);

/* Raises the open-files limit towards `want` where the OS has one; returns
 * how many descriptors the test may use (a large number where unlimited). */
int tl_raise_fd_limit(int want);
/* Sets (value NULL: removes) an environment variable of this process, e.g.
 * the test hooks' NET_TEST_FAULT before an engine's create reads it. */
void tl_setenv(const char *name, const char *value);

/* Descriptors (Linux: entries of /proc/self/fd) or handles (Windows:
 * GetProcessHandleCount) the process holds now; -1 where it cannot tell. */
int tl_open_descriptors(void);

/* ---- engines ---- */
/* net_config_init + io_threads from the environment. */
void tl_config(net_config *cfg);
/* Creates and registers an engine; skips the test when the requested backend
 * is unavailable (NET_E_UNSUPPORTED, or the library picked another one). */
net_engine tl_engine_with(const net_config *cfg);
net_engine tl_engine(void);
/* net_engine_stats of e, which must succeed. */
net_stats tl_stats(net_engine e);
/* Unregisters (dropping its mailbox) and destroys; checks the result. */
void tl_engine_destroy(net_engine e);
/* A held engine is not polled by testlib (to model a stalled consumer). */
void tl_engine_hold(net_engine e, int held);

/* ---- events ---- */
/* Next event of e, or 0 after timeout_ms. ev->data (a copy) stays valid
 * until the next tl_next/tl_wait call. NET_EV_NONE as a type
 * below means any type. */
int tl_next(net_engine e, net_event *ev, int timeout_ms);
/* First event of `type` for handle h (0 = any) on e; the events before it
 * stay queued. 1 = found, 0 = timed out. */
int tl_wait(net_engine e, uint32_t type, net_handle h, net_event *ev, int timeout_ms);
typedef int (*tl_match_fn)(const net_event *ev, void *arg);
int tl_wait_match(net_engine e, tl_match_fn match, void *arg, net_event *ev, int timeout_ms);

/* tl_wait bounded by TL_TIMEOUT_MS that fails the test when nothing comes. */
#define TL_EXPECT(e, type, h, evp)                                                                                     \
    do {                                                                                                               \
        if (!tl_wait((e), (type), (h), (evp), TL_TIMEOUT_MS))                                                          \
            tl_fail(__FILE__, __LINE__, "TL_EXPECT(" #e ", " #type ", " #h ")",                                        \
                    "no %s event for handle %llu in %d ms", tl_evname(type), (unsigned long long)(h), TL_TIMEOUT_MS);  \
    } while (0)

/* Event loop: hands every event of every non-held engine to handler (mailbox
 * first, in order) until done(ctx) is true (1) or timeout_ms passed (0).
 * done may be NULL: then it runs for timeout_ms and returns 1. Every engine
 * is polled at least once, even with timeout_ms 0 (so a t0 engine does I/O).
 * The handler may call net_* but not the tl_* event functions. */
typedef void (*tl_handler)(void *ctx, net_engine e, const net_event *ev);
typedef int (*tl_pred)(void *ctx);
int tl_run(tl_handler handler, void *ctx, tl_pred done, int timeout_ms);
#define TL_RUN(handler, ctx, done)                                                                                     \
    do {                                                                                                               \
        if (!tl_run((handler), (ctx), (done), TL_TIMEOUT_MS))                                                          \
            tl_fail(__FILE__, __LINE__, "tl_run(" #handler ", " #done ")", "not done within %d ms", TL_TIMEOUT_MS);    \
    } while (0)

/* Polls every non-held engine for ms, keeping the events in the mailboxes. */
void tl_pump(int ms);
/* Events waiting in e's mailbox, and how many of them match type/h. */
size_t tl_pending(net_engine e, uint32_t type, net_handle h);
/* Drops e's mailbox (after checking it like any other event). */
void tl_discard(net_engine e);

/* ---- TCP helpers ---- */
void tl_tcp(net_tcp_config *cfg, uint32_t framing, uint32_t flags_add); /* init + framing + extra flags */
/* Listens on 127.0.0.1 port 0 (cfg NULL = defaults); *port gets the port. */
net_handle tl_listen(net_engine e, const net_tcp_config *cfg, uint16_t *port);
net_handle tl_connect(net_engine e, uint16_t port, const net_tcp_config *cfg);
/* Connects, waits for the CONNECT (status 0) on ce and the matching ACCEPT on
 * se (matched by the client's local port). */
void tl_pair(net_engine ce, net_engine se, net_handle listener, uint16_t port, const net_tcp_config *ccfg,
             net_handle *client, net_handle *server);
/* n pairs (tl_pair each): clients[i] on ce, servers[i] on se. */
void tl_pairs(net_engine ce, net_engine se, net_handle listener, uint16_t port, const net_tcp_config *ccfg, int n,
              net_handle *clients, net_handle *servers);
/* Two more server connections for sends that must fail alone: *closing is
 * open (closed by the test just before its send, it is closing, not stale
 * yet) and *stale is closed with its CLOSE polled. */
void tl_closing_and_stale(net_engine ce, net_engine se, net_handle listener, uint16_t port, const net_tcp_config *ccfg,
                          net_handle *closing, net_handle *stale);
/* Waits for the ACCEPT on se whose peer is the local address of client. */
net_handle tl_accept_of(net_engine se, net_handle listener, net_handle client);
/* Closes h and waits for its CLOSE; returns the status. */
int tl_close_wait(net_engine e, net_handle h);
/* net_send, retrying while NET_E_WOULDBLOCK (pumping meanwhile). */
void tl_send(net_handle c, const void *data, uint32_t len);
/* Polls se itself (held meanwhile: testlib leaves it alone) in batches of
 * at most `batch` (<= 64) events and hands each batch to net_forward_data
 * with `to` (0: every payload back to its own connection) until exactly
 * `want` payloads went, each queued (result 0). The other engines are
 * pumped meanwhile (with io_threads 0 their sends go out only then), their
 * events kept. SEND_HIGHWATER and SEND_DRAINED may come between (result 1);
 * any other event fails the test. */
void tl_forward_until(net_engine se, net_handle to, int want, int batch);

/* ---- UDP helpers ---- */
/* Opens a UDP socket on host (NULL = "127.0.0.1") port 0 (cfg NULL =
 * defaults); *addr (optional) gets its bound address, checked non-zero. */
net_handle tl_udp(net_engine e, const char *host, const net_udp_config *cfg, net_addr *addr);
/* Same family, port and address bytes (the 4 of IPv4, the 16 and scope of IPv6). */
int tl_addr_eq(const net_addr *a, const net_addr *b);
/* "1.2.3.4:5" / "[::1]:5" / "(family N)" for messages; a few rotating buffers. */
const char *tl_addr_str(const net_addr *a);
/* 1 when this Windows build runs under Wine (where some socket behaviours
 * differ from Windows'); 0 elsewhere. */
int tl_under_wine(void);

/* ---- payload patterns ---- */
/* Byte `off` of stream `seed`: shifts, drops and duplicates all show, and
 * two streams differ from their first bytes on. Each 8 bytes are one full
 * 64-bit mix of seed and position: a mix whose low byte saw only some bits
 * of the seed made streams 1006 and 1309 equal byte for byte, so a test
 * that tells messages apart by their bytes took one for the other. */
static inline uint8_t tl_pat(uint64_t seed, uint64_t off)
{
    uint64_t z = seed * 0xC2B2AE3D27D4EB4Full + ((off >> 3) + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (uint8_t)(z >> (8 * (off & 7)));
}
void tl_fill(void *buf, size_t len, uint64_t seed, uint64_t off);
/* Index of the first byte not matching the pattern, or -1. */
long long tl_mismatch(const void *buf, size_t len, uint64_t seed, uint64_t off);
/* The next DATA of h on e is len bytes of pattern seed (from offset 0). */
void tl_expect_pattern(net_engine e, net_handle h, uint32_t len, uint64_t seed);

/* Little/big-endian load/store for frame headers and message bodies. */
void tl_put_le(uint8_t *p, uint64_t v, int n);
void tl_put_be(uint8_t *p, uint64_t v, int n);
uint64_t tl_get_le(const uint8_t *p, int n);

void *tl_xmalloc(size_t n);

/* Waits up to timeout_ms (-1: no limit) for a net_engine_waitable
 * descriptor to be ready (Linux: poll() for POLLIN; Windows:
 * WaitForSingleObject); 1 = ready, 0 = timed out. Fails the test on an
 * error (a closed or bad descriptor). */
int tl_wait_ready(intptr_t waitable, int timeout_ms);

#endif /* NET_TESTLIB_H */
