/*
 * rudp_wire.h - the reliable-UDP wire format (docs/rudp-protocol.md), as
 * pure functions: no socket, no session, no allocation. Every multi-byte
 * field is little-endian. Decoders take untrusted bytes and say only
 * "well-formed or not"; what a well-formed packet means is the session's.
 */
#ifndef NET_RUDP_WIRE_H
#define NET_RUDP_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include "net.h"

#define RUDP_VERSION 1

/* Packet types (byte 0). */
enum {
    RUDP_HELLO = 1,     /* client -> server: asks for a cookie; padded to RUDP_HELLO_SIZE */
    RUDP_CHALLENGE = 2, /* server -> client: the cookie */
    RUDP_RESPONSE = 3,  /* client -> server: the cookie echoed, and the client's parameters */
    RUDP_WELCOME = 4,   /* server -> client: the session exists; the server's id and parameters */
    RUDP_REFUSE = 5,    /* server -> client: no session (listener full) */
    RUDP_DATA = 6,      /* either way: acks, and message chunks when numbered */
    RUDP_CLOSE = 7,     /* either way: the session ends (reason) */
    RUDP_CLOSE_ACK = 8  /* either way: a CLOSE was received */
};

#define RUDP_HDR_SIZE 8     /* type u8, version u8, flags u16, session id u32 */
#define RUDP_HELLO_SIZE 64  /* a HELLO is at least this long: no reply is larger */
#define RUDP_COOKIE_SIZE 16 /* time bucket u32, client id u32, MAC u64 */
#define RUDP_CHALLENGE_SIZE (RUDP_HDR_SIZE + RUDP_COOKIE_SIZE)
#define RUDP_PARAMS_SIZE 8 /* mtu u16, channels u16, window u32 */
#define RUDP_RESPONSE_SIZE (RUDP_HDR_SIZE + RUDP_COOKIE_SIZE + RUDP_PARAMS_SIZE)
#define RUDP_WELCOME_SIZE (RUDP_HDR_SIZE + 4 + RUDP_PARAMS_SIZE)
#define RUDP_REASON_SIZE (RUDP_HDR_SIZE + 4) /* REFUSE: a reason u32 */
#define RUDP_CLOSE_SIZE (RUDP_HDR_SIZE + 8)  /* CLOSE: a reason u32, the sender's own id u32 */
#define RUDP_DATA_HDR_SIZE 24                /* header, seq u16, ack u16, ack bits u64, window u32 */
#define RUDP_CHUNK_HDR_SIZE 8                /* flags u8, channel u8, len u16, rsn u16, cseq u16 */
#define RUDP_FRAG_HDR_SIZE 12                /* total u32, offset u32, index u16, count u16 */
#define RUDP_ACK_BITS 64                     /* packets before `ack` a DATA header can acknowledge */
#define RUDP_CRC_SIZE 4                      /* every datagram ends with the CRC32C of what precedes it */

/* DATA header flags. */
enum {
    RUDP_F_NUMBERED = 1u << 0, /* seq is valid: the packet is acknowledged and counted in flight */
    RUDP_F_ACK = 1u << 1       /* ack and ack bits are valid */
};

/* Chunk flags: the mode in bits 0-1. */
enum {
    RUDP_C_MODE_MASK = 3u,
    RUDP_C_FRAG = 1u << 2,     /* a fragment header follows the chunk header */
    RUDP_C_RELIABLE = 1u << 3, /* rsn is a reliable sequence number (else an unreliable id) */
    RUDP_C_KNOWN = 0x0Fu       /* bits a version 1 peer may set */
};

/* CLOSE reasons. */
enum { RUDP_CLOSE_GRACEFUL = 0, RUDP_CLOSE_ABORT = 1, RUDP_CLOSE_PROTO = 2 };

typedef struct rudp_hdr {
    uint8_t type;
    uint8_t version;
    uint16_t flags;
    uint32_t id; /* the receiver's session id (the client's own id before WELCOME) */
} rudp_hdr;

typedef struct rudp_data_hdr {
    rudp_hdr h;
    uint16_t seq;
    uint16_t ack;
    uint64_t ack_bits; /* bit i: packet ack - 1 - i was received */
    uint32_t window;   /* bytes the sender of this packet can take now */
} rudp_data_hdr;

typedef struct rudp_params {
    uint16_t mtu;
    uint16_t channels;
    uint32_t window;
} rudp_params;

/* One message chunk: a whole message, or a fragment of one. */
typedef struct rudp_chunk {
    uint8_t flags;
    uint8_t channel;
    uint16_t len;
    uint16_t rsn;
    uint16_t cseq; /* per-channel sequence (ordered, sequenced modes) */
    uint32_t total, offset;
    uint16_t index, count;
    const uint8_t *data;
} rudp_chunk;

/* ---- little-endian fields ---- */
static inline void rudp_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void rudp_put32(uint8_t *p, uint32_t v)
{
    rudp_put16(p, (uint16_t)v);
    rudp_put16(p + 2, (uint16_t)(v >> 16));
}
static inline void rudp_put64(uint8_t *p, uint64_t v)
{
    rudp_put32(p, (uint32_t)v);
    rudp_put32(p + 4, (uint32_t)(v >> 32));
}
static inline uint16_t rudp_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t rudp_get32(const uint8_t *p)
{
    return (uint32_t)rudp_get16(p) | ((uint32_t)rudp_get16(p + 2) << 16);
}
static inline uint64_t rudp_get64(const uint8_t *p)
{
    return (uint64_t)rudp_get32(p) | ((uint64_t)rudp_get32(p + 4) << 32);
}

/* ---- 16-bit sequence numbers, wrapping ---- */
/* a comes after b (serial number arithmetic, RFC 1982): within half the space ahead. */
static inline int rudp_seq_after(uint16_t a, uint16_t b)
{
    return (int16_t)(uint16_t)(a - b) > 0;
}

/* ---- integrity ---- */
/* CRC32C (Castagnoli) of data, as RFC 3720 defines it (rudp_crc32c.c). */
uint32_t rudp_crc32c(const void *data, size_t len);
/* The datagram p[0..len) minus its CRC32C trailer when the trailer matches:
 * the body's length, else -1 (too short for one, or corrupted). */
static inline ptrdiff_t rudp_check_crc(const uint8_t *p, size_t len)
{
    if (len < RUDP_CRC_SIZE)
        return -1;
    size_t body = len - RUDP_CRC_SIZE;
    return rudp_crc32c(p, body) == rudp_get32(p + body) ? (ptrdiff_t)body : -1;
}

/* ---- headers ---- */
void rudp_put_hdr(uint8_t *p, const rudp_hdr *h);
/* 0 when p[0..len) starts with a header of this version, else -1. */
int rudp_get_hdr(const uint8_t *p, size_t len, rudp_hdr *h);
void rudp_put_data_hdr(uint8_t *p, const rudp_data_hdr *d);
/* 0 when p[0..len) is a DATA packet's header (no unknown flag), else -1. */
int rudp_get_data_hdr(const uint8_t *p, size_t len, rudp_data_hdr *d);

/* ---- chunks ---- */
/* Bytes chunk c takes on the wire, header and payload. */
static inline size_t rudp_chunk_size(const rudp_chunk *c)
{
    return RUDP_CHUNK_HDR_SIZE + ((c->flags & RUDP_C_FRAG) ? RUDP_FRAG_HDR_SIZE : 0) + c->len;
}
/* Writes c (its header, then len bytes from c->data); returns its size. */
size_t rudp_put_chunk(uint8_t *p, const rudp_chunk *c);
/* Reads the chunk at *p, not past end: 1 and *p moved past it, 0 at end,
 * -1 when malformed (truncated, unknown flag, a fragment header that lies:
 * index >= count, count < 2, offset + len > total). */
int rudp_next_chunk(const uint8_t **p, const uint8_t *end, rudp_chunk *c);

/* ---- handshake ---- */
void rudp_put_params(uint8_t *p, const rudp_params *pr);
void rudp_get_params(const uint8_t *p, rudp_params *pr);

/* SipHash-2-4 of data under a 16-byte key. */
uint64_t rudp_siphash(const uint8_t key[16], const void *data, size_t len);

/* The cookie a server hands the peer at addr asking for client_id during
 * time bucket `bucket`: bucket, client_id and a MAC over (peer address,
 * port, client id, bucket) under the server's secret key. */
void rudp_cookie_make(const uint8_t key[16], const net_addr *peer, uint32_t client_id, uint32_t bucket,
                      uint8_t out[RUDP_COOKIE_SIZE]);
/* 0 when cookie is one rudp_cookie_make gave this peer and client_id in
 * bucket `now_bucket` or the one before; else -1. */
int rudp_cookie_check(const uint8_t key[16], const net_addr *peer, uint32_t client_id, uint32_t now_bucket,
                      const uint8_t cookie[RUDP_COOKIE_SIZE]);

/* ---- acknowledgements ---- */
/* The receiver's record of numbered packets: the newest seq and the 64
 * before it. */
typedef struct rudp_ackstate {
    uint16_t ack;
    uint64_t bits;
    int any; /* a numbered packet arrived */
} rudp_ackstate;

/* Records the arrival of packet seq: 1 when new, 0 when a duplicate, -1
 * when too old to tell (more than RUDP_ACK_BITS before the newest). */
int rudp_ack_record(rudp_ackstate *a, uint16_t seq);
/* Whether an ack (ack, bits) says packet seq arrived. */
int rudp_ack_covers(uint16_t ack, uint64_t bits, uint16_t seq);

#endif
