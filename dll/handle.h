/*
 * handle.h - the handle table: 64-bit handles that are never dereferenced
 * unless they name a live object of the expected type.
 *
 * Layout: bits 0-23 slot index, 24-31 engine index, 32-55 generation,
 * 56-59 type, 60-62 a tag of the engine's generation (so a handle of a
 * destroyed engine does not name an object of the next engine in its place). Generations start at 1, so 0 is never a
 * handle. Slots live in fixed pages that are never moved or freed while the table lives, so any thread may look a
 * handle up while another allocates or frees.
 */
#ifndef NET_HANDLE_H
#define NET_HANDLE_H

#include <stdatomic.h>
#include <stdint.h>
#include "net.h"

enum { NET__T_CONN = 1, NET__T_LISTENER = 2, NET__T_TIMER = 3, NET__T_UDP = 4 };
#define NET__TBIT(t) (1u << (t))

#define NET_HT_PAGE_BITS 10
#define NET_HT_PAGE_SIZE (1u << NET_HT_PAGE_BITS)
#define NET_HT_PAGES 16384u /* 16M slots */

/* One slot; its spin lock also guards the object's cross-thread state. */
typedef struct net_slot {
    atomic_uint lock;
    uint32_t gen;
    uint32_t type;
    uint32_t index;
    void *obj;
} net_slot;

typedef struct net_handles {
    atomic_uint lock; /* guards count and the free list */
    uint32_t engine_index;
    uint32_t engine_tag;
    uint32_t count; /* slots ever used */
    uint32_t live;
    uint32_t *free_list;
    uint32_t nfree, free_cap;
    _Atomic(net_slot *) pages[NET_HT_PAGES];
} net_handles;

void net_spin_lock(atomic_uint *l);
void net_spin_unlock(atomic_uint *l);

void net_handles_init(net_handles *t, uint32_t engine_index, uint32_t engine_tag);
void net_handles_free(net_handles *t);
/* A new handle for obj; *slot_out (optional) gets its slot. */
int net_handle_alloc(net_handles *t, uint32_t type, void *obj, net_handle *out, net_slot **slot_out);
/* The slot of h, locked, if h is live and its type is in type_mask; else NULL. */
net_slot *net_handle_lock(net_handles *t, net_handle h, uint32_t type_mask);
/* Retires h: its slot is reused later under a new generation. */
void net_handle_free(net_handles *t, net_handle h);
/* Retires a slot the caller holds locked (from net_handle_lock); unlocks it. */
void net_slot_retire(net_handles *t, net_slot *s);
/* Calls fn on every live object (no locks taken: teardown only). */
void net_handles_each(net_handles *t, void (*fn)(void *obj, uint32_t type, void *ctx), void *ctx);

static inline uint32_t net_handle_engine_index(net_handle h)
{
    return (uint32_t)(h >> 24) & 0xFFu;
}
static inline uint32_t net_handle_type(net_handle h)
{
    return (uint32_t)(h >> 56) & 0xFu;
}
static inline void net_slot_lock(net_slot *s)
{
    net_spin_lock(&s->lock);
}
static inline void net_slot_unlock(net_slot *s)
{
    net_spin_unlock(&s->lock);
}

#endif
