/*
 * echo_server.c - the echo server of docs/CONVENTIONS.md, written against
 * net.h only.
 *
 *   echo_server [--port P] [--host H] [--framing raw|u16le|u16be|u32le|u32be]
 *               [--length-includes-header] [--backend auto|epoll|io_uring|iocp]
 *               [--io-threads N] [--max-message BYTES] [--max-connections N] [--seconds S]
 *
 * Every DATA event goes straight back to its sender: one message per message
 * when framed (the send adds the same header the peer used), the chunk as it
 * came when raw; a poll's whole batch with one net_forward_data call.
 * Prints "listening on HOST:PORT ..." once on stdout, a stats line every 2 s
 * on stderr, and exits 0 on SIGINT/SIGTERM or after --seconds.
 */
#include <stdio.h>

#include "cli.h"
#include "echo_loop.h"
#include "net.h"

static const cli_spec server_cli = {
    .usage = "[--port P] [--host H] [--framing raw|u16le|u16be|u32le|u32be]\n"
             "          [--length-includes-header] [--backend auto|epoll|io_uring|iocp]\n"
             "          [--io-threads N] [--max-message BYTES] [--max-connections N] [--seconds S]\n",
    /* --port 0: any free port; --seconds 0 (the default): until signalled. */
    .port_may_be_zero = 1,
};

typedef struct server {
    net_handle listener;
    int exit_code;
} server;

static void print_stats(void *ctx, const net_stats *s, const net_stats *prev, double dt)
{
    (void)ctx;
    fprintf(stderr,
            "stats: conns=%llu total=%llu rejected=%llu in=%.0f msg/s out=%.0f msg/s "
            "in=%.2f MB/s out=%.2f MB/s bytes_in=%llu bytes_out=%llu queued=%llu paused=%llu\n",
            (unsigned long long)s->connections, (unsigned long long)s->connections_total,
            (unsigned long long)s->accepts_rejected, (double)(s->messages_in - prev->messages_in) / dt,
            (double)(s->messages_out - prev->messages_out) / dt, (double)(s->bytes_in - prev->bytes_in) / dt / 1e6,
            (double)(s->bytes_out - prev->bytes_out) / dt / 1e6, (unsigned long long)s->bytes_in,
            (unsigned long long)s->bytes_out, (unsigned long long)s->send_queued, (unsigned long long)s->recv_paused);
}

static void on_echo_failed(void *ctx, const net_event *ev, int rc)
{
    (void)ctx;
    /* NET_E_WOULDBLOCK: the peer sends but does not read, and its echo
     * backlog hit the send cap. An echo server has nothing else to do with
     * such a peer, and waiting would only grow memory. A connection already
     * closing or gone (NET_E_CLOSED, NET_E_BADHANDLE) has its CLOSE coming. */
    if (rc != NET_E_CLOSED && rc != NET_E_BADHANDLE)
        net_abort(ev->handle);
}

static void on_event(void *ctx, const net_event *ev)
{
    server *sv = (server *)ctx;
    switch (ev->type) {
    case NET_EV_CLOSE:
        if (ev->handle == sv->listener) {
            fprintf(stderr, "listener closed: %s (%d)\n", net_strerror(ev->status), ev->status);
            sv->exit_code = 1;
            cli_request_stop();
        }
        break;
    default:
        /* ACCEPT, SEND_HIGHWATER/DRAINED, USER (wake-ups): nothing to do. */
        break;
    }
}

int main(int argc, char **argv)
{
    cli_opts opt;
    net_tcp_config tcp;
    net_engine engine = 0;
    server sv = {0, 0};
    int rc;

    cli_defaults(&opt);
    cli_parse(argc, argv, &server_cli, &opt);
    if (cli_engine_create_opts(&opt, opt.max_message, &engine) != NET_OK)
        return 1;

    net_tcp_config_init(&tcp);
    tcp.framing = opt.framing;
    if (opt.len_includes_header)
        tcp.flags |= NET_TCP_LEN_INCLUDES_HEADER;
    tcp.max_message = opt.max_message;
    rc = net_listen(engine, opt.host, (uint16_t)opt.port, &tcp, &sv.listener);
    if (rc != NET_OK) {
        fprintf(stderr, "net_listen %s:%d: %s (%d)\n", opt.host, opt.port, net_strerror(rc), rc);
        net_engine_destroy(engine);
        return 1;
    }
    if (echo_announce(engine, sv.listener, &opt, "") < 0) {
        net_engine_destroy(engine);
        return 1;
    }

    echo_loop loop = {.engine = engine,
                      .seconds = opt.seconds,
                      .on_event = on_event,
                      .on_forward_failed = on_echo_failed,
                      .print_stats = print_stats,
                      .ctx = &sv};
    if (echo_loop_run(&loop) != 0)
        sv.exit_code = 1;

    echo_loop_stats(&loop);
    if (cli_engine_destroy(engine) != 0)
        sv.exit_code = 1;
    return sv.exit_code;
}
