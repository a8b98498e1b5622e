/* client_common.h - what the load tools of bench/ (connrate, idle_client,
 * bcast_client) share: a monotonic clock and the parsing of a numeric
 * option. Plain C, no net. */
#ifndef BENCH_CLIENT_COMMON_H
#define BENCH_CLIENT_COMMON_H

/* Seconds on the monotonic clock. */
double client_now_sec(void);

/* The decimal s of option name, in [lo, hi]; otherwise "PROG: bad NAME:
 * 'S' (want LO..HI)" on stderr and usage(), which does not return. */
long client_parse_long(const char *prog, const char *name, const char *s, long lo, long hi, void (*usage)(void));

#endif
