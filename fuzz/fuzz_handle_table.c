/* fuzz_handle_table.c - libFuzzer target for the handle table.
 *
 * Input: [0] engine index (% 255), [1] engine tag, then operations, each an
 * opcode byte followed by its operands (missing operand bytes read as 0):
 *   0 alloc (type)            5 look up 8 raw bytes as a handle
 *   1 free handle i           6 lock handle i, retire the locked slot
 *   2 look up i, its type     7 check live counts and net_handles_each
 *   3 look up i, mask m       8 look up i with one field replaced
 *   4 look up i ^ 8 bytes     9 free a forged handle (i ^ 8 bytes)
 * (i picks one of the handles issued so far, live or freed.)
 * A model tracks which handles are live. Invariants: every issued handle is
 * non-zero, unique (no generation ever repeats here), carries the table's
 * engine index and tag, its type and a generation >= 1; a lookup succeeds
 * iff the handle is exactly a live one and its type is in the mask, and then
 * names that handle's object; frees of freed or forged handles change
 * nothing; the table's live count and net_handles_each agree with the model.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "handle.h"

#define FUZZ_ASSERT(c)                                                                                                 \
    do {                                                                                                               \
        if (!(c)) {                                                                                                    \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c);                                  \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

enum { MAXH = 2048 };

typedef struct issued {
    net_handle h;
    uint32_t type;
    int live;
} issued;

static net_handles g_t; /* 128 KiB of page pointers: not on the stack */
static issued g_hist[MAXH];
static int g_objs[MAXH];
static size_t g_nhist;

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static uint8_t rd8(reader *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static uint64_t rd64(reader *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)rd8(r) << (8 * i);
    return v;
}

static uint16_t rd16(reader *r)
{
    uint16_t v = rd8(r);
    return (uint16_t)(v | rd8(r) << 8);
}

/* The issued handle equal to h, if live; else -1. */
static long live_index(net_handle h)
{
    for (size_t i = 0; i < g_nhist; i++)
        if (g_hist[i].h == h)
            return g_hist[i].live ? (long)i : -1;
    return -1;
}

static size_t model_live(void)
{
    size_t n = 0;
    for (size_t i = 0; i < g_nhist; i++)
        n += g_hist[i].live != 0;
    return n;
}

/* Looks h up with mask; checks the answer against the model. */
static void check_lookup(net_handle h, uint32_t mask)
{
    long i = live_index(h);
    int want = i >= 0 && (mask & NET__TBIT(net_handle_type(h)));
    net_slot *s = net_handle_lock(&g_t, h, mask);
    if (want) {
        FUZZ_ASSERT(s != NULL);
        FUZZ_ASSERT(s->obj == &g_objs[i]);
        FUZZ_ASSERT(s->type == g_hist[i].type);
    } else {
        FUZZ_ASSERT(s == NULL);
    }
    if (s)
        net_slot_unlock(s);
}

static void each_cb(void *obj, uint32_t type, void *ctx)
{
    size_t *n = ctx;
    FUZZ_ASSERT((int *)obj >= g_objs && (int *)obj < g_objs + MAXH);
    size_t i = (size_t)((int *)obj - g_objs);
    FUZZ_ASSERT(i < g_nhist && g_hist[i].live && g_hist[i].type == type);
    (*n)++;
}

/* net_handles_free(), minus its 16384 free() calls (most of them free(NULL)),
 * which under ASan (a stack trace per call) cost ~1 ms and cut the fuzzer to
 * a few hundred runs a second. Every 256th input still uses the real one.
 * Pages past the ones slots were handed out from must not exist. */
static unsigned g_inputs;
static void teardown(void)
{
    if (++g_inputs % 256 == 0) {
        net_handles_free(&g_t);
        return;
    }
    uint32_t used_pages = (g_t.count + NET_HT_PAGE_SIZE - 1) >> NET_HT_PAGE_BITS;
    for (uint32_t i = 0; i < used_pages; i++) {
        FUZZ_ASSERT(atomic_load(&g_t.pages[i]) != NULL);
        free(atomic_load(&g_t.pages[i]));
        atomic_store(&g_t.pages[i], NULL);
    }
    FUZZ_ASSERT(atomic_load(&g_t.pages[used_pages]) == NULL);
    free(g_t.free_list);
    g_t.free_list = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    reader r = {data, size};
    const uint32_t engine_index = rd8(&r) % 255u;
    const uint32_t tag = rd8(&r) & 7u;
    net_handles_init(&g_t, engine_index, tag);
    g_t.reuse_after = rd8(&r) & 3u; /* a shallow reuse depth, so reuse happens within one input */
    g_nhist = 0;

    while (r.n) {
        uint8_t op = rd8(&r) % 10;
        size_t i = g_nhist ? rd16(&r) % g_nhist : 0;
        switch (op) {
        case 0: {
            uint32_t type = 1 + rd8(&r) % 3u;
            if (g_nhist == MAXH)
                break;
            net_handle h;
            net_slot *s = NULL;
            uint32_t count_before = g_t.count, nfree_before = g_t.nfree;
            FUZZ_ASSERT(net_handle_alloc(&g_t, type, &g_objs[g_nhist], &h, &s) == 0);
            FUZZ_ASSERT(h != 0);
            FUZZ_ASSERT(s != NULL && s->obj == &g_objs[g_nhist]);
            FUZZ_ASSERT(net_handle_engine_index(h) == engine_index);
            FUZZ_ASSERT(net_handle_type(h) == type);
            FUZZ_ASSERT(net_handle_tag(h) == tag);
            FUZZ_ASSERT(net_handle_gen(h) >= 1);
            FUZZ_ASSERT(net_handle_slot(h) == s->index);
            if (nfree_before > g_t.reuse_after) /* the oldest free slot is reused */
                FUZZ_ASSERT(g_t.count == count_before && g_t.nfree == nfree_before - 1);
            else /* a new slot while few wait */
                FUZZ_ASSERT(g_t.count == count_before + 1 && g_t.nfree == nfree_before && s->index == count_before);
            for (size_t j = 0; j < g_nhist; j++)
                FUZZ_ASSERT(g_hist[j].h != h);
            g_hist[g_nhist++] = (issued){h, type, 1};
            break;
        }
        case 1:
            if (!g_nhist)
                break;
            net_handle_free(&g_t, g_hist[i].h);
            g_hist[i].live = 0;
            break;
        case 2:
            if (g_nhist)
                check_lookup(g_hist[i].h, NET__TBIT(g_hist[i].type));
            break;
        case 3: {
            uint32_t mask = rd8(&r);
            mask = (mask & 0x80) ? ~0u ^ (mask & 0x7F) : mask;
            if (g_nhist)
                check_lookup(g_hist[i].h, mask);
            break;
        }
        case 4: {
            uint64_t x = rd64(&r);
            check_lookup((g_nhist ? g_hist[i].h : 0) ^ x, ~0u);
            break;
        }
        case 5:
            check_lookup(rd64(&r), ~0u);
            break;
        case 6: {
            if (!g_nhist)
                break;
            net_slot *s = net_handle_lock(&g_t, g_hist[i].h, ~0u);
            FUZZ_ASSERT((s != NULL) == (g_hist[i].live != 0));
            if (s) {
                FUZZ_ASSERT(s->obj == &g_objs[i]);
                net_slot_retire(&g_t, s);
                g_hist[i].live = 0;
            }
            break;
        }
        case 7: {
            size_t n = 0;
            FUZZ_ASSERT(g_t.live == model_live());
            net_handles_each(&g_t, each_cb, &n);
            FUZZ_ASSERT(n == model_live());
            break;
        }
        case 8: { /* one field replaced: slot, engine index, generation, type or tag */
            net_handle h = g_nhist ? g_hist[i].h : 0;
            uint8_t field = rd8(&r) % 5;
            uint64_t v = rd64(&r);
            static const struct {
                int shift;
                uint64_t mask;
            } f[] = {{0, NET_HANDLE_SLOT_MASK},
                     {24, 0xFF},
                     {NET_HANDLE_GEN_SHIFT, NET_HANDLE_GEN_MASK},
                     {NET_HANDLE_TYPE_SHIFT, NET_HANDLE_TYPE_MASK},
                     {NET_HANDLE_TAG_SHIFT, NET_HANDLE_TAG_MASK}};
            h = (h & ~(f[field].mask << f[field].shift)) | ((v & f[field].mask) << f[field].shift);
            check_lookup(h, ~0u);
            break;
        }
        case 9: {
            net_handle h = (g_nhist ? g_hist[i].h : 0) ^ rd64(&r);
            long j = live_index(h);
            net_handle_free(&g_t, h);
            if (j >= 0)
                g_hist[j].live = 0;
            FUZZ_ASSERT(g_t.live == model_live());
            break;
        }
        }
    }
    FUZZ_ASSERT(g_t.live == model_live());
    for (size_t i = 0; i < g_nhist; i++)
        check_lookup(g_hist[i].h, ~0u);
    teardown();
    return 0;
}
