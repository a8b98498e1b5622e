/* waitable.c - net_engine_waitable: one OS object (os.h's os_waitable)
 * another event loop waits on in place of a blocking net_poll.
 *
 * It is ready while any of these holds:
 * - raised: events are queued (or a net_wakeup is pending). Whoever pushes
 *   the first event after it was cleared raises it (e->notify's
 *   NOTIFY_WAITABLE, under qlock); net_poll clears it on its way out when
 *   nothing is left, so a burst of events costs one raise and one clear;
 * - the deadline passed: the engine's next timer, and with io_threads = 0
 *   the loop's housekeeping tick while it owns sockets;
 * - io_threads = 0: the backend has completions (its pollable descriptor
 *   in the set, or net__loop_signal), or work it will do without waiting
 *   (has_work, scheduled operations), which net_poll's end raises for.
 *
 * Nothing here runs for an engine nobody asked a waitable of: the hot
 * paths only test a flag (e->notify's bit when an event is pushed,
 * e->waitable once per net_poll, loop->wake_on_schedule when work is
 * scheduled from the polling thread). */
#include <stdlib.h>
#include "testhooks.h"
#include "core.h"

typedef struct net_waitable {
    os_waitable *os;
    net_engine_s *e;
    int raised; /* under e->qlock: os is raised */
    /* ---- under lock ---- */
    os_mutex lock;
    uint64_t deadline; /* what the OS timer is set to; 0: fired, or never set */
    uint64_t loop_due; /* io_threads = 0: the loop's next tick, UINT64_MAX without sockets */
} net_waitable;

static net_waitable *waitable_of(net_engine_s *e)
{
    return atomic_load_explicit(&e->waitable, memory_order_acquire);
}

void net__waitable_raise_locked(net_engine_s *e)
{
    net_waitable *w = waitable_of(e);
    e->notify &= ~NOTIFY_WAITABLE;
    if (w && !w->raised) {
        w->raised = 1;
        os_waitable_raise(w->os);
    }
}

static void raise_now(net_engine_s *e)
{
    os_mutex_lock(&e->qlock);
    net__waitable_raise_locked(e);
    os_mutex_unlock(&e->qlock);
}

void net__loop_signal(net_loop *loop)
{
    raise_now(loop->e);
}

/* Windows: the pool timer fired. The timer is spent, whatever it was set
 * to: the next poll sets it again. */
static void deadline_passed(void *arg)
{
    net_waitable *w = arg;
    os_mutex_lock(&w->lock);
    w->deadline = 0;
    os_mutex_unlock(&w->lock);
    raise_now(w->e);
}

/* ---- the deadline ---- */

static uint64_t next_deadline(net_engine_s *e, net_waitable *w)
{
    net_spin_lock(&e->timers.lock);
    uint64_t due = net_timers_next(&e->timers);
    net_spin_unlock(&e->timers.lock);
    return due < w->loop_due ? due : w->loop_due;
}

/* With w->lock held: the OS timer set to due unless it is already. */
static void set_deadline(net_waitable *w, uint64_t due)
{
    if (due != w->deadline) {
        w->deadline = due;
        os_waitable_deadline(w->os, due);
    }
}

void net__waitable_timers_changed(net_engine_s *e)
{
    net_waitable *w = waitable_of(e);
    if (!w)
        return;
    os_mutex_lock(&w->lock);
    uint64_t due = next_deadline(e, w);
    /* 0: fired and not yet set again, which the next poll does. */
    if (w->deadline != 0 && due < w->deadline)
        set_deadline(w, due);
    os_mutex_unlock(&w->lock);
}

/* ---- io_threads = 0: the loop net_poll drives ---- */

/* The backend's completions feed w from now on: its pollable descriptor
 * joins the set, or it signals by itself. Any thread (backend.h). */
static int watch_backend(net_engine_s *e, net_waitable *w)
{
    intptr_t pollable = -1;
    int rc = e->bk->watch(&e->loops[0], &pollable);
    if (rc == 0 && pollable != -1)
        rc = os_waitable_watch(w->os, pollable);
    return rc;
}

/* Work the loop does at its next turn without waiting for anything. */
/* A connection whose peer finished waits for the poll after the one that
 * handed out its last data (net__conn_linger_check): that poll is work. */
static int linger_due(net_loop *loop)
{
    for (net_link *k = loop->linger; k; k = k->next)
        if (net__conn_linger_due(loop, NET_CONTAINER_OF(k, net_conn, linger_node)))
            return 1;
    return 0;
}

static int loop_has_work(net_loop *loop)
{
    net_spin_lock(&loop->pending_lock);
    int pending = loop->pending != NULL;
    net_spin_unlock(&loop->pending_lock);
    return pending || loop->released || loop->e->bk->has_work(loop) || linger_due(loop);
}

static uint64_t loop_tick_due(const net_loop *loop)
{
    return loop->conns || loop->listeners || loop->udps || loop->linger ? loop->next_tick : UINT64_MAX;
}

/* ---- around net_poll ---- */

void net__waitable_poll_begin(net_engine_s *e)
{
    os_mutex_lock(&e->qlock);
    e->notify &= ~NOTIFY_WAITABLE;
    os_mutex_unlock(&e->qlock);
}

/* Clear, then look: whatever comes after the look raises it again. */
void net__waitable_poll_end(net_engine_s *e)
{
    net_waitable *w = waitable_of(e);
    os_mutex_lock(&e->qlock);
    if (e->queue.count || e->wakeup) {
        net__waitable_raise_locked(e);
    } else {
        if (w->raised) {
            w->raised = 0;
            os_waitable_clear(w->os);
        }
        e->notify |= NOTIFY_WAITABLE;
    }
    os_mutex_unlock(&e->qlock);
    if (!e->threaded && loop_has_work(&e->loops[0]))
        raise_now(e);
    os_mutex_lock(&w->lock);
    if (!e->threaded)
        w->loop_due = loop_tick_due(&e->loops[0]);
    set_deadline(w, next_deadline(e, w));
    os_mutex_unlock(&w->lock);
}

/* ---- making and freeing ---- */

static int waitable_new(net_engine_s *e, net_waitable **out)
{
    net_waitable *w = net__calloc(1, sizeof *w);
    if (!w)
        return NET_E_NOMEM;
    int rc = os_waitable_open(&w->os, deadline_passed, w);
    if (rc == 0 && !e->threaded && (rc = watch_backend(e, w)) != 0)
        os_waitable_close(w->os);
    if (rc) {
        free(w);
        return rc;
    }
    w->e = e;
    os_mutex_init(&w->lock);
    w->deadline = 0;
    w->loop_due = UINT64_MAX;
    *out = w;
    return 0;
}

static void waitable_delete(net_waitable *w)
{
    os_waitable_close(w->os);
    os_mutex_destroy(&w->lock);
    free(w);
}

void net__waitable_free(net_engine_s *e)
{
    net_waitable *w = atomic_exchange(&e->waitable, NULL);
    if (w)
        waitable_delete(w);
}

/* Made raised: events may be queued already, and a backend may only start
 * feeding it at the next poll (IOCP: backend.h's watch). */
static int waitable_get(net_engine_s *e, net_waitable **out)
{
    if ((*out = waitable_of(e)) != NULL)
        return 0;
    net_waitable *w;
    int rc = waitable_new(e, &w);
    if (rc)
        return rc;
    os_mutex_lock(&e->qlock);
    net_waitable *had = waitable_of(e);
    if (!had) {
        atomic_store_explicit(&e->waitable, w, memory_order_release);
        if (!e->threaded)
            atomic_store(&e->loops[0].wake_on_schedule, 1);
        net__waitable_raise_locked(e);
    }
    os_mutex_unlock(&e->qlock);
    if (had) { /* another thread made it first */
        waitable_delete(w);
        w = had;
    }
    *out = w;
    return 0;
}

NET_API int net_engine_waitable(net_engine eh, intptr_t *out)
{
    net_engine_s *e = net__engine_enter(eh);
    if (!e)
        return NET_E_BADHANDLE;
    net_waitable *w = NULL;
    int rc = out ? waitable_get(e, &w) : NET_E_INVAL;
    if (rc == 0)
        *out = os_waitable_handle(w->os);
    net__engine_leave(e);
    return rc;
}
