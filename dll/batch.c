/*
 * batch.c - net_send_batch: many net_send calls in one (the layout is
 * documented in net.h, "batched sends"). net_forward_data, which looks into
 * the core's held blocks, is in api.c.
 *
 * It exists for bindings that pay per call through an FFI (Python's cffi
 * costs more per call than net_send itself): they build three flat arrays
 * and one payload buffer and cross once per batch. Each item is exactly a
 * net_send through the public API, so it keeps every rule net_send keeps
 * (handle checks, closing, send cap, sizes, thread safety) and needs none
 * of the core's internals.
 */
#include <limits.h>

#include "net.h"

/* Whether [offset, offset + len) lies inside a buffer of size bytes,
 * without overflowing. */
static int inside(uint64_t offset, uint32_t len, size_t size)
{
    return offset <= (uint64_t)size && len <= (uint64_t)size - offset;
}

NET_API int net_send_batch(const net_handle *conns, const uint32_t *offsets, const uint32_t *lens, uint32_t count,
                           const void *payload, size_t size, int *results)
{
    /* The return value counts the queued items in an int: a count it could
     * not express is refused before anything is sent. */
    if (count > (uint32_t)INT_MAX)
        return NET_E_INVAL;
    if (count && (!conns || !lens || !results))
        return NET_E_INVAL;
    if (!payload && size)
        return NET_E_INVAL;
    const char *bytes = payload;
    uint64_t next = 0; /* where the next item starts when offsets is NULL */
    int queued = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t at = offsets ? offsets[i] : next;
        next = at + lens[i];
        int rc;
        if (!inside(at, lens[i], size))
            rc = NET_E_INVAL;
        else /* an empty payload may come with no buffer at all */
            rc = net_send(conns[i], lens[i] ? bytes + at : "", lens[i]);
        results[i] = rc;
        if (rc == 0)
            queued++;
    }
    return queued;
}
