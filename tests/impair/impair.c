/* impair.c - see impair.h. Portable: every OS call goes through impair_os.h. */
#include "impair.h"
#include "impair_os.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPAIR_MAX_DATAGRAM 65536
#define IMPAIR_READS_PER_TURN 64
/* The longest wait between two looks at the stop flag. */
#define IMPAIR_TICK_MS 10

enum { DIR_TO_TARGET = 0, DIR_TO_CLIENT = 1 };

/* A datagram waiting to leave: delayed (in the schedule) or held back. */
typedef struct pkt {
    struct pkt *prev, *next;
    uint64_t due_ms;
    uint32_t client; /* slot index */
    uint32_t gen;    /* the slot's generation when it arrived */
    uint8_t dir;
    uint32_t len;
    uint8_t data[];
} pkt;

/* One datagram held back on a flow (a client and a direction). */
typedef struct held_slot {
    pkt *p;
    uint32_t countdown; /* datagrams of the flow still to pass it */
    uint64_t until_ms;  /* released then at the latest */
} held_slot;

typedef struct client {
    int used;
    uint32_t gen; /* bumped when the slot is given to another address */
    ios_addr addr;
    ios_sock up; /* connected to the target */
    uint64_t last_ms;
    held_slot held[2];
} client;

struct impair_proxy {
    ios_mutex *lock; /* guards cfg, counters, burst_until and stopping */
    impair_config cfg;
    impair_counters counters;
    uint64_t burst_until_ms;
    int stopping;

    ios_thread *thread;
    uint64_t start_ms;
    uint64_t *timeline[2]; /* per DIR_*: bytes sent on per timeline_ms interval */
    ios_addr target;
    ios_sock listen;
    uint16_t port;
    uint64_t rng;

    client *clients;
    uint32_t nclients; /* slots in use are [0, nclients) at most */
    pkt *head, *tail;  /* schedule, by due time, FIFO among equals */
    uint64_t queued_bytes;

    ios_sock *socks; /* wait set: [0] listen, [1 + i] clients[i].up */
    uint8_t *ready;
    uint8_t buf[IMPAIR_MAX_DATAGRAM];
};

static char g_error[256];

static void set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_error, sizeof g_error, fmt, ap);
    va_end(ap);
}

const char *impair_last_error(void)
{
    return g_error;
}

/* ------------------------------------------------------------ config */

void impair_config_init(impair_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen_host = "127.0.0.1";
    cfg->directions = IMPAIR_BOTH;
    cfg->reorder_gap = 3;
    cfg->reorder_max_hold_ms = 100;
    cfg->seed = 1;
    cfg->max_clients = 256;
    cfg->max_queued_bytes = 64u << 20;
}

static int rate_ok(double r)
{
    return r >= 0.0 && r <= 1.0; /* false for NaN too */
}

static int check_rates(const impair_config *cfg)
{
    const struct {
        const char *name;
        double v;
    } rates[] = {{"drop", cfg->drop}, {"dup", cfg->dup}, {"reorder", cfg->reorder}, {"corrupt", cfg->corrupt}};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
        if (!rate_ok(rates[i].v)) {
            set_error("%s rate %g is not in [0, 1]", rates[i].name, rates[i].v);
            return -1;
        }
    if ((cfg->directions & ~(uint32_t)IMPAIR_BOTH) != 0) {
        set_error("directions %u is not a mask of IMPAIR_TO_TARGET and IMPAIR_TO_CLIENT", (unsigned)cfg->directions);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ randomness */

/* splitmix64: small, fast and the same on every platform. */
static uint64_t rng_next(impair_proxy *p)
{
    uint64_t z = (p->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A rate of 0 draws nothing, so a proxy with no impairment costs no draws
 * and a rate switched on later starts from the same sequence. */
static int chance(impair_proxy *p, double rate)
{
    if (rate <= 0.0)
        return 0;
    return (double)(rng_next(p) >> 11) * (1.0 / 9007199254740992.0) < rate;
}

static uint32_t uniform(impair_proxy *p, uint32_t n) /* [0, n) */
{
    return n ? (uint32_t)(rng_next(p) % n) : 0;
}

/* ------------------------------------------------------------ schedule */

static void schedule_insert(impair_proxy *p, pkt *k)
{
    pkt *after = p->tail;
    while (after && after->due_ms > k->due_ms)
        after = after->prev;
    k->prev = after;
    k->next = after ? after->next : p->head;
    if (k->next)
        k->next->prev = k;
    else
        p->tail = k;
    if (after)
        after->next = k;
    else
        p->head = k;
}

static pkt *schedule_pop(impair_proxy *p)
{
    pkt *k = p->head;
    if (k) {
        p->head = k->next;
        if (p->head)
            p->head->prev = NULL;
        else
            p->tail = NULL;
    }
    return k;
}

static void pkt_free(impair_proxy *p, pkt *k)
{
    p->queued_bytes -= k->len;
    free(k);
}

static uint64_t due_time(impair_proxy *p, uint64_t now)
{
    int64_t d = (int64_t)p->cfg.delay_ms;
    if (p->cfg.jitter_ms)
        d += (int64_t)uniform(p, 2 * p->cfg.jitter_ms + 1) - (int64_t)p->cfg.jitter_ms;
    return now + (uint64_t)(d > 0 ? d : 0);
}

static void schedule(impair_proxy *p, pkt *k, uint64_t now)
{
    k->due_ms = due_time(p, now);
    schedule_insert(p, k);
}

static void timeline_add(impair_proxy *p, int dir, uint32_t len, uint64_t now)
{
    if (!p->timeline[dir])
        return;
    uint64_t i = (now - p->start_ms) / p->cfg.timeline_ms;
    if (i < p->cfg.timeline_buckets)
        p->timeline[dir][i] += len;
}

static void send_pkt(impair_proxy *p, pkt *k, uint64_t now)
{
    client *c = &p->clients[k->client];
    int rc = -1;
    if (c->used && c->gen == k->gen) /* else the client's slot went to another address */
        rc = k->dir == DIR_TO_TARGET ? ios_send(c->up, k->data, k->len, NULL)
                                     : ios_send(p->listen, k->data, k->len, &c->addr);
    if (rc == 0) {
        p->counters.forwarded++;
        timeline_add(p, k->dir, k->len, now);
    } else
        p->counters.send_failed++;
}

static void flush_due(impair_proxy *p, uint64_t now)
{
    while (p->head && p->head->due_ms <= now) {
        pkt *k = schedule_pop(p);
        send_pkt(p, k, now);
        pkt_free(p, k);
    }
}

/* ------------------------------------------------------------ reordering */

static void release_held(impair_proxy *p, held_slot *h, uint64_t now)
{
    if (h->p) {
        schedule(p, h->p, now);
        h->p = NULL;
    }
}

static void release_expired(impair_proxy *p, uint64_t now)
{
    for (uint32_t i = 0; i < p->nclients; i++)
        for (int d = 0; d < 2; d++)
            if (p->clients[i].held[d].p && p->clients[i].held[d].until_ms <= now)
                release_held(p, &p->clients[i].held[d], now);
}

/* One copy on its way: maybe held back, else scheduled; a held one of the
 * same flow goes right after the k-th that passed it. */
static void emit(impair_proxy *p, pkt *k, uint64_t now)
{
    held_slot *h = &p->clients[k->client].held[k->dir];
    if (!h->p && chance(p, p->cfg.reorder)) {
        h->p = k;
        h->countdown = p->cfg.reorder_gap ? p->cfg.reorder_gap : 1;
        h->until_ms = now + p->cfg.reorder_max_hold_ms;
        p->counters.reordered++;
        return;
    }
    schedule(p, k, now);
    if (h->p && --h->countdown == 0)
        release_held(p, h, now);
}

/* ------------------------------------------------------------ one datagram */

static pkt *pkt_new(impair_proxy *p, uint32_t client_idx, int dir, const uint8_t *data, uint32_t len)
{
    if (p->queued_bytes + len > p->cfg.max_queued_bytes) {
        p->counters.overflow++;
        return NULL;
    }
    pkt *k = (pkt *)malloc(sizeof *k + (len ? len : 1));
    if (!k) {
        p->counters.overflow++;
        return NULL;
    }
    memset(k, 0, sizeof *k);
    k->client = client_idx;
    k->gen = p->clients[client_idx].gen;
    k->dir = (uint8_t)dir;
    k->len = len;
    memcpy(k->data, data, len);
    p->queued_bytes += len;
    return k;
}

static void corrupt(impair_proxy *p, uint8_t *data, uint32_t len)
{
    uint32_t flips = 1 + uniform(p, 3);
    for (uint32_t i = 0; i < flips; i++)
        data[uniform(p, len)] ^= (uint8_t)(1 + uniform(p, 255));
}

static void on_datagram(impair_proxy *p, uint32_t client_idx, int dir, uint8_t *data, uint32_t len, uint64_t now)
{
    p->counters.received++;
    if (dir == DIR_TO_TARGET)
        p->counters.to_target++;
    else
        p->counters.to_client++;
    int impaired = (p->cfg.directions & (dir == DIR_TO_TARGET ? IMPAIR_TO_TARGET : IMPAIR_TO_CLIENT)) != 0;
    if (!impaired) {
        pkt *k = pkt_new(p, client_idx, dir, data, len);
        if (k) {
            k->due_ms = now;
            schedule_insert(p, k);
        }
        return;
    }
    if (now < p->burst_until_ms) {
        p->counters.dropped++;
        p->counters.burst_dropped++;
        return;
    }
    if (chance(p, p->cfg.drop)) {
        p->counters.dropped++;
        return;
    }
    if (len > 0 && chance(p, p->cfg.corrupt)) {
        corrupt(p, data, len);
        p->counters.corrupted++;
    }
    int copies = chance(p, p->cfg.dup) ? 2 : 1;
    if (copies == 2)
        p->counters.duplicated++;
    for (int i = 0; i < copies; i++) {
        pkt *k = pkt_new(p, client_idx, dir, data, len);
        if (k)
            emit(p, k, now);
    }
}

/* ------------------------------------------------------------ clients */

static void client_forget(impair_proxy *p, client *c)
{
    for (int d = 0; d < 2; d++)
        if (c->held[d].p) {
            pkt_free(p, c->held[d].p);
            c->held[d].p = NULL;
        }
    ios_close(c->up);
    c->up = IOS_BAD_SOCK;
    c->used = 0;
    c->gen++;
}

/* The slot of a client address: found, a free one, or the least recently
 * heard one given over. -1 when no upstream socket can be made. */
static int client_slot(impair_proxy *p, const ios_addr *from, uint64_t now)
{
    uint32_t oldest = 0;
    for (uint32_t i = 0; i < p->nclients; i++) {
        if (p->clients[i].used && ios_addr_eq(&p->clients[i].addr, from))
            return (int)i;
        if (p->clients[i].last_ms < p->clients[oldest].last_ms)
            oldest = i;
    }
    uint32_t i = p->nclients < p->cfg.max_clients ? p->nclients++ : oldest;
    client *c = &p->clients[i];
    if (c->used)
        client_forget(p, c);
    c->up = ios_udp_connect(&p->target);
    if (c->up == IOS_BAD_SOCK)
        return -1;
    c->used = 1;
    c->addr = *from;
    c->last_ms = now;
    p->counters.clients++;
    return (int)i;
}

/* ------------------------------------------------------------ the thread */

static void read_socket(impair_proxy *p, int sock_idx, uint64_t now)
{
    for (int n = 0; n < IMPAIR_READS_PER_TURN; n++) {
        ios_addr from;
        if (sock_idx == 0) {
            long len = ios_recv(p->listen, p->buf, sizeof p->buf, &from);
            if (len < 0)
                return;
            int c = client_slot(p, &from, now);
            if (c < 0) {
                p->counters.received++;
                p->counters.to_target++;
                p->counters.send_failed++;
                continue;
            }
            p->clients[c].last_ms = now;
            on_datagram(p, (uint32_t)c, DIR_TO_TARGET, p->buf, (uint32_t)len, now);
        } else {
            client *c = &p->clients[sock_idx - 1];
            if (!c->used)
                return;
            long len = ios_recv(c->up, p->buf, sizeof p->buf, NULL);
            if (len < 0)
                return;
            c->last_ms = now;
            on_datagram(p, (uint32_t)(sock_idx - 1), DIR_TO_CLIENT, p->buf, (uint32_t)len, now);
        }
    }
}

static int next_timeout(impair_proxy *p, uint64_t now)
{
    uint64_t next = now + IMPAIR_TICK_MS;
    if (p->head && p->head->due_ms < next)
        next = p->head->due_ms;
    for (uint32_t i = 0; i < p->nclients; i++)
        for (int d = 0; d < 2; d++)
            if (p->clients[i].held[d].p && p->clients[i].held[d].until_ms < next)
                next = p->clients[i].held[d].until_ms;
    return next > now ? (int)(next - now) : 0;
}

static void proxy_main(void *arg)
{
    impair_proxy *p = (impair_proxy *)arg;
    for (;;) {
        ios_lock(p->lock);
        uint64_t now = ios_now_ms();
        release_expired(p, now);
        flush_due(p, now);
        int timeout = next_timeout(p, now);
        int stop = p->stopping;
        int n = 1;
        p->socks[0] = p->listen;
        for (uint32_t i = 0; i < p->nclients; i++)
            p->socks[n++] = p->clients[i].used ? p->clients[i].up : p->listen;
        ios_unlock(p->lock);
        if (stop)
            return;

        if (ios_wait(p->socks, n, p->ready, timeout) <= 0)
            continue;
        ios_lock(p->lock);
        now = ios_now_ms();
        for (int i = 0; i < n; i++)
            if (p->ready[i] && (i == 0 || p->socks[i] != p->listen))
                read_socket(p, i, now);
        flush_due(p, now);
        ios_unlock(p->lock);
    }
}

/* ------------------------------------------------------------ public */

static void proxy_free(impair_proxy *p)
{
    if (!p)
        return;
    while (p->head) {
        pkt *k = schedule_pop(p);
        pkt_free(p, k);
    }
    if (p->clients)
        for (uint32_t i = 0; i < p->nclients; i++)
            if (p->clients[i].used)
                client_forget(p, &p->clients[i]);
    ios_close(p->listen);
    ios_mutex_free(p->lock);
    free(p->timeline[0]);
    free(p->timeline[1]);
    free(p->clients);
    free(p->socks);
    free(p->ready);
    free(p);
}

static int proxy_open(impair_proxy *p, const char *host, const char *target_host, uint16_t target_port)
{
    if (ios_init() != 0) {
        set_error("socket library initialisation failed");
        return -1;
    }
    if (ios_resolve(target_host, target_port, &p->target) != 0) {
        set_error("cannot resolve target %s:%u", target_host, (unsigned)target_port);
        return -1;
    }
    ios_addr local;
    if (ios_resolve(host, p->cfg.listen_port, &local) != 0) {
        set_error("cannot resolve listen host %s", host);
        return -1;
    }
    p->listen = ios_udp_bind(&local);
    if (p->listen == IOS_BAD_SOCK || ios_local_addr(p->listen, &local) != 0) {
        set_error("cannot bind %s:%u", host, (unsigned)p->cfg.listen_port);
        return -1;
    }
    p->port = ios_addr_port(&local);
    return 0;
}

int impair_start(const impair_config *cfg, const char *target_host, uint16_t target_port, impair_proxy **out)
{
    if (!out) {
        set_error("out is NULL");
        return -1;
    }
    *out = NULL;
    if (!cfg || !target_host) {
        set_error("cfg or target_host is NULL");
        return -1;
    }
    if (check_rates(cfg) != 0)
        return -1;
    impair_proxy *p = (impair_proxy *)calloc(1, sizeof *p);
    if (!p) {
        set_error("out of memory");
        return -1;
    }
    p->cfg = *cfg;
    p->cfg.listen_host = NULL; /* not kept: the caller's string may go */
    if (p->cfg.max_clients == 0)
        p->cfg.max_clients = 1;
    p->listen = IOS_BAD_SOCK;
    p->rng = cfg->seed;
    p->lock = ios_mutex_new();
    p->clients = (client *)calloc(p->cfg.max_clients, sizeof *p->clients);
    p->socks = (ios_sock *)calloc(p->cfg.max_clients + 1u, sizeof *p->socks);
    p->ready = (uint8_t *)calloc(p->cfg.max_clients + 1u, 1);
    int timeline_ok = 1;
    if (p->cfg.timeline_ms) {
        if (!p->cfg.timeline_buckets)
            p->cfg.timeline_buckets = 60000;
        for (int d = 0; d < 2; d++)
            timeline_ok &= (p->timeline[d] = (uint64_t *)calloc(p->cfg.timeline_buckets, sizeof(uint64_t))) != NULL;
    }
    if (!p->lock || !p->clients || !p->socks || !p->ready || !timeline_ok) {
        set_error("out of memory");
        proxy_free(p);
        return -1;
    }
    if (proxy_open(p, cfg->listen_host ? cfg->listen_host : "127.0.0.1", target_host, target_port) != 0) {
        proxy_free(p);
        return -1;
    }
    p->start_ms = ios_now_ms();
    p->thread = ios_thread_start(proxy_main, p);
    if (!p->thread) {
        set_error("cannot start the proxy thread");
        proxy_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

uint16_t impair_port(const impair_proxy *p)
{
    return p->port;
}

void impair_stats(impair_proxy *p, impair_counters *out)
{
    ios_lock(p->lock);
    *out = p->counters;
    ios_unlock(p->lock);
}

int impair_set_rates(impair_proxy *p, const impair_config *cfg)
{
    if (!cfg || check_rates(cfg) != 0)
        return -1;
    ios_lock(p->lock);
    p->cfg.directions = cfg->directions;
    p->cfg.drop = cfg->drop;
    p->cfg.dup = cfg->dup;
    p->cfg.reorder = cfg->reorder;
    p->cfg.corrupt = cfg->corrupt;
    p->cfg.reorder_gap = cfg->reorder_gap;
    p->cfg.reorder_max_hold_ms = cfg->reorder_max_hold_ms;
    p->cfg.delay_ms = cfg->delay_ms;
    p->cfg.jitter_ms = cfg->jitter_ms;
    ios_unlock(p->lock);
    return 0;
}

size_t impair_timeline(impair_proxy *p, uint32_t direction, uint64_t *out, size_t max)
{
    int dir = direction == IMPAIR_TO_TARGET ? DIR_TO_TARGET : DIR_TO_CLIENT;
    if (!p->timeline[dir] || (direction != IMPAIR_TO_TARGET && direction != IMPAIR_TO_CLIENT))
        return 0;
    ios_lock(p->lock);
    uint64_t begun = (ios_now_ms() - p->start_ms) / p->cfg.timeline_ms + 1;
    size_t n = begun < p->cfg.timeline_buckets ? (size_t)begun : p->cfg.timeline_buckets;
    if (n > max)
        n = max;
    memcpy(out, p->timeline[dir], n * sizeof *out);
    ios_unlock(p->lock);
    return n;
}

void impair_burst(impair_proxy *p, uint32_t ms)
{
    ios_lock(p->lock);
    p->burst_until_ms = ios_now_ms() + ms;
    ios_unlock(p->lock);
}

void impair_stop(impair_proxy *p)
{
    if (!p)
        return;
    ios_lock(p->lock);
    p->stopping = 1;
    ios_unlock(p->lock);
    ios_thread_join(p->thread);
    proxy_free(p);
}
