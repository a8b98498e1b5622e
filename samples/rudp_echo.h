/*
 * rudp_echo.h - the reliable-UDP mode of samples/udp_echo (--reliable):
 * serves sessions of net_rudp_listen and sends every message back to its
 * session on the channel it came on (see rudp_echo.c).
 */
#ifndef SAMPLES_RUDP_ECHO_H
#define SAMPLES_RUDP_ECHO_H

#include <stdint.h>

#include "cli.h"

typedef struct rudp_echo_opts {
    uint32_t channels; /* --channels: the listener's channels per session */
    uint32_t mode;     /* --mode: NET_RUDP_* or CLI_RUDP_MIXED */
} rudp_echo_opts;

/* Runs the whole server; returns the exit code. */
int rudp_echo_run(const cli_opts *o, const rudp_echo_opts *r);

#endif
