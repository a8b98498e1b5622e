/*
 * layout.c - prints the size and every member offset of each public struct
 * of net.h, one "struct.member value" line each ("struct.sizeof" for the
 * size). tests/csharp compares it with the C# declarations (LayoutCheck.cs),
 * tests/python/test_cdef.py with the cffi declarations.
 *
 * Then every enum constant of the header, "const.NAME value" (the #defines
 * other than the version are left out: tests/python compares this list with
 * the header's enum members).
 *
 * net_event's anonymous union shares offset 32 between the pointer "data"
 * and "data_bits_"; only data_bits_ (the fixed 8-byte member) is printed.
 */
#include <stddef.h>
#include <stdio.h>

#include "net.h"

#define SIZE(s) printf("%s.sizeof %u\n", #s, (unsigned)sizeof(s))
#define OFF(s, m) printf("%s.%s %u\n", #s, #m, (unsigned)offsetof(s, m))
#define CONST(c) printf("const.%s %ld\n", #c, (long)(c))

int main(void)
{
    SIZE(net_addr);
    OFF(net_addr, family);
    OFF(net_addr, port);
    OFF(net_addr, scope_id);
    OFF(net_addr, ip);

    SIZE(net_event);
    OFF(net_event, type);
    OFF(net_event, status);
    OFF(net_event, handle);
    OFF(net_event, parent);
    OFF(net_event, user);
    OFF(net_event, data_bits_);
    OFF(net_event, len);
    OFF(net_event, os_error);
    OFF(net_event, addr);

    SIZE(net_config);
    OFF(net_config, size);
    OFF(net_config, backend);
    OFF(net_config, io_threads);
    OFF(net_config, max_connections);
    OFF(net_config, max_message);
    OFF(net_config, send_cap);
    OFF(net_config, send_highwater);
    OFF(net_config, send_lowwater);
    OFF(net_config, recv_limit);
    OFF(net_config, idle_timeout_ms);
    OFF(net_config, close_timeout_ms);
    OFF(net_config, event_batch);

    SIZE(net_stats);
    OFF(net_stats, size);
    OFF(net_stats, reserved_);
    OFF(net_stats, connections);
    OFF(net_stats, connections_total);
    OFF(net_stats, accepts_rejected);
    OFF(net_stats, bytes_in);
    OFF(net_stats, bytes_out);
    OFF(net_stats, messages_in);
    OFF(net_stats, messages_out);
    OFF(net_stats, queue_depth);
    OFF(net_stats, send_queued);
    OFF(net_stats, recv_paused);
    OFF(net_stats, udp_sockets);
    OFF(net_stats, datagrams_in);
    OFF(net_stats, datagrams_out);
    OFF(net_stats, datagrams_dropped);
    OFF(net_stats, datagram_send_errors);
    OFF(net_stats, accepts_failed);
    OFF(net_stats, caller_writes);

    SIZE(net_tcp_config);
    OFF(net_tcp_config, size);
    OFF(net_tcp_config, framing);
    OFF(net_tcp_config, flags);
    OFF(net_tcp_config, max_message);
    OFF(net_tcp_config, backlog);
    OFF(net_tcp_config, reserved_);
    OFF(net_tcp_config, user);

    SIZE(net_udp_config);
    OFF(net_udp_config, size);
    OFF(net_udp_config, flags);
    OFF(net_udp_config, max_datagram);
    OFF(net_udp_config, send_cap);
    OFF(net_udp_config, rcvbuf);
    OFF(net_udp_config, sndbuf);
    OFF(net_udp_config, user);

    SIZE(net_buf);
    OFF(net_buf, data);
    OFF(net_buf, len);

    SIZE(net_packed_event);
    OFF(net_packed_event, type);
    OFF(net_packed_event, status);
    OFF(net_packed_event, handle);
    OFF(net_packed_event, parent);
    OFF(net_packed_event, user);
    OFF(net_packed_event, offset);
    OFF(net_packed_event, len);
    OFF(net_packed_event, os_error);
    OFF(net_packed_event, reserved_);
    OFF(net_packed_event, addr);

    SIZE(net_rudp_config);
    OFF(net_rudp_config, size);
    OFF(net_rudp_config, channels);
    OFF(net_rudp_config, mtu);
    OFF(net_rudp_config, max_message);
    OFF(net_rudp_config, send_cap);
    OFF(net_rudp_config, recv_window);
    OFF(net_rudp_config, max_sessions);
    OFF(net_rudp_config, connect_timeout_ms);
    OFF(net_rudp_config, idle_timeout_ms);
    OFF(net_rudp_config, keepalive_ms);
    OFF(net_rudp_config, close_timeout_ms);
    OFF(net_rudp_config, rto_min_ms);
    OFF(net_rudp_config, rto_max_ms);
    OFF(net_rudp_config, cookie_period_ms);
    OFF(net_rudp_config, user);

    SIZE(net_rudp_stats);
    OFF(net_rudp_stats, size);
    OFF(net_rudp_stats, reserved_);
    OFF(net_rudp_stats, rtt_us);
    OFF(net_rudp_stats, rttvar_us);
    OFF(net_rudp_stats, rto_ms);
    OFF(net_rudp_stats, cwnd);
    OFF(net_rudp_stats, bytes_in_flight);
    OFF(net_rudp_stats, send_queued);
    OFF(net_rudp_stats, peer_window);
    OFF(net_rudp_stats, packets_sent);
    OFF(net_rudp_stats, packets_received);
    OFF(net_rudp_stats, retransmits);
    OFF(net_rudp_stats, packets_lost);
    OFF(net_rudp_stats, duplicates_dropped);
    OFF(net_rudp_stats, messages_sent);
    OFF(net_rudp_stats, messages_received);
    OFF(net_rudp_stats, bytes_sent);
    OFF(net_rudp_stats, bytes_received);
    OFF(net_rudp_stats, sessions);
    OFF(net_rudp_stats, handshakes);
    OFF(net_rudp_stats, cookies_rejected);
    OFF(net_rudp_stats, sessions_refused);
    OFF(net_rudp_stats, datagrams_dropped);
    OFF(net_rudp_stats, checksum_failures);

    CONST(NET_VERSION_MAJOR);
    CONST(NET_VERSION_MINOR);
    CONST(NET_VERSION_PATCH);
    CONST(NET_OK);
    CONST(NET_E_BADHANDLE);
    CONST(NET_E_INVAL);
    CONST(NET_E_NOMEM);
    CONST(NET_E_WOULDBLOCK);
    CONST(NET_E_CLOSED);
    CONST(NET_E_MSGSIZE);
    CONST(NET_E_BUSY);
    CONST(NET_E_UNSUPPORTED);
    CONST(NET_E_OS);
    CONST(NET_E_ADDR);
    CONST(NET_E_TIMEDOUT);
    CONST(NET_E_RESET);
    CONST(NET_E_REFUSED);
    CONST(NET_E_LIMIT);
    CONST(NET_E_PROTO);
    CONST(NET_E_ABORTED);
    CONST(NET_E_ADDRINUSE);
    CONST(NET_E_UNREACHABLE);
    CONST(NET_E_NOTCONN);
    CONST(NET_EV_NONE);
    CONST(NET_EV_ACCEPT);
    CONST(NET_EV_CONNECT);
    CONST(NET_EV_DATA);
    CONST(NET_EV_CLOSE);
    CONST(NET_EV_SEND_HIGHWATER);
    CONST(NET_EV_SEND_DRAINED);
    CONST(NET_EV_TIMER);
    CONST(NET_EV_USER);
    CONST(NET_EV_DATAGRAM);
    CONST(NET_EV_ERROR);
    CONST(NET_EV_EOF);
    CONST(NET_AF_UNSPEC);
    CONST(NET_AF_INET);
    CONST(NET_AF_INET6);
    CONST(NET_BACKEND_AUTO);
    CONST(NET_BACKEND_EPOLL);
    CONST(NET_BACKEND_IO_URING);
    CONST(NET_BACKEND_IOCP);
    CONST(NET_FRAMING_RAW);
    CONST(NET_FRAMING_U16LE);
    CONST(NET_FRAMING_U16BE);
    CONST(NET_FRAMING_U32LE);
    CONST(NET_FRAMING_U32BE);
    CONST(NET_TCP_NODELAY);
    CONST(NET_TCP_REUSEADDR);
    CONST(NET_TCP_KEEPALIVE);
    CONST(NET_TCP_IPV6ONLY);
    CONST(NET_TCP_LEN_INCLUDES_HEADER);
    CONST(NET_TCP_HALF_OPEN);
    CONST(NET_OPT_NODELAY);
    CONST(NET_OPT_KEEPALIVE);
    CONST(NET_OPT_SNDBUF);
    CONST(NET_OPT_RCVBUF);
    CONST(NET_OPT_LINGER);
    CONST(NET_OPT_REUSEADDR);
    CONST(NET_OPT_SEND_CAP);
    CONST(NET_OPT_HIGHWATER);
    CONST(NET_OPT_LOWWATER);
    CONST(NET_OPT_IDLE_TIMEOUT);
    CONST(NET_OPT_BROADCAST);
    CONST(NET_OPT_MAX_DATAGRAM);
    CONST(NET_OPT_DROPPED);
    CONST(NET_OPT_ERRORS_DROPPED);
    CONST(NET_OPT_SEND_HELD);
    CONST(NET_UDP_REUSEADDR);
    CONST(NET_UDP_IPV6ONLY);
    CONST(NET_UDP_BROADCAST);
    CONST(NET_RUDP_RELIABLE_ORDERED);
    CONST(NET_RUDP_RELIABLE_UNORDERED);
    CONST(NET_RUDP_UNRELIABLE_SEQUENCED);
    CONST(NET_RUDP_UNRELIABLE);
    return 0;
}
