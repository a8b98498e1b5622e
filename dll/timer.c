#include "testhooks.h"
#include "timer.h"

#include <stdlib.h>
#include <string.h>
#include "handle.h"

#define NOT_ARMED UINT32_MAX

void net_timers_init(net_timers *t)
{
    memset(t, 0, sizeof *t);
}

void net_timers_free(net_timers *t)
{
    free(t->heap);
    memset(t, 0, sizeof *t);
}

static void place(net_timers *t, uint32_t i, net_timer *tm)
{
    t->heap[i] = tm;
    tm->heap_index = i;
}

static void sift_up(net_timers *t, uint32_t i)
{
    net_timer *tm = t->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (t->heap[parent]->due <= tm->due)
            break;
        place(t, i, t->heap[parent]);
        i = parent;
    }
    place(t, i, tm);
}

static void sift_down(net_timers *t, uint32_t i)
{
    net_timer *tm = t->heap[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= t->count)
            break;
        if (child + 1 < t->count && t->heap[child + 1]->due < t->heap[child]->due)
            child++;
        if (tm->due <= t->heap[child]->due)
            break;
        place(t, i, t->heap[child]);
        i = child;
    }
    place(t, i, tm);
}

int net_timers_add(net_timers *t, net_timer *tm)
{
    if (t->count == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        net_timer **h = net__realloc(t->heap, cap * sizeof *h);
        if (!h)
            return NET_E_NOMEM;
        t->heap = h;
        t->cap = cap;
    }
    place(t, t->count++, tm);
    sift_up(t, tm->heap_index);
    return 0;
}

void net_timers_remove(net_timers *t, net_timer *tm)
{
    uint32_t i = tm->heap_index;
    if (i == NOT_ARMED || i >= t->count || t->heap[i] != tm)
        return;
    tm->heap_index = NOT_ARMED;
    net_timer *last = t->heap[--t->count];
    if (i == t->count)
        return;
    place(t, i, last);
    sift_down(t, i);
    sift_up(t, last->heap_index);
}

uint64_t net_timers_next(net_timers *t)
{
    return t->count ? t->heap[0]->due : UINT64_MAX;
}

net_timer *net_timers_pop_due(net_timers *t, uint64_t now, int *rearmed)
{
    if (!t->count || t->heap[0]->due > now)
        return NULL;
    net_timer *tm = t->heap[0];
    if (tm->repeat_ms) {
        /* A poller that fell behind gets one event, not a burst of catch-ups. */
        tm->due += tm->repeat_ms;
        if (tm->due <= now)
            tm->due = now + tm->repeat_ms;
        sift_down(t, 0);
        *rearmed = 1;
    } else {
        net_timers_remove(t, tm);
        *rearmed = 0;
    }
    return tm;
}
