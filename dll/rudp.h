/*
 * rudp.h - reliable UDP sessions inside the engine: what the rudp_*.c
 * files share. docs/rudp-protocol.md is the wire format; rudp_wire.h its
 * encoding.
 *
 * Objects:
 * - an endpoint is a net_udp (udp.c sends and receives for it) with an
 *   rudp_endpoint attached: a listener's is the listener handle itself
 *   (handle type NET__T_RUDP_LISTENER); a client's is private to its one
 *   session (NET__T_RUDP_SOCKET, never handed out);
 * - a session (kind OBJ_RUDP, handle NET__T_RUDP) has no socket: it lives
 *   on its endpoint's loop and sends through it.
 *
 * Threads: the script's calls (net_rudp_send, net_close...) touch a
 * session only under its slot lock - its state, its queue of messages
 * not yet taken by the loop, its water marks - and hand work to the loop
 * with net__loop_schedule, as TCP connections do. Everything protocol
 * (sequence numbers, acks, timers, reassembly) is the loop thread's alone.
 * Statistics are atomics the loop writes and anyone reads.
 */
#ifndef NET_RUDP_H
#define NET_RUDP_H

#include "core.h"
#include "rudp_wire.h"

#define RUDP_MSG_OVERHEAD 16 /* charged per message against send_cap: empty messages are not free */
#define RUDP_PKT_RING 256    /* numbered packets in flight per session, at most */
#define RUDP_REL_MAX 4096    /* reliable pieces in flight per session, at most (a power of two) */
#define RUDP_REL_MIN 64      /* what a session's ring of them starts with */
#define RUDP_LOG_MAX 16384   /* pieces the packets in flight carry, at most (a power of two) */
#define RUDP_LOG_MIN 256
#define RUDP_RETX_MIN 64
#define RUDP_REORDER_MIN_US 1000 /* RACK's reordering allowance, at least (the loop's clock is in ms) */
#define RUDP_PROBE_MIN_US 2000   /* a tail-loss probe waits 2 SRTT and at least this */
#define RUDP_PROBE_MAX_US 100000 /* unanswered probes back off, to at most this apart ... */
#define RUDP_PROBE_FAST 16       /* ... for this many; then on, up to rto_max_ms */
#define RUDP_HANDSHAKE_RESEND_MS 200
#define RUDP_INITIAL_RTO_MS 500

_Static_assert((int)OBJ_RUDP == (int)NET__T_RUDP, "a session's kind is its handle type");

enum { RS_CONNECTING = 1, RS_OPEN, RS_CLOSING, RS_CLOSED };

/* Statistic counters: the loop writes (net__count), anyone reads. */
enum {
    ST_PACKETS_SENT,
    ST_PACKETS_RECEIVED,
    ST_RETRANSMITS,
    ST_PACKETS_LOST,
    ST_DUPLICATES,
    ST_MESSAGES_SENT,
    ST_MESSAGES_RECEIVED,
    ST_BYTES_SENT,
    ST_BYTES_RECEIVED,
    ST_DROPPED,
    ST_CHECKSUM, /* datagrams whose CRC32C did not match (also in ST_DROPPED) */
    ST_COUNT
};

/* A message the script queued. */
typedef struct rudp_msg {
    struct rudp_msg *next;
    uint32_t len;
    uint8_t channel, mode;
    uint16_t cseq;        /* loop: the channel sequence it was given */
    uint32_t pieces_left; /* loop: reliable pieces not yet acknowledged */
    uint32_t charge;      /* what it counts against send_cap */
    uint8_t all_sent;     /* loop: every piece handed out */
    uint8_t cseq_given;   /* loop: cseq is set */
    uint8_t data[];
} rudp_msg;

/* One reliable piece (a whole message or a fragment) until acknowledged. */
typedef struct rudp_piece {
    rudp_msg *msg;
    uint32_t offset;
    uint16_t len, index, count;
    uint16_t last_seq; /* the packet it went out in last */
    uint8_t live;      /* sent, not acknowledged */
    uint8_t retx;      /* waiting in the retransmit queue */
} rudp_piece;

/* A numbered packet sent. */
typedef struct rudp_sent {
    uint64_t sent_us;
    uint32_t bytes;
    uint32_t log_start; /* its pieces: log[log_start .. + log_count) */
    uint16_t log_count;
    uint16_t seq;
    uint8_t in_flight;
    uint8_t data_bytes_hi; /* unused */
    uint32_t data_bytes;   /* chunk payload bytes, against the peer's window */
} rudp_sent;

/* A message held for the script: waiting for its turn on an ordered
 * channel, or being reassembled. */
typedef struct rudp_held {
    struct rudp_held *next;
    uint32_t first_rsn; /* reassembly: the rsn of fragment 0 */
    uint32_t total, have_bytes, cap;
    uint16_t count, have;
    uint16_t cseq;
    uint8_t channel, mode;
    uint8_t *data;
} rudp_held;

typedef struct rudp_endpoint rudp_endpoint;

typedef struct net_rudp_session {
    net_obj o;
    /* ---- under the slot lock ---- */
    int state;
    int close_requested, abort_requested;
    rudp_msg *in_head, *in_tail; /* queued by the script, not yet taken by the loop */
    uint64_t queued;             /* charges of messages not done (send_cap) */
    uint32_t send_cap, highwater, lowwater;
    int above_highwater, water_queued;
    uint32_t channels; /* what net_rudp_send accepts: the config's, then the negotiated count */
    net_addr peer;
    int flush_scheduled;

    /* ---- loop thread only ---- */
    rudp_endpoint *ep;
    net_timer timer; /* in the loop's rudp_timers heap */
    int finished;
    uint32_t my_id, peer_id;
    uint32_t mtu, max_message, recv_window, peer_window;
    uint32_t nchannels; /* negotiated: the smaller of the two ends' */
    uint64_t started, last_recv, last_send, close_deadline, next_resend;
    uint32_t resend_ms;
    uint8_t cookie[RUDP_COOKIE_SIZE];
    int have_cookie, close_sent, welcomed;
    /* sending */
    rudp_msg *out_head, *out_tail; /* taken from the script, not yet all sent */
    uint32_t out_offset;           /* of out_head: where its next piece starts */
    uint16_t out_index;
    uint16_t next_seq, una_seq; /* packets: next to number, oldest in flight */
    uint32_t in_flight_packets;
    rudp_sent *sent; /* RUDP_PKT_RING, by seq */
    uint32_t *log;   /* rsns of the pieces of the packets in flight */
    uint32_t log_cap, log_head, log_used;
    rudp_piece *rel; /* by rsn, rel_cap entries */
    uint32_t rel_cap, rsn_base, rsn_next;
    uint32_t *retx; /* a FIFO of rsns to send again */
    uint32_t retx_cap, retx_head, retx_count;
    uint16_t *ord_seq, *sq_seq; /* per channel: next cseq to give */
    uint16_t unrel_id;
    uint64_t bytes_in_flight, data_in_flight;
    uint64_t cwnd, ssthresh;
    uint16_t recovery_seq;
    int in_recovery;
    uint64_t srtt_us, rttvar_us;
    uint32_t rto_ms, backoff;
    uint16_t rack_ack; /* the newest packet the peer said it has (RACK's reference) */
    int rack_valid;
    uint32_t probes;   /* tail-loss probes sent since something new was last acknowledged */
    int probe_pending; /* a probe is due: the next numbered packet goes out whatever the window */
    int ack_pending;
    /* receiving */
    rudp_ackstate acks;
    uint32_t rcv_rsn_base;
    uint64_t rcv_rsn_bits[RUDP_REL_MAX / 64];
    uint16_t rcv_unrel_max;
    uint64_t rcv_unrel_bits;
    int rcv_unrel_any;
    uint16_t *rcv_ord_next, *rcv_sq_last;
    uint64_t rcv_sq_any; /* channels whose sequenced stream delivered something */
    rudp_held *held_ordered, *assembling;
    uint64_t held_bytes;

    /* ---- shared through atomics ---- */
    atomic_uint_least64_t unpolled; /* DATA bytes queued for the script */
    atomic_int window_starved;      /* we told the peer our window is low */
    atomic_uint_least64_t st[ST_COUNT];
    atomic_uint_least64_t st_rtt_us, st_rttvar_us, st_rto_ms, st_cwnd, st_in_flight, st_peer_window;
} net_rudp_session;

_Static_assert(offsetof(net_rudp_session, o) == 0, "a session begins with its net_obj");

/* The reliable-UDP side of a net_udp. */
struct rudp_endpoint {
    net_udp *u;
    int listener;        /* 1: demultiplexes sessions; 0: a client's own socket */
    int close_requested; /* under the socket's slot lock: net_close or net_abort was called */
    int closing;         /* loop: closing its sessions, then the socket */
    int close_graceful;
    net_rudp_config cfg;
    uint8_t secret[16]; /* listener: the cookie key */
    uint8_t id_key[16]; /* listener: derives session ids */
    uint8_t *pkt;       /* cfg.mtu bytes: the packet being built */
    /* listener: sessions by id, open addressing */
    net_rudp_session **table;
    uint32_t table_cap, count;
    net_rudp_session *client; /* client: its session */
    atomic_uint_least64_t st[ST_COUNT];
    atomic_uint_least64_t sessions, handshakes, cookies_rejected, refused;
};

/* rudp_api.c */
void net__rudp_random(void *out, size_t len);

/* rudp_endpoint.c: the socket side */
rudp_endpoint *net__rudp_endpoint_new(const net_rudp_config *cfg, int listener);
void net__rudp_endpoint_free(rudp_endpoint *ep);
/* Sends len bytes of ep->pkt (or p) to the session's peer (loop thread). */
void net__rudp_transmit(rudp_endpoint *ep, const net_addr *to, const uint8_t *p, size_t len);
void net__rudp_table_remove(rudp_endpoint *ep, net_rudp_session *s);
/* A session finished: a client's socket closes, a closing listener may too. */
void net__rudp_endpoint_session_gone(net_loop *loop, rudp_endpoint *ep);
void net__rudp_endpoint_run_close(net_loop *loop, net_udp *u, int graceful);

/* rudp_session.c: lifecycle */
int net__rudp_session_new(net_engine_s *e, net_loop *loop, rudp_endpoint *ep, const net_rudp_config *cfg,
                          net_rudp_session **out);
void net__rudp_session_open(net_loop *loop, net_rudp_session *s, const rudp_params *peer);
void net__rudp_session_finish(net_loop *loop, net_rudp_session *s, int reason, int tell_peer);
void net__rudp_session_rearm(net_loop *loop, net_rudp_session *s);
void net__rudp_session_timer(net_loop *loop, net_rudp_session *s);
void net__rudp_session_received(net_loop *loop, net_rudp_session *s, const uint8_t *p, size_t len, const rudp_hdr *h);
void net__rudp_session_flush(net_loop *loop, net_rudp_session *s);
void net__rudp_close_packet(net_rudp_session *s, uint8_t type, uint32_t reason);
void net__rudp_schedule_locked(net_rudp_session *s, uint32_t ops);
void net__rudp_done_charge(net_rudp_session *s, uint32_t charge);

/* rudp_send.c: the sending side */
void net__rudp_pump(net_loop *loop, net_rudp_session *s, int force_numbered);
void net__rudp_on_ack(net_loop *loop, net_rudp_session *s, const rudp_data_hdr *d);
void net__rudp_check_timeouts(net_loop *loop, net_rudp_session *s);
uint64_t net__rudp_rto_due(const net_rudp_session *s);
/* RACK's reordering deadline for the oldest packet passed by a newer
 * acknowledged one, or the tail-loss probe's: loop ms, UINT64_MAX none. */
uint64_t net__rudp_loss_due(const net_rudp_session *s);
void net__rudp_check_losses(net_loop *loop, net_rudp_session *s);
void net__rudp_send_free(net_rudp_session *s);
int net__rudp_send_idle(const net_rudp_session *s);

/* rudp_rtt.c: RTT and RTO (RFC 6298) */
void net__rudp_rtt_sample(net_rudp_session *s, uint64_t sample_us);
/* The retransmit timeout now, backoff included, at most rto_max_ms. */
uint64_t net__rudp_rto_now_ms(const net_rudp_session *s);

/* rudp_congestion.c: the congestion window (RFC 5681) */
int net__rudp_cc_may_send(const net_rudp_session *s);
void net__rudp_cc_acked(net_rudp_session *s, uint32_t bytes);
void net__rudp_cc_lost(net_rudp_session *s, uint16_t seq);
void net__rudp_cc_ack_seen(net_rudp_session *s, uint16_t ack);
void net__rudp_cc_timeout(net_rudp_session *s);

/* rudp_recv.c: the receiving side */
/* Chunks of a numbered packet: -1 (protocol violation), 0 (the packet is
 * dropped unacknowledged: no room now), 1 (taken). */
int net__rudp_take_chunks(net_loop *loop, net_rudp_session *s, const uint8_t *p, const uint8_t *end);
uint32_t net__rudp_window(net_rudp_session *s);
void net__rudp_recv_free(net_rudp_session *s);

static inline uint64_t net__rudp_now_us(void)
{
    return os_now_us();
}

static inline void net__rudp_stat(atomic_uint_least64_t *c, uint64_t n)
{
    net__count(c, n);
}

/* A datagram or a piece of one from a session's peer dropped as bad: in the
 * session's stats and in its listener's (same loop, one writer). */
static inline void net__rudp_dropped(net_rudp_session *s)
{
    net__count(&s->st[ST_DROPPED], 1);
    if (s->ep->listener)
        net__count(&s->ep->st[ST_DROPPED], 1);
}

#endif
