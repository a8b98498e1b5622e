/*
 * model_os.h - the few OS facilities the lifecycle model test needs besides
 * testlib (threads, clock): a mutex, plain BSD/Winsock sockets for the
 * peers (independent of the library under test), a microsecond sleep, and
 * the process's resident memory and open descriptor (Windows: handle) count.
 */
#ifndef NET_MODEL_OS_H
#define NET_MODEL_OS_H

#if defined(_WIN32)
#    ifndef _WIN32_WINNT
#        define _WIN32_WINNT 0x0600 /* WSAPoll */
#    endif
#    ifndef WIN32_LEAN_AND_MEAN
#        define WIN32_LEAN_AND_MEAN
#    endif
#    include <winsock2.h>
#    include <ws2tcpip.h>
#    include <windows.h>
#    define PSAPI_VERSION 2
#    include <psapi.h>
#else
#    if !defined(_GNU_SOURCE)
#        define _GNU_SOURCE
#    endif
#    include <arpa/inet.h>
#    include <dirent.h>
#    include <errno.h>
#    include <fcntl.h>
#    include <netinet/in.h>
#    include <netinet/tcp.h>
#    include <poll.h>
#    include <pthread.h>
#    include <sys/socket.h>
#    include <time.h>
#    include <unistd.h>
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- mutex ---- */
#if defined(_WIN32)
typedef CRITICAL_SECTION mo_mutex;
static inline void mo_mutex_init(mo_mutex *m)
{
    InitializeCriticalSection(m);
}
static inline void mo_mutex_destroy(mo_mutex *m)
{
    DeleteCriticalSection(m);
}
static inline void mo_lock(mo_mutex *m)
{
    EnterCriticalSection(m);
}
static inline void mo_unlock(mo_mutex *m)
{
    LeaveCriticalSection(m);
}
#else
typedef pthread_mutex_t mo_mutex;
static inline void mo_mutex_init(mo_mutex *m)
{
    pthread_mutex_init(m, NULL);
}
static inline void mo_mutex_destroy(mo_mutex *m)
{
    pthread_mutex_destroy(m);
}
static inline void mo_lock(mo_mutex *m)
{
    pthread_mutex_lock(m);
}
static inline void mo_unlock(mo_mutex *m)
{
    pthread_mutex_unlock(m);
}
#endif

static inline void mo_sleep_us(unsigned us)
{
#if defined(_WIN32)
    if (us < 1000)
        SwitchToThread();
    else
        Sleep(us / 1000);
#else
    struct timespec ts;
    ts.tv_sec = us / 1000000u;
    ts.tv_nsec = (long)(us % 1000000u) * 1000L;
    while (nanosleep(&ts, &ts) != 0) {
    }
#endif
}

/* ---- sockets ---- */
#if defined(_WIN32)
typedef SOCKET mo_sock;
#    define MO_BAD_SOCK INVALID_SOCKET
typedef WSAPOLLFD mo_pollfd;
static inline int mo_err(void)
{
    return WSAGetLastError();
}
static inline int mo_err_wouldblock(int e)
{
    return e == WSAEWOULDBLOCK;
}
static inline int mo_err_inprogress(int e)
{
    return e == WSAEWOULDBLOCK || e == WSAEINPROGRESS;
}
static inline int mo_err_refused(int e)
{
    return e == WSAECONNREFUSED;
}
static inline int mo_close(mo_sock s)
{
    return closesocket(s);
}
static inline int mo_nonblock(mo_sock s)
{
    u_long on = 1;
    return ioctlsocket(s, FIONBIO, &on);
}
static inline long mo_send(mo_sock s, const void *p, size_t n)
{
    return send(s, (const char *)p, (int)n, 0);
}
static inline long mo_recv(mo_sock s, void *p, size_t n)
{
    return recv(s, (char *)p, (int)n, 0);
}
static inline int mo_poll(mo_pollfd *p, unsigned n, int ms)
{
    return WSAPoll(p, (ULONG)n, ms);
}
static inline int mo_shutdown_wr(mo_sock s)
{
    return shutdown(s, SD_SEND);
}
static inline int mo_net_init(void)
{
    WSADATA wsa;
    return WSAStartup(MAKEWORD(2, 2), &wsa);
}
#else
typedef int mo_sock;
#    define MO_BAD_SOCK (-1)
typedef struct pollfd mo_pollfd;
static inline int mo_err(void)
{
    return errno;
}
static inline int mo_err_wouldblock(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}
static inline int mo_err_inprogress(int e)
{
    return e == EINPROGRESS || e == EINTR;
}
static inline int mo_err_refused(int e)
{
    return e == ECONNREFUSED;
}
static inline int mo_close(mo_sock s)
{
    return close(s);
}
static inline int mo_nonblock(mo_sock s)
{
    int fl = fcntl(s, F_GETFL, 0);
    return fl < 0 ? -1 : fcntl(s, F_SETFL, fl | O_NONBLOCK);
}
static inline long mo_send(mo_sock s, const void *p, size_t n)
{
    return (long)send(s, p, n, MSG_NOSIGNAL);
}
static inline long mo_recv(mo_sock s, void *p, size_t n)
{
    return (long)recv(s, p, n, 0);
}
static inline int mo_poll(mo_pollfd *p, unsigned n, int ms)
{
    return poll(p, n, ms);
}
static inline int mo_shutdown_wr(mo_sock s)
{
    return shutdown(s, SHUT_WR);
}
static inline int mo_net_init(void)
{
    return 0;
}
#endif

static inline void mo_linger0(mo_sock s)
{
    struct linger lg;
    lg.l_onoff = 1;
    lg.l_linger = 0;
    setsockopt(s, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof lg);
}

static inline void mo_nodelay(mo_sock s)
{
    int on = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&on, sizeof on);
}

/* SO_ERROR of a socket whose non-blocking connect finished. */
static inline int mo_so_error(mo_sock s)
{
    int e = 0;
#if defined(_WIN32)
    int len = sizeof e;
#else
    socklen_t len = sizeof e;
#endif
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&e, &len) != 0)
        return mo_err();
    return e;
}

/* ---- process figures ---- */

/* Resident set in KiB, or -1. */
static inline long mo_rss_kb(void)
{
#if defined(_WIN32)
    PROCESS_MEMORY_COUNTERS pmc;
    if (GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc))
        return (long)(pmc.WorkingSetSize / 1024);
    return -1;
#else
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
#endif
}

/* Open descriptors (Linux: entries of /proc/self/fd; Windows: handles). */
static inline int mo_fd_count(void)
{
#if defined(_WIN32)
    DWORD n = 0;
    return GetProcessHandleCount(GetCurrentProcess(), &n) ? (int)n : -1;
#else
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
#endif
}

#endif /* NET_MODEL_OS_H */
