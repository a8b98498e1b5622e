/* rudp_hostile: a reliable-UDP listener under bad input, written byte by
 * byte here from docs/rudp-protocol.md, while a real session goes on.
 * - Garbage, truncated headers, a wrong version, a short HELLO, DATA for a
 *   session id that does not exist: no reply, each counted in the
 *   listener's datagrams_dropped; forged cookies: cookies_rejected.
 * - A handshake flood from many sockets: each HELLO gets one CHALLENGE no
 *   larger than itself and no session, no ACCEPT; a cookie replayed from
 *   another address is rejected.
 * - A session made by hand, then abused: an ack of packets never sent,
 *   chunks on a channel it does not have, truncated chunks, unknown flags,
 *   reliable numbers far outside the window, fragments that contradict
 *   each other or claim more than max_message, more half-made messages
 *   than a session keeps: dropped and counted in its stats, and a proper
 *   message after all that is still delivered.
 * - Datagrams corrupted on the way (a proper packet with one byte flipped
 *   after its CRC32C was computed): counted in checksum_failures, never
 *   delivered.
 * Every datagram here ends with its CRC32C, computed bit by bit from the
 * polynomial (not the library's tables) so the test checks the format.
 * The real session echoes byte-exact before, during and after. */
#include "rudp_testlib.h"

#define HDR 8
#define DATA_HDR 24

static net_engine e;
static net_handle listener, client, server, attacker;
static net_addr listen_at;

/* ---- packets by hand ---- */

static size_t hdr(uint8_t *p, int type, uint32_t id)
{
    p[0] = (uint8_t)type;
    p[1] = 1; /* version */
    tl_put_le(p + 2, 0, 2);
    tl_put_le(p + 4, id, 4);
    return HDR;
}

static size_t data_hdr(uint8_t *p, uint32_t id, int numbered, uint16_t seq, int acks, uint16_t ack, uint64_t bits)
{
    hdr(p, 6, id);
    tl_put_le(p + 2, (uint64_t)((numbered ? 1 : 0) | (acks ? 2 : 0)), 2);
    tl_put_le(p + 8, seq, 2);
    tl_put_le(p + 10, ack, 2);
    tl_put_le(p + 12, bits, 8);
    tl_put_le(p + 20, 1u << 20, 4);
    return DATA_HDR;
}

static size_t chunk(uint8_t *p, int flags, int channel, const void *body, uint16_t len, uint16_t rsn, uint16_t cseq)
{
    p[0] = (uint8_t)flags;
    p[1] = (uint8_t)channel;
    tl_put_le(p + 2, len, 2);
    tl_put_le(p + 4, rsn, 2);
    tl_put_le(p + 6, cseq, 2);
    memcpy(p + 8, body, len);
    return 8 + (size_t)len;
}

static size_t fragment(uint8_t *p, int channel, uint16_t len, uint16_t rsn, uint32_t total, uint32_t offset,
                       uint16_t index, uint16_t count)
{
    p[0] = 0x0C; /* reliable-ordered, FRAG, RELIABLE */
    p[1] = (uint8_t)channel;
    tl_put_le(p + 2, len, 2);
    tl_put_le(p + 4, rsn, 2);
    tl_put_le(p + 6, 0, 2);
    tl_put_le(p + 8, total, 4);
    tl_put_le(p + 12, offset, 4);
    tl_put_le(p + 16, index, 2);
    tl_put_le(p + 18, count, 2);
    memset(p + 20, 0xAB, len);
    return 20 + (size_t)len;
}

/* CRC32C (Castagnoli, reflected 0x82F63B78), one bit at a time. */
static uint32_t crc32c(const uint8_t *p, size_t len)
{
    uint32_t c = 0xFFFFFFFFu;
    while (len--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

/* A datagram from the listener: its trailer checks, and its body is len - 4. */
static int crc_ok(const net_event *ev)
{
    const uint8_t *d = ev->data;
    return ev->len >= 4 && crc32c(d, ev->len - 4) == (uint32_t)tl_get_le(d + ev->len - 4, 4);
}

/* Sends p with its CRC32C, or with one byte flipped after it was computed
 * (flip >= 0: that byte). Bursts are paced (a pump every 16 datagrams): the
 * kernel's receive buffer must not be what drops them, or the counts would
 * not add up. */
static void send_datagram(net_handle from, const void *p, size_t len, long flip)
{
    static unsigned sent;
    uint8_t d[1600];
    CHECK(len + 4 <= sizeof d);
    memcpy(d, p, len);
    tl_put_le(d + len, crc32c(d, len), 4);
    if (flip >= 0)
        d[flip] ^= 0x20;
    CHECK_OK(net_sendto(from, &listen_at, d, (uint32_t)len + 4));
    if (++sent % 16 == 0)
        tl_pump(1);
}

static void send_raw(net_handle from, const void *p, size_t len)
{
    send_datagram(from, p, len, -1);
}

/* Pumps until the listener's (or a session's) counters reach what was sent. */
static void wait_counters(net_handle h, uint64_t dropped, uint64_t cookies)
{
    uint64_t give_up = tl_now_ms() + TL_TIMEOUT_MS;
    net_rudp_stats st = rt_stats(h);
    while ((st.datagrams_dropped < dropped || st.cookies_rejected < cookies) && tl_now_ms() < give_up) {
        tl_pump(5);
        st = rt_stats(h);
    }
    CHECKF(st.datagrams_dropped >= dropped && st.cookies_rejected >= cookies,
           "dropped %llu (want %llu), cookies rejected %llu (want %llu)", (unsigned long long)st.datagrams_dropped,
           (unsigned long long)dropped, (unsigned long long)st.cookies_rejected, (unsigned long long)cookies);
}

/* ---- the real session keeps working ---- */

static void echo_round(int n, uint64_t seed)
{
    for (int i = 0; i < n; i++) {
        uint8_t buf[600];
        uint32_t len = 1 + (uint32_t)(i * 53 % 600);
        tl_fill(buf, len, seed + (uint64_t)i, 0);
        CHECK_OK(net_rudp_send(client, (uint32_t)(i % 4), NET_RUDP_RELIABLE_ORDERED, buf, len));
    }
    for (int i = 0; i < n; i++) { /* each channel in order, channels interleaved as sent */
        net_event ev;
        TL_EXPECT(e, NET_EV_DATA, server, &ev);
        CHECK_OK(net_rudp_send(server, (uint32_t)ev.parent, NET_RUDP_RELIABLE_ORDERED, ev.data, ev.len));
    }
    int next[4] = {0, 1, 2, 3};
    for (int got = 0; got < n; got++) {
        net_event ev;
        TL_EXPECT(e, NET_EV_DATA, client, &ev);
        int ch = (int)ev.parent, i = next[ch];
        next[ch] += 4;
        CHECKF(ev.len == 1 + (uint32_t)(i * 53 % 600), "echo %d on channel %d: %u bytes", i, ch, (unsigned)ev.len);
        CHECK(tl_mismatch(ev.data, ev.len, seed + (uint64_t)i, 0) < 0);
    }
}

/* ---- garbage at the listener ---- */

/* Sends each of the garbage datagrams, waiting every ten for the listener
 * to have counted them: with no reply to pace it, a burst would overflow
 * the socket's receive buffer and the counts would not add up. */
typedef struct tally {
    net_rudp_stats before;
    uint64_t dropped, cookies;
    int unchecked;
} tally;

static void counted(tally *t, int dropped, int cookies)
{
    t->dropped += (uint64_t)dropped;
    t->cookies += (uint64_t)cookies;
    if (++t->unchecked == 10) {
        wait_counters(listener, t->before.datagrams_dropped + t->dropped, t->before.cookies_rejected + t->cookies);
        t->unchecked = 0;
    }
}

static void garbage(void)
{
    tally t = {rt_stats(listener), 0, 0, 0};
    uint8_t p[1500];
    uint64_t x = 12345;
    for (int i = 0; i < 200; i++) {
        size_t len = (size_t)(i * 7 % 1400);
        for (size_t k = 0; k < len; k++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            p[k] = (uint8_t)(x >> 56);
        }
        if (len > 1)
            p[1] = 0; /* no version 0: whatever the rest says, it is dropped */
        send_raw(attacker, p, len);
        counted(&t, 1, 0);
    }
    hdr(p, 1, 5);
    for (size_t len = 1; len < HDR; len++) { /* truncated headers */
        send_raw(attacker, p, len);
        counted(&t, 1, 0);
    }
    p[1] = 2; /* a version this library does not speak */
    send_raw(attacker, p, 64);
    counted(&t, 1, 0);
    hdr(p, 1, 5);
    send_raw(attacker, p, 63); /* a HELLO one byte short: no answer at all */
    counted(&t, 1, 0);
    data_hdr(p, 0xBADBAD, 1, 1, 0, 0, 0);
    send_raw(attacker, p, DATA_HDR); /* a session that does not exist */
    counted(&t, 1, 0);
    hdr(p, 9, 5);
    send_raw(attacker, p, 64); /* an unknown packet type */
    counted(&t, 1, 0);
    /* RESPONSEs with made-up cookies. */
    for (int i = 0; i < 20; i++) {
        memset(p, 0, sizeof p);
        hdr(p, 3, 100 + (uint32_t)i);
        tl_fill(p + HDR, 16, (uint64_t)i, 0);
        send_raw(attacker, p, HDR + 16 + 8);
        counted(&t, 0, 1);
    }
    wait_counters(listener, t.before.datagrams_dropped + t.dropped, t.before.cookies_rejected + t.cookies);
    CHECK_EQ(t.dropped, 211);
    tl_pump(20);
    CHECK_EQ(tl_pending(e, NET_EV_DATAGRAM, attacker), 0); /* not one reply */
    CHECK_EQ(tl_pending(e, NET_EV_ACCEPT, 0), 0);
}

/* ---- a handshake flood ---- */

#define FLOODERS 8
#define HELLOS 40

static void flood(void)
{
    net_handle src[FLOODERS];
    for (int s = 0; s < FLOODERS; s++)
        src[s] = tl_udp(e, NULL, NULL, NULL);
    uint8_t p[64];
    memset(p, 0, sizeof p);
    for (int i = 0; i < HELLOS; i++)
        for (int s = 0; s < FLOODERS; s++) {
            hdr(p, 1, (uint32_t)(1000 + s * HELLOS + i));
            send_raw(src[s], p, sizeof p);
        }
    /* Every answer is a CHALLENGE for one of our ids, and no larger than the HELLO. */
    int answers = 0;
    uint8_t cookie[16] = {0};
    uint32_t cookie_id = 0;
    net_event ev;
    uint64_t give_up = tl_now_ms() + 2000;
    while (answers < FLOODERS * HELLOS && tl_now_ms() < give_up) {
        if (!tl_wait(e, NET_EV_DATAGRAM, 0, &ev, 100))
            continue;
        CHECKF(ev.len <= sizeof p, "a %u-byte answer to a 64-byte HELLO", (unsigned)ev.len);
        CHECK(ev.len == HDR + 16 + 4 && ((const uint8_t *)ev.data)[0] == 2 && crc_ok(&ev));
        if (ev.handle == src[0] && !cookie_id) {
            cookie_id = (uint32_t)tl_get_le((const uint8_t *)ev.data + 4, 4);
            memcpy(cookie, (const uint8_t *)ev.data + HDR, 16);
        }
        answers++;
    }
    CHECK(answers > 0 && answers <= FLOODERS * HELLOS);
    net_rudp_stats st = rt_stats(listener);
    CHECK_EQ(st.sessions, 1);
    CHECK_EQ(tl_pending(e, NET_EV_ACCEPT, 0), 0);
    /* src[0]'s cookie, echoed from another address: rejected, no session. */
    CHECK(cookie_id != 0);
    uint8_t r[HDR + 16 + 8];
    memset(r, 0, sizeof r);
    hdr(r, 3, cookie_id);
    memcpy(r + HDR, cookie, 16);
    tl_put_le(r + HDR + 16, 1200, 2);
    tl_put_le(r + HDR + 18, 4, 2);
    send_raw(src[1], r, sizeof r);
    wait_counters(listener, 0, st.cookies_rejected + 1);
    CHECK_EQ(rt_stats(listener).sessions, 1);
    for (int s = 0; s < FLOODERS; s++) {
        tl_pump(1);
        while (tl_pending(e, NET_EV_DATAGRAM, src[s]))
            tl_wait(e, NET_EV_DATAGRAM, src[s], &ev, 0);
        CHECK_EQ(tl_close_wait(e, src[s]), 0);
    }
}

/* ---- a session made by hand, then abused ---- */

static net_handle handmade(net_handle h, uint32_t *server_id)
{
    uint8_t p[64];
    memset(p, 0, sizeof p);
    hdr(p, 1, 4242);
    send_raw(h, p, sizeof p);
    net_event ev;
    TL_EXPECT(e, NET_EV_DATAGRAM, h, &ev);
    CHECK(ev.len == HDR + 16 + 4 && ((const uint8_t *)ev.data)[0] == 2 && crc_ok(&ev));
    uint8_t r[HDR + 16 + 8];
    hdr(r, 3, 4242);
    memcpy(r + HDR, (const uint8_t *)ev.data + HDR, 16);
    tl_put_le(r + HDR + 16, 1200, 2);
    tl_put_le(r + HDR + 18, 4, 2);
    tl_put_le(r + HDR + 20, 1u << 20, 4);
    send_raw(h, r, sizeof r);
    TL_EXPECT(e, NET_EV_DATAGRAM, h, &ev);
    CHECKF(ev.len == HDR + 12 + 4 && ((const uint8_t *)ev.data)[0] == 4 && crc_ok(&ev),
           "WELCOME expected: %u bytes, type %d", (unsigned)ev.len, ((const uint8_t *)ev.data)[0]);
    CHECK(ev.len <= sizeof r);
    *server_id = (uint32_t)tl_get_le((const uint8_t *)ev.data + HDR, 4);
    TL_EXPECT(e, NET_EV_ACCEPT, 0, &ev);
    CHECK_EQ(ev.parent, listener);
    return ev.handle;
}

/* Waits until session s has seen n DATA packets (pacing, as for garbage). */
static void wait_received(net_handle s, uint64_t n)
{
    uint64_t give_up = tl_now_ms() + TL_TIMEOUT_MS;
    while (rt_stats(s).packets_received < n && tl_now_ms() < give_up)
        tl_pump(2);
    CHECKF(rt_stats(s).packets_received >= n, "the session saw %llu DATA packets of %llu",
           (unsigned long long)rt_stats(s).packets_received, (unsigned long long)n);
}

static void abuse(void)
{
    net_handle h = tl_udp(e, NULL, NULL, NULL);
    uint32_t id;
    net_handle s = handmade(h, &id);
    uint64_t listener_dropped = rt_stats(listener).datagrams_dropped;
    /* Something in flight from the server, never acknowledged by us. */
    CHECK_OK(net_rudp_send(s, 0, NET_RUDP_RELIABLE_ORDERED, "pending", 7));
    net_event ev;
    TL_EXPECT(e, NET_EV_DATAGRAM, h, &ev);
    CHECK(crc_ok(&ev));
    uint16_t their_seq = (uint16_t)tl_get_le((const uint8_t *)ev.data + 8, 2);

    uint8_t p[1500], body[64];
    memset(body, 0x5A, sizeof body);
    uint16_t seq = 1;
    int bad = 0;
    size_t n;
    /* An ack of packets it never sent. */
    n = data_hdr(p, id, 0, 0, 1, (uint16_t)(their_seq + 500), ~0ull);
    send_raw(h, p, n), bad++;
    /* A channel it does not have (4 of 4). */
    n = data_hdr(p, id, 1, seq++, 0, 0, 0);
    n += chunk(p + n, 0x08, 4, body, 10, 0, 0);
    send_raw(h, p, n), bad++;
    /* A chunk longer than the datagram. */
    n = data_hdr(p, id, 1, seq++, 0, 0, 0);
    n += chunk(p + n, 0x08, 0, body, 10, 0, 0);
    send_raw(h, p, n - 3), bad++;
    /* An unknown chunk flag. */
    n = data_hdr(p, id, 1, seq++, 0, 0, 0);
    n += chunk(p + n, 0x18, 0, body, 10, 0, 0);
    send_raw(h, p, n), bad++;
    /* A reliable number far outside any window the sender could have. */
    n = data_hdr(p, id, 1, seq++, 0, 0, 0);
    n += chunk(p + n, 0x08, 0, body, 10, 30000, 0);
    send_raw(h, p, n), bad++;
    /* A fragment claiming more than max_message. */
    n = data_hdr(p, id, 1, seq++, 0, 0, 0);
    n += fragment(p + n, 1, 100, 0, 10u << 20, 0, 0, 3);
    send_raw(h, p, n), bad++;
    /* Fragments of one message that contradict each other: rsn 10 and 11
     * are 0 and 1 of a 3-fragment message, but say different totals. */
    n = data_hdr(p, id, 1, seq++, 0, 0, 0);
    n += fragment(p + n, 1, 100, 10, 300, 0, 0, 3);
    send_raw(h, p, n);
    n = data_hdr(p, id, 1, seq++, 0, 0, 0);
    n += fragment(p + n, 1, 100, 11, 900, 100, 1, 3);
    send_raw(h, p, n), bad++;
    /* More half-made messages than a session keeps (each the first of 2). */
    wait_received(s, 8);
    for (int i = 0; i < 300; i++) {
        n = data_hdr(p, id, 1, seq++, 0, 0, 0);
        n += fragment(p + n, 2, 8, (uint16_t)(20 + i * 2), 16, 0, 0, 2);
        send_raw(h, p, n);
        if (i % 10 == 9)
            wait_received(s, 8 + (uint64_t)i + 1);
    }
    bad += 300 - 256;
    wait_counters(s, (uint64_t)bad, 0);
    CHECK(rt_stats(listener).datagrams_dropped >= listener_dropped + (uint64_t)bad); /* the listener counts them too */
    /* A proper message corrupted on the way (a payload byte, the header's
     * type, the trailer itself): dropped before it is read, counted. */
    net_rudp_stats before = rt_stats(listener);
    long flips[3] = {DATA_HDR + 8 + 1, 0, DATA_HDR + 8 + 4};
    for (int i = 0; i < 3; i++) {
        n = data_hdr(p, id, 1, seq, 0, 0, 0);
        n += chunk(p + n, 0x08, 3, "evil", 4, 0, 0);
        send_datagram(h, p, n, flips[i]);
    }
    uint64_t until = tl_now_ms() + TL_TIMEOUT_MS;
    while (rt_stats(listener).checksum_failures < before.checksum_failures + 3 && tl_now_ms() < until)
        tl_pump(2);
    net_rudp_stats after = rt_stats(listener);
    CHECK_EQ(after.checksum_failures, before.checksum_failures + 3);
    CHECK(after.datagrams_dropped >= before.datagrams_dropped + 3);
    CHECK_EQ(rt_stats(s).checksum_failures, 0); /* a listener's session: its socket counts them */
    /* None of it was delivered, and the session still takes a proper message: rsn 0. */
    CHECK_EQ(tl_pending(e, NET_EV_DATA, s), 0);
    n = data_hdr(p, id, 1, seq++, 0, 0, 0);
    n += chunk(p + n, 0x08, 3, "fine", 4, 0, 0);
    send_raw(h, p, n);
    TL_EXPECT(e, NET_EV_DATA, s, &ev);
    CHECK(ev.len == 4 && memcmp(ev.data, "fine", 4) == 0 && ev.parent == 3);
    /* Its ack says so: packet seq - 1 acknowledged. */
    uint64_t give_up = tl_now_ms() + TL_TIMEOUT_MS;
    int acked = 0;
    while (!acked && tl_now_ms() < give_up) {
        if (!tl_wait(e, NET_EV_DATAGRAM, h, &ev, 100))
            continue;
        const uint8_t *d = ev.data;
        if (ev.len >= DATA_HDR + 4 && crc_ok(&ev) && d[0] == 6 && (tl_get_le(d + 2, 2) & 2) &&
            tl_get_le(d + 10, 2) == (uint16_t)(seq - 1))
            acked = 1;
    }
    CHECK(acked);
    CHECK_OK(net_abort(s));
    TL_EXPECT(e, NET_EV_CLOSE, s, &ev);
    tl_discard(e);
    CHECK_EQ(tl_close_wait(e, h), 0);
}

int main(void)
{
    tl_init("rudp_hostile");
    e = tl_engine();
    net_rudp_config cfg;
    net_rudp_config_init(&cfg);
    cfg.channels = 4;
    cfg.max_message = 64u << 10;
    listen_at = rt_listen(e, &cfg, &listener);
    CHECK_OK(net_rudp_connect(e, "127.0.0.1", listen_at.port, &cfg, &client));
    net_event ev;
    TL_EXPECT(e, NET_EV_ACCEPT, 0, &ev);
    server = ev.handle;
    TL_EXPECT(e, NET_EV_CONNECT, client, &ev);
    CHECK_EQ(ev.status, 0);
    attacker = tl_udp(e, NULL, NULL, NULL);

    echo_round(40, 1000);
    garbage();
    echo_round(40, 2000);
    flood();
    echo_round(40, 3000);
    abuse();
    echo_round(40, 4000);

    CHECK_OK(net_close(client));
    TL_EXPECT(e, NET_EV_CLOSE, client, &ev);
    CHECK_EQ(ev.status, 0);
    TL_EXPECT(e, NET_EV_CLOSE, server, &ev);
    CHECK_EQ(ev.status, 0);
    CHECK_EQ(tl_close_wait(e, attacker), 0);
    CHECK_EQ(tl_close_wait(e, listener), 0);
    tl_engine_destroy(e);
    printf("ok\n");
    return 0;
}
