/*
 * event_pack.c - net_events_pack: a polled batch as plain records plus one
 * payload buffer (the layout is documented in net.h, "packed events").
 *
 * It works on what net_poll already returned and keeps no state: an event
 * that does not fit stays in the caller's array, to be packed by the next
 * call, so a small buffer can slow a binding down but never lose an event.
 */
#include <string.h>
#include "net.h"

static int carries_payload(uint32_t type)
{
    return type == NET_EV_DATA || type == NET_EV_DATAGRAM;
}

static void pack_record(net_packed_event *rec, const net_event *ev, uint32_t offset)
{
    rec->type = ev->type;
    rec->status = ev->status;
    rec->handle = ev->handle;
    rec->parent = ev->parent;
    rec->user = ev->user;
    rec->offset = offset;
    rec->len = ev->len;
    rec->os_error = ev->os_error;
    rec->reserved_ = 0;
    rec->addr = ev->addr;
}

NET_API int net_events_pack(const net_event *events, int count, net_packed_event *records, void *payload, uint32_t size,
                            uint32_t *used)
{
    if (!events || !records || !used || count < 0 || (!payload && size))
        return NET_E_INVAL;
    uint8_t *out = payload;
    uint32_t fill = 0;
    int k = 0;
    int why = 0;
    uint32_t need = 0;
    for (; k < count; k++) {
        const net_event *ev = &events[k];
        if (!carries_payload(ev->type)) {
            pack_record(&records[k], ev, 0);
            continue;
        }
        if (ev->len > size - fill) {
            why = NET_E_MSGSIZE;
            need = ev->len;
            break;
        }
        if (ev->len && !ev->data) {
            why = NET_E_INVAL;
            break;
        }
        /* An empty payload may come without a data pointer, and memcpy must
         * not be given NULL even to copy nothing. */
        if (ev->len)
            memcpy(out + fill, ev->data, ev->len);
        pack_record(&records[k], ev, fill);
        fill += ev->len;
    }
    if (k == 0 && why) {
        *used = why == NET_E_MSGSIZE ? need : 0;
        return why;
    }
    *used = fill;
    return k;
}
