/*
 * udp_echo.c - the UDP echo server of docs/CONVENTIONS.md, written against
 * net.h only.
 *
 *   udp_echo [--port P] [--host H] [--backend auto|epoll|io_uring|iocp]
 *            [--io-threads N] [--max-message BYTES] [--seconds S]
 *            [--framing raw] [--length-includes-header]
 *
 * Every datagram goes straight back to its sender (the DATAGRAM event's
 * addr) with net_sendto. --framing is accepted so every echo server takes
 * the same command line, but a datagram is its own message: only raw is
 * allowed (--length-includes-header is accepted and means nothing).
 * --max-message caps the datagram size (at most 65507): bigger arrivals are
 * dropped and counted by the library.
 *
 * A full send queue (NET_E_WOULDBLOCK) drops that echo and counts it; the
 * server never waits for a client, as UDP itself would not. Prints
 * "listening on HOST:PORT ..." once on stdout, a stats line every 2 s on
 * stderr, and on SIGINT/SIGTERM or after --seconds closes the socket (the
 * echoes still queued go out), prints its SUMMARY line on stdout (drops
 * included) and exits 0.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "net.h"

#define EVENT_BATCH 512
#define STATS_PERIOD_MS 2000
#define CLOSE_TIMEOUT_MS 2000
#define MAX_ERROR_LINES 10

static const cli_spec server_cli = {
    "[--port P] [--host H] [--backend auto|epoll|io_uring|iocp]\n"
    "          [--io-threads N] [--max-message BYTES] [--seconds S]\n"
    "          [--framing raw] [--length-includes-header]\n",
    1, /* --port 0: any free port */
    0, /* --seconds 0: until signalled */
    NULL,
    NULL,
    NULL,
};

typedef struct counters {
    unsigned long long received;    /* DATAGRAM events */
    unsigned long long echoed;      /* accepted by net_sendto */
    unsigned long long queue_full;  /* dropped: NET_E_WOULDBLOCK */
    unsigned long long send_failed; /* net_sendto refused for another reason */
    unsigned long long error_events;
    unsigned error_lines;
} counters;

static void print_stats(net_engine engine, const counters *k, net_stats *prev, double *prev_t)
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
            "stats: udp_sockets=%llu in=%.0f dgram/s out=%.0f dgram/s in=%.2f MB/s out=%.2f MB/s "
            "datagrams_in=%llu datagrams_out=%llu queue_full=%llu oversize_dropped=%llu send_errors=%llu\n",
            (unsigned long long)s.udp_sockets, (double)(s.datagrams_in - prev->datagrams_in) / dt,
            (double)(s.datagrams_out - prev->datagrams_out) / dt, (double)(s.bytes_in - prev->bytes_in) / dt / 1e6,
            (double)(s.bytes_out - prev->bytes_out) / dt / 1e6, (unsigned long long)s.datagrams_in,
            (unsigned long long)s.datagrams_out, k->queue_full, (unsigned long long)s.datagrams_dropped,
            (unsigned long long)s.datagram_send_errors);
    fflush(stderr);
    *prev = s;
    *prev_t = t;
}

static void on_datagram(counters *k, const net_event *ev)
{
    int rc = net_sendto(ev->handle, &ev->addr, ev->data, ev->len);
    k->received++;
    if (rc == NET_OK) {
        k->echoed++;
    } else if (rc == NET_E_WOULDBLOCK) {
        k->queue_full++; /* the queue is send_cap bytes: this echo is dropped, like a full socket buffer would */
    } else {
        char from[80] = "?";
        k->send_failed++;
        net_addr_format(&ev->addr, from, sizeof from);
        if (k->error_lines++ < MAX_ERROR_LINES)
            fprintf(stderr, "net_sendto %s (%u bytes): %s (%d)\n", from, ev->len, net_strerror(rc), rc);
    }
}

int main(int argc, char **argv)
{
    cli_opts opt;
    net_config cfg;
    net_udp_config ucfg;
    net_engine engine = 0;
    net_handle sock = 0;
    net_addr bound;
    char addr_text[80];
    static net_event events[EVENT_BATCH];
    net_stats prev, fin;
    counters k;
    double start, prev_t, next_stats, seconds;
    int64_t oversize = 0;
    int open = 1;
    int rc;
    int exit_code = 0;

    cli_defaults(&opt);
    cli_parse(argc, argv, &server_cli, &opt);
    if (opt.framing != NET_FRAMING_RAW) {
        fprintf(stderr, "udp_echo: a datagram is its own message: --framing must be raw\n");
        cli_usage(argv[0], &server_cli);
    }

    net_config_init(&cfg);
    cfg.backend = opt.backend;
    cfg.io_threads = opt.io_threads;
    rc = net_engine_create(&cfg, &engine);
    if (rc != NET_OK) {
        fprintf(stderr, "net_engine_create: %s (%d)\n", net_strerror(rc), rc);
        return 1;
    }

    net_udp_config_init(&ucfg);
    ucfg.max_datagram = opt.max_message < NET_UDP_MAX_PAYLOAD ? opt.max_message : NET_UDP_MAX_PAYLOAD;
    rc = net_udp_open(engine, opt.host, (uint16_t)opt.port, &ucfg, &sock);
    if (rc != NET_OK) {
        fprintf(stderr, "net_udp_open %s:%d: %s (%d)\n", opt.host, opt.port, net_strerror(rc), rc);
        net_engine_destroy(engine);
        return 1;
    }
    rc = net_local_addr(sock, &bound);
    if (rc != NET_OK || net_addr_format(&bound, addr_text, sizeof addr_text) < 0) {
        fprintf(stderr, "net_local_addr: %s (%d)\n", net_strerror(rc), rc);
        net_engine_destroy(engine);
        return 1;
    }

    cli_catch_stop(engine);

    printf("listening on %s backend=%s io_threads=%u framing=raw transport=udp\n", addr_text, net_backend_name(engine),
           opt.io_threads);
    fflush(stdout);

    memset(&k, 0, sizeof k);
    memset(&prev, 0, sizeof prev);
    start = prev_t = cli_now_sec();
    next_stats = start + STATS_PERIOD_MS / 1000.0;

    while (!cli_stop_requested()) {
        double t = cli_now_sec();
        int wait_ms, n;
        if (opt.seconds > 0 && t - start >= opt.seconds)
            break;
        if (cli_period_due(&next_stats, STATS_PERIOD_MS / 1000.0, t))
            print_stats(engine, &k, &prev, &prev_t);
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
            case NET_EV_DATAGRAM:
                on_datagram(&k, ev);
                break;
            case NET_EV_ERROR:
                /* Not fatal: e.g. Windows reporting an earlier echo's ICMP
                 * port unreachable. The socket stays open. */
                k.error_events++;
                if (k.error_lines++ < MAX_ERROR_LINES)
                    fprintf(stderr, "error event: %s (%d, os error %d)\n", net_strerror(ev->status), ev->status,
                            ev->os_error);
                break;
            case NET_EV_CLOSE:
                if (ev->handle == sock) {
                    fprintf(stderr, "socket closed: %s (%d)\n", net_strerror(ev->status), ev->status);
                    exit_code = 1;
                    open = 0;
                    cli_request_stop();
                }
                break;
            default:
                break;
            }
        }
    }
    seconds = cli_now_sec() - start;

    net_get_option(sock, NET_OPT_DROPPED, &oversize);
    if (open) {
        /* Graceful: the echoes still queued go out before the CLOSE. */
        double until = cli_now_sec() + CLOSE_TIMEOUT_MS / 1000.0;
        rc = net_close(sock);
        if (rc != NET_OK) {
            fprintf(stderr, "net_close: %s (%d)\n", net_strerror(rc), rc);
            exit_code = 1;
            open = 0;
        }
        while (open && cli_now_sec() < until) {
            int n = net_poll(engine, events, EVENT_BATCH, 50);
            if (n < 0)
                break;
            for (int i = 0; i < n; i++) {
                if (events[i].type == NET_EV_CLOSE && events[i].handle == sock) {
                    open = 0;
                    if (events[i].status != 0) {
                        fprintf(stderr, "close: %s (%d)\n", net_strerror(events[i].status), events[i].status);
                        exit_code = 1;
                    }
                }
            }
        }
        if (open) {
            fprintf(stderr, "no CLOSE event within %d ms of net_close\n", CLOSE_TIMEOUT_MS);
            exit_code = 1;
        }
    }

    print_stats(engine, &k, &prev, &prev_t);
    memset(&fin, 0, sizeof fin);
    fin.size = sizeof fin;
    net_engine_stats(engine, &fin);
    printf("SUMMARY datagrams=%llu seconds=%.3f echoed=%llu queue_full=%llu oversize_dropped=%lld send_errors=%llu "
           "send_failed=%llu error_events=%llu\n",
           k.received, seconds, k.echoed, k.queue_full, (long long)oversize,
           (unsigned long long)fin.datagram_send_errors, k.send_failed, k.error_events);
    fflush(stdout);

    rc = net_engine_destroy(engine);
    if (rc != NET_OK) {
        fprintf(stderr, "net_engine_destroy: %s (%d)\n", net_strerror(rc), rc);
        exit_code = 1;
    }
    return exit_code;
}
