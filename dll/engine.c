/* engine.c - engines: the table every call finds its engine in, choosing
 * a backend, creating and destroying an engine, and its statistics. */
#include <stdlib.h>
#include <string.h>
#include "testhooks.h"
#include "core.h"

/* Engines are never freed: a stale engine handle always points at valid
 * memory, whose generation then says "not yours". */
static _Atomic(net_engine_s *) g_engines[NET_MAX_ENGINES];
static atomic_uint g_engines_lock;
static uint32_t g_next_engine;

/* ---- engine lookup: every API call enters and leaves ---- */

static net_engine_s *enter_index(uint32_t index)
{
    if (index >= NET_MAX_ENGINES)
        return NULL;
    net_engine_s *e = atomic_load(&g_engines[index]);
    if (!e)
        return NULL;
    atomic_fetch_add(&e->calls, 1);
    if (!atomic_load(&e->alive)) {
        atomic_fetch_sub(&e->calls, 1);
        return NULL;
    }
    return e;
}

net_engine_s *net__engine_enter(net_engine eh)
{
    uint32_t low = (uint32_t)eh;
    if (low == 0 || (eh >> 32) == 0)
        return NULL;
    net_engine_s *e = enter_index(low - 1);
    if (e && atomic_load(&e->gen) != (uint32_t)(eh >> 32)) {
        net__engine_leave(e);
        return NULL;
    }
    return e;
}

net_engine_s *net__engine_enter_for(net_handle h)
{
    return h ? enter_index(net_handle_engine_index(h)) : NULL;
}

void net__engine_leave(net_engine_s *e)
{
    atomic_fetch_sub(&e->calls, 1);
}

int net__lock_handle(net_handle h, uint32_t type_mask, net_locked *out)
{
    out->e = net__engine_enter_for(h);
    if (!out->e)
        return NET_E_BADHANDLE;
    out->slot = net_handle_lock(&out->e->handles, h, type_mask);
    if (!out->slot) {
        net__engine_leave(out->e);
        return NET_E_BADHANDLE;
    }
    return 0;
}

void net__unlock_handle(net_locked *l)
{
    net_slot_unlock(l->slot);
    net__engine_leave(l->e);
}

/* ---- backends ---- */

static const net_backend *const g_backends[] = {
#ifdef NET_HAVE_URING
    &net__backend_uring,
#endif
#ifdef NET_HAVE_IOCP
    &net__backend_iocp,
#endif
#ifdef NET_HAVE_EPOLL
    &net__backend_epoll,
#endif
    NULL};

/* Indexed by NET_BACKEND_*. */
static const char *const g_backend_names[] = {"auto", "epoll", "io_uring", "iocp"};

/* The backend an engine is to run on: the config's, or with auto the one
 * NET_BACKEND names. One named either way gets no stand-in when it fails;
 * auto tries them all in order of preference. */
static int wanted_backend(uint32_t configured, uint32_t *want)
{
    *want = configured;
    const char *env = configured == NET_BACKEND_AUTO ? os_getenv("NET_BACKEND") : NULL;
    if (!env || !*env || strcmp(env, "auto") == 0)
        return configured <= NET_BACKEND_IOCP ? 0 : NET_E_INVAL;
    for (uint32_t i = NET_BACKEND_EPOLL; i <= NET_BACKEND_IOCP; i++)
        if (strcmp(env, g_backend_names[i]) == 0) {
            *want = i;
            return 0;
        }
    return NET_E_INVAL;
}

/* The first backend at or after *from that is wanted and probes fine here;
 * *from is left on it so a caller can go on past it. */
static int pick_backend(uint32_t want, int *from, const net_backend **out)
{
    int last = NET_E_UNSUPPORTED;
    for (int i = *from; g_backends[i]; i++) {
        if (want != NET_BACKEND_AUTO && strcmp(g_backends[i]->name, g_backend_names[want]) != 0)
            continue;
        last = g_backends[i]->probe();
        if (last == 0) {
            *out = g_backends[i];
            *from = i;
            return 0;
        }
        if (want != NET_BACKEND_AUTO)
            return last;
    }
    return want == NET_BACKEND_AUTO ? last : NET_E_UNSUPPORTED;
}

/* Opens the engine's loops on the backend picked at *from. A backend can
 * probe fine and still fail here (memory limits on its rings): with auto
 * the next one gets its turn. */
static int open_loops(net_engine_s *e, uint32_t want, int from)
{
    for (;;) {
        int rc = net__loops_open(e);
        if (rc == 0)
            return 0;
        from++;
        if (want != NET_BACKEND_AUTO || pick_backend(want, &from, &e->bk) != 0)
            return rc;
    }
}

/* ---- create / destroy ---- */

static void free_leftover(void *obj, uint32_t type, void *ctx)
{
    (void)ctx;
    if (type == NET__T_TIMER)
        free(obj);
}

/* Gives back what engine_init and the loops took, and the slot. */
static void engine_release_resources(net_engine_s *e)
{
    net__waitable_free(e);
    net__loops_free(e);
    net__release_held(e);
    free(e->held);
    free(e->side);
    net_queue_free(&e->queue);
    net_handles_each(&e->handles, free_leftover, NULL);
    net_handles_free(&e->handles);
    net_timers_free(&e->timers);
    os_cond_destroy(&e->qcond);
    os_mutex_destroy(&e->qlock);
    net_spin_lock(&g_engines_lock);
    e->held = NULL;
    e->side = NULL;
    e->claimed = 0;
    net_spin_unlock(&g_engines_lock);
}

/* A free engine slot, claimed (e->claimed) under g_engines_lock with a new
 * generation; indices are handed out round robin so a freed one is reused
 * late. NET_E_LIMIT when all are taken. */
static int claim_engine(net_engine_s **out)
{
    int rc = NET_E_LIMIT;
    *out = NULL;
    net_spin_lock(&g_engines_lock);
    for (uint32_t i = 0; i < NET_MAX_ENGINES && !*out; i++) {
        uint32_t index = (g_next_engine + i) % NET_MAX_ENGINES;
        net_engine_s *cand = atomic_load(&g_engines[index]);
        if (!cand) {
            if (!(cand = net__calloc(1, sizeof *cand))) {
                rc = NET_E_NOMEM;
                break;
            }
            cand->index = index;
            atomic_init(&cand->gen, 0);
            atomic_store(&g_engines[index], cand);
        }
        if (!atomic_load(&cand->alive) && atomic_load(&cand->calls) == 0 && !cand->claimed)
            *out = cand;
    }
    if (*out) {
        net_engine_s *e = *out;
        g_next_engine = e->index + 1;
        uint32_t gen = atomic_load(&e->gen) + 1;
        atomic_store(&e->gen, gen ? gen : 1);
        e->claimed = 1;
        rc = 0;
    }
    net_spin_unlock(&g_engines_lock);
    return rc;
}

/* Everything a claimed slot's previous engine left behind is reset. Its
 * identity (index, gen, alive, calls) stays: stale calls may be reading it. */
static int engine_init(net_engine_s *e, const net_config *c, const net_backend *bk)
{
    e->cfg = *c;
    e->bk = bk;
    e->threaded = c->io_threads > 0;
    e->nloops = c->io_threads ? c->io_threads : 1;
    e->loops = NULL;
    atomic_store(&e->next_loop, 0);
    net_handles_init(&e->handles, e->index, atomic_load(&e->gen));
    os_mutex_init(&e->qlock);
    os_cond_init(&e->qcond);
    net_queue_init(&e->queue);
    e->notify = 0;
    e->wakeup = 0;
    atomic_store(&e->waitable, NULL);
    atomic_store(&e->polling, 0);
    atomic_store(&e->poll_thread, 0);
    atomic_store(&e->poll_seq, 0);
    e->held = NULL;
    e->nheld = e->held_cap = e->held_next = 0;
    net_timers_init(&e->timers);
    atomic_store(&e->open_conns, 0);
    atomic_store(&e->conns_total, 0);
    atomic_store(&e->rejected, 0);
    atomic_store(&e->accepts_failed, 0);
    atomic_store(&e->caller_writes, 0);
    atomic_store(&e->messages_out, 0);
    atomic_store(&e->send_queued, 0);
    atomic_store(&e->recv_paused, 0);
    atomic_store(&e->open_udps, 0);
    e->side = net__malloc(NET_POLL_CHUNK * sizeof *e->side);
    e->loops = e->side ? net__calloc(e->nloops, sizeof *e->loops) : NULL;
    return e->loops ? 0 : NET_E_NOMEM;
}

NET_API int net_engine_create(const net_config *cfg, net_engine *out)
{
    if (!out)
        return NET_E_INVAL;
    *out = 0;
    net__faults_load();
    net_config c;
    const net_backend *bk;
    uint32_t want;
    int from = 0;
    int rc = net__read_config(cfg, &c);
    if (rc == 0)
        rc = os_init();
    if (rc == 0)
        rc = wanted_backend(c.backend, &want);
    if (rc == 0)
        rc = pick_backend(want, &from, &bk);
    net_engine_s *e;
    if (rc || (rc = claim_engine(&e)) != 0)
        return rc;
    if ((rc = engine_init(e, &c, bk)) != 0 || (rc = open_loops(e, want, from)) != 0) {
        engine_release_resources(e);
        return rc;
    }
    atomic_store(&e->alive, 1);
    if (e->threaded && (rc = net__loops_start(e)) != 0) {
        atomic_store(&e->alive, 0);
        net__loops_close(e);
        engine_release_resources(e);
        return rc;
    }
    *out = ((uint64_t)atomic_load(&e->gen) << 32) | (e->index + 1);
    return 0;
}

NET_API int net_engine_destroy(net_engine eh)
{
    net_engine_s *e = net__engine_enter(eh);
    if (!e)
        return NET_E_BADHANDLE;
    int expected = 1;
    if (!atomic_compare_exchange_strong(&e->alive, &expected, 0)) {
        net__engine_leave(e);
        return NET_E_BADHANDLE;
    }
    net__engine_leave(e);
    /* New calls now fail at the door; wait for those already inside. */
    while (atomic_load(&e->calls) != 0)
        os_yield();

    net__loops_stop(e);
    net__loops_close(e);

    /* Every connection, listener and UDP socket has its CLOSE queued now;
     * taking each CLOSE out frees its object. */
    net__discard_events(e);
    engine_release_resources(e);
    return 0;
}

NET_API const char *net_backend_name(net_engine eh)
{
    net_engine_s *e = net__engine_enter(eh);
    if (!e)
        return "";
    const char *name = e->bk->name;
    net__engine_leave(e);
    return name;
}

NET_API int net_engine_stats(net_engine eh, net_stats *st)
{
    if (!st || st->size < 2 * sizeof(uint64_t))
        return NET_E_INVAL;
    net_engine_s *e = net__engine_enter(eh);
    if (!e)
        return NET_E_BADHANDLE;
    net_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    s.connections = atomic_load(&e->open_conns);
    s.connections_total = atomic_load(&e->conns_total);
    s.accepts_rejected = atomic_load(&e->rejected);
    s.accepts_failed = atomic_load(&e->accepts_failed);
    s.caller_writes = atomic_load_explicit(&e->caller_writes, memory_order_relaxed);
    for (uint32_t i = 0; i < e->nloops; i++) {
        s.bytes_in += atomic_load_explicit(&e->loops[i].stats.bytes_in, memory_order_relaxed);
        s.bytes_out += atomic_load_explicit(&e->loops[i].stats.bytes_out, memory_order_relaxed);
        s.bytes_out += atomic_load_explicit(&e->loops[i].stats.bytes_out_elsewhere, memory_order_relaxed);
        s.messages_in += atomic_load_explicit(&e->loops[i].stats.messages_in, memory_order_relaxed);
        s.datagrams_in += atomic_load_explicit(&e->loops[i].stats.dgrams_in, memory_order_relaxed);
        s.datagrams_out += atomic_load_explicit(&e->loops[i].stats.dgrams_out, memory_order_relaxed);
        s.datagrams_dropped += atomic_load_explicit(&e->loops[i].stats.dgrams_dropped, memory_order_relaxed);
        s.datagram_send_errors += atomic_load_explicit(&e->loops[i].stats.dgram_send_errors, memory_order_relaxed);
    }
    s.messages_out = atomic_load(&e->messages_out);
    s.send_queued = atomic_load(&e->send_queued);
    s.recv_paused = atomic_load(&e->recv_paused);
    s.udp_sockets = atomic_load(&e->open_udps);
    os_mutex_lock(&e->qlock);
    s.queue_depth = e->queue.count;
    os_mutex_unlock(&e->qlock);
    uint32_t n = st->size < sizeof s ? st->size : (uint32_t)sizeof s;
    uint32_t caller_size = st->size;
    memcpy(st, &s, n);
    st->size = caller_size;
    net__engine_leave(e);
    return 0;
}
