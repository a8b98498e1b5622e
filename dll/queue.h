/* queue.h - the engine's event queue: a growable ring of events, each with
 * the block its payload lives in. Pure; the engine does the locking.
 *
 * Reservations: the events an object must be able to report whatever
 * memory does later (ACCEPT, CONNECT, CLOSE...) get their room when the
 * object is made. The ring always has room for every reservation besides
 * what it holds, so a reserved push cannot fail. A reserved event hands its
 * reservation back when it is taken out: the object keeps it for its next
 * such event until it gives it up with net_queue_unreserve. */
#ifndef NET_QUEUE_H
#define NET_QUEUE_H

#include <stdint.h>
#include "block.h"
#include "net.h"

/* What the engine needs back when an event is handed to the script. */
typedef struct net_qside {
    net_block *blk; /* payload owner, one reference held by the queue */
    void *obj;      /* the core object the event concerns, or NULL */
    int reserved;   /* pushed into a reservation, which returns when taken */
} net_qside;

/* How the ring keeps a net_qside: the object pointer with the reserved flag
 * in its lowest bit (objects are aligned), 16 bytes rather than 24, since
 * every connection keeps room for its reserved events in the ring. */
typedef struct net_qslot {
    net_block *blk;
    uintptr_t obj_reserved;
} net_qslot;

typedef struct net_queue {
    net_event *ev;
    net_qslot *side;
    uint32_t cap;
    uint32_t head;
    uint32_t count;
    uint32_t reserved; /* room promised beyond count */
} net_queue;

void net_queue_init(net_queue *q);
void net_queue_free(net_queue *q); /* drops the payload references it holds */
/* Ordinary push: NET_E_NOMEM when the ring cannot grow; never takes the
 * room of a reservation. */
int net_queue_push(net_queue *q, const net_event *ev, net_block *blk, void *obj);
/* n ordinary pushes of one object's events, all or (NET_E_NOMEM) none. */
int net_queue_push_many(net_queue *q, const net_event *ev, net_block *const *blk, void *obj, uint32_t n);
/* Room for n more reserved events; NET_E_NOMEM (nothing reserved) when the
 * ring cannot grow to hold them. */
int net_queue_reserve(net_queue *q, uint32_t n);
void net_queue_unreserve(net_queue *q, uint32_t n);
/* Pushes into a reservation the caller holds: cannot fail. */
void net_queue_push_reserved(net_queue *q, const net_event *ev, net_block *blk, void *obj);
/* Moves up to max events out, oldest first; side may be NULL. */
uint32_t net_queue_take(net_queue *q, net_event *out, net_qside *side, uint32_t max);

#endif
