/*
 * udp_echo.c - the UDP echo server of docs/CONVENTIONS.md, written against
 * net.h only.
 *
 *   udp_echo [--port P] [--host H] [--backend auto|epoll|io_uring|iocp]
 *            [--io-threads N] [--max-message BYTES] [--seconds S]
 *            [--framing raw] [--length-includes-header]
 *            [--reliable [--channels K] [--mode MODE] [--max-connections N]]
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
 *
 * --reliable serves reliable-UDP sessions (net_rudp_listen) instead: see
 * rudp_echo.c. Its "listening on" line ends with transport=rudp.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "echo_loop.h"
#include "net.h"
#include "rudp_echo.h"

#define EVENT_BATCH 512
#define CLOSE_TIMEOUT_MS 2000
#define MAX_ERROR_LINES 10

/* The options of --reliable; the common ones are cli.c's. */
typedef struct extra_opts {
    int reliable;
    int rudp_given; /* --channels or --mode: only with --reliable */
    rudp_echo_opts rudp;
} extra_opts;

static const char *const server_flags[] = {"--reliable", NULL};

static int server_option(void *ctx, const char *name, const char *val)
{
    extra_opts *x = (extra_opts *)ctx;
    unsigned long u;
    if (!val) {
        if (strcmp(name, "--reliable") != 0)
            return CLI_UNKNOWN;
        x->reliable = 1;
        return CLI_OK;
    }
    x->rudp_given = 1;
    if (strcmp(name, "--channels") == 0) {
        if (cli_parse_uint(val, NET_RUDP_MAX_CHANNELS, &u) || u == 0)
            return CLI_BAD;
        x->rudp.channels = (uint32_t)u;
    } else if (strcmp(name, "--mode") == 0) {
        if (cli_parse_rudp_mode(val, &x->rudp.mode) != 0)
            return CLI_BAD;
    } else {
        return CLI_UNKNOWN;
    }
    return CLI_OK;
}

static extra_opts g_extra = {0, 0, {NET_RUDP_MAX_CHANNELS, NET_RUDP_RELIABLE_ORDERED}};

static const cli_spec server_cli = {
    .usage = "[--port P] [--host H] [--backend auto|epoll|io_uring|iocp]\n"
             "          [--io-threads N] [--max-message BYTES] [--seconds S]\n"
             "          [--framing raw] [--length-includes-header]\n"
             "          [--reliable [--channels K] [--mode MODE] [--max-connections N]]\n"
             "--reliable: reliable-UDP sessions, K channels each (default 64), each message echoed on its\n"
             "channel in MODE: reliable-ordered (default), reliable-unordered, unreliable-sequenced,\n"
             "unreliable, or mixed (channel c in mode c % 4); the client's --mode must be the same.\n",
    /* --port 0: any free port; --seconds 0 (the default): until signalled. */
    .port_may_be_zero = 1,
    .flags = server_flags,
    .option = server_option,
    .ctx = &g_extra,
};

typedef struct server {
    net_engine engine;
    net_handle sock;
    int open; /* no CLOSE event for sock yet */
    int exit_code;
    unsigned long long received;    /* DATAGRAM events */
    unsigned long long echoed;      /* accepted by net_sendto */
    unsigned long long queue_full;  /* dropped: NET_E_WOULDBLOCK */
    unsigned long long send_failed; /* net_sendto refused for another reason */
    unsigned long long error_events;
    unsigned error_lines;
} server;

static void print_stats(void *ctx, const net_stats *s, const net_stats *prev, double dt)
{
    const server *sv = (const server *)ctx;
    fprintf(stderr,
            "stats: udp_sockets=%llu in=%.0f dgram/s out=%.0f dgram/s in=%.2f MB/s out=%.2f MB/s "
            "datagrams_in=%llu datagrams_out=%llu queue_full=%llu oversize_dropped=%llu send_errors=%llu\n",
            (unsigned long long)s->udp_sockets, (double)(s->datagrams_in - prev->datagrams_in) / dt,
            (double)(s->datagrams_out - prev->datagrams_out) / dt, (double)(s->bytes_in - prev->bytes_in) / dt / 1e6,
            (double)(s->bytes_out - prev->bytes_out) / dt / 1e6, (unsigned long long)s->datagrams_in,
            (unsigned long long)s->datagrams_out, sv->queue_full, (unsigned long long)s->datagrams_dropped,
            (unsigned long long)s->datagram_send_errors);
}

static void on_datagram(server *sv, const net_event *ev)
{
    int rc = net_sendto(ev->handle, &ev->addr, ev->data, ev->len);
    sv->received++;
    if (rc == NET_OK) {
        sv->echoed++;
    } else if (rc == NET_E_WOULDBLOCK) {
        sv->queue_full++; /* the queue is send_cap bytes: this echo is dropped, like a full socket buffer would */
    } else {
        char from[80] = "?";
        sv->send_failed++;
        net_addr_format(&ev->addr, from, sizeof from);
        if (sv->error_lines++ < MAX_ERROR_LINES)
            fprintf(stderr, "net_sendto %s (%u bytes): %s (%d)\n", from, ev->len, net_strerror(rc), rc);
    }
}

static void on_event(void *ctx, const net_event *ev)
{
    server *sv = (server *)ctx;
    switch (ev->type) {
    case NET_EV_DATAGRAM:
        on_datagram(sv, ev);
        break;
    case NET_EV_ERROR:
        /* Not fatal: e.g. Windows reporting an earlier echo's ICMP
         * port unreachable. The socket stays open. */
        sv->error_events++;
        if (sv->error_lines++ < MAX_ERROR_LINES)
            fprintf(stderr, "error event: %s (%d, os error %d)\n", net_strerror(ev->status), ev->status, ev->os_error);
        break;
    case NET_EV_CLOSE:
        if (ev->handle == sv->sock) {
            fprintf(stderr, "socket closed: %s (%d)\n", net_strerror(ev->status), ev->status);
            sv->exit_code = 1;
            sv->open = 0;
            cli_request_stop();
        }
        break;
    default:
        break;
    }
}

/* Graceful: the echoes still queued go out before the CLOSE, which must
 * come within CLOSE_TIMEOUT_MS and report no error. */
static void close_socket(server *sv)
{
    static net_event events[EVENT_BATCH];
    double until = cli_now_sec() + CLOSE_TIMEOUT_MS / 1000.0;
    int rc = net_close(sv->sock);
    if (rc != NET_OK) {
        fprintf(stderr, "net_close: %s (%d)\n", net_strerror(rc), rc);
        sv->exit_code = 1;
        sv->open = 0;
    }
    while (sv->open && cli_now_sec() < until) {
        int n = net_poll(sv->engine, events, EVENT_BATCH, 50);
        if (n < 0)
            break;
        for (int i = 0; i < n; i++) {
            if (events[i].type == NET_EV_CLOSE && events[i].handle == sv->sock) {
                sv->open = 0;
                if (events[i].status != 0) {
                    fprintf(stderr, "close: %s (%d)\n", net_strerror(events[i].status), events[i].status);
                    sv->exit_code = 1;
                }
            }
        }
    }
    if (sv->open) {
        fprintf(stderr, "no CLOSE event within %d ms of net_close\n", CLOSE_TIMEOUT_MS);
        sv->exit_code = 1;
    }
}

static void print_summary(const server *sv, double seconds, int64_t oversize)
{
    net_stats fin;
    memset(&fin, 0, sizeof fin);
    fin.size = sizeof fin;
    net_engine_stats(sv->engine, &fin);
    printf("SUMMARY datagrams=%llu seconds=%.3f echoed=%llu queue_full=%llu oversize_dropped=%lld send_errors=%llu "
           "send_failed=%llu error_events=%llu\n",
           sv->received, seconds, sv->echoed, sv->queue_full, (long long)oversize,
           (unsigned long long)fin.datagram_send_errors, sv->send_failed, sv->error_events);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    cli_opts opt;
    net_udp_config ucfg;
    server sv;
    double seconds;
    int64_t oversize = 0;
    int rc;

    cli_defaults(&opt);
    cli_parse(argc, argv, &server_cli, &opt);
    if (opt.framing != NET_FRAMING_RAW) {
        fprintf(stderr, "udp_echo: a datagram is its own message: --framing must be raw\n");
        cli_usage(argv[0], &server_cli);
    }
    if (g_extra.reliable)
        return rudp_echo_run(&opt, &g_extra.rudp);
    if (g_extra.rudp_given) {
        fprintf(stderr, "udp_echo: --channels and --mode need --reliable\n");
        cli_usage(argv[0], &server_cli);
    }
    memset(&sv, 0, sizeof sv);
    if (cli_engine_create(opt.backend, opt.io_threads, 0, &sv.engine) != NET_OK)
        return 1;

    net_udp_config_init(&ucfg);
    ucfg.max_datagram = opt.max_message < NET_UDP_MAX_PAYLOAD ? opt.max_message : NET_UDP_MAX_PAYLOAD;
    rc = net_udp_open(sv.engine, opt.host, (uint16_t)opt.port, &ucfg, &sv.sock);
    if (rc != NET_OK) {
        fprintf(stderr, "net_udp_open %s:%d: %s (%d)\n", opt.host, opt.port, net_strerror(rc), rc);
        net_engine_destroy(sv.engine);
        return 1;
    }
    sv.open = 1;
    if (echo_announce(sv.engine, sv.sock, &opt, " transport=udp") < 0) {
        net_engine_destroy(sv.engine);
        return 1;
    }

    echo_loop loop = {
        .engine = sv.engine, .seconds = opt.seconds, .on_event = on_event, .print_stats = print_stats, .ctx = &sv};
    if (echo_loop_run(&loop) != 0)
        sv.exit_code = 1;
    seconds = cli_now_sec() - loop.start;

    net_get_option(sv.sock, NET_OPT_DROPPED, &oversize);
    if (sv.open)
        close_socket(&sv);

    echo_loop_stats(&loop);
    print_summary(&sv, seconds, oversize);
    if (cli_engine_destroy(sv.engine) != 0)
        sv.exit_code = 1;
    return sv.exit_code;
}
