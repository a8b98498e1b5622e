/* addr.c - addresses as text: parsing a host and port into a net_addr,
 * formatting one back, and the host part alone (net_addr_host) for bindings
 * whose address objects keep host and port apart (Python's net.Address).
 *
 * net_addr_host cuts net_addr_format's text down to the host, so both agree
 * on every address; the one difference is an IPv6 address that carries an
 * IPv4 one, written the way inet_ntop writes it: a dual-stack listener's IPv4
 * peer reads "::ffff:127.0.0.1", not "::ffff:7f00:1". */
#include <stdio.h>
#include <string.h>
#include "os.h"

NET_API int net_addr_parse(const char *host, uint16_t port, net_addr *out)
{
    if (!out)
        return NET_E_INVAL;
    memset(out, 0, sizeof *out);
    if (!host || !*host)
        return NET_E_ADDR;
    int rc = os_init();
    return rc ? rc : os_resolve(host, port, out, NULL);
}

/* The longest run (two or more) of zero groups, which RFC 5952 writes as
 * "::"; *start is -1 when there is none. */
static int longest_zero_run(const uint16_t g[8], int *start)
{
    int best_len = 0;
    *start = -1;
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && g[j] == 0)
            j++;
        if (j - i > best_len && j - i >= 2) {
            *start = i;
            best_len = j - i;
        }
        i = j > i ? j : i + 1;
    }
    return best_len;
}

/* An IPv6 address as RFC 5952 writes it (lower-case hex, the longest run
 * of zero groups as "::") into p; returns the end of what it wrote. */
static char *put_v6(char *p, const uint8_t ip[16])
{
    uint16_t g[8];
    for (int i = 0; i < 8; i++)
        g[i] = (uint16_t)(ip[2 * i] << 8 | ip[2 * i + 1]);
    int zeros;
    int zeros_len = longest_zero_run(g, &zeros);
    for (int i = 0; i < 8; i++) {
        if (i == zeros) {
            *p++ = ':';
            if (i == 0)
                *p++ = ':';
            i += zeros_len - 1;
            continue;
        }
        p += sprintf(p, "%x", g[i]);
        if (i < 7)
            *p++ = ':';
    }
    return p;
}

NET_API int net_addr_format(const net_addr *a, char *buf, size_t size)
{
    if (!a || !buf || size == 0)
        return NET_E_INVAL;
    /* "[" 39 characters of address "%" a 10-digit scope "]:" 5 digits of port */
    char tmp[64];
    int n;
    if (a->family == NET_AF_INET) {
        n = snprintf(tmp, sizeof tmp, "%u.%u.%u.%u:%u", a->ip[0], a->ip[1], a->ip[2], a->ip[3], a->port);
    } else if (a->family == NET_AF_INET6) {
        char *p = tmp;
        *p++ = '[';
        p = put_v6(p, a->ip);
        /* Without its scope a link-local address names no interface: a
         * sender's address formatted and parsed back could not be answered. */
        if (a->scope_id)
            p += sprintf(p, "%%%u", (unsigned)a->scope_id);
        n = (int)(p - tmp) + snprintf(p, sizeof tmp - (size_t)(p - tmp), "]:%u", a->port);
    } else {
        return NET_E_INVAL;
    }
    if (n < 0 || (size_t)n >= size)
        return NET_E_INVAL;
    memcpy(buf, tmp, (size_t)n + 1);
    return n;
}

/* The prefix to write before the dotted IPv4 address that ends a, or NULL.
 * The rule is inet_ntop's (RFC 4291 2.5.5): mapped ::ffff:a.b.c.d, and
 * compatible ::a.b.c.d unless its 7th group is zero, which keeps "::1" and
 * "::102" in hex. */
static const char *ipv4_prefix(const net_addr *a)
{
    static const uint8_t zeros[10] = {0};
    if (a->family != NET_AF_INET6 || memcmp(a->ip, zeros, sizeof zeros) != 0)
        return NULL;
    if (a->ip[10] == 0xff && a->ip[11] == 0xff)
        return "::ffff:";
    if (a->ip[10] == 0 && a->ip[11] == 0 && (a->ip[12] || a->ip[13]))
        return "::";
    return NULL;
}

NET_API int net_addr_host(const net_addr *addr, char *buf, size_t size)
{
    if (!addr || !buf || size == 0)
        return NET_E_INVAL;
    net_addr a = *addr;
    const char *prefix = ipv4_prefix(addr);
    if (prefix) {
        memset(&a, 0, sizeof a);
        a.family = NET_AF_INET;
        memcpy(a.ip, addr->ip + 12, 4);
    } else {
        prefix = "";
    }
    /* The host alone: the scope is a field of its own, not part of the host. */
    a.scope_id = 0;
    char text[64];
    int n = net_addr_format(&a, text, sizeof text);
    if (n < 0)
        return n;
    /* "1.2.3.4:80" or "[::1]:80": the host ends at the last ':', without
     * the brackets of IPv6. */
    const char *host = text;
    const char *end = strrchr(text, ':');
    if (a.family == NET_AF_INET6) {
        host++;
        end--;
    }
    size_t plen = strlen(prefix);
    size_t hlen = (size_t)(end - host);
    if (plen + hlen >= size)
        return NET_E_INVAL;
    memcpy(buf, prefix, plen);
    memcpy(buf + plen, host, hlen);
    buf[plen + hlen] = '\0';
    return (int)(plen + hlen);
}
