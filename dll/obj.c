/* obj.c - what connections, listeners and UDP sockets share as objects of
 * an engine: how they get a handle, with the event room they reserve, and
 * how they give both back. */
#include "core.h"

void net__obj_init(net_obj *o, uint32_t kind, net_sock s, net_loop *loop, uint64_t user)
{
    o->kind = kind;
    o->sock = s;
    o->loop = loop;
    atomic_init(&o->user, user);
}

int net__obj_register(net_engine_s *e, net_obj *o, uint32_t events)
{
    int rc = net__reserve_events(e, events);
    if (rc)
        return rc;
    rc = net_handle_alloc(&e->handles, o->kind, o, &o->handle, &o->slot);
    if (rc)
        net__unreserve_events(e, events);
    return rc;
}

void net__obj_retire(net_engine_s *e, net_obj *o, uint32_t events)
{
    net__unreserve_events(e, events);
    net_slot *s = net_handle_lock(&e->handles, o->handle, NET__TBIT(o->kind));
    if (s)
        net_slot_retire(&e->handles, s);
}

int net__obj_socket_usable(const net_obj *o)
{
    if (o->kind == OBJ_CONN) {
        int state = ((const net_conn *)o)->state;
        return state == CS_OPEN || state == CS_CONNECTING;
    }
    if (o->kind == OBJ_UDP)
        return ((const net_udp *)o)->state == US_OPEN;
    return !((const net_listener *)o)->closing && o->sock != NET_BAD_SOCK;
}
