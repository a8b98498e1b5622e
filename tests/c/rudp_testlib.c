/*
 * rudp_testlib.c - what the reliable-UDP tests share (see rudp_testlib.h).
 */
#include "rudp_testlib.h"

net_addr rt_listen(net_engine e, const net_rudp_config *cfg, net_handle *listener)
{
    net_addr at;
    CHECK_OK(net_rudp_listen(e, "127.0.0.1", 0, cfg, listener));
    CHECK_OK(net_local_addr(*listener, &at));
    CHECK(at.port != 0);
    return at;
}

net_rudp_stats rt_stats(net_handle h)
{
    net_rudp_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    CHECK_OK(net_rudp_get_stats(h, &st));
    return st;
}

/* ---- sessions ---- */

net_addr rt_sessions_listen(rt_sessions *s, net_engine e, int clients, const net_rudp_config *cfg)
{
    CHECK(clients > 0 && clients <= RT_MAX_CLIENTS);
    s->e = e;
    s->clients = clients;
    return rt_listen(e, cfg, &s->listener);
}

static int index_of(const net_handle *hs, int n, net_handle h)
{
    for (int i = 0; i < n; i++)
        if (hs[i] == h)
            return i;
    return -1;
}

int rt_client_index(const rt_sessions *s, net_handle h)
{
    return index_of(s->client, s->clients, h);
}

int rt_server_index(const rt_sessions *s, net_handle h)
{
    return index_of(s->server, s->accepted, h);
}

int rt_event_is_data(rt_sessions *s, const net_event *ev)
{
    CHECKF(ev->status == 0, "%s status %s", tl_evname(ev->type), tl_errname(ev->status));
    switch (ev->type) {
    case NET_EV_DATA:
        return 1;
    case NET_EV_ACCEPT:
        CHECKF(s->accepted < s->clients, "ACCEPT %d of %d clients", s->accepted + 1, s->clients);
        CHECK_EQ(ev->parent, s->listener);
        s->server[s->accepted++] = ev->handle;
        return 0;
    case NET_EV_CONNECT:
        CHECKF(rt_client_index(s, ev->handle) >= 0, "CONNECT for handle %llu", (unsigned long long)ev->handle);
        CHECKF(s->connected < s->clients, "CONNECT %d of %d clients", s->connected + 1, s->clients);
        s->connected++;
        return 0;
    case NET_EV_SEND_HIGHWATER:
    case NET_EV_SEND_DRAINED:
        return 0;
    default:
        CHECKF(0, "unexpected %s", tl_evname(ev->type));
        return 0;
    }
}

int rt_connected(void *ctx)
{
    const rt_sessions *s = ctx;
    return s->accepted == s->clients && s->connected == s->clients;
}

void rt_close_all(rt_sessions *s)
{
    for (int i = 0; i < s->clients; i++) {
        CHECK_OK(net_close(s->client[i]));
        CHECK_RC(net_rudp_send(s->client[i], 0, 0, "x", 1), NET_E_CLOSED);
    }
    for (int i = 0; i < 2 * s->clients; i++) {
        net_handle h = i < s->clients ? s->client[i] : s->server[i - s->clients];
        net_event ev;
        TL_EXPECT(s->e, NET_EV_CLOSE, h, &ev);
        CHECK_EQ(ev.status, 0);
        CHECK_RC(net_rudp_send(h, 0, 0, "x", 1), NET_E_BADHANDLE);
    }
    CHECK_EQ(tl_close_wait(s->e, s->listener), 0);
}

/* ---- numbered messages ---- */

void rt_side_init(rt_side *s)
{
    memset(s, 0, sizeof *s);
    for (int ch = 0; ch < RT_MAX_CHANNELS; ch++)
        s->last[ch] = -1;
}

/* The bounds of rt_side's arrays. */
static void check_plan(const rt_plan *p)
{
    CHECK(p->channels > 0 && p->channels <= RT_MAX_CHANNELS);
    CHECK(p->per_channel > 0 && p->per_channel <= RT_MAX_PER_CHANNEL);
}

uint32_t rt_message(const rt_plan *p, uint8_t *buf, int ch, int i)
{
    uint32_t len = p->len(ch, i);
    tl_put_le(buf, (uint64_t)ch, 4);
    tl_put_le(buf + 4, (uint64_t)i, 4);
    tl_fill(buf + 8, len - 8, (uint64_t)(ch * 1000 + i), 0);
    return len;
}

void rt_send(const rt_plan *p, net_handle c, int from, int to)
{
    uint32_t most = 8;
    check_plan(p);
    for (int i = from; i < to; i++)
        for (int ch = 0; ch < p->channels; ch++)
            if (p->len(ch, i) > most)
                most = p->len(ch, i);
    uint8_t *buf = tl_xmalloc(most);
    for (int i = from; i < to; i++)
        for (int ch = 0; ch < p->channels; ch++) {
            uint32_t len = rt_message(p, buf, ch, i);
            CHECK_OK(net_rudp_send(c, (uint32_t)ch, p->modes[ch], buf, len));
        }
    free(buf);
}

void rt_echo(const rt_plan *p, const net_event *ev)
{
    CHECK_OK(net_rudp_send(ev->handle, (uint32_t)ev->parent, p->modes[ev->parent], ev->data, ev->len));
}

void rt_check_message(const rt_plan *p, rt_side *s, const net_event *ev, const char *who)
{
    check_plan(p);
    CHECKF(ev->parent < (uint64_t)p->channels, "%s: DATA on channel %llu", who, (unsigned long long)ev->parent);
    int ch = (int)ev->parent;
    uint32_t mode = p->modes[ch];
    CHECKF(ev->len >= 8, "%s: %u-byte message on channel %d", who, (unsigned)ev->len, ch);
    const uint8_t *m = ev->data;
    CHECKF(tl_get_le(m, 4) == (uint64_t)ch, "%s: channel %d delivered channel %llu's message", who, ch,
           (unsigned long long)tl_get_le(m, 4));
    int i = (int)tl_get_le(m + 4, 4);
    CHECKF(i >= 0 && i < p->per_channel, "%s: channel %d: index %d", who, ch, i);
    CHECKF(ev->len == p->len(ch, i), "%s: channel %d message %d has %u bytes, sent %u", who, ch, i, (unsigned)ev->len,
           (unsigned)p->len(ch, i));
    long long bad = tl_mismatch(m + 8, ev->len - 8, (uint64_t)(ch * 1000 + i), 0);
    CHECKF(bad < 0, "%s: channel %d message %d: wrong byte at %lld", who, ch, i, bad + 8);
    CHECKF(!s->seen[ch][i], "%s: channel %d (mode %u) delivered message %d twice", who, ch, (unsigned)mode, i);
    s->seen[ch][i] = 1;
    if (mode == NET_RUDP_RELIABLE_ORDERED)
        CHECKF(i == s->last[ch] + 1, "%s: ordered channel %d: message %d after %d", who, ch, i, s->last[ch]);
    if (mode == NET_RUDP_UNRELIABLE_SEQUENCED)
        CHECKF(i > s->last[ch], "%s: sequenced channel %d: message %d after %d", who, ch, i, s->last[ch]);
    if (i > s->last[ch])
        s->last[ch] = i;
    s->got[ch]++;
}

int rt_reliable_done(const rt_plan *p, const rt_side *s)
{
    for (int ch = 0; ch < p->channels; ch++)
        if (p->modes[ch] <= NET_RUDP_RELIABLE_UNORDERED && s->got[ch] < p->per_channel)
            return 0;
    return 1;
}

/* ---- echo tests ---- */

void rt_echo_init(rt_echo_test *t, const rt_plan *p)
{
    memset(t, 0, sizeof *t);
    t->plan = p;
    for (int i = 0; i < RT_MAX_CLIENTS; i++) {
        rt_side_init(&t->at_server[i]);
        rt_side_init(&t->at_client[i]);
    }
}

void rt_echo_event(void *ctx, net_engine e, const net_event *ev)
{
    rt_echo_test *t = ctx;
    (void)e;
    if (!rt_event_is_data(&t->s, ev))
        return;
    int si = rt_server_index(&t->s, ev->handle), ci = rt_client_index(&t->s, ev->handle);
    if (si >= 0) {
        rt_check_message(t->plan, &t->at_server[si], ev, "server");
        rt_echo(t->plan, ev);
        return;
    }
    CHECKF(ci >= 0, "DATA for unknown handle %llu", (unsigned long long)ev->handle);
    rt_check_message(t->plan, &t->at_client[ci], ev, "client");
}

int rt_all_echoed(void *ctx)
{
    const rt_echo_test *t = ctx;
    for (int i = 0; i < t->s.clients; i++)
        if (!rt_reliable_done(t->plan, &t->at_server[i]) || !rt_reliable_done(t->plan, &t->at_client[i]))
            return 0;
    return 1;
}

void rt_print_counts(const rt_echo_test *t)
{
    for (int i = 0; i < t->s.clients; i++)
        for (int ch = 0; ch < t->plan->channels; ch++)
            fprintf(stderr, "session %d channel %d: server got %d, client got %d\n", i, ch, t->at_server[i].got[ch],
                    t->at_client[i].got[ch]);
}
