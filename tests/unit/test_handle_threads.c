/* test_handle_threads.c - two threads hammer one handle table at once, each
 * looking handles up, freeing them (sometimes the same handle as the other
 * thread, sometimes a stale one), retiring locked slots and allocating new
 * ones. Nothing crashes, a successful lookup always names the object the
 * handle was made for, the slot lock excludes the other thread (a plain
 * counter bumped under it adds up; run under TSan too), and at the end the
 * table's live count matches the handles still held. */
#include <stdatomic.h>
#include "handle.h"
#include "unit.h"

enum { NENTRIES = 64, OPS = 400000, NTHREADS = 2 };

typedef struct obj {
    uint64_t guarded;     /* bumped only under the slot lock */
    _Atomic(net_handle) made_for; /* the handle alloc returned for it */
} obj;

/* A pool of objects per entry, so an object is never reused while a stale
 * handle to it may be locked (its made_for stays that handle's). */
enum { POOL = 4096 };

static net_handles *g_table;
static _Atomic(net_handle) g_entries[NENTRIES];
static obj g_objs[NTHREADS][POOL];
static atomic_uint g_bad;
static atomic_ullong g_locked_ok;

#define RESERVED ((net_handle)1) /* generation 0: never a real handle */

typedef struct worker {
    int id;
    uint64_t rng;
    uint32_t next_obj;
} worker;

static uint64_t wrand(worker *w)
{
    uint64_t z = (w->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void work(void *arg)
{
    worker *w = arg;
    for (int op = 0; op < OPS; op++) {
        uint64_t r = wrand(w);
        uint32_t i = (uint32_t)(r % NENTRIES);
        net_handle h = atomic_load(&g_entries[i]);
        switch ((r >> 8) % 8) {
        case 0:
        case 1:
        case 2:
        case 3: { /* look up */
            if (h == 0 || h == RESERVED)
                break;
            net_slot *s = net_handle_lock(g_table, h, NET__TBIT(NET__T_CONN));
            if (s) {
                obj *o = s->obj;
                if (!o || atomic_load(&o->made_for) != h)
                    atomic_fetch_add(&g_bad, 1);
                else
                    o->guarded++;
                atomic_fetch_add(&g_locked_ok, 1);
                net_slot_unlock(s);
            }
            break;
        }
        case 4: /* free (may race with the other thread freeing it too) */
            if (h == 0 || h == RESERVED)
                break;
            net_handle_free(g_table, h);
            atomic_compare_exchange_strong(&g_entries[i], &h, 0);
            break;
        case 5: { /* lock, then retire the locked slot */
            if (h == 0 || h == RESERVED)
                break;
            net_slot *s = net_handle_lock(g_table, h, NET__TBIT(NET__T_CONN));
            if (s)
                net_slot_retire(g_table, s);
            atomic_compare_exchange_strong(&g_entries[i], &h, 0);
            break;
        }
        case 6: { /* stale handle: a freed one must stay dead */
            if (h == 0 || h == RESERVED)
                break;
            net_handle stale = h - (1ull << 32); /* previous generation of the slot */
            net_slot *s = net_handle_lock(g_table, stale, ~0u);
            if (s) {
                atomic_fetch_add(&g_bad, 1);
                net_slot_unlock(s);
            }
            break;
        }
        default: { /* allocate into an empty entry */
            net_handle zero = 0;
            if (!atomic_compare_exchange_strong(&g_entries[i], &zero, RESERVED))
                break;
            obj *o = &g_objs[w->id][w->next_obj++ % POOL];
            /* made_for is written before the handle is published; a lookup
             * through the handle can only succeed after alloc returned it. */
            net_handle nh;
            atomic_store(&o->made_for, RESERVED);
            if (net_handle_alloc(g_table, NET__T_CONN, o, &nh, NULL) != 0) {
                atomic_fetch_add(&g_bad, 1);
                atomic_store(&g_entries[i], 0);
                break;
            }
            atomic_store(&o->made_for, nh);
            atomic_store(&g_entries[i], nh);
            break;
        }
        }
    }
}

int main(void)
{
    unit_seed();
    g_table = malloc(sizeof *g_table);
    REQUIRE(g_table);
    net_handles_init(g_table, 1, 3);
    for (int i = 0; i < NENTRIES; i += 2) {
        net_handle h;
        obj *o = &g_objs[0][POOL - 1 - i];
        REQUIRE(net_handle_alloc(g_table, NET__T_CONN, o, &h, NULL) == 0);
        atomic_store(&o->made_for, h);
        atomic_store(&g_entries[i], h);
    }
    worker w[NTHREADS];
    unit_thread th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker){i, unit_rand(), 0};
        REQUIRE(unit_thread_start(&th[i], work, &w[i]) == 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        unit_thread_join(&th[i]);

    CHECK_EQ(atomic_load(&g_bad), 0);
    uint32_t held = 0;
    for (int i = 0; i < NENTRIES; i++) {
        net_handle h = atomic_load(&g_entries[i]);
        CHECK(h != RESERVED);
        if (!h)
            continue;
        held++;
        net_slot *s = net_handle_lock(g_table, h, NET__TBIT(NET__T_CONN));
        CHECK(s != NULL);
        if (s)
            net_slot_unlock(s);
    }
    CHECK_EQ(g_table->live, held);
    uint64_t guarded = 0;
    for (int t = 0; t < NTHREADS; t++)
        for (int i = 0; i < POOL; i++)
            guarded += g_objs[t][i].guarded;
    CHECK(guarded == atomic_load(&g_locked_ok)); /* no increment lost: the slot lock excluded */
    printf("lookups that found their object: %llu\n", (unsigned long long)atomic_load(&g_locked_ok));
    net_handles_free(g_table);
    free(g_table);
    return unit_done("handle_threads");
}
