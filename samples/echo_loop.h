/*
 * echo_loop.h - what the two C echo servers (echo_server.c over TCP,
 * udp_echo.c over UDP) share: announcing the bound address with the
 * "listening on" line of docs/CONVENTIONS.md, and the poll loop that runs
 * until a stop signal or --seconds, printing a stats line every 2 seconds.
 *
 * A server keeps what differs: how it opens its socket, what it does with
 * each event, and what its stats line says.
 */
#ifndef SAMPLES_ECHO_LOOP_H
#define SAMPLES_ECHO_LOOP_H

#include "cli.h"
#include "net.h"

/* Hands one event to the server. It stops the loop with cli_request_stop. */
typedef void (*echo_event_fn)(void *ctx, const net_event *ev);
/* A DATA event whose payload net_forward_data could not send back; rc is
 * the send's code (NET_E_WOULDBLOCK, NET_E_CLOSED...). */
typedef void (*echo_failed_fn)(void *ctx, const net_event *ev, int rc);
/* Prints one stats line to stderr: now and prev are the engine's counters
 * at this line and at the last one (all zero at the start), dt seconds
 * apart (never 0). */
typedef void (*echo_stats_fn)(void *ctx, const net_stats *now, const net_stats *prev, double dt);

typedef struct echo_loop {
    net_engine engine;
    double seconds; /* --seconds: 0 runs until a stop signal */
    echo_event_fn on_event;
    /* Set: every DATA event of a batch goes back to its sender with one
     * net_forward_data call, and on_event sees only the other events; this
     * is called for each DATA event whose send failed. NULL: on_event sees
     * every event. */
    echo_failed_fn on_forward_failed;
    echo_stats_fn print_stats;
    void *ctx;
    /* Kept by the loop. */
    double start; /* when echo_loop_run began (cli_now_sec) */
    net_stats prev;
    double prev_t;
} echo_loop;

/* Catches the stop signals, then prints on stdout, flushed,
 *   listening on HOST:PORT backend=NAME io_threads=N framing=NAME<tail>
 * for socket h (tail: "" or e.g. " transport=udp"). Signals come first so
 * that a harness which signals as soon as it reads the line stops the server
 * gracefully. Returns -1 (message printed) when the bound address cannot be
 * read; the line is then not printed. */
int echo_announce(net_engine engine, net_handle h, const cli_opts *o, const char *tail);

/* Polls and hands out events until cli_stop_requested() or l->seconds have
 * passed, with a stats line every 2 seconds. Returns 0, or 1 when net_poll
 * failed (message printed). */
int echo_loop_run(echo_loop *l);

/* Prints a stats line now (at the end of a run). */
void echo_loop_stats(echo_loop *l);

#endif
