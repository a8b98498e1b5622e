/*
 * os_socket.c - the socket half of os.h, the same on POSIX and Windows:
 * address conversions, name resolution, socket setup and options. What the
 * platforms do differently is behind the hooks of os_socket.h, defined in
 * os_posix.c and os_win.c.
 */
#include "os_socket.h"

#include <string.h>

_Static_assert(sizeof(os_sys_sock) <= sizeof(net_sock), "net_sock must hold a native socket");
_Static_assert(sizeof(struct sockaddr_storage) <= 128, "sockaddr storage larger than os.h promises");

int os_error_by_name(const char *name)
{
    for (const os_sys_error_name *e = os_sys_error_names; e->name; e++)
        if (strcmp(name, e->name) == 0)
            return e->code;
    return 0;
}

int os_sockaddr_from_addr(const net_addr *a, void *storage, int *len)
{
    memset(storage, 0, sizeof(struct sockaddr_storage));
    if (a->family == NET_AF_INET) {
        struct sockaddr_in *sin = storage;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(a->port);
        memcpy(&sin->sin_addr, a->ip, 4);
        *len = (int)sizeof *sin;
        return 0;
    }
    if (a->family == NET_AF_INET6) {
        struct sockaddr_in6 *sin6 = storage;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(a->port);
        sin6->sin6_scope_id = a->scope_id;
        memcpy(&sin6->sin6_addr, a->ip, 16);
        *len = (int)sizeof *sin6;
        return 0;
    }
    return NET_E_ADDR;
}

void os_addr_from_sockaddr(const void *sa, net_addr *out)
{
    memset(out, 0, sizeof *out);
    const struct sockaddr *s = sa;
    if (s->sa_family == AF_INET) {
        const struct sockaddr_in *sin = sa;
        out->family = NET_AF_INET;
        out->port = ntohs(sin->sin_port);
        memcpy(out->ip, &sin->sin_addr, 4);
    } else if (s->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = sa;
        out->family = NET_AF_INET6;
        out->port = ntohs(sin6->sin6_port);
        out->scope_id = sin6->sin6_scope_id;
        memcpy(out->ip, &sin6->sin6_addr, 16);
    }
}

int os_resolve(const char *host, uint16_t port, net_addr *out, int *os_error)
{
    memset(out, 0, sizeof *out);
    out->port = port;
    if (!host || !*host) {
        out->family = NET_AF_INET;
        return 0;
    }
    /* Windows resolves nothing before WSAStartup; a no-op on POSIX. */
    if (os_init() != 0)
        return NET_E_UNSUPPORTED;
    /* Numeric addresses never touch the resolver. */
    if (inet_pton(AF_INET, host, out->ip) == 1) {
        out->family = NET_AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, host, out->ip) == 1) {
        out->family = NET_AF_INET6;
        return 0;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res) {
        if (os_error)
            *os_error = rc;
        return NET_E_ADDR;
    }
    os_addr_from_sockaddr(res->ai_addr, out);
    out->port = port;
    freeaddrinfo(res);
    return 0;
}

static int set_int_opt(os_sys_sock fd, int level, int name, int v)
{
    return setsockopt(fd, level, name, (const char *)&v, (socklen_t)sizeof v);
}

/* A socket call failed: reports the error. */
static int sock_error(int *os_error)
{
    int e = os_last_error();
    if (os_error)
        *os_error = e;
    return os_error_to_net(e);
}

/* A call setting up fd failed: closes fd (if any) and reports the error,
 * which os_last_error() still returns after. */
static int setup_failed(os_sys_sock fd, int *os_error)
{
    int e = os_last_error();
    os_sock_close((net_sock)fd);
    os_sys_set_last_error(e);
    if (os_error)
        *os_error = e;
    return os_sys_setup_error_to_net(e);
}

/* A listener's options, set before its bind. A best effort, as they always
 * were: a listener that cannot have them still works. */
static void listener_set_options(os_sys_sock fd, int family, uint32_t flags)
{
    if (flags & NET_TCP_REUSEADDR)
        set_int_opt(fd, SOL_SOCKET, os_sys_reuseaddr_option(fd), 1);
    if (family == AF_INET6)
        set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, (flags & NET_TCP_IPV6ONLY) ? 1 : 0);
}

/* A UDP socket's options (os_udp_open), set before its bind: 0, or -1 as
 * soon as one fails. */
static int udp_set_options(os_sys_sock fd, int family, uint32_t flags, int rcvbuf, int sndbuf)
{
    /* For UDP, SO_REUSEADDR means the same on both platforms: several
     * sockets share the port (and each gets broadcasts). */
    if ((flags & NET_UDP_REUSEADDR) && set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1) != 0)
        return -1;
    if ((flags & NET_UDP_BROADCAST) && set_int_opt(fd, SOL_SOCKET, SO_BROADCAST, 1) != 0)
        return -1;
    if (family == AF_INET6 && set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, (flags & NET_UDP_IPV6ONLY) ? 1 : 0) != 0)
        return -1;
    if (rcvbuf > 0 && set_int_opt(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf) != 0)
        return -1;
    if (sndbuf > 0 && set_int_opt(fd, SOL_SOCKET, SO_SNDBUF, sndbuf) != 0)
        return -1;
    return 0;
}

/* What a socket about to be bound is for: a listener (SOCK_STREAM, flags
 * NET_TCP_*) or a UDP socket (SOCK_DGRAM, flags NET_UDP_*, buffer sizes). */
typedef struct bind_setup {
    int type;
    uint32_t flags;
    int rcvbuf, sndbuf;
} bind_setup;

/* A new socket of b's type bound to addr, with b's options set before the
 * bind: 0, or a NET_E_* code with nothing left open. */
static int open_bound(const net_addr *addr, const bind_setup *b, os_sys_sock *out, int *os_error)
{
    struct sockaddr_storage ss;
    int len;
    if (os_sockaddr_from_addr(addr, &ss, &len) != 0)
        return NET_E_ADDR;
    os_sys_sock fd = os_sys_socket(ss.ss_family, b->type);
    if (fd == OS_SYS_BAD_SOCK)
        goto fail;
    if (b->type == SOCK_STREAM)
        listener_set_options(fd, ss.ss_family, b->flags);
    else if (udp_set_options(fd, ss.ss_family, b->flags, b->rcvbuf, b->sndbuf) != 0)
        goto fail;
    if (bind(fd, (struct sockaddr *)&ss, (socklen_t)len) != 0)
        goto fail;
    *out = fd;
    return 0;
fail:
    return setup_failed(fd, os_error);
}

int os_tcp_listen(const net_addr *addr, int backlog, uint32_t flags, net_sock *out, int *os_error)
{
    bind_setup b = {SOCK_STREAM, flags, 0, 0};
    os_sys_sock fd;
    int rc = open_bound(addr, &b, &fd, os_error);
    if (rc != 0)
        return rc;
    if (listen(fd, backlog > 0 ? backlog : 511) != 0)
        return setup_failed(fd, os_error);
    *out = (net_sock)fd;
    return 0;
}

int os_udp_open(const net_addr *addr, uint32_t flags, int rcvbuf, int sndbuf, net_sock *out, int *os_error)
{
    bind_setup b = {SOCK_DGRAM, flags, rcvbuf, sndbuf};
    os_sys_sock fd;
    int rc = open_bound(addr, &b, &fd, os_error);
    if (rc != 0)
        return rc;
    /* Non-blocking for the backends' tries at receiving and sending (a
     * Windows socket starts out blocking); ICMP reports off until connected. */
    if (os_sys_set_nonblocking(fd) != 0)
        return setup_failed(fd, os_error);
    os_sys_udp_icmp_reports(fd, 0);
    *out = (net_sock)fd;
    return 0;
}

int os_udp_connect(net_sock s, const net_addr *to, int *os_error)
{
    os_sys_sock fd = (os_sys_sock)s;
    net_addr peer = os_sys_udp_peer(fd, to);
    struct sockaddr_storage ss;
    int len;
    if (os_sockaddr_from_addr(&peer, &ss, &len) != 0)
        return NET_E_ADDR;
    if (connect(fd, (struct sockaddr *)&ss, (socklen_t)len) != 0)
        return sock_error(os_error);
    os_sys_udp_icmp_reports(fd, 1);
    return 0;
}

int os_tcp_socket(const net_addr *addr, net_sock *out, int *os_error)
{
    os_sys_sock fd = os_sys_socket(addr->family == NET_AF_INET6 ? AF_INET6 : AF_INET, SOCK_STREAM);
    if (fd == OS_SYS_BAD_SOCK)
        return sock_error(os_error);
    /* A Windows socket starts out blocking; a POSIX one is non-blocking. */
    os_sys_set_nonblocking(fd);
    *out = (net_sock)fd;
    return 0;
}

int os_tcp_prepare(net_sock s, uint32_t flags)
{
    os_sys_sock fd = (os_sys_sock)s;
    /* Accepted sockets may come blocking (accept, AcceptEx). */
    os_sys_set_nonblocking(fd);
    if (flags & NET_TCP_NODELAY)
        set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    if (flags & NET_TCP_KEEPALIVE)
        set_int_opt(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    return 0;
}

void os_sock_close(net_sock s)
{
    if (s != NET_BAD_SOCK)
        OS_SYS_CLOSE((os_sys_sock)s);
}

int os_sock_shutdown_write(net_sock s)
{
    return shutdown((os_sys_sock)s, OS_SYS_SHUT_WR) == 0 ? 0 : os_error_to_net(os_last_error());
}

int os_sock_set_linger0(net_sock s)
{
    struct linger l = {1, 0};
    if (setsockopt((os_sys_sock)s, SOL_SOCKET, SO_LINGER, (const char *)&l, (socklen_t)sizeof l) != 0)
        return NET_E_OS;
    return 0;
}

/* Where a NET_OPT_* held in an int lives; a flag reads back as 0 or 1, the
 * others (buffer sizes) must be positive. */
typedef struct int_option {
    int level, name, is_flag;
} int_option;

/* The int_option for option on fd: 0, or NET_E_INVAL for one that is not
 * an int (NET_OPT_LINGER) or not known. */
static int find_int_option(os_sys_sock fd, int option, int_option *o)
{
    switch (option) {
    case NET_OPT_NODELAY:
        *o = (int_option){IPPROTO_TCP, TCP_NODELAY, 1};
        return 0;
    case NET_OPT_KEEPALIVE:
        *o = (int_option){SOL_SOCKET, SO_KEEPALIVE, 1};
        return 0;
    case NET_OPT_SNDBUF:
        *o = (int_option){SOL_SOCKET, SO_SNDBUF, 0};
        return 0;
    case NET_OPT_RCVBUF:
        *o = (int_option){SOL_SOCKET, SO_RCVBUF, 0};
        return 0;
    case NET_OPT_REUSEADDR:
        *o = (int_option){SOL_SOCKET, os_sys_reuseaddr_option(fd), 1};
        return 0;
    case NET_OPT_BROADCAST:
        *o = (int_option){SOL_SOCKET, SO_BROADCAST, 1};
        return 0;
    default:
        return NET_E_INVAL;
    }
}

/* NET_OPT_LINGER: seconds to linger on close, -1 for off. */
static int set_linger(os_sys_sock fd, int64_t value, int *os_error)
{
    if (value > OS_SYS_LINGER_MAX)
        return NET_E_INVAL;
    struct linger l;
    l.l_onoff = value >= 0;
    l.l_linger = (os_sys_linger_secs)(value >= 0 ? value : 0);
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, (const char *)&l, (socklen_t)sizeof l) != 0)
        return sock_error(os_error);
    return 0;
}

static int get_linger(os_sys_sock fd, int64_t *value, int *os_error)
{
    struct linger l;
    socklen_t len = sizeof l;
    if (getsockopt(fd, SOL_SOCKET, SO_LINGER, (char *)&l, &len) != 0)
        return sock_error(os_error);
    *value = l.l_onoff ? l.l_linger : -1;
    return 0;
}

int os_sock_set_option(net_sock s, int option, int64_t value, int *os_error)
{
    os_sys_sock fd = (os_sys_sock)s;
    int_option o;
    if (value < INT32_MIN || value > INT32_MAX)
        return NET_E_INVAL;
    if (option == NET_OPT_LINGER)
        return set_linger(fd, value, os_error);
    if (find_int_option(fd, option, &o) != 0)
        return NET_E_INVAL;
    if (!o.is_flag && value <= 0)
        return NET_E_INVAL;
    if (set_int_opt(fd, o.level, o.name, o.is_flag ? value != 0 : (int)value) != 0)
        return sock_error(os_error);
    return 0;
}

int os_sock_get_option(net_sock s, int option, int64_t *value, int *os_error)
{
    os_sys_sock fd = (os_sys_sock)s;
    int_option o;
    if (option == NET_OPT_LINGER)
        return get_linger(fd, value, os_error);
    if (find_int_option(fd, option, &o) != 0)
        return NET_E_INVAL;
    /* v starts at 0, so a boolean written as one byte reads right too. */
    int v = 0;
    socklen_t len = sizeof v;
    if (getsockopt(fd, o.level, o.name, (char *)&v, &len) != 0)
        return sock_error(os_error);
    *value = o.is_flag ? (v != 0) : v;
    return 0;
}

/* The local (peer 0) or remote (peer 1) address of s. */
static int sock_name(net_sock s, int peer, net_addr *out)
{
    os_sys_sock fd = (os_sys_sock)s;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len) : getsockname(fd, (struct sockaddr *)&ss, &len);
    if (rc != 0)
        return os_error_to_net(os_last_error());
    os_addr_from_sockaddr(&ss, out);
    return 0;
}

int os_sock_local_addr(net_sock s, net_addr *out)
{
    return sock_name(s, 0, out);
}

int os_sock_peer_addr(net_sock s, net_addr *out)
{
    return sock_name(s, 1, out);
}
