/*
 * rudp_testlib.h - what the reliable-UDP tests share, on top of testlib.h:
 * a listener and its sessions with their ACCEPT and CONNECT checked,
 * numbered messages on channels checked against what each channel's mode
 * promises, the sessions' stats, and the graceful end of them all.
 */
#ifndef NET_RUDP_TESTLIB_H
#define NET_RUDP_TESTLIB_H

#include "testlib.h"

#define RT_MAX_CLIENTS 4
#define RT_MAX_CHANNELS 8
#define RT_MAX_PER_CHANNEL 120

/* Listens on 127.0.0.1 port 0 with cfg; returns the bound address (port
 * checked non-zero). */
net_addr rt_listen(net_engine e, const net_rudp_config *cfg, net_handle *listener);
/* net_rudp_get_stats of h, which must succeed. */
net_rudp_stats rt_stats(net_handle h);

/* ---- sessions: a listener and the clients that connect to it ---- */
typedef struct rt_sessions {
    net_engine e;
    int clients; /* how many the test connects */
    net_handle listener, client[RT_MAX_CLIENTS], server[RT_MAX_CLIENTS];
    int accepted, connected;
} rt_sessions;

/* Starts s: a listener on e (rt_listen); returns its address. */
net_addr rt_sessions_listen(rt_sessions *s, net_engine e, int clients, const net_rudp_config *cfg);
/* The first step of a test's event handler: every event has status 0; the
 * events about the sessions rather than their messages are checked here: an
 * ACCEPT of s's listener (at most one per client, the server sessions in
 * order of arrival), a CONNECT of one of s's clients (once each),
 * SEND_HIGHWATER and SEND_DRAINED (nothing to check: tests queue beyond the
 * high-water mark). 1 when ev is a DATA event, left to the caller; 0 when it
 * was one of those; any other event fails the test. */
int rt_event_is_data(rt_sessions *s, const net_event *ev);
/* A tl_pred whose ctx starts with an rt_sessions: every client connected
 * and accepted. */
int rt_connected(void *ctx);
/* Index of h among s's clients (servers), -1 when it is none of them. */
int rt_client_index(const rt_sessions *s, net_handle h);
int rt_server_index(const rt_sessions *s, net_handle h);
/* The graceful end: every client closed (net_rudp_send on it then says
 * NET_E_CLOSED); every client and server session ends with one CLOSE of
 * status 0, after which its handle is stale; then the listener's CLOSE,
 * status 0. Which server session is which client's does not matter. */
void rt_close_all(rt_sessions *s);

/* ---- numbered messages on channels ---- */
typedef struct rt_plan {
    int channels;    /* at most RT_MAX_CHANNELS */
    int per_channel; /* messages on each, at most RT_MAX_PER_CHANNEL */
    uint32_t modes[RT_MAX_CHANNELS];
    uint32_t (*len)(int ch, int i); /* size of message i of channel ch, at least 8 */
} rt_plan;

/* What one end has received, per channel. */
typedef struct rt_side {
    int got[RT_MAX_CHANNELS];  /* messages delivered */
    int last[RT_MAX_CHANNELS]; /* highest index delivered, -1 none */
    uint8_t seen[RT_MAX_CHANNELS][RT_MAX_PER_CHANNEL];
} rt_side;
void rt_side_init(rt_side *s);

/* Message i of channel ch into buf (p->len(ch, i) bytes, returned): the
 * channel and the index (4 bytes each, little-endian), then tl_fill bytes
 * of seed ch * 1000 + i. */
uint32_t rt_message(const rt_plan *p, uint8_t *buf, int ch, int i);
/* Sends messages from..to-1 of every channel, message by message, each with
 * net_rudp_send in its channel's mode. */
void rt_send(const rt_plan *p, net_handle c, int from, int to);
/* Echoes a DATA event back on its channel, in that channel's mode. */
void rt_echo(const rt_plan *p, const net_event *ev);
/* The checks of a DATA event at one end (who: "client" or "server"): a
 * channel of the plan, the message's own channel and a valid index, its
 * size, every byte; never twice; on a reliable-ordered channel the next in
 * order, on an unreliable-sequenced one newer than any delivered before. */
void rt_check_message(const rt_plan *p, rt_side *s, const net_event *ev, const char *who);
/* Every reliable channel has delivered every message. */
int rt_reliable_done(const rt_plan *p, const rt_side *s);

/* ---- echo tests: the clients send a plan's messages, the server sessions
 * echo each back, both ends check what they get ---- */
typedef struct rt_echo_test {
    rt_sessions s; /* first: the ctx of rt_connected too */
    const rt_plan *plan;
    rt_side at_server[RT_MAX_CLIENTS], at_client[RT_MAX_CLIENTS];
} rt_echo_test;
void rt_echo_init(rt_echo_test *t, const rt_plan *p);
/* A tl_handler (ctx: the rt_echo_test): the events rt_event_is_data
 * checks; DATA checked at the end it came to (rt_check_message), and at a
 * server echoed. */
void rt_echo_event(void *ctx, net_engine e, const net_event *ev);
/* A tl_pred (ctx: the rt_echo_test): every reliable message has reached the
 * server and come back to its client. */
int rt_all_echoed(void *ctx);
/* For a failed wait: per session and channel, what each end got. */
void rt_print_counts(const rt_echo_test *t);

#endif /* NET_RUDP_TESTLIB_H */
