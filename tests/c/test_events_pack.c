/* events_pack: net_events_pack turns a polled batch into records and one
 * payload buffer as net.h documents it. Made-up batches pin the layout
 * (offsets, empty payloads, events without payload, untouched bytes past
 * the fill), a buffer too small for the next event (packing stops there and
 * resumes from it: nothing is lost; too small for the first: NET_E_MSGSIZE
 * and the room needed) and bad arguments. Then real events from net_poll
 * (DATAGRAMs of 0 to 60000 bytes, ACCEPT, CONNECT) packed through a small
 * buffer carry the senders' addresses and exact payloads. */
#include "testlib.h"

#define FILL 0xEE /* what the buffers hold before packing */

static net_event made_up(uint32_t type, net_handle h, const void *data, uint32_t len)
{
    net_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.status = type == NET_EV_ACCEPT ? 0 : -(int32_t)type;
    ev.handle = h;
    ev.parent = type == NET_EV_ACCEPT ? 77 : 0;
    ev.user = 1000 + h;
    ev.data = data;
    ev.len = len;
    ev.os_error = (int32_t)h * 3;
    ev.addr.family = (uint16_t)(h % 2 ? NET_AF_INET : NET_AF_INET6);
    ev.addr.port = (uint16_t)(4000 + h);
    ev.addr.scope_id = ev.addr.family == NET_AF_INET6 ? 5 : 0;
    for (int i = 0; i < 16; i++)
        ev.addr.ip[i] = (uint8_t)(h * 16 + (uint64_t)i);
    return ev;
}

/* The record of ev, packed with its payload at offset. */
static void check_record(const net_packed_event *r, const net_event *ev, uint32_t offset)
{
    CHECK_EQ(r->type, ev->type);
    CHECK_EQ(r->status, ev->status);
    CHECK(r->handle == ev->handle);
    CHECK(r->parent == ev->parent);
    CHECK(r->user == ev->user);
    CHECKF(r->offset == offset, "%s of handle %llu: offset %u, want %u", tl_evname(ev->type),
           (unsigned long long)ev->handle, (unsigned)r->offset, (unsigned)offset);
    CHECK_EQ(r->len, ev->len);
    CHECK_EQ(r->os_error, ev->os_error);
    CHECK_EQ(r->reserved_, 0);
    CHECK(memcmp(&r->addr, &ev->addr, sizeof r->addr) == 0);
}

static void check_untouched(const uint8_t *buf, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        CHECKF(buf[i] == FILL, "byte %zu past the payloads was written", i);
}

/* A batch of every kind of event: with payloads, with empty ones (with and
 * without a data pointer), without payload but with a len of their own. */
#define NBATCH 8
static const char hello[] = "hello", abc[] = "abc", z[] = "z";
static void make_batch(net_event *evs)
{
    evs[0] = made_up(NET_EV_ACCEPT, 1, NULL, 0);
    evs[1] = made_up(NET_EV_DATA, 2, hello, 5);
    evs[2] = made_up(NET_EV_DATA, 3, NULL, 0);
    evs[3] = made_up(NET_EV_SEND_HIGHWATER, 4, NULL, 12345);
    evs[4] = made_up(NET_EV_DATAGRAM, 5, abc, 3);
    evs[5] = made_up(NET_EV_DATAGRAM, 6, hello, 0);
    evs[6] = made_up(NET_EV_TIMER, 7, NULL, 0);
    evs[7] = made_up(NET_EV_DATA, 8, z, 1);
}
/* Where each payload lands when the whole batch is packed at once. */
static const uint32_t batch_offsets[NBATCH] = {0, 0, 5, 0, 5, 8, 0, 8};

static void test_layout(void)
{
    net_event evs[NBATCH];
    make_batch(evs);
    net_packed_event recs[NBATCH];
    uint8_t buf[64];
    memset(recs, FILL, sizeof recs);
    memset(buf, FILL, sizeof buf);
    uint32_t used = 999;
    CHECK_RC(net_events_pack(evs, NBATCH, recs, buf, sizeof buf, &used), NBATCH);
    CHECK_EQ(used, 9);
    for (int i = 0; i < NBATCH; i++)
        check_record(&recs[i], &evs[i], batch_offsets[i]);
    CHECK(memcmp(buf, "helloabcz", 9) == 0);
    check_untouched(buf, 9, sizeof buf);
    /* exactly the room of the payloads is enough */
    CHECK_RC(net_events_pack(evs, NBATCH, recs, buf, 9, &used), NBATCH);
    CHECK_EQ(used, 9);
    /* count 0: nothing to do */
    CHECK_RC(net_events_pack(evs, 0, recs, buf, sizeof buf, &used), 0);
    CHECK_EQ(used, 0);
}

/* A buffer of 6 bytes takes "hello" and the empty payloads and events
 * around it, stops before "abc" and takes the rest on the next call. */
static void test_small_buffer_loses_nothing(void)
{
    net_event evs[NBATCH];
    make_batch(evs);
    net_packed_event recs[NBATCH];
    uint8_t buf[16];
    memset(buf, FILL, sizeof buf);
    uint32_t used = 0;
    CHECK_RC(net_events_pack(evs, NBATCH, recs, buf, 6, &used), 4);
    CHECK_EQ(used, 5);
    for (int i = 0; i < 4; i++)
        check_record(&recs[i], &evs[i], batch_offsets[i]);
    CHECK(memcmp(buf, "hello", 5) == 0);
    check_untouched(buf, 5, sizeof buf);

    memset(buf, FILL, sizeof buf);
    CHECK_RC(net_events_pack(evs + 4, NBATCH - 4, recs, buf, 6, &used), 4);
    CHECK_EQ(used, 4);
    check_record(&recs[0], &evs[4], 0);
    check_record(&recs[1], &evs[5], 3);
    check_record(&recs[2], &evs[6], 0);
    check_record(&recs[3], &evs[7], 3);
    CHECK(memcmp(buf, "abcz", 4) == 0);
    check_untouched(buf, 4, sizeof buf);
}

/* The first payload does not fit: NET_E_MSGSIZE says how much room it needs,
 * and that much is enough. Without payloads, no buffer is needed at all. */
static void test_first_does_not_fit(void)
{
    uint8_t big[100];
    memset(big, 'b', sizeof big);
    net_event evs[2] = {made_up(NET_EV_DATA, 1, big, sizeof big), made_up(NET_EV_TIMER, 2, NULL, 0)};
    net_packed_event recs[3];
    uint8_t buf[128];
    uint32_t used = 0;
    CHECK_RC(net_events_pack(evs, 2, recs, buf, 99, &used), NET_E_MSGSIZE);
    CHECK_EQ(used, 100);
    CHECK_RC(net_events_pack(evs, 2, recs, buf, 100, &used), 2);
    CHECK_EQ(used, 100);
    CHECK(memcmp(buf, big, 100) == 0);

    net_event none[3] = {made_up(NET_EV_TIMER, 1, NULL, 0), made_up(NET_EV_DATA, 2, NULL, 0),
                         made_up(NET_EV_DATAGRAM, 3, NULL, 0)};
    CHECK_RC(net_events_pack(none, 3, recs, NULL, 0, &used), 3);
    CHECK_EQ(used, 0);
    none[1].len = 1;
    none[1].data = big;
    CHECK_RC(net_events_pack(none, 3, recs, NULL, 0, &used), 1);
    CHECK_EQ(used, 0);
    CHECK_RC(net_events_pack(none + 1, 2, recs, NULL, 0, &used), NET_E_MSGSIZE);
    CHECK_EQ(used, 1);
}

static void test_bad_arguments(void)
{
    net_event evs[2] = {made_up(NET_EV_TIMER, 1, NULL, 0), made_up(NET_EV_DATA, 2, NULL, 4)};
    net_packed_event recs[2];
    uint8_t buf[16];
    uint32_t used = 0;
    CHECK_RC(net_events_pack(NULL, 1, recs, buf, sizeof buf, &used), NET_E_INVAL);
    CHECK_RC(net_events_pack(evs, 1, NULL, buf, sizeof buf, &used), NET_E_INVAL);
    CHECK_RC(net_events_pack(evs, 1, recs, buf, sizeof buf, NULL), NET_E_INVAL);
    CHECK_RC(net_events_pack(evs, -1, recs, buf, sizeof buf, &used), NET_E_INVAL);
    CHECK_RC(net_events_pack(evs, 1, recs, NULL, 1, &used), NET_E_INVAL);
    /* a made-up DATA with a length and no data: packing stops before it */
    CHECK_RC(net_events_pack(evs, 2, recs, buf, sizeof buf, &used), 1);
    CHECK_EQ(used, 0);
    CHECK_RC(net_events_pack(evs + 1, 1, recs, buf, sizeof buf, &used), NET_E_INVAL);
}

/* ---- real events ---- */

static const uint32_t dgram_sizes[] = {0, 1, 700, 0, 60000};
#define NDGRAMS ((int)(sizeof dgram_sizes / sizeof dgram_sizes[0]))
#define SMALL 1024 /* the payload buffer most batches go through */

typedef struct live {
    net_handle receiver, listener, client;
    net_addr sender_addr, listener_addr, accept_addr;
    int dgrams, accepts, connects;
} live;

static void check_live_record(live *x, const net_packed_event *r, const uint8_t *payload)
{
    if (r->type == NET_EV_DATAGRAM) {
        CHECK(r->handle == x->receiver);
        CHECKF(x->dgrams < NDGRAMS, "more DATAGRAMs than sent");
        uint32_t want = dgram_sizes[x->dgrams];
        CHECKF(r->len == want, "datagram %d: %u bytes, sent %u", x->dgrams, (unsigned)r->len, (unsigned)want);
        long long bad = tl_mismatch(payload + r->offset, r->len, (uint64_t)x->dgrams, 0);
        CHECKF(bad < 0, "datagram %d: wrong byte at %lld", x->dgrams, bad);
        CHECKF(tl_addr_eq(&r->addr, &x->sender_addr), "DATAGRAM from %s, the sender is %s", tl_addr_str(&r->addr),
               tl_addr_str(&x->sender_addr));
        x->dgrams++;
    } else if (r->type == NET_EV_ACCEPT) {
        CHECK(r->parent == x->listener);
        x->accept_addr = r->addr; /* checked once CONNECT is in too */
        x->accepts++;
    } else if (r->type == NET_EV_CONNECT) {
        CHECK(r->handle == x->client);
        CHECK_EQ(r->status, 0);
        CHECKF(tl_addr_eq(&r->addr, &x->listener_addr), "CONNECT to %s, the listener is %s", tl_addr_str(&r->addr),
               tl_addr_str(&x->listener_addr));
        x->connects++;
    } else {
        CHECKF(0, "unexpected %s", tl_evname(r->type));
    }
}

/* Packs one polled batch through the small buffer, and an event too large
 * for it through a buffer of the size net_events_pack asks for. */
static void pack_batch(live *x, const net_event *evs, int n, uint8_t *small)
{
    net_packed_event recs[64];
    int i = 0;
    while (i < n) {
        uint32_t used = 0;
        memset(small, FILL, SMALL);
        int k = net_events_pack(evs + i, n - i, recs, small, SMALL, &used);
        if (k == NET_E_MSGSIZE) {
            CHECKF(used > SMALL, "NET_E_MSGSIZE asking for %u bytes, the buffer has %d", (unsigned)used, SMALL);
            uint8_t *big = tl_xmalloc(used);
            CHECK_RC(net_events_pack(evs + i, 1, recs, big, used, &used), 1);
            check_live_record(x, &recs[0], big);
            free(big);
            i++;
            continue;
        }
        CHECKF(k > 0 && k <= n - i, "net_events_pack returned %d (%s) for %d events", k, tl_errname(k), n - i);
        CHECK(used <= SMALL);
        check_untouched(small, used, SMALL);
        for (int j = 0; j < k; j++)
            check_live_record(x, &recs[j], small);
        i += k;
    }
}

static void test_live_events(void)
{
    net_engine e = tl_engine();
    live x;
    memset(&x, 0, sizeof x);
    net_handle sender = tl_udp(e, NULL, NULL, &x.sender_addr);
    x.receiver = tl_udp(e, NULL, NULL, NULL);
    net_addr to;
    CHECK_OK(net_local_addr(x.receiver, &to));
    uint16_t port;
    x.listener = tl_listen(e, NULL, &port);
    CHECK_OK(net_local_addr(x.listener, &x.listener_addr));
    x.client = tl_connect(e, port, NULL);

    uint8_t *msg = tl_xmalloc(60000);
    for (int i = 0; i < NDGRAMS; i++) {
        tl_fill(msg, dgram_sizes[i], (uint64_t)i, 0);
        CHECK_OK(net_sendto(sender, &to, msg, dgram_sizes[i]));
    }
    free(msg);

    uint8_t *small = tl_xmalloc(SMALL);
    net_event evs[64];
    uint64_t end = tl_now_ms() + TL_TIMEOUT_MS;
    while ((x.dgrams < NDGRAMS || !x.accepts || !x.connects) && tl_now_ms() < end) {
        int n = net_poll(e, evs, 64, 20);
        CHECKF(n >= 0, "net_poll: %d (%s)", n, tl_errname(n));
        pack_batch(&x, evs, n, small);
    }
    free(small);
    CHECKF(x.dgrams == NDGRAMS && x.accepts == 1 && x.connects == 1, "%d DATAGRAMs, %d ACCEPTs, %d CONNECTs", x.dgrams,
           x.accepts, x.connects);
    net_addr client_addr;
    CHECK_OK(net_local_addr(x.client, &client_addr));
    CHECKF(tl_addr_eq(&x.accept_addr, &client_addr), "ACCEPT from %s, the client is %s", tl_addr_str(&x.accept_addr),
           tl_addr_str(&client_addr));
    tl_engine_destroy(e);
}

int main(void)
{
    tl_init("events_pack");
    test_layout();
    test_small_buffer_loses_nothing();
    test_first_does_not_fit();
    test_bad_arguments();
    test_live_events();
    return 0;
}
