/* rudp_close: every way a reliable-UDP session ends gives exactly one
 * CLOSE per end (testlib fails on any event after a handle's CLOSE), with
 * its reason:
 * - net_close right after queueing messages: every one is delivered, in
 *   order, before both ends close with status 0 (and a close asked for
 *   while still connecting waits for CONNECT, then does the same);
 * - net_abort: NET_E_ABORTED here, NET_E_RESET at the peer;
 * - a peer that vanishes (its engine destroyed): NET_E_TIMEDOUT after the
 *   idle timeout, keep-alives having kept the session up until then;
 * - a listener at max_sessions: CONNECT and CLOSE with NET_E_REFUSED;
 * - nothing listening: NET_E_REFUSED (or NET_E_TIMEDOUT where the OS does
 *   not report the ICMP error: Wine); a socket that never answers:
 *   NET_E_TIMEDOUT after connect_timeout_ms;
 * - net_close of a listener closes its sessions gracefully, then itself. */
#include "rudp_testlib.h"

#define MESSAGES 300

static net_rudp_config config(void)
{
    net_rudp_config cfg;
    net_rudp_config_init(&cfg);
    cfg.idle_timeout_ms = 300;
    cfg.keepalive_ms = 80;
    cfg.connect_timeout_ms = 300;
    return cfg;
}

/* Connects and returns the server's session (the ACCEPT on se). */
static net_handle pair(net_engine ce, net_engine se, uint16_t port, const net_rudp_config *cfg, net_handle *client)
{
    CHECK_OK(net_rudp_connect(ce, "127.0.0.1", port, cfg, client));
    net_event ev;
    TL_EXPECT(ce, NET_EV_CONNECT, *client, &ev);
    CHECK_EQ(ev.status, 0);
    TL_EXPECT(se, NET_EV_ACCEPT, 0, &ev);
    return ev.handle;
}

static void expect_close(net_engine e, net_handle h, int status)
{
    net_event ev;
    TL_EXPECT(e, NET_EV_CLOSE, h, &ev);
    CHECKF(ev.status == status, "CLOSE status %s, expected %s", tl_errname(ev.status), tl_errname(status));
}

/* Messages i = 0.. of 1..2000 bytes (one of 60 KB, fragmented), then net_close at once. */
static void send_then_close(net_handle c)
{
    uint8_t *buf = tl_xmalloc(60000);
    for (int i = 0; i < MESSAGES; i++) {
        uint32_t len = i == MESSAGES / 2 ? 60000 : 4 + (uint32_t)(i * 131 % 2000);
        tl_put_le(buf, (uint64_t)i, 4);
        tl_fill(buf + 4, len - 4, (uint64_t)i, 0);
        CHECK_OK(net_rudp_send(c, 1, NET_RUDP_RELIABLE_ORDERED, buf, len));
    }
    free(buf);
    CHECK_OK(net_close(c));
    CHECK_RC(net_rudp_send(c, 1, 0, "x", 1), NET_E_CLOSED);
}

/* Every message in order, then CLOSE status 0. */
static void expect_all_then_close(net_engine se, net_handle s)
{
    for (int i = 0; i < MESSAGES; i++) {
        net_event ev;
        TL_EXPECT(se, NET_EV_DATA, s, &ev);
        CHECK_EQ(ev.parent, 1);
        CHECK_EQ(tl_get_le(ev.data, 4), (uint64_t)i);
        CHECK(tl_mismatch((const uint8_t *)ev.data + 4, ev.len - 4, (uint64_t)i, 0) < 0);
    }
    expect_close(se, s, 0);
}

static void graceful(net_engine ce, net_engine se, uint16_t port, const net_rudp_config *cfg)
{
    net_handle c, s = pair(ce, se, port, cfg, &c);
    send_then_close(c);
    expect_all_then_close(se, s);
    expect_close(ce, c, 0);

    /* Closed while still connecting: CONNECT first, then the same. */
    CHECK_OK(net_rudp_connect(ce, "127.0.0.1", port, cfg, &c));
    send_then_close(c);
    net_event ev;
    TL_EXPECT(ce, NET_EV_CONNECT, c, &ev);
    CHECK_EQ(ev.status, 0);
    TL_EXPECT(se, NET_EV_ACCEPT, 0, &ev);
    expect_all_then_close(se, ev.handle);
    expect_close(ce, c, 0);
}

static void aborts(net_engine ce, net_engine se, uint16_t port, const net_rudp_config *cfg)
{
    net_handle c, s = pair(ce, se, port, cfg, &c);
    CHECK_OK(net_rudp_send(c, 0, 0, "lost", 4));
    CHECK_OK(net_abort(c));
    CHECK_OK(net_abort(c)); /* again: nothing more */
    CHECK_OK(net_close(c));
    expect_close(ce, c, NET_E_ABORTED);
    expect_close(se, s, NET_E_RESET);
    /* The server's side aborting. */
    s = pair(ce, se, port, cfg, &c);
    CHECK_OK(net_abort(s));
    expect_close(se, s, NET_E_ABORTED);
    expect_close(ce, c, NET_E_RESET);
}

/* When e hears its next datagram, as soon as the test can tell. */
static uint64_t next_heard(net_engine e)
{
    uint64_t before = tl_stats(e).datagrams_in, give_up = tl_now_ms() + TL_TIMEOUT_MS;
    while (tl_stats(e).datagrams_in == before) {
        CHECKF(tl_now_ms() < give_up, "no datagram in %d ms", TL_TIMEOUT_MS);
        tl_pump(1);
    }
    return tl_now_ms();
}

static void vanished_peer(net_engine se, uint16_t port, const net_rudp_config *cfg)
{
    net_engine ce = tl_engine();
    net_handle c, s = pair(ce, se, port, cfg, &c);
    /* Keep-alives hold a quiet session up past the idle timeout. */
    tl_pump((int)cfg->idle_timeout_ms + 100);
    CHECK_EQ(tl_pending(se, NET_EV_CLOSE, s), 0);
    CHECK_EQ(tl_pending(ce, NET_EV_CLOSE, c), 0);
    /* The peer goes without a word right after the server heard from it
     * (a keep-alive: the other sessions on se are long closed). The timeout
     * counts from then: measured from what the server heard rather than
     * from when the peer should have sent, a keep-alive that a loaded
     * machine (Wine) sent late cannot make the timeout look early. */
    uint64_t heard = next_heard(se);
    tl_engine_destroy(ce);
    expect_close(se, s, NET_E_TIMEDOUT);
    uint64_t took = tl_now_ms() - heard;
    CHECKF(took + cfg->keepalive_ms + 50 >= cfg->idle_timeout_ms,
           "timed out %llu ms after the last datagram heard, idle timeout %u", (unsigned long long)took,
           (unsigned)cfg->idle_timeout_ms);
}

static void refused(net_engine ce, net_engine se, const net_rudp_config *cfg)
{
    net_rudp_config one = *cfg;
    one.max_sessions = 1;
    net_handle l;
    uint16_t port = rt_listen(se, &one, &l).port;
    net_handle c1, s1 = pair(ce, se, port, cfg, &c1), c2;
    CHECK_OK(net_rudp_connect(ce, "127.0.0.1", port, cfg, &c2));
    net_event ev;
    TL_EXPECT(ce, NET_EV_CONNECT, c2, &ev);
    CHECK_EQ(ev.status, NET_E_REFUSED);
    expect_close(ce, c2, NET_E_REFUSED);
    net_rudp_stats st = rt_stats(l);
    CHECK_EQ(st.sessions_refused, 1);
    CHECK_EQ(st.sessions, 1);
    /* Closing the listener closes its session gracefully, then itself. */
    CHECK_OK(net_close(l));
    CHECK_OK(net_close(l));
    net_addr gone;
    CHECK_RC(net_local_addr(l, &gone), NET_E_CLOSED);
    expect_close(ce, c1, 0);
    expect_close(se, s1, 0);
    expect_close(se, l, 0);
    CHECK_EQ(tl_pending(se, NET_EV_ACCEPT, 0), 0);
}

static void nobody_there(net_engine ce, const net_rudp_config *cfg)
{
    /* A port nobody listens on: a UDP socket's, closed again. */
    net_addr at;
    net_handle u = tl_udp(ce, NULL, NULL, &at);
    CHECK_EQ(tl_close_wait(ce, u), 0);
    net_handle c;
    CHECK_OK(net_rudp_connect(ce, "127.0.0.1", at.port, cfg, &c));
    net_event ev;
    TL_EXPECT(ce, NET_EV_CONNECT, c, &ev);
    int want = NET_E_REFUSED;
    if (tl_under_wine() && ev.status == NET_E_TIMEDOUT)
        want = NET_E_TIMEDOUT; /* Wine may not report the ICMP error */
    CHECKF(ev.status == want, "CONNECT status %s", tl_errname(ev.status));
    expect_close(ce, c, want);

    /* A socket that is there and never answers. */
    u = tl_udp(ce, NULL, NULL, &at);
    uint64_t t0 = tl_now_ms();
    CHECK_OK(net_rudp_connect(ce, "127.0.0.1", at.port, cfg, &c));
    TL_EXPECT(ce, NET_EV_CONNECT, c, &ev);
    CHECK_EQ(ev.status, NET_E_TIMEDOUT);
    CHECK(tl_now_ms() - t0 + 50 >= cfg->connect_timeout_ms);
    expect_close(ce, c, NET_E_TIMEDOUT);
    CHECK(tl_pending(ce, NET_EV_DATAGRAM, u) >= 1); /* it did try: HELLOs arrived */
    tl_discard(ce);
    CHECK_EQ(tl_close_wait(ce, u), 0);
}

int main(void)
{
    tl_init("rudp_close");
    net_engine ce = tl_engine(), se = tl_engine();
    net_rudp_config cfg = config();
    net_handle l;
    uint16_t port = rt_listen(se, &cfg, &l).port;
    graceful(ce, se, port, &cfg);
    aborts(ce, se, port, &cfg);
    vanished_peer(se, port, &cfg);
    refused(ce, se, &cfg);
    nobody_there(ce, &cfg);
    CHECK_EQ(tl_close_wait(se, l), 0);
    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
