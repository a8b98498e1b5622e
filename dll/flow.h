/* flow.h - the flow control TCP connections and UDP sockets share: the
 * send queue the script fills and the loop drains, held to a cap, and the
 * receive gate that stops reading while the script is too far behind. */
#ifndef NET_FLOW_H
#define NET_FLOW_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include "backend.h"
#include "block.h"

#define NET_SEND_CHUNK_MIN 128 /* a send queue's first copy chunk: what a quiet connection holds */

struct net_engine_s;
struct net_obj;

/* ---- the send queue: under its owner's slot lock ---- */

/* A ring of the owner's entries (a TCP connection's byte segments, a UDP
 * socket's datagrams), each holding a reference to the block its bytes
 * are in: usually the copy chunk, which sends are copied into. */
typedef struct net_sendq {
    void *ring; /* ring_cap entries, a power of two */
    uint32_t ring_cap, head, count;
    uint32_t inflight;       /* entries at the head handed to the backend */
    uint64_t bytes;          /* charged against send_cap */
    uint64_t unfolded_bytes; /* queued since the engine's totals were last told (net__sendq_fold) */
    uint32_t unfolded_msgs;
    uint32_t send_cap;
    int flush_scheduled; /* an OP_FLUSH waits on the loop */
    net_block *chunk;    /* the copy chunk being filled */
} net_sendq;

/* Where the i-th entry from the head is in the ring. */
static inline uint32_t net_sendq_pos(const net_sendq *q, uint32_t i)
{
    return (q->head + i) & (q->ring_cap - 1);
}

static inline void net_sendq_pop(net_sendq *q)
{
    q->head = net_sendq_pos(q, 1);
    q->count--;
}

/* 0 when charge more bytes may be queued now; NET_E_MSGSIZE when they
 * never could, NET_E_WOULDBLOCK when they could once the queue drains. */
static inline int net_sendq_admit(const net_sendq *q, uint64_t charge)
{
    if (charge > q->send_cap)
        return NET_E_MSGSIZE;
    return q->bytes + charge > q->send_cap ? NET_E_WOULDBLOCK : 0;
}

int net_sendq_grow(net_sendq *q, uint32_t n, size_t entry_size, uint32_t first_cap);

/* Room for n more entries of entry_size bytes: the ring doubles (from
 * first_cap) until they fit. NET_E_NOMEM when it cannot. */
static inline int net_sendq_room(net_sendq *q, uint32_t n, size_t entry_size, uint32_t first_cap)
{
    return q->count + n <= q->ring_cap ? 0 : net_sendq_grow(q, n, entry_size, first_cap);
}

uint8_t *net_sendq_new_chunk(net_sendq *q, uint32_t need, uint32_t chunk_max);

/* Room for need bytes in the copy chunk (need more of them to keep it), or
 * NULL when memory runs out. A chunk that fills up is followed by one
 * twice its size, up to chunk_max: a socket that sends a little holds a
 * little. */
static inline uint8_t *net_sendq_reserve(net_sendq *q, uint32_t need, uint32_t chunk_max)
{
    net_block *b = q->chunk;
    if (b && b->cap - b->used >= need)
        return b->data + b->used;
    return net_sendq_new_chunk(q, need, chunk_max);
}

/* What a gather of count buffers adds up to, in *total; NET_E_INVAL for a
 * buffer with a length and no data. */
static inline int net_bufs_total(const net_buf *bufs, uint32_t count, uint64_t *total)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (!bufs[i].data && bufs[i].len)
            return NET_E_INVAL;
        sum += bufs[i].len;
    }
    *total = sum;
    return 0;
}

/* Copies the buffers one after the other to p; returns where they end. */
static inline uint8_t *net_bufs_copy(uint8_t *p, const net_buf *bufs, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        if (bufs[i].len)
            memcpy(p, bufs[i].data, bufs[i].len);
        p += bufs[i].len;
    }
    return p;
}

/* A message (a datagram) of charge bytes was queued: the queue's count
 * follows at once, the engine's statistics (messages_out, send_queued)
 * when the loop takes the queue to send it (net__sendq_fold), so that a
 * send costs no locked instruction on counters every thread shares. */
void net__sendq_charge(net_sendq *q, uint64_t charge);
void net__sendq_fold(net_sendq *q, struct net_engine_s *e);
/* charge bytes left the queue (sent or dropped): folds first, then counts them out. */
void net__sendq_discharge(net_sendq *q, struct net_engine_s *e, uint64_t charge);

/* Once empty, with nobody else holding the chunk: write it from the start
 * again rather than move on to fresh memory. 1 when it did. */
int net_sendq_rewind(net_sendq *q);

/* The ring and the chunk; the entries' references are the owner's to drop first. */
void net_sendq_free(net_sendq *q);

/* Asks o's loop to run ops; an OP_FLUSH asked for already is not asked
 * again until the loop's flush has started. */
void net__sendq_schedule(net_sendq *q, struct net_obj *o, uint32_t ops);

/* ---- the receive gate ---- */

enum {
    NET_RX_FLOWING = 0,
    NET_RX_PAUSED = 1,  /* the loop stopped reading */
    NET_RX_RESUMING = 2 /* the poller caught up and asked the loop to read again */
};

/* The loop thread charges what it queues for the script; the polling
 * thread takes it off as the script polls. Neither locks: each step of
 * the state changes with one compare-and-swap, and each side looks again
 * after its own step for what the other may have done meanwhile. */
typedef struct net_rx_gate {
    atomic_int_least64_t unpolled; /* bytes queued for the script, not yet polled */
    atomic_int state;              /* NET_RX_* */
} net_rx_gate;

/* Starts or stops the backend's reading for o. */
typedef void (*net_rx_switch)(net_loop *loop, struct net_obj *o);

void net_rx_gate_init(net_rx_gate *g);

static inline void net_rx_gate_charge(net_rx_gate *g, int64_t n)
{
    atomic_fetch_add(&g->unpolled, n);
}

static inline void net_rx_gate_refund(net_rx_gate *g, int64_t n)
{
    atomic_fetch_sub(&g->unpolled, n);
}

static inline int64_t net_rx_gate_unpolled(net_rx_gate *g)
{
    return atomic_load(&g->unpolled);
}

static inline int net_rx_gate_flowing(net_rx_gate *g)
{
    return atomic_load(&g->state) == NET_RX_FLOWING;
}

/* Loop thread, after queueing what it read, while reading: past the
 * engine's recv_limit unpolled, reading stops until the script catches up
 * (to half the limit). */
void net__rx_gate_check(net_rx_gate *g, net_loop *loop, struct net_obj *o, net_rx_switch stop, net_rx_switch start);

/* Polling thread: n bytes were polled. 1 when the script caught up with a
 * paused reader: the caller schedules OP_RESUME. */
int net__rx_gate_polled(net_rx_gate *g, struct net_engine_s *e, int64_t n);

/* Loop thread, OP_RESUME: 1 when reading may start again. */
int net__rx_gate_resume(net_rx_gate *g, struct net_engine_s *e);

/* Loop thread: whatever the state, the gate opens (closing, or a graceful
 * close that drains the peer's input). */
void net__rx_gate_open(net_rx_gate *g, struct net_engine_s *e);

#endif
