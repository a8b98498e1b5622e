#include "testhooks.h"
#include "queue.h"

#include <stdlib.h>
#include <string.h>

void net_queue_init(net_queue *q)
{
    memset(q, 0, sizeof *q);
}

/* The ring position i places after from: the capacity need not be a power
 * of two (see grow), and i < cap, so one subtraction wraps it. */
static uint32_t ring_at(const net_queue *q, uint32_t from, uint32_t i)
{
    uint32_t at = from + i;
    return at >= q->cap ? at - q->cap : at;
}

void net_queue_free(net_queue *q)
{
    for (uint32_t i = 0; i < q->count; i++)
        net_block_unref(q->side[ring_at(q, q->head, i)].blk, 1);
    free(q->ev);
    free(q->side);
    memset(q, 0, sizeof *q);
}

/* Grows the ring to hold at least need events, by half at a time: every
 * connection keeps room for the events it must never lose here (about 300
 * bytes), so at 100,000 connections doubling would leave tens of MB unused. */
static int grow(net_queue *q, uint64_t need)
{
    uint64_t cap = q->cap ? q->cap : 256;
    while (cap < need)
        cap += cap / 2;
    if (cap > (1u << 31))
        return NET_E_NOMEM;
    net_event *ev = net__malloc((size_t)cap * sizeof *ev);
    net_qslot *side = net__malloc((size_t)cap * sizeof *side);
    if (!ev || !side) {
        free(ev);
        free(side);
        return NET_E_NOMEM;
    }
    for (uint32_t i = 0; i < q->count; i++) {
        uint32_t from = ring_at(q, q->head, i);
        ev[i] = q->ev[from];
        side[i] = q->side[from];
    }
    free(q->ev);
    free(q->side);
    q->ev = ev;
    q->side = side;
    q->cap = (uint32_t)cap;
    q->head = 0;
    return 0;
}

static void put(net_queue *q, const net_event *ev, net_block *blk, void *obj, int reserved)
{
    uint32_t at = ring_at(q, q->head, q->count);
    q->ev[at] = *ev;
    q->side[at].blk = blk;
    q->side[at].obj_reserved = (uintptr_t)obj | (uintptr_t)(reserved != 0);
    q->count++;
}

int net_queue_push(net_queue *q, const net_event *ev, net_block *blk, void *obj)
{
    uint64_t need = (uint64_t)q->count + q->reserved + 1;
    if (need > q->cap && grow(q, need) != 0)
        return NET_E_NOMEM;
    put(q, ev, blk, obj, 0);
    return 0;
}

int net_queue_push_many(net_queue *q, const net_event *ev, net_block *const *blk, void *obj, uint32_t n)
{
    uint64_t need = (uint64_t)q->count + q->reserved + n;
    if (need > q->cap && grow(q, need) != 0)
        return NET_E_NOMEM;
    for (uint32_t i = 0; i < n; i++)
        put(q, &ev[i], blk[i], obj, 0);
    return 0;
}

int net_queue_reserve(net_queue *q, uint32_t n)
{
    uint64_t need = (uint64_t)q->count + q->reserved + n;
    if (need > q->cap && grow(q, need) != 0)
        return NET_E_NOMEM;
    q->reserved += n;
    return 0;
}

void net_queue_unreserve(net_queue *q, uint32_t n)
{
    q->reserved -= n <= q->reserved ? n : q->reserved;
}

void net_queue_push_reserved(net_queue *q, const net_event *ev, net_block *blk, void *obj)
{
    /* count + reserved <= cap holds, and reserved >= 1: there is room */
    q->reserved--;
    put(q, ev, blk, obj, 1);
}

uint32_t net_queue_take(net_queue *q, net_event *out, net_qside *side, uint32_t max)
{
    uint32_t n = q->count < max ? q->count : max;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t at = ring_at(q, q->head, i);
        out[i] = q->ev[at];
        uintptr_t obj_reserved = q->side[at].obj_reserved;
        q->reserved += (uint32_t)(obj_reserved & 1);
        if (side) {
            side[i].blk = q->side[at].blk;
            side[i].obj = (void *)(obj_reserved & ~(uintptr_t)1);
            side[i].reserved = (int)(obj_reserved & 1);
        } else {
            net_block_unref(q->side[at].blk, 1);
        }
    }
    if (n) {
        q->head = ring_at(q, q->head, n);
        q->count -= n;
    }
    return n;
}
