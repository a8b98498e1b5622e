/* rudp_rtt.c - a session's round-trip time and retransmit timeout, as RFC
 * 6298 computes them, with its exponential backoff. Every numbered packet
 * is sent once under its number, so every acknowledgement is a clean
 * sample (no Karn ambiguity). */
#include "rudp.h"

void net__rudp_rtt_sample(net_rudp_session *s, uint64_t sample_us)
{
    if (s->srtt_us == 0 && s->rttvar_us == 0) {
        s->srtt_us = sample_us ? sample_us : 1;
        s->rttvar_us = sample_us / 2;
    } else {
        uint64_t diff = s->srtt_us > sample_us ? s->srtt_us - sample_us : sample_us - s->srtt_us;
        s->rttvar_us = (3 * s->rttvar_us + diff) / 4;
        s->srtt_us = (7 * s->srtt_us + sample_us) / 8;
    }
    /* RTO = SRTT + max(G, 4 RTTVAR), G a millisecond: the loop's clock. */
    uint64_t var = 4 * s->rttvar_us > 1000 ? 4 * s->rttvar_us : 1000;
    uint64_t rto = (s->srtt_us + var + 999) / 1000;
    const net_rudp_config *c = &s->ep->cfg;
    s->rto_ms = (uint32_t)(rto < c->rto_min_ms ? c->rto_min_ms : rto > c->rto_max_ms ? c->rto_max_ms : rto);
    s->backoff = 0; /* a fresh sample ends the backoff (RFC 6298 5.7) */
}

uint64_t net__rudp_rto_now_ms(const net_rudp_session *s)
{
    uint64_t rto = (uint64_t)s->rto_ms << (s->backoff < 16 ? s->backoff : 16);
    return rto < s->ep->cfg.rto_max_ms ? rto : s->ep->cfg.rto_max_ms;
}
