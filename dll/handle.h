/*
 * handle.h - the handle table: 64-bit handles that are never dereferenced
 * unless they name a live object of the expected type.
 *
 * Layout: bits 0-23 slot index, 24-31 engine index, 32-57 generation (26
 * bits), 58-60 type, 61-63 a tag of the engine's generation. Generations
 * never are 0, and types start at 1, so 0 is never a handle.
 *
 * A stale handle must not come back to life. Freed slots are reused oldest
 * first, and only while at least reuse_after others wait behind them, so a
 * slot comes round again only after that many handles were made; its
 * generation then has to go round all 2^26 values before an old handle
 * matches: 2^26 * 65536, about 4.4e12 handles made in one engine. A new
 * engine's slots start at generations drawn from its own generation, so a
 * handle of a destroyed engine whose tag happens to match is still refused
 * but for a 2^-26 chance.
 *
 * Slots live in fixed pages that are never moved or freed while the table
 * lives, so any thread may look a handle up while another allocates or frees.
 */
#ifndef NET_HANDLE_H
#define NET_HANDLE_H

#include <stdatomic.h>
#include <stdint.h>
#include "net.h"

enum {
    NET__T_CONN = 1,
    NET__T_LISTENER = 2,
    NET__T_TIMER = 3,
    NET__T_UDP = 4,
    NET__T_RUDP_LISTENER = 5, /* a reliable-UDP listener (its UDP socket) */
    NET__T_RUDP = 6,          /* a reliable-UDP session */
    NET__T_RUDP_SOCKET = 7    /* a reliable-UDP client's own socket: never handed out */
};
#define NET__TBIT(t) (1u << (t))

#define NET_HT_PAGE_BITS 10
#define NET_HT_PAGE_SIZE (1u << NET_HT_PAGE_BITS)
#define NET_HT_PAGES 16384u       /* 16M slots */
#define NET_HT_REUSE_DEPTH 65536u /* free slots waiting before the oldest is reused */

#define NET_HANDLE_SLOT_MASK 0xFFFFFFu
#define NET_HANDLE_GEN_SHIFT 32
#define NET_HANDLE_GEN_MASK 0x3FFFFFFu /* 26 bits */
#define NET_HANDLE_TYPE_SHIFT 58
#define NET_HANDLE_TYPE_MASK 0x7u
#define NET_HANDLE_TAG_SHIFT 61
#define NET_HANDLE_TAG_MASK 0x7u

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
    uint32_t engine_gen; /* seeds the first generation of every slot */
    uint32_t count;      /* slots ever used */
    uint32_t live;
    uint32_t *free_list; /* a FIFO ring of free slot indices */
    uint32_t free_head, nfree, free_cap;
    uint32_t reuse_after; /* NET_HT_REUSE_DEPTH; tests lower it */
    _Atomic(net_slot *) pages[NET_HT_PAGES];
} net_handles;

/* Spin locks guard a few instructions each (a slot, a list); every send
 * takes one, so the uncontended path is inline and the wait is not. */
void net_spin_lock_contended(atomic_uint *l);
static inline void net_spin_lock(atomic_uint *l)
{
    if (atomic_exchange_explicit(l, 1, memory_order_acquire))
        net_spin_lock_contended(l);
}
static inline void net_spin_unlock(atomic_uint *l)
{
    atomic_store_explicit(l, 0, memory_order_release);
}

/* engine_gen: the engine's generation; its low bits become the tag. */
void net_handles_init(net_handles *t, uint32_t engine_index, uint32_t engine_gen);
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
    return (uint32_t)(h >> NET_HANDLE_TYPE_SHIFT) & NET_HANDLE_TYPE_MASK;
}
static inline uint32_t net_handle_slot(net_handle h)
{
    return (uint32_t)h & NET_HANDLE_SLOT_MASK;
}
static inline uint32_t net_handle_gen(net_handle h)
{
    return (uint32_t)(h >> NET_HANDLE_GEN_SHIFT) & NET_HANDLE_GEN_MASK;
}
static inline uint32_t net_handle_tag(net_handle h)
{
    return (uint32_t)(h >> NET_HANDLE_TAG_SHIFT);
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
