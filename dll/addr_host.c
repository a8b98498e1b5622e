/*
 * addr_host.c - net_addr_host: the host part of an address as text, for
 * bindings whose address objects keep host and port apart (Python's
 * net.Address).
 *
 * The text is net_addr_format's, cut down to the host, so both functions
 * agree on every address; the one difference is the IPv6 address that
 * carries an IPv4 one, written the way inet_ntop (and so every program the
 * user compares with) writes it: a dual-stack listener's IPv4 peer reads
 * "::ffff:127.0.0.1", not "::ffff:7f00:1".
 */
#include <string.h>
#include "net.h"

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
