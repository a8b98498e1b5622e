/*
 * enet_client.c - the ENet counterpart of samples/dummy_client --udp
 * --reliable, for bench/rudp.py: drives bench/peers/enet_echo (or any ENet
 * echo) the way dummy_client drives udp_echo --reliable.
 *
 *   enet_client --port P [--host H] [--connections N] [--depth D] [--size BYTES]
 *               [--seconds S]
 *
 * N peers of one ENet host, each keeping D messages of BYTES bytes in flight
 * on channel 0, reliable (ENET_PACKET_FLAG_RELIABLE: ENet's reliable and
 * ordered mode). A message is the dummy client's layout: u32 peer id, u32
 * checksum (FNV-1a of everything after it), u64 sequence, u64 send time
 * (ns), then bytes that are a function of (id, sequence). Every echo must
 * be intact, its peer's, and the next in sequence: anything else counts as
 * corrupted. After the run the client waits (at most 10 s) for every echo
 * still due; each missing one is lost and an error.
 *
 * Ends with the UDP SUMMARY line of docs/CONVENTIONS.md
 *     SUMMARY messages=N seconds=S msgs_per_s=X mb_per_s=Y p50_us=A p99_us=B errors=E
 *             sent=N received=R lost=L late=0 corrupted=C send_full=0
 * and exits 1 on errors or when nothing came back. Plain C and ENet, no net.
 */
#define _POSIX_C_SOURCE 200809L
#include <enet/enet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_common.h"

#define HEADER 24
#define DRAIN_S 10.0
#define CONNECT_S 5.0
#define LAT_MAX 1000000 /* latency samples kept for the percentiles */

typedef struct epeer {
    ENetPeer *p;
    uint32_t id;
    int connected;
    uint64_t next_send, next_recv;
} epeer;

static const char *host_name = "127.0.0.1";
static long port = -1, connections = 10, depth = 1, size = 64;
static double seconds = 5;
static epeer *peers;
static uint8_t *scratch;
static uint64_t sent, received, bytes, lost, corrupted, errors;
static uint64_t *lat;
static size_t nlat;

static void usage(void)
{
    fprintf(stderr, "usage: enet_client --port P [--host H] [--connections N] [--depth D] [--size BYTES] "
                    "[--seconds S]\n");
    exit(2);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void fill_body(uint8_t *b, size_t n, uint32_t id, uint64_t seq)
{
    uint64_t x = ((uint64_t)id << 40) ^ seq ^ 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (uint8_t)x;
    }
}

static void bad(const char *fmt, uint32_t id, unsigned long long a, unsigned long long b)
{
    if (corrupted++ < 20) {
        fprintf(stderr, "error: corrupted: peer %u: ", id);
        fprintf(stderr, fmt, a, b);
        fputc('\n', stderr);
    }
}

static int send_one(epeer *e)
{
    uint64_t seq = e->next_send;
    fill_body(scratch + HEADER, (size_t)size - HEADER, e->id, seq);
    put_le(scratch, e->id, 4);
    put_le(scratch + 8, seq, 8);
    put_le(scratch + 16, now_ns(), 8);
    put_le(scratch + 4, fnv1a(scratch + 8, (size_t)size - 8), 4);
    ENetPacket *pk = enet_packet_create(scratch, (size_t)size, ENET_PACKET_FLAG_RELIABLE);
    if (!pk || enet_peer_send(e->p, 0, pk) != 0) {
        if (pk)
            enet_packet_destroy(pk);
        errors++;
        fprintf(stderr, "error: peer %u: enet_peer_send failed\n", e->id);
        return -1;
    }
    e->next_send++;
    sent++;
    return 0;
}

static void fill(epeer *e, int running)
{
    while (running && e->connected && e->next_send - e->next_recv < (uint64_t)depth)
        if (send_one(e) < 0)
            break;
}

static void on_receive(epeer *e, const ENetPacket *pk, int running)
{
    const uint8_t *m = pk->data;
    uint64_t now = now_ns();
    if (pk->dataLength != (size_t)size) {
        bad("%llu bytes, sent %llu", e->id, (unsigned long long)pk->dataLength, (unsigned long long)size);
        return;
    }
    uint64_t seq = get_le(m + 8, 8);
    if (get_le(m + 4, 4) != fnv1a(m + 8, (size_t)size - 8) || get_le(m, 4) != e->id) {
        bad("bad checksum or another peer's message (seq %llu, expected %llu)", e->id, (unsigned long long)seq,
            (unsigned long long)e->next_recv);
        return;
    }
    if (seq != e->next_recv) {
        bad("seq %llu, expected %llu (reliable channel out of order)", e->id, (unsigned long long)seq,
            (unsigned long long)e->next_recv);
        return;
    }
    fill_body(scratch, (size_t)size - HEADER, e->id, seq);
    if (memcmp(scratch, m + HEADER, (size_t)size - HEADER) != 0) {
        bad("seq %llu body differs%llu", e->id, (unsigned long long)seq, 0ull);
        return;
    }
    uint64_t t = get_le(m + 16, 8);
    if (nlat < LAT_MAX)
        lat[nlat++] = now > t ? now - t : 0;
    e->next_recv++;
    received++;
    bytes += (uint64_t)size;
    fill(e, running);
}

static void parse(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *n = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (strcmp(n, "--host") == 0)
            host_name = v;
        else if (strcmp(n, "--port") == 0)
            port = client_parse_long("enet_client", n, v, 1, 65535, usage);
        else if (strcmp(n, "--connections") == 0)
            connections = client_parse_long("enet_client", n, v, 1, 4000, usage);
        else if (strcmp(n, "--depth") == 0)
            depth = client_parse_long("enet_client", n, v, 1, 100000, usage);
        else if (strcmp(n, "--size") == 0)
            size = client_parse_long("enet_client", n, v, HEADER, 1 << 20, usage);
        else if (strcmp(n, "--seconds") == 0) {
            char *end;
            seconds = strtod(v, &end);
            if (*end || !(seconds > 0)) {
                fprintf(stderr, "enet_client: bad --seconds: '%s'\n", v);
                usage();
            }
        } else {
            fprintf(stderr, "enet_client: unknown option %s\n", n);
            usage();
        }
        i++;
    }
    if (port < 0) {
        fprintf(stderr, "enet_client: --port is required\n");
        usage();
    }
}

/* One service round: the first call may wait up to wait_ms. */
static void service(ENetHost *h, int wait_ms, int running, long *open)
{
    ENetEvent ev;
    int rc = enet_host_service(h, &ev, (enet_uint32)wait_ms);
    while (rc > 0) {
        epeer *e = (epeer *)ev.peer->data;
        if (ev.type == ENET_EVENT_TYPE_CONNECT) {
            e->connected = 1;
            fill(e, running);
        } else if (ev.type == ENET_EVENT_TYPE_RECEIVE) {
            on_receive(e, ev.packet, running);
            enet_packet_destroy(ev.packet);
        } else if (ev.type == ENET_EVENT_TYPE_DISCONNECT) {
            if (e->connected && running) {
                errors++;
                fprintf(stderr, "error: peer %u disconnected during the run\n", e->id);
            }
            e->connected = 0;
            (*open)--;
        }
        rc = enet_host_service(h, &ev, 0);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_us(double p)
{
    if (!nlat)
        return 0;
    size_t r = (size_t)(p / 100.0 * (double)nlat);
    return (double)lat[r < nlat ? r : nlat - 1] / 1000.0;
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    peers = calloc((size_t)connections, sizeof *peers);
    scratch = malloc((size_t)size);
    lat = malloc(sizeof *lat * LAT_MAX);
    if (!peers || !scratch || !lat || enet_initialize() != 0) {
        fprintf(stderr, "enet_client: out of memory or enet_initialize failed\n");
        return 1;
    }
    ENetHost *h = enet_host_create(NULL, (size_t)connections, 1, 0, 0);
    ENetAddress addr;
    if (!h || enet_address_set_host(&addr, host_name) != 0) {
        fprintf(stderr, "enet_client: enet_host_create or --host %s failed\n", host_name);
        return 1;
    }
    addr.port = (enet_uint16)port;
    long open = 0;
    for (long k = 0; k < connections; k++) {
        peers[k].id = (uint32_t)k + 1;
        peers[k].p = enet_host_connect(h, &addr, 1, 0);
        if (!peers[k].p) {
            fprintf(stderr, "error: enet_host_connect failed\n");
            errors++;
            continue;
        }
        peers[k].p->data = &peers[k];
        open++;
    }
    uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)(seconds * 1e9);
    while (now_ns() < deadline)
        service(h, 1, 1, &open);
    uint64_t t_run_end = now_ns(), t_end = t_run_end;
    /* drain: nothing new, every echo still due comes back */
    uint64_t due = 0;
    for (long k = 0; k < connections; k++)
        due += peers[k].next_send - peers[k].next_recv;
    while (due && (double)(now_ns() - t_run_end) / 1e9 < DRAIN_S) {
        uint64_t before = received;
        service(h, 10, 0, &open);
        due -= received - before;
        if (received != before)
            t_end = now_ns();
    }
    for (long k = 0; k < connections; k++) {
        if (!peers[k].connected) {
            if (peers[k].p && peers[k].next_send == 0) {
                errors++;
                fprintf(stderr, "error: peer %u never connected\n", peers[k].id);
            }
            continue;
        }
        lost += peers[k].next_send - peers[k].next_recv;
        enet_peer_disconnect(peers[k].p, 0);
    }
    if (lost) {
        errors++;
        fprintf(stderr, "error: %llu reliable messages never echoed\n", (unsigned long long)lost);
    }
    uint64_t close_until = now_ns() + (uint64_t)(CONNECT_S * 1e9);
    while (open > 0 && now_ns() < close_until)
        service(h, 10, 0, &open);
    enet_host_destroy(h);
    enet_deinitialize();

    qsort(lat, nlat, sizeof *lat, cmp_u64);
    double secs = (double)(t_end - t0) / 1e9;
    errors += corrupted;
    printf("SUMMARY messages=%llu seconds=%.3f msgs_per_s=%.1f mb_per_s=%.3f p50_us=%.1f p99_us=%.1f errors=%llu "
           "sent=%llu received=%llu lost=%llu late=0 corrupted=%llu send_full=0\n",
           (unsigned long long)received, secs, (double)received / secs, (double)bytes / secs / 1e6, pct_us(50),
           pct_us(99), (unsigned long long)errors, (unsigned long long)sent, (unsigned long long)received,
           (unsigned long long)lost, (unsigned long long)corrupted);
    fflush(stdout);
    return errors || !received ? 1 : 0;
}
