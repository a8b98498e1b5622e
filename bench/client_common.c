/* client_common.c - see client_common.h. */
#define _GNU_SOURCE
#include "client_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

double client_now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

long client_parse_long(const char *prog, const char *name, const char *s, long lo, long hi, void (*usage)(void))
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        fprintf(stderr, "%s: bad %s: '%s' (want %ld..%ld)\n", prog, name, s, lo, hi);
        usage();
    }
    return v;
}
