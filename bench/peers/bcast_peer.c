/* bcast_peer.c - the broadcast peers' options and tick frame (see bcast_peer.h). */
#define _GNU_SOURCE
#include "bcast_peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of "--name value" or "--name=value" at argv[*i] (moving *i past
 * a separate value), or NULL when argv[*i] is not that option. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s needs a value\n", name);
        exit(2);
    }
    return argv[++*i];
}

static uint32_t parse_range(const char *name, const char *s, unsigned long lo, unsigned long hi)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *s == '-' || *end || v < lo || v > hi) {
        fprintf(stderr, "bad %s: '%s' (want %lu..%lu)\n", name, s, lo, hi);
        exit(2);
    }
    return (uint32_t)v;
}

void bcast_parse_args(int argc, char **argv, bcast_opts *o)
{
    char **rest = calloc((size_t)argc + 3, sizeof *rest);
    int n = 0;
    const char *v;
    if (!rest) {
        perror("calloc");
        exit(1);
    }
    o->tick_ms = 10, o->size = 64;
    rest[n++] = argv[0];
    /* Default framing first: a later --framing in argv wins. */
    rest[n++] = "--framing";
    rest[n++] = "u16le";
    for (int i = 1; i < argc; i++) {
        if ((v = option_value(argc, argv, &i, "--tick-ms")))
            o->tick_ms = parse_range("--tick-ms", v, 1, 60000);
        else if ((v = option_value(argc, argv, &i, "--size")))
            o->size = parse_range("--size", v, 8, 65000);
        else
            rest[n++] = argv[i];
    }
    peer_parse_args(n, rest, &o->peer);
    free(rest);
    if (o->peer.framing == PEER_RAW) {
        fprintf(stderr, "--framing raw: the ticks need a framing\n");
        exit(2);
    }
}

size_t bcast_frame_len(const bcast_opts *o)
{
    return peer_header_size(o->peer.framing) + o->size;
}

void bcast_frame(const bcast_opts *o, uint64_t tick, uint8_t *out)
{
    size_t hdr = peer_header_size(o->peer.framing);
    uint32_t len = o->size + (o->peer.len_includes_hdr ? (uint32_t)hdr : 0);
    int big = o->peer.framing == PEER_U16BE || o->peer.framing == PEER_U32BE;
    for (size_t i = 0; i < hdr; i++)
        out[i] = (uint8_t)(len >> (8 * (big ? hdr - 1 - i : i)));
    uint8_t *p = out + hdr;
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(tick >> (8 * i));
    for (uint32_t i = 8; i < o->size; i++)
        p[i] = (uint8_t)(tick + i);
}
