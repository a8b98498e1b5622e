/* udp_close: net_close on a UDP socket with datagrams queued sends them
 * all, then exactly one CLOSE (status 0); net_abort drops the queue and
 * gives exactly one CLOSE. After the CLOSE every call on the handle says
 * NET_E_BADHANDLE, as do zero, forged, wrong-type handles and those of a
 * destroyed engine. Bad arguments to the UDP calls give NET_E_INVAL,
 * NET_E_ADDR or NET_E_ADDRINUSE, never a crash. */
#include "testlib.h"

#define QUEUED 64

typedef struct sink {
    net_handle server, victim;
    uint8_t seen[QUEUED];
    int got, closes;
    int32_t close_status;
} sink;

static uint32_t qlen(int i)
{
    return 4 + (uint32_t)(i * 13 % 900);
}

static void on_event(void *p, net_engine e, const net_event *ev)
{
    sink *s = (sink *)p;
    (void)e;
    if (ev->type == NET_EV_CLOSE && ev->handle == s->victim) {
        s->closes++;
        s->close_status = ev->status;
        return;
    }
    CHECKF(ev->type == NET_EV_DATAGRAM && ev->handle == s->server, "unexpected %s on handle %llu, status %d (%s)",
           tl_evname(ev->type), (unsigned long long)ev->handle, (int)ev->status, tl_errname(ev->status));
    CHECKF(ev->len >= 4, "datagram of %u bytes", (unsigned)ev->len);
    int i = (int)tl_get_le((const uint8_t *)ev->data, 4);
    CHECKF(i >= 0 && i < QUEUED && ev->len == qlen(i), "datagram %d of %u bytes", i, (unsigned)ev->len);
    CHECKF(tl_mismatch((const uint8_t *)ev->data + 4, ev->len - 4, (uint64_t)i, 0) < 0, "datagram %d corrupt", i);
    CHECKF(!s->seen[i], "datagram %d twice", i);
    s->seen[i] = 1;
    s->got++;
}

static int all_and_closed(void *p)
{
    const sink *s = (const sink *)p;
    return s->got == QUEUED && s->closes == 1;
}

static int closed(void *p)
{
    return ((const sink *)p)->closes == 1;
}

static void queue_all(net_handle u, const net_addr *to)
{
    uint8_t buf[4 + 900];
    for (int i = 0; i < QUEUED; i++) {
        uint32_t n = qlen(i);
        tl_put_le(buf, (uint64_t)i, 4);
        tl_fill(buf + 4, n - 4, (uint64_t)i, 0);
        CHECK_OK(net_sendto(u, to, buf, n));
    }
}

typedef struct from_want {
    net_handle h;
    net_addr from;
} from_want;

static int match_from(const net_event *ev, void *arg)
{
    const from_want *w = (const from_want *)arg;
    return ev->type == NET_EV_DATAGRAM && ev->handle == w->h && tl_addr_eq(&ev->addr, &w->from);
}

/* The call must say NET_E_BADHANDLE. */
#define BAD(call)                                                                                                      \
    do {                                                                                                               \
        int rc_ = (call);                                                                                              \
        CHECKF(rc_ == NET_E_BADHANDLE, "%s 0x%016llx: %s returned %d (%s)", what, (unsigned long long)h, #call, rc_,   \
               tl_errname(rc_));                                                                                       \
    } while (0)

static void udp_calls_bad(net_handle h, const char *what, const net_addr *to)
{
    net_buf b = {"x", 1};
    uint64_t u;
    int64_t v;
    net_addr a;
    BAD(net_sendto(h, to, "x", 1));
    BAD(net_sendto(h, NULL, "x", 1));
    BAD(net_udp_connect(h, "127.0.0.1", to->port));
    BAD(net_send(h, "x", 1));
    BAD(net_sendv(h, &b, 1));
    BAD(net_set_user(h, 1));
    BAD(net_get_user(h, &u));
    BAD(net_set_option(h, NET_OPT_SNDBUF, 65536));
    BAD(net_get_option(h, NET_OPT_DROPPED, &v));
    BAD(net_get_option(h, NET_OPT_MAX_DATAGRAM, &v));
    BAD(net_local_addr(h, &a));
    BAD(net_peer_addr(h, &a));
    BAD(net_send_queued(h, &u));
    BAD(net_abort(h));
    BAD(net_close(h));
}

/* Only the calls a UDP socket has and other handle types lack. */
static void udp_only_calls_bad(net_handle h, const char *what, const net_addr *to)
{
    BAD(net_sendto(h, to, "x", 1));
    BAD(net_udp_connect(h, "127.0.0.1", to->port));
}

int main(void)
{
    tl_init("udp_close");
    net_engine se = tl_engine(), ce = tl_engine();
    net_udp_config cfg;
    net_udp_config_init(&cfg);
    net_addr sa, ua;
    sink s;
    memset(&s, 0, sizeof s);
    s.server = tl_udp(se, NULL, &cfg, &sa);

    /* graceful: everything queued goes out, then one CLOSE */
    net_handle u = tl_udp(ce, NULL, NULL, &ua);
    s.victim = u;
    queue_all(u, &sa);
    CHECK_OK(net_close(u));
    int rc = net_sendto(u, &sa, "late", 4);
    CHECKF(rc == NET_E_CLOSED || rc == NET_E_BADHANDLE, "net_sendto after net_close: %d (%s)", rc, tl_errname(rc));
    if (!tl_run(on_event, &s, all_and_closed, TL_TIMEOUT_MS))
        tl_fail(__FILE__, __LINE__, "graceful close", "%d of %d queued datagrams arrived, %d CLOSE", s.got, QUEUED,
                s.closes);
    CHECKF(s.close_status == 0, "CLOSE status %d (%s)", (int)s.close_status, tl_errname(s.close_status));
    tl_run(on_event, &s, NULL, 50); /* a second CLOSE would fail here */
    CHECK_EQ(s.closes, 1);
    CHECK_EQ(s.got, QUEUED);
    udp_calls_bad(u, "closed UDP socket", &sa);

    /* abortive: the queue may be dropped, one CLOSE all the same */
    net_handle v = tl_udp(ce, NULL, NULL, NULL);
    memset(s.seen, 0, sizeof s.seen);
    s.got = s.closes = 0;
    s.victim = v;
    queue_all(v, &sa);
    CHECK_OK(net_abort(v));
    rc = net_sendto(v, &sa, "late", 4);
    CHECKF(rc == NET_E_CLOSED || rc == NET_E_BADHANDLE, "net_sendto after net_abort: %d (%s)", rc, tl_errname(rc));
    TL_RUN(on_event, &s, closed);
    CHECKF(s.close_status == NET_E_ABORTED, "CLOSE status after net_abort %d (%s)", (int)s.close_status,
           tl_errname(s.close_status));
    tl_run(on_event, &s, NULL, 50);
    CHECK_EQ(s.closes, 1);
    printf("  abort: %d of %d queued datagrams had gone out\n", s.got, QUEUED);
    udp_calls_bad(v, "aborted UDP socket", &sa);

    /* idle sockets: one CLOSE each */
    net_handle w = tl_udp(ce, NULL, NULL, NULL);
    CHECK_EQ(tl_close_wait(ce, w), 0);
    w = tl_udp(ce, NULL, NULL, NULL);
    CHECK_OK(net_abort(w));
    net_event ev;
    TL_EXPECT(ce, NET_EV_CLOSE, w, &ev);
    CHECK_EQ(ev.status, NET_E_ABORTED);
    tl_pump(30);
    CHECK_EQ(tl_pending(ce, NET_EV_NONE, 0), 0);
    udp_calls_bad(w, "aborted idle UDP socket", &sa);

    /* zero, forged, wrong type */
    udp_calls_bad(0, "zero handle", &sa);
    const net_handle forged[] = {1,
                                 UINT64_MAX,
                                 0xDEADBEEFCAFEBABEull,
                                 s.server ^ 0xFFFF000000000000ull,
                                 s.server ^ 0x00000000FFFF0000ull,
                                 s.server ^ 0x8000000000000000ull};
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++)
        udp_calls_bad(forged[i], "forged handle", &sa);
    udp_only_calls_bad((net_handle)se, "engine as a handle", &sa);
    net_handle t = 0;
    CHECK_OK(net_timer_start(se, 60000, 0, 0, &t));
    udp_only_calls_bad(t, "timer", &sa);
    uint16_t port;
    net_handle l = tl_listen(se, NULL, &port);
    net_handle tc, ts;
    tl_pair(ce, se, l, port, NULL, &tc, &ts);
    udp_only_calls_bad(l, "TCP listener", &sa);
    udp_only_calls_bad(tc, "TCP connection", &sa);
    CHECK_OK(net_close(t));
    CHECK_EQ(tl_close_wait(ce, tc), 0);
    TL_EXPECT(se, NET_EV_CLOSE, ts, &ev);
    CHECK_EQ(tl_close_wait(se, l), 0);

    /* bad arguments on a good socket */
    net_handle x = 0;
    rc = net_sendto(s.server, NULL, "x", 1);
    CHECKF(rc == NET_E_INVAL || rc == NET_E_NOTCONN, "net_sendto(NULL address) on an unconnected socket: %d (%s)", rc,
           tl_errname(rc));
    CHECK_RC(net_sendto(s.server, &ua, NULL, 5), NET_E_INVAL);
    net_addr odd = ua;
    odd.family = NET_AF_UNSPEC;
    rc = net_sendto(s.server, &odd, "x", 1);
    CHECKF(rc == NET_E_INVAL || rc == NET_E_ADDR, "net_sendto(family UNSPEC): %d (%s)", rc, tl_errname(rc));
    odd.family = 5;
    rc = net_sendto(s.server, &odd, "x", 1);
    CHECKF(rc == NET_E_INVAL || rc == NET_E_ADDR, "net_sendto(family 5): %d (%s)", rc, tl_errname(rc));
    rc = net_udp_connect(s.server, NULL, sa.port);
    CHECKF(rc == NET_E_INVAL || rc == NET_E_ADDR, "net_udp_connect(NULL host): %d (%s)", rc, tl_errname(rc));
    CHECK_RC(net_udp_connect(s.server, "no.such.host.invalid", 9), NET_E_ADDR);
    CHECK_RC(net_peer_addr(s.server, &odd), NET_E_NOTCONN); /* the failed connects left it unconnected */

    CHECK_RC(net_udp_open(se, "no.such.host.invalid", 0, &cfg, &x), NET_E_ADDR);
    CHECK_RC(net_udp_open(se, "127.0.0.1", 0, &cfg, NULL), NET_E_INVAL);
    CHECK_RC(net_udp_open(0, "127.0.0.1", 0, &cfg, &x), NET_E_BADHANDLE);
    CHECK_RC(net_udp_open((net_engine)s.server, "127.0.0.1", 0, &cfg, &x), NET_E_BADHANDLE);
    rc = net_udp_open(se, "127.0.0.1", sa.port, &cfg, &x); /* taken, no REUSEADDR */
    CHECKF(rc == NET_E_ADDRINUSE, "second UDP socket on port %u: %d (%s)", (unsigned)sa.port, rc, tl_errname(rc));
    CHECK_EQ(x, 0);

    net_addr pa;
    CHECK_RC(net_addr_parse("no.such.host.invalid", 1, &pa), NET_E_ADDR);
    CHECK_RC(net_addr_parse("127.0.0.1", 1, NULL), NET_E_INVAL);
    rc = net_addr_parse(NULL, 1, &pa);
    CHECKF(rc == NET_E_INVAL || rc == NET_E_ADDR || rc == NET_OK, "net_addr_parse(NULL): %d (%s)", rc, tl_errname(rc));
    CHECK_OK(net_addr_parse("10.1.2.3", 4567, &pa));
    CHECK(pa.family == NET_AF_INET && pa.port == 4567 && pa.ip[0] == 10 && pa.ip[1] == 1 && pa.ip[2] == 2 &&
          pa.ip[3] == 3);
    CHECK_OK(net_addr_parse("::1", 7, &pa));
    CHECK(pa.family == NET_AF_INET6 && pa.port == 7 && pa.ip[15] == 1 && pa.ip[0] == 0);

    /* all that left the server socket working */
    net_handle y = tl_udp(ce, NULL, NULL, &ua);
    CHECK_OK(net_sendto(y, &sa, "still", 5));
    from_want fw = {s.server, ua}; /* stragglers of the aborted socket may still come */
    CHECKF(tl_wait_match(se, match_from, &fw, &ev, TL_TIMEOUT_MS), "nothing from %s", tl_addr_str(&ua));
    CHECK(ev.len == 5 && memcmp(ev.data, "still", 5) == 0);
    CHECK_OK(net_sendto(s.server, &ev.addr, "here", 4));
    TL_EXPECT(ce, NET_EV_DATAGRAM, y, &ev);
    CHECK(ev.len == 4 && memcmp(ev.data, "here", 4) == 0);
    CHECK_EQ(tl_close_wait(ce, y), 0);
    CHECK_EQ(tl_close_wait(se, s.server), 0);
    udp_calls_bad(s.server, "closed server socket", &sa);

    /* a destroyed engine: its UDP handles are dead, queued datagrams or not */
    net_engine d = tl_engine();
    net_handle du = tl_udp(d, NULL, NULL, NULL);
    net_handle dq = tl_udp(d, NULL, NULL, NULL);
    CHECK_OK(net_sendto(dq, &sa, "queued", 6));
    tl_engine_destroy(d);
    udp_calls_bad(du, "UDP socket of a destroyed engine", &sa);
    udp_calls_bad(dq, "UDP socket with a queue of a destroyed engine", &sa);

    tl_engine_destroy(ce);
    tl_engine_destroy(se);
    printf("ok\n");
    return 0;
}
