/* engine.c - engines, their loops and threads, the event queue and net_poll. */
#include <stdlib.h>
#include <string.h>
#include "testhooks.h"
#include "core.h"

typedef struct net_held {
    net_block *blk;
    int refs;
} net_held;

typedef struct net_pending_item {
    net_obj *obj;
    uint32_t ops;
} net_pending_item;

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

/* ---- the event queue ---- */

static int on_poll_thread(net_engine_s *e)
{
    return atomic_load(&e->poll_thread) == os_thread_self();
}

/* Called with qlock held, after an event went in: wakes whoever waits. */
static void signal_poller_unlock(net_engine_s *e)
{
    int signal = e->poller_waiting;
    if (signal)
        e->poller_waiting = 0;
    os_mutex_unlock(&e->qlock);
    if (signal)
        os_cond_signal(&e->qcond);
    else if (!e->threaded && !on_poll_thread(e))
        net__wake_poller(e);
}

int net__push_event(net_engine_s *e, const net_event *ev, net_block *blk, void *obj)
{
    os_mutex_lock(&e->qlock);
    int rc = net_queue_push(&e->queue, ev, blk, obj);
    signal_poller_unlock(e);
    return rc;
}

void net__push_reserved(net_engine_s *e, const net_event *ev, void *obj)
{
    os_mutex_lock(&e->qlock);
    net_queue_push_reserved(&e->queue, ev, NULL, obj);
    signal_poller_unlock(e);
}

int net__reserve_events(net_engine_s *e, uint32_t n)
{
    os_mutex_lock(&e->qlock);
    int rc = net_queue_reserve(&e->queue, n);
    os_mutex_unlock(&e->qlock);
    return rc;
}

void net__unreserve_events(net_engine_s *e, uint32_t n)
{
    os_mutex_lock(&e->qlock);
    net_queue_unreserve(&e->queue, n);
    os_mutex_unlock(&e->qlock);
}

void net__wake_poller(net_engine_s *e)
{
    if (e->threaded) {
        os_mutex_lock(&e->qlock);
        e->poller_waiting = 0;
        os_mutex_unlock(&e->qlock);
        os_cond_signal(&e->qcond);
    } else if (!atomic_exchange(&e->loops[0].wake_pending, 1)) {
        e->bk->wake(&e->loops[0]);
    }
}

/* ---- loops ---- */

int net__on_loop_thread(net_loop *loop)
{
    if (!loop->e->threaded)
        return on_poll_thread(loop->e);
    return atomic_load(&loop->thread_id) == os_thread_self();
}

net_loop *net__pick_loop(net_engine_s *e)
{
    return &e->loops[atomic_fetch_add(&e->next_loop, 1) % e->nloops];
}

void net__loop_schedule(net_loop *loop, net_obj *o, uint32_t ops)
{
    net_spin_lock(&loop->pending_lock);
    o->pending_ops |= ops;
    if (!o->in_pending) {
        o->in_pending = 1;
        o->pprev = NULL;
        o->pnext = loop->pending_head;
        if (loop->pending_head)
            loop->pending_head->pprev = o;
        loop->pending_head = o;
    }
    net_spin_unlock(&loop->pending_lock);
    if (!net__on_loop_thread(loop) && !atomic_exchange(&loop->wake_pending, 1))
        loop->e->bk->wake(loop);
}

void net__loop_unschedule(net_loop *loop, net_obj *o)
{
    net_spin_lock(&loop->pending_lock);
    if (o->in_pending) {
        if (o->pprev)
            o->pprev->pnext = o->pnext;
        else
            loop->pending_head = o->pnext;
        if (o->pnext)
            o->pnext->pprev = o->pprev;
        o->in_pending = 0;
        o->pending_ops = 0;
    }
    net_spin_unlock(&loop->pending_lock);
}

static void run_pending(net_loop *loop)
{
    uint32_t n = 0;
    net_spin_lock(&loop->pending_lock);
    for (net_obj *o = loop->pending_head; o; o = o->pnext) {
        if (n == loop->work_cap) {
            uint32_t cap = loop->work_cap ? loop->work_cap * 2 : 256;
            net_pending_item *w = net__realloc(loop->work, cap * sizeof *w);
            if (!w)
                break; /* the rest stays scheduled for the next turn */
            loop->work = w;
            loop->work_cap = cap;
        }
        loop->work[n].obj = o;
        loop->work[n].ops = o->pending_ops;
        n++;
    }
    for (uint32_t i = 0; i < n; i++) {
        net_obj *o = loop->work[i].obj;
        o->in_pending = 0;
        o->pending_ops = 0;
        loop->pending_head = o->pnext;
        if (o->pnext)
            o->pnext->pprev = NULL;
    }
    net_spin_unlock(&loop->pending_lock);
    for (uint32_t i = 0; i < n; i++) {
        net_obj *o = loop->work[i].obj;
        if (o->kind == OBJ_CONN)
            net__conn_run_ops(loop, (net_conn *)o, loop->work[i].ops);
        else if (o->kind == OBJ_UDP)
            net__udp_run_ops(loop, (net_udp *)o, loop->work[i].ops);
        else
            net__listener_run_ops(loop, (net_listener *)o, loop->work[i].ops);
    }
}

static void loop_tick(net_loop *loop)
{
    for (net_conn *c = loop->conns, *next; c; c = next) {
        next = c->lnext;
        net__conn_tick(loop, c);
    }
    for (net_listener *l = loop->listeners; l; l = l->lnext)
        net__listener_tick(loop, l);
    for (net_udp *u = loop->udps, *next; u; u = next) {
        next = u->lnext;
        net__udp_tick(loop, u);
    }
}

/* One turn: what other threads asked for, then the backend's completions. */
static void loop_iterate(net_loop *loop, int timeout_ms)
{
    loop->now = os_now_ms();
    atomic_store(&loop->wake_pending, 0);
    run_pending(loop);
    for (net_conn *c = loop->linger, *next; c; c = next) {
        next = c->gnext;
        net__conn_linger_check(loop, c);
    }
    net_spin_lock(&loop->pending_lock);
    int more = loop->pending_head != NULL; /* scheduled while we ran the others */
    net_spin_unlock(&loop->pending_lock);
    if (more || loop->released) /* or closes to finish after the wait */
        timeout_ms = 0;
    if (loop->conns || loop->listeners || loop->udps) {
        int64_t until_tick = (int64_t)loop->next_tick - (int64_t)loop->now;
        if (until_tick < 0)
            until_tick = 0;
        if (timeout_ms < 0 || timeout_ms > until_tick)
            timeout_ms = (int)until_tick;
    }
    loop->e->bk->wait(loop, timeout_ms);
    net__finish_released(loop);
    loop->now = os_now_ms();
    if (loop->now >= loop->next_tick) {
        loop->next_tick = loop->now + NET_TICK_MS;
        loop_tick(loop);
    }
}

/* Closes everything the loop owns and waits until the backend released it. */
static void loop_teardown(net_loop *loop)
{
    loop->now = os_now_ms();
    run_pending(loop);
    net__conn_abort_all(loop);
    net__udp_abort_all(loop);
    uint64_t give_up = os_now_ms() + 5000;
    while ((loop->conns || loop->listeners || loop->linger || loop->udps) && os_now_ms() < give_up) {
        run_pending(loop);
        net__conn_abort_all(loop);
        net__udp_abort_all(loop);
        loop->e->bk->wait(loop, 10);
        net__finish_released(loop);
    }
}

/* After the loop threads are gone: a listener on one loop hands accepted
 * sockets to the others, and what it handed to a loop that had already
 * finished tearing down still waits in that loop's pending list, never
 * adopted by the backend. Closing those needs no backend, only the socket. */
static void loop_drop_unstarted(net_loop *loop)
{
    for (;;) {
        net_spin_lock(&loop->pending_lock);
        net_obj *o = loop->pending_head;
        net_spin_unlock(&loop->pending_lock);
        if (!o)
            return;
        net__loop_unschedule(loop, o);
        if (o->kind == OBJ_CONN && !((net_conn *)o)->attached)
            net__conn_run_ops(loop, (net_conn *)o, OP_ABORT);
        else if (o->kind == OBJ_UDP && !((net_udp *)o)->attached)
            net__udp_run_ops(loop, (net_udp *)o, OP_ABORT);
    }
}

static void loop_thread(void *arg)
{
    net_loop *loop = arg;
    atomic_store(&loop->thread_id, os_thread_self());
    while (!atomic_load(&loop->stop))
        loop_iterate(loop, -1);
    loop_teardown(loop);
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

static const char *const g_backend_names[] = {"auto", "epoll", "io_uring", "iocp"};

/* The first usable backend at or after *from that matches want; *from is
 * left on it so a caller can go on past it. */
static int pick_backend(uint32_t want, int *from, const net_backend **out)
{
    if (want == NET_BACKEND_AUTO) {
        const char *env = os_getenv("NET_BACKEND");
        if (env && *env && strcmp(env, "auto") != 0) {
            want = 99;
            for (uint32_t i = 1; i < 4; i++)
                if (strcmp(env, g_backend_names[i]) == 0)
                    want = i;
            if (want == 99)
                return NET_E_INVAL;
        }
    }
    if (want > NET_BACKEND_IOCP)
        return NET_E_INVAL;
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

/* ---- create / destroy ---- */

NET_API void net_config_init(net_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->backend = NET_BACKEND_AUTO;
    cfg->io_threads = 0;
    cfg->max_connections = 100000;
    cfg->max_message = 1u << 20;
    cfg->send_cap = 16u << 20;
    cfg->send_highwater = 1u << 20;
    cfg->send_lowwater = 64u << 10;
    cfg->recv_limit = 4u << 20;
    cfg->idle_timeout_ms = 0;
    cfg->close_timeout_ms = 5000;
    cfg->event_batch = 256;
}

static int read_config(const net_config *in, net_config *out)
{
    net_config_init(out);
    if (!in)
        return 0;
    if (in->size < offsetof(net_config, io_threads) + sizeof in->io_threads || in->size > 4096)
        return NET_E_INVAL;
    /* A caller built against an older header fills only its prefix. */
    size_t n = in->size < sizeof *out ? in->size : sizeof *out;
    memcpy(out, in, n);
    out->size = sizeof *out;
    net_config d;
    net_config_init(&d);
    if (out->max_message == 0)
        out->max_message = d.max_message;
    if (out->send_cap == 0)
        out->send_cap = d.send_cap;
    if (out->send_highwater == 0)
        out->send_highwater = d.send_highwater;
    if (out->recv_limit == 0)
        out->recv_limit = d.recv_limit;
    if (out->close_timeout_ms == 0)
        out->close_timeout_ms = d.close_timeout_ms;
    if (out->event_batch == 0 || out->event_batch > 4096)
        out->event_batch = d.event_batch;
    if (out->max_connections == 0)
        out->max_connections = d.max_connections;
    if (out->io_threads > 64 || out->send_lowwater > out->send_highwater || out->max_message > NET_MAX_MESSAGE)
        return NET_E_INVAL;
    /* The send queue must be able to hold the largest message with its
     * header, or sending it would fail for ever. */
    if ((uint64_t)out->max_message + NET_MAX_HEADER > out->send_cap)
        return NET_E_INVAL;
    return 0;
}

static void engine_release_resources(net_engine_s *e);

/* An object whose CLOSE event is handed out: nothing refers to it any more. */
static void free_closed(net_engine_s *e, net_obj *o)
{
    if (o->kind == OBJ_CONN)
        net__conn_free(e, (net_conn *)o);
    else if (o->kind == OBJ_UDP)
        net__udp_free(e, (net_udp *)o);
    else
        net__listener_free(e, (net_listener *)o);
}

NET_API int net_engine_create(const net_config *cfg, net_engine *out)
{
    if (!out)
        return NET_E_INVAL;
    *out = 0;
    net__faults_load();
    net_config c;
    int rc = read_config(cfg, &c);
    if (rc)
        return rc;
    if ((rc = os_init()) != 0)
        return rc;
    const net_backend *bk;
    int bk_index = 0;
    uint32_t want = c.backend;
    if ((rc = pick_backend(want, &bk_index, &bk)) != 0)
        return rc;
    if (want == NET_BACKEND_AUTO) {
        const char *env = os_getenv("NET_BACKEND");
        if (env && *env && strcmp(env, "auto") != 0)
            want = 99; /* named through the environment: no falling back */
    }

    /* Indices are handed out round robin so a freed one is reused late. */
    net_spin_lock(&g_engines_lock);
    net_engine_s *e = NULL;
    uint32_t index = 0;
    rc = NET_E_LIMIT; /* all taken, unless memory runs out first */
    for (uint32_t i = 0; i < NET_MAX_ENGINES; i++) {
        index = (g_next_engine + i) % NET_MAX_ENGINES;
        net_engine_s *cand = atomic_load(&g_engines[index]);
        if (!cand) {
            cand = net__calloc(1, sizeof *cand);
            if (!cand) {
                rc = NET_E_NOMEM;
                break;
            }
            cand->index = index;
            atomic_init(&cand->gen, 0);
            atomic_store(&g_engines[index], cand);
        }
        if (!atomic_load(&cand->alive) && atomic_load(&cand->calls) == 0 && !cand->loops) {
            e = cand;
            break;
        }
    }
    if (!e) {
        net_spin_unlock(&g_engines_lock);
        return rc;
    }
    g_next_engine = index + 1;
    uint32_t gen = atomic_load(&e->gen) + 1;
    if (gen == 0)
        gen = 1;
    atomic_store(&e->gen, gen);
    e->loops = (net_loop *)1; /* reserved while we set it up */
    net_spin_unlock(&g_engines_lock);

    e->cfg = c;
    e->bk = bk;
    e->threaded = c.io_threads > 0;
    e->nloops = c.io_threads ? c.io_threads : 1;
    atomic_store(&e->next_loop, 0);
    net_handles_init(&e->handles, index, gen);
    os_mutex_init(&e->qlock);
    os_cond_init(&e->qcond);
    net_queue_init(&e->queue);
    e->poller_waiting = e->wakeup = 0;
    atomic_store(&e->polling, 0);
    atomic_store(&e->poll_thread, 0);
    atomic_store(&e->poll_seq, 0);
    e->held = NULL;
    e->nheld = e->held_cap = 0;
    e->side = NULL;
    net_timers_init(&e->timers);
    atomic_store(&e->open_conns, 0);
    atomic_store(&e->conns_total, 0);
    atomic_store(&e->rejected, 0);
    atomic_store(&e->messages_out, 0);
    atomic_store(&e->send_queued, 0);
    atomic_store(&e->recv_paused, 0);
    atomic_store(&e->open_udps, 0);

    e->side = net__malloc(NET_POLL_CHUNK * sizeof *e->side);
    net_loop *loops = e->side ? net__calloc(e->nloops, sizeof *loops) : NULL;
    if (!loops) {
        rc = NET_E_NOMEM;
        goto fail_early;
    }
    e->loops = loops;
    uint32_t opened = 0;
    for (; opened < e->nloops; opened++) {
        net_loop *l = &loops[opened];
        l->e = e;
        l->index = opened;
        l->next_tick = os_now_ms() + NET_TICK_MS;
        if ((rc = bk->loop_open(l)) != 0) {
            /* A backend can probe fine and still fail here (memory limits
             * on its rings): auto moves on to the next one. */
            for (uint32_t i = 0; i < opened; i++)
                bk->loop_close(&loops[i]);
            bk_index++;
            if (want != NET_BACKEND_AUTO || pick_backend(want, &bk_index, &bk) != 0)
                goto fail_early;
            e->bk = bk;
            memset(loops, 0, e->nloops * sizeof *loops);
            opened = (uint32_t)-1; /* the loop's ++ starts over at 0 */
        }
    }
    atomic_store(&e->alive, 1);
    if (e->threaded) {
        for (uint32_t i = 0; i < e->nloops; i++) {
            if ((rc = os_thread_start(&loops[i].thread, loop_thread, &loops[i])) != 0) {
                for (uint32_t j = 0; j < i; j++) {
                    atomic_store(&loops[j].stop, 1);
                    bk->wake(&loops[j]);
                    os_thread_join(loops[j].thread);
                }
                atomic_store(&e->alive, 0);
                goto fail_loops;
            }
        }
    }
    *out = ((uint64_t)gen << 32) | (index + 1);
    return 0;

fail_loops:
    for (uint32_t i = 0; i < opened; i++)
        bk->loop_close(&loops[i]);
fail_early:
    engine_release_resources(e);
    return rc;
}

static void release_held(net_engine_s *e)
{
    for (uint32_t i = 0; i < e->nheld; i++)
        net_block_unref(e->held[i].blk, e->held[i].refs);
    e->nheld = 0;
}

static void free_leftover(void *obj, uint32_t type, void *ctx)
{
    (void)ctx;
    if (type == NET__T_TIMER)
        free(obj);
}

static void engine_release_resources(net_engine_s *e)
{
    if (e->loops && e->loops != (net_loop *)1) {
        for (uint32_t i = 0; i < e->nloops; i++) {
            net_block_unref(e->loops[i].rx_blk, 1);
            free(e->loops[i].work);
        }
        free(e->loops);
    }
    release_held(e);
    free(e->held);
    free(e->side);
    net_queue_free(&e->queue);
    net_handles_each(&e->handles, free_leftover, NULL);
    net_handles_free(&e->handles);
    net_timers_free(&e->timers);
    os_cond_destroy(&e->qcond);
    os_mutex_destroy(&e->qlock);
    net_spin_lock(&g_engines_lock);
    e->loops = NULL;
    e->held = NULL;
    e->side = NULL;
    net_spin_unlock(&g_engines_lock);
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

    if (e->threaded) {
        for (uint32_t i = 0; i < e->nloops; i++) {
            atomic_store(&e->loops[i].stop, 1);
            e->bk->wake(&e->loops[i]);
        }
        for (uint32_t i = 0; i < e->nloops; i++)
            os_thread_join(e->loops[i].thread);
        for (uint32_t i = 0; i < e->nloops; i++)
            loop_drop_unstarted(&e->loops[i]);
    } else {
        atomic_store(&e->poll_thread, os_thread_self());
        loop_teardown(&e->loops[0]);
    }
    for (uint32_t i = 0; i < e->nloops; i++) {
        e->bk->loop_close(&e->loops[i]);
        net__finish_released(&e->loops[i]); /* what the backend let go of as it closed */
    }

    /* Every connection and listener has its CLOSE queued now: free them. */
    net_event ev;
    net_qside side;
    while (net_queue_take(&e->queue, &ev, &side, 1) == 1) {
        net_block_unref(side.blk, 1);
        if (ev.type == NET_EV_CLOSE && side.obj)
            free_closed(e, side.obj);
    }
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
    for (uint32_t i = 0; i < e->nloops; i++) {
        s.bytes_in += atomic_load_explicit(&e->loops[i].stats.bytes_in, memory_order_relaxed);
        s.bytes_out += atomic_load_explicit(&e->loops[i].stats.bytes_out, memory_order_relaxed);
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

/* ---- polling ---- */

/* Room to hold n more payload blocks; deliver() makes it before it takes
 * events out, so holding one can never fail half way. */
static int held_room(net_engine_s *e, uint32_t n)
{
    if (e->held_cap - e->nheld >= n)
        return 0;
    uint32_t cap = e->held_cap ? e->held_cap : 256;
    while (cap - e->nheld < n)
        cap *= 2;
    net_held *h = net__realloc(e->held, cap * sizeof *h);
    if (!h)
        return NET_E_NOMEM;
    e->held = h;
    e->held_cap = cap;
    return 0;
}

static void hold_block(net_engine_s *e, net_block *b)
{
    if (e->nheld && e->held[e->nheld - 1].blk == b) {
        e->held[e->nheld - 1].refs++;
        return;
    }
    e->held[e->nheld].blk = b;
    e->held[e->nheld].refs = 1;
    e->nheld++;
}

static uint64_t next_timer_due(net_engine_s *e)
{
    net_spin_lock(&e->timers.lock);
    uint64_t due = net_timers_next(&e->timers);
    net_spin_unlock(&e->timers.lock);
    return due;
}

static void fire_timers(net_engine_s *e, uint64_t now)
{
    for (;;) {
        int rearmed = 0;
        net_event ev;
        net_spin_lock(&e->timers.lock);
        net_timer *tm = net_timers_pop_due(&e->timers, now, &rearmed);
        /* A repeating timer whose last TIMER is not polled yet gets no
         * second one: one event in its reserved room, not a backlog. */
        int push = tm && !tm->queued;
        if (push) {
            tm->queued = 1;
            memset(&ev, 0, sizeof ev);
            ev.type = NET_EV_TIMER;
            ev.handle = tm->handle;
            ev.user = atomic_load(&tm->user);
        }
        net_spin_unlock(&e->timers.lock);
        if (!tm)
            return;
        if (push)
            net__push_reserved(e, &ev, NULL);
    }
}

/* Hands out up to max events; CLOSE frees its object, a TIMER of a timer
 * closed meanwhile is dropped. Events come out of the queue NET_POLL_CHUNK
 * at a time, so what a poll needs beside the caller's array is fixed
 * whatever max the caller passes. */
static int deliver(net_engine_s *e, net_event *out, int max)
{
    uint64_t seq = atomic_load(&e->poll_seq);
    int kept = 0;
    while (kept < max) {
        uint32_t want = (uint32_t)(max - kept) < NET_POLL_CHUNK ? (uint32_t)(max - kept) : NET_POLL_CHUNK;
        if (held_room(e, want) != 0) { /* out of memory: what was taken so far, or the error */
            want = e->held_cap - e->nheld;
            if (want == 0)
                return kept ? kept : NET_E_NOMEM;
        }
        os_mutex_lock(&e->qlock);
        uint32_t n = net_queue_take(&e->queue, out + kept, e->side, want);
        os_mutex_unlock(&e->qlock);
        int first = kept;
        for (uint32_t i = 0; i < n; i++) {
            net_qside *s = &e->side[i];
            net_event *ev = &out[first + (int)i];
            if (s->blk)
                hold_block(e, s->blk);
            if (ev->type == NET_EV_DATA && s->obj) {
                net_conn *c = s->obj;
                atomic_store(&c->last_delivery_seq, seq);
                net__conn_delivered(e, c, ev);
            } else if (ev->type == NET_EV_DATAGRAM && s->obj) {
                net__udp_delivered(e, s->obj, ev);
            } else if (ev->type == NET_EV_CLOSE && s->obj) {
                free_closed(e, s->obj);
            } else if ((ev->type == NET_EV_SEND_HIGHWATER || ev->type == NET_EV_SEND_DRAINED) && s->obj) {
                net__conn_water_polled(s->obj);
            } else if (ev->type == NET_EV_ERROR && s->obj) {
                net__udp_error_polled(s->obj);
            } else if (ev->type == NET_EV_TIMER) {
                net_slot *slot = net_handle_lock(&e->handles, ev->handle, NET__TBIT(NET__T_TIMER));
                if (!slot) { /* closed after it fired: its reserved room was left for us to give up */
                    net__unreserve_events(e, NET_TIMER_EVENTS);
                    continue;
                }
                net_timer *tm = slot->obj;
                if (tm->repeat_ms == 0) { /* a one-shot timer's handle ends with its event */
                    net_slot_retire(&e->handles, slot);
                    net__unreserve_events(e, NET_TIMER_EVENTS);
                    free(tm);
                } else {
                    net_spin_lock(&e->timers.lock);
                    tm->queued = 0;
                    net_spin_unlock(&e->timers.lock);
                    net_slot_unlock(slot);
                }
            }
            if (kept != first + (int)i)
                out[kept] = *ev;
            kept++;
        }
        if (n < want)
            break;
    }
    return kept;
}

/* Milliseconds from now until a deadline, as a wait timeout (-1 = never). */
static int ms_until(uint64_t until, uint64_t now)
{
    if (until == UINT64_MAX)
        return -1;
    if (until <= now)
        return 0;
    return until - now > 0x7FFFFFFF ? 0x7FFFFFFF : (int)(until - now);
}

NET_API int net_poll(net_engine eh, net_event *events, int max, int timeout_ms)
{
    net_engine_s *e = net__engine_enter(eh);
    if (!e)
        return NET_E_BADHANDLE;
    if (!events || max <= 0) {
        net__engine_leave(e);
        return NET_E_INVAL;
    }
    int expected = 0;
    if (!atomic_compare_exchange_strong(&e->polling, &expected, 1)) {
        net__engine_leave(e);
        return NET_E_BUSY;
    }
    atomic_store(&e->poll_thread, os_thread_self());
    atomic_fetch_add(&e->poll_seq, 1);
    release_held(e);
    if (e->threaded) {
        /* Connections waiting for the script's reply to a peer's FIN can
         * finish now that the script has had its turn. */
        for (uint32_t i = 0; i < e->nloops; i++)
            if (atomic_load(&e->loops[i].lingering) && !atomic_exchange(&e->loops[i].wake_pending, 1))
                e->bk->wake(&e->loops[i]);
    }

    uint64_t start = os_now_ms();
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : start + (uint64_t)timeout_ms;
    int n = 0;
    for (;;) {
        uint64_t now = os_now_ms();
        fire_timers(e, now);
        uint64_t next_timer = next_timer_due(e);
        uint64_t until = deadline < next_timer ? deadline : next_timer;
        int wait_ms = ms_until(until, now);
        if (!e->threaded) {
            os_mutex_lock(&e->qlock);
            if (e->queue.count || e->wakeup)
                wait_ms = 0;
            os_mutex_unlock(&e->qlock);
            loop_iterate(&e->loops[0], wait_ms);
        }
        n = deliver(e, events, max);
        if (n != 0)
            break;
        os_mutex_lock(&e->qlock);
        if (e->wakeup) {
            e->wakeup = 0;
            os_mutex_unlock(&e->qlock);
            break;
        }
        now = os_now_ms();
        if (now >= deadline) {
            os_mutex_unlock(&e->qlock);
            break;
        }
        if (e->threaded && e->queue.count == 0) {
            next_timer = next_timer_due(e);
            until = deadline < next_timer ? deadline : next_timer;
            wait_ms = ms_until(until, now);
            if (wait_ms != 0) {
                e->poller_waiting = 1;
                os_cond_wait(&e->qcond, &e->qlock, wait_ms);
                e->poller_waiting = 0;
            }
        }
        os_mutex_unlock(&e->qlock);
    }
    atomic_store(&e->polling, 0);
    net__engine_leave(e);
    return n;
}

NET_API int net_wakeup(net_engine eh)
{
    net_engine_s *e = net__engine_enter(eh);
    if (!e)
        return NET_E_BADHANDLE;
    os_mutex_lock(&e->qlock);
    e->wakeup = 1;
    os_mutex_unlock(&e->qlock);
    net__wake_poller(e);
    net__engine_leave(e);
    return 0;
}

NET_API int net_post(net_engine eh, uint64_t value)
{
    net_engine_s *e = net__engine_enter(eh);
    if (!e)
        return NET_E_BADHANDLE;
    net_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = NET_EV_USER;
    ev.user = value;
    int rc = net__push_event(e, &ev, NULL, NULL);
    net__engine_leave(e);
    return rc;
}
