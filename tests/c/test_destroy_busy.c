/* destroy_busy: net_engine_destroy while connections keep arriving leaves no
 * descriptor behind, twenty times over. With io_threads >= 2 a listener on
 * one loop hands accepted sockets to the others, so a destroy races those
 * hand-offs; the engine must close every one of them. */
#include <stdatomic.h>
#include "testlib.h"

#define ROUNDS 20
#define IN_FLIGHT 48

typedef struct client {
    atomic_uint port; /* 0 = do not connect now */
    atomic_int stop;
    atomic_uint connected;
} client;

/* A separate engine on its own thread keeps up to IN_FLIGHT connections
 * open to whatever port the test publishes; the server's destroy resets
 * them and it makes new ones. */
static void client_main(void *arg)
{
    client *x = (client *)arg;
    net_config cfg;
    net_config_init(&cfg);
    cfg.io_threads = 1;
    net_engine ce;
    CHECK_OK(net_engine_create(&cfg, &ce));
    int open = 0;
    net_event ev[64];
    while (!atomic_load(&x->stop)) {
        uint16_t port = (uint16_t)atomic_load(&x->port);
        while (port && open < IN_FLIGHT) {
            net_handle h;
            int rc = net_connect(ce, "127.0.0.1", port, NULL, &h);
            CHECKF(rc == NET_OK || rc == NET_E_LIMIT, "net_connect: %s", tl_errname(rc));
            if (rc)
                break;
            open++;
        }
        int n = net_poll(ce, ev, 64, 2);
        CHECK(n >= 0);
        for (int i = 0; i < n; i++) {
            if (ev[i].type == NET_EV_CONNECT && ev[i].status == 0) {
                atomic_fetch_add(&x->connected, 1);
                net_send(ev[i].handle, "hi", 2);
            } else if (ev[i].type == NET_EV_CLOSE) {
                open--;
            }
        }
    }
    CHECK_OK(net_engine_destroy(ce));
}

int main(void)
{
    tl_init("destroy_busy");
    tl_raise_fd_limit(4096);
    int before = tl_open_descriptors();
    client x;
    atomic_init(&x.port, 0);
    atomic_init(&x.stop, 0);
    atomic_init(&x.connected, 0);
    tl_thread *t = tl_thread_start(client_main, &x);

    unsigned accepted = 0;
    for (int round = 0; round < ROUNDS; round++) {
        net_engine se = tl_engine();
        uint16_t port;
        tl_listen(se, NULL, &port);
        atomic_store(&x.port, port);
        /* A few accepted, more arriving: destroy in the middle of it. */
        net_event ev;
        for (int i = 0; i < 4; i++) {
            TL_EXPECT(se, NET_EV_ACCEPT, 0, &ev);
            accepted++;
        }
        tl_engine_destroy(se);
    }
    atomic_store(&x.port, 0);
    atomic_store(&x.stop, 1);
    tl_thread_join(t);
    int after = tl_open_descriptors();
    printf("%d rounds, %u accepts seen, %u client connects; descriptors %d before, %d after\n", ROUNDS, accepted,
           atomic_load(&x.connected), before, after);
    if (before >= 0)
        CHECKF(after == before, "%d descriptors left behind by %d destroys", after - before, ROUNDS);
    return 0;
}
