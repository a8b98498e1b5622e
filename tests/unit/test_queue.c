/* test_queue.c - the event ring queue:
 *  - FIFO order across growth, across wrap-around, and growth while wrapped;
 *  - take returns min(count, max), max 0 takes nothing;
 *  - take with a side array hands the block references over; take without one
 *    drops them; free drops the ones still queued (refcounts checked, and
 *    LeakSanitizer checks nothing is left);
 *  - reservations: the ring always keeps room for every reservation beside
 *    what it holds, so a reserved push never needs memory; a reserved event
 *    hands its reservation back when taken;
 *  - push_many: a batch goes in whole, in order, each event with its own
 *    block and the batch's object, and never into the reserved room. */
#include "queue.h"
#include "unit.h"

static net_event ev_n(uint64_t n)
{
    net_event e;
    memset(&e, 0, sizeof e);
    e.type = (uint32_t)(n % 7);
    e.user = n;
    e.len = (uint32_t)n;
    return e;
}

/* A stand-in object pointer: aligned, as the ring expects of real objects. */
static void *obj_n(uint64_t n)
{
    return (void *)(uintptr_t)((n + 1) * 8);
}

static int refs(net_block *b)
{
    return atomic_load(&b->refs);
}

/* Pushes and takes in random amounts; checks every event comes out once, in
 * order, with its block and object. */
static void fifo_random(void)
{
    net_queue q;
    net_queue_init(&q);
    uint64_t pushed = 0, taken = 0;
    net_event out[64];
    net_qside side[64];
    uint32_t max_cap = 0;
    int wrapped_growth = 0;
    for (int round = 0; round < 20000; round++) {
        /* Phases: grow (push more than take), drain, steady (wrap). */
        int phase = (round / 2000) % 3;
        uint32_t npush = phase == 0 ? unit_below(100) : phase == 1 ? unit_below(4) : unit_below(65);
        for (uint32_t i = 0; i < npush; i++) {
            net_event e = ev_n(pushed);
            net_block *b = (pushed % 3) ? net_block_new(8) : NULL;
            if (b)
                memcpy(b->data, &pushed, sizeof pushed);
            if (q.count == q.cap && q.head != 0)
                wrapped_growth = 1;
            REQUIRE(net_queue_push(&q, &e, b, obj_n(pushed)) == 0);
            pushed++;
        }
        if (q.cap > max_cap)
            max_cap = q.cap;
        uint32_t max = unit_below(65);
        uint32_t before = q.count;
        uint32_t n = net_queue_take(&q, out, (round & 1) ? side : NULL, max);
        CHECK_EQ(n, before < max ? before : max);
        CHECK_EQ(q.count, before - n);
        for (uint32_t i = 0; i < n; i++, taken++) {
            if (out[i].user != taken || out[i].len != (uint32_t)taken || out[i].type != taken % 7) {
                fprintf(stderr, "event %" PRIu64 " came out as %" PRIu64 "\n", taken, out[i].user);
                unit_failures++;
                UNIT_BAIL_IF_NOISY();
            }
            if (round & 1) {
                CHECK(side[i].obj == obj_n(taken));
                if (taken % 3) {
                    REQUIRE(side[i].blk);
                    uint64_t v;
                    memcpy(&v, side[i].blk->data, sizeof v);
                    CHECK(v == taken);
                    CHECK_EQ(refs(side[i].blk), 1); /* the reference is ours now */
                    net_block_unref(side[i].blk, 1);
                } else {
                    CHECK(side[i].blk == NULL);
                }
            }
        }
        if (q.cap && q.cap < q.count + q.reserved)
            CHECK(!"capacity below what the ring holds");
    }
    CHECK(max_cap >= 1024); /* it grew several times */
    CHECK(wrapped_growth);  /* and grew at least once while wrapped */
    net_queue_free(&q);     /* the rest: LeakSanitizer would see a lost block */
    CHECK_EQ(q.count, 0);
    printf("fifo_random: %" PRIu64 " events, largest capacity %u\n", pushed, max_cap);
}

/* Deterministic: fill to capacity with head in the middle, then grow. */
static void grow_while_wrapped(void)
{
    net_queue q;
    net_queue_init(&q);
    net_event out[300];
    uint64_t next = 0, want = 0;
    for (int i = 0; i < 200; i++) {
        net_event e = ev_n(next++);
        REQUIRE(net_queue_push(&q, &e, NULL, NULL) == 0);
    }
    CHECK_EQ(q.cap, 256);
    CHECK_EQ(net_queue_take(&q, out, NULL, 150), 150);
    for (int i = 0; i < 150; i++)
        CHECK(out[i].user == want++);
    while (q.count < q.cap) { /* wraps: head is 150 */
        net_event e = ev_n(next++);
        REQUIRE(net_queue_push(&q, &e, NULL, NULL) == 0);
    }
    CHECK_EQ(q.cap, 256);
    CHECK_EQ(q.head, 150);
    net_event e = ev_n(next++);
    REQUIRE(net_queue_push(&q, &e, NULL, NULL) == 0); /* grows with the ring wrapped */
    CHECK_EQ(q.cap, 384);                             /* by half: not a power of two */
    CHECK_EQ(q.count, 257);
    uint32_t n;
    while ((n = net_queue_take(&q, out, NULL, 300)) > 0)
        for (uint32_t i = 0; i < n; i++)
            CHECK(out[i].user == want++);
    CHECK(want == next);
    CHECK_EQ(net_queue_take(&q, out, NULL, 300), 0);
    net_queue_free(&q);
}

static void take_max_and_refs(void)
{
    net_queue q;
    net_queue_init(&q);
    net_event out[8];
    net_qside side[8];
    /* Empty queue, never grown: take returns 0 and free is fine. */
    CHECK_EQ(net_queue_take(&q, out, side, 8), 0);
    CHECK_EQ(net_queue_take(&q, out, NULL, 0), 0);

    net_block *b = net_block_new(16);
    REQUIRE(b);
    /* One block shared by five events (a broadcast): five references. */
    for (int i = 0; i < 5; i++) {
        net_event e = ev_n((uint64_t)i);
        net_block_ref(b, 1);
        REQUIRE(net_queue_push(&q, &e, b, NULL) == 0);
    }
    CHECK_EQ(refs(b), 6);
    CHECK_EQ(net_queue_take(&q, out, side, 0), 0); /* max 0: nothing moves */
    CHECK_EQ(q.count, 5);
    CHECK_EQ(refs(b), 6);
    CHECK_EQ(net_queue_take(&q, out, NULL, 2), 2); /* no side: references dropped */
    CHECK_EQ(refs(b), 4);
    CHECK(out[0].user == 0 && out[1].user == 1);
    CHECK_EQ(net_queue_take(&q, out, side, 1), 1); /* side: reference handed over */
    CHECK(side[0].blk == b);
    CHECK_EQ(refs(b), 4);
    net_block_unref(side[0].blk, 1);
    CHECK_EQ(refs(b), 3);
    net_queue_free(&q); /* drops the two still queued */
    CHECK_EQ(refs(b), 1);
    CHECK_EQ(q.count, 0);
    CHECK(q.ev == NULL);
    net_block_unref(b, 1);

    /* free of an emptied queue, and reuse after free */
    net_queue_init(&q);
    net_event e = ev_n(9);
    REQUIRE(net_queue_push(&q, &e, net_block_new(1), NULL) == 0);
    CHECK_EQ(net_queue_take(&q, out, NULL, 8), 1);
    net_queue_free(&q);
    REQUIRE(net_queue_push(&q, &e, net_block_new(1), NULL) == 0);
    net_queue_free(&q);
}

/* Objects reserve, push into their reservations, and give them up, mixed
 * with ordinary pushes and takes; the invariant that makes a reserved push
 * allocation-free holds at every step. */
static void reservations(void)
{
    net_queue q;
    net_queue_init(&q);
    uint32_t held = 0;   /* reservations the "objects" hold, queued or not */
    uint32_t in_use = 0; /* of those, pushed and not taken yet */
    uint64_t pushed = 0, taken = 0;
    net_event out[16];
    net_qside side[16];
    for (int step = 0; step < 20000; step++) {
        uint32_t r = unit_rand() % 6;
        if (r == 0) {
            uint32_t n = 1 + unit_rand() % 4;
            REQUIRE(net_queue_reserve(&q, n) == 0);
            held += n;
        } else if (r == 1 && held > in_use) {
            net_event e = ev_n(pushed++);
            uint32_t cap = q.cap;
            net_queue_push_reserved(&q, &e, NULL, obj_n(1));
            CHECK_EQ(q.cap, cap); /* never grows: the room was there */
            in_use++;
        } else if (r == 2) {
            net_event e = ev_n(pushed++);
            REQUIRE(net_queue_push(&q, &e, NULL, NULL) == 0);
        } else if (r == 3 && held > in_use) {
            net_queue_unreserve(&q, 1); /* an object freed with one unused */
            held--;
        } else {
            uint32_t n = net_queue_take(&q, out, side, 1 + unit_rand() % 16);
            for (uint32_t i = 0; i < n; i++) {
                CHECK_EQ(out[i].user, taken);
                taken++;
                CHECK_EQ(side[i].obj != NULL, side[i].reserved); /* only the reserved ones carry an object here */
                if (side[i].reserved)                            /* its room goes back to its object */
                    in_use--;
            }
        }
        CHECK_EQ(q.reserved, held - in_use);
        CHECK(q.count + q.reserved <= q.cap);
    }
    net_queue_free(&q);
}

static void push_many(void)
{
    net_queue q;
    net_queue_init(&q);
    REQUIRE(net_queue_reserve(&q, 5) == 0);
    uint64_t pushed = 0, taken = 0;
    net_event ev[40], out[64];
    net_block *blk[40];
    net_qside side[64];
    for (int round = 0; round < 2000; round++) {
        uint32_t n = unit_below(41);
        for (uint32_t i = 0; i < n; i++) {
            ev[i] = ev_n(pushed + i);
            blk[i] = (i % 2) ? net_block_new(8) : NULL;
        }
        REQUIRE(net_queue_push_many(&q, ev, blk, obj_n((uint64_t)round), n) == 0);
        pushed += n;
        CHECK(q.count + q.reserved <= q.cap); /* the reservations kept their room */
        CHECK_EQ(q.reserved, 5);
        uint32_t got = net_queue_take(&q, out, side, unit_below(65));
        for (uint32_t i = 0; i < got; i++, taken++) {
            CHECK_EQ(out[i].user, taken);
            CHECK(side[i].obj != NULL);
            CHECK_EQ(side[i].reserved, 0);
            if (side[i].blk)
                net_block_unref(side[i].blk, 1);
        }
    }
    while (q.count) {
        uint32_t got = net_queue_take(&q, out, side, 64);
        for (uint32_t i = 0; i < got; i++, taken++) {
            CHECK_EQ(out[i].user, taken);
            if (side[i].blk)
                net_block_unref(side[i].blk, 1);
        }
    }
    CHECK_EQ(taken, pushed);
    net_queue_free(&q);
}

int main(void)
{
    unit_seed();
    push_many();
    reservations();
    fifo_random();
    grow_while_wrapped();
    take_max_and_refs();
    return unit_done("queue");
}
