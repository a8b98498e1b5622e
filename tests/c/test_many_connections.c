/* many_connections: 1000 concurrent connections, each echoing a few
 * messages through one server engine, then closing; everything accounted. */
#include "testlib.h"

#define NCONN 1000
#define ROUNDS 3
#define BODY 60

typedef struct ctx {
    net_engine ce, se;
    net_handle cli[NCONN];
    int rounds[NCONN];
    int connected, finished, client_closed, server_closed, accepted;
} ctx;

static void send_round(net_handle c, uint32_t idx, uint32_t round)
{
    uint8_t msg[8 + BODY];
    tl_put_le(msg, idx, 4);
    tl_put_le(msg + 4, round, 4);
    tl_fill(msg + 8, BODY, ((uint64_t)idx << 8) | round, 0);
    CHECK_OK(net_send(c, msg, sizeof msg));
}

static void on_event(void *p, net_engine e, const net_event *ev)
{
    ctx *x = (ctx *)p;
    if (e == x->se) {
        switch (ev->type) {
        case NET_EV_ACCEPT:
            x->accepted++;
            break;
        case NET_EV_DATA:
            CHECK_OK(net_send(ev->handle, ev->data, ev->len));
            break;
        case NET_EV_CLOSE:
            CHECKF(ev->status == 0, "server side CLOSE status %d (%s)", (int)ev->status, tl_errname(ev->status));
            x->server_closed++;
            break;
        default:
            tl_fail(__FILE__, __LINE__, "server event", "%s", tl_evname(ev->type));
        }
        return;
    }
    CHECK(ev->user < NCONN);
    uint32_t i = (uint32_t)ev->user;
    CHECK(ev->handle == x->cli[i]);
    switch (ev->type) {
    case NET_EV_CONNECT:
        CHECKF(ev->status == 0, "client %u: CONNECT status %d (%s)", (unsigned)i, (int)ev->status,
               tl_errname(ev->status));
        x->connected++;
        send_round(ev->handle, i, 0);
        break;
    case NET_EV_DATA: {
        const uint8_t *d = (const uint8_t *)ev->data;
        CHECKF(ev->len == 8 + BODY && tl_get_le(d, 4) == i && tl_get_le(d + 4, 4) == (uint64_t)x->rounds[i],
               "client %u: bad echo (len %u)", (unsigned)i, (unsigned)ev->len);
        CHECK(tl_mismatch(d + 8, BODY, ((uint64_t)i << 8) | (uint64_t)x->rounds[i], 0) < 0);
        if (++x->rounds[i] < ROUNDS) {
            send_round(ev->handle, i, (uint32_t)x->rounds[i]);
        } else {
            x->finished++;
            CHECK_OK(net_close(ev->handle));
        }
        break;
    }
    case NET_EV_CLOSE:
        CHECKF(ev->status == 0 && x->rounds[i] == ROUNDS, "client %u: CLOSE status %d (%s) after %d rounds",
               (unsigned)i, (int)ev->status, tl_errname(ev->status), x->rounds[i]);
        x->client_closed++;
        break;
    default:
        tl_fail(__FILE__, __LINE__, "client event", "%s", tl_evname(ev->type));
    }
}

static int all_done(void *p)
{
    ctx *x = (ctx *)p;
    return x->client_closed == NCONN && x->server_closed == NCONN;
}

int main(void)
{
    tl_init("many_connections");
    int fds = tl_raise_fd_limit(2 * NCONN + 256);
    if (fds < 2 * NCONN + 64)
        tl_skip("only %d file descriptors", fds);
    static ctx x;
    x.ce = tl_engine();
    x.se = tl_engine();
    net_tcp_config tcp;
    tl_tcp(&tcp, NET_FRAMING_U16LE, 0);
    tcp.backlog = 1024;
    uint16_t port;
    net_handle l = tl_listen(x.se, &tcp, &port);
    (void)l;

    uint64_t t0 = tl_now_ms();
    int launched = 0;
    uint64_t end = t0 + 20000;
    /* connect in waves so no backlog overflows (a dropped SYN costs 1 s) */
    while (!all_done(&x)) {
        CHECKF(tl_now_ms() < end, "after 20 s: %d launched, %d connected, %d finished, %d/%d closed", launched,
               x.connected, x.finished, x.client_closed, x.server_closed);
        while (launched < NCONN && launched - x.connected < 200) {
            tcp.user = (uint64_t)launched;
            CHECK_OK(net_connect(x.ce, "127.0.0.1", port, &tcp, &x.cli[launched]));
            launched++;
        }
        tl_run(on_event, &x, all_done, 10);
    }
    uint64_t took = tl_now_ms() - t0;
    printf("%d connections x %d echoes, all closed, in %llu ms\n", NCONN, ROUNDS, (unsigned long long)took);
    CHECK_EQ(x.accepted, NCONN);
    CHECK_EQ(x.finished, NCONN);

    net_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    CHECK_OK(net_engine_stats(x.se, &st));
    CHECK_EQ(st.connections, 0);
    CHECK_EQ(st.connections_total, NCONN);
    CHECK_EQ(st.messages_in, NCONN * ROUNDS);
    CHECK_EQ(st.messages_out, NCONN * ROUNDS);

    tl_engine_destroy(x.ce);
    tl_engine_destroy(x.se);
    printf("ok\n");
    return 0;
}
