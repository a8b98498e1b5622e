/* os_win.c - os.h on Windows (Vista or later): Winsock 2, SRW locks,
 * condition variables, _beginthreadex. Builds with MinGW-w64 and MSVC. */
#ifndef _CRT_SECURE_NO_WARNINGS
#    define _CRT_SECURE_NO_WARNINGS /* getenv */
#endif
#ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN
#endif
#if !defined(_WIN32_WINNT) || _WIN32_WINNT < 0x0601
#    undef _WIN32_WINNT
#    define _WIN32_WINNT 0x0601 /* Windows 7: inet_pton, SRW locks, condition variables */
#endif

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <process.h>
#include <stdlib.h>
#include <string.h>

#include "os.h"

#ifndef WSA_FLAG_NO_HANDLE_INHERIT
#    define WSA_FLAG_NO_HANDLE_INHERIT 0x80
#endif
#ifndef SIO_UDP_CONNRESET
#    define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12)
#endif
#ifndef SIO_UDP_NETRESET
#    define SIO_UDP_NETRESET _WSAIOW(IOC_VENDOR, 15)
#endif

_Static_assert(sizeof(SRWLOCK) <= sizeof(os_mutex), "os_mutex too small");
_Static_assert(sizeof(CONDITION_VARIABLE) <= sizeof(os_cond), "os_cond too small");
_Static_assert(sizeof(SOCKET) <= sizeof(net_sock), "net_sock must hold a SOCKET");
_Static_assert(sizeof(SOCKADDR_STORAGE) <= 128, "sockaddr storage larger than os.h promises");

/* ---- process ---- */

static INIT_ONCE g_init_once = INIT_ONCE_STATIC_INIT;
static int g_init_rc;
static LARGE_INTEGER g_qpc_freq;

static BOOL CALLBACK init_once(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    WSADATA d;
    g_init_rc = WSAStartup(MAKEWORD(2, 2), &d) == 0 ? 0 : NET_E_UNSUPPORTED;
    QueryPerformanceFrequency(&g_qpc_freq);
    return TRUE;
}

int os_init(void)
{
    InitOnceExecuteOnce(&g_init_once, init_once, NULL, NULL);
    return g_init_rc;
}

uint64_t os_now_ms(void)
{
    if (!g_qpc_freq.QuadPart) /* before os_init (net_pure users) */
        QueryPerformanceFrequency(&g_qpc_freq);
    LARGE_INTEGER c;
    QueryPerformanceCounter(&c);
    uint64_t t = (uint64_t)c.QuadPart, f = (uint64_t)g_qpc_freq.QuadPart;
    return (t / f) * 1000u + (t % f) * 1000u / f;
}

uint64_t os_thread_self(void)
{
    return (uint64_t)GetCurrentThreadId();
}

void os_yield(void)
{
    if (!SwitchToThread())
        Sleep(0);
}

void os_sleep_ms(uint32_t ms)
{
    Sleep(ms);
}

struct os_thread {
    HANDLE h;
    void (*fn)(void *);
    void *arg;
};

static unsigned __stdcall thread_main(void *p)
{
    os_thread *t = p;
    t->fn(t->arg);
    return 0;
}

int os_thread_start(os_thread **out, void (*fn)(void *), void *arg)
{
    os_thread *t = calloc(1, sizeof *t);
    if (!t)
        return NET_E_NOMEM;
    t->fn = fn;
    t->arg = arg;
    uintptr_t h = _beginthreadex(NULL, 0, thread_main, t, 0, NULL);
    if (h == 0) {
        free(t);
        return NET_E_OS;
    }
    t->h = (HANDLE)h;
    *out = t;
    return 0;
}

void os_thread_join(os_thread *t)
{
    if (!t)
        return;
    WaitForSingleObject(t->h, INFINITE);
    CloseHandle(t->h);
    free(t);
}

void os_mutex_init(os_mutex *m)
{
    InitializeSRWLock((PSRWLOCK)m);
}
void os_mutex_destroy(os_mutex *m)
{
    (void)m; /* SRW locks hold no resources */
}
void os_mutex_lock(os_mutex *m)
{
    AcquireSRWLockExclusive((PSRWLOCK)m);
}
void os_mutex_unlock(os_mutex *m)
{
    ReleaseSRWLockExclusive((PSRWLOCK)m);
}

void os_cond_init(os_cond *c)
{
    InitializeConditionVariable((PCONDITION_VARIABLE)c);
}
void os_cond_destroy(os_cond *c)
{
    (void)c;
}
void os_cond_signal(os_cond *c)
{
    WakeConditionVariable((PCONDITION_VARIABLE)c);
}
void os_cond_wait(os_cond *c, os_mutex *m, int timeout_ms)
{
    SleepConditionVariableSRW((PCONDITION_VARIABLE)c, (PSRWLOCK)m, timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms, 0);
}

const char *os_getenv(const char *name)
{
    return getenv(name);
}

int os_error_by_name(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } t[] = {{"EMFILE", WSAEMFILE},         {"ENFILE", WSAEMFILE},     {"ENOBUFS", WSAENOBUFS},
             {"ECONNRESET", WSAECONNRESET}, {"EBUSY", WSAEWOULDBLOCK}, {"EAGAIN", WSAEWOULDBLOCK},
             {"EPIPE", WSAESHUTDOWN}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(name, t[i].name) == 0)
            return t[i].code;
    return 0;
}

/* ---- sockets ---- */

int os_last_error(void)
{
    return WSAGetLastError();
}

int os_error_to_net(int e)
{
    switch (e) {
    case 0:
        return 0;
    case WSAECONNRESET:
    case WSAECONNABORTED:
    case WSAENETRESET:
    case WSAESHUTDOWN:
    case WSAEDISCON:
    case ERROR_NETNAME_DELETED:
    case ERROR_CONNECTION_ABORTED:
    case ERROR_BROKEN_PIPE:
        return NET_E_RESET;
    case WSAECONNREFUSED:
    case ERROR_CONNECTION_REFUSED:
        return NET_E_REFUSED;
    case WSAETIMEDOUT:
    case ERROR_SEM_TIMEOUT:
        return NET_E_TIMEDOUT;
    case WSAEADDRINUSE:
    case ERROR_ADDRESS_ALREADY_ASSOCIATED:
        return NET_E_ADDRINUSE;
    case WSAEADDRNOTAVAIL:
    case WSAEAFNOSUPPORT:
    case WSAEPFNOSUPPORT:
    case WSAHOST_NOT_FOUND:
    case WSANO_DATA:
        return NET_E_ADDR;
    case WSAENETUNREACH:
    case WSAEHOSTUNREACH:
    case WSAENETDOWN:
    case WSAEHOSTDOWN:
    case ERROR_NETWORK_UNREACHABLE:
    case ERROR_HOST_UNREACHABLE:
    case ERROR_PROTOCOL_UNREACHABLE:
    case ERROR_PORT_UNREACHABLE:
        return NET_E_UNREACHABLE;
    case WSAENOBUFS:
    case WSA_NOT_ENOUGH_MEMORY: /* == ERROR_NOT_ENOUGH_MEMORY */
    case ERROR_OUTOFMEMORY:
        return NET_E_NOMEM;
    case WSAEINVAL:
        return NET_E_INVAL;
    case WSAEMSGSIZE:
        return NET_E_MSGSIZE;
    case WSA_OPERATION_ABORTED: /* == ERROR_OPERATION_ABORTED */
        return NET_E_ABORTED;
    default:
        return NET_E_OS;
    }
}

int os_error_is_resource(int e)
{
    return e == WSAEMFILE || e == WSAENOBUFS || e == WSA_NOT_ENOUGH_MEMORY || e == ERROR_OUTOFMEMORY ||
           e == ERROR_NO_SYSTEM_RESOURCES;
}

int os_sockaddr_from_addr(const net_addr *a, void *storage, int *len)
{
    memset(storage, 0, sizeof(SOCKADDR_STORAGE));
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

static int set_int_opt(SOCKET s, int level, int name, int v)
{
    return setsockopt(s, level, name, (const char *)&v, (int)sizeof v);
}

static SOCKET new_socket(int family, int type, int proto)
{
    /* Overlapped, so the IOCP backend can use it; not inherited by children
     * (a flag Windows 7 before SP1 rejects: then inheritable). */
    SOCKET s = WSASocketW(family, type, proto, NULL, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET && WSAGetLastError() == WSAEINVAL)
        s = WSASocketW(family, type, proto, NULL, 0, WSA_FLAG_OVERLAPPED);
    return s;
}

static SOCKET new_tcp_socket(int family)
{
    return new_socket(family, SOCK_STREAM, IPPROTO_TCP);
}

static int sock_is_dgram(SOCKET s)
{
    int type = 0, len = (int)sizeof type;
    return getsockopt(s, SOL_SOCKET, SO_TYPE, (char *)&type, &len) == 0 && type == SOCK_DGRAM;
}

/* Whether ICMP errors about earlier sends fail later receives (port
 * unreachable as WSAECONNRESET, TTL expired as WSAENETRESET). Windows
 * reports them on unconnected sockets too, where one client's closed port
 * would disturb a server's receives: off there, on for a connected socket
 * (port unreachable only, as Linux reports it). Providers that do not know
 * the controls (Wine answers WSAEOPNOTSUPP to SIO_UDP_NETRESET) are left
 * as they are. */
static void udp_icmp_reports(SOCKET s, DWORD code, BOOL on)
{
    DWORD n = 0;
    int e = WSAGetLastError();
    WSAIoctl(s, code, &on, (DWORD)sizeof on, NULL, 0, &n, NULL, NULL);
    WSASetLastError(e);
}

/* to as socket s must be given it (os_addr_for_family). */
static int udp_sockaddr(SOCKET s, const net_addr *a, SOCKADDR_STORAGE *ss, int *len)
{
    SOCKADDR_STORAGE local;
    int llen = (int)sizeof local;
    uint16_t family = getsockname(s, (struct sockaddr *)&local, &llen) == 0 && local.ss_family == AF_INET6
                          ? NET_AF_INET6
                          : NET_AF_INET;
    net_addr m = os_addr_for_family(a, family);
    return os_sockaddr_from_addr(&m, ss, len);
}

/* A call setting up s failed: closes s (if any) and reports the error. */
static int sock_failed(SOCKET s, int *os_error)
{
    int e = WSAGetLastError();
    if (s != INVALID_SOCKET)
        closesocket(s);
    WSASetLastError(e);
    if (os_error)
        *os_error = e;
    if (e == WSAEACCES) /* a port held with SO_EXCLUSIVEADDRUSE */
        return NET_E_ADDRINUSE;
    return os_error_to_net(e);
}

int os_tcp_listen(const net_addr *addr, int backlog, uint32_t flags, net_sock *out, int *os_error)
{
    SOCKADDR_STORAGE ss;
    int len;
    if (os_sockaddr_from_addr(addr, &ss, &len) != 0)
        return NET_E_ADDR;
    SOCKET s = new_tcp_socket(ss.ss_family);
    if (s == INVALID_SOCKET)
        goto fail;
    /* Windows lets a new listener bind over TIME_WAIT connections without
     * any option, and SO_REUSEADDR would let another socket take a port
     * that is listening. What POSIX's SO_REUSEADDR gives is the default
     * here; REUSEADDR asks for SO_EXCLUSIVEADDRUSE, which keeps others off. */
    if (flags & NET_TCP_REUSEADDR)
        set_int_opt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1);
    if (ss.ss_family == AF_INET6)
        set_int_opt(s, IPPROTO_IPV6, IPV6_V6ONLY, (flags & NET_TCP_IPV6ONLY) ? 1 : 0);
    if (bind(s, (struct sockaddr *)&ss, len) != 0)
        goto fail;
    if (listen(s, backlog > 0 ? backlog : 511) != 0)
        goto fail;
    *out = (net_sock)s;
    return 0;
fail:
    return sock_failed(s, os_error);
}

int os_udp_open(const net_addr *addr, uint32_t flags, int rcvbuf, int sndbuf, net_sock *out, int *os_error)
{
    SOCKADDR_STORAGE ss;
    int len;
    if (os_sockaddr_from_addr(addr, &ss, &len) != 0)
        return NET_E_ADDR;
    SOCKET s = new_socket(ss.ss_family, SOCK_DGRAM, IPPROTO_UDP);
    if (s == INVALID_SOCKET)
        goto fail;
    /* For UDP, SO_REUSEADDR is what POSIX's is: several sockets share the
     * port (and each gets broadcasts). Unlike for TCP (os_tcp_listen) there
     * is no TIME_WAIT that makes the default the POSIX one. */
    if ((flags & NET_UDP_REUSEADDR) && set_int_opt(s, SOL_SOCKET, SO_REUSEADDR, 1) != 0)
        goto fail;
    if ((flags & NET_UDP_BROADCAST) && set_int_opt(s, SOL_SOCKET, SO_BROADCAST, 1) != 0)
        goto fail;
    if (ss.ss_family == AF_INET6 && set_int_opt(s, IPPROTO_IPV6, IPV6_V6ONLY, (flags & NET_UDP_IPV6ONLY) ? 1 : 0) != 0)
        goto fail;
    if (rcvbuf > 0 && set_int_opt(s, SOL_SOCKET, SO_RCVBUF, rcvbuf) != 0)
        goto fail;
    if (sndbuf > 0 && set_int_opt(s, SOL_SOCKET, SO_SNDBUF, sndbuf) != 0)
        goto fail;
    if (bind(s, (struct sockaddr *)&ss, len) != 0)
        goto fail;
    u_long on = 1;
    if (ioctlsocket(s, FIONBIO, &on) != 0)
        goto fail;
    udp_icmp_reports(s, SIO_UDP_CONNRESET, FALSE);
    udp_icmp_reports(s, SIO_UDP_NETRESET, FALSE);
    *out = (net_sock)s;
    return 0;
fail:
    return sock_failed(s, os_error);
}

int os_udp_connect(net_sock s, const net_addr *to, int *os_error)
{
    SOCKET fd = (SOCKET)s;
    SOCKADDR_STORAGE ss;
    int len;
    if (udp_sockaddr(fd, to, &ss, &len) != 0)
        return NET_E_ADDR;
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        int e = WSAGetLastError();
        if (os_error)
            *os_error = e;
        return os_error_to_net(e);
    }
    udp_icmp_reports(fd, SIO_UDP_CONNRESET, TRUE);
    return 0;
}

int os_tcp_socket(const net_addr *addr, net_sock *out, int *os_error)
{
    SOCKET s = new_tcp_socket(addr->family == NET_AF_INET6 ? AF_INET6 : AF_INET);
    if (s == INVALID_SOCKET) {
        int e = WSAGetLastError();
        if (os_error)
            *os_error = e;
        return os_error_to_net(e);
    }
    u_long on = 1;
    ioctlsocket(s, FIONBIO, &on);
    *out = (net_sock)s;
    return 0;
}

int os_tcp_prepare(net_sock s, uint32_t flags)
{
    SOCKET fd = (SOCKET)s;
    u_long on = 1;
    ioctlsocket(fd, FIONBIO, &on);
    if (flags & NET_TCP_NODELAY)
        set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    if (flags & NET_TCP_KEEPALIVE)
        set_int_opt(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    return 0;
}

void os_sock_close(net_sock s)
{
    if (s != NET_BAD_SOCK)
        closesocket((SOCKET)s);
}

int os_sock_shutdown_write(net_sock s)
{
    return shutdown((SOCKET)s, SD_SEND) == 0 ? 0 : os_error_to_net(WSAGetLastError());
}

int os_sock_set_linger0(net_sock s)
{
    struct linger l;
    l.l_onoff = 1;
    l.l_linger = 0;
    return setsockopt((SOCKET)s, SOL_SOCKET, SO_LINGER, (const char *)&l, (int)sizeof l) == 0 ? 0 : NET_E_OS;
}

int os_sock_set_option(net_sock s, int option, int64_t value, int *os_error)
{
    SOCKET fd = (SOCKET)s;
    int rc;
    if (value < INT32_MIN || value > INT32_MAX)
        return NET_E_INVAL;
    switch (option) {
    case NET_OPT_NODELAY:
        rc = set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, value != 0);
        break;
    case NET_OPT_KEEPALIVE:
        rc = set_int_opt(fd, SOL_SOCKET, SO_KEEPALIVE, value != 0);
        break;
    case NET_OPT_SNDBUF:
        if (value <= 0)
            return NET_E_INVAL;
        rc = set_int_opt(fd, SOL_SOCKET, SO_SNDBUF, (int)value);
        break;
    case NET_OPT_RCVBUF:
        if (value <= 0)
            return NET_E_INVAL;
        rc = set_int_opt(fd, SOL_SOCKET, SO_RCVBUF, (int)value);
        break;
    case NET_OPT_REUSEADDR: /* see os_tcp_listen and os_udp_open */
        rc = set_int_opt(fd, SOL_SOCKET, sock_is_dgram(fd) ? SO_REUSEADDR : SO_EXCLUSIVEADDRUSE, value != 0);
        break;
    case NET_OPT_BROADCAST:
        rc = set_int_opt(fd, SOL_SOCKET, SO_BROADCAST, value != 0);
        break;
    case NET_OPT_LINGER: {
        if (value > 0xFFFF)
            return NET_E_INVAL;
        struct linger l;
        l.l_onoff = value >= 0;
        l.l_linger = (u_short)(value >= 0 ? value : 0);
        rc = setsockopt(fd, SOL_SOCKET, SO_LINGER, (const char *)&l, (int)sizeof l);
        break;
    }
    default:
        return NET_E_INVAL;
    }
    if (rc != 0) {
        int e = WSAGetLastError();
        if (os_error)
            *os_error = e;
        return os_error_to_net(e);
    }
    return 0;
}

int os_sock_get_option(net_sock s, int option, int64_t *value, int *os_error)
{
    SOCKET fd = (SOCKET)s;
    int v = 0, level = SOL_SOCKET, name;
    int len = (int)sizeof v;
    switch (option) {
    case NET_OPT_NODELAY:
        level = IPPROTO_TCP;
        name = TCP_NODELAY;
        break;
    case NET_OPT_KEEPALIVE:
        name = SO_KEEPALIVE;
        break;
    case NET_OPT_SNDBUF:
        name = SO_SNDBUF;
        break;
    case NET_OPT_RCVBUF:
        name = SO_RCVBUF;
        break;
    case NET_OPT_REUSEADDR:
        name = sock_is_dgram(fd) ? SO_REUSEADDR : SO_EXCLUSIVEADDRUSE;
        break;
    case NET_OPT_BROADCAST:
        name = SO_BROADCAST;
        break;
    case NET_OPT_LINGER: {
        struct linger l;
        int ll = (int)sizeof l;
        if (getsockopt(fd, SOL_SOCKET, SO_LINGER, (char *)&l, &ll) != 0)
            goto fail;
        *value = l.l_onoff ? l.l_linger : -1;
        return 0;
    }
    default:
        return NET_E_INVAL;
    }
    if (getsockopt(fd, level, name, (char *)&v, &len) != 0)
        goto fail;
    /* v starts at 0, so a boolean written as one byte reads right too. */
    *value = (option == NET_OPT_NODELAY || option == NET_OPT_KEEPALIVE || option == NET_OPT_REUSEADDR ||
              option == NET_OPT_BROADCAST)
                 ? (v != 0)
                 : v;
    return 0;
fail:;
    int e = WSAGetLastError();
    if (os_error)
        *os_error = e;
    return os_error_to_net(e);
}

int os_sock_local_addr(net_sock s, net_addr *out)
{
    SOCKADDR_STORAGE ss;
    int len = (int)sizeof ss;
    if (getsockname((SOCKET)s, (struct sockaddr *)&ss, &len) != 0)
        return os_error_to_net(WSAGetLastError());
    os_addr_from_sockaddr(&ss, out);
    return 0;
}

int os_sock_peer_addr(net_sock s, net_addr *out)
{
    SOCKADDR_STORAGE ss;
    int len = (int)sizeof ss;
    if (getpeername((SOCKET)s, (struct sockaddr *)&ss, &len) != 0)
        return os_error_to_net(WSAGetLastError());
    os_addr_from_sockaddr(&ss, out);
    return 0;
}
