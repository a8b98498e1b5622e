/* uv_peer.c - the libuv peers' address parsing and loop (see uv_peer.h). */
#define _GNU_SOURCE /* uv.h needs POSIX types; the build is -std=c11 */
#include "uv_peer.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static uv_loop_t *run_loop;
static uv_signal_t sigint_h, sigterm_h;
static uv_timer_t stats_timer, stop_timer;
static void (*run_print_stats)(void);

int uv_peer_addr(const peer_opts *o, struct sockaddr_storage *ss)
{
    int r = strchr(o->host, ':') ? uv_ip6_addr(o->host, o->port, (struct sockaddr_in6 *)ss)
                                 : uv_ip4_addr(o->host, o->port, (struct sockaddr_in *)ss);
    if (r < 0) {
        fprintf(stderr, "bad host %s: %s\n", o->host, uv_strerror(r));
        return -1;
    }
    return 0;
}

static void on_stats(uv_timer_t *t)
{
    (void)t;
    run_print_stats();
}

static void on_stop_timer(uv_timer_t *t)
{
    (void)t;
    uv_stop(run_loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    fprintf(stderr, "stopping on signal %d\n", signum);
    uv_stop(run_loop);
}

void uv_peer_run(uv_loop_t *loop, const peer_opts *o, void (*print_stats)(void))
{
    run_loop = loop;
    run_print_stats = print_stats;
    uv_signal_init(loop, &sigint_h);
    uv_signal_start(&sigint_h, on_signal, SIGINT);
    uv_signal_init(loop, &sigterm_h);
    uv_signal_start(&sigterm_h, on_signal, SIGTERM);
    uv_timer_init(loop, &stats_timer);
    uv_timer_start(&stats_timer, on_stats, 2000, 2000);
    if (o->seconds > 0) {
        uv_timer_init(loop, &stop_timer);
        uv_timer_start(&stop_timer, on_stop_timer, (uint64_t)(o->seconds * 1000.0), 0);
    }
    uv_run(loop, UV_RUN_DEFAULT);
}
