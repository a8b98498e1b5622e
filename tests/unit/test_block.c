/* test_block.c - ref-counted blocks: new/from/ref/unref, zero-size blocks,
 * sizes that cannot be represented are refused, and references taken and
 * dropped from two threads at once balance (LeakSanitizer/ASan would see a
 * leak or a double free). */
#include "block.h"
#include "unit.h"

static void basics(void)
{
    net_block *b = net_block_new(0);
    REQUIRE(b);
    CHECK_EQ(b->cap, 0);
    CHECK_EQ(b->used, 0);
    CHECK_EQ(atomic_load(&b->refs), 1);
    net_block_unref(b, 1);

    const char text[] = "hello, blocks";
    b = net_block_from(text, sizeof text);
    REQUIRE(b);
    CHECK_EQ(b->cap, sizeof text);
    CHECK_EQ(b->used, sizeof text);
    CHECK(memcmp(b->data, text, sizeof text) == 0);
    net_block_ref(b, 3);
    CHECK_EQ(atomic_load(&b->refs), 4);
    net_block_unref(b, 2);
    CHECK_EQ(atomic_load(&b->refs), 2);
    net_block_unref(b, 1);
    net_block_unref(b, 1); /* freed here */

    b = net_block_from(NULL, 0);
    REQUIRE(b);
    CHECK_EQ(b->used, 0);
    net_block_unref(b, 1);

    net_block_unref(NULL, 1); /* no-op */

    CHECK(net_block_new((size_t)UINT32_MAX) == NULL);
    CHECK(net_block_new((size_t)UINT32_MAX - sizeof(net_block) + 1) == NULL);
#if SIZE_MAX > UINT32_MAX
    CHECK(net_block_new((size_t)1 << 40) == NULL); /* cap is 32 bits: never truncated */
#endif
}

static net_block *g_shared;
static atomic_int g_ready;
enum { REFS = 1000000 };

static void churn(void *arg)
{
    (void)arg;
    atomic_fetch_add(&g_ready, 1);
    while (atomic_load(&g_ready) < 2)
        ; /* start together, so the two loops overlap */
    for (int i = 0; i < REFS; i++) {
        net_block_ref(g_shared, 1);
        net_block_unref(g_shared, 1);
    }
}

static void two_threads(void)
{
    g_shared = net_block_new(64);
    REQUIRE(g_shared);
    unit_thread a, b;
    REQUIRE(unit_thread_start(&a, churn, NULL) == 0);
    REQUIRE(unit_thread_start(&b, churn, NULL) == 0);
    unit_thread_join(&a);
    unit_thread_join(&b);
    CHECK_EQ(atomic_load(&g_shared->refs), 1);
    net_block_unref(g_shared, 1);
}

int main(void)
{
    unit_seed();
    basics();
    two_threads();
    return unit_done("block");
}
