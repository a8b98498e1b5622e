/* addr.c - addresses as text: parsing a host and port into a net_addr, and
 * formatting one back. */
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
