/* version: version numbers, error texts, the ABI layout of the records,
 * config defaults, and that the engine runs the backend asked for. */
#include "testlib.h"

#include <limits.h>

/* The top CMakeLists.txt's project version, as tests/c/CMakeLists.txt passes it. */
#ifndef NET_TEST_PROJECT_VERSION
#    error "NET_TEST_PROJECT_VERSION (the CMake project version) must be defined by the build"
#endif

static int backend_id(const char *name)
{
    if (strcmp(name, "epoll") == 0)
        return NET_BACKEND_EPOLL;
    if (strcmp(name, "io_uring") == 0)
        return NET_BACKEND_IO_URING;
    if (strcmp(name, "iocp") == 0)
        return NET_BACKEND_IOCP;
    return -1;
}

int main(void)
{
    tl_init("version");

    /* One version: project(net VERSION) in the top CMakeLists.txt (passed in
     * as NET_TEST_PROJECT_VERSION), net.h's macros, net_version() and
     * net_version_string() all say the same. */
    int major = -1, minor = -1, patch = -1;
    CHECKF(sscanf(NET_TEST_PROJECT_VERSION, "%d.%d.%d", &major, &minor, &patch) == 3,
           "project version \"%s\" is not MAJOR.MINOR.PATCH", NET_TEST_PROJECT_VERSION);
    CHECKF(major == NET_VERSION_MAJOR && minor == NET_VERSION_MINOR && patch == NET_VERSION_PATCH,
           "net.h says %d.%d.%d, project(net VERSION) says %s", NET_VERSION_MAJOR, NET_VERSION_MINOR, NET_VERSION_PATCH,
           NET_TEST_PROJECT_VERSION);
    CHECK_EQ(net_version(), NET_VERSION);
    CHECK_EQ(net_version(), ((uint32_t)major << 16) | ((uint32_t)minor << 8) | (uint32_t)patch);
    const char *vs = net_version_string();
    CHECK(vs != NULL);
    CHECKF(strcmp(vs, NET_TEST_PROJECT_VERSION) == 0, "net_version_string() = \"%s\", project version \"%s\"", vs,
           NET_TEST_PROJECT_VERSION);

    /* every code has its own non-empty text; unknown codes get some text */
    for (int c = 0; c >= NET_E_UNREACHABLE; c--) {
        const char *s = net_strerror(c);
        CHECKF(s != NULL && s[0] != '\0', "net_strerror(%d)", c);
        for (int d = 0; d > c; d--)
            CHECKF(strcmp(s, net_strerror(d)) != 0, "net_strerror(%d) == net_strerror(%d) == \"%s\"", c, d, s);
    }
    const int unknown[] = {NET_E_UNREACHABLE - 1, -100, -1000, 1, 7, 12345, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = net_strerror(unknown[i]);
        CHECKF(s != NULL && s[0] != '\0', "net_strerror(%d)", unknown[i]);
    }

    /* the record layouts bindings rely on */
    CHECK_EQ(sizeof(net_event), 72);
    CHECK_EQ(sizeof(net_addr), 24);
    CHECK_EQ(offsetof(net_event, status), 4);
    CHECK_EQ(offsetof(net_event, handle), 8);
    CHECK_EQ(offsetof(net_event, parent), 16);
    CHECK_EQ(offsetof(net_event, user), 24);
    CHECK_EQ(offsetof(net_event, data), 32);
    CHECK_EQ(offsetof(net_event, len), 40);
    CHECK_EQ(offsetof(net_event, os_error), 44);
    CHECK_EQ(offsetof(net_event, addr), 48);

    /* documented defaults */
    net_config cfg;
    memset(&cfg, 0xAB, sizeof cfg);
    net_config_init(&cfg);
    CHECK_EQ(cfg.size, sizeof(net_config));
    CHECK_EQ(cfg.backend, NET_BACKEND_AUTO);
    CHECK_EQ(cfg.io_threads, 0);
    CHECK_EQ(cfg.max_connections, 100000);
    CHECK_EQ(cfg.max_message, 1u << 20);
    CHECK_EQ(cfg.send_cap, 16u << 20);
    CHECK_EQ(cfg.send_highwater, 1u << 20);
    CHECK_EQ(cfg.send_lowwater, 64u << 10);
    CHECK_EQ(cfg.recv_limit, 4u << 20);
    CHECK_EQ(cfg.idle_timeout_ms, 0);
    CHECK_EQ(cfg.close_timeout_ms, 5000);
    CHECK_EQ(cfg.event_batch, 256);

    net_tcp_config tcp;
    memset(&tcp, 0xAB, sizeof tcp);
    net_tcp_config_init(&tcp);
    CHECK_EQ(tcp.size, sizeof(net_tcp_config));
    CHECK_EQ(tcp.framing, NET_FRAMING_RAW);
    CHECK_EQ(tcp.max_message, 0);
    CHECK_EQ(tcp.backlog, 0);
    CHECK_EQ(tcp.user, 0);
    CHECKF((tcp.flags & NET_TCP_NODELAY) != 0, "flags 0x%x: NODELAY is documented default on", (unsigned)tcp.flags);
    CHECKF((tcp.flags & NET_TCP_REUSEADDR) != 0, "flags 0x%x: REUSEADDR is documented default on", (unsigned)tcp.flags);
    CHECKF((tcp.flags & (NET_TCP_KEEPALIVE | NET_TCP_IPV6ONLY | NET_TCP_LEN_INCLUDES_HEADER)) == 0, "flags 0x%x",
           (unsigned)tcp.flags);

    /* the engine runs exactly the backend NET_BACKEND names */
    CHECK(net_backend_name(0) != NULL && net_backend_name(0)[0] == '\0');
    net_engine e = 0;
    tl_config(&cfg);
    int rc = net_engine_create(&cfg, &e);
    const char *bk = tl_backend();
    if (rc == NET_E_UNSUPPORTED)
        tl_skip("backend '%s' unavailable here", bk);
    CHECK_RC(rc, NET_OK);
    const char *name = net_backend_name(e);
    CHECK(name != NULL);
    printf("engine backend: %s\n", name);
    if (*bk)
        CHECKF(strcmp(name, bk) == 0, "NET_BACKEND=%s but net_backend_name() = \"%s\"", bk, name);
    else
        CHECKF(backend_id(name) > 0, "net_backend_name() = \"%s\"", name);
    CHECK_OK(net_engine_destroy(e));
    CHECK(net_backend_name(e)[0] == '\0'); /* destroyed */

    /* the explicit enum picks the same backend, whatever the environment */
    tl_config(&cfg);
    cfg.backend = (uint32_t)backend_id(name);
    CHECK_OK(net_engine_create(&cfg, &e));
    CHECK(strcmp(net_backend_name(e), name) == 0);
    CHECK_OK(net_engine_destroy(e));

    /* a backend this platform never has, and a value that is no backend */
    tl_config(&cfg);
#if defined(_WIN32)
    cfg.backend = NET_BACKEND_EPOLL;
#else
    cfg.backend = NET_BACKEND_IOCP;
#endif
    e = 0;
    rc = net_engine_create(&cfg, &e);
    CHECKF(rc == NET_E_UNSUPPORTED, "foreign backend: net_engine_create returned %d (%s)", rc, tl_errname(rc));
    tl_config(&cfg);
    cfg.backend = 99;
    rc = net_engine_create(&cfg, &e);
    CHECKF(rc == NET_E_INVAL || rc == NET_E_UNSUPPORTED, "backend 99: net_engine_create returned %d (%s)", rc,
           tl_errname(rc));

    printf("ok\n");
    return 0;
}
