/*
 * batch.c - many sends in one call: net_forward_data (a poll's payloads
 * sent on) and net_send_batch (flat arrays a binding builds; the layout is
 * documented in net.h, "batched sends"). Both exist so that a caller pays
 * once per batch what net_send pays per message: Python's cffi costs more
 * per call than net_send itself, and even in C entering the engine and
 * looking into the last poll's blocks per send cost more than the send.
 *
 * Each item is exactly a net_send(handle, data, len), with every rule
 * net_send keeps (handle checks, closing, send cap, sizes, thread safety).
 * What a batch adds is the send run: a connection's items in a row are
 * queued under one engine entry and go out once, after the last of them.
 */
#include <limits.h>

#include "core.h"

/* A batch whose items make at most this many runs (one connection's items
 * in a row) may write each run on its own thread (net__conn_push_locked).
 * For more, one wake-up of their loops, which then send them in one turn,
 * costs less than the writes. Measured with io_threads = 1 through
 * net_forward_data (bench/RESULTS.md, "Writes on the calling thread"):
 * writing on the caller whatever the number of runs cost 1.35x the CPU per
 * message at 100x4x64 and 1000x1x64, where many calls make 19 or more;
 * with this limit those stay as they were, and at 10x32x512, where calls
 * make 3 to 7, the context switches halve. */
#define CALLER_WRITES_MAX_RUNS 8

/* ---- the send run ---- */

/* The engine entered, and the last poll's blocks borrowed, once for a
 * stretch of runs rather than once per send; the connection's slot locked
 * once for its run: a bulk echo's runs are tens of messages, and the lock
 * was the one atomic operation left per message. */
typedef struct send_run {
    net_engine_s *e; /* entered, or NULL */
    int borrowed;    /* net__held_borrow said yes */
    net_slot *slot;  /* the run's connection, locked from its first send to its last */
} send_run;

static void run_unlock(send_run *r)
{
    if (r->slot)
        net_slot_unlock(r->slot);
    r->slot = NULL;
}

static void run_end(send_run *r)
{
    run_unlock(r);
    if (r->borrowed)
        net__held_end(r->e);
    if (r->e)
        net__engine_leave(r->e);
    r->e = NULL;
    r->borrowed = 0;
}

/* Exactly net_send(h, data, len), inside the run; with more_for_h, the
 * caller's next send is to h too, and the run goes out once, after the
 * last of them: from this thread when may_write allows it
 * (net__conn_push_locked). */
static int run_send(send_run *r, net_handle h, const void *data, uint32_t len, int more_for_h, int may_write)
{
    if (net_handle_type(h) != NET__T_CONN) {
        /* UDP and reliable UDP, or not a handle: net_send's own path (a
         * borrow held here would only make it copy). */
        run_end(r);
        return net_send(h, data, len);
    }
    if (!r->slot) { /* the run's first send (a locked slot is h's: the send before said more_for_h) */
        if (!r->e || net_handle_engine_index(h) != r->e->handles.engine_index) {
            run_end(r);
            if (!(r->e = net__engine_enter_for(h)))
                return NET_E_BADHANDLE;
            r->borrowed = net__held_borrow(r->e);
        }
        if (!(r->slot = net_handle_lock(&r->e->handles, h, NET__TBIT(NET__T_CONN))))
            return NET_E_BADHANDLE;
    }
    int rc = net__conn_queue_payload(r->e, r->slot->obj, data, len, r->borrowed, 1);
    /* The run's last send, also when it was refused, asks for all of it. */
    if (!more_for_h) {
        net__conn_push_locked(r->slot->obj, may_write);
        run_unlock(r);
    }
    return rc;
}

/* ---- a batch of items ---- */

/* Where a walk over a batch is: the item it reads next, and where that
 * item's bytes start when the batch lays them end to end. */
typedef struct item_cursor {
    int i;
    uint64_t next;
} item_cursor;

/* Reads the item at cur and steps past it. 0: the item is a send of len
 * bytes at data to h; else the item's result, with nothing to send. */
typedef int (*read_item_fn)(const void *batch, item_cursor *cur, net_handle *h, const void **data, uint32_t *len);

/* How many runs the sendable items of the batch make, counted up to limit. */
static int count_runs(const void *batch, int count, read_item_fn read_item, int limit)
{
    item_cursor cur = {0, 0};
    int runs = 0;
    net_handle last = 0;
    while (cur.i < count && runs < limit) {
        net_handle h;
        const void *data;
        uint32_t len;
        if (read_item(batch, &cur, &h, &data, &len) != 0)
            continue;
        if (h && h != last)
            runs++;
        if (h)
            last = h;
    }
    return runs;
}

/* Whether the first sendable item at or after cur goes to h: the run to h
 * goes on (items with nothing to send between do not end it, as count_runs
 * counts). */
static int run_goes_on(const void *batch, item_cursor cur, int count, read_item_fn read_item, net_handle h)
{
    while (cur.i < count) {
        net_handle next;
        const void *data;
        uint32_t len;
        if (read_item(batch, &cur, &next, &data, &len) == 0)
            return next == h;
    }
    return 0;
}

/* Sends every item of the batch in order, each result in results[i];
 * returns how many were queued. */
static int send_items(const void *batch, int count, read_item_fn read_item, int *results)
{
    int may_write = count_runs(batch, count, read_item, CALLER_WRITES_MAX_RUNS + 1) <= CALLER_WRITES_MAX_RUNS;
    send_run run = {NULL, 0, NULL};
    item_cursor cur = {0, 0};
    int queued = 0;
    while (cur.i < count) {
        int i = cur.i;
        net_handle h;
        const void *data;
        uint32_t len;
        int rc = read_item(batch, &cur, &h, &data, &len);
        if (rc == 0)
            rc = run_send(&run, h, data, len, run_goes_on(batch, cur, count, read_item, h), may_write);
        results[i] = rc;
        if (rc == 0)
            queued++;
    }
    run_end(&run);
    return queued;
}

/* ---- net_forward_data ---- */

typedef struct forward_batch {
    const net_event *events;
    net_handle to;
} forward_batch;

/* A DATA event's payload, to `to` or back to its own connection; any
 * other event is the caller's (1), a DATA event with a length and no
 * payload malformed. */
static int read_event(const void *batch, item_cursor *cur, net_handle *h, const void **data, uint32_t *len)
{
    const forward_batch *f = batch;
    const net_event *ev = &f->events[cur->i++];
    if (ev->type != NET_EV_DATA)
        return 1;
    if (ev->len && !ev->data)
        return NET_E_INVAL;
    *h = f->to ? f->to : ev->handle;
    *data = ev->len ? ev->data : "";
    *len = ev->len;
    return 0;
}

NET_API int net_forward_data(const net_event *events, int count, net_handle to, int *results)
{
    if (count < 0 || (count && (!events || !results)))
        return NET_E_INVAL;
    forward_batch f = {events, to};
    return send_items(&f, count, read_event, results);
}

/* ---- net_send_batch ---- */

typedef struct flat_batch {
    const net_handle *conns;
    const uint32_t *offsets; /* NULL: end to end from offset 0 */
    const uint32_t *lens;
    const char *payload;
    size_t size;
} flat_batch;

/* Whether [offset, offset + len) lies inside a buffer of size bytes,
 * without overflowing. */
static int inside(uint64_t offset, uint32_t len, size_t size)
{
    return offset <= (uint64_t)size && len <= (uint64_t)size - offset;
}

static int read_flat(const void *batch, item_cursor *cur, net_handle *h, const void **data, uint32_t *len)
{
    const flat_batch *b = batch;
    int i = cur->i++;
    uint64_t at = b->offsets ? b->offsets[i] : cur->next;
    cur->next = at + b->lens[i];
    if (!inside(at, b->lens[i], b->size))
        return NET_E_INVAL;
    *h = b->conns[i];
    *data = b->lens[i] ? b->payload + at : ""; /* an empty payload may come with no buffer at all */
    *len = b->lens[i];
    return 0;
}

NET_API int net_send_batch(const net_handle *conns, const uint32_t *offsets, const uint32_t *lens, uint32_t count,
                           const void *payload, size_t size, int *results)
{
    /* The return value counts the queued items in an int: a count it could
     * not express is refused before anything is sent. */
    if (count > (uint32_t)INT_MAX)
        return NET_E_INVAL;
    if (count && (!conns || !lens || !results))
        return NET_E_INVAL;
    if (!payload && size)
        return NET_E_INVAL;
    flat_batch b = {conns, offsets, lens, payload, size};
    return send_items(&b, (int)count, read_flat, results);
}
