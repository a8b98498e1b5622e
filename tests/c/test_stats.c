/* stats: connection, byte and message counters move as a user expects. */
#include "testlib.h"

/* A byte counter moves when the engine handles the send completion, which
 * may come a moment after the peer already has the data: let both engines
 * settle (every byte sent counted as received, nothing queued) first. */
static void settle(net_engine ce, net_engine se)
{
    uint64_t end = tl_now_ms() + 2000;
    for (;;) {
        net_stats c = tl_stats(ce), s = tl_stats(se);
        if (c.bytes_out == s.bytes_in && s.bytes_out == c.bytes_in && c.send_queued == 0 && s.send_queued == 0)
            return;
        CHECKF(tl_now_ms() < end,
               "counters never agree: client out %llu in %llu queued %llu, server out %llu in %llu queued %llu",
               (unsigned long long)c.bytes_out, (unsigned long long)c.bytes_in, (unsigned long long)c.send_queued,
               (unsigned long long)s.bytes_out, (unsigned long long)s.bytes_in, (unsigned long long)s.send_queued);
        tl_pump(5);
    }
}

typedef struct ctx {
    net_handle sa, sb, ca, cb;
    int srv_msgs, cli_msgs, cb_msgs;
} ctx;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    ctx *x = (ctx *)p;
    (void)e;
    if (ev->type != NET_EV_DATA)
        return;
    if (ev->handle == x->sa)
        x->srv_msgs++;
    else if (ev->handle == x->ca)
        x->cli_msgs++;
    else if (ev->handle == x->cb)
        x->cb_msgs++;
}

static int all_in(void *p)
{
    ctx *x = (ctx *)p;
    return x->srv_msgs == 10;
}

static int all_back(void *p)
{
    ctx *x = (ctx *)p;
    return x->cli_msgs == 11 && x->cb_msgs == 1;
}

int main(void)
{
    tl_init("stats");
    net_engine ce = tl_engine(), se = tl_engine();
    net_stats st = tl_stats(ce);
    CHECK_EQ(st.connections, 0);
    CHECK_EQ(st.connections_total, 0);
    CHECK_EQ(st.bytes_in + st.bytes_out + st.messages_in + st.messages_out, 0);
    CHECK_EQ(st.accepts_rejected, 0);

    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U32LE, 0);
    uint16_t port;
    net_handle l = tl_listen(se, &tcp, &port);
    ctx x;
    memset(&x, 0, sizeof x);
    tl_pair(ce, se, l, port, &tcp, &x.ca, &x.sa);
    tl_pair(ce, se, l, port, &tcp, &x.cb, &x.sb);
    CHECK_EQ(tl_stats(ce).connections, 2);
    CHECK_EQ(tl_stats(se).connections, 2);
    CHECK_EQ(tl_stats(ce).connections_total, 2);
    CHECK_EQ(tl_stats(se).connections_total, 2);

    /* 10 messages client -> server */
    uint8_t buf[1000];
    uint64_t payload = 0;
    for (int i = 0; i < 10; i++) {
        uint32_t n = 100u + 100u * (uint32_t)i;
        tl_fill(buf, n, (uint64_t)i, 0);
        CHECK_OK(net_send(x.ca, buf, n));
        payload += n;
    }
    TL_RUN(on_event, &x, all_in);
    settle(ce, se);
    st = tl_stats(ce);
    CHECK_EQ(st.messages_out, 10);
    CHECKF(st.bytes_out >= payload && st.bytes_out <= payload + 40, "client bytes_out %llu for %llu payload",
           (unsigned long long)st.bytes_out, (unsigned long long)payload);
    CHECK_EQ(st.send_queued, 0);
    st = tl_stats(se);
    CHECK_EQ(st.messages_in, 10);
    CHECKF(st.bytes_in >= payload && st.bytes_in <= payload + 40, "server bytes_in %llu for %llu payload",
           (unsigned long long)st.bytes_in, (unsigned long long)payload);

    /* 10 echoes back plus one broadcast to both: messages_out counts per receiver */
    for (int i = 0; i < 10; i++)
        CHECK_OK(net_send(x.sa, buf, 10));
    net_handle both[2] = {x.sa, x.sb};
    CHECK_RC(net_broadcast(both, 2, "bcast", 5, NULL), 2);
    x.cli_msgs = 0;
    TL_RUN(on_event, &x, all_back);
    settle(ce, se);
    CHECK_EQ(x.cli_msgs, 10 + 1);
    CHECK_EQ(tl_stats(se).messages_out, 12);
    CHECK_EQ(tl_stats(ce).messages_in, 12);
    CHECK(tl_stats(se).bytes_out >= 10 * 10 + 2 * 5);

    /* events waiting for net_poll */
    for (int i = 0; i < 5; i++)
        CHECK_OK(net_post(ce, (uint64_t)i));
    CHECKF(tl_stats(ce).queue_depth >= 5, "queue_depth %llu after 5 posts",
           (unsigned long long)tl_stats(ce).queue_depth);
    tl_pump(20);
    CHECK_EQ(tl_stats(ce).queue_depth, 0);
    CHECK_EQ(tl_pending(ce, NET_EV_USER, 0), 5);

    /* closing: open count back to 0, totals kept */
    net_event ev;
    CHECK_EQ(tl_close_wait(ce, x.ca), 0);
    CHECK_EQ(tl_close_wait(ce, x.cb), 0);
    TL_EXPECT(se, NET_EV_CLOSE, x.sa, &ev);
    TL_EXPECT(se, NET_EV_CLOSE, x.sb, &ev);
    CHECK_EQ(tl_stats(ce).connections, 0);
    CHECK_EQ(tl_stats(se).connections, 0);
    CHECK_EQ(tl_stats(ce).connections_total, 2);
    CHECK_EQ(tl_stats(se).connections_total, 2);
    CHECK_EQ(tl_stats(se).accepts_rejected, 0);

    /* an older caller's shorter struct: nothing past its size is written */
    unsigned char raw[sizeof(net_stats)];
    memset(raw, 0xA5, sizeof raw);
    net_stats *old = (net_stats *)(void *)raw;
    old->size = (uint32_t)offsetof(net_stats, bytes_in);
    CHECK_OK(net_engine_stats(se, old));
    CHECK_EQ(old->connections_total, 2);
    for (size_t i = offsetof(net_stats, bytes_in); i < sizeof raw; i++)
        CHECKF(raw[i] == 0xA5, "net_engine_stats wrote byte %zu past the caller's size", i);

    CHECK_RC(net_engine_stats(se, NULL), NET_E_INVAL);
    tl_engine_destroy(ce);
    net_stats dead;
    dead.size = sizeof dead;
    CHECK_RC(net_engine_stats(ce, &dead), NET_E_BADHANDLE);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
