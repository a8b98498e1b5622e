/*
 * echo_server.c - the echo server of docs/CONVENTIONS.md, written against
 * net.h only.
 *
 *   echo_server [--port P] [--host H] [--framing raw|u16le|u16be|u32le|u32be]
 *               [--length-includes-header] [--backend auto|epoll|io_uring|iocp]
 *               [--io-threads N] [--max-message BYTES] [--seconds S]
 *
 * Every DATA event goes straight back to its sender: one message per message
 * when framed (net_send adds the same header the peer used), the chunk as it
 * came when raw. Prints "listening on HOST:PORT ..." once on stdout, a stats
 * line every 2 s on stderr, and exits 0 on SIGINT/SIGTERM or after --seconds.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "net.h"

#define EVENT_BATCH 512
#define STATS_PERIOD_MS 2000

static const cli_spec server_cli = {
    "[--port P] [--host H] [--framing raw|u16le|u16be|u32le|u32be]\n"
    "          [--length-includes-header] [--backend auto|epoll|io_uring|iocp]\n"
    "          [--io-threads N] [--max-message BYTES] [--seconds S]\n",
    1, /* --port 0: any free port */
    0, /* --seconds 0: until signalled */
    NULL,
    NULL,
    NULL,
};

static void print_stats(net_engine engine, net_stats *prev, double *prev_t)
{
    net_stats s;
    double t = cli_now_sec();
    double dt = t - *prev_t;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    if (net_engine_stats(engine, &s) != NET_OK)
        return;
    if (dt <= 0)
        dt = 1e-9;
    fprintf(stderr,
            "stats: conns=%llu total=%llu rejected=%llu in=%.0f msg/s out=%.0f msg/s "
            "in=%.2f MB/s out=%.2f MB/s bytes_in=%llu bytes_out=%llu queued=%llu paused=%llu\n",
            (unsigned long long)s.connections, (unsigned long long)s.connections_total,
            (unsigned long long)s.accepts_rejected, (double)(s.messages_in - prev->messages_in) / dt,
            (double)(s.messages_out - prev->messages_out) / dt, (double)(s.bytes_in - prev->bytes_in) / dt / 1e6,
            (double)(s.bytes_out - prev->bytes_out) / dt / 1e6, (unsigned long long)s.bytes_in,
            (unsigned long long)s.bytes_out, (unsigned long long)s.send_queued, (unsigned long long)s.recv_paused);
    fflush(stderr);
    *prev = s;
    *prev_t = t;
}

int main(int argc, char **argv)
{
    cli_opts opt;
    net_config cfg;
    net_tcp_config tcp;
    net_engine engine = 0;
    net_handle listener = 0;
    net_addr bound;
    char addr_text[80];
    static net_event events[EVENT_BATCH];
    net_stats prev;
    double start, prev_t, next_stats;
    int rc;
    int exit_code = 0;

    cli_defaults(&opt);
    cli_parse(argc, argv, &server_cli, &opt);

    net_config_init(&cfg);
    cfg.backend = opt.backend;
    cfg.io_threads = opt.io_threads;
    cfg.max_message = opt.max_message;
    rc = net_engine_create(&cfg, &engine);
    if (rc != NET_OK) {
        fprintf(stderr, "net_engine_create: %s (%d)\n", net_strerror(rc), rc);
        return 1;
    }

    net_tcp_config_init(&tcp);
    tcp.framing = opt.framing;
    if (opt.len_includes_header)
        tcp.flags |= NET_TCP_LEN_INCLUDES_HEADER;
    tcp.max_message = opt.max_message;
    rc = net_listen(engine, opt.host, (uint16_t)opt.port, &tcp, &listener);
    if (rc != NET_OK) {
        fprintf(stderr, "net_listen %s:%d: %s (%d)\n", opt.host, opt.port, net_strerror(rc), rc);
        net_engine_destroy(engine);
        return 1;
    }
    rc = net_local_addr(listener, &bound);
    if (rc != NET_OK || net_addr_format(&bound, addr_text, sizeof addr_text) < 0) {
        fprintf(stderr, "net_local_addr: %s (%d)\n", net_strerror(rc), rc);
        net_engine_destroy(engine);
        return 1;
    }

    cli_catch_stop(engine);

    printf("listening on %s backend=%s io_threads=%u framing=%s\n", addr_text, net_backend_name(engine), opt.io_threads,
           cli_framing_name(opt.framing));
    fflush(stdout);

    memset(&prev, 0, sizeof prev);
    start = prev_t = cli_now_sec();
    next_stats = start + STATS_PERIOD_MS / 1000.0;

    while (!cli_stop_requested()) {
        double t = cli_now_sec();
        int wait_ms, n;
        if (opt.seconds > 0 && t - start >= opt.seconds)
            break;
        if (cli_period_due(&next_stats, STATS_PERIOD_MS / 1000.0, t))
            print_stats(engine, &prev, &prev_t);
        wait_ms = cli_poll_wait_ms(next_stats, t);

        n = net_poll(engine, events, EVENT_BATCH, wait_ms);
        if (n < 0) {
            fprintf(stderr, "net_poll: %s (%d)\n", net_strerror(n), n);
            exit_code = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            const net_event *ev = &events[i];
            switch (ev->type) {
            case NET_EV_DATA:
                rc = net_send(ev->handle, ev->data, ev->len);
                if (rc == NET_E_WOULDBLOCK) {
                    /* The peer sends but does not read: its echo backlog hit
                     * the send cap. An echo server has nothing else to do with
                     * such a peer, and waiting would only grow memory. */
                    net_abort(ev->handle);
                } else if (rc != NET_OK && rc != NET_E_CLOSED && rc != NET_E_BADHANDLE) {
                    net_abort(ev->handle);
                }
                break;
            case NET_EV_CLOSE:
                if (ev->handle == listener) {
                    fprintf(stderr, "listener closed: %s (%d)\n", net_strerror(ev->status), ev->status);
                    exit_code = 1;
                    cli_request_stop();
                }
                break;
            default:
                /* ACCEPT, SEND_HIGHWATER/DRAINED, USER (wake-ups): nothing to do. */
                break;
            }
        }
    }

    print_stats(engine, &prev, &prev_t);
    rc = net_engine_destroy(engine);
    if (rc != NET_OK) {
        fprintf(stderr, "net_engine_destroy: %s (%d)\n", net_strerror(rc), rc);
        exit_code = 1;
    }
    return exit_code;
}
