/* consumer.c - a program of a separate project, built against an installed
 * net (find_package or pkg-config) or against the source tree as a
 * subproject: it prints the library's version, checks that it is the one
 * net.h describes, and echoes one message over loopback through one engine
 * (listener and client in the same program). Exit 0 on success. */
#include <net.h>
#include <stdio.h>
#include <string.h>

/* 40 turns of at most 100 ms: the echo takes milliseconds. */
enum { MAX_TURNS = 40, TURN_MS = 100 };

static int fail(const char *what, int rc)
{
    fprintf(stderr, "consumer: %s: %s (%d)\n", what, net_strerror(rc), rc);
    return 1;
}

/* Polls until the client receives its message back; the server side echoes
 * whatever it receives. */
static int await_echo(net_engine eng, net_handle client, const char *msg, uint32_t len)
{
    net_event ev[8];
    for (int turn = 0; turn < MAX_TURNS; turn++) {
        int n = net_poll(eng, ev, 8, TURN_MS);
        if (n < 0)
            return fail("net_poll", n);
        for (int i = 0; i < n; i++) {
            if (ev[i].type == NET_EV_CONNECT && ev[i].status != 0)
                return fail("connect", ev[i].status);
            if (ev[i].type == NET_EV_CLOSE && ev[i].handle == client)
                return fail("client closed before the echo", ev[i].status ? ev[i].status : NET_E_CLOSED);
            if (ev[i].type != NET_EV_DATA)
                continue;
            if (ev[i].handle != client) {
                int rc = net_send(ev[i].handle, ev[i].data, ev[i].len);
                if (rc < 0)
                    return fail("echo send", rc);
            } else if (ev[i].len == len && memcmp(ev[i].data, msg, len) == 0) {
                return 0;
            } else {
                fprintf(stderr, "consumer: echo differs: %u bytes \"%.*s\"\n", ev[i].len, (int)ev[i].len,
                        (const char *)ev[i].data);
                return 1;
            }
        }
    }
    fprintf(stderr, "consumer: no echo within %d ms\n", MAX_TURNS * TURN_MS);
    return 1;
}

static int echo_over_loopback(net_engine eng)
{
    net_tcp_config tc;
    net_tcp_config_init(&tc);
    tc.framing = NET_FRAMING_U16LE; /* one DATA per message */
    net_handle listener, client;
    net_addr at;
    int rc = net_listen(eng, "127.0.0.1", 0, &tc, &listener);
    if (rc < 0)
        return fail("net_listen 127.0.0.1:0", rc);
    if ((rc = net_local_addr(listener, &at)) < 0)
        return fail("net_local_addr", rc);
    if ((rc = net_connect(eng, "127.0.0.1", at.port, &tc, &client)) < 0)
        return fail("net_connect", rc);
    static const char msg[] = "installed net says hello";
    if ((rc = net_send(client, msg, sizeof msg - 1)) < 0)
        return fail("net_send", rc);
    return await_echo(eng, client, msg, sizeof msg - 1);
}

int main(void)
{
    const char *version = net_version_string();
    printf("net %s\n", version);
    if (net_version() != NET_VERSION) {
        fprintf(stderr, "consumer: library version 0x%06x, net.h says 0x%06x\n", (unsigned)net_version(),
                (unsigned)NET_VERSION);
        return 1;
    }
    net_engine eng;
    int rc = net_engine_create(NULL, &eng);
    if (rc < 0)
        return fail("net_engine_create", rc);
    int failed = echo_over_loopback(eng);
    printf("backend %s: echo %s\n", net_backend_name(eng), failed ? "FAILED" : "ok");
    net_engine_destroy(eng);
    return failed;
}
