/* object.c - what connections, listeners and UDP sockets share as the
 * backends see them (backend.h): their net_obj, and its release. A backend
 * says when it is done with an object; the core finishes it at the end of
 * the turn, so every kind ends the same way on every backend. */
#include "core.h"

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
