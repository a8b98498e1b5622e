/*
 * core.h - the platform-neutral core's objects (engine, loops, connections,
 * listeners, UDP sockets) and what each of the core's files offers the
 * others. Private to dll/; backends see only backend.h.
 *
 * Threads and locks:
 * - a loop (one per I/O thread, or the poller's own with io_threads = 0)
 *   owns its connections' sockets and backend state; only its thread calls
 *   the backend for them;
 * - a connection's slot lock guards what other threads touch: its state,
 *   send queue and options. Lock order: slot -> loop pending -> event queue;
 * - the event queue is shared; the polling thread frees a connection when it
 *   hands out its CLOSE event, after which no loop refers to it.
 */
#ifndef NET_CORE_H
#define NET_CORE_H

#include <stdatomic.h>
#include <string.h>
#include "backend.h"
#include "block.h"
#include "flow.h"
#include "frame.h"
#include "handle.h"
#include "list.h"
#include "queue.h"
#include "timer.h"

#define NET_MAX_ENGINES 255
#define NET_SEND_IOV_MAX 64
#define NET_IOV_INLINE 2
#define NET_RX_BLOCK_SIZE (64 * 1024)
#define NET_RX_MIN_WINDOW (16 * 1024)
#define NET_TICK_MS 100
#define NET_POLL_CHUNK 256          /* events moved out of the queue under one lock */
#define NET_MAX_MESSAGE 0x7FFFFFFFu /* largest max_message a config may ask for */
#define NET_MAX_HEADER 4            /* the longest framing header */
#define NET_CONN_EVENTS 3           /* reserved per connection: ACCEPT or CONNECT, a water mark event, CLOSE */
#define NET_HALF_OPEN_EVENTS 1      /* and EOF for a NET_TCP_HALF_OPEN one */
#define NET_LISTENER_EVENTS 1       /* CLOSE */
#define NET_UDP_EVENTS 2            /* an ERROR, CLOSE */
#define NET_TIMER_EVENTS 1          /* TIMER */

/* Operations another thread asks a loop to run (obj->pending_ops). */
enum {
    OP_START = 1u << 0,      /* adopt an accepted socket, start receiving */
    OP_CONNECT = 1u << 1,    /* start connecting */
    OP_FLUSH = 1u << 2,      /* send what is queued */
    OP_CLOSE = 1u << 3,      /* graceful close */
    OP_ABORT = 1u << 4,      /* abortive close */
    OP_SHUTDOWN = 1u << 5,   /* half-close after the queue drains */
    OP_RESUME = 1u << 6,     /* receiving may resume (backpressure lifted) */
    OP_LISTEN = 1u << 7,     /* register a listener and accept */
    OP_LCLOSE = 1u << 8,     /* close a listener */
    OP_RUDP_CLOSE = 1u << 9, /* reliable-UDP endpoint: close its sessions gracefully, then the socket */
    OP_RUDP_ABORT = 1u << 10 /* reliable-UDP endpoint: abort its sessions and the socket */
};

/* An object's kind (backend.h) is its handle type. */
_Static_assert((int)OBJ_CONN == (int)NET__T_CONN && (int)OBJ_LISTENER == (int)NET__T_LISTENER &&
                   (int)OBJ_UDP == (int)NET__T_UDP,
               "OBJ_* are the handle types");

typedef struct net_engine_s net_engine_s;
struct net_pending_item;

struct net_obj {
    uint32_t kind;
    uint32_t pending_ops; /* under loop->pending_lock */
    net_link pending;     /* on loop->pending while it has ops, under loop->pending_lock */
    net_link node;        /* on the loop's list of its kind (loop thread only) */
    net_loop *loop;
    net_slot *slot;
    net_handle handle;
    atomic_uint_least64_t user;
    net_sock sock;
    void *bk;
    struct net_obj *released_next; /* loop->released, loop thread only */
};

typedef struct net_seg {
    const uint8_t *p;
    uint32_t len;
    uint32_t pin; /* bytes of blk this segment counts in its connection's pinned total (0: a copy chunk, or
                     blk counted by an earlier segment) */
    net_block *blk;
} net_seg;

enum { CS_CONNECTING = 1, CS_OPEN, CS_CLOSING, CS_CLOSED };

struct net_conn {
    net_obj o;
    /* ---- under the slot lock ---- */
    int state;
    int shutdown_requested; /* net_shutdown: FIN once the queue drains */
    int abort_requested;    /* net_abort: nothing more goes out, not even a FIN */
    net_sendq sq;           /* of net_seg */
    uint64_t pinned;        /* capacity of the received blocks its queue references, at most sq.send_cap */
    uint32_t highwater, lowwater;
    atomic_uint idle_ms;
    int above_highwater;
    int water_queued; /* a SEND_HIGHWATER/DRAINED waits to be polled */
    net_frame_cfg fcfg;
    uint32_t flags;
    uint32_t reserved_events; /* NET_CONN_EVENTS, + NET_HALF_OPEN_EVENTS with NET_TCP_HALF_OPEN */
    net_addr peer;            /* where it connects to, then the peer as accepted or connected: written by the loop
                                 under the slot lock once the handle is out, so net_peer_addr needs no syscall */
    int wire_open;            /* set once the loop adopted the socket and it is connected: from then until
                                 CS_CLOSED another thread may write to it (net__conn_push_locked) */

    /* ---- loop thread only ---- */
    net_frame_decoder dec;
    net_iov iov_inline[NET_IOV_INLINE]; /* a send of few segments (see send_iov in conn.c) */
    net_iov *iov;   /* NET_SEND_IOV_MAX entries, allocated for the first send of more: idle connections stay small */
    int attached;   /* the backend adopted the socket */
    int connecting; /* connect submitted, no outcome yet: nothing may be sent or shut down */
    int sending;    /* a send is outstanding */
    int receiving;  /* recv started */
    int wr_shut;    /* FIN sent */
    int peer_eof;   /* FIN received */
    int discard;    /* graceful close: input is drained and dropped */
    int releasing;  /* backend close requested; CLOSE follows */
    int close_reason, close_os_error;
    uint64_t last_active;
    uint64_t linger_deadline; /* 0 = not lingering */
    net_link linger_node;     /* on loop->linger */

    /* ---- shared through atomics ---- */
    net_rx_gate rx; /* payload bytes */
    atomic_uint_least64_t last_delivery_seq;
    atomic_int wrote_elsewhere; /* net__conn_push_locked wrote since the loop's idle check last looked */
};

struct net_listener {
    net_obj o;
    net_tcp_config cfg;
    net_frame_cfg fcfg;
    int closing;            /* under the slot lock: net_close was called or the loop closes it */
    int closed;             /* loop thread: handed to the backend's close, or never opened */
    int accepting;          /* loop thread */
    uint64_t retry_at;      /* loop thread: accept paused for lack of fds until then */
    uint32_t accept_errors; /* loop thread: failed accepts since the last success */
};

/* A datagram waiting to go out; its payload lives in blk. */
typedef struct net_udp_out {
    net_dgram d;
    net_block *blk;
} net_udp_out;

enum { US_OPEN = 1, US_CLOSING, US_CLOSED };

struct net_udp {
    net_obj o;
    /* ---- under the slot lock ---- */
    int state;
    int connected;
    net_addr peer;
    net_sendq sq; /* of net_udp_out; bytes are payload + a per-datagram overhead */
    atomic_uint max_datagram;
    int abort_requested;
    int error_queued;           /* an ERROR waits to be polled */
    struct rudp_endpoint *rudp; /* set for good at open: reliable UDP runs on this socket (rudp.h) */

    /* ---- loop thread only ---- */
    net_dgram *batch;      /* what the backend is sending */
    uint32_t batch_failed; /* datagrams of the batch the OS refused */
    uint64_t batch_bytes;  /* payload of the batch, less what was refused */
    uint32_t rx_max;       /* max_datagram at open: what the backend's receive buffers hold */
    int attached, receiving, releasing;
    int close_reason;
    uint64_t close_deadline; /* graceful close gives up on the queue then */

    /* ---- shared through atomics ---- */
    atomic_uint_least64_t dropped;
    atomic_uint_least64_t errors_dropped;
    net_rx_gate rx; /* payload + a per-datagram overhead */
};

/* backend.h: a typed object and its net_obj share one pointer. */
_Static_assert(offsetof(struct net_conn, o) == 0, "net_conn must begin with its net_obj");
_Static_assert(offsetof(struct net_listener, o) == 0, "net_listener must begin with its net_obj");
_Static_assert(offsetof(struct net_udp, o) == 0, "net_udp must begin with its net_obj");

typedef struct net_loop_stats {
    atomic_uint_least64_t bytes_in, bytes_out, messages_in;
    atomic_uint_least64_t dgrams_in, dgrams_out, dgrams_dropped, dgram_send_errors;
    atomic_uint_least64_t bytes_out_elsewhere; /* written by other threads (net__conn_push_locked): fetch_add */
} net_loop_stats;

/* A loop's statistics have one writer, the loop's thread: a relaxed load
 * and store add without the locked instruction a fetch_add costs, and
 * readers on other threads still see whole values. */
static inline void net__count(atomic_uint_least64_t *counter, uint64_t n)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n, memory_order_relaxed);
}

/* net_loop.wake_pending */
enum { LOOP_ASLEEP = 0, LOOP_AWAKE = 1, LOOP_WAKE_ASKED = 2 };

struct net_loop {
    net_engine_s *e;
    uint32_t index;
    void *bk;
    os_thread *thread;
    atomic_uint_least64_t thread_id;
    atomic_int stop;
    atomic_int wake_pending; /* LOOP_ASLEEP: a wake-up writes to the backend; else it need not */
    /* io_threads = 0 with a waitable: work scheduled from the polling
     * thread between polls wakes the backend too (net__loop_schedule). */
    atomic_int wake_on_schedule;

    atomic_uint pending_lock;
    net_link *pending; /* objects with pending_ops, under pending_lock */

    net_block *rx_blk;             /* current receive window's block */
    net_link *conns;               /* all connections of this loop (net_obj.node) */
    net_link *linger;              /* connections waiting on the script or the peer to finish */
    net_link *listeners;           /* (net_obj.node) */
    net_link *udps;                /* (net_obj.node) */
    net_obj *released;             /* released by the backend, finished at the end of the turn (object.c) */
    atomic_int lingering;          /* length of the linger list */
    struct net_pending_item *work; /* run_pending's scratch */
    uint32_t work_cap;
    uint64_t now;
    uint64_t next_tick;
    net_timers rudp_timers; /* reliable-UDP sessions' deadlines (rudp_session.c), loop thread only */
    net_loop_stats stats;
};

/* e->notify: whom the next event pushed must tell, each told once. */
enum {
    NOTIFY_POLLER = 1u << 0,  /* a net_poll waits on qcond (io_threads >= 1) */
    NOTIFY_WAITABLE = 1u << 1 /* the waitable is clear and not being polled: raise it */
};

struct net_engine_s {
    /* ---- identity; valid for the process lifetime ---- */
    uint32_t index;
    atomic_uint gen;
    atomic_int alive;
    atomic_int calls;
    int claimed; /* under g_engines_lock: a live engine, or one being made or destroyed, holds the slot */

    net_config cfg;
    const net_backend *bk;
    net_loop *loops;
    uint32_t nloops;
    int threaded;
    atomic_uint next_loop;

    net_handles handles;

    os_mutex qlock;
    os_cond qcond;
    net_queue queue;
    uint32_t notify; /* under qlock: NOTIFY_* bits, who waits for the next event */
    int wakeup;      /* under qlock */

    atomic_int polling;
    atomic_uint_least64_t poll_thread;
    atomic_uint_least64_t poll_seq;
    struct net_held *held; /* payload blocks handed out by the last poll */
    uint32_t nheld, held_cap;
    uint32_t held_next; /* where net__held_lookup starts looking: the block of its last find */
    net_qside *side;    /* NET_POLL_CHUNK entries: what deliver() takes at once */

    net_timers timers;
    /* net_engine_waitable's, made on first request and kept until destroy. */
    _Atomic(struct net_waitable *) waitable;

    atomic_uint_least64_t open_conns, conns_total, rejected, messages_out, send_queued, recv_paused;
    atomic_uint_least64_t accepts_failed;
    atomic_uint_least64_t caller_writes; /* net__conn_push_locked's writes */
    atomic_uint_least64_t open_udps;
};

/* engine.c */
net_engine_s *net__engine_enter(net_engine eh);
net_engine_s *net__engine_enter_for(net_handle h);
void net__engine_leave(net_engine_s *e);
/* A handle's engine entered and its slot locked, if h is live and its type in type_mask. */
typedef struct net_locked {
    net_engine_s *e;
    net_slot *slot;
} net_locked;
int net__lock_handle(net_handle h, uint32_t type_mask, net_locked *out);
void net__unlock_handle(net_locked *l);

/* poll.c */
/* An ordinary event: NET_E_NOMEM when the queue cannot grow. */
int net__push_event(net_engine_s *e, const net_event *ev, net_block *blk, void *obj);
/* n ordinary events of one object under one lock: all of them or, with
 * NET_E_NOMEM, none. */
int net__push_events(net_engine_s *e, const net_event *ev, net_block *const *blk, void *obj, uint32_t n);
/* Events an object must never lose (ACCEPT, CONNECT, CLOSE, and the one
 * SEND_HIGHWATER/DRAINED, UDP ERROR or TIMER it may have waiting) go into
 * room it reserved when it was made, and that it gives back when freed. */
int net__reserve_events(net_engine_s *e, uint32_t n);
void net__unreserve_events(net_engine_s *e, uint32_t n);
void net__push_reserved(net_engine_s *e, const net_event *ev, void *obj);
void net__wake_poller(net_engine_s *e);
/* io_threads >= 1: from begin to end, the calling loop thread's pushes wake
 * a waiting net_poll only at a flush (before the loop sleeps, and at end). */
void net__poller_defer_begin(net_loop *loop);
void net__poller_defer_flush(void);
void net__poller_defer_end(void);
/* An object whose CLOSE event is handed out: nothing refers to it any more. */
void net__free_closed(net_engine_s *e, net_obj *o);
/* The sends' way around a copy. net__held_borrow: 1 when the caller is the
 * polling thread between polls, the engine then marked borrowed (no
 * net_poll starts, so the last poll's blocks stay held) until
 * net__held_end; 0 otherwise. While borrowed, net__held_lookup gives the
 * held block the bytes [p, p + len) lie in, or NULL. One net_send borrows
 * for its payload, one net_forward_data call for all of its. */
int net__held_borrow(net_engine_s *e);
net_block *net__held_lookup(net_engine_s *e, const void *p, size_t len);
void net__held_end(net_engine_s *e);
/* Drops the references the last poll's payloads held. */
void net__release_held(net_engine_s *e);
/* Engine teardown: every event left goes, each CLOSE freeing its object. */
void net__discard_events(net_engine_s *e);

static inline int net__on_poll_thread(net_engine_s *e)
{
    return atomic_load(&e->poll_thread) == os_thread_self();
}

/* waitable.c */
/* Inside net_poll, events pushed need not raise the waitable: the end of the
 * poll looks at what is left. Both only when e has a waitable. */
void net__waitable_poll_begin(net_engine_s *e);
void net__waitable_poll_end(net_engine_s *e);
/* With qlock held: raises the waitable (once until it is cleared). */
void net__waitable_raise_locked(net_engine_s *e);
/* A timer was added: the waitable's deadline may move earlier. */
void net__waitable_timers_changed(net_engine_s *e);
/* Engine teardown, after the loops are closed. */
void net__waitable_free(net_engine_s *e);

/* loop.c */
net_loop *net__pick_loop(net_engine_s *e);
int net__on_loop_thread(net_loop *loop);
/* Makes the loop's backend wait return, unless a wake is on its way already. */
void net__loop_wake(net_loop *loop);
void net__loop_schedule(net_loop *loop, net_obj *o, uint32_t ops);
void net__loop_unschedule(net_loop *loop, net_obj *o);
void net__loop_iterate(net_loop *loop, int timeout_ms);
void net__loops_wake_lingering(net_engine_s *e);
int net__loops_open(net_engine_s *e);
int net__loops_start(net_engine_s *e);
void net__loops_stop(net_engine_s *e);
void net__loops_close(net_engine_s *e);
void net__loops_free(net_engine_s *e);
/* A copy of len bytes (at most NET_RX_BLOCK_SIZE) at the end of the loop's
 * receive block, which moves on to a fresh block when the current one has
 * too little left; NULL when memory runs out. No reference is taken: the
 * block is loop->rx_blk, which the loop holds until it moves on. */
uint8_t *net__rx_copy(net_loop *loop, const void *data, size_t len);
/* A copy of backend bytes the script may keep until its next poll, and the
 * block (one reference taken) that owns it; NULL when memory runs out. */
const uint8_t *net__rx_keep(net_loop *loop, const void *data, size_t len, net_block **owner);

/* The object whose node (a loop's list of conns, listeners or udps) k is. */
static inline net_obj *net__obj_of(net_link *k)
{
    return NET_CONTAINER_OF(k, net_obj, node);
}

/* error.c */
/* What net_last_os_error returns on this thread: the synchronous calls that
 * reach the OS (listen, connect, UDP open and connect) set it, 0 first. */
void net__set_last_os_error(int os_error);

/* object.c */
/* Frees the backend state of what the backend released, then finishes each
 * object by its kind: at the end of a turn, and after loop_close(). */
void net__finish_released(net_loop *loop);
void net__obj_init(net_obj *o, uint32_t kind, net_sock s, net_loop *loop, uint64_t user);
/* A handle for o, with room for the events it must never lose (see
 * net__reserve_events); net__obj_retire gives both back. */
int net__obj_register(net_engine_s *e, net_obj *o, uint32_t events);
/* The same with a handle type other than o's kind (reliable UDP's sockets and sessions). */
int net__obj_register_as(net_engine_s *e, net_obj *o, uint32_t type, uint32_t events);
void net__obj_retire(net_engine_s *e, net_obj *o, uint32_t events);
/* Socket calls reach the descriptor only while nobody has asked to close
 * the object: once closing, the loop may close the descriptor at any time
 * and its number may then name an unrelated socket. */
int net__obj_socket_usable(const net_obj *o);

/* An event about o, its other fields zero, written where it goes: a
 * received message's event is built in its batch (emit_data); built on the
 * stack and copied in, it cost a stalled reload of the half-written copy
 * per message. */
static inline void net__obj_event_init(net_event *ev, const net_obj *o, uint32_t type, int status, int os_error)
{
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    ev->status = status;
    ev->os_error = os_error;
    ev->handle = o->handle;
    ev->user = atomic_load_explicit(&o->user, memory_order_relaxed);
}

/* The same, as a value. */
static inline net_event net__obj_event(const net_obj *o, uint32_t type, int status, int os_error)
{
    net_event ev;
    net__obj_event_init(&ev, o, type, status, os_error);
    return ev;
}

/* config.c */
int net__read_config(const net_config *in, net_config *out);
/* What a net_connect or net_listen call asks for, read and checked. */
typedef struct net_tcp_request {
    net_engine_s *e; /* entered: the caller leaves it */
    net_tcp_config tc;
    net_frame_cfg f; /* what tc makes of framing on e */
    net_addr at;     /* host:port, resolved */
} net_tcp_request;
/* On success the engine is entered; on failure nothing is held. */
int net__tcp_request(net_engine eh, const char *host, uint16_t port, const net_tcp_config *cfg, net_tcp_request *out);
int net__read_udp_config(const net_udp_config *in, net_udp_config *out);
int net__read_rudp_config(const net_rudp_config *in, net_rudp_config *out);

/* conn.c */
int net__conn_create(net_engine_s *e, net_sock s, const net_frame_cfg *f, uint32_t flags, uint64_t user,
                     net_conn **out);
void net__conn_run_ops(net_loop *loop, net_conn *c, uint32_t ops);
void net__conn_tick(net_loop *loop, net_conn *c);
void net__conn_linger_check(net_loop *loop, net_conn *c);
int net__conn_linger_due(net_loop *loop, net_conn *c);
void net__conn_abort_all(net_loop *loop);
/* The script polled DATA events of c carrying bytes of payload. */
void net__conn_delivered(net_engine_s *e, net_conn *c, uint64_t bytes);
/* Its socket is gone, released by the backend (object.c calls this at the
 * end of the turn) or never handed to it: it leaves the loop, CLOSE is queued. */
void net__conn_released(net_conn *c);
void net__conn_free(net_engine_s *e, net_conn *c);
/* Its SEND_HIGHWATER/DRAINED was polled: a crossing since can be reported. */
void net__conn_water_polled(net_conn *c);
/* Queues one message (slot lock held): the buffers copied, or shared_len
 * bytes at shared_at in the block shared referenced (no copy). The loop is
 * asked to send it, unless hold is set: then the caller, which queues more
 * for c at once, ends with net__conn_push_locked. */
int net__conn_queue(net_conn *c, const net_buf *bufs, uint32_t count, net_block *shared, const void *shared_at,
                    uint32_t shared_len, int hold);
/* The echo's next message, when its header and payload follow, in the
 * same received block, the bytes the queue's newest piece ends with: that
 * piece grows by them (slot lock held). Returns 1, with nothing done, for
 * any other message, which then takes net__conn_queue. */
int net__conn_queue_continued(net_conn *c, const uint8_t *p, uint32_t len, int hold);
/* One payload to c as net_send queues it, slot lock held: with borrowed
 * (net__held_borrow said yes), one of the last poll's blocks that holds it
 * (an echo, a forward) is referenced there rather than copied. hold: as
 * for net__conn_queue. */
int net__conn_queue_payload(net_engine_s *e, net_conn *c, const void *data, uint32_t len, int borrowed, int hold);
/* What the caller queued for c goes out: with may_write, written from this
 * thread when that saves waking c's sleeping loop (conn.c), else
 * scheduled on the loop. Slot lock held. */
void net__conn_push_locked(net_conn *c, int may_write);
void net__conn_schedule_locked(net_conn *c, uint32_t ops);

/* udp.c */
int net__udp_queue(net_udp *u, const net_addr *to, const net_buf *bufs, uint32_t count);
void net__udp_run_ops(net_loop *loop, net_udp *u, uint32_t ops);
void net__udp_tick(net_loop *loop, net_udp *u);
void net__udp_abort_all(net_loop *loop);
void net__udp_delivered(net_engine_s *e, net_udp *u, uint32_t datagrams, uint64_t bytes);
void net__udp_released(net_udp *u);
void net__udp_free(net_engine_s *e, net_udp *u);
void net__udp_error_polled(net_udp *u);
void net__udp_schedule_locked(net_udp *u, uint32_t ops);
/* A UDP socket object for s (bound, non-blocking) with a handle of `type`;
 * OP_START on its loop registers it with the backend and starts receiving.
 * rudp: the reliable-UDP endpoint that owns it, or NULL. */
int net__udp_start(net_engine_s *e, net_sock s, const net_udp_config *uc, uint32_t type, struct rudp_endpoint *rudp,
                   net_udp **out);

/* rudp_*.c: reliable UDP, as the rest of the core sees it */
typedef struct net_rudp_session net_rudp_session;
void net__rudp_received(net_udp *u, const void *data, size_t len, const net_addr *from, int truncated);
void net__rudp_recv_error(net_udp *u, int err);
void net__rudp_endpoint_run_close(net_loop *loop, net_udp *u, int graceful);
void net__rudp_endpoint_abort(net_loop *loop, net_udp *u);
void net__rudp_endpoint_free(struct rudp_endpoint *ep);
void net__rudp_endpoint_attach(struct rudp_endpoint *ep, net_udp *u);
void net__rudp_run_ops(net_loop *loop, net_rudp_session *s, uint32_t ops);
void net__rudp_timers_run(net_loop *loop);
void net__rudp_delivered(net_engine_s *e, net_rudp_session *s, uint64_t bytes);
void net__rudp_water_polled(net_rudp_session *s);
void net__rudp_session_free(net_engine_s *e, net_rudp_session *s);
int net__rudp_queue(net_rudp_session *s, uint32_t channel, uint32_t mode, const net_buf *bufs, uint32_t count);
/* net_close / net_abort of a session (slot lock held). */
void net__rudp_close_locked(net_rudp_session *s, int abort);
void net__rudp_listener_close_locked(net_udp *u, int abort);
/* net_close or net_abort was called on this reliable-UDP listener (slot lock held); 0 for plain UDP. */
int net__rudp_close_requested(const net_udp *u);
int net__rudp_peer_addr_locked(net_rudp_session *s, net_addr *addr);
int net__rudp_local_addr_locked(net_rudp_session *s, net_addr *addr);
uint64_t net__rudp_queued_locked(net_rudp_session *s);

/* listener.c */
void net__listener_run_ops(net_loop *loop, net_listener *l, uint32_t ops);
void net__listener_tick(net_loop *loop, net_listener *l);
void net__listener_released(net_listener *l);
void net__listener_close_all(net_loop *loop);
void net__listener_free(net_engine_s *e, net_listener *l);

#endif
