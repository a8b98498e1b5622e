/*
 * backend_iocp.c - Windows I/O completion ports.
 *
 * One completion port per loop. A loop's thread is the only one that
 * submits operations for its sockets and the only one that dequeues their
 * completions, so the core's "loop thread only" state needs no lock here.
 * (DESIGN.md pictures several workers on one port: that shape needs every
 * connection's state locked against two workers. The core shards
 * connections over loops instead, so each loop gets its own port, its
 * sockets are associated with that port only, and io_threads = N means N
 * ports each drained by one thread.)
 *
 * Every operation is an iocp_op whose first member is the OVERLAPPED the
 * port hands back. A socket counts one reference while open plus one per
 * operation submitted and not yet handled; close cancels (CancelIoEx),
 * closes the socket and drops the open reference, and the object is
 * released (net__released) once the count reaches zero: no OVERLAPPED
 * outlives its socket's state and CLOSE comes after the last completion.
 *
 * FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is set on TCP sockets where the
 * protocol allows it (IFS providers only, as libuv checks; never on UDP
 * sockets, see associate()): a call that succeeds inline queues no packet.
 * A send that completes inline returns its byte count at once;
 * other inline completions (and immediate failures) go on the loop's "done"
 * list, handled in the same wait() turn without a trip through the port.
 *
 * Receiving uses zero-byte WSARecv: an idle connection pins no buffer. When
 * one completes, non-blocking WSARecv calls read into the core's receive
 * window until WSAEWOULDBLOCK (then a new zero-byte read is posted) or a
 * per-turn budget runs out (then the socket waits on the "ready" list).
 *
 * A UDP socket keeps UDP_RECVS WSARecvFrom posted, each with its own buffer
 * (max_datagram + 1 bytes, so a bigger datagram shows as WSAEMSGSIZE) and
 * its own sender address, and re-posts each as it completes. A batch of
 * sends is one WSASendTo per datagram, each with its own OVERLAPPED.
 */
#ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN
#endif
/* Windows 7 at least: GetQueuedCompletionStatusEx, CancelIoEx and
 * SetFileCompletionNotificationModes first appear there. */
#if !defined(_WIN32_WINNT) || _WIN32_WINNT < 0x0601
#    undef _WIN32_WINNT
#    define _WIN32_WINNT 0x0601
#endif

#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "testhooks.h"
#include "backend.h"

#ifndef WSA_FLAG_NO_HANDLE_INHERIT
#    define WSA_FLAG_NO_HANDLE_INHERIT 0x80
#endif
#ifndef FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
#    define FILE_SKIP_COMPLETION_PORT_ON_SUCCESS 0x1
#endif
#ifndef FILE_SKIP_SET_EVENT_ON_HANDLE
#    define FILE_SKIP_SET_EVENT_ON_HANDLE 0x2
#endif
#ifndef SO_UPDATE_CONNECT_CONTEXT
#    define SO_UPDATE_CONNECT_CONTEXT 0x7010
#endif

/* AcceptEx calls kept posted per listener (libuv keeps as many): a burst of
 * connections finds sockets waiting for it. */
#define ACCEPTS_PER_LISTENER 32
/* Non-blocking reads per connection in one wait() turn, so that one busy
 * connection cannot starve the others. */
#define READS_PER_TURN 16
/* WSABUFs per WSASend: the core gathers at most 64 pieces. */
#define IOCP_IOV_MAX 64
/* The most one WSABUF carries here: a byte count must fit the int the core
 * is given back. */
#define WSABUF_LEN_MAX 0x7FFFFFFF
/* AcceptEx writes each address into a slot 16 bytes larger than the
 * address itself, as its documentation requires. */
#define ADDR_SLOT ((DWORD)(sizeof(SOCKADDR_STORAGE) + 16))
/* WSARecvFrom kept posted per UDP socket: datagrams arriving together need
 * not wait for a receive to be posted again. */
#define UDP_RECVS 8

enum { T_RECV0 = 1, T_SEND, T_CONNECT, T_ACCEPT, T_URECV, T_USEND };

typedef struct iocp_sock iocp_sock;

typedef struct iocp_op {
    /* The port hands back this OVERLAPPED's address: op_of() finds the op
     * around it. */
    OVERLAPPED ov;
    /* Which call it is, for dispatch(): T_RECV0 is the zero-byte WSARecv,
     * then WSASend, ConnectEx, AcceptEx, WSARecvFrom and WSASendTo. */
    int type;
    /* Submitted (or parked) and not yet handled: the op holds a reference
     * on its owner meanwhile. */
    int pending;
    iocp_sock *owner;
    /* A completion that does not come through the port waits on the loop's
     * done list with its result. */
    struct iocp_op *done_next;
    DWORD done_bytes;
    int done_err;
} iocp_op;

typedef struct accept_op {
    iocp_op op;
    /* The socket AcceptEx fills: the connection, once accepted. */
    SOCKET as;
    /* Accepted while accepting was stopped: accept_start delivers it. */
    int parked;
    /* AcceptEx's output: the local address slot, then the remote one. */
    char addrs[2 * ADDR_SLOT];
} accept_op;

/* One posted WSARecvFrom: the provider writes buf, from and from_len when
 * it completes, so they live as long as the op. */
typedef struct urecv_op {
    iocp_op op;
    /* max_datagram + 1 bytes, a slice of the socket's rbufs. */
    char *buf;
    INT from_len;
    DWORD flags;
    /* Completed while receiving was stopped: udp_ready delivers it. */
    int parked;
    /* Failed with an unexpected error: idle until udp_recv_start, rather
     * than failing again in a loop. */
    int stopped;
    struct urecv_op *park_next;
    SOCKADDR_STORAGE from;
} urecv_op;

/* One datagram of a send batch. */
typedef struct usend_op {
    iocp_op op;
    const net_dgram *d;
    /* Kept with the op: WSASendTo is not documented to copy it. */
    SOCKADDR_STORAGE to;
} usend_op;

struct iocp_sock {
    SOCKET s;
    /* The core's net_conn, net_listener or net_udp: each begins with its
     * net_obj, so this one pointer serves the typed completions and
     * net__released alike. */
    void *obj;
    /* One while open, plus one per pending (or parked) op. */
    int refs;
    /* close() ran: what completes from now on is dropped, not reported. */
    int closed;
    /* FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is on: inline successes queue
     * no packet. */
    int skip;
    /* The core wants data. */
    int reading;
    int in_ready;
    iocp_sock *ready_next;
    /* connections */
    iocp_op rd, wr, cn;
    /* listeners and UDP */
    int family;
    /* listeners */
    int accepting;
    accept_op *acc;
    /* UDP: UDP_RECVS receives, each with an rcap-byte slice of rbufs. */
    urecv_op *urd;
    char *rbufs;
    uint32_t rcap;
    urecv_op *park_head, *park_tail;
    usend_op *usd;
    int usd_cap;
    /* The batch handed to udp_send: how many datagrams, and how many of
     * those are not finished yet. */
    int batch_count;
    int batch_left;
    /* The wait() turn that last reported an ICMP error. */
    uint64_t icmp_turn;
};

typedef struct iocp_loop {
    HANDLE port;
    ULONG nentries;
    OVERLAPPED_ENTRY *entries;
    /* Completions that did not come through the port, handled in wait()
     * in order. */
    iocp_op *done_head, *done_tail;
    /* Sockets with reading left to do. */
    iocp_sock *ready;
    /* wait() calls so far. */
    uint64_t turn;
    /* io_threads = 0 with a waitable: the port's reader (see "the relay"). */
    struct iocp_relay *volatile relay;
    int relaying; /* loop thread: wait() takes entries from the relay */
} iocp_loop;

/* ---- process-wide: extension functions, whether skip-on-success is safe ---- */

static LPFN_ACCEPTEX g_acceptex;
static LPFN_CONNECTEX g_connectex;
static LPFN_GETACCEPTEXSOCKADDRS g_getsockaddrs;
/* Per family, [0] IPv4 and [1] IPv6: the base provider is IFS. */
static int g_skip_ok[2];
static int g_init_rc = NET_E_UNSUPPORTED;
static INIT_ONCE g_once = INIT_ONCE_STATIC_INIT;

static int load_ext(SOCKET s, GUID guid, void *fn, size_t size)
{
    DWORD n = 0;
    return WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, (DWORD)sizeof guid, fn, (DWORD)size, &n, NULL,
                    NULL) == 0;
}

/* Skip-on-success is only safe when no layered (non-IFS) provider sits in
 * front of the base one: such a provider may still queue a packet. */
static int family_is_ifs(int family)
{
    SOCKET s = WSASocketW(family, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (s == INVALID_SOCKET)
        return 0;
    WSAPROTOCOL_INFOW info;
    int len = (int)sizeof info;
    int ok = getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&info, &len) == 0 &&
             (info.dwServiceFlags1 & XP1_IFS_HANDLES) != 0;
    closesocket(s);
    return ok;
}

static BOOL CALLBACK init_once(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    SOCKET s = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (s == INVALID_SOCKET)
        return TRUE;
    GUID ga = WSAID_ACCEPTEX, gc = WSAID_CONNECTEX, gs = WSAID_GETACCEPTEXSOCKADDRS;
    int ok = load_ext(s, ga, &g_acceptex, sizeof g_acceptex) && load_ext(s, gc, &g_connectex, sizeof g_connectex) &&
             load_ext(s, gs, &g_getsockaddrs, sizeof g_getsockaddrs);
    closesocket(s);
    g_skip_ok[0] = family_is_ifs(AF_INET);
    g_skip_ok[1] = family_is_ifs(AF_INET6);
    /* Testing aid: every completion through the port. */
    if (net__test_env("NET_IOCP_NO_SKIP"))
        g_skip_ok[0] = g_skip_ok[1] = 0;
    g_init_rc = ok ? 0 : NET_E_UNSUPPORTED;
    return TRUE;
}

static int iocp_init(void)
{
    InitOnceExecuteOnce(&g_once, init_once, NULL, NULL);
    return g_init_rc;
}

/* ---- small helpers ---- */

/* An overlapped TCP socket, not inherited by child processes (the flag
 * needs Windows 7 SP1 or later: without it, inheritable). */
static SOCKET new_socket(int family)
{
    SOCKET s = WSASocketW(family, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET && WSAGetLastError() == WSAEINVAL)
        s = WSASocketW(family, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    return s;
}

static iocp_loop *L(net_loop *loop)
{
    return *net__loop_bk(loop);
}

static int sock_family(SOCKET s)
{
    SOCKADDR_STORAGE ss;
    int len = (int)sizeof ss;
    if (getsockname(s, (struct sockaddr *)&ss, &len) != 0)
        return AF_INET;
    return ss.ss_family;
}

/* Whether skip-on-success is safe on s. When both families are IFS (the
 * usual case) there is no need to ask which family s has. */
static int skip_is_safe(SOCKET s)
{
    if (g_skip_ok[0] && g_skip_ok[1])
        return 1;
    int v6 = sock_family(s) == AF_INET6;
    return g_skip_ok[v6];
}

/* Associates s with the loop's port and turns on skip-on-success where safe.
 * Not for UDP: with several receives posted, one posted again can complete
 * inline with a datagram older or newer than others whose packets are still
 * in the port (both seen under Wine), and nothing tells which. Through the
 * port, a socket's datagrams come out in the order they were read. */
static int associate(iocp_loop *l, iocp_sock *s, int *os_error)
{
    if (!CreateIoCompletionPort((HANDLE)s->s, l->port, 0, 0)) {
        *os_error = (int)GetLastError();
        return NET_E_OS;
    }
    if (net__obj_kind(s->obj) == OBJ_UDP)
        return 0;
    if (skip_is_safe(s->s))
        s->skip = SetFileCompletionNotificationModes((HANDLE)s->s, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS |
                                                                       FILE_SKIP_SET_EVENT_ON_HANDLE) != 0;
    return 0;
}

static void op_init(iocp_op *op, iocp_sock *s, int type)
{
    op->type = type;
    op->owner = s;
}

/* The op whose OVERLAPPED the port handed back. */
static iocp_op *op_of(OVERLAPPED *ov)
{
    return CONTAINING_RECORD(ov, iocp_op, ov);
}

/* About to submit op: it holds a reference until handled. */
static void op_arm(iocp_op *op)
{
    memset(&op->ov, 0, sizeof op->ov);
    op->pending = 1;
    op->owner->refs++;
}

/* A handled op kept for later (parked) holds a reference again: dispatch()
 * drops the one it came back with. */
static void op_hold(iocp_op *op)
{
    op->pending = 1;
    op->owner->refs++;
}

/* A completion that will not come through the port: handle it in wait(). */
static void post_done(iocp_loop *l, iocp_op *op, DWORD bytes, int err)
{
    op->done_bytes = bytes;
    op->done_err = err;
    op->done_next = NULL;
    if (l->done_tail)
        l->done_tail->done_next = op;
    else
        l->done_head = op;
    l->done_tail = op;
}

/* After an overlapped call; ok: it returned success. A pending call, or an
 * inline success on a socket that does not skip the port, completes
 * through the port like any other. An inline success that skipped it, or a
 * call that failed at once, queues no packet: wait() takes it from the
 * done list instead. Inline: every receive and accept passes here. */
static inline void submitted(iocp_loop *l, iocp_op *op, int ok, DWORD bytes)
{
    if (ok) {
        if (op->owner->skip)
            post_done(l, op, bytes, 0);
        return;
    }
    int e = WSAGetLastError();
    if (e != WSA_IO_PENDING)
        post_done(l, op, 0, e);
}

static void make_ready(iocp_loop *l, iocp_sock *s)
{
    if (s->in_ready || s->closed)
        return;
    s->in_ready = 1;
    s->ready_next = l->ready;
    l->ready = s;
}

/* At zero the core frees s at the end of the turn (ic_sock_free). */
static void unref(iocp_sock *s)
{
    if (--s->refs == 0)
        net__released(s->obj);
}

static iocp_sock *sock_new(SOCKET fd, void *obj)
{
    iocp_sock *s = net__calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->s = fd;
    s->obj = obj;
    s->refs = 1;
    op_init(&s->rd, s, T_RECV0);
    op_init(&s->wr, s, T_SEND);
    op_init(&s->cn, s, T_CONNECT);
    return s;
}

/* Takes s off the ready list. */
static void ready_unlink(iocp_loop *l, iocp_sock *s)
{
    for (iocp_sock **p = &l->ready; *p; p = &(*p)->ready_next)
        if (*p == s) {
            *p = s->ready_next;
            break;
        }
    s->in_ready = 0;
}

/* The backend's sock_free, and what an open function that failed undoes:
 * frees o's state with whatever its kind allocated (a kind leaves the
 * others' pointers NULL) and empties its slot. A closed socket is never
 * made ready, but a listed one is never freed either; after loop_close
 * (L(loop) NULL) no ready list is left. */
static void ic_sock_free(net_loop *loop, net_obj *o)
{
    iocp_loop *l = L(loop);
    iocp_sock *s = *net__obj_bk(o);
    if (s->in_ready && l)
        ready_unlink(l, s);
    free(s->acc);
    free(s->urd);
    free(s->rbufs);
    free(s->usd);
    free(s);
    *net__obj_bk(o) = NULL;
}

/* The last step of every open function: s, prepared (rc: 0 or why that
 * failed), is put in its object's slot and associated with the port. On
 * failure s is freed and the slot left empty; the socket stays the core's
 * to close. */
static int sock_attach(net_loop *loop, iocp_sock *s, int rc, int *os_error)
{
    net_obj *o = s->obj;
    *net__obj_bk(o) = s;
    if (rc == 0)
        rc = associate(L(loop), s, os_error);
    if (rc)
        ic_sock_free(loop, o);
    return rc;
}

/* Closes the socket once: pending operations are cancelled and complete
 * (with an error) through the port. */
static void sock_shut(iocp_sock *s)
{
    s->closed = 1;
    s->reading = 0;
    if (s->s != INVALID_SOCKET) {
        CancelIoEx((HANDLE)s->s, NULL);
        closesocket(s->s);
        s->s = INVALID_SOCKET;
    }
}

/* ---- loop ---- */

static int ic_probe(void)
{
    if (os_init() != 0)
        return NET_E_UNSUPPORTED;
    return iocp_init();
}

static int ic_loop_open(net_loop *loop)
{
    int rc = iocp_init();
    if (rc)
        return rc;
    iocp_loop *l = net__calloc(1, sizeof *l);
    if (!l)
        return NET_E_NOMEM;
    l->nentries = net__loop_batch(loop);
    if (l->nentries == 0)
        l->nentries = 128;
    l->entries = net__calloc(l->nentries, sizeof *l->entries);
    l->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
    if (!l->entries || !l->port) {
        if (l->port)
            CloseHandle(l->port);
        free(l->entries);
        free(l);
        return NET_E_OS;
    }
    *net__loop_bk(loop) = l;
    return 0;
}

static void relay_stop(iocp_loop *l);

static void ic_loop_close(net_loop *loop)
{
    iocp_loop *l = L(loop);
    if (!l)
        return;
    relay_stop(l);
    /* Sockets still open here (teardown gave up on them) keep their memory:
     * the port dies with their operations, nothing is freed under them. */
    CloseHandle(l->port);
    free(l->entries);
    free(l);
    *net__loop_bk(loop) = NULL;
}

static void ic_wake(net_loop *loop)
{
    PostQueuedCompletionStatus(L(loop)->port, 0, 0, NULL);
}

/* ---- listeners ---- */

static void post_accept(iocp_loop *l, iocp_sock *s, accept_op *a)
{
    op_arm(&a->op);
    a->as = new_socket(s->family);
    if (a->as == INVALID_SOCKET) {
        post_done(l, &a->op, 0, WSAGetLastError());
        return;
    }
    DWORD n = 0;
    BOOL ok = g_acceptex(s->s, a->as, a->addrs, 0, ADDR_SLOT, ADDR_SLOT, &n, &a->op.ov);
    submitted(l, &a->op, ok, n);
}

/* A listener's AcceptEx ops, idle until accept_start posts them. */
static int accept_ops_new(iocp_sock *s)
{
    s->acc = net__calloc(ACCEPTS_PER_LISTENER, sizeof *s->acc);
    if (!s->acc)
        return NET_E_NOMEM;
    s->family = sock_family(s->s);
    for (int i = 0; i < ACCEPTS_PER_LISTENER; i++) {
        op_init(&s->acc[i].op, s, T_ACCEPT);
        s->acc[i].as = INVALID_SOCKET;
    }
    return 0;
}

static int ic_listener_open(net_loop *loop, net_listener *ls, int *os_error)
{
    iocp_sock *s = sock_new((SOCKET)net__obj_sock(net__obj(ls)), ls);
    if (!s)
        return NET_E_NOMEM;
    return sock_attach(loop, s, accept_ops_new(s), os_error);
}

static void ic_accept_start(net_loop *loop, net_listener *ls)
{
    iocp_loop *l = L(loop);
    iocp_sock *s = *net__obj_bk(net__obj(ls));
    if (s->closed)
        return;
    s->accepting = 1;
    for (int i = 0; i < ACCEPTS_PER_LISTENER; i++) {
        accept_op *a = &s->acc[i];
        /* Accepted while accepting was stopped: handed over in this turn's
         * wait(), its reference still held. */
        if (a->parked) {
            a->parked = 0;
            post_done(l, &a->op, 0, 0);
        } else if (!a->op.pending) {
            post_accept(l, s, a);
        }
    }
}

static void ic_accept_stop(net_loop *loop, net_listener *ls)
{
    (void)loop;
    iocp_sock *s = *net__obj_bk(net__obj(ls));
    /* Posted AcceptEx calls stay; what they accept waits, parked. */
    s->accepting = 0;
}

/* A connection reset or aborted before we took it: nothing to report. */
static int accept_transient(int e)
{
    return e == WSAECONNRESET || e == WSAECONNABORTED || e == WSAENETRESET || e == ERROR_NETNAME_DELETED ||
           e == ERROR_CONNECTION_ABORTED || e == WSAETIMEDOUT || e == ERROR_SEM_TIMEOUT;
}

/* Closes the socket an AcceptEx op was given, if it still has one. */
static void accept_discard(accept_op *a)
{
    if (a->as != INVALID_SOCKET)
        closesocket(a->as);
    a->as = INVALID_SOCKET;
}

/* A connection reset before we took it is retried at once. Anything else
 * is reported: out of sockets or buffers (or errors that keep coming) the
 * core stops accepting and retries later, accept_start reposting this op;
 * other errors cost that attempt only, the op posted again, or 32 of them
 * would leave the listener with no AcceptEx outstanding, silent for good.
 * A broken listening socket leaves the op idle: it would fail at once. */
static void accept_failed(iocp_loop *l, iocp_sock *s, accept_op *a, int err)
{
    accept_discard(a);
    if (accept_transient(err)) {
        if (s->accepting)
            post_accept(l, s, a);
        return;
    }
    net__accepted(s->obj, NET_BAD_SOCK, NULL, os_error_to_net(err), err);
    if (s->accepting && !s->closed && !os_error_is_listener_broken(err))
        post_accept(l, s, a);
}

/* Hands the accepted socket to the core. SO_UPDATE_ACCEPT_CONTEXT gives it
 * the listener's properties, which getpeername, getsockname and the socket
 * options need on it. */
static void accept_deliver(iocp_sock *s, accept_op *a)
{
    SOCKET as = a->as;
    a->as = INVALID_SOCKET;
    SOCKET ls = s->s;
    setsockopt(as, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&ls, (int)sizeof ls);
    struct sockaddr *local = NULL, *remote = NULL;
    int llen = 0, rlen = 0;
    g_getsockaddrs(a->addrs, 0, ADDR_SLOT, ADDR_SLOT, &local, &llen, &remote, &rlen);
    net_addr peer;
    memset(&peer, 0, sizeof peer);
    if (remote)
        os_addr_from_sockaddr(remote, &peer);
    net__accepted(s->obj, (net_sock)as, &peer, 0, 0);
}

static void on_accept(iocp_loop *l, iocp_sock *s, accept_op *a, int err)
{
    if (s->closed) {
        accept_discard(a);
        return;
    }
    if (err) {
        accept_failed(l, s, a, err);
        return;
    }
    /* Accepting is stopped: the op keeps its socket (and a reference)
     * until accept_start. */
    if (!s->accepting) {
        a->parked = 1;
        op_hold(&a->op);
        return;
    }
    accept_deliver(s, a);
    if (s->accepting && !s->closed)
        post_accept(l, s, a);
}

/* ---- connections ---- */

static int ic_conn_open(net_loop *loop, net_conn *c, int *os_error)
{
    iocp_sock *s = sock_new((SOCKET)net__obj_sock(net__obj(c)), c);
    if (!s)
        return NET_E_NOMEM;
    return sock_attach(loop, s, 0, os_error);
}

static int ic_connect(net_loop *loop, net_conn *c, const net_addr *to, int *os_error)
{
    iocp_loop *l = L(loop);
    iocp_sock *s = *net__obj_bk(net__obj(c));
    SOCKADDR_STORAGE ss, any;
    int len, alen;
    if (os_sockaddr_from_addr(to, &ss, &len) != 0)
        return NET_E_ADDR;
    /* ConnectEx wants a bound socket. */
    net_addr wild;
    memset(&wild, 0, sizeof wild);
    wild.family = to->family;
    os_sockaddr_from_addr(&wild, &any, &alen);
    if (bind(s->s, (struct sockaddr *)&any, alen) != 0) {
        *os_error = WSAGetLastError();
        return os_error_to_net(*os_error);
    }
    op_arm(&s->cn);
    DWORD n = 0;
    if (g_connectex(s->s, (struct sockaddr *)&ss, len, NULL, 0, &n, &s->cn.ov)) {
        if (s->skip)
            post_done(l, &s->cn, 0, 0);
        return 0;
    }
    int e = WSAGetLastError();
    if (e == WSA_IO_PENDING)
        return 0;
    s->cn.pending = 0;
    s->refs--;
    *os_error = e;
    return os_error_to_net(e);
}

static void on_connect(iocp_sock *s, int err)
{
    if (s->closed)
        return;
    if (err) {
        net__connected(s->obj, os_error_to_net(err), err);
        return;
    }
    /* ConnectEx leaves the socket's context as it was: getpeername,
     * getsockname and the socket options need it updated. */
    setsockopt(s->s, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0);
    net__connected(s->obj, 0, 0);
}

/* Where a zero-length WSABUF points, so that it is never NULL: nothing is
 * read or written there. */
static char g_zero_byte[1];

/* Waits for data without holding a buffer (see the top of the file). */
static void post_recv0(iocp_loop *l, iocp_sock *s)
{
    if (s->rd.pending || s->closed || !s->reading)
        return;
    WSABUF b;
    b.len = 0;
    b.buf = g_zero_byte;
    DWORD n = 0, flags = 0;
    op_arm(&s->rd);
    int rc = WSARecv(s->s, &b, 1, &n, &flags, &s->rd.ov, NULL);
    submitted(l, &s->rd, rc == 0, n);
}

/* Windows reports a peer's RST through WSARecv. Wine (8.x) does so only to
 * a read already posted when the RST arrives: otherwise wineserver consumes
 * the socket error and the next recv returns 0 as for a FIN. A zero-byte
 * send still fails on a reset connection and succeeds on a half-closed one,
 * so it tells the two apart: one call per FIN. (After our own shutdown it
 * fails either way with WSAESHUTDOWN, which keeps the FIN reading.) */
static int reset_behind_eof(iocp_sock *s)
{
    WSABUF b;
    b.len = 0;
    b.buf = g_zero_byte;
    DWORD n = 0;
    if (WSASend(s->s, &b, 1, &n, 0, NULL, NULL) == 0)
        return 0;
    int e = WSAGetLastError();
    return (e == WSAECONNRESET || e == WSAECONNABORTED || e == WSAENETRESET) ? e : 0;
}

/* A read returned 0: the peer's FIN, or a reset that Wine reports as one. */
static void read_eof(iocp_sock *s, void *buf)
{
    s->reading = 0;
    int e = reset_behind_eof(s);
    if (e)
        net__recv_failed(s->obj, NET_E_RESET, e);
    else
        net__received(s->obj, buf, 0);
}

/* Reads what the socket has into the core's window; called in wait() only.
 * A short read most likely drained the socket: a zero-byte read then
 * waits for more without holding a buffer. After READS_PER_TURN reads the
 * socket waits on the ready list, so the others get their turn first. */
static void do_read(net_loop *loop, iocp_loop *l, iocp_sock *s)
{
    for (int i = 0; i < READS_PER_TURN; i++) {
        if (!s->reading || s->closed)
            return;
        size_t cap;
        void *buf = net__recv_window(loop, &cap);
        /* Out of memory now: try again next turn. */
        if (!buf) {
            make_ready(l, s);
            return;
        }
        WSABUF b;
        b.len = cap > WSABUF_LEN_MAX ? WSABUF_LEN_MAX : (ULONG)cap;
        b.buf = buf;
        DWORD n = 0, flags = 0;
        if (WSARecv(s->s, &b, 1, &n, &flags, NULL, NULL) == 0) {
            if (n == 0) {
                read_eof(s, buf);
                return;
            }
            net__received(s->obj, buf, n);
            if (n < b.len) {
                post_recv0(l, s);
                return;
            }
            continue;
        }
        int e = WSAGetLastError();
        if (e == WSAEWOULDBLOCK) {
            post_recv0(l, s);
            return;
        }
        if (e == WSAEINTR)
            continue;
        s->reading = 0;
        net__recv_failed(s->obj, os_error_to_net(e), e);
        return;
    }
    make_ready(l, s);
}

static void on_recv0(net_loop *loop, iocp_loop *l, iocp_sock *s, int err)
{
    /* A paused reader finds the data (or the error) when it resumes. */
    if (s->closed || !s->reading)
        return;
    if (err) {
        s->reading = 0;
        net__recv_failed(s->obj, os_error_to_net(err), err);
        return;
    }
    do_read(loop, l, s);
}

static void ic_recv_start(net_loop *loop, net_conn *c)
{
    iocp_sock *s = *net__obj_bk(net__obj(c));
    if (s->closed)
        return;
    s->reading = 1;
    /* No zero-byte read posted: try a read in this turn's wait(). */
    if (!s->rd.pending)
        make_ready(L(loop), s);
}

static void ic_recv_stop(net_loop *loop, net_conn *c)
{
    (void)loop;
    iocp_sock *s = *net__obj_bk(net__obj(c));
    /* A posted zero-byte read may stay: it holds no buffer. */
    s->reading = 0;
}

/* The first pieces of iov as WSABUFs, at most IOCP_IOV_MAX; returns how
 * many. A piece longer than a WSABUF carries ends the gather (a later piece
 * must not go out ahead of it); as the first piece it goes out in part. */
static DWORD gather_wsabufs(WSABUF *bufs, const net_iov *iov, int count)
{
    DWORD n = 0;
    for (int i = 0; i < count && i < IOCP_IOV_MAX; i++) {
        if (iov[i].len > WSABUF_LEN_MAX) {
            if (n == 0) {
                bufs[0].buf = (char *)iov[i].base;
                bufs[0].len = WSABUF_LEN_MAX;
                n = 1;
            }
            break;
        }
        bufs[n].buf = (char *)iov[i].base;
        bufs[n].len = (ULONG)iov[i].len;
        n++;
    }
    return n;
}

static int ic_send(net_loop *loop, net_conn *c, const net_iov *iov, int count, int *os_error)
{
    (void)loop;
    iocp_sock *s = *net__obj_bk(net__obj(c));
    if (s->closed)
        return NET_E_CLOSED;
    /* The provider captures the WSABUF array before WSASend returns (the
     * buffers it points to stay the core's until completion): it can live
     * on the stack, and an idle connection carries none. */
    WSABUF bufs[IOCP_IOV_MAX];
    DWORD n = gather_wsabufs(bufs, iov, count);
    DWORD sent = 0;
    op_arm(&s->wr);
    int rc = WSASend(s->s, bufs, n, &sent, 0, &s->wr.ov, NULL);
    if (rc == 0) {
        /* Without skip-on-success, the packet comes through the port even
         * so. With it, the result is the caller's now and no completion
         * follows: the op gives its reference back. */
        if (!s->skip)
            return NET__PENDING;
        int r = sent > INT_MAX ? INT_MAX : (int)sent;
        s->wr.pending = 0;
        s->refs--;
        return r;
    }
    int e = WSAGetLastError();
    if (e == WSA_IO_PENDING)
        return NET__PENDING;
    s->wr.pending = 0;
    s->refs--;
    *os_error = e;
    return os_error_to_net(e);
}

static void on_send(iocp_sock *s, DWORD bytes, int err)
{
    if (s->closed)
        return;
    net__sent(s->obj, err ? 0 : bytes, err ? os_error_to_net(err) : 0, err);
}

/* ---- UDP ---- */

/* The destination as this socket must be given it (os_addr_for_family). */
static int udp_sockaddr(const iocp_sock *s, const net_addr *a, SOCKADDR_STORAGE *ss, int *len)
{
    net_addr m = os_addr_for_family(a, s->family == AF_INET6 ? NET_AF_INET6 : NET_AF_INET);
    return os_sockaddr_from_addr(&m, ss, len);
}

/* A receive that failed because an ICMP message came back for an earlier
 * send: the socket itself is fine. Windows says WSAECONNRESET for a port
 * unreachable (Wine: WSAECONNREFUSED) and WSAENETRESET for a TTL expired. */
static int udp_icmp_error(int e)
{
    return e == WSAECONNRESET || e == WSAECONNREFUSED || e == WSAENETRESET || e == WSAENETUNREACH ||
           e == WSAEHOSTUNREACH || e == ERROR_PORT_UNREACHABLE || e == ERROR_CONNECTION_REFUSED ||
           e == ERROR_NETWORK_UNREACHABLE || e == ERROR_HOST_UNREACHABLE;
}

/* On a datagram socket WSAECONNRESET means the peer's port is closed. */
static int udp_error_to_net(int e)
{
    switch (e) {
    case WSAECONNRESET:
    case WSAECONNREFUSED:
    case ERROR_PORT_UNREACHABLE:
    case ERROR_CONNECTION_REFUSED:
        return NET_E_REFUSED;
    case WSAENETRESET:
        return NET_E_UNREACHABLE;
    default:
        return os_error_to_net(e);
    }
}

/* Only a connected socket reports ICMP errors, as on Linux. os_udp_open
 * turned them off, but a provider may ignore SIO_UDP_CONNRESET. */
static int udp_connected(const iocp_sock *s)
{
    SOCKADDR_STORAGE ss;
    int len = (int)sizeof ss;
    return getpeername(s->s, (struct sockaddr *)&ss, &len) == 0;
}

/* UDP sockets never skip the port (see associate), so a receive that
 * succeeds at once still queues its packet. So does one that fails with
 * WSAEMSGSIZE: a datagram too big for the buffer ends with a warning status
 * (STATUS_BUFFER_OVERFLOW), which completes like a success. Only a real
 * error comes back with no packet to follow. */
static void post_urecv(iocp_loop *l, iocp_sock *s, urecv_op *r)
{
    if (r->op.pending || r->stopped || s->closed || !s->reading)
        return;
    WSABUF b;
    b.len = s->rcap;
    b.buf = r->buf;
    DWORD n = 0;
    r->flags = 0;
    r->from_len = (INT)sizeof r->from;
    r->from.ss_family = AF_UNSPEC;
    op_arm(&r->op);
    if (WSARecvFrom(s->s, &b, 1, &n, &r->flags, (struct sockaddr *)&r->from, &r->from_len, &r->op.ov, NULL) == 0)
        return;
    int e = WSAGetLastError();
    if (e != WSA_IO_PENDING && e != WSAEMSGSIZE)
        post_done(l, &r->op, 0, e);
}

/* Keeps a receive that completed while receiving was stopped (or behind
 * others kept so), with its reference, for udp_ready to deliver in order. */
static void park_urecv(iocp_sock *s, urecv_op *r, DWORD bytes, int err)
{
    r->parked = 1;
    op_hold(&r->op);
    r->op.done_bytes = bytes;
    r->op.done_err = err;
    r->park_next = NULL;
    if (s->park_tail)
        s->park_tail->park_next = r;
    else
        s->park_head = r;
    s->park_tail = r;
}

/* Posts every receive that is idle (and not stopped). */
static void post_urecvs(iocp_loop *l, iocp_sock *s)
{
    for (int i = 0; i < UDP_RECVS; i++)
        post_urecv(l, s, &s->urd[i]);
}

/* Windows fails one receive per ICMP message; Wine (8.x) fails every posted
 * one with the same error. Errors handled in one turn are one report, as
 * Linux keeps one pending socket error however many messages came. */
static void udp_icmp_report(iocp_loop *l, iocp_sock *s, int err)
{
    if (s->icmp_turn != l->turn && udp_connected(s)) {
        s->icmp_turn = l->turn;
        net__udp_recv_error(s->obj, udp_error_to_net(err), err);
    }
}

/* A receive's result to the core, then the receive posted again. Short of
 * resources, it is posted again next turn instead. An unexpected error is
 * reported once, and the receive stays idle until receiving restarts,
 * rather than failing again in a loop. */
static void udp_deliver(iocp_loop *l, iocp_sock *s, urecv_op *r, DWORD bytes, int err)
{
    net_udp *u = s->obj;
    if (err == 0 || err == WSAEMSGSIZE) {
        net_addr from;
        memset(&from, 0, sizeof from);
        if (r->from.ss_family == AF_INET || r->from.ss_family == AF_INET6)
            os_addr_from_sockaddr(&r->from, &from);
        net__udp_received(u, r->buf, bytes, &from, err != 0);
    } else if (udp_icmp_error(err)) {
        udp_icmp_report(l, s, err);
    } else if (os_error_is_resource(err)) {
        make_ready(l, s);
        return;
    } else {
        r->stopped = 1;
        net__udp_recv_error(u, os_error_to_net(err), err);
        return;
    }
    post_urecv(l, s, r);
}

/* A receive completing while others are parked waits behind them, never
 * overtaking them. */
static void on_urecv(iocp_loop *l, iocp_sock *s, urecv_op *r, DWORD bytes, int err)
{
    if (s->closed)
        return;
    if (!s->reading || s->park_head) {
        park_urecv(s, r, bytes, err);
        if (s->reading)
            make_ready(l, s);
        return;
    }
    udp_deliver(l, s, r, bytes, err);
}

/* From wait()'s ready list: what was parked, in arrival order, each giving
 * back its parked reference, then the receives that are not posted. */
static void udp_ready(iocp_loop *l, iocp_sock *s)
{
    while (s->park_head && s->reading && !s->closed) {
        urecv_op *r = s->park_head;
        s->park_head = r->park_next;
        if (!s->park_head)
            s->park_tail = NULL;
        r->parked = 0;
        r->op.pending = 0;
        udp_deliver(l, s, r, r->op.done_bytes, r->op.done_err);
        unref(s);
    }
    post_urecvs(l, s);
}

/* A UDP socket's receives, each with its own buffer of max_datagram + 1
 * bytes (so that a larger datagram shows as WSAEMSGSIZE), sized once for
 * the socket's life. */
static int urecv_ops_new(iocp_sock *s, uint32_t max_datagram)
{
    s->rcap = max_datagram + 1;
    s->urd = net__calloc(UDP_RECVS, sizeof *s->urd);
    s->rbufs = net__malloc((size_t)UDP_RECVS * s->rcap);
    if (!s->urd || !s->rbufs)
        return NET_E_NOMEM;
    s->family = sock_family(s->s);
    for (int i = 0; i < UDP_RECVS; i++) {
        op_init(&s->urd[i].op, s, T_URECV);
        s->urd[i].buf = s->rbufs + (size_t)i * s->rcap;
    }
    return 0;
}

static int ic_udp_open(net_loop *loop, net_udp *u, int *os_error)
{
    iocp_sock *s = sock_new((SOCKET)net__obj_sock(net__obj(u)), u);
    if (!s)
        return NET_E_NOMEM;
    return sock_attach(loop, s, urecv_ops_new(s, net__udp_max_datagram(u)), os_error);
}

/* Datagrams parked meanwhile are delivered first, from this turn's wait(),
 * ahead of anything newer; udp_ready then posts the receives. */
static void ic_udp_recv_start(net_loop *loop, net_udp *u)
{
    iocp_loop *l = L(loop);
    iocp_sock *s = *net__obj_bk(net__obj(u));
    if (s->closed)
        return;
    s->reading = 1;
    for (int i = 0; i < UDP_RECVS; i++)
        s->urd[i].stopped = 0;
    if (s->park_head)
        make_ready(l, s);
    else
        post_urecvs(l, s);
}

static void ic_udp_recv_stop(net_loop *loop, net_udp *u)
{
    (void)loop;
    iocp_sock *s = *net__obj_bk(net__obj(u));
    /* Posted receives stay; what they get is parked. */
    s->reading = 0;
}

/* One datagram of a batch. UDP sockets never skip the port, so even a send
 * that succeeds at once completes through it; one that fails at once is
 * reported from wait(), like any completion. */
static void post_usend(iocp_loop *l, iocp_sock *s, usend_op *o, const net_dgram *d)
{
    o->d = d;
    WSABUF b;
    b.len = d->len;
    b.buf = d->data ? (char *)d->data : g_zero_byte;
    DWORD n = 0;
    int rc, tolen = 0;
    op_arm(&o->op);
    if (d->connected) {
        rc = WSASend(s->s, &b, 1, &n, 0, &o->op.ov, NULL);
    } else if (udp_sockaddr(s, &d->to, &o->to, &tolen) == 0) {
        rc = WSASendTo(s->s, &b, 1, &n, 0, (struct sockaddr *)&o->to, tolen, &o->op.ov, NULL);
    } else {
        rc = SOCKET_ERROR;
        WSASetLastError(WSAEAFNOSUPPORT);
    }
    submitted(l, &o->op, rc == 0, n);
}

/* A datagram refused at once is reported on its own (post_usend), so no
 * OS error is left for os_error. */
static int ic_udp_send(net_loop *loop, net_udp *u, const net_dgram *d, int count, int *os_error)
{
    (void)os_error;
    iocp_loop *l = L(loop);
    iocp_sock *s = *net__obj_bk(net__obj(u));
    if (s->closed)
        return NET_E_CLOSED;
    if (count > s->usd_cap) {
        /* One batch at a time: no op of the old array is in flight. */
        usend_op *n = net__realloc(s->usd, (size_t)count * sizeof *n);
        if (!n)
            return NET_E_NOMEM;
        memset(n + s->usd_cap, 0, (size_t)(count - s->usd_cap) * sizeof *n);
        for (int i = s->usd_cap; i < count; i++)
            op_init(&n[i].op, s, T_USEND);
        s->usd = n;
        s->usd_cap = count;
    }
    for (int i = 0; i < count; i++)
        post_usend(l, s, &s->usd[i], &d[i]);
    s->batch_count = count;
    s->batch_left = count;
    return NET__PENDING;
}

static void on_usend(iocp_sock *s, usend_op *o, int err)
{
    if (s->closed)
        return;
    if (err)
        net__udp_send_failed(s->obj, o->d, udp_error_to_net(err), err);
    if (--s->batch_left == 0 && !s->closed)
        net__udp_sent(s->obj, s->batch_count);
}

/* ---- closing, every kind ---- */

/* A listener's AcceptEx calls that completed while accepting was stopped:
 * each holds a reference no completion will drop, and a socket nobody
 * takes. */
static void close_parked_accepts(iocp_sock *s)
{
    for (int i = 0; s->acc && i < ACCEPTS_PER_LISTENER; i++) {
        accept_op *a = &s->acc[i];
        if (a->parked) {
            a->parked = 0;
            a->op.pending = 0;
            accept_discard(a);
            unref(s);
        }
    }
}

/* A UDP socket's receives that completed while receiving was stopped: each
 * holds a reference no completion will drop. */
static void close_parked_recvs(iocp_sock *s)
{
    while (s->park_head) {
        urecv_op *r = s->park_head;
        s->park_head = r->park_next;
        r->parked = 0;
        r->op.pending = 0;
        unref(s);
    }
    s->park_tail = NULL;
}

/* Dropping the open reference releases o after its last completion, or at
 * once when none is outstanding. */
static void ic_close(net_loop *loop, net_obj *o)
{
    (void)loop;
    iocp_sock *s = *net__obj_bk(o);
    /* Never registered: no operation can be outstanding. */
    if (!s) {
        net__released(o);
        return;
    }
    s->accepting = 0;
    sock_shut(s);
    close_parked_accepts(s);
    close_parked_recvs(s);
    unref(s);
}

/* ---- the wait ---- */

/* The WSA error of a completion that came through the port. ov.Internal
 * holds its NTSTATUS, negative for a warning or an error; then
 * WSAGetOverlappedResult says which WSA error it is, if the socket is
 * still open (a closed one's operations were cancelled). */
static int port_error(iocp_op *op)
{
    LONG status = (LONG)op->ov.Internal;
    if (status >= 0)
        return 0;
    iocp_sock *s = op->owner;
    if (s->closed || s->s == INVALID_SOCKET)
        return WSA_OPERATION_ABORTED;
    DWORD bytes = 0, flags = 0;
    if (WSAGetOverlappedResult(s->s, &op->ov, &bytes, FALSE, &flags))
        return 0;
    int e = WSAGetLastError();
    return e ? e : WSAECONNRESET;
}

/* Test builds: a completion that succeeded is now and then turned into the
 * error NET_TEST_FAULT asks for (what completes inline is not affected). */
static int fault_for(int type)
{
    return type == T_ACCEPT  ? net__fault(NET_FAULT_ACCEPT)
           : type == T_RECV0 ? net__fault(NET_FAULT_RECV)
           : type == T_SEND  ? net__fault(NET_FAULT_SEND)
                             : 0;
}

/* Every completion ends here, from the port or from the done list. */
static void dispatch(net_loop *loop, iocp_loop *l, iocp_op *op, DWORD bytes, int err)
{
    iocp_sock *s = op->owner;
    op->pending = 0;
    if (!err)
        err = fault_for(op->type);
    switch (op->type) {
    case T_RECV0:
        on_recv0(loop, l, s, err);
        break;
    case T_SEND:
        on_send(s, bytes, err);
        break;
    case T_CONNECT:
        on_connect(s, err);
        break;
    case T_ACCEPT:
        on_accept(l, s, CONTAINING_RECORD(op, accept_op, op), err);
        break;
    case T_URECV:
        on_urecv(l, s, CONTAINING_RECORD(op, urecv_op, op), bytes, err);
        break;
    case T_USEND:
        on_usend(s, CONTAINING_RECORD(op, usend_op, op), err);
        break;
    }
    /* The op's reference goes after the handler: s outlives its callbacks. */
    unref(s);
}

/* ---- the relay: a waitable with io_threads = 0 ----
 *
 * A completion port cannot be waited on like an event, and nothing but
 * dequeuing a packet tells that one arrived. So once a waitable is asked
 * for, a thread of ours becomes the port's only reader: it blocks in
 * GetQueuedCompletionStatusEx, appends what it got to a locked queue, sets
 * "arrived" and raises the engine's waitable (net__loop_signal); wait() on
 * the polling thread takes entries from that queue instead of the port,
 * blocking on "arrived" when it may wait. An entry keeps all a completion
 * says (its OVERLAPPED holds the status), so nothing is lost on the way.
 * The cost: one thread, and one thread switch per batch of completions.
 * The reader starts reading only when the loop's own thread turns it on in
 * wait(), so the port never has two readers. */

#define RELAY_STOP ((ULONG_PTR)-1) /* the completion key that ends the reader */

typedef struct iocp_relay {
    net_loop *loop;
    HANDLE port;
    os_thread *thread;
    HANDLE start;            /* manual-reset: wait() turned relaying on (or the loop closes) */
    volatile LONG cancelled; /* set before start: end without reading the port */
    HANDLE arrived;          /* auto-reset: entries were appended */
    SRWLOCK lock;
    OVERLAPPED_ENTRY *q; /* under lock: handed over, oldest first */
    ULONG count, cap;
    OVERLAPPED_ENTRY *buf; /* the reader's own */
    ULONG nbuf;
} iocp_relay;

/* Appends n entries, growing the queue; 0 when memory runs out. */
static int relay_append(iocp_relay *r, const OVERLAPPED_ENTRY *e, ULONG n)
{
    int ok = 1;
    AcquireSRWLockExclusive(&r->lock);
    if (r->count + n > r->cap) {
        ULONG cap = r->cap ? r->cap : 256;
        while (cap < r->count + n)
            cap *= 2;
        OVERLAPPED_ENTRY *q = net__realloc(r->q, cap * sizeof *q);
        if (q) {
            r->q = q;
            r->cap = cap;
        } else {
            ok = 0;
        }
    }
    if (ok) {
        memcpy(r->q + r->count, e, n * sizeof *e);
        r->count += n;
    }
    ReleaseSRWLockExclusive(&r->lock);
    return ok;
}

static void relay_main(void *arg)
{
    iocp_relay *r = arg;
    WaitForSingleObject(r->start, INFINITE);
    /* Never turned on: the port has another reader, or none is needed. */
    if (InterlockedCompareExchange(&r->cancelled, 0, 0))
        return;
    for (int stop = 0; !stop;) {
        ULONG n = 0;
        if (!GetQueuedCompletionStatusEx(r->port, r->buf, r->nbuf, &n, INFINITE, FALSE))
            break; /* the port is gone */
        ULONG kept = 0;
        for (ULONG i = 0; i < n; i++) {
            if (r->buf[i].lpCompletionKey == RELAY_STOP && !r->buf[i].lpOverlapped)
                stop = 1;
            else
                r->buf[kept++] = r->buf[i];
        }
        /* Out of memory: no completion may be dropped, so wait for some. */
        while (kept && !relay_append(r, r->buf, kept))
            Sleep(1);
        if (kept) {
            SetEvent(r->arrived);
            net__loop_signal(r->loop);
        }
    }
}

static void relay_free(iocp_relay *r)
{
    if (r->start)
        CloseHandle(r->start);
    if (r->arrived)
        CloseHandle(r->arrived);
    free(r->buf);
    free(r->q);
    free(r);
}

static int relay_new(net_loop *loop, iocp_loop *l, iocp_relay **out)
{
    iocp_relay *r = net__calloc(1, sizeof *r);
    if (!r)
        return NET_E_NOMEM;
    r->loop = loop;
    r->port = l->port;
    r->nbuf = l->nentries;
    InitializeSRWLock(&r->lock);
    r->buf = net__calloc(r->nbuf, sizeof *r->buf);
    r->start = CreateEventW(NULL, TRUE, FALSE, NULL);
    r->arrived = CreateEventW(NULL, FALSE, FALSE, NULL);
    int rc = !r->buf ? NET_E_NOMEM : !r->start || !r->arrived ? NET_E_OS : os_thread_start(&r->thread, relay_main, r);
    if (rc) {
        relay_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* The reader is made (any thread: net_engine_waitable) and waits; the
 * loop's thread turns it on at its next wait(). Made once. */
static int ic_watch(net_loop *loop, intptr_t *pollable)
{
    iocp_loop *l = L(loop);
    *pollable = -1;
    if (l->relay)
        return 0;
    iocp_relay *r;
    int rc = relay_new(loop, l, &r);
    if (rc)
        return rc;
    if (InterlockedCompareExchangePointer((PVOID volatile *)&l->relay, r, NULL) != NULL) {
        /* Another call made one first: ours ends before it reads anything. */
        InterlockedExchange(&r->cancelled, 1);
        SetEvent(r->start);
        os_thread_join(r->thread);
        relay_free(r);
    }
    return 0;
}

/* A reader that is on reads up to the stop packet; one never turned on
 * ends without reading. */
static void relay_stop(iocp_loop *l)
{
    iocp_relay *r = l->relay;
    if (!r)
        return;
    if (l->relaying)
        PostQueuedCompletionStatus(l->port, 0, RELAY_STOP, NULL);
    else
        InterlockedExchange(&r->cancelled, 1);
    SetEvent(r->start);
    os_thread_join(r->thread);
    relay_free(r);
    l->relay = NULL;
}

/* Up to max entries the reader handed over, oldest first. */
static ULONG relay_pop(iocp_relay *r, OVERLAPPED_ENTRY *out, ULONG max)
{
    AcquireSRWLockExclusive(&r->lock);
    ULONG n = r->count < max ? r->count : max;
    memcpy(out, r->q, n * sizeof *out);
    memmove(r->q, r->q + n, (r->count - n) * sizeof *out);
    r->count -= n;
    ReleaseSRWLockExclusive(&r->lock);
    return n;
}

static ULONG relay_take(iocp_relay *r, OVERLAPPED_ENTRY *out, ULONG max, int timeout_ms)
{
    ULONG n = relay_pop(r, out, max);
    if (n == 0 && timeout_ms != 0) {
        WaitForSingleObject(r->arrived, timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms);
        n = relay_pop(r, out, max);
    }
    return n;
}

static int relay_pending(iocp_relay *r)
{
    AcquireSRWLockShared(&r->lock);
    int pending = r->count != 0;
    ReleaseSRWLockShared(&r->lock);
    return pending;
}

/* Work wait() does at once that no packet will announce. */
static int ic_has_work(net_loop *loop)
{
    iocp_loop *l = L(loop);
    return l->done_head || l->ready || (l->relaying && relay_pending(l->relay));
}

/* ---- the wait ---- */

/* Entries from the port, or from the relay once it is on. */
static ULONG take_entries(iocp_loop *l, int timeout_ms)
{
    if (l->relay && !l->relaying) {
        l->relaying = 1;
        SetEvent(l->relay->start);
    }
    if (l->relaying)
        return relay_take(l->relay, l->entries, l->nentries, timeout_ms);
    ULONG n = 0;
    if (!GetQueuedCompletionStatusEx(l->port, l->entries, l->nentries, &n,
                                     timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms, FALSE))
        n = 0;
    return n;
}

/* Waits up to timeout_ms for completions and handles them; returns how
 * many entries came. A wake-up (ic_wake) is an entry with no OVERLAPPED. */
static ULONG wait_port(net_loop *loop, iocp_loop *l, int timeout_ms)
{
    ULONG n = take_entries(l, timeout_ms);
    for (ULONG i = 0; i < n; i++) {
        OVERLAPPED_ENTRY *e = &l->entries[i];
        if (!e->lpOverlapped)
            continue;
        iocp_op *op = op_of(e->lpOverlapped);
        dispatch(loop, l, op, e->dwNumberOfBytesTransferred, port_error(op));
    }
    return n;
}

/* Completions that did not come through the port, including those the
 * port's handlers just caused; ones these cause in turn wait for the next
 * turn (which will not block). */
static void drain_done(net_loop *loop, iocp_loop *l)
{
    iocp_op *d = l->done_head;
    l->done_head = l->done_tail = NULL;
    while (d) {
        iocp_op *next = d->done_next;
        dispatch(loop, l, d, d->done_bytes, d->done_err);
        d = next;
    }
}

/* Sockets with reading left to do: a connection reads on, unless its
 * zero-byte read is posted again (that one reports when data comes); a UDP
 * socket delivers what was parked and posts its idle receives. */
static void drain_ready(net_loop *loop, iocp_loop *l)
{
    iocp_sock *r = l->ready;
    l->ready = NULL;
    while (r) {
        iocp_sock *s = r;
        r = s->ready_next;
        s->in_ready = 0;
        if (s->closed)
            continue;
        if (net__obj_kind(s->obj) == OBJ_UDP)
            udp_ready(l, s);
        else if (s->reading && !s->rd.pending)
            do_read(loop, l, s);
    }
}

static int ic_wait(net_loop *loop, int timeout_ms)
{
    iocp_loop *l = L(loop);
    l->turn++;
    /* Work already waiting: only look at the port, do not block on it. */
    if (l->done_head || l->ready)
        timeout_ms = 0;
    ULONG n = wait_port(loop, l, timeout_ms);
    drain_done(loop, l);
    drain_ready(loop, l);
    return (int)n;
}

const net_backend net__backend_iocp = {
    .name = "iocp",
    .probe = ic_probe,
    .loop_open = ic_loop_open,
    .loop_close = ic_loop_close,
    .wait = ic_wait,
    .wake = ic_wake,
    .watch = ic_watch,
    .has_work = ic_has_work,
    .sock_free = ic_sock_free,
    .close = ic_close,
    .listener_open = ic_listener_open,
    .accept_start = ic_accept_start,
    .accept_stop = ic_accept_stop,
    .conn_open = ic_conn_open,
    .connect = ic_connect,
    .recv_start = ic_recv_start,
    .recv_stop = ic_recv_stop,
    .send = ic_send,
    .udp_open = ic_udp_open,
    .udp_recv_start = ic_udp_recv_start,
    .udp_recv_stop = ic_udp_recv_stop,
    .udp_send = ic_udp_send,
};
