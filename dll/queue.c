#include "queue.h"

#include <stdlib.h>
#include <string.h>

void net_queue_init(net_queue *q)
{
    memset(q, 0, sizeof *q);
}

void net_queue_free(net_queue *q)
{
    for (uint32_t i = 0; i < q->count; i++)
        net_block_unref(q->side[(q->head + i) & (q->cap - 1)].blk, 1);
    free(q->ev);
    free(q->side);
    memset(q, 0, sizeof *q);
}

static int grow(net_queue *q)
{
    uint32_t cap = q->cap ? q->cap * 2 : 256;
    if (cap < q->cap)
        return NET_E_NOMEM;
    net_event *ev = malloc((size_t)cap * sizeof *ev);
    net_qside *side = malloc((size_t)cap * sizeof *side);
    if (!ev || !side) {
        free(ev);
        free(side);
        return NET_E_NOMEM;
    }
    for (uint32_t i = 0; i < q->count; i++) {
        uint32_t from = (q->head + i) & (q->cap - 1);
        ev[i] = q->ev[from];
        side[i] = q->side[from];
    }
    free(q->ev);
    free(q->side);
    q->ev = ev;
    q->side = side;
    q->cap = cap;
    q->head = 0;
    return 0;
}

int net_queue_push(net_queue *q, const net_event *ev, net_block *blk, void *obj)
{
    if (q->count == q->cap && grow(q) != 0)
        return NET_E_NOMEM;
    uint32_t at = (q->head + q->count) & (q->cap - 1);
    q->ev[at] = *ev;
    q->side[at].blk = blk;
    q->side[at].obj = obj;
    q->count++;
    return 0;
}

uint32_t net_queue_take(net_queue *q, net_event *out, net_qside *side, uint32_t max)
{
    uint32_t n = q->count < max ? q->count : max;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t at = (q->head + i) & (q->cap - 1);
        out[i] = q->ev[at];
        if (side)
            side[i] = q->side[at];
        else
            net_block_unref(q->side[at].blk, 1);
    }
    if (n) {
        q->head = (q->head + n) & (q->cap - 1);
        q->count -= n;
    }
    return n;
}
