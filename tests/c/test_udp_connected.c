/* udp_connected: net_udp_connect fixes a socket's peer. net_send/net_sendv
 * then send one datagram each to it, net_peer_addr names it, datagrams
 * from anyone else are not delivered, and net_sendto accepts only the peer
 * (or NULL). Unconnected, net_send and net_peer_addr say NET_E_NOTCONN.
 * Connected to a closed port, a send brings a NET_EV_ERROR with
 * NET_E_REFUSED (the ICMP port unreachable) and the socket goes on working:
 * reconnected to a live peer, it echoes again. */
#include "testlib.h"

/* The next DATAGRAM on u: it must come from `from` and carry `text`. */
static void expect_text(net_engine e, net_handle u, const net_addr *from, const char *text)
{
    net_event ev;
    TL_EXPECT(e, NET_EV_DATAGRAM, u, &ev);
    CHECKF(tl_addr_eq(&ev.addr, from), "datagram \"%.*s\" from %s, want \"%s\" from %s", (int)ev.len,
           (const char *)ev.data, tl_addr_str(&ev.addr), text, tl_addr_str(from));
    CHECKF(ev.len == strlen(text) && (ev.len == 0 || memcmp(ev.data, text, ev.len) == 0),
           "datagram \"%.*s\" (%u bytes), want \"%s\"", (int)ev.len, ev.len ? (const char *)ev.data : "",
           (unsigned)ev.len, text);
}

/* Waits up to ms for an ERROR event on u; 1 = got it (in *ev). */
static int wait_error(net_engine e, net_handle u, net_event *ev, int ms)
{
    return tl_wait(e, NET_EV_ERROR, u, ev, ms);
}

int main(void)
{
    tl_init("udp_connected");
    net_engine e = tl_engine();
    net_addr aa, ba, ca, pa;
    net_handle a = tl_udp(e, NULL, NULL, &aa); /* the peer */
    net_handle b = tl_udp(e, NULL, NULL, &ba); /* the socket under test */
    net_handle c = tl_udp(e, NULL, NULL, &ca); /* a third party */
    net_buf bufs[3] = {{"ab", 2}, {"cd", 2}, {"e", 1}};

    /* unconnected: no peer, no net_send */
    CHECK_RC(net_peer_addr(b, &pa), NET_E_NOTCONN);
    CHECK_RC(net_send(b, "x", 1), NET_E_NOTCONN);
    CHECK_RC(net_sendv(b, bufs, 3), NET_E_NOTCONN);

    /* connected to a */
    CHECK_OK(net_udp_connect(b, "127.0.0.1", aa.port));
    memset(&pa, 0, sizeof pa);
    CHECK_OK(net_peer_addr(b, &pa));
    CHECKF(tl_addr_eq(&pa, &aa), "peer %s, connected to %s", tl_addr_str(&pa), tl_addr_str(&aa));
    net_addr la;
    CHECK_OK(net_local_addr(b, &la));
    CHECKF(tl_addr_eq(&la, &ba), "local address changed by connect: %s -> %s", tl_addr_str(&ba), tl_addr_str(&la));

    CHECK_OK(net_send(b, "hello", 5));
    expect_text(e, a, &ba, "hello");
    CHECK_OK(net_sendv(b, bufs, 3)); /* gathered into one datagram */
    expect_text(e, a, &ba, "abcde");
    CHECK_OK(net_send(b, "", 0)); /* an empty datagram is a datagram */
    expect_text(e, a, &ba, "");
    CHECK_OK(net_sendto(b, NULL, "null", 4));
    expect_text(e, a, &ba, "null");
    CHECK_OK(net_sendto(b, &aa, "peer", 4));
    expect_text(e, a, &ba, "peer");
    CHECK_RC(net_sendto(b, &ca, "other", 5), NET_E_INVAL);
    net_addr other_port = aa;
    other_port.port = ca.port;
    CHECK_RC(net_sendto(b, &other_port, "other", 5), NET_E_INVAL);

    /* only the peer's datagrams arrive: c's is sent first, a's after it */
    CHECK_OK(net_sendto(c, &ba, "intruder", 8));
    tl_pump(20);
    CHECK_OK(net_sendto(a, &ba, "reply", 5));
    expect_text(e, b, &aa, "reply");
    tl_pump(50);
    CHECKF(tl_pending(e, NET_EV_DATAGRAM, b) == 0, "a datagram from a third party reached the connected socket");
    /* c itself is fine: it hears from a */
    CHECK_OK(net_sendto(a, &ca, "to c", 4));
    expect_text(e, c, &aa, "to c");

    /* bad peers refused without harm */
    CHECK_RC(net_udp_connect(b, "no.such.host.invalid", 9), NET_E_ADDR);
    CHECK_OK(net_peer_addr(b, &pa));
    CHECK(tl_addr_eq(&pa, &aa));

    /* connected to a closed port: ICMP port unreachable -> ERROR REFUSED */
    net_addr da;
    net_handle d = tl_udp(e, NULL, NULL, &da);
    CHECK_EQ(tl_close_wait(e, d), 0);
    CHECK_OK(net_udp_connect(b, "127.0.0.1", da.port));
    CHECK_OK(net_peer_addr(b, &pa));
    CHECK(tl_addr_eq(&pa, &da));
    int wine_iocp = tl_under_wine() && strcmp(tl_backend(), "iocp") == 0;
    int receives_after_error = 1; /* checked below, unless Wine cannot */
    /* twice: receiving goes on after an error */
    for (int round = 0; round < 2; round++) {
        CHECK_OK(net_send(b, "anyone?", 7));
        net_event ev;
        if (!wait_error(e, b, &ev, wine_iocp && round == 0 ? 3000 : TL_TIMEOUT_MS)) {
            /* only Wine's IOCP may lack the ICMP error altogether */
            CHECKF(wine_iocp && round == 0, "round %d: no ERROR event after sending to the closed port %u", round,
                   (unsigned)da.port);
            printf("  ICMP part skipped: Wine's IOCP delivers no port-unreachable error on a connected UDP socket "
                   "(no ERROR within 3 s)\n");
            break;
        }
        CHECKF(ev.status == NET_E_REFUSED, "ERROR status %d (%s), os_error %d", (int)ev.status, tl_errname(ev.status),
               (int)ev.os_error);
        CHECK(ev.os_error != 0);
        CHECKF(ev.addr.family == NET_AF_UNSPEC || tl_addr_eq(&ev.addr, &da), "ERROR about %s, the peer is %s",
               tl_addr_str(&ev.addr), tl_addr_str(&da));
        printf("  round %d: ERROR %s os_error %d about %s\n", round, tl_errname(ev.status), (int)ev.os_error,
               ev.addr.family == NET_AF_UNSPEC ? "(unknown)" : tl_addr_str(&ev.addr));
        tl_pump(20);
        CHECKF(tl_pending(e, NET_EV_ERROR, b) == 0, "one unreachable datagram, %d ERROR events",
               1 + (int)tl_pending(e, NET_EV_ERROR, b));
        if (wine_iocp) {
            /* Wine 8: once an overlapped WSARecvFrom completed with the ICMP
             * error, no receive on that socket ever completes again (plain
             * Winsock + IOCP shows the same), so a second error and the
             * socket receiving afterwards cannot be seen here */
            printf("  rest of the ICMP part skipped on Wine: its receives on a UDP socket stop after an ICMP "
                   "error\n");
            receives_after_error = 0;
            break;
        }
    }
    uint64_t user = 1;
    CHECK_OK(net_get_user(b, &user)); /* still open */

    /* reconnected to a live peer: works as before */
    CHECK_OK(net_udp_connect(b, "127.0.0.1", aa.port));
    CHECK_OK(net_send(b, "back", 4));
    expect_text(e, a, &ba, "back");
    if (receives_after_error) {
        CHECK_OK(net_sendto(a, &ba, "again", 5));
        expect_text(e, b, &aa, "again");
    }
    tl_pump(30);
    CHECK_EQ(tl_pending(e, NET_EV_DATAGRAM, 0), 0);

    CHECK_EQ(tl_close_wait(e, a), 0);
    CHECK_EQ(tl_close_wait(e, b), 0);
    CHECK_EQ(tl_close_wait(e, c), 0);
    tl_engine_destroy(e);
    printf("ok\n");
    return 0;
}
