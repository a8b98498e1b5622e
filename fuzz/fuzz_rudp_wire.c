/* fuzz_rudp_wire.c - libFuzzer target for the reliable-UDP wire format
 * (dll/rudp_wire.c), what a listener reads from anyone on the network.
 *
 * Input: 1 control byte, then the body.
 *   [0] % 3 == 0: the body is a datagram. Its CRC32C trailer checks
 *       exactly when its last 4 bytes are the CRC32C of the rest, and then
 *       a datagram with any one byte changed does not. Any header, DATA header or
 *       chunk the decoder accepts must encode back to exactly the bytes it
 *       was read from, lie inside the datagram, and be consistent (a
 *       fragment: index < count, offset + len <= total, reliable).
 *   [0] % 3 == 1: the body is a series of 16-bit packet numbers recorded
 *       in an acknowledgement state; after each one the state must agree
 *       with an independent record of every number seen: the newest is
 *       `ack`, a number is covered iff it was seen and is within 64 of it,
 *       and rudp_ack_record said "new" exactly for numbers not seen before
 *       (or -1 for one too old to tell).
 *   [0] % 3 == 2: the body gives a key, an address, a client id and a time
 *       bucket; the cookie made from them checks, and fails once any bit of
 *       it (chosen by the body) flips or the bucket is two later.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rudp_wire.h"

#define FUZZ_ASSERT(c)                                                                                                 \
    do {                                                                                                               \
        if (!(c)) {                                                                                                    \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c);                                  \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

static void trailer(const uint8_t *d, size_t len)
{
    ptrdiff_t body = rudp_check_crc(d, len);
    int matches = len >= RUDP_CRC_SIZE && rudp_crc32c(d, len - RUDP_CRC_SIZE) == rudp_get32(d + len - RUDP_CRC_SIZE);
    FUZZ_ASSERT(body == (matches ? (ptrdiff_t)(len - RUDP_CRC_SIZE) : -1));
    if (!matches || len > 65536)
        return;
    static uint8_t copy[65536];
    memcpy(copy, d, len);
    copy[len / 2] ^= 0x5A; /* one byte: a CRC catches every error in up to 32 bits */
    FUZZ_ASSERT(rudp_check_crc(copy, len) == -1);
}

static void datagram(const uint8_t *d, size_t len)
{
    uint8_t out[65536 + 64];
    trailer(d, len);
    rudp_hdr h;
    if (rudp_get_hdr(d, len, &h) == 0) {
        rudp_put_hdr(out, &h);
        FUZZ_ASSERT(memcmp(out, d, RUDP_HDR_SIZE) == 0);
    }
    rudp_data_hdr dh;
    if (rudp_get_data_hdr(d, len, &dh) != 0)
        return;
    rudp_put_data_hdr(out, &dh);
    FUZZ_ASSERT(memcmp(out, d, RUDP_DATA_HDR_SIZE) == 0);
    const uint8_t *p = d + RUDP_DATA_HDR_SIZE, *end = d + len;
    rudp_chunk c;
    int r;
    while (1) {
        const uint8_t *at = p;
        r = rudp_next_chunk(&p, end, &c);
        if (r != 1)
            break;
        FUZZ_ASSERT(p > at && p <= end);
        FUZZ_ASSERT(c.data >= at && c.data + c.len == p);
        FUZZ_ASSERT((size_t)(p - at) == rudp_chunk_size(&c));
        if (c.flags & RUDP_C_FRAG) {
            FUZZ_ASSERT(c.count >= 2 && c.index < c.count);
            FUZZ_ASSERT(c.offset <= c.total && c.len <= c.total - c.offset);
            FUZZ_ASSERT(c.flags & RUDP_C_RELIABLE);
        } else {
            FUZZ_ASSERT(c.count == 1 && c.total == c.len);
        }
        size_t n = rudp_put_chunk(out, &c);
        FUZZ_ASSERT(n == (size_t)(p - at) && memcmp(out, at, n) == 0);
    }
    FUZZ_ASSERT(r == 0 || r == -1);
    FUZZ_ASSERT(r != 0 || p == end);
}

static uint8_t seen[65536 / 8];

static int was_seen(uint16_t q)
{
    return (seen[q / 8] >> (q % 8)) & 1;
}

static void acks(const uint8_t *d, size_t len)
{
    memset(seen, 0, sizeof seen);
    rudp_ackstate s;
    memset(&s, 0, sizeof s);
    uint16_t newest = 0;
    int any = 0;
    for (size_t i = 0; i + 2 <= len; i += 2) {
        /* Mostly small steps around the newest, so windows and wraps are exercised. */
        uint16_t q = (d[i] & 0x80) ? (uint16_t)(newest + (int8_t)d[i + 1]) : (uint16_t)(d[i] << 8 | d[i + 1]);
        int too_old = any && !rudp_seq_after(q, newest) && (uint16_t)(newest - q) > RUDP_ACK_BITS;
        int fresh = !was_seen(q);
        int r = rudp_ack_record(&s, q);
        if (too_old) {
            FUZZ_ASSERT(r == -1);
            continue; /* not recorded: the sender sends its contents again */
        }
        FUZZ_ASSERT(r == (fresh ? 1 : 0));
        /* A jump forward forgets what falls out of the window. */
        if (!any || rudp_seq_after(q, newest)) {
            /* What leaves the window: the oldest `shift` of it (all of it at most). */
            uint16_t shift = any ? (uint16_t)(q - newest) : 0;
            for (uint32_t k = 0; k < shift && k <= RUDP_ACK_BITS; k++) {
                uint16_t gone = (uint16_t)(newest - RUDP_ACK_BITS + k);
                seen[gone / 8] &= (uint8_t) ~(1u << (gone % 8));
            }
            newest = q;
        }
        any = 1;
        seen[q / 8] |= (uint8_t)(1u << (q % 8));
        FUZZ_ASSERT(s.any && s.ack == newest);
        for (uint16_t back = 0; back <= RUDP_ACK_BITS; back++) {
            uint16_t k = (uint16_t)(newest - back);
            FUZZ_ASSERT(rudp_ack_covers(s.ack, s.bits, k) == was_seen(k));
        }
        FUZZ_ASSERT(!rudp_ack_covers(s.ack, s.bits, (uint16_t)(newest + 1)));
    }
}

static void cookie(const uint8_t *d, size_t len)
{
    if (len < 16 + 20 + 4 + 4 + 1)
        return;
    uint8_t key[16], ck[RUDP_COOKIE_SIZE];
    memcpy(key, d, 16);
    net_addr a;
    memset(&a, 0, sizeof a);
    a.family = (d[16] & 1) ? NET_AF_INET6 : NET_AF_INET;
    a.port = rudp_get16(d + 17);
    memcpy(a.ip, d + 19, 16);
    uint32_t client = rudp_get32(d + 36), bucket = rudp_get32(d + 40);
    rudp_cookie_make(key, &a, client, bucket, ck);
    FUZZ_ASSERT(rudp_cookie_check(key, &a, client, bucket, ck) == 0);
    FUZZ_ASSERT(rudp_cookie_check(key, &a, client, bucket + 1, ck) == 0);
    FUZZ_ASSERT(rudp_cookie_check(key, &a, client, bucket + 2, ck) != 0);
    unsigned bit = d[44] % (RUDP_COOKIE_SIZE * 8);
    ck[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    FUZZ_ASSERT(rudp_cookie_check(key, &a, client, bucket, ck) != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    switch (data[0] % 3) {
    case 0:
        datagram(data + 1, size - 1);
        break;
    case 1:
        acks(data + 1, size - 1);
        break;
    default:
        cookie(data + 1, size - 1);
    }
    return 0;
}
