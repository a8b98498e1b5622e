/* poll.c - the event queue: any thread pushes into it, net_poll takes out.
 * What polling an event means for its object (a freed CLOSE, a resumed
 * reader, a re-armed water mark, error or timer), the payload blocks held
 * until the next poll, and the timers the polling thread fires. */
#include <stdlib.h>
#include <string.h>
#include "testhooks.h"
#include "core.h"

typedef struct net_held {
    net_block *blk;
    int refs;
} net_held;

/* ---- pushing ---- */

/* A loop thread's turn (net__poller_defer_begin) wakes a waiting net_poll
 * once, when it ends or before it sleeps, not once per object that pushed
 * events: with a waiting poller each push would otherwise wake it for the
 * events of one connection, and its thread, woken on the loop thread's
 * core, would preempt the turn to take them. */
static _Thread_local net_loop *turn_loop;
static _Thread_local int turn_owes_poller;

void net__poller_defer_begin(net_loop *loop)
{
    turn_loop = loop;
}

void net__poller_defer_flush(void)
{
    if (!turn_owes_poller)
        return;
    turn_owes_poller = 0;
    net_engine_s *e = turn_loop->e;
    os_mutex_lock(&e->qlock);
    int waiting = (e->notify & NOTIFY_POLLER) != 0;
    e->notify &= ~NOTIFY_POLLER;
    os_mutex_unlock(&e->qlock);
    if (waiting)
        os_cond_signal(&e->qcond);
}

void net__poller_defer_end(void)
{
    net__poller_defer_flush();
    turn_loop = NULL;
}

/* Called with qlock held, after an event went in: wakes whoever waits (a
 * net_poll on qcond, the waitable), or with io_threads = 0 the loop a
 * net_poll may be blocked in. */
static void signal_poller_unlock(net_engine_s *e)
{
    uint32_t notify = e->notify;
    if ((notify & NOTIFY_POLLER) && turn_loop && turn_loop->e == e) {
        /* e->notify keeps the poller marked waiting for the turn's flush. */
        turn_owes_poller = 1;
        notify &= ~NOTIFY_POLLER;
    }
    if (notify & NOTIFY_WAITABLE)
        net__waitable_raise_locked(e);
    if (notify & NOTIFY_POLLER)
        e->notify &= ~NOTIFY_POLLER;
    os_mutex_unlock(&e->qlock);
    if (notify & NOTIFY_POLLER)
        os_cond_signal(&e->qcond);
    else if (!e->threaded && !net__on_poll_thread(e))
        net__wake_poller(e);
}

int net__push_event(net_engine_s *e, const net_event *ev, net_block *blk, void *obj)
{
    os_mutex_lock(&e->qlock);
    int rc = net_queue_push(&e->queue, ev, blk, obj);
    signal_poller_unlock(e);
    return rc;
}

int net__push_events(net_engine_s *e, const net_event *ev, net_block *const *blk, void *obj, uint32_t n)
{
    os_mutex_lock(&e->qlock);
    int rc = net_queue_push_many(&e->queue, ev, blk, obj, n);
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
        e->notify &= ~NOTIFY_POLLER;
        os_mutex_unlock(&e->qlock);
        os_cond_signal(&e->qcond);
    } else {
        net__loop_wake(&e->loops[0]);
    }
}

/* ---- timers ---- */

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

/* A TIMER is polled: 1 when it is to be dropped, its timer closed since it
 * fired (its reserved room was left for us to give up). */
static int timer_polled(net_engine_s *e, const net_event *ev)
{
    net_slot *slot = net_handle_lock(&e->handles, ev->handle, NET__TBIT(NET__T_TIMER));
    if (!slot) {
        net__unreserve_events(e, NET_TIMER_EVENTS);
        return 1;
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
    return 0;
}

/* ---- taking out ---- */

void net__free_closed(net_engine_s *e, net_obj *o)
{
    if (o->kind == OBJ_CONN)
        net__conn_free(e, (net_conn *)o);
    else if (o->kind == OBJ_UDP)
        net__udp_free(e, (net_udp *)o);
    else if (o->kind == OBJ_RUDP)
        net__rudp_session_free(e, (net_rudp_session *)o);
    else
        net__listener_free(e, (net_listener *)o);
}

/* Consecutive DATA (or DATAGRAM) events of one object, polled: what they
 * mean for it (the receive gate, the script's turn) is settled once for
 * the run rather than once per message. */
typedef struct polled_run {
    void *obj;
    uint32_t type;
    uint32_t events;
    uint64_t bytes;
} polled_run;

static void run_end(net_engine_s *e, uint64_t seq, polled_run *r)
{
    if (!r->obj)
        return;
    if (r->type == NET_EV_DATA && ((net_obj *)r->obj)->kind == OBJ_RUDP) {
        net__rudp_delivered(e, r->obj, r->bytes);
    } else if (r->type == NET_EV_DATA) {
        atomic_store(&((net_conn *)r->obj)->last_delivery_seq, seq);
        net__conn_delivered(e, r->obj, r->bytes);
    } else {
        net__udp_delivered(e, r->obj, r->events, r->bytes);
    }
    r->obj = NULL;
}

/* A DATA or DATAGRAM event joins the run, which first ends if it was another object's. */
static void run_add(net_engine_s *e, uint64_t seq, polled_run *r, const net_event *ev, void *obj)
{
    if (r->obj != obj || r->type != ev->type) {
        run_end(e, seq, r);
        r->obj = obj;
        r->type = ev->type;
        r->events = 0;
        r->bytes = 0;
    }
    r->events++;
    r->bytes += ev->len;
}

/* What handing ev out means for obj, the object the queue kept beside it
 * (NULL for events that need nothing). 1 when ev is to be dropped. */
static int polled(net_engine_s *e, const net_event *ev, void *obj)
{
    if (ev->type == NET_EV_TIMER)
        return timer_polled(e, ev);
    if (!obj)
        return 0;
    switch (ev->type) {
    case NET_EV_CLOSE:
        net__free_closed(e, obj);
        break;
    case NET_EV_SEND_HIGHWATER:
    case NET_EV_SEND_DRAINED:
        if (((net_obj *)obj)->kind == OBJ_RUDP)
            net__rudp_water_polled(obj);
        else
            net__conn_water_polled(obj);
        break;
    case NET_EV_ERROR:
        net__udp_error_polled(obj);
        break;
    }
    return 0;
}

/* e->polling: IDLE, ACTIVE inside net_poll, BORROWED while a send on the
 * polling thread looks into the held blocks and queues what it found
 * (net__held_borrow to net__held_end: one net_send, or one
 * net_forward_data call). */
enum { POLL_IDLE = 0, POLL_ACTIVE = 1, POLL_BORROWED = 2 };
#define HELD_LOOKUP 8 /* held blocks net_send looks through from where it last found one, and the newest */

/* The held block among held[from, to) that holds [q, q + len), or NULL;
 * *at is where it is. */
static net_block *held_find(const net_engine_s *e, const uint8_t *q, size_t len, uint32_t from, uint32_t to,
                            uint32_t *at)
{
    for (uint32_t i = from; i < to; i++) {
        net_block *b = e->held[i].blk;
        if (net_block_holds(b, q, len)) {
            *at = i;
            return b;
        }
    }
    return NULL;
}

int net__held_borrow(net_engine_s *e)
{
    if (!net__on_poll_thread(e))
        return 0;
    int expected = POLL_IDLE;
    return atomic_compare_exchange_strong(&e->polling, &expected, POLL_BORROWED);
}

/* A script sends what it polled mostly in the order it polled it: the
 * look starts at the block of the last find (the next payload is in it or
 * just after), then tries the newest blocks. Messages assembled across
 * reads each have a block of their own, so a batch of them is one held
 * block per event: looking at the newest few alone missed all but the last
 * few of an echoed batch, each then copied into the send queue while its
 * block stayed held until the next poll (a peer that never reads had its
 * echoes cost twice their bytes). */
net_block *net__held_lookup(net_engine_s *e, const void *p, size_t len)
{
    const uint8_t *q = p;
    uint32_t n = e->nheld, at = e->held_next < n ? e->held_next : 0;
    uint32_t end = n - at > HELD_LOOKUP ? at + HELD_LOOKUP : n;
    uint32_t newest = n - end > HELD_LOOKUP ? n - HELD_LOOKUP : end;
    net_block *b = held_find(e, q, len, at, end, &at);
    if (!b)
        b = held_find(e, q, len, newest, n, &at);
    if (b)
        e->held_next = at;
    return b;
}

void net__held_end(net_engine_s *e)
{
    /* Release: the borrower's references to the block come before a
     * net_poll's acquiring exchange can start and drop the held ones. */
    atomic_store_explicit(&e->polling, POLL_IDLE, memory_order_release);
}

void net__release_held(net_engine_s *e)
{
    for (uint32_t i = 0; i < e->nheld; i++)
        net_block_unref(e->held[i].blk, e->held[i].refs);
    e->nheld = 0;
    e->held_next = 0;
}

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

/* Hands out up to max events. Events come out of the queue NET_POLL_CHUNK
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
        polled_run run = {NULL, 0, 0, 0};
        for (uint32_t i = 0; i < n; i++) {
            const net_event *ev = &out[first + (int)i];
            void *obj = e->side[i].obj;
            if (e->side[i].blk)
                hold_block(e, e->side[i].blk);
            if ((ev->type == NET_EV_DATA || ev->type == NET_EV_DATAGRAM) && obj) {
                run_add(e, seq, &run, ev, obj);
            } else {
                /* A CLOSE frees its object: the run ends before it. */
                run_end(e, seq, &run);
                if (polled(e, ev, obj))
                    continue;
            }
            if (kept != first + (int)i)
                out[kept] = *ev;
            kept++;
        }
        run_end(e, seq, &run);
        if (n < want)
            break;
    }
    return kept;
}

void net__discard_events(net_engine_s *e)
{
    net_event ev;
    net_qside side;
    while (net_queue_take(&e->queue, &ev, &side, 1) == 1) {
        net_block_unref(side.blk, 1);
        if (ev.type == NET_EV_CLOSE && side.obj)
            net__free_closed(e, side.obj);
    }
}

/* ---- net_poll ---- */

/* Milliseconds from now until a deadline, as a wait timeout (-1 = never). */
static int ms_until(uint64_t until, uint64_t now)
{
    if (until == UINT64_MAX)
        return -1;
    if (until <= now)
        return 0;
    return until - now > 0x7FFFFFFF ? 0x7FFFFFFF : (int)(until - now);
}

/* How long net_poll may wait now: until its deadline or the next timer. */
static int wait_budget(net_engine_s *e, uint64_t deadline, uint64_t now)
{
    uint64_t next_timer = next_timer_due(e);
    return ms_until(deadline < next_timer ? deadline : next_timer, now);
}

/* io_threads = 0: the poll runs the loop's turn itself, not waiting when
 * events are queued already or a wakeup is asked for. */
static void run_loop(net_engine_s *e, int wait_ms)
{
    os_mutex_lock(&e->qlock);
    if (e->queue.count || e->wakeup)
        wait_ms = 0;
    os_mutex_unlock(&e->qlock);
    net__loop_iterate(&e->loops[0], wait_ms);
}

/* Nothing came: 0 when net_poll returns empty-handed (woken up, or its
 * deadline passed), else 1 after waiting (io_threads) for events to come. */
static int wait_more(net_engine_s *e, uint64_t deadline)
{
    int more = 1;
    os_mutex_lock(&e->qlock);
    uint64_t now = os_now_ms();
    if (e->wakeup) {
        e->wakeup = 0;
        more = 0;
    } else if (now >= deadline) {
        more = 0;
    } else if (e->threaded && e->queue.count == 0) {
        int wait_ms = wait_budget(e, deadline, now);
        if (wait_ms != 0) {
            e->notify |= NOTIFY_POLLER;
            os_cond_wait(&e->qcond, &e->qlock, wait_ms);
            e->notify &= ~NOTIFY_POLLER;
        }
    }
    os_mutex_unlock(&e->qlock);
    return more;
}

static int poll_events(net_engine_s *e, net_event *events, int max, int timeout_ms)
{
    atomic_store(&e->poll_thread, os_thread_self());
    atomic_fetch_add(&e->poll_seq, 1);
    net__release_held(e);
    net__loops_wake_lingering(e);
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : os_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t now = os_now_ms();
        fire_timers(e, now);
        if (!e->threaded)
            run_loop(e, wait_budget(e, deadline, now));
        int n = deliver(e, events, max);
        if (n != 0 || !wait_more(e, deadline))
            return n;
    }
}

NET_API int net_poll(net_engine eh, net_event *events, int max, int timeout_ms)
{
    net_engine_s *e = net__engine_enter(eh);
    if (!e)
        return NET_E_BADHANDLE;
    int rc = NET_E_INVAL;
    if (events && max > 0) {
        int expected = POLL_IDLE;
        /* A borrow lasts one send or one net_forward_data call: wait it out. */
        while (!atomic_compare_exchange_strong(&e->polling, &expected, POLL_ACTIVE) && expected == POLL_BORROWED) {
            expected = POLL_IDLE;
            os_yield();
        }
        if (expected == POLL_IDLE) {
            /* With a waitable, the poll tells it what it left behind. */
            int waitable = atomic_load_explicit(&e->waitable, memory_order_acquire) != NULL;
            if (waitable)
                net__waitable_poll_begin(e);
            rc = poll_events(e, events, max, timeout_ms);
            if (waitable)
                net__waitable_poll_end(e);
            atomic_store_explicit(&e->polling, POLL_IDLE, memory_order_release);
        } else {
            rc = NET_E_BUSY;
        }
    }
    net__engine_leave(e);
    return rc;
}

NET_API int net_wakeup(net_engine eh)
{
    net_engine_s *e = net__engine_enter(eh);
    if (!e)
        return NET_E_BADHANDLE;
    os_mutex_lock(&e->qlock);
    e->wakeup = 1;
    if (e->notify & NOTIFY_WAITABLE)
        net__waitable_raise_locked(e);
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
