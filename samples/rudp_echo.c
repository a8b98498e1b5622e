/*
 * rudp_echo.c - the reliable-UDP mode of udp_echo (--reliable), written
 * against net.h only.
 *
 *   udp_echo --reliable [--channels K] [--mode MODE] [--port P] [--host H]
 *            [--backend ...] [--io-threads N] [--max-message BYTES]
 *            [--max-connections N] [--seconds S]
 *
 * Listens with net_rudp_listen and accepts every session (up to
 * --max-connections, the listener's max_sessions). Each message (a DATA
 * event, parent = its channel) goes back to its session on the same channel
 * in that channel's mode (--mode, the rule of cli.h; the client must say the
 * same). A full send queue (NET_E_WOULDBLOCK) drops that echo and counts it.
 * Sessions that end with a reason other than a graceful close (a timeout,
 * say, through a lossy path) are counted, not fatal.
 *
 * Prints once on stdout
 *     listening on HOST:PORT backend=NAME io_threads=N framing=raw transport=rudp
 * a stats line every 2 s on stderr, and on SIGINT/SIGTERM or after --seconds
 * closes the listener gracefully (queued echoes are delivered first), prints
 *     SUMMARY messages=N seconds=S echoed=E queue_full=Q send_failed=X sessions=H
 *             sessions_failed=F packets_in=I packets_out=O datagrams_dropped=D error_events=Y
 * (packets and drops are the listener's socket's, net_rudp_get_stats)
 * (one line) and exits 0.
 */
#include "rudp_echo.h"

#include <stdio.h>
#include <string.h>

#include "echo_loop.h"
#include "net.h"

#define EVENT_BATCH 512
/* The listener's graceful close waits for each session's (close_timeout_ms
 * of the config, 5 s by default): a little more than that. */
#define CLOSE_TIMEOUT_MS 7000
#define MAX_ERROR_LINES 10

typedef struct rserver {
    const rudp_echo_opts *r;
    net_engine engine;
    net_handle listener;
    int open; /* no CLOSE event for the listener yet */
    int closing;
    int exit_code;
    unsigned long long messages, echoed, queue_full, send_failed;
    unsigned long long sessions, sessions_open, sessions_failed, error_events;
    unsigned error_lines;
} rserver;

static void report(rserver *sv, const char *what, int status)
{
    if (sv->error_lines++ < MAX_ERROR_LINES)
        fprintf(stderr, "%s: %s (%d)\n", what, net_strerror(status), status);
}

static void print_stats(void *ctx, const net_stats *s, const net_stats *prev, double dt)
{
    const rserver *sv = (const rserver *)ctx;
    net_rudp_stats rs;
    memset(&rs, 0, sizeof rs);
    rs.size = sizeof rs;
    net_rudp_get_stats(sv->listener, &rs);
    /* The listener's own counters (net_rudp_get_stats), not the engine's. */
    (void)s;
    (void)prev;
    (void)dt;
    fprintf(stderr,
            "stats: sessions=%llu accepted=%llu refused=%llu packets_in=%llu packets_out=%llu messages=%llu "
            "echoed=%llu queue_full=%llu datagrams_dropped=%llu cookies_rejected=%llu\n",
            (unsigned long long)rs.sessions, (unsigned long long)rs.handshakes, (unsigned long long)rs.sessions_refused,
            (unsigned long long)rs.packets_received, (unsigned long long)rs.packets_sent, sv->messages, sv->echoed,
            sv->queue_full, (unsigned long long)rs.datagrams_dropped, (unsigned long long)rs.cookies_rejected);
}

static void on_data(rserver *sv, const net_event *ev)
{
    uint32_t channel = (uint32_t)ev->parent;
    int rc = net_rudp_send(ev->handle, channel, cli_rudp_channel_mode(sv->r->mode, channel), ev->data, ev->len);
    sv->messages++;
    if (rc == NET_OK) {
        sv->echoed++;
    } else if (rc == NET_E_WOULDBLOCK) {
        sv->queue_full++; /* send_cap reached: this echo is dropped; the server never waits for one client */
    } else {
        sv->send_failed++;
        report(sv, "net_rudp_send", rc);
    }
}

static void on_close(rserver *sv, const net_event *ev)
{
    if (ev->handle == sv->listener) {
        sv->open = 0;
        if (!sv->closing || ev->status != 0) {
            report(sv, "listener closed", ev->status);
            sv->exit_code = 1;
        }
        cli_request_stop();
        return;
    }
    sv->sessions_open--;
    if (ev->status != 0) {
        sv->sessions_failed++;
        report(sv, "session closed", ev->status);
    }
}

static void on_event(void *ctx, const net_event *ev)
{
    rserver *sv = (rserver *)ctx;
    switch (ev->type) {
    case NET_EV_ACCEPT:
        sv->sessions++;
        sv->sessions_open++;
        break;
    case NET_EV_DATA:
        on_data(sv, ev);
        break;
    case NET_EV_ERROR:
        sv->error_events++;
        report(sv, "error event", ev->status);
        break;
    case NET_EV_CLOSE:
        on_close(sv, ev);
        break;
    default:
        break;
    }
}

/* Graceful: every session delivers what it has queued, then the listener's
 * CLOSE comes last, within CLOSE_TIMEOUT_MS and with status 0. */
static void close_listener(rserver *sv)
{
    static net_event events[EVENT_BATCH];
    double until = cli_now_sec() + CLOSE_TIMEOUT_MS / 1000.0;
    int rc = net_close(sv->listener);
    sv->closing = 1;
    if (rc != NET_OK) {
        report(sv, "net_close", rc);
        sv->exit_code = 1;
        sv->open = 0;
    }
    while (sv->open && cli_now_sec() < until) {
        int n = net_poll(sv->engine, events, EVENT_BATCH, 50);
        if (n < 0)
            break;
        for (int i = 0; i < n; i++)
            on_event(sv, &events[i]);
    }
    if (sv->open) {
        fprintf(stderr, "no CLOSE event within %d ms of net_close\n", CLOSE_TIMEOUT_MS);
        sv->exit_code = 1;
    }
}

static void print_summary(const rserver *sv, double seconds, const net_rudp_stats *rs)
{
    printf("SUMMARY messages=%llu seconds=%.3f echoed=%llu queue_full=%llu send_failed=%llu sessions=%llu "
           "sessions_failed=%llu packets_in=%llu packets_out=%llu datagrams_dropped=%llu error_events=%llu\n",
           sv->messages, seconds, sv->echoed, sv->queue_full, sv->send_failed, sv->sessions, sv->sessions_failed,
           (unsigned long long)rs->packets_received, (unsigned long long)rs->packets_sent,
           (unsigned long long)rs->datagrams_dropped, sv->error_events);
    fflush(stdout);
}

static int open_listener(rserver *sv, const cli_opts *o)
{
    net_rudp_config cfg;
    net_rudp_config_init(&cfg);
    cfg.channels = sv->r->channels;
    cfg.max_message = o->max_message;
    if (cfg.max_message > cfg.recv_window)
        cfg.recv_window = cfg.max_message;
    if (cfg.max_message > cfg.send_cap)
        cfg.send_cap = cfg.max_message;
    if (o->max_conns)
        cfg.max_sessions = o->max_conns;
    int rc = net_rudp_listen(sv->engine, o->host, (uint16_t)o->port, &cfg, &sv->listener);
    if (rc != NET_OK) {
        fprintf(stderr, "net_rudp_listen %s:%d: %s (%d)\n", o->host, o->port, net_strerror(rc), rc);
        return -1;
    }
    sv->open = 1;
    return 0;
}

int rudp_echo_run(const cli_opts *o, const rudp_echo_opts *r)
{
    rserver sv;
    memset(&sv, 0, sizeof sv);
    sv.r = r;
    if (cli_engine_create(o->backend, o->io_threads, 0, &sv.engine) != NET_OK)
        return 1;
    if (open_listener(&sv, o) != 0 || echo_announce(sv.engine, sv.listener, o, " transport=rudp") < 0) {
        net_engine_destroy(sv.engine);
        return 1;
    }

    echo_loop loop = {
        .engine = sv.engine, .seconds = o->seconds, .on_event = on_event, .print_stats = print_stats, .ctx = &sv};
    if (echo_loop_run(&loop) != 0)
        sv.exit_code = 1;
    double seconds = cli_now_sec() - loop.start;

    net_rudp_stats rs;
    memset(&rs, 0, sizeof rs);
    rs.size = sizeof rs;
    net_rudp_get_stats(sv.listener, &rs);
    echo_loop_stats(&loop);
    if (sv.open)
        close_listener(&sv);
    print_summary(&sv, seconds, &rs);
    if (cli_engine_destroy(sv.engine) != 0)
        sv.exit_code = 1;
    return sv.exit_code;
}
