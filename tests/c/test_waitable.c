/* waitable: an engine driven only through net_engine_waitable, as another
 * event loop would drive it: wait until the descriptor is ready (poll() /
 * WaitForSingleObject), then net_poll(e, ev, MAX, 0) until it returns fewer
 * than MAX. No net_poll of this engine ever waits. Each of TIMER, a
 * net_post from another thread, ACCEPT, DATA, CONNECT and CLOSE must make it
 * ready; a send asked for between polls must go out (io_threads = 0: only a
 * poll does I/O); drained, it is not ready (one spurious readiness
 * allowed, then net_poll returns 0); many posts from another thread lose no
 * wake-up; the second call returns the same descriptor; bad handles and a
 * NULL out are refused. The peer is an engine with its own I/O thread,
 * polled directly. */
#include "testlib.h"

#include <stdatomic.h>

#define MAX 4 /* small, so draining takes several polls */
#define POSTS 20000

typedef struct got {
    net_event ev;
    char data[64];
} got;

typedef struct waited {
    net_engine e;
    intptr_t fd;
    got box[256];
    int n;
} waited;

/* The rule of net.h: net_poll(.., 0) until it returns fewer than MAX. */
static int drain(waited *w)
{
    net_event evs[MAX];
    int total = 0, n;
    do {
        n = net_poll(w->e, evs, MAX, 0);
        CHECKF(n >= 0, "net_poll: %s", tl_errname(n));
        for (int i = 0; i < n; i++) {
            CHECKF(w->n < (int)(sizeof w->box / sizeof w->box[0]), "mailbox full");
            got *g = &w->box[w->n++];
            g->ev = evs[i];
            g->ev.data = NULL;
            if (evs[i].len && (evs[i].type == NET_EV_DATA || evs[i].type == NET_EV_DATAGRAM)) {
                size_t len = evs[i].len < sizeof g->data ? evs[i].len : sizeof g->data;
                memcpy(g->data, evs[i].data, len);
            }
        }
        total += n;
    } while (n == MAX);
    return total;
}

/* Takes the first event of type (and handle h unless 0) out of the box. */
static int take(waited *w, uint32_t type, net_handle h, got *out)
{
    for (int i = 0; i < w->n; i++) {
        if (w->box[i].ev.type == type && (!h || w->box[i].ev.handle == h)) {
            *out = w->box[i];
            memmove(&w->box[i], &w->box[i + 1], (size_t)(w->n - i - 1) * sizeof w->box[0]);
            w->n--;
            return 1;
        }
    }
    return 0;
}

/* Waits on the descriptor only; fails when it stays unready for 5 s while
 * the event has not come. */
static got expect(waited *w, uint32_t type, net_handle h)
{
    got g;
    uint64_t until = tl_now_ms() + 5000;
    while (!take(w, type, h, &g)) {
        int left = (int)(until - tl_now_ms());
        CHECKF(left > 0 && tl_wait_ready(w->fd, left), "no readiness for %s within 5 s", tl_evname(type));
        drain(w);
    }
    return g;
}

/* Drained and nothing pending: not ready, or once spuriously (then
 * net_poll finds nothing) and then not ready. With io_threads = 0 and
 * sockets open the housekeeping tick is due every 100 ms: that readiness
 * is work, so look at once, not over a window. */
static void expect_quiet(waited *w)
{
    CHECK_EQ(drain(w), 0);
    if (!tl_wait_ready(w->fd, 0))
        return;
    CHECK_EQ(drain(w), 0);
    CHECKF(!tl_wait_ready(w->fd, 0), "ready twice with nothing to poll");
}

/* ---- the peer: its own I/O thread, polled directly ---- */

static net_engine peer_engine(void)
{
    net_config cfg;
    net_config_init(&cfg);
    cfg.io_threads = 1;
    net_engine p = 0;
    CHECK_OK(net_engine_create(&cfg, &p));
    return p;
}

static net_event peer_expect(net_engine p, uint32_t type, char *data, size_t cap)
{
    net_event ev;
    uint64_t until = tl_now_ms() + 5000;
    for (;;) {
        int left = (int)(until - tl_now_ms());
        CHECKF(left > 0, "peer: no %s within 5 s", tl_evname(type));
        if (net_poll(p, &ev, 1, left) == 1 && ev.type == type) {
            if (data && ev.len < cap) {
                memcpy(data, ev.data, ev.len);
                data[ev.len] = 0;
            }
            return ev;
        }
    }
}

/* ---- scenarios ---- */

typedef struct poster {
    net_engine e;
    int count;
    atomic_int go;
} poster;

static void post_main(void *arg)
{
    poster *p = (poster *)arg;
    while (!atomic_load(&p->go))
        tl_sleep_ms(1);
    for (int i = 0; i < p->count; i++)
        CHECK_OK(net_post(p->e, (uint64_t)i + 1));
}

/* Every post arrives, in order, through readiness alone: a wake-up lost
 * between a drain and the next post would leave the loop waiting 5 s. */
static void posts_from_thread(waited *w, int count)
{
    poster p = {w->e, count, 0};
    tl_thread *t = tl_thread_start(post_main, &p);
    atomic_store(&p.go, 1);
    net_event evs[MAX];
    int seen = 0;
    while (seen < count) {
        CHECKF(tl_wait_ready(w->fd, 5000), "not ready for 5 s after %d of %d posts", seen, count);
        int n;
        do {
            n = net_poll(w->e, evs, MAX, 0);
            CHECKF(n >= 0, "net_poll: %s", tl_errname(n));
            for (int i = 0; i < n; i++) {
                CHECKF(evs[i].type == NET_EV_USER, "unexpected %s", tl_evname(evs[i].type));
                CHECKF(evs[i].user == (uint64_t)seen + 1, "post %d arrived as %llu", seen + 1,
                       (unsigned long long)evs[i].user);
                seen++;
            }
        } while (n == MAX);
    }
    tl_thread_join(t);
    expect_quiet(w);
}

static void errors(net_engine e, intptr_t fd)
{
    intptr_t again = -2;
    CHECK_OK(net_engine_waitable(e, &again));
    CHECK_EQ(again, fd);
    CHECK_RC(net_engine_waitable(e, NULL), NET_E_INVAL);
    CHECK_RC(net_engine_waitable(0, &again), NET_E_BADHANDLE);
    CHECK_RC(net_engine_waitable(e ^ ((net_engine)1 << 40), &again), NET_E_BADHANDLE);
    net_engine gone = tl_engine();
    tl_engine_destroy(gone);
    CHECK_RC(net_engine_waitable(gone, &again), NET_E_BADHANDLE);
}

/* ACCEPT, DATA and a reply sent between polls, CLOSE from the peer. */
static void server_side(waited *w, net_engine peer)
{
    uint16_t port;
    net_tcp_config tc;
    tl_tcp(&tc, NET_FRAMING_U16LE, 0);
    net_handle ls = 0;
    CHECK_OK(net_listen(w->e, "127.0.0.1", 0, &tc, &ls));
    net_addr la;
    CHECK_OK(net_local_addr(ls, &la));
    port = la.port;
    net_handle pc = 0;
    CHECK_OK(net_connect(peer, "127.0.0.1", port, &tc, &pc));
    got acc = expect(w, NET_EV_ACCEPT, 0);
    CHECK_EQ(acc.ev.parent, ls);
    peer_expect(peer, NET_EV_CONNECT, NULL, 0);
    expect_quiet(w);

    CHECK_OK(net_send(pc, "ping", 4));
    got d = expect(w, NET_EV_DATA, acc.ev.handle);
    CHECK(d.ev.len == 4 && memcmp(d.data, "ping", 4) == 0);
    /* Asked for between polls: with io_threads = 0 only the next poll
     * sends it, so the descriptor must say so. */
    CHECK_OK(net_send(acc.ev.handle, "pong", 4));
    char reply[16] = {0};
    uint64_t until = tl_now_ms() + 5000;
    net_event pev;
    for (;;) {
        CHECKF(tl_now_ms() < until, "the reply never reached the peer");
        if (tl_wait_ready(w->fd, 5))
            drain(w);
        if (net_poll(peer, &pev, 1, 5) == 1 && pev.type == NET_EV_DATA) {
            memcpy(reply, pev.data, pev.len < 15 ? pev.len : 15);
            break;
        }
    }
    CHECK(strcmp(reply, "pong") == 0);
    expect_quiet(w);

    CHECK_OK(net_close(pc));
    got c = expect(w, NET_EV_CLOSE, acc.ev.handle);
    CHECK_EQ(c.ev.status, 0);
    peer_expect(peer, NET_EV_CLOSE, NULL, 0);
    expect_quiet(w);
    CHECK_OK(net_close(ls));
    expect(w, NET_EV_CLOSE, ls);
}

/* CONNECT to the peer's listener, then our close. */
static void client_side(waited *w, net_engine peer)
{
    net_tcp_config tc;
    tl_tcp(&tc, NET_FRAMING_U16LE, 0);
    net_handle pl = 0;
    CHECK_OK(net_listen(peer, "127.0.0.1", 0, &tc, &pl));
    net_addr la;
    CHECK_OK(net_local_addr(pl, &la));
    net_handle c = 0;
    CHECK_OK(net_connect(w->e, "127.0.0.1", la.port, &tc, &c));
    got g = expect(w, NET_EV_CONNECT, c);
    CHECK_EQ(g.ev.status, 0);
    net_event acc = peer_expect(peer, NET_EV_ACCEPT, NULL, 0);
    expect_quiet(w);
    CHECK_OK(net_close(c));
    expect(w, NET_EV_CLOSE, c);
    peer_expect(peer, NET_EV_CLOSE, NULL, 0);
    (void)acc;
    CHECK_OK(net_close(pl));
    expect_quiet(w);
}

int main(void)
{
    tl_init("waitable");
    waited *w = tl_xmalloc(sizeof *w);
    memset(w, 0, sizeof *w);
    w->e = tl_engine();
    tl_engine_hold(w->e, 1); /* testlib never polls it: only the descriptor drives it */
    CHECK_OK(net_engine_waitable(w->e, &w->fd));
    errors(w->e, w->fd);

    /* Ready when first handed out; drained, quiet. */
    CHECK(tl_wait_ready(w->fd, 0));
    expect_quiet(w);

    net_handle tm = 0;
    uint64_t t0 = tl_now_ms();
    CHECK_OK(net_timer_start(w->e, 30, 0, 42, &tm));
    got g = expect(w, NET_EV_TIMER, tm);
    CHECK_EQ(g.ev.user, 42);
    CHECKF(tl_now_ms() - t0 >= 25, "TIMER after %llu ms", (unsigned long long)(tl_now_ms() - t0));
    expect_quiet(w);

    posts_from_thread(w, 1);
    CHECK_OK(net_wakeup(w->e));
    CHECK(tl_wait_ready(w->fd, 1000));
    expect_quiet(w);

    net_engine peer = peer_engine();
    server_side(w, peer);
    client_side(w, peer);
    posts_from_thread(w, POSTS);

    /* Nothing open, no timer: no tick either, so quiet over a window. */
    CHECK_OK(net_engine_destroy(peer));
    expect_quiet(w);
    int spurious = 0;
    uint64_t until = tl_now_ms() + 150;
    while (tl_now_ms() < until)
        if (tl_wait_ready(w->fd, (int)(until - tl_now_ms())) && drain(w) == 0)
            CHECKF(++spurious <= 1, "ready %d times with nothing to poll", spurious);
    tl_engine_destroy(w->e);
    free(w);
    printf("waitable: ok\n");
    return 0;
}
