/* close_timeout: a graceful close that cannot finish because the peer
 * stopped reading ends after close_timeout_ms with CLOSE NET_E_TIMEDOUT:
 * with megabytes still queued, and also when everything went into the
 * kernel's buffers and the FIN is out but the peer reads none of it (the
 * reset at the timeout destroys those bytes: status 0 would be a lie). */
#include "testlib.h"

int main(void)
{
    tl_init("close_timeout");
    net_config ccfg, scfg;
    tl_config(&ccfg);
    ccfg.close_timeout_ms = 300;
    ccfg.send_cap = 64u << 20;
    tl_config(&scfg);
    scfg.recv_limit = 64 * 1024;
    net_engine ce = tl_engine_with(&ccfg), se = tl_engine_with(&scfg);
    uint16_t port;
    net_handle l = tl_listen(se, NULL, &port);
    net_handle c, s;
    tl_pair(ce, se, l, port, NULL, &c, &s);

    tl_engine_hold(se, 1); /* the server stops reading */
    static uint8_t chunk[256 * 1024];
    tl_fill(chunk, sizeof chunk, 1, 0);
    for (int i = 0; i < 128; i++) /* 32 MiB: far more than the kernel buffers hold */
        CHECK_OK(net_send(c, chunk, sizeof chunk));
    tl_pump(50);
    uint64_t q = 0;
    CHECK_OK(net_send_queued(c, &q));
    CHECKF(q > (4u << 20), "only %llu bytes still queued: the peer reads after all?", (unsigned long long)q);

    uint64_t t0 = tl_now_ms();
    CHECK_OK(net_close(c));
    net_event ev;
    TL_EXPECT(ce, NET_EV_CLOSE, c, &ev);
    uint64_t took = tl_now_ms() - t0;
    printf("CLOSE after %llu ms, status %d (%s)\n", (unsigned long long)took, (int)ev.status, tl_errname(ev.status));
    CHECKF(ev.status == NET_E_TIMEDOUT, "status %d (%s)", (int)ev.status, tl_errname(ev.status));
    CHECKF(took >= 250 && took < 3000, "close_timeout_ms 300 took %llu ms", (unsigned long long)took);

    /* the server, reading again, sees the connection end (not orderly: the
     * data never all arrived) */
    tl_engine_hold(se, 0);
    uint64_t got = 0;
    for (;;) {
        TL_EXPECT(se, NET_EV_NONE, s, &ev);
        if (ev.type == NET_EV_CLOSE)
            break;
        CHECK(ev.type == NET_EV_DATA);
        got += ev.len;
    }
    printf("server read %llu bytes, then CLOSE status %d (%s)\n", (unsigned long long)got, (int)ev.status,
           tl_errname(ev.status));
    CHECK(got < 128u * sizeof chunk);
    CHECKF(ev.status != 0, "an incomplete transfer ended with an orderly close");

    /* Little enough for the kernel's buffers: our queue drains, the FIN
     * goes out, and the peer still reads nothing before the timeout. */
    tl_pair(ce, se, l, port, NULL, &c, &s);
    tl_engine_hold(se, 1);
    CHECK_OK(net_send(c, chunk, 100000));
    CHECK_OK(net_close(c));
    TL_EXPECT(ce, NET_EV_CLOSE, c, &ev);
    printf("small: CLOSE status %d (%s)\n", (int)ev.status, tl_errname(ev.status));
    CHECKF(ev.status == NET_E_TIMEDOUT, "status %d (%s) though the peer read nothing", (int)ev.status,
           tl_errname(ev.status));
    tl_engine_hold(se, 0);
    got = 0;
    for (;;) {
        TL_EXPECT(se, NET_EV_NONE, s, &ev);
        if (ev.type == NET_EV_CLOSE)
            break;
        CHECK(ev.type == NET_EV_DATA);
        got += ev.len;
    }
    printf("small: server read %llu of 100000 bytes, then CLOSE status %d (%s)\n", (unsigned long long)got,
           (int)ev.status, tl_errname(ev.status));

    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
