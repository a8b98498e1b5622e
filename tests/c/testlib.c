/* testlib.c - see testlib.h. The only file of the tests that includes an
 * OS header: threads, sleeping, the clock and the open-files limit. */
#if !defined(_WIN32)
#    define _POSIX_C_SOURCE 200809L
#endif

#include "testlib.h"

#include <stdarg.h>

#if defined(_WIN32)
#    ifndef WIN32_LEAN_AND_MEAN
#        define WIN32_LEAN_AND_MEAN
#    endif
#    include <windows.h>
#else
#    include <dirent.h>
#    include <poll.h>
#    include <pthread.h>
#    include <sys/resource.h>
#    include <time.h>
#endif

/* ---------------------------------------------------------------- failing */

static const char *g_name = "?";

void tl_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
    fflush(stdout);
    fprintf(stderr, "FAIL %s [%s io_threads=%d] %s:%d: %s", g_name, tl_backend(), tl_io_threads(), file, line, expr);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputs(" -- ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    fflush(stderr);
    _Exit(1); /* no atexit, no engine teardown racing the failure */
}

void tl_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("SKIP %s: ", g_name);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    _Exit(TL_SKIP);
}

const char *tl_errname(int code)
{
    static const char *const names[] = {
        "NET_OK",       "NET_E_BADHANDLE", "NET_E_INVAL",     "NET_E_NOMEM",       "NET_E_WOULDBLOCK",
        "NET_E_CLOSED", "NET_E_MSGSIZE",   "NET_E_BUSY",      "NET_E_UNSUPPORTED", "NET_E_OS",
        "NET_E_ADDR",   "NET_E_TIMEDOUT",  "NET_E_RESET",     "NET_E_REFUSED",     "NET_E_LIMIT",
        "NET_E_PROTO",  "NET_E_ABORTED",   "NET_E_ADDRINUSE", "NET_E_UNREACHABLE", "NET_E_NOTCONN"};
    if (code <= 0 && code > -(int)(sizeof names / sizeof names[0]))
        return names[-code];
    return "?";
}

const char *tl_evname(uint32_t type)
{
    static const char *const names[] = {"NONE",         "ACCEPT", "CONNECT", "DATA",     "CLOSE", "SEND_HIGHWATER",
                                        "SEND_DRAINED", "TIMER",  "USER",    "DATAGRAM", "ERROR", "EOF"};
    return type < sizeof names / sizeof names[0] ? names[type] : "?";
}

/* ---------------------------------------------------------- time, threads */

uint64_t tl_now_us(void)
{
#if defined(_WIN32)
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (uint64_t)((double)now.QuadPart * 1e6 / (double)freq.QuadPart);
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
#endif
}

uint64_t tl_now_ms(void)
{
    return tl_now_us() / 1000u;
}

void tl_sleep_ms(int ms)
{
    if (ms <= 0)
        return;
#if defined(_WIN32)
    Sleep((DWORD)ms);
#else
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0) {
    }
#endif
}

struct tl_thread {
    void (*fn)(void *);
    void *arg;
#if defined(_WIN32)
    HANDLE h;
#else
    pthread_t t;
#endif
};

#if defined(_WIN32)
static DWORD WINAPI thread_main(LPVOID p)
{
    tl_thread *t = (tl_thread *)p;
    t->fn(t->arg);
    return 0;
}
#else
static void *thread_main(void *p)
{
    tl_thread *t = (tl_thread *)p;
    t->fn(t->arg);
    return NULL;
}
#endif

tl_thread *tl_thread_start(void (*fn)(void *), void *arg)
{
    tl_thread *t = (tl_thread *)tl_xmalloc(sizeof *t);
    t->fn = fn;
    t->arg = arg;
#if defined(_WIN32)
    t->h = CreateThread(NULL, 0, thread_main, t, 0, NULL);
    CHECK(t->h != NULL);
#else
    CHECK(pthread_create(&t->t, NULL, thread_main, t) == 0);
#endif
    return t;
}

void tl_thread_join(tl_thread *t)
{
#if defined(_WIN32)
    WaitForSingleObject(t->h, INFINITE);
    CloseHandle(t->h);
#else
    pthread_join(t->t, NULL);
#endif
    free(t);
}

void tl_setenv(const char *name, const char *value)
{
#if defined(_WIN32)
    char buf[256];
    snprintf(buf, sizeof buf, "%s=%s", name, value ? value : "");
    _putenv(buf);
#else
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
#endif
}

int tl_raise_fd_limit(int want)
{
#if defined(_WIN32)
    (void)want;
    return 1 << 20;
#else
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want) {
        rlim_t cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= (rlim_t)want) ? (rlim_t)want : rl.rlim_max;
        rl.rlim_cur = cur;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)(1 << 20))
        return 1 << 20;
    return (int)rl.rlim_cur;
#endif
}

int tl_open_descriptors(void)
{
#if defined(_WIN32)
    DWORD n = 0; /* Wine answers 0: a process always has some, so 0 means it cannot tell */
    return GetProcessHandleCount(GetCurrentProcess(), &n) && n > 0 ? (int)n : -1;
#else
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
#endif
}

int tl_wait_ready(intptr_t waitable, int timeout_ms)
{
#if defined(_WIN32)
    DWORD rc = WaitForSingleObject((HANDLE)waitable, timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms);
    if (rc == WAIT_FAILED)
        tl_fail(__FILE__, __LINE__, "WaitForSingleObject", "error %lu", (unsigned long)GetLastError());
    return rc == WAIT_OBJECT_0;
#else
    struct pollfd p = {(int)waitable, POLLIN, 0};
    int n;
    uint64_t until = tl_now_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
    /* A signal (the watchdog's, a debugger's) cuts poll() short: wait out the rest. */
    while ((n = poll(&p, 1, timeout_ms)) < 0 && timeout_ms >= 0) {
        uint64_t now = tl_now_ms();
        timeout_ms = now >= until ? 0 : (int)(until - now);
    }
    if (n < 0 || (n == 1 && (p.revents & (POLLERR | POLLNVAL))))
        tl_fail(__FILE__, __LINE__, "poll", "waitable %d: revents 0x%x", (int)waitable, (unsigned)p.revents);
    return n == 1 && (p.revents & POLLIN) != 0;
#endif
}

void *tl_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        tl_fail(__FILE__, __LINE__, "malloc", "%zu bytes", n);
    return p;
}

/* ------------------------------------------------------------------ setup */

int tl_io_threads(void)
{
    const char *s = getenv("NET_TEST_IO_THREADS");
    return s && *s ? atoi(s) : 0;
}

const char *tl_backend(void)
{
    const char *s = getenv("NET_BACKEND");
    return s ? s : "";
}

static int g_watchdog_s = 50;

static void watchdog(void *arg)
{
    (void)arg;
    uint64_t end = tl_now_ms() + (uint64_t)g_watchdog_s * 1000u;
    while (tl_now_ms() < end)
        tl_sleep_ms(200);
    tl_fail(__FILE__, __LINE__, "watchdog", "test still running after %d s (hang?)", g_watchdog_s);
}

void tl_init(const char *name)
{
    g_name = name;
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *w = getenv("TL_WATCHDOG_S");
    if (w && atoi(w) > 0)
        g_watchdog_s = atoi(w);
    printf("test %s backend=%s io_threads=%d\n", name, *tl_backend() ? tl_backend() : "(auto)", tl_io_threads());
    tl_thread_start(watchdog, NULL); /* never joined: the process ends first */
}

/* ---------------------------------------------------------------- engines */

typedef struct item {
    net_event ev;
    void *copy; /* owned copy of a DATA payload */
} item;

/* Open-addressed set of the handles whose CLOSE was seen. */
typedef struct hset {
    uint64_t *slots;
    size_t cap, count;
} hset;

typedef struct box {
    net_engine e;
    int used, held;
    item *items;
    size_t head, tail, cap; /* queued: items[head..tail) */
    hset closed;
} box;

#define MAX_ENGINES 16
static box g_boxes[MAX_ENGINES];
static void *g_last; /* payload copy handed out by tl_next/tl_wait */
static size_t g_rr;

static size_t hslot(uint64_t h, size_t cap)
{
    return (size_t)((h * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static int hset_has(const hset *s, uint64_t h)
{
    if (!s->cap)
        return 0;
    for (size_t i = hslot(h, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i] == h)
            return 1;
        if (s->slots[i] == 0)
            return 0;
    }
}

static void hset_add(hset *s, uint64_t h)
{
    if ((s->count + 1) * 2 > s->cap) {
        hset old = *s;
        s->cap = old.cap ? old.cap * 2 : 256;
        s->slots = (uint64_t *)calloc(s->cap, sizeof(uint64_t));
        CHECK(s->slots != NULL);
        s->count = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.slots[i])
                hset_add(s, old.slots[i]);
        free(old.slots);
    }
    size_t i = hslot(h, s->cap);
    while (s->slots[i] && s->slots[i] != h)
        i = (i + 1) & (s->cap - 1);
    if (!s->slots[i]) {
        s->slots[i] = h;
        s->count++;
    }
}

static box *find_box(net_engine e)
{
    for (int i = 0; i < MAX_ENGINES; i++)
        if (g_boxes[i].used && g_boxes[i].e == e)
            return &g_boxes[i];
    tl_fail(__FILE__, __LINE__, "find_box", "engine %llu was not made by tl_engine*", (unsigned long long)e);
}

void tl_config(net_config *cfg)
{
    net_config_init(cfg);
    cfg->io_threads = (uint32_t)tl_io_threads();
}

net_engine tl_engine_with(const net_config *cfg)
{
    net_engine e = 0;
    int rc = net_engine_create(cfg, &e);
    if (rc == NET_E_UNSUPPORTED)
        tl_skip("backend '%s' unavailable here (net_engine_create: NET_E_UNSUPPORTED)", tl_backend());
    CHECKF(rc == NET_OK, "net_engine_create returned %d (%s)", rc, tl_errname(rc));
    CHECK(e != 0);
    const char *want = tl_backend();
    const char *got = net_backend_name(e);
    CHECK(got != NULL);
    if (cfg->backend == NET_BACKEND_AUTO && *want && strcmp(want, got) != 0)
        tl_skip("NET_BACKEND=%s requested but the engine runs '%s' (test_version fails on this)", want, got);
    for (int i = 0; i < MAX_ENGINES; i++) {
        if (!g_boxes[i].used) {
            memset(&g_boxes[i], 0, sizeof g_boxes[i]);
            g_boxes[i].used = 1;
            g_boxes[i].e = e;
            return e;
        }
    }
    tl_fail(__FILE__, __LINE__, "tl_engine_with", "more than %d engines", MAX_ENGINES);
}

net_stats tl_stats(net_engine e)
{
    net_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    CHECK_OK(net_engine_stats(e, &st));
    return st;
}

net_engine tl_engine(void)
{
    net_config cfg;
    tl_config(&cfg);
    return tl_engine_with(&cfg);
}

static void box_clear(box *b)
{
    for (size_t i = b->head; i < b->tail; i++)
        free(b->items[i].copy);
    b->head = b->tail = 0;
}

void tl_engine_destroy(net_engine e)
{
    box *b = find_box(e);
    box_clear(b);
    free(b->items);
    free(b->closed.slots);
    memset(b, 0, sizeof *b);
    CHECK_OK(net_engine_destroy(e));
}

void tl_engine_hold(net_engine e, int held)
{
    find_box(e)->held = held;
}

/* ----------------------------------------------------------------- events */

static int g_trace = -1; /* TL_TRACE=1 prints every event polled */

/* What must hold for every event, whatever the test. */
static void check_event(box *b, const net_event *ev)
{
    if (g_trace < 0)
        g_trace = getenv("TL_TRACE") && atoi(getenv("TL_TRACE")) > 0;
    if (g_trace)
        printf("  [%llu ms] engine %llu: %s status %d handle %llu parent %llu user %llu len %u\n",
               (unsigned long long)tl_now_ms(), (unsigned long long)b->e, tl_evname(ev->type), (int)ev->status,
               (unsigned long long)ev->handle, (unsigned long long)ev->parent, (unsigned long long)ev->user,
               (unsigned)ev->len);
    CHECKF(ev->type >= NET_EV_ACCEPT && ev->type <= NET_EV_EOF, "event type %u", (unsigned)ev->type);
    switch (ev->type) {
    case NET_EV_ACCEPT:
        CHECKF(ev->parent != 0 && !hset_has(&b->closed, ev->parent), "ACCEPT from listener %llu after its CLOSE",
               (unsigned long long)ev->parent);
        /* fall through */
    case NET_EV_CONNECT:
    case NET_EV_DATA:
    case NET_EV_CLOSE:
    case NET_EV_SEND_HIGHWATER:
    case NET_EV_SEND_DRAINED:
    case NET_EV_DATAGRAM:
    case NET_EV_ERROR:
    case NET_EV_EOF:
        CHECKF(ev->handle != 0, "%s event with handle 0", tl_evname(ev->type));
        CHECKF(!hset_has(&b->closed, ev->handle), "%s event (status %d %s) for handle %llu after its CLOSE",
               tl_evname(ev->type), (int)ev->status, tl_errname(ev->status), (unsigned long long)ev->handle);
        break;
    default:
        break;
    }
    if (ev->type == NET_EV_DATA || ev->type == NET_EV_DATAGRAM)
        CHECKF(ev->len == 0 || ev->data != NULL, "%s len %u with NULL data", tl_evname(ev->type), (unsigned)ev->len);
    if (ev->type == NET_EV_DATAGRAM)
        CHECKF(ev->addr.family == NET_AF_INET || ev->addr.family == NET_AF_INET6, "DATAGRAM with sender family %u",
               (unsigned)ev->addr.family);
    if (ev->type == NET_EV_ERROR)
        CHECKF(ev->status < 0, "ERROR event with status %d", (int)ev->status);
    if (ev->type == NET_EV_CLOSE)
        hset_add(&b->closed, ev->handle);
}

static void box_push(box *b, const net_event *ev)
{
    if (b->tail == b->cap) {
        if (b->head > 0) { /* slide down before growing */
            memmove(b->items, b->items + b->head, (b->tail - b->head) * sizeof(item));
            b->tail -= b->head;
            b->head = 0;
        }
        if (b->tail == b->cap) {
            b->cap = b->cap ? b->cap * 2 : 256;
            b->items = (item *)realloc(b->items, b->cap * sizeof(item));
            CHECK(b->items != NULL);
        }
    }
    item *it = &b->items[b->tail++];
    it->ev = *ev;
    it->copy = NULL;
    if ((ev->type == NET_EV_DATA || ev->type == NET_EV_DATAGRAM) && ev->len > 0) {
        it->copy = tl_xmalloc(ev->len);
        memcpy(it->copy, ev->data, ev->len);
        it->ev.data = it->copy;
    }
}

static void box_remove(box *b, size_t i, item *out)
{
    *out = b->items[i];
    memmove(&b->items[i], &b->items[i + 1], (b->tail - i - 1) * sizeof(item));
    b->tail--;
    if (b->head == b->tail)
        b->head = b->tail = 0;
}

/* One polling round over every non-held engine. With a sink, events of an
 * engine whose mailbox is empty go straight to it (no copy). */
static int pump_round(int timeout_ms, tl_handler sink, void *ctx)
{
    net_event evs[128];
    box *act[MAX_ENGINES];
    int nact = 0, got = 0;
    for (int i = 0; i < MAX_ENGINES; i++)
        if (g_boxes[i].used && !g_boxes[i].held)
            act[nact++] = &g_boxes[i];
    if (nact == 0) {
        tl_sleep_ms(timeout_ms < 5 ? timeout_ms : 5);
        return 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < nact; i++) {
            box *b = act[i];
            int t = 0;
            if (nact == 1)
                t = timeout_ms;
            else if (pass == 1) /* nothing anywhere: block a little on one of them */
                t = (b == act[g_rr % (size_t)nact]) ? (timeout_ms < 1 ? timeout_ms : 1) : 0;
            if (pass == 1 && t == 0)
                continue;
            int n = net_poll(b->e, evs, (int)(sizeof evs / sizeof evs[0]), t);
            CHECKF(n >= 0, "net_poll returned %d (%s)", n, tl_errname(n));
            for (int k = 0; k < n; k++) {
                check_event(b, &evs[k]);
                if (sink && b->head == b->tail)
                    sink(ctx, b->e, &evs[k]);
                else
                    box_push(b, &evs[k]);
            }
            got += n;
        }
        if (got || nact == 1 || timeout_ms <= 0)
            break;
        g_rr++;
    }
    return got;
}

void tl_pump(int ms)
{
    uint64_t end = tl_now_ms() + (uint64_t)(ms > 0 ? ms : 0);
    do {
        uint64_t now = tl_now_ms();
        int left = now < end ? (int)(end - now) : 0;
        pump_round(left < 10 ? left : 10, NULL, NULL);
    } while (tl_now_ms() < end);
}

int tl_wait_match(net_engine e, tl_match_fn match, void *arg, net_event *ev, int timeout_ms)
{
    free(g_last);
    g_last = NULL;
    box *b = find_box(e);
    uint64_t end = tl_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    size_t scanned = 0; /* items before head+scanned were looked at already */
    int polled = 0;     /* a zero timeout still polls once */
    for (;;) {
        for (size_t i = b->head + scanned; i < b->tail; i++) {
            if (match(&b->items[i].ev, arg)) {
                item it;
                box_remove(b, i, &it);
                *ev = it.ev;
                g_last = it.copy;
                return 1;
            }
        }
        scanned = b->tail - b->head;
        uint64_t now = tl_now_ms();
        if (now >= end && polled)
            return 0;
        int left = now < end ? (int)(end - now) : 0;
        pump_round(left < 20 ? left : 20, NULL, NULL);
        polled = 1;
    }
}

typedef struct want {
    uint32_t type;
    net_handle h;
} want;

static int match_want(const net_event *ev, void *arg)
{
    const want *w = (const want *)arg;
    return (w->type == NET_EV_NONE || ev->type == w->type) && (w->h == 0 || ev->handle == w->h);
}

int tl_wait(net_engine e, uint32_t type, net_handle h, net_event *ev, int timeout_ms)
{
    want w = {type, h};
    return tl_wait_match(e, match_want, &w, ev, timeout_ms);
}

int tl_next(net_engine e, net_event *ev, int timeout_ms)
{
    return tl_wait(e, NET_EV_NONE, 0, ev, timeout_ms);
}

size_t tl_pending(net_engine e, uint32_t type, net_handle h)
{
    box *b = find_box(e);
    want w = {type, h};
    size_t n = 0;
    for (size_t i = b->head; i < b->tail; i++)
        n += (size_t)match_want(&b->items[i].ev, &w);
    return n;
}

void tl_discard(net_engine e)
{
    box_clear(find_box(e));
}

int tl_run(tl_handler handler, void *ctx, tl_pred done, int timeout_ms)
{
    uint64_t end = tl_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    int polled = 0; /* a zero timeout still polls once */
    for (;;) {
        for (int i = 0; i < MAX_ENGINES; i++) {
            box *b = &g_boxes[i];
            while (b->used && !b->held && b->head < b->tail) {
                item it = b->items[b->head++];
                if (b->head == b->tail)
                    b->head = b->tail = 0;
                handler(ctx, b->e, &it.ev);
                free(it.copy);
            }
        }
        if (done && done(ctx))
            return 1;
        uint64_t now = tl_now_ms();
        if (now >= end && polled)
            return done ? 0 : 1;
        int left = now < end ? (int)(end - now) : 0;
        pump_round(left < 20 ? left : 20, handler, ctx);
        polled = 1;
        if (done && done(ctx))
            return 1;
    }
}

/* ------------------------------------------------------------------- TCP */

void tl_tcp(net_tcp_config *cfg, uint32_t framing, uint32_t flags_add)
{
    net_tcp_config_init(cfg);
    cfg->framing = framing;
    cfg->flags |= flags_add;
}

net_handle tl_listen(net_engine e, const net_tcp_config *cfg, uint16_t *port)
{
    net_tcp_config def;
    if (!cfg) {
        net_tcp_config_init(&def);
        cfg = &def;
    }
    net_handle l = 0;
    CHECK_OK(net_listen(e, "127.0.0.1", 0, cfg, &l));
    CHECK(l != 0);
    net_addr a;
    memset(&a, 0, sizeof a);
    CHECK_OK(net_local_addr(l, &a));
    CHECK_EQ(a.family, NET_AF_INET);
    CHECK(a.port != 0);
    if (port)
        *port = a.port;
    return l;
}

net_handle tl_connect(net_engine e, uint16_t port, const net_tcp_config *cfg)
{
    net_tcp_config def;
    if (!cfg) {
        net_tcp_config_init(&def);
        cfg = &def;
    }
    net_handle c = 0;
    CHECK_OK(net_connect(e, "127.0.0.1", port, cfg, &c));
    CHECK(c != 0);
    return c;
}

typedef struct accept_want {
    net_handle listener;
    net_addr local;
} accept_want;

static int match_accept(const net_event *ev, void *arg)
{
    const accept_want *w = (const accept_want *)arg;
    return ev->type == NET_EV_ACCEPT && ev->parent == w->listener && ev->addr.port == w->local.port &&
           ev->addr.family == w->local.family;
}

net_handle tl_accept_of(net_engine se, net_handle listener, net_handle client)
{
    accept_want w;
    memset(&w, 0, sizeof w);
    w.listener = listener;
    CHECK_OK(net_local_addr(client, &w.local));
    net_event ev;
    CHECKF(tl_wait_match(se, match_accept, &w, &ev, TL_TIMEOUT_MS), "no ACCEPT for client port %u",
           (unsigned)w.local.port);
    CHECK_EQ(ev.status, 0);
    return ev.handle;
}

void tl_pair(net_engine ce, net_engine se, net_handle listener, uint16_t port, const net_tcp_config *ccfg,
             net_handle *client, net_handle *server)
{
    net_handle c = tl_connect(ce, port, ccfg);
    net_event ev;
    TL_EXPECT(ce, NET_EV_CONNECT, c, &ev);
    CHECKF(ev.status == 0, "CONNECT status %d (%s)", (int)ev.status, tl_errname(ev.status));
    *client = c;
    *server = tl_accept_of(se, listener, c);
}

void tl_pairs(net_engine ce, net_engine se, net_handle listener, uint16_t port, const net_tcp_config *ccfg, int n,
              net_handle *clients, net_handle *servers)
{
    for (int i = 0; i < n; i++)
        tl_pair(ce, se, listener, port, ccfg, &clients[i], &servers[i]);
}

void tl_closing_and_stale(net_engine ce, net_engine se, net_handle listener, uint16_t port, const net_tcp_config *ccfg,
                          net_handle *closing, net_handle *stale)
{
    net_handle c;
    tl_pair(ce, se, listener, port, ccfg, &c, closing);
    tl_pair(ce, se, listener, port, ccfg, &c, stale);
    CHECK_EQ(tl_close_wait(se, *stale), 0);
}

int tl_close_wait(net_engine e, net_handle h)
{
    CHECK_OK(net_close(h));
    net_event ev;
    TL_EXPECT(e, NET_EV_CLOSE, h, &ev);
    return ev.status;
}

void tl_send(net_handle c, const void *data, uint32_t len)
{
    uint64_t end = tl_now_ms() + TL_TIMEOUT_MS;
    for (;;) {
        int rc = net_send(c, data, len);
        if (rc == NET_OK)
            return;
        CHECKF(rc == NET_E_WOULDBLOCK, "net_send(%u bytes) returned %d (%s)", (unsigned)len, rc, tl_errname(rc));
        CHECKF(tl_now_ms() < end, "net_send still NET_E_WOULDBLOCK after %d ms", TL_TIMEOUT_MS);
        tl_pump(1);
    }
}

/* ------------------------------------------------------------------- UDP */

net_handle tl_udp(net_engine e, const char *host, const net_udp_config *cfg, net_addr *addr)
{
    net_udp_config def;
    if (!cfg) {
        net_udp_config_init(&def);
        cfg = &def;
    }
    if (!host)
        host = "127.0.0.1";
    net_handle u = 0;
    int rc = net_udp_open(e, host, 0, cfg, &u);
    CHECKF(rc == NET_OK, "net_udp_open(\"%s\", 0) returned %d (%s)", host, rc, tl_errname(rc));
    CHECK(u != 0);
    net_addr a;
    memset(&a, 0, sizeof a);
    CHECK_OK(net_local_addr(u, &a));
    CHECKF(a.family == NET_AF_INET || a.family == NET_AF_INET6, "UDP local address family %u", (unsigned)a.family);
    CHECK(a.port != 0);
    if (addr)
        *addr = a;
    return u;
}

int tl_addr_eq(const net_addr *a, const net_addr *b)
{
    if (a->family != b->family || a->port != b->port)
        return 0;
    if (a->family == NET_AF_INET)
        return memcmp(a->ip, b->ip, 4) == 0;
    return memcmp(a->ip, b->ip, 16) == 0 && a->scope_id == b->scope_id;
}

const char *tl_addr_str(const net_addr *a)
{
    static char bufs[4][64];
    static unsigned next;
    char *buf = bufs[next++ % 4];
    if (net_addr_format(a, buf, sizeof bufs[0]) < 0)
        snprintf(buf, sizeof bufs[0], "(family %u port %u)", (unsigned)a->family, (unsigned)a->port);
    return buf;
}

int tl_under_wine(void)
{
#if defined(_WIN32)
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    if (ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL)
        return 1;
    return getenv("WINEPREFIX") != NULL;
#else
    return 0;
#endif
}

/* --------------------------------------------------------------- patterns */

void tl_fill(void *buf, size_t len, uint64_t seed, uint64_t off)
{
    uint8_t *p = (uint8_t *)buf;
    for (size_t i = 0; i < len; i++)
        p[i] = tl_pat(seed, off + i);
}

long long tl_mismatch(const void *buf, size_t len, uint64_t seed, uint64_t off)
{
    const uint8_t *p = (const uint8_t *)buf;
    for (size_t i = 0; i < len; i++)
        if (p[i] != tl_pat(seed, off + i))
            return (long long)i;
    return -1;
}

void tl_expect_pattern(net_engine e, net_handle h, uint32_t len, uint64_t seed)
{
    net_event ev;
    TL_EXPECT(e, NET_EV_DATA, h, &ev);
    CHECKF(ev.len == len, "DATA of %u bytes, expected %u (seed %llu)", (unsigned)ev.len, (unsigned)len,
           (unsigned long long)seed);
    long long bad = tl_mismatch(ev.data, ev.len, seed, 0);
    CHECKF(bad < 0, "seed %llu: byte %lld differs", (unsigned long long)seed, bad);
}

void tl_forward_until(net_engine se, net_handle to, int want, int batch)
{
    CHECK(batch > 0 && batch <= 64);
    int done = 0;
    uint64_t give_up = tl_now_ms() + TL_TIMEOUT_MS;
    tl_engine_hold(se, 1);
    while (done < want) {
        CHECKF(tl_now_ms() < give_up, "forwarded %d of %d payloads", done, want);
        tl_pump(0);
        net_event evs[64];
        int results[64];
        int n = net_poll(se, evs, batch, 5);
        CHECKF(n >= 0, "net_poll: %d (%s)", n, tl_errname(n));
        int data = 0;
        for (int i = 0; i < n; i++) {
            uint32_t t = evs[i].type;
            CHECKF(t == NET_EV_DATA || t == NET_EV_SEND_HIGHWATER || t == NET_EV_SEND_DRAINED,
                   "unexpected %s (status %d) while forwarding", tl_evname(t), (int)evs[i].status);
            data += t == NET_EV_DATA;
            results[i] = 12345;
        }
        CHECK_RC(net_forward_data(evs, n, to, results), data);
        for (int i = 0; i < n; i++)
            CHECKF(results[i] == (evs[i].type == NET_EV_DATA ? 0 : 1), "event %d (%s): result %d", i,
                   tl_evname(evs[i].type), results[i]);
        done += data;
    }
    CHECK_EQ(done, want);
    tl_engine_hold(se, 0); /* the checks' waits poll it again: its sends go out */
}

void tl_put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void tl_put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[n - 1 - i] = (uint8_t)(v >> (8 * i));
}

uint64_t tl_get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
