/* peer_common.c - CLI, address, signals, clock and frame decoding shared by the benchmark peers. */
#define _GNU_SOURCE
#include "peer_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

static const char *const framing_names[] = {"raw", "u16le", "u16be", "u32le", "u32be"};

const char *peer_framing_name(int framing)
{
    return framing >= 0 && framing <= PEER_U32BE ? framing_names[framing] : "?";
}

size_t peer_header_size(int framing)
{
    switch (framing) {
    case PEER_U16LE:
    case PEER_U16BE:
        return 2;
    case PEER_U32LE:
    case PEER_U32BE:
        return 4;
    default:
        return 0;
    }
}

void peer_print_listening(const struct sockaddr_storage *bound, const char *backend, const peer_opts *o,
                          const char *tail)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (bound->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)bound;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        printf("listening on [%s]:%d", ip, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)bound;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        printf("listening on %s:%d", ip, ntohs(a->sin_port));
    }
    printf(" backend=%s io_threads=0 framing=%s%s\n", backend, peer_framing_name(o->framing), tail);
    fflush(stdout);
}

int peer_sockaddr(const peer_opts *o, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (strchr(o->host, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)o->port);
        *len = sizeof *a;
        return inet_pton(AF_INET6, o->host, &a->sin6_addr) == 1 ? 0 : -1;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)o->port);
    *len = sizeof *a;
    return inet_pton(AF_INET, o->host, &a->sin_addr) == 1 ? 0 : -1;
}

int peer_epoll_wait(int ep, struct epoll_event *evs, int max, int timeout_ms)
{
    int n = epoll_wait(ep, evs, max, timeout_ms);
    if (n >= 0)
        return n;
    if (errno == EINTR)
        return 0;
    perror("epoll_wait");
    return -1;
}

int peer_epoll_want_out(int ep, int fd, void *ptr, int *want_out, int on)
{
    if (*want_out == on)
        return 0;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = ptr};
    *want_out = on;
    return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

void peer_catch_stop(void)
{
    struct sigaction sa;
    signal(SIGPIPE, SIG_IGN);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int peer_stop_signal(void)
{
    return stop_signal;
}

double peer_now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int peer_buf_append(peer_buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

void peer_buf_consume(peer_buf *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--port P] [--host H] [--framing raw|u16le|u16be|u32le|u32be]\n"
            "          [--length-includes-header] [--backend NAME] [--io-threads N]\n"
            "          [--max-message BYTES] [--seconds S] [--coalesce] [--mmsg]\n",
            prog);
    exit(2);
}

void peer_parse_args(int argc, char **argv, peer_opts *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 7000;
    o->framing = PEER_RAW;
    o->backend = "auto";
    o->max_message = 1048576;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        /* Accept both "--opt value" and "--opt=value". */
        char name[64];
        const char *val = NULL;
        const char *eq = strchr(a, '=');
        if (eq && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
        }

        if (strcmp(name, "--length-includes-header") == 0) {
            o->len_includes_hdr = 1;
            continue;
        }
        if (strcmp(name, "--coalesce") == 0) {
            o->coalesce = 1;
            continue;
        }
        if (strcmp(name, "--mmsg") == 0) {
            o->mmsg = 1;
            continue;
        }
        if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
            usage(argv[0]);
        if (!val) {
            if (i + 1 >= argc)
                usage(argv[0]);
            val = argv[++i];
        }
        if (strcmp(name, "--port") == 0) {
            o->port = atoi(val);
            if (o->port < 0 || o->port > 65535)
                usage(argv[0]);
        } else if (strcmp(name, "--host") == 0) {
            o->host = val;
        } else if (strcmp(name, "--framing") == 0) {
            int f = -1;
            for (int k = 0; k <= PEER_U32BE; k++)
                if (strcmp(val, framing_names[k]) == 0)
                    f = k;
            if (f < 0)
                usage(argv[0]);
            o->framing = f;
        } else if (strcmp(name, "--backend") == 0) {
            o->backend = val;
        } else if (strcmp(name, "--io-threads") == 0) {
            o->io_threads = atoi(val);
        } else if (strcmp(name, "--max-message") == 0) {
            o->max_message = (uint32_t)strtoul(val, NULL, 10);
        } else if (strcmp(name, "--seconds") == 0) {
            o->seconds = atof(val);
        } else {
            fprintf(stderr, "unknown option: %s\n", a);
            usage(argv[0]);
        }
    }
}

long peer_frame_size(const peer_opts *o, const uint8_t *b, size_t len)
{
    size_t h = peer_header_size(o->framing);
    if (len < h)
        return 0;
    uint64_t n;
    switch (o->framing) {
    case PEER_U16LE:
        n = (uint64_t)b[0] | (uint64_t)b[1] << 8;
        break;
    case PEER_U16BE:
        n = (uint64_t)b[0] << 8 | (uint64_t)b[1];
        break;
    case PEER_U32LE:
        n = (uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 | (uint64_t)b[3] << 24;
        break;
    case PEER_U32BE:
        n = (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | (uint64_t)b[3];
        break;
    default:
        return -1;
    }
    uint64_t payload;
    if (o->len_includes_hdr) {
        if (n < h)
            return -1;
        payload = n - h;
    } else {
        payload = n;
    }
    if (payload > o->max_message)
        return -1;
    uint64_t total = payload + h;
    return len >= total ? (long)total : 0;
}
