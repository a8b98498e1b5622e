/* config.c - the config structs callers fill (engine, TCP, UDP): their
 * defaults, and reading one whatever version of net.h it was built with. */
#include <string.h>
#include "core.h"

#define UDP_DEFAULT_SEND_CAP (1u << 20)

/* Where a field ends: what a caller must have filled for it to count. */
#define END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* Every config struct starts with its own size. A caller built against an
 * older header fills only a prefix of ours, a newer one more than we know:
 * what we know of in is copied over the defaults already in out, and out's
 * size becomes ours. NULL keeps the defaults. NET_E_INVAL below min_size
 * (the fields every version had) or past any plausible size. */
static int read_sized(const void *in, void *out, uint32_t out_size, size_t min_size)
{
    if (!in)
        return 0;
    uint32_t size;
    memcpy(&size, in, sizeof size);
    if (size < min_size || size > 4096)
        return NET_E_INVAL;
    memcpy(out, in, size < out_size ? size : out_size);
    memcpy(out, &out_size, sizeof out_size);
    return 0;
}

/* ---- engine ---- */

NET_API void net_config_init(net_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->backend = NET_BACKEND_AUTO;
    cfg->io_threads = 0;
    cfg->max_connections = 100000;
    cfg->max_message = 1u << 20;
    cfg->send_cap = 16u << 20;
    cfg->send_highwater = 1u << 20;
    cfg->send_lowwater = 64u << 10;
    cfg->recv_limit = 4u << 20;
    cfg->idle_timeout_ms = 0;
    cfg->close_timeout_ms = 5000;
    cfg->event_batch = 256;
}

/* Fields left 0 mean "the default", except those where 0 means something. */
static void default_zeros(net_config *c)
{
    net_config d;
    net_config_init(&d);
    if (c->max_message == 0)
        c->max_message = d.max_message;
    if (c->send_cap == 0)
        c->send_cap = d.send_cap;
    if (c->send_highwater == 0)
        c->send_highwater = d.send_highwater;
    if (c->recv_limit == 0)
        c->recv_limit = d.recv_limit;
    if (c->close_timeout_ms == 0)
        c->close_timeout_ms = d.close_timeout_ms;
    if (c->event_batch == 0 || c->event_batch > 4096)
        c->event_batch = d.event_batch;
    if (c->max_connections == 0)
        c->max_connections = d.max_connections;
}

int net__read_config(const net_config *in, net_config *out)
{
    net_config_init(out);
    if (read_sized(in, out, sizeof *out, END_OF(net_config, io_threads)))
        return NET_E_INVAL;
    default_zeros(out);
    if (out->io_threads > 64 || out->send_lowwater > out->send_highwater || out->max_message > NET_MAX_MESSAGE)
        return NET_E_INVAL;
    /* The send queue must be able to hold the largest message with its
     * header, or sending it would fail for ever. */
    if ((uint64_t)out->max_message + NET_MAX_HEADER > out->send_cap)
        return NET_E_INVAL;
    return 0;
}

/* ---- TCP ---- */

NET_API void net_tcp_config_init(net_tcp_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->framing = NET_FRAMING_RAW;
    cfg->flags = NET_TCP_NODELAY | NET_TCP_REUSEADDR;
}

static int read_tcp_config(const net_tcp_config *in, net_tcp_config *out)
{
    net_tcp_config_init(out);
    if (read_sized(in, out, sizeof *out, END_OF(net_tcp_config, flags)))
        return NET_E_INVAL;
    if (out->framing > NET_FRAMING_U32BE || out->backlog < 0)
        return NET_E_INVAL;
    return 0;
}

/* The frame config a TCP socket of e gets from tc; NET_E_INVAL past the limits. */
static int tcp_frame_cfg(const net_engine_s *e, const net_tcp_config *tc, net_frame_cfg *out)
{
    uint32_t max = tc->max_message ? tc->max_message : e->cfg.max_message;
    /* Same bounds as the engine's own max_message: a message this size must
     * fit the send queue, header included. */
    if (max > NET_MAX_MESSAGE || (uint64_t)max + NET_MAX_HEADER > e->cfg.send_cap)
        return NET_E_INVAL;
    return net_frame_cfg_make(tc->framing, tc->flags, max, out);
}

int net__tcp_request(net_engine eh, const char *host, uint16_t port, const net_tcp_config *cfg, net_tcp_request *out)
{
    int rc = read_tcp_config(cfg, &out->tc);
    if (rc)
        return rc;
    if (!(out->e = net__engine_enter(eh)))
        return NET_E_BADHANDLE;
    /* A name that does not resolve is NET_E_ADDR alone: the resolver's codes
     * are not OS errors. */
    if ((rc = os_resolve(host, port, &out->at, NULL)) == 0 && (rc = tcp_frame_cfg(out->e, &out->tc, &out->f)) == 0)
        return 0;
    net__engine_leave(out->e);
    return rc;
}

/* ---- UDP ---- */

NET_API void net_udp_config_init(net_udp_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->max_datagram = NET_UDP_MAX_PAYLOAD;
    cfg->send_cap = UDP_DEFAULT_SEND_CAP;
}

int net__read_udp_config(const net_udp_config *in, net_udp_config *out)
{
    net_udp_config_init(out);
    if (read_sized(in, out, sizeof *out, END_OF(net_udp_config, flags)))
        return NET_E_INVAL;
    if (out->max_datagram == 0)
        out->max_datagram = NET_UDP_MAX_PAYLOAD;
    if (out->send_cap == 0)
        out->send_cap = UDP_DEFAULT_SEND_CAP;
    const uint32_t known = NET_UDP_REUSEADDR | NET_UDP_IPV6ONLY | NET_UDP_BROADCAST;
    if (out->max_datagram > NET_UDP_MAX_PAYLOAD || (out->flags & ~known) || out->rcvbuf < 0 || out->sndbuf < 0)
        return NET_E_INVAL;
    return 0;
}

/* ---- reliable UDP ---- */

NET_API void net_rudp_config_init(net_rudp_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->channels = 8;
    cfg->mtu = 1200;
    cfg->max_message = 256u << 10;
    cfg->send_cap = 4u << 20;
    cfg->recv_window = 1u << 20;
    cfg->max_sessions = 4096;
    cfg->connect_timeout_ms = 5000;
    cfg->idle_timeout_ms = 10000;
    cfg->keepalive_ms = 1000;
    cfg->close_timeout_ms = 5000;
    cfg->rto_min_ms = 20;
    cfg->rto_max_ms = 3000;
    cfg->cookie_period_ms = 10000;
}

/* A zero field takes its default. */
static void rudp_default_zeros(net_rudp_config *c)
{
    net_rudp_config d;
    net_rudp_config_init(&d);
    uint32_t *f = &c->channels;
    const uint32_t *df = &d.channels;
    /* channels .. cookie_period_ms: thirteen uint32_t fields in a row */
    for (int i = 0; i < 13; i++)
        if (f[i] == 0)
            f[i] = df[i];
}

int net__read_rudp_config(const net_rudp_config *in, net_rudp_config *out)
{
    net_rudp_config_init(out);
    if (read_sized(in, out, sizeof *out, END_OF(net_rudp_config, keepalive_ms)))
        return NET_E_INVAL;
    rudp_default_zeros(out);
    /* A message is at most 65535 fragments of what a datagram carries. */
    uint64_t per_fragment = out->mtu >= 128 ? out->mtu - 48u : 1u;
    if (out->channels > NET_RUDP_MAX_CHANNELS || out->mtu < 128 || out->mtu > NET_UDP_MAX_PAYLOAD)
        return NET_E_INVAL;
    if (out->max_message > (16u << 20) || out->max_message > out->recv_window ||
        (uint64_t)out->max_message > per_fragment * 65535u || out->send_cap < out->max_message)
        return NET_E_INVAL;
    if (out->rto_min_ms > out->rto_max_ms)
        return NET_E_INVAL;
    return 0;
}
