/* frame.h - length-prefixed message framing, pure: no sockets, no engine. */
#ifndef NET_FRAME_H
#define NET_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include "block.h"

typedef struct net_frame_cfg {
    uint8_t raw;    /* 1: no framing, chunks pass through */
    uint8_t header; /* 2 or 4 */
    uint8_t big_endian;
    uint8_t includes_header; /* the length counts the header too */
    uint32_t max_message;    /* largest payload accepted */
} net_frame_cfg;

/* framing is NET_FRAMING_*, flags NET_TCP_*. NET_E_INVAL for unknown framing. */
int net_frame_cfg_make(uint32_t framing, uint32_t flags, uint32_t max_message, net_frame_cfg *out);
/* Largest payload the header can describe (before max_message). */
uint64_t net_frame_header_limit(const net_frame_cfg *f);
void net_frame_put_header(const net_frame_cfg *f, uint32_t payload_len, uint8_t *out);
/* Payload length from a whole header, or NET_E_PROTO (length smaller than the
 * header it includes) or NET_E_MSGSIZE (over max_message). */
int net_frame_get_length(const net_frame_cfg *f, const uint8_t *header, uint32_t *payload_len);

/* Called for every whole message. owner is the block the bytes live in (the
 * input block, the decoder's assembly block, or NULL when the input was not
 * in a block); the sink takes its own reference if it keeps the bytes.
 * A non-zero return stops decoding and is returned by net_frame_feed. */
typedef int (*net_frame_sink)(void *ctx, const uint8_t *msg, uint32_t len, net_block *owner);

typedef struct net_frame_decoder {
    net_frame_cfg cfg;
    uint8_t header[4];
    uint32_t header_have;
    net_block *partial; /* message being assembled across reads */
    uint32_t partial_len;
    uint32_t partial_have;
} net_frame_decoder;

void net_frame_decoder_init(net_frame_decoder *d, const net_frame_cfg *cfg);
void net_frame_decoder_free(net_frame_decoder *d);
/* Bytes the decoder holds for an unfinished message. */
size_t net_frame_decoder_pending(const net_frame_decoder *d);
/* Feeds stream bytes (in: the block holding them, or NULL). Returns 0, the
 * sink's non-zero value, NET_E_PROTO, NET_E_MSGSIZE or NET_E_NOMEM. After an
 * error the decoder must not be fed again. */
int net_frame_feed(net_frame_decoder *d, const uint8_t *p, size_t n, net_block *in, net_frame_sink sink, void *ctx);

#endif
