/* os_win.c - os.h on Windows (Vista or later): Winsock 2, SRW locks,
 * condition variables, _beginthreadex. Builds with MinGW-w64 and MSVC.
 * Also the hooks of os_socket.h (the socket code both platforms share is
 * in os_socket.c). */
#define _CRT_RAND_S /* rand_s: the CRT's RtlGenRandom */
#ifndef _CRT_SECURE_NO_WARNINGS
#    define _CRT_SECURE_NO_WARNINGS /* getenv */
#endif
#include "os_socket.h"

#include <process.h>
#include <stdlib.h>
#include <string.h>

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

uint64_t os_now_us(void)
{
    if (!g_qpc_freq.QuadPart)
        QueryPerformanceFrequency(&g_qpc_freq);
    LARGE_INTEGER c;
    QueryPerformanceCounter(&c);
    uint64_t t = (uint64_t)c.QuadPart, f = (uint64_t)g_qpc_freq.QuadPart;
    return (t / f) * 1000000u + (t % f) * 1000000u / f;
}

void os_random(void *out, size_t len)
{
    uint8_t *w = out;
    while (len) {
        unsigned int r = 0;
        if (rand_s(&r) != 0)
            r = (unsigned int)os_now_us();
        size_t n = len < sizeof r ? len : sizeof r;
        memcpy(w, &r, n);
        w += n;
        len -= n;
    }
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

int os_error_is_listener_broken(int e)
{
    return e == WSAENOTSOCK || e == WSAEINVAL || e == WSAEOPNOTSUPP || e == WSAEBADF || e == ERROR_INVALID_HANDLE;
}

/* ---- os_socket.h hooks ---- */

/* The names os_error_by_name knows, as their WSA twins: Windows has no
 * ENFILE (WSAEMFILE stands in), would-block is its EBUSY and EAGAIN, a
 * send after shutdown its EPIPE, and access denied its EPERM. */
const os_sys_error_name os_sys_error_names[] = {
    {"EMFILE", WSAEMFILE},         {"ENFILE", WSAEMFILE},     {"ENOBUFS", WSAENOBUFS},
    {"ECONNRESET", WSAECONNRESET}, {"EBUSY", WSAEWOULDBLOCK}, {"EAGAIN", WSAEWOULDBLOCK},
    {"EPIPE", WSAESHUTDOWN},       {"EPERM", WSAEACCES},      {NULL, 0},
};

os_sys_sock os_sys_socket(int family, int type)
{
    int proto = type == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP;
    /* Overlapped, so the IOCP backend can use it; not inherited by children
     * (a flag Windows 7 before SP1 rejects: then inheritable). */
    SOCKET s = WSASocketW(family, type, proto, NULL, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET && WSAGetLastError() == WSAEINVAL)
        s = WSASocketW(family, type, proto, NULL, 0, WSA_FLAG_OVERLAPPED);
    return s;
}

int os_sys_set_nonblocking(os_sys_sock fd)
{
    u_long on = 1;
    return ioctlsocket(fd, FIONBIO, &on) == 0 ? 0 : -1;
}

void os_sys_set_last_error(int os_error)
{
    WSASetLastError(os_error);
}

/* Windows lets a new listener bind over TIME_WAIT connections without any
 * option, and SO_REUSEADDR would let another socket take a port that is
 * listening. What POSIX's SO_REUSEADDR gives a TCP socket is the default
 * here; REUSEADDR asks for SO_EXCLUSIVEADDRUSE, which keeps others off.
 * For UDP, SO_REUSEADDR is what POSIX's is: several sockets share the port
 * (and each gets broadcasts); there is no TIME_WAIT that makes the default
 * the POSIX one. */
int os_sys_reuseaddr_option(os_sys_sock fd)
{
    int type = 0, len = (int)sizeof type;
    int dgram = getsockopt(fd, SOL_SOCKET, SO_TYPE, (char *)&type, &len) == 0 && type == SOCK_DGRAM;
    return dgram ? SO_REUSEADDR : SO_EXCLUSIVEADDRUSE;
}

int os_sys_setup_error_to_net(int os_error)
{
    /* Binding a port another socket holds with SO_EXCLUSIVEADDRUSE. */
    if (os_error == WSAEACCES)
        return NET_E_ADDRINUSE;
    return os_error_to_net(os_error);
}

net_addr os_sys_udp_peer(os_sys_sock fd, const net_addr *to)
{
    SOCKADDR_STORAGE local;
    int len = (int)sizeof local;
    int v6 = getsockname(fd, (struct sockaddr *)&local, &len) == 0 && local.ss_family == AF_INET6;
    return os_addr_for_family(to, v6 ? NET_AF_INET6 : NET_AF_INET);
}

/* Sets one of the controls of ICMP error reporting on a UDP socket, leaving
 * the last error as it was: a provider that does not know the control
 * (Wine answers WSAEOPNOTSUPP to SIO_UDP_NETRESET) keeps its default. */
static void udp_icmp_control(SOCKET s, DWORD code, BOOL on)
{
    DWORD n = 0;
    int e = WSAGetLastError();
    WSAIoctl(s, code, &on, (DWORD)sizeof on, NULL, 0, &n, NULL, NULL);
    WSASetLastError(e);
}

/* Windows reports ICMP errors about earlier sends (port unreachable as
 * WSAECONNRESET, TTL expired as WSAENETRESET) on unconnected sockets too,
 * where one client's closed port would disturb a server's receives: off
 * there, on for a connected socket (port unreachable only, as Linux
 * reports it). */
void os_sys_udp_icmp_reports(os_sys_sock fd, int connected)
{
    if (connected) {
        udp_icmp_control(fd, SIO_UDP_CONNRESET, TRUE);
        return;
    }
    udp_icmp_control(fd, SIO_UDP_CONNRESET, FALSE);
    udp_icmp_control(fd, SIO_UDP_NETRESET, FALSE);
}
