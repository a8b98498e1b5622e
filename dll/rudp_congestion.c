/* rudp_congestion.c - a session's congestion window, in bytes of numbered
 * packets in flight: slow start and additive increase on acknowledgements,
 * multiplicative decrease on loss once per window, a small window again
 * after a retransmit timeout (RFC 5681's rules, applied to datagrams). */
#include "rudp.h"

#define CWND_MAX (64ull << 20)

int net__rudp_cc_may_send(const net_rudp_session *s)
{
    /* One packet may always go when nothing is in flight. */
    return s->bytes_in_flight == 0 || s->bytes_in_flight + s->mtu <= s->cwnd;
}

void net__rudp_cc_acked(net_rudp_session *s, uint32_t bytes)
{
    /* A window the sender does not fill says nothing about the path: it
     * grows only while at least half of it is in use (RFC 7661's idea). */
    if (2 * (s->bytes_in_flight + bytes) < s->cwnd)
        return;
    if (s->cwnd < s->ssthresh)
        s->cwnd += bytes; /* slow start */
    else
        s->cwnd += (uint64_t)s->mtu * bytes / s->cwnd + 1; /* about a datagram per window */
    if (s->cwnd > CWND_MAX)
        s->cwnd = CWND_MAX;
}

static uint64_t half_window(const net_rudp_session *s)
{
    return s->cwnd / 2 > 2ull * s->mtu ? s->cwnd / 2 : 2ull * s->mtu;
}

void net__rudp_cc_lost(net_rudp_session *s, uint16_t seq)
{
    /* Losses of packets sent before the last decrease are the same
     * congestion event: one halving per window of data. */
    if (s->in_recovery && !rudp_seq_after(seq, s->recovery_seq))
        return;
    s->ssthresh = half_window(s);
    s->cwnd = s->ssthresh;
    s->recovery_seq = (uint16_t)(s->next_seq - 1);
    s->in_recovery = 1;
}

void net__rudp_cc_ack_seen(net_rudp_session *s, uint16_t ack)
{
    /* Everything sent up to the decrease is acknowledged: recovery is over. */
    if (s->in_recovery && !rudp_seq_after(s->recovery_seq, ack))
        s->in_recovery = 0;
}

void net__rudp_cc_timeout(net_rudp_session *s)
{
    s->ssthresh = half_window(s);
    s->cwnd = 2ull * s->mtu;
}
