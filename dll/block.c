#include "testhooks.h"
#include "block.h"

#include <stdlib.h>
#include <string.h>

net_block *net_block_new(size_t cap)
{
    if (cap > UINT32_MAX - sizeof(net_block))
        return NULL;
    net_block *b = net__malloc(sizeof *b + (cap ? cap : 1));
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->cap = (uint32_t)cap;
    b->used = 0;
    b->reserved_ = 0;
    return b;
}

net_block *net_block_from(const void *data, size_t len)
{
    net_block *b = net_block_new(len);
    if (b && len) {
        memcpy(b->data, data, len);
        b->used = (uint32_t)len;
    }
    return b;
}

net_block *net_block_grow(net_block *b, size_t cap)
{
    if (cap > UINT32_MAX - sizeof(net_block))
        return NULL;
    net_block *nb = net__realloc(b, sizeof *b + (cap ? cap : 1));
    if (nb)
        nb->cap = (uint32_t)cap;
    return nb;
}

void net_block_unref(net_block *b, int n)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, n, memory_order_acq_rel) == n)
        free(b);
}
