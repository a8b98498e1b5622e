/* loop.c - the I/O loops: the work other threads schedule on them, one turn
 * of a loop, its periodic tick, its thread, and closing all it owns. Also
 * the loop state backends read (backend.h). */
#include <stdlib.h>
#include <string.h>
#include "testhooks.h"
#include "core.h"

typedef struct net_pending_item {
    net_obj *obj;
    uint32_t ops;
} net_pending_item;

/* ---- what backends read ---- */

void **net__loop_bk(net_loop *loop)
{
    return &loop->bk;
}

uint32_t net__loop_index(const net_loop *loop)
{
    return loop->index;
}

uint32_t net__loop_batch(const net_loop *loop)
{
    return loop->e->cfg.event_batch;
}

int net__loop_threaded(const net_loop *loop)
{
    return loop->e->threaded;
}

void *net__recv_window(net_loop *loop, size_t *cap)
{
    net_block *b = loop->rx_blk;
    if (!b || b->cap - b->used < NET_RX_MIN_WINDOW) {
        net_block_unref(b, 1);
        b = loop->rx_blk = net_block_new(NET_RX_BLOCK_SIZE);
        if (!b) {
            *cap = 0;
            return NULL;
        }
    }
    *cap = b->cap - b->used;
    return b->data + b->used;
}

/* Room for len bytes (at most NET_RX_BLOCK_SIZE) at the end of the loop's
 * receive block, moving on to a fresh block when the current one has too
 * little left; NULL when memory runs out. */
static uint8_t *rx_room(net_loop *loop, size_t len)
{
    size_t cap;
    uint8_t *w = net__recv_window(loop, &cap);
    if (w && cap >= len)
        return w;
    if (len > NET_RX_BLOCK_SIZE)
        return NULL;
    /* The rest of the current block is too small: a fresh one. */
    net_block *b = net_block_new(NET_RX_BLOCK_SIZE);
    if (!b)
        return NULL;
    net_block_unref(loop->rx_blk, 1);
    loop->rx_blk = b;
    return b->data;
}

uint8_t *net__rx_copy(net_loop *loop, const void *data, size_t len)
{
    uint8_t *w = rx_room(loop, len);
    if (!w)
        return NULL;
    if (len)
        memcpy(w, data, len);
    loop->rx_blk->used += (uint32_t)len;
    return w;
}

const uint8_t *net__rx_keep(net_loop *loop, const void *data, size_t len, net_block **owner)
{
    uint8_t *w = len <= NET_RX_MIN_WINDOW ? net__rx_copy(loop, data, len) : NULL;
    if (w) { /* small: packed into the loop's receive block */
        *owner = loop->rx_blk;
        net_block_ref(*owner, 1);
        return w;
    }
    *owner = net_block_from(data, len);
    return *owner ? (*owner)->data : NULL;
}

/* ---- work other threads schedule ---- */

int net__on_loop_thread(net_loop *loop)
{
    if (!loop->e->threaded)
        return net__on_poll_thread(loop->e);
    return atomic_load(&loop->thread_id) == os_thread_self();
}

net_loop *net__pick_loop(net_engine_s *e)
{
    return &e->loops[atomic_fetch_add(&e->next_loop, 1) % e->nloops];
}

void net__loop_wake(net_loop *loop)
{
    if (atomic_exchange(&loop->wake_pending, LOOP_WAKE_ASKED) == LOOP_ASLEEP)
        loop->e->bk->wake(loop);
}

void net__loop_schedule(net_loop *loop, net_obj *o, uint32_t ops)
{
    net_spin_lock(&loop->pending_lock);
    o->pending_ops |= ops;
    if (!net_linked(&o->pending))
        net_list_push(&loop->pending, &o->pending);
    net_spin_unlock(&loop->pending_lock);
    if (!net__on_loop_thread(loop))
        net__loop_wake(loop);
    else if (atomic_load_explicit(&loop->wake_on_schedule, memory_order_relaxed))
        /* io_threads = 0: the script, between polls, asked for work that
         * only the next net_poll does; the wake (one per turn) makes the
         * backend's descriptor, and so the waitable, readable. */
        net__loop_wake(loop);
}

void net__loop_unschedule(net_loop *loop, net_obj *o)
{
    net_spin_lock(&loop->pending_lock);
    if (net_linked(&o->pending)) {
        net_list_remove(&o->pending);
        o->pending_ops = 0;
    }
    net_spin_unlock(&loop->pending_lock);
}

static int grow_work(net_loop *loop)
{
    uint32_t cap = loop->work_cap ? loop->work_cap * 2 : 256;
    net_pending_item *w = net__realloc(loop->work, cap * sizeof *w);
    if (!w)
        return 0;
    loop->work = w;
    loop->work_cap = cap;
    return 1;
}

/* Moves what is scheduled off the pending list into loop->work, as much as
 * that holds (the rest stays scheduled for the next turn); the ops run
 * after the lock is given back, so they may schedule more. */
static uint32_t take_pending(net_loop *loop)
{
    uint32_t n = 0;
    net_spin_lock(&loop->pending_lock);
    net_link *k = loop->pending;
    while (k && (n < loop->work_cap || grow_work(loop))) {
        net_obj *o = NET_CONTAINER_OF(k, net_obj, pending);
        k = k->next;
        loop->work[n].obj = o;
        loop->work[n].ops = o->pending_ops;
        n++;
        o->pending_ops = 0;
        net_list_remove(&o->pending);
    }
    net_spin_unlock(&loop->pending_lock);
    return n;
}

static void run_ops(net_loop *loop, net_obj *o, uint32_t ops)
{
    if (o->kind == OBJ_CONN)
        net__conn_run_ops(loop, (net_conn *)o, ops);
    else if (o->kind == OBJ_UDP)
        net__udp_run_ops(loop, (net_udp *)o, ops);
    else if (o->kind == OBJ_RUDP)
        net__rudp_run_ops(loop, (net_rudp_session *)o, ops);
    else
        net__listener_run_ops(loop, (net_listener *)o, ops);
}

static void run_pending(net_loop *loop)
{
    uint32_t n = take_pending(loop);
    for (uint32_t i = 0; i < n; i++)
        run_ops(loop, loop->work[i].obj, loop->work[i].ops);
}

/* ---- one turn ---- */

static void loop_tick(net_loop *loop)
{
    for (net_link *k = loop->conns, *next; k; k = next) {
        next = k->next;
        net__conn_tick(loop, (net_conn *)net__obj_of(k));
    }
    for (net_link *k = loop->listeners, *next; k; k = next) {
        next = k->next;
        net__listener_tick(loop, (net_listener *)net__obj_of(k));
    }
    for (net_link *k = loop->udps, *next; k; k = next) {
        next = k->next;
        net__udp_tick(loop, (net_udp *)net__obj_of(k));
    }
}

/* One turn: what other threads asked for, then the backend's completions. */
void net__loop_iterate(net_loop *loop, int timeout_ms)
{
    loop->now = os_now_ms();
    /* With io_threads the loop thread says when it is awake (wake_pending,
     * below), so the script's sends while it works cost no wake-up write
     * each; with io_threads = 0 a schedule between polls must always wake
     * the backend (the waitable), and the state is reset every turn. */
    int threaded = loop->e->threaded;
    if (!threaded)
        atomic_store(&loop->wake_pending, LOOP_ASLEEP);
    else
        net__poller_defer_begin(loop);
    run_pending(loop);
    for (net_link *k = loop->linger, *next; k; k = next) {
        next = k->next;
        net__conn_linger_check(loop, NET_CONTAINER_OF(k, net_conn, linger_node));
    }
    /* About to sleep: from here a wake-up must write to the backend. A
     * wake asked for while we were awake (work scheduled, a stop, a linger
     * nudge) is one more turn without sleeping, as its write would have
     * been: either we see LOOP_WAKE_ASKED here or the waker sees
     * LOOP_ASLEEP and writes. */
    if (threaded && atomic_exchange(&loop->wake_pending, LOOP_ASLEEP) == LOOP_WAKE_ASKED)
        timeout_ms = 0;
    net_spin_lock(&loop->pending_lock);
    int more = loop->pending != NULL; /* scheduled while we ran the others */
    net_spin_unlock(&loop->pending_lock);
    /* Work scheduled while we ran the others, or closes the backend already
     * released, must not wait for the next completion. */
    if (more || loop->released)
        timeout_ms = 0;
    if (loop->conns || loop->listeners || loop->udps) {
        int64_t until_tick = (int64_t)loop->next_tick - (int64_t)loop->now;
        if (until_tick < 0)
            until_tick = 0;
        if (timeout_ms < 0 || timeout_ms > until_tick)
            timeout_ms = (int)until_tick;
    }
    /* Reliable-UDP deadlines (retransmits, keep-alives) need better than the tick. */
    uint64_t rudp_due = net_timers_next(&loop->rudp_timers);
    if (rudp_due != UINT64_MAX) {
        int64_t until = (int64_t)rudp_due - (int64_t)loop->now;
        if (until < 0)
            until = 0;
        if (timeout_ms < 0 || timeout_ms > until)
            timeout_ms = (int)until;
    }
    if (threaded)
        net__poller_defer_flush(); /* what this turn pushed must not wait for the loop's sleep */
    loop->e->bk->wait(loop, timeout_ms);
    if (threaded)
        atomic_store(&loop->wake_pending, LOOP_AWAKE); /* the next turn looks at everything before it sleeps */
    net__finish_released(loop);
    loop->now = os_now_ms();
    net__rudp_timers_run(loop);
    if (loop->now >= loop->next_tick) {
        loop->next_tick = loop->now + NET_TICK_MS;
        loop_tick(loop);
    }
    if (threaded)
        net__poller_defer_end();
}

/* With io_threads, connections waiting for the script's reply to a peer's
 * FIN can finish once the script has had its turn: net_poll nudges them. */
void net__loops_wake_lingering(net_engine_s *e)
{
    if (!e->threaded)
        return;
    for (uint32_t i = 0; i < e->nloops; i++)
        if (atomic_load(&e->loops[i].lingering))
            net__loop_wake(&e->loops[i]);
}

/* ---- the end of a loop ---- */

static void close_everything(net_loop *loop)
{
    net__conn_abort_all(loop);
    net__listener_close_all(loop);
    net__udp_abort_all(loop);
}

/* Closes everything the loop owns and waits until the backend released it. */
static void loop_teardown(net_loop *loop)
{
    loop->now = os_now_ms();
    run_pending(loop);
    close_everything(loop);
    uint64_t give_up = os_now_ms() + 5000;
    while ((loop->conns || loop->listeners || loop->linger || loop->udps) && os_now_ms() < give_up) {
        run_pending(loop);
        close_everything(loop);
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
        net_link *k = loop->pending;
        net_spin_unlock(&loop->pending_lock);
        if (!k)
            return;
        net_obj *o = NET_CONTAINER_OF(k, net_obj, pending);
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
        net__loop_iterate(loop, -1);
    loop_teardown(loop);
}

/* ---- an engine's loops ---- */

/* Opens the e->nloops loops of e->loops (zeroed) on e->bk: all of them,
 * or (failing) none, the array left zeroed for another backend to try. */
int net__loops_open(net_engine_s *e)
{
    for (uint32_t i = 0; i < e->nloops; i++) {
        net_loop *l = &e->loops[i];
        l->e = e;
        l->index = i;
        l->next_tick = os_now_ms() + NET_TICK_MS;
        int rc = e->bk->loop_open(l);
        if (rc) {
            for (uint32_t j = 0; j < i; j++)
                e->bk->loop_close(&e->loops[j]);
            memset(e->loops, 0, e->nloops * sizeof *e->loops);
            return rc;
        }
    }
    return 0;
}

/* Stops the first n loop threads; each closes what its loop owns on the way out. */
static void stop_threads(net_engine_s *e, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        atomic_store(&e->loops[i].stop, 1);
        e->bk->wake(&e->loops[i]);
    }
    for (uint32_t i = 0; i < n; i++)
        os_thread_join(e->loops[i].thread);
}

/* io_threads >= 1: a thread per loop; all of them or none. */
int net__loops_start(net_engine_s *e)
{
    for (uint32_t i = 0; i < e->nloops; i++) {
        int rc = os_thread_start(&e->loops[i].thread, loop_thread, &e->loops[i]);
        if (rc) {
            stop_threads(e, i);
            return rc;
        }
    }
    return 0;
}

/* Closes every object the loops own (each gets its CLOSE queued) and stops
 * their threads; net_poll's thread does it for a loop it drives. */
void net__loops_stop(net_engine_s *e)
{
    if (e->threaded) {
        stop_threads(e, e->nloops);
        for (uint32_t i = 0; i < e->nloops; i++)
            loop_drop_unstarted(&e->loops[i]);
    } else {
        atomic_store(&e->poll_thread, os_thread_self());
        loop_teardown(&e->loops[0]);
    }
}

void net__loops_close(net_engine_s *e)
{
    for (uint32_t i = 0; i < e->nloops; i++) {
        e->bk->loop_close(&e->loops[i]);
        /* What the backend let go of as it closed. */
        net__finish_released(&e->loops[i]);
    }
}

void net__loops_free(net_engine_s *e)
{
    if (!e->loops)
        return;
    for (uint32_t i = 0; i < e->nloops; i++) {
        net_block_unref(e->loops[i].rx_blk, 1);
        free(e->loops[i].work);
        net_timers_free(&e->loops[i].rudp_timers);
    }
    free(e->loops);
    e->loops = NULL;
}
