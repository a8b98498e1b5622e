/* object.c - what connections, listeners and UDP sockets share as objects
 * of an engine: how they get a handle, with the event room they reserve, and
 * how they give both back; what the backends see of them (backend.h); and
 * their release. A backend says when it is done with an object; the core
 * finishes it at the end of the turn, so every kind ends the same way on
 * every backend. */
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
    return net__obj_register_as(e, o, o->kind, events);
}

int net__obj_register_as(net_engine_s *e, net_obj *o, uint32_t type, uint32_t events)
{
    int rc = net__reserve_events(e, events);
    if (rc)
        return rc;
    rc = net_handle_alloc(&e->handles, type, o, &o->handle, &o->slot);
    if (rc)
        net__unreserve_events(e, events);
    return rc;
}

void net__obj_retire(net_engine_s *e, net_obj *o, uint32_t events)
{
    net__unreserve_events(e, events);
    net_slot *s = net_handle_lock(&e->handles, o->handle, NET__TBIT(net_handle_type(o->handle)));
    if (s)
        net_slot_retire(&e->handles, s);
}

int net__obj_socket_usable(const net_obj *o)
{
    if (o->kind == OBJ_CONN) {
        int state = ((const net_conn *)o)->state;
        return state == CS_OPEN || state == CS_CONNECTING;
    }
    if (o->kind == OBJ_UDP) /* a reliable-UDP listener stays open while its sessions close */
        return ((const net_udp *)o)->state == US_OPEN && !net__rudp_close_requested((const net_udp *)o);
    if (o->kind == OBJ_RUDP)
        return 0; /* no socket of its own: api.c asks its endpoint's */
    return !((const net_listener *)o)->closing && o->sock != NET_BAD_SOCK;
}

/* ---- as the backends see it ---- */

uint32_t net__obj_kind(const net_obj *o)
{
    return o->kind;
}

net_sock net__obj_sock(const net_obj *o)
{
    return o->sock;
}

void **net__obj_bk(net_obj *o)
{
    return &o->bk;
}

/* Only queued: the backend's state may still be named by what it handles
 * in the rest of this turn, and the object is finished once it is over. */
void net__released(net_obj *o)
{
    net_loop *loop = o->loop;
    o->released_next = loop->released;
    loop->released = o;
}

int net__loop_releasing(const net_loop *loop)
{
    return loop->released != NULL;
}

static void finish(net_obj *o)
{
    if (o->kind == OBJ_CONN)
        net__conn_released((net_conn *)o);
    else if (o->kind == OBJ_UDP)
        net__udp_released((net_udp *)o);
    else
        net__listener_released((net_listener *)o);
}

void net__finish_released(net_loop *loop)
{
    while (loop->released) {
        net_obj *o = loop->released;
        loop->released = o->released_next;
        o->released_next = NULL;
        if (o->bk) {
            loop->e->bk->sock_free(loop, o);
            o->bk = NULL;
        }
        /* Last: once its CLOSE is queued the poller may free o. */
        finish(o);
    }
}
