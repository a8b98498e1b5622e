#include "testhooks.h"
#include "handle.h"

#include <stdlib.h>
#include <string.h>
#include "os.h"

void net_spin_lock_contended(atomic_uint *l)
{
    for (unsigned spins = 0;; spins++) {
        if (!atomic_load_explicit(l, memory_order_relaxed) && !atomic_exchange_explicit(l, 1, memory_order_acquire))
            return;
        if (spins > 64)
            os_yield();
    }
}

void net_handles_init(net_handles *t, uint32_t engine_index, uint32_t engine_gen)
{
    memset(t, 0, sizeof *t);
    t->engine_index = engine_index;
    t->engine_gen = engine_gen;
    t->engine_tag = engine_gen & NET_HANDLE_TAG_MASK;
    t->reuse_after = NET_HT_REUSE_DEPTH;
}

/* Where a fresh slot's generations start: spread by the engine's
 * generation and the slot, so engines that share an index and a tag do not
 * hand out the same handles. */
static uint32_t first_gen(const net_handles *t, uint32_t index)
{
    uint64_t x = ((uint64_t)t->engine_gen << 32 | index) + 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    uint32_t g = (uint32_t)x & NET_HANDLE_GEN_MASK;
    return g ? g - 1 : 0; /* the first alloc adds 1 */
}

void net_handles_free(net_handles *t)
{
    for (uint32_t i = 0; i < NET_HT_PAGES; i++)
        free(atomic_load(&t->pages[i]));
    free(t->free_list);
    memset(t, 0, sizeof *t);
}

static net_handle make_handle(const net_handles *t, const net_slot *s)
{
    return ((uint64_t)t->engine_tag << NET_HANDLE_TAG_SHIFT) | ((uint64_t)s->type << NET_HANDLE_TYPE_SHIFT) |
           ((uint64_t)s->gen << NET_HANDLE_GEN_SHIFT) | ((uint64_t)t->engine_index << 24) | s->index;
}

static net_slot *slot_at(net_handles *t, uint32_t index)
{
    net_slot *page = atomic_load_explicit(&t->pages[index >> NET_HT_PAGE_BITS], memory_order_acquire);
    return page ? &page[index & (NET_HT_PAGE_SIZE - 1)] : NULL;
}

int net_handle_alloc(net_handles *t, uint32_t type, void *obj, net_handle *out, net_slot **slot_out)
{
    uint32_t index;
    net_spin_lock(&t->lock);
    if (t->nfree && (t->nfree > t->reuse_after || t->count >= NET_HT_PAGES * NET_HT_PAGE_SIZE)) {
        index = t->free_list[t->free_head];
        t->free_head = (t->free_head + 1) & (t->free_cap - 1);
        t->nfree--;
    } else {
        if (t->count >= NET_HT_PAGES * NET_HT_PAGE_SIZE) {
            net_spin_unlock(&t->lock);
            return NET_E_LIMIT;
        }
        index = t->count;
        uint32_t pi = index >> NET_HT_PAGE_BITS;
        if (!atomic_load_explicit(&t->pages[pi], memory_order_relaxed)) {
            net_slot *page = net__calloc(NET_HT_PAGE_SIZE, sizeof *page);
            if (!page) {
                net_spin_unlock(&t->lock);
                return NET_E_NOMEM;
            }
            for (uint32_t i = 0; i < NET_HT_PAGE_SIZE; i++) {
                page[i].index = (pi << NET_HT_PAGE_BITS) | i;
                page[i].gen = first_gen(t, page[i].index);
            }
            atomic_store_explicit(&t->pages[pi], page, memory_order_release);
        }
        t->count++;
    }
    t->live++;
    net_spin_unlock(&t->lock);

    net_slot *s = slot_at(t, index);
    net_slot_lock(s);
    if (++s->gen > NET_HANDLE_GEN_MASK)
        s->gen = 1; /* generation 0 never appears */
    s->type = type;
    s->obj = obj;
    *out = make_handle(t, s);
    net_slot_unlock(s);
    if (slot_out)
        *slot_out = s;
    return 0;
}

net_slot *net_handle_lock(net_handles *t, net_handle h, uint32_t type_mask)
{
    uint32_t type = net_handle_type(h);
    uint32_t index = net_handle_slot(h);
    if (!(type_mask & NET__TBIT(type)) || net_handle_engine_index(h) != t->engine_index)
        return NULL;
    if (index >= NET_HT_PAGES * NET_HT_PAGE_SIZE)
        return NULL;
    net_slot *s = slot_at(t, index);
    if (!s)
        return NULL;
    net_slot_lock(s);
    if (!s->obj || s->type != type || s->gen != net_handle_gen(h) || net_handle_tag(h) != t->engine_tag) {
        net_slot_unlock(s);
        return NULL;
    }
    return s;
}

void net_handle_free(net_handles *t, net_handle h)
{
    net_slot *s = net_handle_lock(t, h, ~0u);
    if (s)
        net_slot_retire(t, s);
}

void net_slot_retire(net_handles *t, net_slot *s)
{
    s->obj = NULL;
    s->type = 0;
    uint32_t index = s->index;
    net_slot_unlock(s);

    net_spin_lock(&t->lock);
    if (t->nfree == t->free_cap) {
        uint32_t cap = t->free_cap ? t->free_cap * 2 : 1024;
        uint32_t *fl = net__malloc(cap * sizeof *fl);
        if (!fl) { /* the slot is simply never reused: a leak of 32 bytes, not a fault */
            t->live--;
            net_spin_unlock(&t->lock);
            return;
        }
        for (uint32_t i = 0; i < t->nfree; i++)
            fl[i] = t->free_list[(t->free_head + i) & (t->free_cap - 1)];
        free(t->free_list);
        t->free_list = fl;
        t->free_cap = cap;
        t->free_head = 0;
    }
    t->free_list[(t->free_head + t->nfree) & (t->free_cap - 1)] = index;
    t->nfree++;
    t->live--;
    net_spin_unlock(&t->lock);
}

void net_handles_each(net_handles *t, void (*fn)(void *obj, uint32_t type, void *ctx), void *ctx)
{
    for (uint32_t i = 0; i < t->count; i++) {
        net_slot *s = slot_at(t, i);
        if (s && s->obj)
            fn(s->obj, s->type, ctx);
    }
}
