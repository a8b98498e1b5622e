/* timer.h - the engine's timers: a binary min-heap run by the polling thread. */
#ifndef NET_TIMER_H
#define NET_TIMER_H

#include <stdatomic.h>
#include <stdint.h>
#include "net.h"

typedef struct net_timer {
    net_handle handle;
    uint64_t due;
    uint32_t repeat_ms;
    uint32_t heap_index;
    int queued; /* under the heap's lock: its TIMER event waits to be polled */
    atomic_uint_least64_t user;
} net_timer;

typedef struct net_timers {
    atomic_uint lock;
    net_timer **heap;
    uint32_t count, cap;
} net_timers;

void net_timers_init(net_timers *t);
void net_timers_free(net_timers *t); /* frees the heap; the timers belong to their handles */
int net_timers_add(net_timers *t, net_timer *tm);
void net_timers_remove(net_timers *t, net_timer *tm);
/* Earliest due time, or UINT64_MAX. */
uint64_t net_timers_next(net_timers *t);
/* Pops one timer due at now, re-arming it if it repeats; NULL when none. */
net_timer *net_timers_pop_due(net_timers *t, uint64_t now, int *rearmed);

#endif
