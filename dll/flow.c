/* flow.c - the send queue and the receive gate TCP connections and UDP
 * sockets share (flow.h). */
#include <stdlib.h>
#include <string.h>
#include "testhooks.h"
#include "core.h"

/* ---- the send queue ---- */

int net_sendq_grow(net_sendq *q, uint32_t n, size_t entry_size, uint32_t first_cap)
{
    uint32_t cap = q->ring_cap ? q->ring_cap * 2 : first_cap;
    while (cap < q->count + n)
        cap *= 2;
    char *ring = net__malloc(cap * entry_size);
    if (!ring)
        return NET_E_NOMEM;
    /* The entries go to the front of the new ring, in order. */
    for (uint32_t i = 0; i < q->count; i++)
        memcpy(ring + i * entry_size, (char *)q->ring + net_sendq_pos(q, i) * entry_size, entry_size);
    free(q->ring);
    q->ring = ring;
    q->ring_cap = cap;
    q->head = 0;
    return 0;
}

uint8_t *net_sendq_new_chunk(net_sendq *q, uint32_t need, uint32_t chunk_max)
{
    net_block *b = q->chunk;
    uint32_t size = b ? (b->cap >= chunk_max / 2 ? chunk_max : b->cap * 2) : NET_SEND_CHUNK_MIN;
    net_block *nb = net_block_new(need > size ? need : size);
    if (!nb)
        return NULL;
    net_block_unref(b, 1);
    q->chunk = nb;
    return nb->data;
}

void net__sendq_charge(net_sendq *q, uint64_t charge)
{
    q->bytes += charge;
    q->unfolded_bytes += charge;
    q->unfolded_msgs++;
}

void net__sendq_fold(net_sendq *q, net_engine_s *e)
{
    if (!q->unfolded_msgs)
        return;
    atomic_fetch_add_explicit(&e->send_queued, q->unfolded_bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->messages_out, q->unfolded_msgs, memory_order_relaxed);
    q->unfolded_bytes = 0;
    q->unfolded_msgs = 0;
}

void net__sendq_discharge(net_sendq *q, net_engine_s *e, uint64_t charge)
{
    net__sendq_fold(q, e); /* what leaves the queue was counted in first */
    q->bytes -= charge;
    atomic_fetch_sub_explicit(&e->send_queued, charge, memory_order_relaxed);
}

int net_sendq_rewind(net_sendq *q)
{
    if (q->count || !q->chunk || atomic_load(&q->chunk->refs) != 1)
        return 0;
    q->chunk->used = 0;
    return 1;
}

void net_sendq_free(net_sendq *q)
{
    free(q->ring);
    net_block_unref(q->chunk, 1);
    q->ring = NULL;
    q->chunk = NULL;
    q->ring_cap = q->head = q->count = q->inflight = 0;
}

void net__sendq_schedule(net_sendq *q, net_obj *o, uint32_t ops)
{
    if (ops == OP_FLUSH) {
        if (q->flush_scheduled)
            return;
        q->flush_scheduled = 1;
    }
    net__loop_schedule(o->loop, o, ops);
}

/* ---- the receive gate ---- */

void net_rx_gate_init(net_rx_gate *g)
{
    atomic_init(&g->unpolled, 0);
    atomic_init(&g->state, NET_RX_FLOWING);
}

void net__rx_gate_check(net_rx_gate *g, net_loop *loop, net_obj *o, net_rx_switch stop, net_rx_switch start)
{
    uint32_t limit = loop->e->cfg.recv_limit;
    if (atomic_load(&g->unpolled) <= (int64_t)limit)
        return;
    atomic_store(&g->state, NET_RX_PAUSED);
    stop(loop, o);
    atomic_fetch_add(&loop->e->recv_paused, 1);
    /* The poller may have drained everything between the check and the
     * store; it then saw the gate flowing and will not ask to resume. */
    if (atomic_load(&g->unpolled) <= (int64_t)(limit / 2)) {
        int expected = NET_RX_PAUSED;
        if (atomic_compare_exchange_strong(&g->state, &expected, NET_RX_FLOWING)) {
            atomic_fetch_sub(&loop->e->recv_paused, 1);
            start(loop, o);
        }
    }
}

int net__rx_gate_polled(net_rx_gate *g, net_engine_s *e, int64_t n)
{
    int64_t left = atomic_fetch_sub(&g->unpolled, n) - n;
    if (left > (int64_t)(e->cfg.recv_limit / 2) || atomic_load(&g->state) != NET_RX_PAUSED)
        return 0;
    int expected = NET_RX_PAUSED;
    return atomic_compare_exchange_strong(&g->state, &expected, NET_RX_RESUMING);
}

int net__rx_gate_resume(net_rx_gate *g, net_engine_s *e)
{
    int expected = NET_RX_RESUMING;
    if (!atomic_compare_exchange_strong(&g->state, &expected, NET_RX_FLOWING))
        return 0;
    atomic_fetch_sub(&e->recv_paused, 1);
    return 1;
}

void net__rx_gate_open(net_rx_gate *g, net_engine_s *e)
{
    if (atomic_exchange(&g->state, NET_RX_FLOWING) != NET_RX_FLOWING)
        atomic_fetch_sub(&e->recv_paused, 1);
}
