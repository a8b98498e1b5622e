/* queue.h - the engine's event queue: a growable ring of events, each with
 * the block its payload lives in. Pure; the engine does the locking. */
#ifndef NET_QUEUE_H
#define NET_QUEUE_H

#include <stdint.h>
#include "block.h"
#include "net.h"

/* What the engine needs back when an event is handed to the script. */
typedef struct net_qside {
    net_block *blk; /* payload owner, one reference held by the queue */
    void *obj;      /* the core object the event concerns, or NULL */
} net_qside;

typedef struct net_queue {
    net_event *ev;
    net_qside *side;
    uint32_t cap;
    uint32_t head;
    uint32_t count;
} net_queue;

void net_queue_init(net_queue *q);
void net_queue_free(net_queue *q); /* drops the payload references it holds */
int net_queue_push(net_queue *q, const net_event *ev, net_block *blk, void *obj);
/* Moves up to max events out, oldest first; side may be NULL. */
uint32_t net_queue_take(net_queue *q, net_event *out, net_qside *side, uint32_t max);

#endif
