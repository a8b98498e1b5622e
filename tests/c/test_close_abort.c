/* close_abort: net_abort drops what is queued and resets the connection:
 * the local CLOSE says NET_E_ABORTED, the peer's CLOSE an error (RST). */
#include "testlib.h"

static void abort_case(net_engine ae, net_handle victim, net_engine pe, net_handle peer, const char *what)
{
    CHECK_OK(net_abort(victim));
    int rc = net_send(victim, "late", 4);
    CHECKF(rc == NET_E_CLOSED || rc == NET_E_BADHANDLE, "%s: net_send after net_abort: %d (%s)", what, rc,
           tl_errname(rc));
    net_event ev;
    TL_EXPECT(ae, NET_EV_CLOSE, victim, &ev);
    CHECKF(ev.status == NET_E_ABORTED, "%s: local CLOSE status %d (%s)", what, (int)ev.status, tl_errname(ev.status));
    /* the peer may still read some of what was in flight, then the reset */
    TL_EXPECT(pe, NET_EV_CLOSE, peer, &ev);
    printf("  %s: peer CLOSE status %d (%s) os_error %d\n", what, (int)ev.status, tl_errname(ev.status),
           (int)ev.os_error);
    /* NET_E_RESET is what an RST means; any error passes, an orderly 0 not */
    CHECKF(ev.status < 0, "%s: peer saw an orderly close (status %d) after an abort", what, (int)ev.status);
    if (ev.status != NET_E_RESET)
        printf("  note: %s: peer status %s rather than NET_E_RESET\n", what, tl_errname(ev.status));
    tl_pump(30);
    CHECK_EQ(tl_pending(ae, NET_EV_CLOSE, victim) + tl_pending(pe, NET_EV_CLOSE, peer), 0);
    CHECK_RC(net_send(victim, "x", 1), NET_E_BADHANDLE);
    CHECK_RC(net_abort(victim), NET_E_BADHANDLE);
}

int main(void)
{
    tl_init("close_abort");
    net_config scfg;
    tl_config(&scfg);
    scfg.recv_limit = 256 * 1024; /* a held server engine stops reading soon */
    net_engine ce = tl_engine(), se = tl_engine_with(&scfg);
    uint16_t port;
    net_handle l = tl_listen(se, NULL, &port);
    net_handle c, s;
    net_event ev;

    /* idle connection, client aborts */
    tl_pair(ce, se, l, port, NULL, &c, &s);
    abort_case(ce, c, se, s, "idle, client aborts");

    /* again and again: every abort reads as an error on the other side */
    int orderly = 0;
    for (int i = 0; i < 20; i++) {
        tl_pair(ce, se, l, port, NULL, &c, &s);
        CHECK_OK(net_abort(i % 2 ? s : c));
        TL_EXPECT(i % 2 ? se : ce, NET_EV_CLOSE, i % 2 ? s : c, &ev);
        CHECK_EQ(ev.status, NET_E_ABORTED);
        TL_EXPECT(i % 2 ? ce : se, NET_EV_CLOSE, i % 2 ? c : s, &ev);
        orderly += ev.status == 0;
    }
    CHECKF(orderly == 0, "%d of 20 aborted connections closed with status 0 on the peer", orderly);

    /* idle connection, server aborts its accepted side */
    tl_pair(ce, se, l, port, NULL, &c, &s);
    abort_case(se, s, ce, c, "idle, server aborts");

    /* megabytes queued towards a peer that does not read (its engine is
     * held): the queue is dropped, not flushed */
    tl_pair(ce, se, l, port, NULL, &c, &s);
    tl_engine_hold(se, 1);
    static uint8_t chunk[64 * 1024];
    tl_fill(chunk, sizeof chunk, 5, 0);
    for (int i = 0; i < 200; i++)
        CHECK_OK(net_send(c, chunk, sizeof chunk));
    tl_pump(20);
    uint64_t q = 0;
    CHECK_OK(net_send_queued(c, &q));
    printf("  %llu bytes queued when aborting\n", (unsigned long long)q);
    CHECK_OK(net_abort(c));
    TL_EXPECT(ce, NET_EV_CLOSE, c, &ev);
    CHECK_EQ(ev.status, NET_E_ABORTED);
    tl_engine_hold(se, 0);
    uint64_t got = 0;
    for (;;) {
        TL_EXPECT(se, NET_EV_NONE, s, &ev);
        if (ev.type == NET_EV_CLOSE)
            break;
        CHECK(ev.type == NET_EV_DATA);
        got += ev.len;
    }
    printf("  peer read %llu of %u bytes, then CLOSE status %d (%s)\n", (unsigned long long)got, 200u * 65536u,
           (int)ev.status, tl_errname(ev.status));
    CHECK(got < 200u * 65536u);
    CHECKF(ev.status < 0, "peer saw an orderly close (status %d) after an abort", (int)ev.status);

    /* abort after a graceful close began: still one CLOSE */
    tl_pair(ce, se, l, port, NULL, &c, &s);
    tl_engine_hold(se, 1);
    for (int i = 0; i < 64; i++)
        CHECK_OK(net_send(c, chunk, sizeof chunk));
    CHECK_OK(net_close(c));
    int rc = net_abort(c);
    CHECKF(rc == NET_OK || rc == NET_E_CLOSED, "net_abort after net_close: %d (%s)", rc, tl_errname(rc));
    tl_engine_hold(se, 0);
    TL_EXPECT(ce, NET_EV_CLOSE, c, &ev);
    if (rc == NET_OK)
        CHECKF(ev.status == NET_E_ABORTED, "abort accepted after close, CLOSE status %d", (int)ev.status);
    TL_EXPECT(se, NET_EV_CLOSE, s, &ev);
    tl_pump(30);
    CHECK_EQ(tl_pending(ce, NET_EV_CLOSE, c), 0);

    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
