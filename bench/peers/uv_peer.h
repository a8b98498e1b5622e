/*
 * uv_peer.h - what the two libuv peers (uv_echo, uv_udp_echo) share beyond
 * peer_common.h: the listening address as libuv parses it, and running the
 * loop the way both do, stopping on SIGINT/SIGTERM or after --seconds with a
 * stats line every 2 seconds.
 */
#ifndef UV_PEER_H
#define UV_PEER_H

#include <uv.h>

#include "peer_common.h"

/* opts' --host and --port through uv_ip6_addr (the host has a colon) or
 * uv_ip4_addr. Prints "bad host ..." and returns -1 when libuv refuses. */
int uv_peer_addr(const peer_opts *o, struct sockaddr_storage *ss);

/* Runs loop until a stop signal (which it reports on stderr) or
 * o->seconds (0: no limit), calling print_stats every 2 seconds. */
void uv_peer_run(uv_loop_t *loop, const peer_opts *o, void (*print_stats)(void));

#endif
