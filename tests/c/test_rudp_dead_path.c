/* rudp_dead_path: a path that dies under a session with reliable data in
 * flight costs a bounded number of datagrams until the idle timeout ends
 * the session. Through the impairment proxy of tests/impair, a client
 * session exchanges a first message, then the proxy starts dropping
 * everything both ways and the client sends messages no ack will ever
 * answer. Its retransmissions and tail-loss probes back off (the probes
 * stay at most 100 ms apart for their first 16, then double), so over the
 * idle timeout the client sends a few dozen datagrams, not one every few
 * milliseconds; and both ends still get exactly one CLOSE, NET_E_TIMEDOUT.
 * The bound is on datagrams the proxy received from the client after the
 * path died: a slow or loaded machine only sends fewer. */
#include "testlib.h"

#include "impair.h"

#define IDLE_MS 2500
#define LATE_MESSAGES 8
#define MAX_DEAD_DATAGRAMS 80 /* 26 seen on Linux: 8 first copies, probes, a few RTO rounds */

typedef struct test {
    net_handle listener, client, server;
    int connected, echoed;
    int client_closes, server_closes;
    int client_status, server_status;
} test;

static void on_event(void *p, net_engine e, const net_event *ev)
{
    test *t = p;
    (void)e;
    if (ev->type == NET_EV_ACCEPT) {
        CHECKF(!t->server, "a second ACCEPT");
        CHECK_EQ(ev->status, 0);
        t->server = ev->handle;
    } else if (ev->type == NET_EV_CONNECT) {
        CHECK_EQ(ev->handle, t->client);
        CHECK_EQ(ev->status, 0);
        t->connected = 1;
    } else if (ev->type == NET_EV_DATA && ev->handle == t->server) {
        CHECK_OK(net_rudp_send(ev->handle, (uint32_t)ev->parent, NET_RUDP_RELIABLE_ORDERED, ev->data, ev->len));
    } else if (ev->type == NET_EV_DATA) {
        CHECK_EQ(ev->handle, t->client);
        t->echoed++;
    } else if (ev->type == NET_EV_CLOSE && ev->handle == t->client) {
        t->client_closes++;
        t->client_status = ev->status;
    } else if (ev->type == NET_EV_CLOSE && ev->handle == t->server) {
        t->server_closes++;
        t->server_status = ev->status;
    } else {
        CHECKF(ev->type == NET_EV_SEND_HIGHWATER || ev->type == NET_EV_SEND_DRAINED, "unexpected %s for %llu",
               tl_evname(ev->type), (unsigned long long)ev->handle);
    }
}

static int connected(void *p)
{
    const test *t = p;
    return t->connected && t->server;
}

static int echoed(void *p)
{
    return ((const test *)p)->echoed == 1;
}

static int both_closed(void *p)
{
    const test *t = p;
    return t->client_closes && t->server_closes;
}

int main(void)
{
    tl_init("rudp_dead_path");
    test t;
    memset(&t, 0, sizeof t);
    net_engine e = tl_engine();
    net_rudp_config cfg;
    net_rudp_config_init(&cfg);
    cfg.idle_timeout_ms = IDLE_MS;
    CHECK_OK(net_rudp_listen(e, "127.0.0.1", 0, &cfg, &t.listener));
    net_addr at;
    CHECK_OK(net_local_addr(t.listener, &at));

    impair_config ic;
    impair_config_init(&ic);
    impair_proxy *proxy = NULL;
    CHECKF(impair_start(&ic, "127.0.0.1", at.port, &proxy) == 0, "impair_start: %s", impair_last_error());
    CHECK_OK(net_rudp_connect(e, "127.0.0.1", impair_port(proxy), &cfg, &t.client));
    TL_RUN(on_event, &t, connected);
    uint8_t msg[1000];
    tl_fill(msg, sizeof msg, 7, 0);
    CHECK_OK(net_rudp_send(t.client, 0, NET_RUDP_RELIABLE_ORDERED, msg, sizeof msg));
    TL_RUN(on_event, &t, echoed);

    /* The path dies; what the client sends from now on is never answered. */
    ic.drop = 1.0;
    CHECK(impair_set_rates(proxy, &ic) == 0);
    impair_counters before, after;
    impair_stats(proxy, &before);
    for (int i = 0; i < LATE_MESSAGES; i++)
        CHECK_OK(net_rudp_send(t.client, 0, NET_RUDP_RELIABLE_ORDERED, msg, sizeof msg));
    TL_RUN(on_event, &t, both_closed);
    impair_stats(proxy, &after);

    CHECK_EQ(t.client_closes, 1);
    CHECK_EQ(t.server_closes, 1);
    CHECKF(t.client_status == NET_E_TIMEDOUT, "client CLOSE %s", tl_errname(t.client_status));
    CHECKF(t.server_status == NET_E_TIMEDOUT, "server CLOSE %s", tl_errname(t.server_status));
    CHECK_EQ(t.echoed, 1);
    uint64_t from_client = after.to_target - before.to_target;
    uint64_t from_server = after.to_client - before.to_client;
    printf("  dead path for the %d ms idle timeout: %llu datagrams from the client, %llu from the server\n", IDLE_MS,
           (unsigned long long)from_client, (unsigned long long)from_server);
    CHECKF(from_client >= LATE_MESSAGES, "the client sent %llu datagrams after its %d messages",
           (unsigned long long)from_client, LATE_MESSAGES);
    CHECKF(from_client <= MAX_DEAD_DATAGRAMS, "the client sent %llu datagrams into a dead path (at most %d)",
           (unsigned long long)from_client, MAX_DEAD_DATAGRAMS);
    CHECKF(from_server <= MAX_DEAD_DATAGRAMS, "the server sent %llu datagrams into a dead path (at most %d)",
           (unsigned long long)from_server, MAX_DEAD_DATAGRAMS);

    CHECK_EQ(tl_close_wait(e, t.listener), 0);
    impair_stop(proxy);
    tl_engine_destroy(e);
    printf("ok\n");
    return 0;
}
