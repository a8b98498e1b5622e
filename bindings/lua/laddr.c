/*
 * laddr.c - addresses as text, both ways.
 *
 * net prints an address as "1.2.3.4:80" or "[::1]:80" ("[fe80::1%2]:80"
 * with an IPv6 scope), in events and in net.local_addr; every call taking
 * an address takes that text back as one argument, or host and port as
 * two (the host bare, "::1", or bracketed, "[::1]"). So what a script
 * printed or received is always what it can connect or send to.
 */
#include <string.h>

#include "lnet.h"

void lnet_push_addr(lua_State *L, const net_addr *a)
{
    char text[80];
    int n = net_addr_format(a, text, sizeof text);
    if (n < 0) {
        lua_pushnil(L);
        return;
    }
    lua_pushlstring(L, text, (size_t)n);
}

/* Copies host[0..len) into ep->buf without IPv6 brackets; raises for text
 * no host can be. */
static void set_host(lua_State *L, int arg, const char *host, size_t len, lnet_endpoint *ep)
{
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;
    }
    if (len == 0)
        lnet_argerror(L, arg, "empty host");
    if (len >= LNET_HOST_MAX)
        lnet_argerror(L, arg, "host name too long");
    if (memchr(host, '\0', len))
        lnet_argerror(L, arg, "host contains a zero byte");
    memcpy(ep->buf, host, len);
    ep->buf[len] = '\0';
    ep->host = ep->buf;
}

#define ADDR_SHAPE "address must be 'host:port' or '[ipv6]:port'"

/* Argument arg as "host:port", "[v6]:port" or "[v6%scope]:port". */
static void split_addr_text(lua_State *L, int arg, lnet_endpoint *ep)
{
    size_t len;
    const char *s = lnet_checklstring(L, arg, &len);
    size_t colon = len;
    while (colon > 0 && s[colon - 1] != ':')
        colon--;
    if (colon < 2 || colon == len || len - colon > 5)
        lnet_argerror(L, arg, ADDR_SHAPE);
    lua_Integer port = 0;
    for (size_t i = colon; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            lnet_argerror(L, arg, ADDR_SHAPE);
        port = port * 10 + (s[i] - '0');
    }
    if (port > 65535)
        lnet_argerror(L, arg, "port out of range");
    size_t hlen = colon - 1;
    if (s[0] == '[' && (hlen < 3 || s[hlen - 1] != ']'))
        lnet_argerror(L, arg, ADDR_SHAPE);
    if (s[0] != '[' && memchr(s, ':', hlen))
        lnet_argerror(L, arg, "an IPv6 address needs brackets: '[::1]:80'");
    set_host(L, arg, s, hlen, ep);
    ep->port = (uint16_t)port;
}

/* Whether s looks like "host:port" rather than a host: "[...]:..." or one
 * colon only (a bare IPv6 address has several). */
static int is_addr_text(const char *s, size_t len)
{
    const char *colon = memchr(s, ':', len);
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        return close && close + 1 < s + len && close[1] == ':';
    }
    return colon && !memchr(colon + 1, ':', len - (size_t)(colon + 1 - s));
}

int lnet_check_endpoint(lua_State *L, int arg, int two_args, int host_optional, lnet_endpoint *ep)
{
    ep->host = NULL;
    ep->port = 0;
    if (!two_args) {
        split_addr_text(L, arg, ep);
        return arg + 1;
    }
    if (host_optional && lua_isnoneornil(L, arg)) {
        ep->port = lnet_check_port(L, arg + 1);
        return arg + 2;
    }
    size_t len;
    const char *host = lnet_checklstring(L, arg, &len);
    uint16_t port = lnet_check_port(L, arg + 1);
    /* net.local_addr and net.addr_parse return the text and its port, so
     * e:connect(net.local_addr(l)) passes both: take the text as the
     * address when its port is the one that follows. */
    if (is_addr_text(host, len)) {
        split_addr_text(L, arg, ep);
        if (ep->port != port)
            lnet_argerror(L, arg + 1, "port differs from the address's");
        return arg + 2;
    }
    set_host(L, arg, host, len, ep);
    ep->port = port;
    return arg + 2;
}
