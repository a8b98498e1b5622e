/* test_timer_heap.c - the timer min-heap:
 *  - timers pop in due order (ties included), each once; next() is the minimum;
 *  - removing from the middle, the root, the last place, twice, or a timer
 *    never armed keeps the heap valid and the removed timer never fires;
 *  - a repeating timer re-arms at due + repeat, and a poller that fell behind
 *    gets one event, re-armed from now, not a burst of catch-ups. */
#include "timer.h"
#include "unit.h"

#define NOT_ARMED UINT32_MAX

static void timer_init(net_timer *tm, uint64_t due, uint32_t repeat)
{
    memset(tm, 0, sizeof *tm);
    tm->due = due;
    tm->repeat_ms = repeat;
    tm->heap_index = NOT_ARMED;
    atomic_init(&tm->user, 0);
}

/* Heap order and back-pointers. */
static int heap_ok(const net_timers *t)
{
    for (uint32_t i = 0; i < t->count; i++) {
        if (t->heap[i]->heap_index != i)
            return 0;
        if (i && t->heap[(i - 1) / 2]->due > t->heap[i]->due)
            return 0;
    }
    return 1;
}

static void ordering(void)
{
    enum { N = 5000 };
    net_timers t;
    net_timers_init(&t);
    net_timer *tm = malloc(N * sizeof *tm);
    REQUIRE(tm);
    uint64_t min = UINT64_MAX;
    CHECK(net_timers_next(&t) == UINT64_MAX);
    for (uint32_t i = 0; i < N; i++) {
        /* many ties: due in a small range */
        timer_init(&tm[i], 1000 + unit_below(i % 2 ? 50 : 100000), 0);
        atomic_store(&tm[i].user, i);
        REQUIRE(net_timers_add(&t, &tm[i]) == 0);
        if (tm[i].due < min)
            min = tm[i].due;
        CHECK(net_timers_next(&t) == min);
    }
    CHECK(heap_ok(&t));
    int rearmed = -1;
    CHECK(net_timers_pop_due(&t, 999, &rearmed) == NULL); /* nothing due yet */
    uint8_t *seen = calloc(N, 1);
    REQUIRE(seen);
    uint64_t last = 0, now = 1000;
    uint32_t popped = 0;
    while (t.count) {
        net_timer *p = net_timers_pop_due(&t, now, &rearmed);
        if (!p) {
            CHECK(net_timers_next(&t) > now);
            now += 997;
            continue;
        }
        CHECK(p->due <= now);
        CHECK(p->due >= last);
        CHECK_EQ(rearmed, 0);
        CHECK_EQ(p->heap_index, NOT_ARMED);
        uint64_t id = atomic_load(&p->user);
        CHECK(!seen[id]);
        seen[id] = 1;
        last = p->due;
        popped++;
        if (popped % 512 == 0)
            CHECK(heap_ok(&t));
        UNIT_BAIL_IF_NOISY();
    }
    CHECK_EQ(popped, N);
    CHECK(net_timers_next(&t) == UINT64_MAX);
    CHECK(net_timers_pop_due(&t, UINT64_MAX, &rearmed) == NULL);
    free(seen);
    free(tm);
    net_timers_free(&t);
}

static void remove_anywhere(void)
{
    enum { N = 1000 };
    for (int rep = 0; rep < 20; rep++) {
        net_timers t;
        net_timers_init(&t);
        net_timer *tm = malloc(N * sizeof *tm);
        uint8_t *removed = calloc(N, 1);
        REQUIRE(tm && removed);
        for (uint32_t i = 0; i < N; i++) {
            timer_init(&tm[i], unit_below(2000), 0);
            atomic_store(&tm[i].user, i);
            REQUIRE(net_timers_add(&t, &tm[i]) == 0);
        }
        /* the root, the last place, then the middle, at random */
        net_timer *root = t.heap[0], *lastp = t.heap[t.count - 1];
        net_timers_remove(&t, root);
        removed[atomic_load(&root->user)] = 1;
        CHECK(heap_ok(&t));
        if (lastp != root) {
            net_timers_remove(&t, lastp);
            removed[atomic_load(&lastp->user)] = 1;
            CHECK(heap_ok(&t));
        }
        for (int k = 0; k < N / 2; k++) {
            uint32_t i = unit_below(N);
            uint32_t before = t.count;
            net_timers_remove(&t, &tm[i]); /* maybe removed already: no-op */
            CHECK_EQ(t.count, before - (removed[i] ? 0 : 1));
            removed[i] = 1;
            CHECK_EQ(tm[i].heap_index, NOT_ARMED);
            if (k % 16 == 0)
                CHECK(heap_ok(&t));
        }
        CHECK(heap_ok(&t));
        /* a timer never armed, with a heap_index that happens to be valid */
        net_timer stray;
        timer_init(&stray, 0, 0);
        net_timers_remove(&t, &stray);
        stray.heap_index = 0;
        uint32_t before = t.count;
        net_timers_remove(&t, &stray);
        CHECK_EQ(t.count, before);
        CHECK(heap_ok(&t));
        /* re-add a few removed ones: they fire again */
        uint32_t readded = 0;
        for (uint32_t i = 0; i < N && readded < 10; i++) {
            if (removed[i]) {
                REQUIRE(net_timers_add(&t, &tm[i]) == 0);
                removed[i] = 0;
                readded++;
            }
        }
        int rearmed;
        uint64_t last = 0;
        uint32_t live = 0;
        for (uint32_t i = 0; i < N; i++)
            live += !removed[i];
        CHECK_EQ(t.count, live);
        net_timer *p;
        while ((p = net_timers_pop_due(&t, UINT64_MAX - 1, &rearmed)) != NULL) {
            CHECK(!removed[atomic_load(&p->user)]);
            CHECK(p->due >= last);
            last = p->due;
            removed[atomic_load(&p->user)] = 1;
            live--;
        }
        CHECK_EQ(live, 0);
        free(removed);
        free(tm);
        net_timers_free(&t);
        UNIT_BAIL_IF_NOISY();
    }
}

static void repeat_no_burst(void)
{
    net_timers t;
    net_timers_init(&t);
    net_timer rep, once;
    timer_init(&rep, 100, 10);
    timer_init(&once, 125, 0);
    REQUIRE(net_timers_add(&t, &rep) == 0);
    REQUIRE(net_timers_add(&t, &once) == 0);
    int rearmed = -1;

    CHECK(net_timers_pop_due(&t, 99, &rearmed) == NULL);
    CHECK(net_timers_pop_due(&t, 100, &rearmed) == &rep); /* on time */
    CHECK_EQ(rearmed, 1);
    CHECK(rep.due == 110);
    CHECK(rep.heap_index != NOT_ARMED);
    CHECK(net_timers_pop_due(&t, 100, &rearmed) == NULL); /* once per period */
    CHECK(net_timers_pop_due(&t, 109, &rearmed) == NULL);
    CHECK(net_timers_pop_due(&t, 115, &rearmed) == &rep); /* a little late: the period stays on its grid */
    CHECK(rep.due == 120);
    CHECK(net_timers_pop_due(&t, 115, &rearmed) == NULL);
    CHECK(net_timers_next(&t) == 120);
    /* The poller falls far behind: at 1000 the repeating timer fires once
     * (and the one-shot once), not 88 times. */
    uint32_t fired_rep = 0, fired_once = 0;
    net_timer *p;
    while ((p = net_timers_pop_due(&t, 1000, &rearmed)) != NULL) {
        if (p == &rep) {
            fired_rep++;
            CHECK_EQ(rearmed, 1);
        } else {
            CHECK(p == &once);
            fired_once++;
            CHECK_EQ(rearmed, 0);
        }
        REQUIRE(fired_rep + fired_once < 10);
    }
    CHECK_EQ(fired_rep, 1);
    CHECK_EQ(fired_once, 1);
    CHECK(rep.due == 1010); /* re-armed from now */
    CHECK(net_timers_next(&t) == 1010);
    /* Exactly on the boundary: due + repeat == now is still "behind". */
    CHECK(net_timers_pop_due(&t, 1020, &rearmed) == &rep);
    CHECK(rep.due == 1030);
    CHECK(net_timers_pop_due(&t, 1020, &rearmed) == NULL);
    /* Removing a repeating timer stops it. */
    net_timers_remove(&t, &rep);
    CHECK(net_timers_pop_due(&t, UINT64_MAX - 1, &rearmed) == NULL);
    CHECK_EQ(t.count, 0);

    /* Many repeating timers with different periods, the poller stepping in
     * uneven strides: none fires twice in one step, and each fires about
     * elapsed / period times. */
    enum { M = 50 };
    net_timer r[M];
    uint32_t fires[M] = {0};
    for (uint32_t i = 0; i < M; i++) {
        timer_init(&r[i], 1 + i, 1 + i * 3);
        atomic_store(&r[i].user, i);
        REQUIRE(net_timers_add(&t, &r[i]) == 0);
    }
    uint64_t now = 0;
    for (int step = 0; step < 2000; step++) {
        now += 1 + unit_below(step % 100 == 0 ? 500 : 5);
        uint8_t this_step[M] = {0};
        while ((p = net_timers_pop_due(&t, now, &rearmed)) != NULL) {
            uint64_t id = atomic_load(&p->user);
            CHECK(!this_step[id]);
            this_step[id] = 1;
            fires[id]++;
            CHECK(p->due > now);
            UNIT_BAIL_IF_NOISY();
        }
        CHECK(heap_ok(&t));
    }
    for (uint32_t i = 0; i < M; i++) {
        uint64_t period = 1 + i * 3;
        CHECK(fires[i] <= now / period + 1);
        CHECK(fires[i] >= 1);
    }
    net_timers_free(&t);
}

int main(void)
{
    unit_seed();
    ordering();
    remove_anywhere();
    repeat_no_burst();
    return unit_done("timer_heap");
}
