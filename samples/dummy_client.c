/*
 * dummy_client.c - a verifying load generator for an echo server, written
 * against net.h only.
 *
 *   dummy_client [--connections N] [--depth D] [--size BYTES] [--seconds S]
 *                [--host H] [--port P] [--framing raw|u16le|u16be|u32le|u32be]
 *                [--length-includes-header] [--backend auto|epoll|io_uring|iocp]
 *                [--io-threads N] [--max-message BYTES]
 *                [--udp [--udp-connect] [--vary-size] [--rate R] [--loss-timeout-ms T]]
 *                [--udp --reliable [--channels K] [--mode MODE] [--vary-size] [--loss-timeout-ms T]]
 *
 * Each of N connections keeps D messages of BYTES bytes in flight. A message
 * is a 24-byte header followed by pseudo-random bytes:
 *
 *   offset 0  u32 connection id        offset 8   u64 sequence number
 *   offset 4  u32 FNV-1a of the body   offset 16  u64 send time (ns)
 *   (all little-endian)
 *
 * The body is a pure function of (connection id, sequence), so every echo is
 * checked byte for byte against a regenerated copy, its checksum, and its
 * place in the sequence; the send time gives the round-trip latency. With raw
 * framing the stream is cut back into messages by size, which is why every
 * message has the same size.
 *
 * Prints a progress line every second on stderr and, at the end, the SUMMARY
 * line of docs/CONVENTIONS.md on stdout. Exits 1 on any error (bad echo,
 * unexpected close, failed connect or send) or when nothing was echoed.
 *
 * --udp switches to datagrams against a UDP echo server (samples/udp_echo):
 * see dummy_udp.c. --udp --reliable drives reliable-UDP sessions (udp_echo
 * --reliable): see dummy_rudp.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dummy.h"
#include "net.h"

#define DRAIN_TIMEOUT_S 5.0
#define CLOSE_TIMEOUT_S 5.0

/* ------------------------------------------------------------- options */

_Static_assert(HEADER_SIZE == 24, "client_usage names the header size");

static const char client_usage[] = "[--connections N] [--depth D] [--size BYTES] [--seconds S]\n"
                                   "          [--host H] [--port P] [--framing raw|u16le|u16be|u32le|u32be]\n"
                                   "          [--length-includes-header] [--backend auto|epoll|io_uring|iocp]\n"
                                   "          [--io-threads N] [--max-message BYTES]\n"
                                   "          [--udp [--udp-connect] [--vary-size] [--rate R] [--loss-timeout-ms T]]\n"
                                   "          [--udp --reliable [--channels K] [--mode MODE] [--vary-size]\n"
                                   "           [--loss-timeout-ms T]]\n"
                                   "BYTES >= 24 (the verification header).\n"
                                   "--udp: N sockets, D datagrams in flight each, at most R datagrams/s in all\n"
                                   "(0 = no limit); an echo not back after T ms (default 1000) counts as lost.\n"
                                   "--reliable: N sessions, message seq on channel seq % K (default 1), each in\n"
                                   "MODE: reliable-ordered (default), reliable-unordered, unreliable-sequenced,\n"
                                   "unreliable or mixed (channel c in mode c % 4), as the server's --mode.\n";

static const char *const client_flags[] = {"--udp", "--udp-connect", "--vary-size", "--reliable", NULL};

/* The options only the dummy client has; the common ones are cli.c's. */
static int client_option(void *ctx, const char *name, const char *val)
{
    options *o = (options *)ctx;
    unsigned long u;
    if (!val) {
        if (strcmp(name, "--udp") == 0)
            o->udp = 1;
        else if (strcmp(name, "--udp-connect") == 0)
            o->udp_connect = 1;
        else if (strcmp(name, "--vary-size") == 0)
            o->vary_size = 1;
        else if (strcmp(name, "--reliable") == 0)
            o->reliable = 1;
        else
            return CLI_UNKNOWN;
        return CLI_OK;
    }
    if (strcmp(name, "--connections") == 0) {
        if (cli_parse_uint(val, 1000000, &u) || u == 0)
            return CLI_BAD;
        o->connections = (uint32_t)u;
    } else if (strcmp(name, "--depth") == 0) {
        if (cli_parse_uint(val, 1000000, &u) || u == 0)
            return CLI_BAD;
        o->depth = (uint32_t)u;
    } else if (strcmp(name, "--size") == 0) {
        if (cli_parse_uint(val, 0xffffffffUL, &u) || u < HEADER_SIZE)
            return CLI_BAD;
        o->size = (uint32_t)u;
    } else if (strcmp(name, "--rate") == 0) {
        char *end;
        o->rate = strtod(val, &end);
        if (*end || !(o->rate >= 0) || o->rate > 1e9)
            return CLI_BAD;
    } else if (strcmp(name, "--channels") == 0) {
        if (cli_parse_uint(val, NET_RUDP_MAX_CHANNELS, &u) || u == 0)
            return CLI_BAD;
        o->channels = (uint32_t)u;
        o->rudp_given = 1;
    } else if (strcmp(name, "--mode") == 0) {
        if (cli_parse_rudp_mode(val, &o->mode) != 0)
            return CLI_BAD;
        o->rudp_given = 1;
    } else if (strcmp(name, "--loss-timeout-ms") == 0) {
        if (cli_parse_uint(val, 600000, &u) || u == 0)
            return CLI_BAD;
        o->timeout_ms = (uint32_t)u;
    } else {
        return CLI_UNKNOWN;
    }
    return CLI_OK;
}

/* Longer than a screen: one branch per option, read as one list. */
static void parse_args(int argc, char **argv, options *o)
{
    cli_opts c;
    const cli_spec spec = {
        client_usage,
        0, /* a client needs the server's port */
        1, /* and runs for a time */
        client_flags,
        client_option,
        o,
    };

    memset(o, 0, sizeof *o);
    o->connections = 10;
    o->depth = 1;
    o->size = 64;
    o->timeout_ms = 1000;
    o->channels = 1;
    o->mode = NET_RUDP_RELIABLE_ORDERED;
    cli_defaults(&c);
    c.seconds = 5;
    cli_parse(argc, argv, &spec, &c);
    o->host = c.host;
    o->port = c.port;
    o->seconds = c.seconds;
    o->framing = c.framing;
    o->len_includes_header = c.len_includes_header;
    o->backend = c.backend;
    o->io_threads = c.io_threads;
    o->max_message = c.max_message;

    if ((o->reliable || o->rudp_given) && !o->udp) {
        fprintf(stderr, "--reliable, --channels and --mode need --udp\n");
        exit(2);
    }
    if (o->rudp_given && !o->reliable) {
        fprintf(stderr, "--channels and --mode need --reliable\n");
        exit(2);
    }
    if (o->reliable && (o->udp_connect || o->rate > 0)) {
        fprintf(stderr, "--reliable: sessions are connected and windowed: no --udp-connect or --rate\n");
        exit(2);
    }
    if (o->reliable && o->size > (16u << 20)) {
        fprintf(stderr, "--reliable: --size %u is larger than a reliable-UDP message (at most %u)\n", o->size,
                16u << 20);
        exit(2);
    }
    if (o->udp) {
        if (o->framing != NET_FRAMING_RAW) {
            fprintf(stderr, "--udp: datagrams and messages keep their own boundaries: --framing must be raw\n");
            exit(2);
        }
        if (!o->reliable && o->size > NET_UDP_MAX_PAYLOAD) {
            fprintf(stderr, "--udp: --size %u is larger than a UDP datagram (at most %u)\n", o->size,
                    NET_UDP_MAX_PAYLOAD);
            exit(2);
        }
        return;
    }
    if (o->udp_connect || o->vary_size || o->rate > 0) {
        fprintf(stderr, "--udp-connect, --vary-size and --rate need --udp\n");
        exit(2);
    }

    /* The largest payload the framing can describe. */
    {
        uint64_t limit = 0xffffffffull;
        if (o->framing == NET_FRAMING_U16LE || o->framing == NET_FRAMING_U16BE)
            limit = o->len_includes_header ? 65535 - 2 : 65535;
        else if (o->framing == NET_FRAMING_U32LE || o->framing == NET_FRAMING_U32BE)
            limit = o->len_includes_header ? 0xffffffffull - 4 : 0xffffffffull;
        if (o->framing != NET_FRAMING_RAW && o->max_message < limit)
            limit = o->max_message;
        if (o->size > limit) {
            fprintf(stderr, "--size %u is too large for framing %s (at most %llu)\n", o->size,
                    cli_framing_name(o->framing), (unsigned long long)limit);
            exit(2);
        }
    }
}

/* ---------------------------------------------------------- connections */

enum { C_CONNECTING, C_OPEN, C_CLOSING, C_DEAD };
enum { PHASE_RUN, PHASE_DRAIN, PHASE_CLOSE };

typedef struct conn {
    net_handle h;
    uint32_t id;
    int state;
    uint64_t next_send; /* sequence of the next message to send */
    uint64_t next_recv; /* sequence the next echo must carry */
    uint8_t *partial;   /* raw framing: bytes of a message not yet complete */
    uint32_t partial_len;
} conn;

typedef struct client {
    options opt;
    net_engine engine;
    conn *conns;
    uint8_t *scratch; /* outgoing message */
    uint8_t *expect;  /* regenerated body to compare against */
    int phase;
    uint32_t connecting, open;
    uint64_t inflight; /* sent and not yet echoed, all connections */
    uint64_t messages;
    dummy_errors err;
} client;

/* Gives up on a connection after an error: RST, and its CLOSE is expected. */
static void kill_conn(client *cl, conn *c)
{
    if (c->state == C_OPEN || c->state == C_CONNECTING) {
        if (c->state == C_OPEN)
            cl->open--;
        else
            cl->connecting--;
        cl->inflight -= c->next_send - c->next_recv;
        c->next_recv = c->next_send;
        c->state = C_CLOSING;
        net_abort(c->h);
    }
}

static int send_next(client *cl, conn *c)
{
    uint32_t size = cl->opt.size;
    uint8_t *m = cl->scratch;
    int rc;
    fill_body(m + HEADER_SIZE, size - HEADER_SIZE, c->id, c->next_send);
    put_u32(m, c->id);
    put_u32(m + 4, fnv1a(m + HEADER_SIZE, size - HEADER_SIZE));
    put_u64(m + 8, c->next_send);
    put_u64(m + 16, cli_now_ns());
    rc = net_send(c->h, m, size);
    if (rc != NET_OK) {
        dummy_error(&cl->err, "conn %u: net_send seq %llu: %s (%d)", c->id, (unsigned long long)c->next_send,
                    net_strerror(rc), rc);
        kill_conn(cl, c);
        return -1;
    }
    c->next_send++;
    cl->inflight++;
    return 0;
}

/* Checks one whole echoed message; on success counts it and keeps the
 * pipeline full. Returns -1 when the connection was given up. */
static int on_message(client *cl, conn *c, const uint8_t *m, uint32_t len)
{
    uint32_t size = cl->opt.size;
    uint32_t body_len = size - HEADER_SIZE;
    uint64_t seq, sent, t;

    if (len != size) {
        dummy_error(&cl->err, "conn %u: echo of %u bytes, expected %u", c->id, len, size);
        kill_conn(cl, c);
        return -1;
    }
    if (c->next_recv == c->next_send) {
        dummy_error(&cl->err, "conn %u: echo with nothing in flight", c->id);
        kill_conn(cl, c);
        return -1;
    }
    seq = get_u64(m + 8);
    if (get_u32(m) != c->id || seq != c->next_recv) {
        dummy_error(&cl->err, "conn %u: echo carries conn %u seq %llu, expected seq %llu (order broken)", c->id,
                    get_u32(m), (unsigned long long)seq, (unsigned long long)c->next_recv);
        kill_conn(cl, c);
        return -1;
    }
    fill_body(cl->expect, body_len, c->id, seq);
    if (memcmp(cl->expect, m + HEADER_SIZE, body_len) != 0) {
        uint32_t at = 0;
        while (at < body_len && cl->expect[at] == m[HEADER_SIZE + at])
            at++;
        dummy_error(&cl->err, "conn %u: seq %llu body differs at byte %u (got 0x%02x, expected 0x%02x)", c->id,
                    (unsigned long long)seq, HEADER_SIZE + at, m[HEADER_SIZE + at], cl->expect[at]);
        kill_conn(cl, c);
        return -1;
    }
    if (get_u32(m + 4) != fnv1a(m + HEADER_SIZE, body_len)) {
        dummy_error(&cl->err, "conn %u: seq %llu checksum mismatch", c->id, (unsigned long long)seq);
        kill_conn(cl, c);
        return -1;
    }
    sent = get_u64(m + 16);
    t = cli_now_ns();
    hist_add_ns(t > sent ? t - sent : 0);

    c->next_recv++;
    cl->inflight--;
    cl->messages++;
    if (cl->phase == PHASE_RUN)
        return send_next(cl, c);
    return 0;
}

static void on_data(client *cl, conn *c, const uint8_t *data, uint32_t len)
{
    uint32_t size = cl->opt.size;
    if (c->state != C_OPEN)
        return; /* given up on: whatever still arrives is ignored */
    if (cl->opt.framing != NET_FRAMING_RAW) {
        on_message(cl, c, data, len);
        return;
    }
    /* Raw: cut the stream back into size-byte messages. */
    while (len > 0) {
        if (c->partial_len == 0 && len >= size) {
            if (on_message(cl, c, data, size) < 0)
                return;
            data += size;
            len -= size;
        } else {
            uint32_t take = size - c->partial_len;
            if (take > len)
                take = len;
            memcpy(c->partial + c->partial_len, data, take);
            c->partial_len += take;
            data += take;
            len -= take;
            if (c->partial_len == size) {
                c->partial_len = 0;
                if (on_message(cl, c, c->partial, size) < 0)
                    return;
            }
        }
    }
}

/* A dummy_event_fn: ctx is the client (the time is not needed here). */
/* Longer than a screen: one case per event type the client checks. */
static void handle_event(void *ctx, const net_event *ev, uint64_t now)
{
    client *cl = (client *)ctx;
    conn *c;
    (void)now;
    if (ev->type != NET_EV_CONNECT && ev->type != NET_EV_DATA && ev->type != NET_EV_CLOSE)
        return;
    if (ev->user == 0 || ev->user > cl->opt.connections) {
        dummy_error(&cl->err, "event %u for unknown user data %llu", ev->type, (unsigned long long)ev->user);
        return;
    }
    c = &cl->conns[ev->user - 1];
    if (c->h != ev->handle) {
        dummy_error(&cl->err, "conn %u: event %u for handle %llx, expected %llx", c->id, ev->type,
                    (unsigned long long)ev->handle, (unsigned long long)c->h);
        return;
    }

    switch (ev->type) {
    case NET_EV_CONNECT:
        if (c->state != C_CONNECTING)
            break;
        cl->connecting--;
        if (ev->status != 0) {
            dummy_error(&cl->err, "conn %u: connect to %s:%d failed: %s (%d, os error %d)", c->id, cl->opt.host,
                        cl->opt.port, net_strerror(ev->status), ev->status, ev->os_error);
            c->state = C_CLOSING; /* a CLOSE event follows */
            break;
        }
        c->state = C_OPEN;
        cl->open++;
        if (cl->phase == PHASE_RUN) {
            for (uint32_t i = 0; i < cl->opt.depth; i++)
                if (send_next(cl, c) < 0)
                    break;
        }
        break;
    case NET_EV_DATA:
        on_data(cl, c, (const uint8_t *)ev->data, ev->len);
        break;
    case NET_EV_CLOSE:
        if (c->state == C_OPEN || c->state == C_CONNECTING) {
            dummy_error(&cl->err, "conn %u: closed unexpectedly: %s (%d, os error %d), %llu in flight", c->id,
                        net_strerror(ev->status), ev->status, ev->os_error,
                        (unsigned long long)(c->next_send - c->next_recv));
            if (c->state == C_OPEN)
                cl->open--;
            else
                cl->connecting--;
            cl->inflight -= c->next_send - c->next_recv;
        } else if (cl->phase == PHASE_CLOSE && c->state == C_CLOSING && ev->status != 0 &&
                   c->next_recv == c->next_send && c->partial_len == 0) {
            /* Our own graceful close of a healthy connection should end cleanly. */
            dummy_error(&cl->err, "conn %u: graceful close ended with %s (%d, os error %d)", c->id,
                        net_strerror(ev->status), ev->status, ev->os_error);
        }
        c->state = C_DEAD;
        break;
    }
}

/* One poll, its events handled; also the dummy_closer's poll (ctx: the client). */
static int poll_once(void *ctx, int timeout_ms)
{
    client *cl = (client *)ctx;
    return dummy_poll(cl->engine, timeout_ms, handle_event, cl, &cl->err);
}

/* Starts every connection; a failed net_connect is an error, the rest go on. */
static int connect_all(client *cl)
{
    for (uint32_t i = 0; i < cl->opt.connections; i++) {
        conn *c = &cl->conns[i];
        net_tcp_config tcp;
        int rc;
        c->id = i + 1;
        if (cl->opt.framing == NET_FRAMING_RAW) {
            c->partial = (uint8_t *)malloc(cl->opt.size);
            if (!c->partial) {
                fprintf(stderr, "out of memory\n");
                return -1;
            }
        }
        net_tcp_config_init(&tcp);
        tcp.framing = cl->opt.framing;
        if (cl->opt.len_includes_header)
            tcp.flags |= NET_TCP_LEN_INCLUDES_HEADER;
        tcp.max_message = cl->opt.max_message;
        tcp.user = c->id;
        rc = net_connect(cl->engine, cl->opt.host, (uint16_t)cl->opt.port, &tcp, &c->h);
        if (rc != NET_OK) {
            dummy_error(&cl->err, "conn %u: net_connect %s:%d: %s (%d)", c->id, cl->opt.host, cl->opt.port,
                        net_strerror(rc), rc);
            c->state = C_DEAD;
            continue;
        }
        c->state = C_CONNECTING;
        cl->connecting++;
    }
    return 0;
}

/* Run: keep every pipeline full until the deadline, a progress line a second. */
static void run(client *cl, uint64_t t0)
{
    uint64_t deadline = t0 + (uint64_t)(cl->opt.seconds * 1e9);
    uint64_t next_progress = t0 + 1000000000ull;
    uint64_t t_last = t0, last_msgs = 0;
    for (;;) {
        uint64_t t = cli_now_ns();
        int wait_ms;
        if (t >= next_progress) {
            double dt = (double)(t - t_last) / 1e9;
            fprintf(stderr,
                    "progress: t=%.1fs open=%u connecting=%u messages=%llu msgs/s=%.0f p50_us=%.1f "
                    "p99_us=%.1f errors=%llu\n",
                    (double)(t - t0) / 1e9, cl->open, cl->connecting, (unsigned long long)cl->messages,
                    (double)(cl->messages - last_msgs) / dt, hist_percentile_us(50), hist_percentile_us(99),
                    (unsigned long long)cl->err.count);
            fflush(stderr);
            last_msgs = cl->messages;
            t_last = t;
            next_progress += 1000000000ull;
        }
        if (t >= deadline || cli_stop_requested() || (cl->open == 0 && cl->connecting == 0))
            break;
        wait_ms = (int)(((next_progress < deadline ? next_progress : deadline) - t) / 1000000) + 1;
        if (wait_ms > CLI_POLL_SLICE_MS)
            wait_ms = CLI_POLL_SLICE_MS;
        if (poll_once(cl, wait_ms) < 0)
            break;
    }
}

/* Drain: send nothing new, wait for what is in flight. */
static void drain(client *cl)
{
    uint64_t until = cli_now_ns() + (uint64_t)(DRAIN_TIMEOUT_S * 1e9);
    cl->phase = PHASE_DRAIN;
    while ((cl->inflight > 0 || cl->connecting > 0) && cli_now_ns() < until)
        if (poll_once(cl, 50) < 0)
            break;
    if (cl->inflight > 0) {
        uint32_t shown = 0, stuck = 0;
        for (uint32_t i = 0; i < cl->opt.connections; i++) {
            conn *c = &cl->conns[i];
            if (c->state != C_OPEN || c->next_recv == c->next_send)
                continue;
            if (shown++ < 5)
                fprintf(stderr, "  conn %u: sent %llu, echoed %llu\n", c->id, (unsigned long long)c->next_send,
                        (unsigned long long)c->next_recv);
            stuck++;
        }
        dummy_error(&cl->err, "%llu messages on %u connections still not echoed %.0f s after the run ended",
                    (unsigned long long)cl->inflight, stuck, DRAIN_TIMEOUT_S);
    }
    if (cl->connecting > 0)
        dummy_error(&cl->err, "%u connections still connecting when the run ended", cl->connecting);
}

static uint32_t count_closing(void *ctx)
{
    const client *cl = (const client *)ctx;
    uint32_t waiting = 0;
    for (uint32_t i = 0; i < cl->opt.connections; i++)
        if (cl->conns[i].state == C_CLOSING)
            waiting++;
    return waiting;
}

/* Close: gracefully, and every connection must report its CLOSE. */
static void close_all(client *cl)
{
    const dummy_closer closer = {count_closing, poll_once, cl};
    cl->phase = PHASE_CLOSE;
    for (uint32_t i = 0; i < cl->opt.connections; i++) {
        conn *c = &cl->conns[i];
        if (c->state == C_OPEN || c->state == C_CONNECTING) {
            int rc = net_close(c->h);
            if (rc != NET_OK)
                dummy_error(&cl->err, "conn %u: net_close: %s (%d)", c->id, net_strerror(rc), rc);
            c->state = C_CLOSING;
        }
    }
    dummy_await_closes(&closer, CLOSE_TIMEOUT_S, &cl->err, "connections");
}

static void print_summary(const client *cl, double seconds)
{
    printf("SUMMARY messages=%llu seconds=%.3f msgs_per_s=%.1f mb_per_s=%.3f p50_us=%.1f "
           "p99_us=%.1f errors=%llu\n",
           (unsigned long long)cl->messages, seconds, (double)cl->messages / seconds,
           (double)cl->messages * cl->opt.size / seconds / 1e6, hist_percentile_us(50), hist_percentile_us(99),
           (unsigned long long)cl->err.count);
    fflush(stdout);
    if (cl->messages == 0 && cl->err.count == 0)
        fprintf(stderr, "error: no message was echoed\n");
}

/* Longer than a screen: the run's phases in order (set up, connect, run,
 * drain, close, summary), each already a function of its own. */
int main(int argc, char **argv)
{
    client cl;
    uint64_t t0, t_end;
    double seconds;
    int exit_code;

    memset(&cl, 0, sizeof cl);
    parse_args(argc, argv, &cl.opt);
    if (cl.opt.reliable)
        return dummy_rudp_run(&cl.opt);
    if (cl.opt.udp)
        return dummy_udp_run(&cl.opt);
    cli_catch_stop(0);

    cl.conns = (conn *)calloc(cl.opt.connections, sizeof(conn));
    cl.scratch = (uint8_t *)malloc(cl.opt.size);
    cl.expect = (uint8_t *)malloc(cl.opt.size);
    if (!cl.conns || !cl.scratch || !cl.expect) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }

    if (cli_engine_create(cl.opt.backend, cl.opt.io_threads, cl.opt.max_message, &cl.engine) != NET_OK)
        return 1;
    fprintf(stderr,
            "dummy_client: %u connections x depth %u, %u-byte messages, %.1f s, %s:%d framing=%s%s "
            "backend=%s io_threads=%u\n",
            cl.opt.connections, cl.opt.depth, cl.opt.size, cl.opt.seconds, cl.opt.host, cl.opt.port,
            cli_framing_name(cl.opt.framing), cl.opt.len_includes_header ? "+hdr" : "", net_backend_name(cl.engine),
            cl.opt.io_threads);

    t0 = cli_now_ns();
    if (connect_all(&cl) < 0)
        return 1;
    run(&cl, t0);
    drain(&cl);
    t_end = cli_now_ns();
    close_all(&cl);

    seconds = dummy_finish(cl.engine, t0, t_end, &cl.err);
    print_summary(&cl, seconds);
    exit_code = (cl.err.count > 0 || cl.messages == 0) ? 1 : 0;

    for (uint32_t i = 0; i < cl.opt.connections; i++)
        free(cl.conns[i].partial);
    free(cl.conns);
    free(cl.scratch);
    free(cl.expect);
    return exit_code;
}
