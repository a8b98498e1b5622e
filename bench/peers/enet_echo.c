/*
 * enet_echo.c - the ENet (libenet, Debian libenet-dev) counterpart of
 * samples/udp_echo --reliable, for bench/rudp.py.
 *
 * One ENet host on --host:--port (port 0: any free one) accepting up to 4095
 * peers with 64 channels each. Every received packet goes back to its peer
 * on the channel it came on, with the flags it came with (the same packet:
 * ENet takes it over, no copy), the way udp_echo --reliable answers each
 * message on its channel in that channel's mode. Services the host with a
 * 100 ms wait (to see a stop signal), then without waiting while events
 * keep coming.
 *
 * CLI: docs/CONVENTIONS.md (--backend, --io-threads, --framing raw and
 * --length-includes-header accepted, ignored). Prints
 *     listening on HOST:PORT backend=enet io_threads=0 framing=raw transport=rudp
 * and at exit (SIGINT/SIGTERM or --seconds)
 *     SUMMARY messages=N seconds=S echoed=E send_failed=X sessions=H disconnects=D
 */
#define _GNU_SOURCE
#include "peer_common.h"

#include <enet/enet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define MAX_PEERS 4095 /* ENET_PROTOCOL_MAXIMUM_PEER_ID */
#define CHANNELS 64

static unsigned long long n_messages, n_echoed, n_send_failed, n_sessions, n_disconnects;

static void on_event(ENetEvent *ev)
{
    switch (ev->type) {
    case ENET_EVENT_TYPE_CONNECT:
        n_sessions++;
        break;
    case ENET_EVENT_TYPE_DISCONNECT:
        n_disconnects++;
        break;
    case ENET_EVENT_TYPE_RECEIVE:
        n_messages++;
        /* The packet goes back as it came; ENet owns it once sent. */
        if (enet_peer_send(ev->peer, ev->channelID, ev->packet) == 0) {
            n_echoed++;
        } else {
            n_send_failed++;
            enet_packet_destroy(ev->packet);
        }
        break;
    default:
        break;
    }
}

static void announce(ENetHost *host, const peer_opts *o)
{
    ENetAddress bound;
    struct sockaddr_storage ss;
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    memset(&ss, 0, sizeof ss);
    if (enet_socket_get_address(host->socket, &bound) != 0)
        bound = host->address;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = bound.host; /* network order, as ENet keeps it */
    a->sin_port = htons(bound.port);
    peer_print_listening(&ss, "enet", o, " transport=rudp");
}

int main(int argc, char **argv)
{
    peer_opts o;
    peer_parse_args(argc, argv, &o);
    if (o.framing != PEER_RAW) {
        fprintf(stderr, "enet_echo: messages keep their own boundaries: --framing must be raw\n");
        return 2;
    }
    if (enet_initialize() != 0) {
        fprintf(stderr, "enet_initialize failed\n");
        return 1;
    }
    ENetAddress addr;
    memset(&addr, 0, sizeof addr);
    if (enet_address_set_host_ip(&addr, o.host) != 0) {
        fprintf(stderr, "enet_echo: --host %s: not an IPv4 address\n", o.host);
        return 2;
    }
    addr.port = (enet_uint16)o.port;
    ENetHost *host = enet_host_create(&addr, MAX_PEERS, CHANNELS, 0, 0);
    if (!host) {
        fprintf(stderr, "enet_host_create %s:%d failed\n", o.host, o.port);
        return 1;
    }
    peer_catch_stop();
    announce(host, &o);

    double start = peer_now_sec();
    while (!peer_stop_signal() && !(o.seconds > 0 && peer_now_sec() - start >= o.seconds)) {
        ENetEvent ev;
        int rc = enet_host_service(host, &ev, 100);
        while (rc > 0) {
            on_event(&ev);
            rc = enet_host_service(host, &ev, 0);
        }
        if (rc < 0) {
            fprintf(stderr, "enet_host_service failed\n");
            break;
        }
    }
    double seconds = peer_now_sec() - start;
    enet_host_flush(host);
    printf("SUMMARY messages=%llu seconds=%.3f echoed=%llu send_failed=%llu sessions=%llu disconnects=%llu\n",
           n_messages, seconds, n_echoed, n_send_failed, n_sessions, n_disconnects);
    fflush(stdout);
    enet_host_destroy(host);
    enet_deinitialize();
    return 0;
}
