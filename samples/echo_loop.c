/* echo_loop.c - the echo servers' "listening on" line and poll loop (see echo_loop.h). */
#include "echo_loop.h"

#include <stdio.h>
#include <string.h>

#define EVENT_BATCH 512
#define STATS_PERIOD_S 2.0

int echo_announce(net_engine engine, net_handle h, const cli_opts *o, const char *tail)
{
    net_addr bound;
    char addr_text[80];
    int rc = net_local_addr(h, &bound);
    if (rc != NET_OK || net_addr_format(&bound, addr_text, sizeof addr_text) < 0) {
        fprintf(stderr, "net_local_addr: %s (%d)\n", net_strerror(rc), rc);
        return -1;
    }
    cli_catch_stop(engine);
    printf("listening on %s backend=%s io_threads=%u framing=%s%s\n", addr_text, net_backend_name(engine),
           o->io_threads, cli_framing_name(o->framing), tail);
    fflush(stdout);
    return 0;
}

void echo_loop_stats(echo_loop *l)
{
    net_stats s;
    double t = cli_now_sec();
    double dt = t - l->prev_t;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    if (net_engine_stats(l->engine, &s) != NET_OK)
        return;
    if (dt <= 0)
        dt = 1e-9;
    l->print_stats(l->ctx, &s, &l->prev, dt);
    fflush(stderr);
    l->prev = s;
    l->prev_t = t;
}

int echo_loop_run(echo_loop *l)
{
    static net_event events[EVENT_BATCH];
    static int results[EVENT_BATCH];
    double next_stats;

    memset(&l->prev, 0, sizeof l->prev);
    l->start = l->prev_t = cli_now_sec();
    next_stats = l->start + STATS_PERIOD_S;

    while (!cli_stop_requested()) {
        double t = cli_now_sec();
        int n;
        if (l->seconds > 0 && t - l->start >= l->seconds)
            break;
        if (cli_period_due(&next_stats, STATS_PERIOD_S, t))
            echo_loop_stats(l);

        n = net_poll(l->engine, events, EVENT_BATCH, cli_poll_wait_ms(next_stats, t));
        if (n < 0) {
            fprintf(stderr, "net_poll: %s (%d)\n", net_strerror(n), n);
            return 1;
        }
        if (!l->on_forward_failed) {
            for (int i = 0; i < n; i++)
                l->on_event(l->ctx, &events[i]);
            continue;
        }
        /* The batch's DATA payloads go back in one call (the library sends
         * each where it lies, without a copy); the rest follow in order. */
        net_forward_data(events, n, 0, results);
        for (int i = 0; i < n; i++) {
            if (results[i] == 1)
                l->on_event(l->ctx, &events[i]);
            else if (results[i] != 0)
                l->on_forward_failed(l->ctx, &events[i], results[i]);
        }
    }
    return 0;
}
