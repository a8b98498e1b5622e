"""The cffi declarations of include/net.h (generated: do not edit).

Written by bindings/python/gen_cdef.py from include/net.h;
tests/python/test_cdef.py fails when the two differ.
"""

CDEF = r'''
#define NET_VERSION_MAJOR 0
#define NET_VERSION_MINOR 6
#define NET_VERSION_PATCH 0

#define NET_VERSION 1536

typedef uint64_t net_handle;
typedef uint64_t net_engine;

enum {
    NET_OK = 0,
    NET_E_BADHANDLE = -1,
    NET_E_INVAL = -2,
    NET_E_NOMEM = -3,
    NET_E_WOULDBLOCK = -4,
    NET_E_CLOSED = -5,
    NET_E_MSGSIZE = -6,
    NET_E_BUSY = -7,
    NET_E_UNSUPPORTED = -8,
    NET_E_OS = -9,
    NET_E_ADDR = -10,
    NET_E_TIMEDOUT = -11,
    NET_E_RESET = -12,
    NET_E_REFUSED = -13,
    NET_E_LIMIT = -14,
    NET_E_PROTO = -15,
    NET_E_ABORTED = -16,
    NET_E_ADDRINUSE = -17,
    NET_E_UNREACHABLE = -18,
    NET_E_NOTCONN = -19
};

enum {
    NET_EV_NONE = 0,
    NET_EV_ACCEPT = 1,
    NET_EV_CONNECT = 2,
    NET_EV_DATA = 3,
    NET_EV_CLOSE = 4,
    NET_EV_SEND_HIGHWATER = 5,
    NET_EV_SEND_DRAINED = 6,
    NET_EV_TIMER = 7,
    NET_EV_USER = 8,
    NET_EV_DATAGRAM = 9,
    NET_EV_ERROR = 10,
    NET_EV_EOF = 11
};

enum { NET_AF_UNSPEC = 0, NET_AF_INET = 4, NET_AF_INET6 = 6 };

typedef struct net_addr {
    uint16_t family;
    uint16_t port;
    uint32_t scope_id;
    uint8_t ip[16];
} net_addr;

typedef struct net_event {
    uint32_t type;
    int32_t status;
    net_handle handle;
    net_handle parent;
    uint64_t user;
    union {
        const void *data;
        uint64_t data_bits_;
    };
    uint32_t len;
    int32_t os_error;
    net_addr addr;
} net_event;

enum { NET_BACKEND_AUTO = 0, NET_BACKEND_EPOLL = 1, NET_BACKEND_IO_URING = 2, NET_BACKEND_IOCP = 3 };

typedef struct net_config {
    uint32_t size;
    uint32_t backend;
    uint32_t io_threads;
    uint32_t max_connections;
    uint32_t max_message;
    uint32_t send_cap;
    uint32_t send_highwater;
    uint32_t send_lowwater;
    uint32_t recv_limit;
    uint32_t idle_timeout_ms;
    uint32_t close_timeout_ms;
    uint32_t event_batch;
} net_config;

typedef struct net_stats {
    uint32_t size;
    uint32_t reserved_;
    uint64_t connections;
    uint64_t connections_total;
    uint64_t accepts_rejected;
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t messages_in;
    uint64_t messages_out;
    uint64_t queue_depth;
    uint64_t send_queued;
    uint64_t recv_paused;

    uint64_t udp_sockets;
    uint64_t datagrams_in;
    uint64_t datagrams_out;
    uint64_t datagrams_dropped;
    uint64_t datagram_send_errors;

    uint64_t accepts_failed;

    uint64_t caller_writes;
} net_stats;

uint32_t net_version(void);
const char *net_version_string(void);
const char *net_strerror(int code);

int net_last_os_error(void);

void net_config_init(net_config *cfg);
int net_engine_create(const net_config *cfg, net_engine *out);

int net_engine_destroy(net_engine engine);

const char *net_backend_name(net_engine engine);
int net_engine_stats(net_engine engine, net_stats *stats);

int net_poll(net_engine engine, net_event *events, int max, int timeout_ms);

int net_wakeup(net_engine engine);

int net_post(net_engine engine, uint64_t value);

int net_engine_waitable(net_engine engine, intptr_t *out);

enum {
    NET_FRAMING_RAW = 0,
    NET_FRAMING_U16LE = 1,
    NET_FRAMING_U16BE = 2,
    NET_FRAMING_U32LE = 3,
    NET_FRAMING_U32BE = 4
};

enum {
    NET_TCP_NODELAY = 1u << 0,
    NET_TCP_REUSEADDR = 1u << 1,
    NET_TCP_KEEPALIVE = 1u << 2,
    NET_TCP_IPV6ONLY = 1u << 3,
    NET_TCP_LEN_INCLUDES_HEADER = 1u << 4,
    NET_TCP_HALF_OPEN = 1u << 5
};

typedef struct net_tcp_config {
    uint32_t size;
    uint32_t framing;
    uint32_t flags;
    uint32_t max_message;
    int32_t backlog;
    uint32_t reserved_;
    uint64_t user;
} net_tcp_config;

void net_tcp_config_init(net_tcp_config *cfg);

int net_listen(net_engine engine, const char *host, uint16_t port, const net_tcp_config *cfg, net_handle *out);

int net_connect(net_engine engine, const char *host, uint16_t port, const net_tcp_config *cfg, net_handle *out);

typedef struct net_buf {
    const void *data;
    size_t len;
} net_buf;

int net_send(net_handle conn, const void *data, uint32_t len);

int net_sendv(net_handle conn, const net_buf *bufs, uint32_t count);

int net_broadcast(const net_handle *conns, uint32_t count, const void *data, uint32_t len, int *results);

int net_close(net_handle h);

int net_abort(net_handle conn);

int net_shutdown(net_handle conn);

int net_set_user(net_handle h, uint64_t user);
int net_get_user(net_handle h, uint64_t *user);

enum {
    NET_OPT_NODELAY = 1,
    NET_OPT_KEEPALIVE = 2,
    NET_OPT_SNDBUF = 3,
    NET_OPT_RCVBUF = 4,
    NET_OPT_LINGER = 5,
    NET_OPT_REUSEADDR = 6,
    NET_OPT_SEND_CAP = 7,
    NET_OPT_HIGHWATER = 8,
    NET_OPT_LOWWATER = 9,
    NET_OPT_IDLE_TIMEOUT = 10,
    NET_OPT_BROADCAST = 11,
    NET_OPT_MAX_DATAGRAM = 12,
    NET_OPT_DROPPED = 13,
    NET_OPT_ERRORS_DROPPED = 14,
    NET_OPT_SEND_HELD = 15
};
int net_set_option(net_handle h, int option, int64_t value);
int net_get_option(net_handle h, int option, int64_t *value);

int net_local_addr(net_handle h, net_addr *addr);

int net_peer_addr(net_handle conn, net_addr *addr);

int net_addr_format(const net_addr *addr, char *buf, size_t size);

int net_send_queued(net_handle conn, uint64_t *bytes);

enum {
    NET_UDP_REUSEADDR = 1u << 0,
    NET_UDP_IPV6ONLY = 1u << 1,
    NET_UDP_BROADCAST = 1u << 2
};

#define NET_UDP_MAX_PAYLOAD 65507

typedef struct net_udp_config {
    uint32_t size;
    uint32_t flags;
    uint32_t max_datagram;
    uint32_t send_cap;
    int32_t rcvbuf;
    int32_t sndbuf;
    uint64_t user;
} net_udp_config;

void net_udp_config_init(net_udp_config *cfg);

int net_udp_open(net_engine engine, const char *host, uint16_t port, const net_udp_config *cfg,
                         net_handle *out);

int net_udp_connect(net_handle udp, const char *host, uint16_t port);

int net_sendto(net_handle udp, const net_addr *to, const void *data, uint32_t len);

int net_addr_parse(const char *host, uint16_t port, net_addr *out);

int net_timer_start(net_engine engine, uint32_t delay_ms, uint32_t repeat_ms, uint64_t user, net_handle *out);

typedef struct net_packed_event {
    uint32_t type;
    int32_t status;
    net_handle handle;
    net_handle parent;
    uint64_t user;
    uint32_t offset;
    uint32_t len;
    int32_t os_error;
    uint32_t reserved_;
    net_addr addr;
} net_packed_event;

int net_events_pack(const net_event *events, int count, net_packed_event *records, void *payload, uint32_t size,
                            uint32_t *used);

int net_addr_host(const net_addr *addr, char *buf, size_t size);

int net_send_batch(const net_handle *conns, const uint32_t *offsets, const uint32_t *lens, uint32_t count,
                           const void *payload, size_t size, int *results);

int net_forward_data(const net_event *events, int count, net_handle to, int *results);

enum {
       NET_RUDP_RELIABLE_ORDERED = 0,
       NET_RUDP_RELIABLE_UNORDERED = 1,
       NET_RUDP_UNRELIABLE_SEQUENCED = 2,
       NET_RUDP_UNRELIABLE = 3
};

#define NET_RUDP_MAX_CHANNELS 64

typedef struct net_rudp_config {
    uint32_t size;
    uint32_t channels;
    uint32_t mtu;
    uint32_t max_message;
    uint32_t send_cap;
    uint32_t recv_window;
    uint32_t max_sessions;
    uint32_t connect_timeout_ms;
    uint32_t idle_timeout_ms;
    uint32_t keepalive_ms;
    uint32_t close_timeout_ms;
    uint32_t rto_min_ms;
    uint32_t rto_max_ms;
    uint32_t cookie_period_ms;
    uint64_t user;
} net_rudp_config;

void net_rudp_config_init(net_rudp_config *cfg);

int net_rudp_listen(net_engine engine, const char *host, uint16_t port, const net_rudp_config *cfg,
                            net_handle *out);

int net_rudp_connect(net_engine engine, const char *host, uint16_t port, const net_rudp_config *cfg,
                             net_handle *out);

int net_rudp_send(net_handle session, uint32_t channel, uint32_t mode, const void *data, uint32_t len);

typedef struct net_rudp_stats {
    uint32_t size;
    uint32_t reserved_;
    uint64_t rtt_us;
    uint64_t rttvar_us;
    uint64_t rto_ms;
    uint64_t cwnd;
    uint64_t bytes_in_flight;
    uint64_t send_queued;
    uint64_t peer_window;
    uint64_t packets_sent;
    uint64_t packets_received;
    uint64_t retransmits;
    uint64_t packets_lost;
    uint64_t duplicates_dropped;
    uint64_t messages_sent;
    uint64_t messages_received;
    uint64_t bytes_sent;
    uint64_t bytes_received;

    uint64_t sessions;
    uint64_t handshakes;
    uint64_t cookies_rejected;
    uint64_t sessions_refused;

    uint64_t datagrams_dropped;
    uint64_t checksum_failures;
} net_rudp_stats;

int net_rudp_get_stats(net_handle h, net_rudp_stats *out);
'''
