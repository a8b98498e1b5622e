/* test_handle_table.c - the 64-bit handle table:
 *  - a handle carries slot, engine index, generation (>= 1), type and engine
 *    tag; it is never 0;
 *  - alloc/free/alloc reuses the slot under a new generation; the old handle
 *    stays dead; the generation wraps to 1, never 0;
 *  - stale, forged, zero, wrong-type, wrong-engine-index and wrong-engine-tag
 *    handles are all rejected, and freeing them changes nothing;
 *  - 100k live handles, half freed and reused, all checked. */
#include "handle.h"
#include "unit.h"

#define SLOT_OF(h) net_handle_slot(h)
#define GEN_OF(h) net_handle_gen(h)
#define TAG_OF(h) net_handle_tag(h)
#define ALL_TYPES (NET__TBIT(NET__T_CONN) | NET__TBIT(NET__T_LISTENER) | NET__TBIT(NET__T_TIMER))

/* A table that reuses a freed slot at once (reuse_after 0), so the
 * mechanics show in a few steps; reuse_order checks the real depth. */
static net_handles *new_table(uint32_t index, uint32_t tag)
{
    net_handles *t = malloc(sizeof *t);
    REQUIRE(t);
    net_handles_init(t, index, tag);
    t->reuse_after = 0;
    return t;
}

static void delete_table(net_handles *t)
{
    net_handles_free(t);
    free(t);
}

/* h names obj of type; checks the lock path and unlocks. */
static int lookup_is(net_handles *t, net_handle h, uint32_t mask, void *obj)
{
    net_slot *s = net_handle_lock(t, h, mask);
    if (!s)
        return 0;
    int ok = s->obj == obj;
    net_slot_unlock(s);
    return ok;
}

static int rejected(net_handles *t, net_handle h)
{
    net_slot *s = net_handle_lock(t, h, ~0u);
    if (s) {
        net_slot_unlock(s);
        return 0;
    }
    return 1;
}

static void layout(void)
{
    net_handles *t = new_table(3, 5);
    int obj;
    net_handle h;
    net_slot *slot = NULL;
    REQUIRE(net_handle_alloc(t, NET__T_LISTENER, &obj, &h, &slot) == 0);
    CHECK(h != 0);
    CHECK(slot != NULL);
    CHECK_EQ(SLOT_OF(h), 0);
    CHECK_EQ(net_handle_engine_index(h), 3);
    CHECK(GEN_OF(h) >= 1);
    CHECK_EQ(net_handle_type(h), NET__T_LISTENER);
    CHECK_EQ(TAG_OF(h), 5);
    CHECK(slot->obj == &obj);
    CHECK(lookup_is(t, h, NET__TBIT(NET__T_LISTENER), &obj));
    CHECK(lookup_is(t, h, ~0u, &obj));
    CHECK_EQ(t->live, 1);
    /* The tag is three bits. */
    net_handles *t2 = new_table(254, 13);
    REQUIRE(net_handle_alloc(t2, NET__T_TIMER, &obj, &h, NULL) == 0);
    CHECK_EQ(TAG_OF(h), 5);
    CHECK_EQ(net_handle_engine_index(h), 254);
    CHECK(lookup_is(t2, h, NET__TBIT(NET__T_TIMER), &obj));
    delete_table(t2);
    delete_table(t);
}

static void reuse_new_generation(void)
{
    net_handles *t = new_table(0, 1);
    int a, b;
    net_handle h1, h2, h3;
    REQUIRE(net_handle_alloc(t, NET__T_CONN, &a, &h1, NULL) == 0);
    net_handle_free(t, h1);
    CHECK_EQ(t->live, 0);
    CHECK(rejected(t, h1));
    REQUIRE(net_handle_alloc(t, NET__T_CONN, &b, &h2, NULL) == 0);
    CHECK_EQ(SLOT_OF(h2), SLOT_OF(h1)); /* the slot is reused... */
    CHECK(h2 != h1);                    /* ...under a new generation */
    CHECK_EQ(GEN_OF(h2), GEN_OF(h1) + 1);
    CHECK(rejected(t, h1));
    CHECK(lookup_is(t, h2, NET__TBIT(NET__T_CONN), &b));
    /* Freeing the stale handle again does not touch the new object. */
    net_handle_free(t, h1);
    CHECK(lookup_is(t, h2, NET__TBIT(NET__T_CONN), &b));
    CHECK_EQ(t->live, 1);
    /* Retire through a locked slot. */
    net_slot *s = net_handle_lock(t, h2, NET__TBIT(NET__T_CONN));
    REQUIRE(s);
    net_slot_retire(t, s);
    CHECK(rejected(t, h2));
    CHECK_EQ(t->live, 0);
    /* Double free is harmless. */
    net_handle_free(t, h2);
    CHECK_EQ(t->live, 0);
    REQUIRE(net_handle_alloc(t, NET__T_TIMER, &a, &h3, NULL) == 0);
    CHECK(h3 != h1 && h3 != h2);
    CHECK_EQ(t->nfree, 0); /* the slot was on the free list once, not twice */
    net_handle h4;
    REQUIRE(net_handle_alloc(t, NET__T_TIMER, &a, &h4, NULL) == 0);
    CHECK(SLOT_OF(h4) != SLOT_OF(h3));
    delete_table(t);
}

/* Freed slots come back oldest first, and only once reuse_after others
 * wait behind them; engines sharing an index and a tag start their slots at
 * different generations. */
static void reuse_order(void)
{
    net_handles *t = new_table(0, 0);
    t->reuse_after = 3;
    int obj;
    net_handle h[5], n;
    for (int i = 0; i < 5; i++)
        REQUIRE(net_handle_alloc(t, NET__T_CONN, &obj, &h[i], NULL) == 0);
    for (int i = 0; i < 5; i++)
        net_handle_free(t, h[i]);
    REQUIRE(net_handle_alloc(t, NET__T_CONN, &obj, &n, NULL) == 0);
    CHECK_EQ(SLOT_OF(n), SLOT_OF(h[0])); /* the oldest free slot */
    REQUIRE(net_handle_alloc(t, NET__T_CONN, &obj, &n, NULL) == 0);
    CHECK_EQ(SLOT_OF(n), SLOT_OF(h[1]));
    REQUIRE(net_handle_alloc(t, NET__T_CONN, &obj, &n, NULL) == 0);
    CHECK_EQ(SLOT_OF(n), 5); /* three wait: a new slot instead */
    CHECK_EQ(t->nfree, 3);
    delete_table(t);

    net_handles *d = malloc(sizeof *d);
    REQUIRE(d);
    net_handles_init(d, 0, 0);
    CHECK_EQ(d->reuse_after, NET_HT_REUSE_DEPTH);
    net_handle first;
    REQUIRE(net_handle_alloc(d, NET__T_CONN, &obj, &first, NULL) == 0);
    net_handle_free(d, first);
    for (uint32_t i = 0; i < NET_HT_REUSE_DEPTH; i++) { /* a churning server: one live, made and freed */
        REQUIRE(net_handle_alloc(d, NET__T_CONN, &obj, &n, NULL) == 0);
        CHECK(SLOT_OF(n) != SLOT_OF(first));
        net_handle_free(d, n);
    }
    REQUIRE(net_handle_alloc(d, NET__T_CONN, &obj, &n, NULL) == 0);
    CHECK_EQ(SLOT_OF(n), SLOT_OF(first)); /* after NET_HT_REUSE_DEPTH others */
    CHECK(rejected(d, first));
    delete_table(d);

    net_handles *a = new_table(7, 1), *b = new_table(7, 9); /* same index, same 3-bit tag */
    net_handle ha, hb;
    REQUIRE(net_handle_alloc(a, NET__T_CONN, &obj, &ha, NULL) == 0);
    REQUIRE(net_handle_alloc(b, NET__T_CONN, &obj, &hb, NULL) == 0);
    CHECK_EQ(TAG_OF(ha), TAG_OF(hb));
    CHECK(ha != hb);
    CHECK(rejected(b, ha));
    delete_table(a);
    delete_table(b);
}

static void generation_wraps_to_one(void)
{
    net_handles *t = new_table(0, 0);
    int obj;
    net_handle h;
    net_slot *s;
    REQUIRE(net_handle_alloc(t, NET__T_CONN, &obj, &h, &s) == 0);
    net_handle_free(t, h);
    s->gen = NET_HANDLE_GEN_MASK - 1; /* fast-forward (no lock needed: single thread) */
    REQUIRE(net_handle_alloc(t, NET__T_CONN, &obj, &h, NULL) == 0);
    CHECK_EQ(GEN_OF(h), NET_HANDLE_GEN_MASK);
    CHECK(lookup_is(t, h, ~0u, &obj));
    net_handle_free(t, h);
    REQUIRE(net_handle_alloc(t, NET__T_CONN, &obj, &h, NULL) == 0);
    CHECK_EQ(GEN_OF(h), 1);
    CHECK(h != 0);
    CHECK(lookup_is(t, h, ~0u, &obj));
    delete_table(t);
}

static void forged_and_wrong(void)
{
    /* Engine 0 with tag 0: the table where handle 0 would be most plausible. */
    for (int variant = 0; variant < 2; variant++) {
        uint32_t ei = variant ? 7 : 0, tag = variant ? 6 : 0;
        net_handles *t = new_table(ei, tag);
        int objs[4];
        net_handle h[4];
        for (int i = 0; i < 4; i++)
            REQUIRE(net_handle_alloc(t, NET__T_CONN, &objs[i], &h[i], NULL) == 0);
        net_handle x = h[2];

        CHECK(rejected(t, 0));
        net_handle_free(t, 0);
        CHECK_EQ(t->live, 4);

        /* wrong type: asked for another type, and forged type bits */
        CHECK(!lookup_is(t, x, NET__TBIT(NET__T_LISTENER) | NET__TBIT(NET__T_TIMER), &objs[2]));
        CHECK(!lookup_is(t, x, 0, &objs[2]));
        for (uint64_t ty = 0; ty <= NET_HANDLE_TYPE_MASK; ty++) {
            if (ty == NET__T_CONN)
                continue;
            net_handle f =
                (x & ~((uint64_t)NET_HANDLE_TYPE_MASK << NET_HANDLE_TYPE_SHIFT)) | (ty << NET_HANDLE_TYPE_SHIFT);
            CHECK(rejected(t, f));
            net_handle_free(t, f);
        }
        /* wrong engine index */
        for (uint64_t e = 0; e < 256; e++) {
            if (e == ei)
                continue;
            net_handle f = (x & ~(0xFFull << 24)) | (e << 24);
            CHECK(rejected(t, f));
            net_handle_free(t, f);
        }
        /* wrong engine tag */
        for (uint64_t g = 0; g <= NET_HANDLE_TAG_MASK; g++) {
            if (g == tag)
                continue;
            net_handle f = (x & ~((uint64_t)NET_HANDLE_TAG_MASK << NET_HANDLE_TAG_SHIFT)) | (g << NET_HANDLE_TAG_SHIFT);
            CHECK(rejected(t, f));
            net_handle_free(t, f);
        }
        /* wrong generation */
        const uint64_t g0 = GEN_OF(x);
        const uint64_t gens[] = {0, (g0 + 1) & NET_HANDLE_GEN_MASK, g0 ^ 0x800000, g0 ^ 0x2000000, g0 ^ 1};
        for (size_t i = 0; i < sizeof gens / sizeof gens[0]; i++) {
            net_handle f =
                (x & ~((uint64_t)NET_HANDLE_GEN_MASK << NET_HANDLE_GEN_SHIFT)) | (gens[i] << NET_HANDLE_GEN_SHIFT);
            CHECK(rejected(t, f));
            net_handle_free(t, f);
        }
        /* slots never used: in an allocated page, in a page never made, the last */
        const uint64_t slots[] = {4, 5, 1023, 1024, 5000, 0xFFFFFF};
        for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
            net_handle f = (x & ~0xFFFFFFull) | slots[i];
            CHECK(rejected(t, f));
            net_handle_free(t, f);
        }
        /* every single-bit flip of a live handle */
        for (int bit = 0; bit < 64; bit++) {
            net_handle f = x ^ (1ull << bit);
            CHECK(rejected(t, f) || f == h[0] || f == h[1] || f == h[3]);
        }
        CHECK_EQ(t->live, 4);
        for (int i = 0; i < 4; i++)
            CHECK(lookup_is(t, h[i], NET__TBIT(NET__T_CONN), &objs[i]));

        /* A handle of another table (another engine, same slot numbers). */
        net_handles *other = new_table(ei + 1, tag + 1);
        net_handle oh;
        REQUIRE(net_handle_alloc(other, NET__T_CONN, &objs[0], &oh, NULL) == 0);
        CHECK(rejected(t, oh));
        CHECK(rejected(other, x));
        delete_table(other);
        /* Same engine index, next engine generation (tag): the handle of the
         * destroyed engine does not name the new engine's object. */
        net_handles *next = new_table(ei, tag + 1);
        net_handle nh;
        REQUIRE(net_handle_alloc(next, NET__T_CONN, &objs[1], &nh, NULL) == 0);
        CHECK(rejected(next, h[0]));
        CHECK(SLOT_OF(nh) == SLOT_OF(h[0]) && GEN_OF(nh) != GEN_OF(h[0])); /* each engine's own generations */
        delete_table(next);
        delete_table(t);
    }
}

static void count_cb(void *obj, uint32_t type, void *ctx)
{
    (void)obj;
    CHECK_EQ(type, NET__T_CONN);
    (*(uint32_t *)ctx)++;
}

static void many(void)
{
    enum { N = 100000 };
    net_handles *t = new_table(9, 2);
    uint32_t *objs = malloc(N * sizeof *objs);
    net_handle *h = malloc(N * sizeof *h);
    net_handle *old = malloc(N * sizeof *old);
    REQUIRE(objs && h && old);
    for (uint32_t i = 0; i < N; i++) {
        objs[i] = i;
        REQUIRE(net_handle_alloc(t, NET__T_CONN, &objs[i], &h[i], NULL) == 0);
        CHECK_EQ(SLOT_OF(h[i]), i);
        UNIT_BAIL_IF_NOISY();
    }
    CHECK_EQ(t->live, N);
    CHECK_EQ(t->count, N);
    for (uint32_t i = 0; i < N; i++) {
        net_slot *s = net_handle_lock(t, h[i], NET__TBIT(NET__T_CONN));
        CHECK(s && s->obj == &objs[i]);
        if (s)
            net_slot_unlock(s);
    }
    /* Free every other one (in a scrambled order), then reuse. */
    for (uint32_t j = 0; j < N / 2; j++) {
        uint32_t i = (uint32_t)(((uint64_t)j * 7919u) % (N / 2)) * 2;
        old[i] = h[i];
        net_handle_free(t, h[i]);
    }
    CHECK_EQ(t->live, N / 2);
    for (uint32_t i = 0; i < N; i += 2)
        CHECK(rejected(t, old[i]));
    for (uint32_t i = 1; i < N; i += 2)
        CHECK(lookup_is(t, h[i], NET__TBIT(NET__T_CONN), &objs[i]));
    for (uint32_t i = 0; i < N; i += 2) {
        REQUIRE(net_handle_alloc(t, NET__T_CONN, &objs[i], &h[i], NULL) == 0);
        CHECK(h[i] != old[i]);
        CHECK(SLOT_OF(h[i]) < N); /* reused, not new */
    }
    CHECK_EQ(t->count, N);
    CHECK_EQ(t->live, N);
    uint32_t seen = 0;
    net_handles_each(t, count_cb, &seen);
    CHECK_EQ(seen, N);
    for (uint32_t i = 0; i < N; i += 2) {
        CHECK(rejected(t, old[i]));
        net_slot *s = net_handle_lock(t, h[i], NET__TBIT(NET__T_CONN));
        REQUIRE(s);
        CHECK_EQ(*(uint32_t *)s->obj, i); /* whatever slot it got, it names its own object */
        net_slot_unlock(s);
    }
    for (uint32_t i = 0; i < N; i++)
        net_handle_free(t, h[i]);
    CHECK_EQ(t->live, 0);
    seen = 0;
    net_handles_each(t, count_cb, &seen);
    CHECK_EQ(seen, 0);
    delete_table(t);
    free(objs);
    free(h);
    free(old);
}

int main(void)
{
    unit_seed();
    layout();
    reuse_new_generation();
    reuse_order();
    generation_wraps_to_one();
    forged_and_wrong();
    many();
    return unit_done("handle_table");
}
