/*
 * net_broadcast.c - the game-style broadcast server on net: every tick, one
 * message to every connected client through net_broadcast (one shared,
 * ref-counted buffer queued to all of them).
 *
 *   net_broadcast [echo-server CLI of docs/CONVENTIONS.md] [--tick-ms MS] [--size BYTES]
 *
 * Tick message (the payload; the framing adds its header), the same from
 * every broadcast peer and checked by bench/bcast_client:
 *   bytes 0..7   the tick number, u64 little-endian, 1 for the first tick
 *   byte i >= 8  (uint8_t)(tick + i)
 * What clients send is read and dropped. A client whose send queue is full
 * (it stopped reading) misses the tick: counted as "full" on the stats line.
 * Prints "listening on ..." like the echo servers, stats every 2 s on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "echo_loop.h"
#include "net.h"

typedef struct server {
    net_handle listener, timer;
    net_handle *conns; /* connected clients; a connection's user data is its index */
    int *results;
    uint32_t count, cap;
    uint8_t *msg;
    uint32_t size;
    uint64_t tick, full;
    int exit_code;
} server;

static unsigned long g_tick_ms = 10, g_size = 64;

static int on_option(void *ctx, const char *name, const char *val)
{
    (void)ctx;
    if (strcmp(name, "--tick-ms") == 0)
        return cli_parse_uint(val, 60000, &g_tick_ms) == 0 && g_tick_ms > 0 ? CLI_OK : CLI_BAD;
    if (strcmp(name, "--size") == 0)
        return cli_parse_uint(val, 65000, &g_size) == 0 && g_size >= 8 ? CLI_OK : CLI_BAD;
    return CLI_UNKNOWN;
}

static const cli_spec server_cli = {
    .usage = "[--port P] [--host H] [--framing u16le|u16be|u32le|u32be]\n"
             "          [--length-includes-header] [--backend auto|epoll|io_uring|iocp]\n"
             "          [--io-threads N] [--max-connections N] [--seconds S]\n"
             "          [--tick-ms MS (default 10)] [--size BYTES (8..65000, default 64)]\n",
    .port_may_be_zero = 1,
    .option = on_option,
};

static int add_conn(server *sv, net_handle h)
{
    if (sv->count == sv->cap) {
        uint32_t cap = sv->cap ? sv->cap * 2 : 1024;
        net_handle *c = realloc(sv->conns, cap * sizeof *c);
        int *r = c ? realloc(sv->results, cap * sizeof *r) : NULL;
        if (c)
            sv->conns = c;
        if (!r)
            return -1;
        sv->results = r, sv->cap = cap;
    }
    net_set_user(h, sv->count);
    sv->conns[sv->count++] = h;
    return 0;
}

/* Swap-remove: the last connection takes the closed one's place and index. */
static void remove_conn(server *sv, net_handle h, uint64_t index)
{
    if (index >= sv->count || sv->conns[index] != h)
        return; /* never added (no memory then) */
    net_handle last = sv->conns[--sv->count];
    sv->conns[index] = last;
    if (last != h)
        net_set_user(last, index);
}

static void send_tick(server *sv)
{
    uint64_t t = ++sv->tick;
    for (int i = 0; i < 8; i++)
        sv->msg[i] = (uint8_t)(t >> (8 * i));
    for (uint32_t i = 8; i < sv->size; i++)
        sv->msg[i] = (uint8_t)(t + i);
    if (sv->count == 0)
        return;
    int queued = net_broadcast(sv->conns, sv->count, sv->msg, sv->size, sv->results);
    if (queued < 0) {
        fprintf(stderr, "net_broadcast: %s (%d)\n", net_strerror(queued), queued);
        return;
    }
    /* The others closed meanwhile: their CLOSE event is on its way. */
    for (uint32_t i = 0; queued < (int)sv->count && i < sv->count; i++)
        sv->full += sv->results[i] == NET_E_WOULDBLOCK;
}

static void on_event(void *ctx, const net_event *ev)
{
    server *sv = ctx;
    switch (ev->type) {
    case NET_EV_ACCEPT:
        if (add_conn(sv, ev->handle) < 0)
            net_abort(ev->handle);
        break;
    case NET_EV_TIMER:
        send_tick(sv);
        break;
    case NET_EV_CLOSE:
        if (ev->handle == sv->listener) {
            fprintf(stderr, "listener closed: %s (%d)\n", net_strerror(ev->status), ev->status);
            sv->exit_code = 1;
            cli_request_stop();
        } else {
            remove_conn(sv, ev->handle, ev->user);
        }
        break;
    default:
        break; /* DATA from clients is dropped; HIGHWATER/DRAINED need nothing */
    }
}

static void print_stats(void *ctx, const net_stats *s, const net_stats *prev, double dt)
{
    server *sv = ctx;
    fprintf(stderr, "stats: conns=%u ticks=%llu out=%.0f msg/s out=%.2f MB/s full=%llu queued=%llu\n", sv->count,
            (unsigned long long)sv->tick, (double)(s->messages_out - prev->messages_out) / dt,
            (double)(s->bytes_out - prev->bytes_out) / dt / 1e6, (unsigned long long)sv->full,
            (unsigned long long)s->send_queued);
}

static int serve(server *sv, net_engine engine, const cli_opts *opt)
{
    net_tcp_config tcp;
    net_tcp_config_init(&tcp);
    tcp.framing = opt->framing;
    if (opt->len_includes_header)
        tcp.flags |= NET_TCP_LEN_INCLUDES_HEADER;
    tcp.max_message = opt->max_message;
    int rc = net_listen(engine, opt->host, (uint16_t)opt->port, &tcp, &sv->listener);
    if (rc != NET_OK) {
        fprintf(stderr, "net_listen %s:%d: %s (%d)\n", opt->host, opt->port, net_strerror(rc), rc);
        return 1;
    }
    rc = net_timer_start(engine, (uint32_t)g_tick_ms, (uint32_t)g_tick_ms, 0, &sv->timer);
    if (rc != NET_OK) {
        fprintf(stderr, "net_timer_start: %s (%d)\n", net_strerror(rc), rc);
        return 1;
    }
    if (echo_announce(engine, sv->listener, opt, "") < 0)
        return 1;
    echo_loop loop = {
        .engine = engine, .seconds = opt->seconds, .on_event = on_event, .print_stats = print_stats, .ctx = sv};
    rc = echo_loop_run(&loop);
    echo_loop_stats(&loop);
    return rc;
}

int main(int argc, char **argv)
{
    cli_opts opt;
    net_engine engine = 0;
    server sv;
    memset(&sv, 0, sizeof sv);
    cli_defaults(&opt);
    opt.framing = NET_FRAMING_U16LE;
    cli_parse(argc, argv, &server_cli, &opt);
    if (opt.framing == NET_FRAMING_RAW) {
        fprintf(stderr, "net_broadcast: --framing raw: the ticks need a framing\n");
        return 2;
    }
    sv.size = (uint32_t)g_size;
    sv.msg = malloc(sv.size);
    if (!sv.msg || cli_engine_create_opts(&opt, opt.max_message, &engine) != NET_OK)
        return 1;
    int code = serve(&sv, engine, &opt) || sv.exit_code;
    if (cli_engine_destroy(engine) != 0)
        code = 1;
    free(sv.conns);
    free(sv.results);
    free(sv.msg);
    return code;
}
