/* block.h - ref-counted byte blocks: receive windows, assembled messages,
 * send-queue chunks and shared broadcast payloads are all blocks. */
#ifndef NET_BLOCK_H
#define NET_BLOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct net_block {
    atomic_int refs;
    uint32_t cap;
    uint32_t used; /* bytes handed out so far (owner's bookkeeping) */
    uint32_t reserved_;
    uint8_t data[];
} net_block;

/* A block of cap bytes holding one reference, or NULL. */
net_block *net_block_new(size_t cap);
net_block *net_block_from(const void *data, size_t len);
/* Grows a block nobody else references yet; NULL (b untouched) on failure. */
net_block *net_block_grow(net_block *b, size_t cap);
static inline void net_block_ref(net_block *b, int n)
{
    atomic_fetch_add_explicit(&b->refs, n, memory_order_relaxed);
}
void net_block_unref(net_block *b, int n);

/* Whether the len bytes at p lie inside b's capacity: cap, not used, as a
 * loop thread may be appending to a receive block while another thread
 * asks. Compared as integers, since p may be in another allocation. */
static inline int net_block_holds(const net_block *b, const void *p, size_t len)
{
    uintptr_t at = (uintptr_t)p, start = (uintptr_t)b->data;
    return at >= start && len <= b->cap && at - start <= b->cap - len;
}

#endif
