/* list.h - the intrusive list every loop keeps its objects on: connections,
 * lingering connections, listeners, UDP sockets, objects with work pending.
 *
 * A link lives inside its object. It points back at the pointer that points
 * at it (its list's head or the previous link's next), so it can leave its
 * list in constant time without knowing which list that is, and "on a list"
 * is simply pprev != NULL: no flag to keep in step. */
#ifndef NET_LIST_H
#define NET_LIST_H

#include <stddef.h>

typedef struct net_link {
    struct net_link *next;
    struct net_link **pprev; /* NULL while on no list */
} net_link;

/* The object a link is embedded in, as member of type. */
#define NET_CONTAINER_OF(link, type, member) ((type *)(void *)((char *)(link)-offsetof(type, member)))

static inline int net_linked(const net_link *k)
{
    return k->pprev != NULL;
}

/* Puts k first on the list whose head is *head; k must be on no list. */
static inline void net_list_push(net_link **head, net_link *k)
{
    k->next = *head;
    if (k->next)
        k->next->pprev = &k->next;
    k->pprev = head;
    *head = k;
}

/* Takes k off its list; nothing when it is on none. */
static inline void net_list_remove(net_link *k)
{
    if (!k->pprev)
        return;
    *k->pprev = k->next;
    if (k->next)
        k->next->pprev = k->pprev;
    k->next = NULL;
    k->pprev = NULL;
}

#endif
