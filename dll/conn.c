/* conn.c - a TCP connection: its send queue, its receive path and how it ends. */
#include <stdlib.h>
#include <string.h>
#include "testhooks.h"
#include "core.h"

#define SEND_CHUNK (16 * 1024) /* the largest copy chunk (flow.h) */
#define SEND_RING_MIN 4        /* segments a send queue's ring starts with */

static void close_now(net_loop *loop, net_conn *c, int reason, int os_error, int abortive);
static void flush(net_loop *loop, net_conn *c);
static void recv_start(net_loop *loop, net_obj *o);

/* ---- creation ---- */

int net__conn_create(net_engine_s *e, net_sock s, const net_frame_cfg *f, uint32_t flags, uint64_t user, net_conn **out)
{
    net_conn *c = net__calloc(1, sizeof *c);
    if (!c)
        return NET_E_NOMEM;
    net__obj_init(&c->o, OBJ_CONN, s, net__pick_loop(e), user);
    c->state = CS_OPEN;
    c->fcfg = *f;
    c->flags = flags;
    c->sq.send_cap = e->cfg.send_cap;
    c->highwater = e->cfg.send_highwater;
    c->lowwater = e->cfg.send_lowwater;
    atomic_init(&c->idle_ms, e->cfg.idle_timeout_ms);
    net_rx_gate_init(&c->rx);
    atomic_init(&c->last_delivery_seq, 0);
    net_frame_decoder_init(&c->dec, f);
    c->reserved_events = NET_CONN_EVENTS + (flags & NET_TCP_HALF_OPEN ? NET_HALF_OPEN_EVENTS : 0);
    int rc = net__obj_register(e, &c->o, c->reserved_events);
    if (rc) {
        free(c);
        return rc;
    }
    atomic_fetch_add(&e->open_conns, 1);
    atomic_fetch_add(&e->conns_total, 1);
    *out = c;
    return 0;
}

/* A socket for req's address, and its connection; connecting starts on
 * the connection's loop and CONNECT tells how it went. */
static int start_connect(const net_tcp_request *req, net_handle *out)
{
    net_engine_s *e = req->e;
    if (atomic_load(&e->open_conns) >= e->cfg.max_connections)
        return NET_E_LIMIT;
    net_sock s;
    net_conn *c;
    int os_error = 0;
    int rc = os_tcp_socket(&req->at, &s, &os_error);
    net__set_last_os_error(os_error);
    if (rc)
        return rc;
    if ((rc = net__conn_create(e, s, &req->f, req->tc.flags, req->tc.user, &c)) != 0) {
        os_sock_close(s);
        return rc;
    }
    c->state = CS_CONNECTING;
    c->peer = req->at;
    net_slot_lock(c->o.slot);
    net__conn_schedule_locked(c, OP_CONNECT);
    net_slot_unlock(c->o.slot);
    *out = c->o.handle;
    return 0;
}

NET_API int net_connect(net_engine eh, const char *host, uint16_t port, const net_tcp_config *cfg, net_handle *out)
{
    net__set_last_os_error(0);
    if (out)
        *out = 0;
    if (!out || !host || !*host || port == 0)
        return NET_E_INVAL;
    net_tcp_request req;
    int rc = net__tcp_request(eh, host, port, cfg, &req);
    if (rc)
        return rc;
    rc = start_connect(&req, out);
    net__engine_leave(req.e);
    return rc;
}

void net__conn_schedule_locked(net_conn *c, uint32_t ops)
{
    if (c->state != CS_CLOSED)
        net__sendq_schedule(&c->sq, &c->o, ops);
}

/* ---- events ---- */

static void push_conn_event(net_conn *c, uint32_t type, int status, int os_error, uint32_t len, const net_addr *addr)
{
    net_event ev = net__obj_event(&c->o, type, status, os_error);
    ev.len = len;
    if (addr)
        ev.addr = *addr;
    /* Every event here has its room reserved (NET_CONN_EVENTS); CLOSE and
     * the water mark events name the connection for the poller. */
    net__push_reserved(c->o.loop->e, &ev, type == NET_EV_CONNECT || type == NET_EV_EOF ? NULL : c);
}

/* Reports the send queue crossing a water mark (slot lock held). One such
 * event at most waits in the event queue per connection, in its reserved
 * room; a crossing meanwhile is reported once that one has been polled. */
static void water_check(net_conn *c)
{
    uint32_t type;
    if (c->water_queued || c->state == CS_CLOSED)
        return;
    if (!c->above_highwater && c->sq.bytes > c->highwater)
        type = NET_EV_SEND_HIGHWATER;
    else if (c->above_highwater && c->sq.bytes <= c->lowwater)
        type = NET_EV_SEND_DRAINED;
    else
        return;
    c->above_highwater = type == NET_EV_SEND_HIGHWATER;
    c->water_queued = 1;
    push_conn_event(c, type, 0, 0, (uint32_t)(c->sq.bytes > UINT32_MAX ? UINT32_MAX : c->sq.bytes), NULL);
}

void net__conn_water_polled(net_conn *c)
{
    net_slot_lock(c->o.slot);
    c->water_queued = 0;
    water_check(c);
    net_slot_unlock(c->o.slot);
}

/* ---- send queue (slot lock held) ---- */

static net_seg *seg_at(net_conn *c, uint32_t i)
{
    return (net_seg *)c->sq.ring + net_sendq_pos(&c->sq, i);
}

/* Appends len bytes at p, in blk, to the queue: onto the last segment when
 * they continue it, else as a segment of their own. */
static int sq_push(net_conn *c, const uint8_t *p, uint32_t len, net_block *blk, uint32_t pin)
{
    if (c->sq.count > c->sq.inflight) {
        net_seg *last = seg_at(c, c->sq.count - 1);
        if (last->blk == blk && last->p + last->len == p) {
            last->len += len;
            return 0;
        }
    }
    if (net_sendq_room(&c->sq, 1, sizeof(net_seg), SEND_RING_MIN) != 0)
        return NET_E_NOMEM;
    net_block_ref(blk, 1);
    *seg_at(c, c->sq.count) = (net_seg){p, len, pin, blk};
    c->sq.count++;
    c->pinned += pin;
    return 0;
}

/* The queue's first segments, at most max of them, as iov pieces; how many. */
static int sq_iov(net_conn *c, net_iov *iov, uint32_t max)
{
    uint32_t n = 0;
    for (; n < c->sq.count && n < max; n++) {
        const net_seg *s = seg_at(c, n);
        iov[n].base = s->p;
        iov[n].len = s->len;
    }
    return (int)n;
}

static void sq_pop(net_conn *c)
{
    net_seg *s = seg_at(c, 0);
    c->pinned -= s->pin;
    net_block_unref(s->blk, 1);
    net_sendq_pop(&c->sq);
}

/* What referencing blk would add to the connection's pinned total: its
 * capacity, unless the newest segment already counts it (echoes of one
 * read, or of one assembled message, reference the same block). */
static uint32_t pin_of(const net_conn *c, const net_block *blk)
{
    if (c->sq.count > 0 && seg_at((net_conn *)c, c->sq.count - 1)->blk == blk)
        return 0;
    return blk->cap;
}

/* Why a message of total payload bytes can never be sent (NET_E_MSGSIZE), or 0. */
static int message_fits(const net_conn *c, uint64_t total)
{
    if (!c->fcfg.raw && (total > c->fcfg.max_message || total > net_frame_header_limit(&c->fcfg)))
        return NET_E_MSGSIZE;
    return total > 0x7FFFFFFFu ? NET_E_MSGSIZE : 0;
}

/* A message copied whole, its header (hdr bytes) first, into the chunk. */
static int queue_copy(net_conn *c, uint32_t hdr, uint32_t total, const net_buf *bufs, uint32_t count)
{
    uint32_t need = hdr + total;
    uint8_t *w = net_sendq_reserve(&c->sq, need, SEND_CHUNK);
    if (!w)
        return NET_E_NOMEM;
    uint8_t *p = w;
    if (hdr) {
        net_frame_put_header(&c->fcfg, total, p);
        p += hdr;
    }
    net_bufs_copy(p, bufs, count);
    if (sq_push(c, w, need, c->sq.chunk, 0) != 0)
        return NET_E_NOMEM;
    c->sq.chunk->used += need;
    return 0;
}

/* The header (at most NET_MAX_HEADER bytes) compared in line: a call to
 * memcmp for two bytes cost more than the compare, once per echo. */
static int header_matches(const uint8_t *a, const uint8_t *b, uint32_t n)
{
    uint32_t diff = 0;
    for (uint32_t i = 0; i < n; i++)
        diff |= (uint32_t)(a[i] ^ b[i]);
    return diff == 0;
}

/* A payload in a block of its own is referenced, never copied: a shared
 * one (net_broadcast), or one the last poll handed out (an echo, a
 * forward). Where the block holds, right in front of the payload, the very
 * header this message needs (the peer's own framing, echoed), header and
 * payload go as one piece of the block, so an echo of a whole read becomes
 * one piece again. Otherwise the header goes into the chunk. Room for both
 * segments is made first, so the stream never carries a header without its
 * message. */
static int queue_ref(net_conn *c, uint32_t hdr, net_block *blk, const uint8_t *p, uint32_t len)
{
    if (net_sendq_room(&c->sq, 2, sizeof(net_seg), SEND_RING_MIN) != 0)
        return NET_E_NOMEM;
    if (hdr) {
        uint8_t h[NET_MAX_HEADER];
        net_frame_put_header(&c->fcfg, len, h);
        if ((size_t)(p - blk->data) >= hdr && header_matches(p - hdr, h, hdr))
            return sq_push(c, p - hdr, hdr + len, blk, pin_of(c, blk));
        uint8_t *w = net_sendq_reserve(&c->sq, hdr, SEND_CHUNK);
        if (!w)
            return NET_E_NOMEM;
        memcpy(w, h, hdr);
        sq_push(c, w, hdr, c->sq.chunk, 0);
        c->sq.chunk->used += hdr;
    }
    if (len)
        sq_push(c, p, len, blk, pin_of(c, blk));
    return 0;
}

/* need bytes were queued for c: they count against its send cap and
 * water marks, and the loop sends them unless the caller holds them. */
static void queued(net_conn *c, uint64_t need, int hold)
{
    net__sendq_charge(&c->sq, need);
    water_check(c);
    if (!hold)
        net__conn_schedule_locked(c, OP_FLUSH);
}

int net__conn_queue(net_conn *c, const net_buf *bufs, uint32_t count, net_block *shared, const void *shared_at,
                    uint32_t shared_len, int hold)
{
    if ((c->state != CS_OPEN && c->state != CS_CONNECTING) || c->shutdown_requested)
        return NET_E_CLOSED;
    uint64_t total;
    int rc = net_bufs_total(bufs, count, &total);
    if (rc)
        return rc;
    total += shared ? shared_len : 0;
    if ((rc = message_fits(c, total)) != 0 || (total == 0 && c->fcfg.raw))
        return rc;
    uint32_t hdr = c->fcfg.raw ? 0 : c->fcfg.header;
    uint64_t need = hdr + total;
    if ((rc = net_sendq_admit(&c->sq, need)) != 0)
        return rc;
    /* A payload in a received block is referenced, not copied, while the
     * blocks the queue keeps alive that way stay within the send cap: a
     * block is shared by whatever its loop read, so a peer that never
     * reads could otherwise hold a 64 KiB block with each small echo. */
    net_buf copy = {shared_at, shared_len};
    if (shared && c->pinned + pin_of(c, shared) > c->sq.send_cap) {
        bufs = &copy;
        count = 1;
        shared = NULL;
    }
    if (shared)
        rc = queue_ref(c, hdr, shared, shared_at, shared_len);
    else
        rc = queue_copy(c, hdr, (uint32_t)total, bufs, count);
    if (rc)
        return rc;
    queued(c, need, hold);
    return 0;
}

/* The messages of one read, echoed in order, each continue the piece the
 * one before made (queue_ref), so the piece grows here without looking up
 * the block, making room or writing a header: what the general path would
 * decide for such a message, decided from the piece itself. */
int net__conn_queue_continued(net_conn *c, const uint8_t *p, uint32_t len, int hold)
{
    if (c->sq.count <= c->sq.inflight || c->state != CS_OPEN || c->shutdown_requested)
        return 1;
    net_seg *last = seg_at(c, c->sq.count - 1);
    const net_block *blk = last->blk;
    uint32_t hdr = c->fcfg.raw ? 0 : c->fcfg.header;
    /* The payload follows the piece's bytes, and lies in its block (which
     * the adjacency alone does not prove: blocks are separate allocations). */
    if (blk == c->sq.chunk || (uintptr_t)(last->p + last->len) + hdr != (uintptr_t)p || !net_block_holds(blk, p, len))
        return 1;
    uint64_t need = (uint64_t)hdr + len;
    if (message_fits(c, len) != 0 || net_sendq_admit(&c->sq, need) != 0)
        return 1; /* the general path gives the error */
    if (hdr) {
        uint8_t h[NET_MAX_HEADER];
        net_frame_put_header(&c->fcfg, len, h);
        if (!header_matches(p - hdr, h, hdr))
            return 1;
    }
    last->len += (uint32_t)need;
    queued(c, need, hold);
    return 0;
}

/* Drops n sent bytes from the head of the queue (slot lock held). */
static void sq_consume(net_conn *c, size_t n)
{
    size_t total = n;
    while (n > 0 && c->sq.count > 0) {
        net_seg *s = seg_at(c, 0);
        if (s->len <= n) {
            n -= s->len;
            sq_pop(c);
        } else {
            s->p += n;
            s->len -= (uint32_t)n;
            n = 0;
        }
    }
    c->sq.inflight = 0;
    net__sendq_discharge(&c->sq, c->o.loop->e, total);
    net_sendq_rewind(&c->sq);
    water_check(c);
}

static void sq_clear(net_conn *c)
{
    while (c->sq.count > 0)
        sq_pop(c);
    net__sendq_discharge(&c->sq, c->o.loop->e, c->sq.bytes);
    net_sendq_free(&c->sq);
}

/* ---- sending from the script's thread ---- */

/* With io_threads, a script's send used to reach the socket through the
 * loop: the loop thread was woken, wrote, and slept again. When the loop
 * sleeps, as it mostly does under a bulk echo, that is two context
 * switches per batch on a machine whose spare core then idles, and they
 * cost more than the write. So a batch call (net_forward_data) that
 * queued a run of messages for c writes them itself, here, when c's loop
 * sleeps and has no send of c's outstanding: the slot lock keeps the loop
 * from starting one meanwhile (flush takes it to hand segments to the
 * backend, and sq.inflight says they are handed), and from closing the
 * socket (close_now sets CS_CLOSED under it first). What the socket does
 * not take, and an error, which the loop's own send then meets and closes
 * on, are left to the loop as before. With the loop awake the schedule
 * costs no wake-up, and its turn sends the run with the others. */
#define PUSH_IOV_MAX 16

void net__conn_push_locked(net_conn *c, int may_write)
{
    if (c->sq.count == 0)
        return;
    net_loop *loop = c->o.loop;
    const net_backend *bk = loop->e->bk;
    if (may_write && bk->send_now && c->wire_open && c->state != CS_CLOSED && !c->abort_requested &&
        c->sq.inflight == 0 && loop->e->threaded &&
        atomic_load_explicit(&loop->wake_pending, memory_order_relaxed) == LOOP_ASLEEP && !net__on_loop_thread(loop)) {
        net_iov iov[PUSH_IOV_MAX];
        int n = sq_iov(c, iov, PUSH_IOV_MAX);
        int os_error = 0;
        int rc = bk->send_now(c->o.sock, iov, n, &os_error);
        if (rc > 0) {
            atomic_fetch_add_explicit(&loop->stats.bytes_out_elsewhere, (uint64_t)rc, memory_order_relaxed);
            atomic_fetch_add_explicit(&loop->e->caller_writes, 1, memory_order_relaxed);
            atomic_store_explicit(&c->wrote_elsewhere, 1, memory_order_relaxed);
            sq_consume(c, (size_t)rc);
        }
        if (c->sq.count == 0)
            return;
    }
    net__conn_schedule_locked(c, OP_FLUSH);
}

/* ---- lingering ---- */

static void linger_add(net_loop *loop, net_conn *c, uint64_t deadline)
{
    if (!c->linger_deadline || deadline < c->linger_deadline)
        c->linger_deadline = deadline;
    if (net_linked(&c->linger_node))
        return;
    net_list_push(&loop->linger, &c->linger_node);
    atomic_fetch_add(&loop->lingering, 1);
}

static void linger_remove(net_loop *loop, net_conn *c)
{
    if (!net_linked(&c->linger_node))
        return;
    net_list_remove(&c->linger_node);
    atomic_fetch_sub(&loop->lingering, 1);
}

/* ---- receiving ---- */

/* The receive gate's switches (net_rx_switch), hence the net_obj. */
static void recv_start(net_loop *loop, net_obj *o)
{
    net_conn *c = (net_conn *)o;
    if (!c->receiving && !c->peer_eof && c->attached && !c->releasing && net_rx_gate_flowing(&c->rx)) {
        c->receiving = 1;
        loop->e->bk->recv_start(loop, c);
    }
}

static void recv_stop(net_loop *loop, net_obj *o)
{
    net_conn *c = (net_conn *)o;
    if (c->receiving) {
        c->receiving = 0;
        loop->e->bk->recv_stop(loop, c);
    }
}

/* The DATA events one read produces, pushed to the script together: one
 * lock of the event queue, one reference per block and one charge of the
 * receive gate for all of them, instead of one of each per message. */
#define RX_BATCH 64

typedef struct rx_batch {
    net_conn *c;
    net_block *in; /* the read's block: the loop holds it for the whole read */
    uint32_t n;
    uint64_t bytes;
    net_event ev[RX_BATCH];
    net_block *blk[RX_BATCH];
    uint32_t in_refs; /* events of the batch in the read's block: their references are taken at the flush */
} rx_batch;

static int batch_flush(rx_batch *b)
{
    if (b->n == 0)
        return 0;
    net_conn *c = b->c;
    net_loop *loop = c->o.loop;
    if (b->in_refs)
        net_block_ref(b->in, (int)b->in_refs);
    /* Counted before the events can be polled: the gate never goes below
     * zero, and a script that saw its messages sees them in the stats. */
    net_rx_gate_charge(&c->rx, (int64_t)b->bytes);
    net__count(&loop->stats.messages_in, b->n);
    int rc = net__push_events(loop->e, b->ev, b->blk, c, b->n);
    if (rc != 0) {
        net_rx_gate_refund(&c->rx, (int64_t)b->bytes);
        net__count(&loop->stats.messages_in, -(uint64_t)b->n);
        for (uint32_t i = 0; i < b->n; i++)
            net_block_unref(b->blk[i], 1);
    }
    b->n = 0;
    b->in_refs = 0;
    b->bytes = 0;
    return rc;
}

static int emit_data(void *ctx, const uint8_t *msg, uint32_t len, net_block *owner)
{
    rx_batch *b = ctx;
    net_conn *c = b->c;
    if (owner && owner == b->in) {
        b->in_refs++;
    } else if (!owner) { /* the bytes are the backend's: copied, with a reference of their own */
        msg = net__rx_keep(c->o.loop, msg, len, &owner);
        if (!msg)
            return NET_E_NOMEM;
    } else { /* an assembled message: the decoder lets go of it on return */
        net_block_ref(owner, 1);
    }
    net_event *ev = &b->ev[b->n];
    net__obj_event_init(ev, &c->o, NET_EV_DATA, 0, 0);
    ev->data = msg;
    ev->len = len;
    b->blk[b->n] = owner;
    b->n++;
    b->bytes += len;
    if (b->n == RX_BATCH)
        return batch_flush(b);
    return 0;
}

/* Whether a read that is not in the loop's receive block is best copied
 * there whole: it fits a receive block, and it is not mostly the rest of a
 * long message, which the decoder copies into that message's own block. */
static int adopt_read(const net_conn *c, size_t len)
{
    if (len > NET_RX_BLOCK_SIZE)
        return 0;
    const net_frame_decoder *d = &c->dec;
    return !d->partial || d->partial_len - d->partial_have < len / 2;
}

void net__received(net_conn *c, const void *data, size_t len)
{
    net_loop *loop = c->o.loop;
    if (c->releasing)
        return;
    if (len == 0) { /* FIN from the peer */
        c->peer_eof = 1;
        recv_stop(loop, &c->o);
        if (c->wr_shut)
            close_now(loop, c, 0, 0, 0);
        else if (c->flags & NET_TCP_HALF_OPEN) /* the script decides when to close */
            push_conn_event(c, NET_EV_EOF, 0, 0, 0, NULL);
        else /* let the script answer what it has read; see net__conn_linger_check */
            linger_add(loop, c, loop->now + loop->e->cfg.close_timeout_ms);
        return;
    }
    c->last_active = loop->now;
    net__count(&loop->stats.bytes_in, len);
    if (c->discard)
        return;
    net_block *in = NULL;
    if (loop->rx_blk && data == loop->rx_blk->data + loop->rx_blk->used) {
        in = loop->rx_blk;
        in->used += (uint32_t)len;
    } else if (adopt_read(c, len)) {
        /* The backend's own buffer (io_uring's provided buffers): one copy
         * of the whole read into the loop's receive block, and its messages
         * are handed out from there, rather than one copy per message. */
        uint8_t *w = net__rx_copy(loop, data, len);
        if (w) {
            data = w;
            in = loop->rx_blk;
        }
    }
    rx_batch batch;
    batch.c = c;
    batch.in = in;
    batch.in_refs = 0;
    batch.n = 0;
    batch.bytes = 0;
    int rc = net_frame_feed(&c->dec, data, len, in, emit_data, &batch);
    /* What came before a malformed header is delivered before the CLOSE. */
    int flushed = batch_flush(&batch);
    if (!rc)
        rc = flushed;
    if (rc) {
        close_now(loop, c, rc, 0, 1);
        return;
    }
    if (c->receiving)
        net__rx_gate_check(&c->rx, loop, &c->o, recv_stop, recv_start);
}

void net__recv_failed(net_conn *c, int err, int os_error)
{
    if (!c->releasing)
        close_now(c->o.loop, c, err ? err : NET_E_OS, os_error, 1);
}

void net__conn_delivered(net_engine_s *e, net_conn *c, uint64_t bytes)
{
    if (net__rx_gate_polled(&c->rx, e, (int64_t)bytes)) {
        net_slot_lock(c->o.slot);
        net__conn_schedule_locked(c, OP_RESUME);
        net_slot_unlock(c->o.slot);
    }
}

/* ---- sending ---- */

/* The queue is empty: a requested FIN or close can go ahead. */
static void after_drain(net_loop *loop, net_conn *c, int closing, int shutdown_requested)
{
    if (c->wr_shut || c->releasing || (!closing && !shutdown_requested))
        return;
    os_sock_shutdown_write(c->o.sock);
    c->wr_shut = 1;
    if (c->peer_eof) {
        close_now(loop, c, 0, 0, 0);
        return;
    }
    if (closing) {
        /* Drain and drop the peer's input until its FIN: closing with
         * unread input would send RST and could destroy what we sent. */
        c->discard = 1;
        linger_add(loop, c, loop->now + loop->e->cfg.close_timeout_ms);
        net__rx_gate_open(&c->rx, loop->e);
        recv_start(loop, &c->o);
    }
}

static void sent(net_loop *loop, net_conn *c, size_t n)
{
    c->last_active = loop->now;
    net__count(&loop->stats.bytes_out, n);
    net_slot_lock(c->o.slot);
    sq_consume(c, n);
    net_slot_unlock(c->o.slot);
}

/* Where one send lists its segments. Most sends are one segment (the copy
 * chunk), two where it moved on to a new chunk: those fit in the
 * connection itself, so an idle or quiet connection holds no array. More
 * (shared broadcast payloads beside their headers) take a NET_SEND_IOV_MAX
 * array, made the first time and kept; without memory for it, fewer
 * segments go at once. */
static net_iov *send_iov(net_conn *c, uint32_t segments, uint32_t *max)
{
    if (segments > NET_IOV_INLINE && !c->iov)
        c->iov = net__malloc(NET_SEND_IOV_MAX * sizeof *c->iov);
    if (c->iov) {
        *max = NET_SEND_IOV_MAX;
        return c->iov;
    }
    *max = NET_IOV_INLINE;
    return c->iov_inline;
}

static void flush(net_loop *loop, net_conn *c)
{
    for (int round = 0; round < 64; round++) {
        if (c->sending || c->releasing || !c->attached)
            return;
        /* A socket still in SYN_SENT can neither carry data nor take a
         * FIN: whatever was queued or asked for waits for net__connected. */
        if (c->connecting)
            return;
        net_slot_lock(c->o.slot);
        c->sq.flush_scheduled = 0;
        net__sendq_fold(&c->sq, loop->e);
        if (c->abort_requested) {
            net_slot_unlock(c->o.slot);
            return;
        }
        uint32_t max;
        net_iov *iov = send_iov(c, c->sq.count, &max);
        int n = sq_iov(c, iov, max);
        c->sq.inflight = (uint32_t)n;
        int closing = c->state == CS_CLOSING, shut = c->shutdown_requested;
        net_slot_unlock(c->o.slot);
        if (n == 0) {
            after_drain(loop, c, closing, shut);
            return;
        }
        c->sending = 1;
        int os_error = 0;
        int rc = loop->e->bk->send(loop, c, iov, n, &os_error);
        if (rc == NET__PENDING)
            return;
        c->sending = 0;
        if (rc < 0) {
            close_now(loop, c, rc, os_error, 1);
            return;
        }
        sent(loop, c, (size_t)rc);
    }
    /* Still more after many rounds: yield to other connections. */
    net_slot_lock(c->o.slot);
    net__conn_schedule_locked(c, OP_FLUSH);
    net_slot_unlock(c->o.slot);
}

void net__sent(net_conn *c, size_t len, int err, int os_error)
{
    net_loop *loop = c->o.loop;
    c->sending = 0;
    if (c->releasing)
        return;
    if (err) {
        close_now(loop, c, err, os_error, 1);
        return;
    }
    sent(loop, c, len);
    flush(loop, c);
}

/* ---- connecting ---- */

void net__connected(net_conn *c, int err, int os_error)
{
    net_loop *loop = c->o.loop;
    c->connecting = 0;
    if (c->releasing)
        return;
    if (err) {
        push_conn_event(c, NET_EV_CONNECT, err, os_error, 0, &c->peer);
        close_now(loop, c, err, os_error, 1);
        return;
    }
    os_tcp_prepare(c->o.sock, c->flags);
    net_addr peer = c->peer;
    os_sock_peer_addr(c->o.sock, &peer);
    net_slot_lock(c->o.slot);
    c->peer = peer;
    if (c->state == CS_CONNECTING)
        c->state = CS_OPEN;
    c->wire_open = 1;
    net_slot_unlock(c->o.slot);
    c->last_active = loop->now;
    push_conn_event(c, NET_EV_CONNECT, 0, 0, 0, &peer);
    recv_start(loop, &c->o);
    flush(loop, c);
}

/* ---- ending ---- */

static void close_now(net_loop *loop, net_conn *c, int reason, int os_error, int abortive)
{
    if (c->releasing)
        return;
    c->releasing = 1;
    c->close_reason = reason;
    c->close_os_error = reason ? os_error : 0;
    net_slot_lock(c->o.slot);
    c->state = CS_CLOSED; /* from here on no thread schedules work for it, nor writes to its socket */
    net_slot_unlock(c->o.slot);
    net__loop_unschedule(loop, &c->o);
    linger_remove(loop, c);
    net__rx_gate_open(&c->rx, loop->e);
    if (!c->attached) {
        if (abortive) /* never adopted (aborted before its loop started it): still an RST, not a FIN */
            os_sock_set_linger0(c->o.sock);
        os_sock_close(c->o.sock);
        c->o.sock = NET_BAD_SOCK;
        net__conn_released(c);
        return;
    }
    if (abortive)
        os_sock_set_linger0(c->o.sock);
    c->receiving = 0;
    loop->e->bk->close(loop, &c->o);
}

/* Off loop's list of connections. */
static void list_remove(net_loop *loop, net_conn *c)
{
    (void)loop;
    net_list_remove(&c->o.node);
}

void net__conn_released(net_conn *c)
{
    net_loop *loop = c->o.loop;
    list_remove(loop, c);
    net_frame_decoder_free(&c->dec);
    net_slot_lock(c->o.slot);
    sq_clear(c);
    net_slot_unlock(c->o.slot);
    atomic_fetch_sub(&loop->e->open_conns, 1);
    push_conn_event(c, NET_EV_CLOSE, c->close_reason, c->close_os_error, 0, NULL);
}

void net__conn_free(net_engine_s *e, net_conn *c)
{
    net__obj_retire(e, &c->o, c->reserved_events);
    free(c->iov);
    free(c);
}

void net__conn_abort_all(net_loop *loop)
{
    for (net_link *k = loop->conns, *next; k; k = next) {
        next = k->next;
        close_now(loop, (net_conn *)net__obj_of(k), NET_E_ABORTED, 0, 1);
    }
}

void net__conn_run_ops(net_loop *loop, net_conn *c, uint32_t ops)
{
    if (c->releasing)
        return;
    if (ops & (OP_START | OP_CONNECT)) {
        net_list_push(&loop->conns, &c->o.node);
        c->last_active = loop->now;
        int os_error = 0;
        int rc = loop->e->bk->conn_open(loop, c, &os_error);
        if (rc) {
            if (ops & OP_CONNECT)
                push_conn_event(c, NET_EV_CONNECT, rc, os_error, 0, &c->peer);
            close_now(loop, c, rc, os_error, 1);
            return;
        }
        c->attached = 1;
        if (ops & OP_CONNECT) {
            c->connecting = 1;
            rc = loop->e->bk->connect(loop, c, &c->peer, &os_error);
            if (rc < 0) {
                net__connected(c, rc, os_error);
                return;
            }
        } else {
            net_slot_lock(c->o.slot);
            c->wire_open = 1;
            net_slot_unlock(c->o.slot);
            recv_start(loop, &c->o);
            /* An accepted connection's ACCEPT is out before its start is
             * scheduled, so the script may have queued data, a close or a
             * shutdown that ran here while it was not attached yet. */
            ops |= OP_FLUSH;
        }
    }
    if (ops & OP_ABORT) {
        close_now(loop, c, NET_E_ABORTED, 0, 1);
        return;
    }
    if ((ops & OP_RESUME) && net__rx_gate_resume(&c->rx, loop->e))
        recv_start(loop, &c->o);
    if ((ops & OP_CLOSE) && !c->linger_deadline) /* the close is bounded from the moment it is asked for */
        c->linger_deadline = loop->now + loop->e->cfg.close_timeout_ms;
    if (ops & (OP_FLUSH | OP_CLOSE | OP_SHUTDOWN))
        flush(loop, c);
}

/* For an orderly end on the loop's own initiative (the peer finished and
 * everything of ours is out): 1 when the send queue is empty, and from then
 * on it stays so, since a send from another thread gets NET_E_CLOSED. The
 * check and the seal share one lock hold: a net_send that raced in between
 * would be accepted, then dropped by the close under a CLOSE status 0. */
static int seal_if_drained(net_conn *c)
{
    net_slot_lock(c->o.slot);
    int empty = c->sq.count == 0;
    if (empty)
        c->state = CS_CLOSING;
    net_slot_unlock(c->o.slot);
    return empty;
}

/* Connections whose peer sent FIN wait here until the script has seen all
 * their data and had one turn to answer; then they close. */
/* 1 when the next net_poll lets the linger check close c: the script has
 * everything c delivered and nothing of c's is in flight. The waitable
 * (io_threads = 0) asks it, since that next poll is what closes c. */
int net__conn_linger_due(net_loop *loop, net_conn *c)
{
    if (c->releasing || !c->peer_eof || c->wr_shut || c->sending)
        return 0;
    if (net_rx_gate_unpolled(&c->rx) != 0)
        return 0;
    return atomic_load(&loop->e->poll_seq) + 1 > atomic_load(&c->last_delivery_seq);
}

void net__conn_linger_check(net_loop *loop, net_conn *c)
{
    if (c->releasing || !c->peer_eof || c->wr_shut || c->sending)
        return;
    if (net_rx_gate_unpolled(&c->rx) != 0)
        return;
    if (atomic_load(&loop->e->poll_seq) <= atomic_load(&c->last_delivery_seq))
        return;
    if (seal_if_drained(c))
        close_now(loop, c, 0, 0, 0);
}

void net__conn_tick(net_loop *loop, net_conn *c)
{
    if (c->releasing)
        return;
    if (c->linger_deadline && loop->now >= c->linger_deadline) {
        /* Only a peer that finished sending and has nothing of ours left to
         * take ends in order. Otherwise the close timed out: an RST, and the
         * CLOSE says so, since bytes still in the kernel's buffer are lost. */
        if (c->peer_eof && seal_if_drained(c))
            close_now(loop, c, 0, 0, 0);
        else
            close_now(loop, c, NET_E_TIMEDOUT, 0, 1);
        return;
    }
    uint32_t idle = atomic_load_explicit(&c->idle_ms, memory_order_relaxed);
    if (idle && !c->linger_deadline && loop->now - c->last_active >= idle) {
        /* Writes from another thread (net__conn_push_locked) count as
         * activity too; the flag says one happened since the last look,
         * so the timeout may run up to one idle period late after one. */
        if (atomic_exchange_explicit(&c->wrote_elsewhere, 0, memory_order_relaxed))
            c->last_active = loop->now;
        else
            close_now(loop, c, NET_E_TIMEDOUT, 0, 1);
    }
}
