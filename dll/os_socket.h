/*
 * os_socket.h - what os_socket.c, the socket half of os.h that POSIX and
 * Windows share, needs from the platform file beside it (os_posix.c or
 * os_win.c): the system socket headers, the native socket type, and hooks
 * for the few steps the platforms really take differently. Private to those
 * three files; the core includes os.h only.
 *
 * Include it before any other header: it sets the macros the system headers
 * read when they are first included.
 */
#ifndef NET_OS_SOCKET_H
#define NET_OS_SOCKET_H

/* The one place that picks the platform; everything below it is shared. */
#ifdef _WIN32
#    ifndef WIN32_LEAN_AND_MEAN
#        define WIN32_LEAN_AND_MEAN
#    endif
/* Windows 7: inet_pton, SRW locks, condition variables. */
#    if !defined(_WIN32_WINNT) || _WIN32_WINNT < 0x0601
#        undef _WIN32_WINNT
#        define _WIN32_WINNT 0x0601
#    endif
#    include <winsock2.h>
#    include <ws2tcpip.h>
#    include <windows.h>
typedef SOCKET os_sys_sock;
#    define OS_SYS_BAD_SOCK INVALID_SOCKET
#    define OS_SYS_CLOSE closesocket
#    define OS_SYS_SHUT_WR SD_SEND
/* struct linger counts seconds in an unsigned short here. */
typedef u_short os_sys_linger_secs;
#    define OS_SYS_LINGER_MAX 0xFFFF
#else
/* SOCK_NONBLOCK and getaddrinfo, which -std=c11 alone hides. */
#    ifndef _GNU_SOURCE
#        define _GNU_SOURCE
#    endif
#    include <arpa/inet.h>
#    include <netdb.h>
#    include <netinet/in.h>
#    include <netinet/tcp.h>
#    include <sys/socket.h>
#    include <unistd.h>
typedef int os_sys_sock;
#    define OS_SYS_BAD_SOCK (-1)
#    define OS_SYS_CLOSE close
#    define OS_SYS_SHUT_WR SHUT_WR
typedef int os_sys_linger_secs;
#    define OS_SYS_LINGER_MAX INT32_MAX
#endif

#include "os.h"

/* ---- hooks: each platform file defines these ---- */

/* The OS errors fault injection may name (os_error_by_name): "EMFILE" and
 * the like, each with what it stands for here; {NULL, 0} ends the list. */
typedef struct os_sys_error_name {
    const char *name;
    int code;
} os_sys_error_name;
extern const os_sys_error_name os_sys_error_names[];

/* A new socket of family (AF_INET, AF_INET6) and type (SOCK_STREAM,
 * SOCK_DGRAM) that the backends can drive, never inherited by child
 * processes; OS_SYS_BAD_SOCK with the error in os_last_error(). POSIX
 * makes it non-blocking at once; a Windows one (overlapped, for IOCP)
 * starts out blocking: see os_sys_set_nonblocking. */
os_sys_sock os_sys_socket(int family, int type);

/* Makes fd non-blocking where it is not yet: 0, or -1 with the error in
 * os_last_error(). */
int os_sys_set_nonblocking(os_sys_sock fd);

/* Sets what os_last_error() returns next, so an error survives the close
 * of a socket that failed to set up. */
void os_sys_set_last_error(int os_error);

/* The SOL_SOCKET option NET_TCP_REUSEADDR and NET_OPT_REUSEADDR stand for
 * on fd (POSIX: SO_REUSEADDR; Windows: by socket type). */
int os_sys_reuseaddr_option(os_sys_sock fd);

/* The NET_E_* code for an error setting up a listener or a UDP socket;
 * Windows has one more than os_error_to_net knows (a port held
 * exclusively). */
int os_sys_setup_error_to_net(int os_error);

/* The address UDP socket fd must be given to reach to (Windows: in the
 * family of the socket, os_addr_for_family). */
net_addr os_sys_udp_peer(os_sys_sock fd, const net_addr *to);

/* Whether ICMP errors about earlier sends fail later receives on UDP
 * socket fd, set once it is bound (connected 0) and again once connected
 * (connected 1). Windows only; POSIX reports them on connected sockets
 * alone, which is what the Windows settings copy. */
void os_sys_udp_icmp_reports(os_sys_sock fd, int connected);

#endif
