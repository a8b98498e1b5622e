/* rudp_wire: the reliable-UDP wire format without sockets. Headers and
 * chunks survive encode/decode; every truncation, an unknown flag and a
 * fragment header that lies are refused; SipHash-2-4 gives the reference
 * vectors; a cookie is accepted only for the peer address, port, client id
 * and time buckets it was made for, and not once a bit of it changes; the
 * acknowledgement record keeps the newest packet and the 64 before it
 * across the 16-bit wrap. */
#include "rudp_wire.h"
#include "unit.h"

static void test_headers(void)
{
    uint8_t p[RUDP_DATA_HDR_SIZE];
    rudp_data_hdr d = {{RUDP_DATA, RUDP_VERSION, RUDP_F_NUMBERED | RUDP_F_ACK, 0xDEADBEEF},
                       0xFFFE,
                       0x0102,
                       0x8000000000000001ull,
                       123456};
    rudp_put_data_hdr(p, &d);
    CHECK_EQ(p[0], RUDP_DATA);
    CHECK_EQ(p[4], 0xEF); /* little-endian */
    rudp_data_hdr back;
    REQUIRE(rudp_get_data_hdr(p, sizeof p, &back) == 0);
    CHECK_EQ(back.h.id, 0xDEADBEEF);
    CHECK_EQ(back.seq, 0xFFFE);
    CHECK_EQ(back.ack, 0x0102);
    CHECK(back.ack_bits == 0x8000000000000001ull);
    CHECK_EQ(back.window, 123456);
    for (size_t n = 0; n < sizeof p; n++)
        CHECK(rudp_get_data_hdr(p, n, &back) != 0);
    p[2] |= 0x80; /* a flag version 1 does not know */
    CHECK(rudp_get_data_hdr(p, sizeof p, &back) != 0);
    p[2] &= 0x7F;
    p[1] = RUDP_VERSION + 1;
    rudp_hdr h;
    CHECK(rudp_get_hdr(p, sizeof p, &h) != 0);
    p[1] = RUDP_VERSION;
    p[0] = RUDP_CLOSE;
    CHECK(rudp_get_data_hdr(p, sizeof p, &back) != 0); /* not a DATA packet */
    CHECK(rudp_get_hdr(p, sizeof p, &h) == 0 && h.type == RUDP_CLOSE);
}

static void test_chunks(void)
{
    uint8_t body[300], buf[600];
    for (int i = 0; i < 300; i++)
        body[i] = (uint8_t)(i * 7);
    rudp_chunk a = {RUDP_C_RELIABLE | NET_RUDP_RELIABLE_ORDERED, 5, 100, 0xFFFF, 7, 0, 0, 0, 0, body};
    rudp_chunk b = {RUDP_C_RELIABLE | RUDP_C_FRAG | NET_RUDP_UNRELIABLE, 1, 200, 3, 0, 1000, 800, 4, 5, body + 100};
    size_t n = rudp_put_chunk(buf, &a);
    CHECK_EQ(n, RUDP_CHUNK_HDR_SIZE + 100);
    CHECK_EQ(n, rudp_chunk_size(&a));
    n += rudp_put_chunk(buf + n, &b);
    CHECK_EQ(n, 2 * RUDP_CHUNK_HDR_SIZE + RUDP_FRAG_HDR_SIZE + 300);
    const uint8_t *p = buf, *end = buf + n;
    rudp_chunk c;
    REQUIRE(rudp_next_chunk(&p, end, &c) == 1);
    CHECK(c.flags == a.flags && c.channel == 5 && c.len == 100 && c.rsn == 0xFFFF && c.cseq == 7);
    CHECK(c.count == 1 && c.total == 100 && memcmp(c.data, body, 100) == 0);
    REQUIRE(rudp_next_chunk(&p, end, &c) == 1);
    CHECK(c.total == 1000 && c.offset == 800 && c.index == 4 && c.count == 5 && c.len == 200);
    CHECK(memcmp(c.data, body + 100, 200) == 0);
    CHECK_EQ(rudp_next_chunk(&p, end, &c), 0);
    /* Every truncation inside a chunk is refused, never read past. */
    for (size_t cut = 1; cut < n; cut++) {
        if (cut == rudp_chunk_size(&a))
            continue; /* a whole first chunk: well-formed */
        uint8_t *copy = malloc(cut);
        memcpy(copy, buf, cut);
        const uint8_t *q = copy;
        int r;
        while ((r = rudp_next_chunk(&q, copy + cut, &c)) == 1)
            ;
        CHECK_EQ(r, -1);
        free(copy);
    }
}

/* Fragment headers that lie about themselves. */
static void test_fragment_lies(void)
{
    uint8_t buf[64], body[16] = {0};
    struct {
        uint32_t total, offset;
        uint16_t index, count;
        uint8_t flags;
    } lies[] = {
        {100, 0, 5, 5, RUDP_C_RELIABLE | RUDP_C_FRAG},  /* index >= count */
        {100, 0, 0, 1, RUDP_C_RELIABLE | RUDP_C_FRAG},  /* a fragment of one */
        {100, 90, 0, 2, RUDP_C_RELIABLE | RUDP_C_FRAG}, /* offset + len > total */
        {8, 0, 0, 2, RUDP_C_RELIABLE | RUDP_C_FRAG},    /* len > total */
        {100, 0, 0, 2, RUDP_C_FRAG},                    /* an unreliable fragment */
        {100, 0, 0, 2, RUDP_C_RELIABLE | 0x10},         /* an unknown flag */
    };
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        rudp_chunk c = {lies[i].flags, 0, 16, 1, 0, lies[i].total, lies[i].offset, lies[i].index, lies[i].count, body};
        size_t n = rudp_put_chunk(buf, &c);
        const uint8_t *p = buf;
        rudp_chunk out;
        CHECK_EQ(rudp_next_chunk(&p, buf + n, &out), -1);
    }
}

/* The reference implementation's test vectors (key 00..0f, message 00..len-1). */
/* RFC 3720 B.4's CRC32C vectors and the usual check value ("123456789");
 * every length 0..64 against the byte-at-a-time definition, so the
 * eight-byte steps and the tail agree; a datagram's trailer checks and any
 * flipped bit fails it. */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t len)
{
    uint32_t c = 0xFFFFFFFFu;
    while (len--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

static void test_crc32c(void)
{
    uint8_t b[80];
    memset(b, 0, 32);
    CHECK_EQ(rudp_crc32c(b, 32), 0x8A9136AAu);
    memset(b, 0xFF, 32);
    CHECK_EQ(rudp_crc32c(b, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    CHECK_EQ(rudp_crc32c(b, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    CHECK_EQ(rudp_crc32c(b, 32), 0x113FDB5Cu);
    CHECK_EQ(rudp_crc32c("123456789", 9), 0xE3069283u);
    CHECK_EQ(rudp_crc32c(b, 0), 0);
    for (int i = 0; i < 64; i++)
        b[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len <= 64; len++)
        CHECK_EQ(rudp_crc32c(b, len), crc32c_bitwise(b, len));
    /* A datagram: 40 bytes and their trailer. */
    rudp_put32(b + 40, rudp_crc32c(b, 40));
    CHECK_EQ(rudp_check_crc(b, 44), 40);
    CHECK_EQ(rudp_check_crc(b, 3), -1);
    CHECK_EQ(rudp_check_crc(b, 43), -1);
    for (int bit = 0; bit < 44 * 8; bit += 7) {
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK_EQ(rudp_check_crc(b, 44), -1);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}

static void test_siphash(void)
{
    uint8_t key[16], msg[64];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    CHECK(rudp_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ull);
    CHECK(rudp_siphash(key, msg, 1) == 0x74f839c593dc67fdull);
    CHECK(rudp_siphash(key, msg, 8) == 0x93f5f5799a932462ull);
    CHECK(rudp_siphash(key, msg, 15) == 0xa129ca6149be45e5ull);
    CHECK(rudp_siphash(key, msg, 63) == 0x958a324ceb064572ull);
}

static void test_cookie(void)
{
    uint8_t key[16] = {1, 2, 3}, other_key[16] = {1, 2, 4}, ck[RUDP_COOKIE_SIZE];
    net_addr a;
    memset(&a, 0, sizeof a);
    a.family = NET_AF_INET;
    a.port = 4000;
    a.ip[0] = 127;
    a.ip[3] = 1;
    rudp_cookie_make(key, &a, 77, 1000, ck);
    CHECK(rudp_cookie_check(key, &a, 77, 1000, ck) == 0);
    CHECK(rudp_cookie_check(key, &a, 77, 1001, ck) == 0); /* the bucket after: still good */
    CHECK(rudp_cookie_check(key, &a, 77, 1002, ck) != 0); /* stale */
    CHECK(rudp_cookie_check(key, &a, 77, 999, ck) != 0);  /* from the future */
    CHECK(rudp_cookie_check(key, &a, 78, 1000, ck) != 0); /* another client id */
    CHECK(rudp_cookie_check(other_key, &a, 77, 1000, ck) != 0);
    net_addr b = a;
    b.port = 4001;
    CHECK(rudp_cookie_check(key, &b, 77, 1000, ck) != 0);
    b = a;
    b.ip[3] = 2;
    CHECK(rudp_cookie_check(key, &b, 77, 1000, ck) != 0);
    b = a;
    b.ip[10] = 9; /* bytes an IPv4 address does not have: ignored */
    CHECK(rudp_cookie_check(key, &b, 77, 1000, ck) == 0);
    for (int bit = 0; bit < RUDP_COOKIE_SIZE * 8; bit++) {
        ck[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK(rudp_cookie_check(key, &a, 77, 1000, ck) != 0);
        ck[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}

static void test_acks(void)
{
    rudp_ackstate s;
    memset(&s, 0, sizeof s);
    CHECK_EQ(rudp_ack_record(&s, 65530), 1);
    CHECK_EQ(rudp_ack_record(&s, 65530), 0); /* a copy */
    /* Across the wrap: 65531 .. 65535, 0 .. 9 */
    for (uint16_t q = 65531; q != 10; q++)
        CHECK_EQ(rudp_ack_record(&s, q), 1);
    CHECK_EQ(s.ack, 9);
    for (uint16_t q = 65530; q != 10; q++)
        CHECK(rudp_ack_covers(s.ack, s.bits, q));
    CHECK(!rudp_ack_covers(s.ack, s.bits, 10));
    CHECK(!rudp_ack_covers(s.ack, s.bits, 65529));
    /* A gap, then the missing one late. */
    CHECK_EQ(rudp_ack_record(&s, 12), 1);
    CHECK(!rudp_ack_covers(s.ack, s.bits, 11));
    CHECK_EQ(rudp_ack_record(&s, 11), 1);
    CHECK(rudp_ack_covers(s.ack, s.bits, 11));
    /* 64 back is remembered, 65 back is too old to tell. */
    CHECK_EQ(rudp_ack_record(&s, 12 + 64), 1);
    CHECK(rudp_ack_covers(s.ack, s.bits, 12));
    CHECK_EQ(rudp_ack_record(&s, 12), 0);
    CHECK_EQ(rudp_ack_record(&s, 11), -1);
    /* A jump of more than 64 forgets everything before. */
    CHECK_EQ(rudp_ack_record(&s, 12 + 64 + 100), 1);
    CHECK(s.bits == 0);
    CHECK(rudp_seq_after(0, 65535) && !rudp_seq_after(65535, 0) && !rudp_seq_after(5, 5));
}

int main(void)
{
    test_headers();
    test_chunks();
    test_fragment_lies();
    test_crc32c();
    test_siphash();
    test_cookie();
    test_acks();
    if (unit_failures) {
        fprintf(stderr, "rudp_wire: %d failures\n", unit_failures);
        return 1;
    }
    printf("rudp_wire: ok\n");
    return 0;
}
