/* error.c - versions and error texts. */
#include "core.h"

#define STR2(x) #x
#define STR(x) STR2(x)

/* Thread-local so that a call on one thread never reports another's error. */
static _Thread_local int last_os_error;

void net__set_last_os_error(int os_error)
{
    last_os_error = os_error;
}

NET_API int net_last_os_error(void)
{
    return last_os_error;
}

/* net.h's NET_VERSION_* are the version the library reports. The configure
 * step fails when they differ from project(net VERSION ...); a build through
 * CMake checks it here once more. */
#if defined(NET_PROJECT_VERSION_MAJOR)
_Static_assert(NET_PROJECT_VERSION_MAJOR == NET_VERSION_MAJOR && NET_PROJECT_VERSION_MINOR == NET_VERSION_MINOR &&
                   NET_PROJECT_VERSION_PATCH == NET_VERSION_PATCH,
               "project(net VERSION) and net.h's NET_VERSION_* disagree");
#endif

NET_API uint32_t net_version(void)
{
    return NET_VERSION;
}

NET_API const char *net_version_string(void)
{
    return STR(NET_VERSION_MAJOR) "." STR(NET_VERSION_MINOR) "." STR(NET_VERSION_PATCH);
}

NET_API const char *net_strerror(int code)
{
    switch (code) {
    case NET_OK:
        return "success";
    case NET_E_BADHANDLE:
        return "invalid, closed or stale handle";
    case NET_E_INVAL:
        return "invalid argument";
    case NET_E_NOMEM:
        return "out of memory or over a memory limit";
    case NET_E_WOULDBLOCK:
        return "send queue full (send cap reached)";
    case NET_E_CLOSED:
        return "connection closing or closed";
    case NET_E_MSGSIZE:
        return "message too large";
    case NET_E_BUSY:
        return "engine is being polled by another thread";
    case NET_E_UNSUPPORTED:
        return "not supported on this system";
    case NET_E_OS:
        return "operating system error";
    case NET_E_ADDR:
        return "bad or unresolvable address";
    case NET_E_TIMEDOUT:
        return "timed out";
    case NET_E_RESET:
        return "connection reset by peer";
    case NET_E_REFUSED:
        return "connection refused";
    case NET_E_LIMIT:
        /* Every count limit there is, the engine limit with its value. */
        return "limit reached (max_connections, handles per engine, or the " STR(
            NET_MAX_ENGINES) " engines a process may have open at once)";
    case NET_E_PROTO:
        return "malformed frame from peer";
    case NET_E_ABORTED:
        return "aborted locally";
    case NET_E_ADDRINUSE:
        return "address already in use";
    case NET_E_UNREACHABLE:
        return "network or host unreachable";
    case NET_E_NOTCONN:
        return "UDP socket not connected: use net_sendto";
    default:
        return "unknown error";
    }
}
